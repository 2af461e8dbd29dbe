"""The matrix, the change feed and the import answer exactly what the OpenAPI schema documents:
real responses are validated against it with a JSON Schema validator."""

from __future__ import annotations

import datetime
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from proposals.dataset import FORMAT
from proposals.models import Category
from tests.factories import ActorFactory, MeasureFactory, PositionFactory


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 marks a nullable value with ``nullable``; JSON Schema says ``null`` is one of
    the types it may take."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_documented(
    openapi: dict[str, Any], path: str, method: str, response: Any, media: str = "application/json"
) -> None:
    responses = openapi["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, f"{response.status_code} is not documented"
    schema = responses[str(response.status_code)]["content"][media]["schema"]
    components = to_json_schema(openapi["components"])
    jsonschema.validate(
        response.json(),
        {**to_json_schema(schema), "components": components},
        format_checker=jsonschema.FormatChecker(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [{}, {"as_of": "2019-12-31", "actor": "JPN,CHN"}, {"as_of": "someday", "category": "x"}],
)
def test_the_matrix_answers_as_documented(
    anonymous: APIClient, openapi: dict[str, Any], params: dict[str, str]
) -> None:
    ActorFactory.create(code="JPN")
    chn = ActorFactory.create(code="CHN")
    measure = MeasureFactory.create(slug="trilateral", categories=["arms_limit"])
    MeasureFactory.create(slug="hotline", categories=["hotline"])
    PositionFactory.create(measure=measure, actor=chn, stance="opposes")

    assert_documented(openapi, "/api/v1/matrix/", "get", anonymous.get("/api/v1/matrix/", params))


@pytest.mark.django_db(transaction=True)  # the feed serves committed changes only
@pytest.mark.parametrize("params", [{"page_size": "1000"}, {"page_size": "2"}, {"since": "x"}])
def test_the_change_feed_answers_as_documented(
    anonymous: APIClient, openapi: dict[str, Any], params: dict[str, str]
) -> None:
    Category.objects.get_or_create(code="arms_limit")  # emptied by earlier transactional tests
    rus = ActorFactory.create(code="RUS")
    sun = ActorFactory.create(code="SUN")
    sun.successor = rus  # an update whose "before" is null
    sun.save()
    measure = MeasureFactory.create(slug="inf", categories=["arms_limit"])
    PositionFactory.create(measure=measure, actor=rus, date=datetime.date(2019, 2, 1))
    measure.delete()

    response = anonymous.get("/api/v1/changes/", params)

    assert_documented(openapi, "/api/v1/changes/", "get", response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "actors",
    [[{"code": "JPN", "name": "Japan"}], [{"code": "ZZZ", "name": "Nowhere", "kind": "state"}]],
    ids=["applied", "rejected"],
)
def test_the_import_answers_as_documented(
    curator: APIClient, openapi: dict[str, Any], actors: list[dict[str, str]]
) -> None:
    body = {"format": FORMAT, "actors": actors}

    response = curator.post("/api/v1/import/", body, format="json")

    assert_documented(openapi, "/api/v1/import/", "post", response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [{}, {"rule": "uncited", "actor": "CHN", "page_size": "1"}, {"rule": "x", "measure": "nope"}],
)
def test_the_quality_queue_answers_as_documented(
    anonymous: APIClient, openapi: dict[str, Any], params: dict[str, str]
) -> None:
    chn = ActorFactory.create(code="CHN")
    measure = MeasureFactory.create(slug="trilateral", form="treaty", scope="plurilateral")
    PositionFactory.create(measure=measure, actor=chn, stance="opposes", quote="")
    PositionFactory.create(actor=chn, quote="No.")

    response = anonymous.get("/api/v1/quality/", params)

    assert_documented(openapi, "/api/v1/quality/", "get", response)


def test_the_quality_queue_documents_its_csv_and_parameters(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"]["/api/v1/quality/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "rule",
        "measure",
        "actor",
        "page",
        "page_size",
        "format",
        "If-None-Match",
    }
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert set(operation["responses"]["400"]["content"]) == {"application/json", "text/csv"}
