"""JSON bodies are bounded in size and depth, and so are the JSON fields stored from them:
a value nested too deep is refused before anything is written, by the API, the import and the
model's own validation (which the admin runs), so the lists and the export keep answering."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from proposals.dataset import FORMAT
from proposals.json_limits import MAX_BODY_DEPTH, MAX_STORED_DEPTH
from proposals.models import Actor, Measure
from tests.factories import ActorFactory, MeasureFactory

pytestmark = pytest.mark.django_db


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` levels deep: ``{"a": {"a": … {}}}``."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def measure_body(parameters: Any) -> dict[str, Any]:
    return {
        "slug": "deep",
        "title": "Deep",
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        "parameters": parameters,
    }


def assert_reads_still_work(*clients: APIClient) -> None:
    for client in clients:
        for path in ("/api/v1/measures/", "/api/v1/export/", "/api/v1/measures/?format=csv"):
            assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    ("depth", "message"),
    [
        (300, f"JSON may be nested at most {MAX_BODY_DEPTH} levels deep."),
        # The body around the parameters adds a level: this is the deepest body allowed.
        (MAX_BODY_DEPTH - 1, f"JSON may be nested at most {MAX_STORED_DEPTH} levels deep."),
        (MAX_STORED_DEPTH + 1, f"JSON may be nested at most {MAX_STORED_DEPTH} levels deep."),
    ],
)
def test_parameters_nested_too_deep_are_refused_and_nothing_is_stored(
    curator: APIClient, anonymous: APIClient, depth: int, message: str
) -> None:
    MeasureFactory(slug="inf")
    history = Measure.history.count()

    response = curator.post("/api/v1/measures/", measure_body(nested(depth)), format="json")

    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(Measure.objects.values_list("slug", flat=True)) == ["inf"]
    assert Measure.history.count() == history
    assert_reads_still_work(anonymous, curator)


def test_parameters_as_deep_as_allowed_are_stored_and_read_back(
    curator: APIClient, anonymous: APIClient
) -> None:
    parameters = nested(MAX_STORED_DEPTH)

    response = curator.post("/api/v1/measures/", measure_body(parameters), format="json")

    assert response.status_code == 201, response.content
    assert Measure.objects.get(slug="deep").parameters == parameters
    assert anonymous.get("/api/v1/measures/deep/").json()["parameters"] == parameters
    assert_reads_still_work(anonymous, curator)


def test_a_change_nesting_parameters_too_deep_leaves_the_measure_as_it_was(
    curator: APIClient,
) -> None:
    MeasureFactory(slug="inf", parameters={"range_km": [500, 5500]})

    response = curator.patch(
        "/api/v1/measures/inf/",
        {"parameters": nested(MAX_STORED_DEPTH + 1)},
        format="json",
        HTTP_IF_MATCH="*",
    )

    assert response.status_code == 400
    assert Measure.objects.get(slug="inf").parameters == {"range_km": [500, 5500]}


@pytest.mark.parametrize(
    ("model", "field", "value", "message"),
    [
        (Measure, "parameters", nested(MAX_STORED_DEPTH + 1), "nested at most"),
        (Measure, "parameters", {"a\x00": 1}, "NUL"),
        (Measure, "parameters", {"a": ["\x00"]}, "NUL"),
        (Actor, "aliases", ["U\x00K"], "NUL"),
    ],
)
def test_the_model_refuses_json_it_could_not_store_or_render(
    model: type[Measure | Actor], field: str, value: Any, message: str
) -> None:
    # The admin's forms and the dataset import validate through the model: this is their rule.
    obj = MeasureFactory(slug="inf") if model is Measure else ActorFactory(code="GBR")
    setattr(obj, field, value)

    with pytest.raises(ValidationError) as raised:
        obj.full_clean()

    assert message in " ".join(raised.value.message_dict[field])


def test_the_import_refuses_parameters_nested_too_deep(
    curator: APIClient, anonymous: APIClient
) -> None:
    document = orjson.loads(anonymous.get("/api/v1/export/").getvalue())
    document["measures"] = [
        {
            "slug": "deep",
            "title": "Deep",
            "categories": "hotline",
            "form": "agreement",
            "scope": "bilateral",
            "parameters": nested(MAX_STORED_DEPTH + 1),
        }
    ]

    response = curator.post("/api/v1/import/", document, format="json")

    assert response.status_code == 400
    assert response.json()["applied"] is False
    assert "nested at most" in str(response.json()["rejected"])
    assert not Measure.objects.exists()
    assert_reads_still_work(anonymous)


def test_a_body_over_the_size_limit_is_a_413(curator: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = measure_body({"note": "x" * 2048})

    response = curator.post("/api/v1/measures/", body, format="json")

    assert response.status_code == 413
    assert response.json() == {"detail": "A request body may be at most 2048 bytes."}
    assert not Measure.objects.exists()


def test_the_import_has_its_own_larger_size_limit(curator: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    actors = [{"code": f"ORG{n}", "name": "x" * 100, "kind": "organization"} for n in range(20)]
    body = {"format": FORMAT, "actors": actors}
    assert len(orjson.dumps(body)) > 2048

    response = curator.post("/api/v1/import/", body, format="json")

    assert response.status_code == 200, response.content
    assert Actor.objects.count() == 20


def test_a_body_that_is_not_json_is_a_400_that_says_so(curator: APIClient) -> None:
    response = curator.post("/api/v1/measures/", b"{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not valid JSON")


def test_the_schema_states_the_body_limits(anonymous: APIClient, settings: Any) -> None:
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    create = schema["paths"]["/api/v1/measures/"]["post"]
    assert f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in create["description"]
    assert f"nest at most {MAX_BODY_DEPTH} levels" in create["description"]
    assert "413" in create["responses"]
    login = schema["paths"]["/api/v1/auth/login/"]["post"]
    assert f"After {settings.AXES_FAILURE_LIMIT} failed logins" in login["description"]


def test_parameters_with_numbers_beyond_64_bits_are_read_back_as_written(
    curator: APIClient, anonymous: APIClient
) -> None:
    # PostgreSQL's jsonb keeps -2.8e23 as the integer it stands for; it must come back a float,
    # not an integer no renderer can write (a 500 on every read of the measure).
    parameters = {"big": -2.8059230685144224e23, "huge": [1e300], "small": 1.5, "count": 12}

    response = curator.post("/api/v1/measures/", measure_body(parameters), format="json")

    assert response.status_code == 201, response.content
    assert Measure.objects.get(slug="deep").parameters == parameters
    read = anonymous.get("/api/v1/measures/deep/")
    assert read.status_code == 200
    assert read.json()["parameters"] == parameters
    assert type(read.json()["parameters"]["count"]) is int
    assert_reads_still_work(anonymous, curator)
