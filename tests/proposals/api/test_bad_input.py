"""Ordinary bad input gets a 4xx with a JSON message, never a 5xx, and writes nothing: ids that
are not ids, OPTIONS asked for CSV, and NUL characters anywhere (which PostgreSQL cannot store).

Every case runs anonymously and as a curator, on whichever database the suite runs on (CI:
PostgreSQL, where a NUL that reached a query would be a 500).
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Actor, Citation, Event, Measure, Position
from tests.factories import EventFactory, MeasureFactory, SourceCheckFactory, SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db

CALLERS = ["anonymous", "curator"]


@pytest.fixture
def rows() -> dict[str, Any]:
    measure = MeasureFactory(slug="inf")
    source = SourceFactory()
    SourceCheckFactory(source=source)
    return {"measure": measure, "event": EventFactory(measure=measure), "source": source}


def written() -> dict[str, int]:
    """Row and history counts of every table a request could write."""
    models = (Actor, Measure, Event, Position, Citation, Source)
    counts = {model.__name__: model.objects.count() for model in models}
    counts |= {f"{model.__name__} history": model.history.count() for model in models}
    return counts


def call(client: APIClient, method: str, path: str, **extra: Any) -> Any:
    if method in ("post", "put", "patch"):
        return getattr(client, method)(path, extra.pop("data", {}), format="json", **extra)
    return getattr(client, method)(path, **extra)


def assert_clean(response: Any, status: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    message = response.json()["detail"]
    assert isinstance(message, str)
    assert len(message) > 10


# --- ids in paths ------------------------------------------------------------------------------

NOT_IDS = [
    "abc",
    "1,5",
    "+1",
    "%201",
    "-1",
    "0",
    "1e3",
    "٣",
    "99999999999999999999999",
    "9223372036854775808",
]


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("not_an_id", NOT_IDS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/sources/{}/"),
        ("get", "/api/v1/sources/{}/checks/"),
        ("post", "/api/v1/sources/{}/refresh/"),
        ("get", "/api/v1/events/{}/"),
        ("patch", "/api/v1/events/{}/"),
        ("put", "/api/v1/positions/{}/"),
        ("delete", "/api/v1/citations/{}/"),
    ],
)
def test_a_path_id_that_is_not_an_id_is_a_404_that_writes_nothing(
    request: pytest.FixtureRequest, caller: str, not_an_id: str, method: str, path: str
) -> None:
    client = request.getfixturevalue(caller)
    before = written()

    response = call(client, method, path.format(not_an_id), HTTP_IF_MATCH="*")

    assert_clean(response, 404)
    assert written() == before


@pytest.mark.parametrize("caller", CALLERS)
def test_the_largest_id_is_still_looked_up(
    request: pytest.FixtureRequest, caller: str, rows: dict[str, Any]
) -> None:
    client = request.getfixturevalue(caller)
    assert call(client, "get", "/api/v1/events/9223372036854775807/").status_code == 404
    found = call(client, "get", f"/api/v1/events/{rows['event'].pk}/")
    assert found.status_code == 200


# --- OPTIONS asked for CSV ---------------------------------------------------------------------

CSV_ENDPOINTS = [
    "/api/v1/measures/",
    "/api/v1/events/",
    "/api/v1/sources/",
    "/api/v1/matrix/",
    "/api/v1/changes/",
    "/api/v1/export/",
    "/api/v1/quality/",
]


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", CSV_ENDPOINTS)
@pytest.mark.parametrize("ask", [{"format": "csv"}, {"HTTP_ACCEPT": "text/csv"}])
def test_options_asked_for_csv_is_a_406_in_json(
    request: pytest.FixtureRequest, caller: str, path: str, ask: dict[str, str]
) -> None:
    client = request.getfixturevalue(caller)
    headers = {key: value for key, value in ask.items() if key != "format"}
    if "format" in ask:
        path += "?format=csv"

    response = client.options(path, **headers)

    assert_clean(response, 406)


@pytest.mark.parametrize("path", CSV_ENDPOINTS)
def test_options_describes_the_endpoint_in_json(anonymous: APIClient, path: str) -> None:
    response = anonymous.options(path)
    assert response.status_code == 200
    assert response.json()["name"]


# --- NUL characters ----------------------------------------------------------------------------


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        # In a path: names nothing.
        ("get", "/api/v1/measures/in%00f/", 404),
        ("patch", "/api/v1/measures/in%00f/", 404),
        ("delete", "/api/v1/actors/US%00A/", 404),
        ("get", "/api/v1/sources/1%00/checks/", 404),
        # In a query parameter's value or name.
        ("get", "/api/v1/measures/?q=in%00f", 400),
        ("get", "/api/v1/measures/?%00=1", 400),
        ("get", "/api/v1/actors/?code=US%00A", 400),
        ("get", "/api/v1/positions/?measure=in%00f", 400),
        ("get", "/api/v1/sources/?host=a%00b", 400),
        ("get", "/api/v1/matrix/?measure=in%00f", 400),
        ("get", "/api/v1/changes/?cursor=%00", 400),
        ("get", "/api/v1/export/?table=%00", 400),
        ("get", "/api/v1/measures/inf/?as_of=%00", 400),
        ("post", "/api/v1/measures/?slug=%00", 400),
        ("get", "/admin/login/?next=%00", 400),
    ],
)
def test_a_nul_in_the_path_or_query_is_refused(
    request: pytest.FixtureRequest, caller: str, method: str, path: str, status: int
) -> None:
    client = request.getfixturevalue(caller)
    before = written()

    assert_clean(call(client, method, path, HTTP_IF_MATCH="*"), status)
    assert written() == before


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("header", ["HTTP_X_REQUESTED_BY", "HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH"])
def test_a_nul_in_a_header_is_a_400(
    request: pytest.FixtureRequest, caller: str, header: str
) -> None:
    client = request.getfixturevalue(caller)
    assert_clean(client.get("/api/v1/measures/", **{header: "ab\x00cd"}), 400)


@pytest.mark.usefixtures("rows")
def test_a_nul_in_a_token_is_a_400(anonymous: APIClient) -> None:
    # Knox looks the token's first characters up in the database.
    response = anonymous.get("/api/v1/measures/", HTTP_AUTHORIZATION="Token abcdefgh\x00")
    assert_clean(response, 400)


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("cookie", ["sessionid", "csrftoken"])
def test_a_nul_in_a_cookie_is_a_400(
    request: pytest.FixtureRequest, caller: str, cookie: str
) -> None:
    client = request.getfixturevalue(caller)
    # A quoted cookie value may spell NUL as the octal escape \000, which Django unquotes.
    client.cookies.load(f'{cookie}="abcdefgh12345678\\000"')
    assert_clean(client.get("/api/v1/measures/"), 400)


MEASURE = {
    "slug": "hotline-2",
    "title": "Hotline",
    "categories": ["hotline"],
    "form": "agreement",
    "scope": "bilateral",
}


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize(("caller", "status"), [("anonymous", 401), ("curator", 400)])
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/api/v1/measures/", {**MEASURE, "title": "Hot\x00line"}),
        ("post", "/api/v1/measures/", {**MEASURE, "parameters": {"notice\x00hours": 24}}),
        ("post", "/api/v1/measures/", {**MEASURE, "parameters": {"notice": "24\x00h"}}),
        ("post", "/api/v1/measures/", {**MEASURE, "parameters": {"deep": [{"x": ["\x00"]}]}}),
        ("patch", "/api/v1/measures/inf/", {"parameters": {"\x00": 1}}),
        ("patch", "/api/v1/events/{event}/", {"description": "\x00"}),
        ("post", "/api/v1/actors/", {"code": "GBR", "name": "UK", "aliases": ["U\x00K"]}),
        ("post", "/api/v1/sources/", {"url": "https://example.org/\x00"}),
        ("post", "/api/v1/import/", {"format": "x", "actors": [{"code": "\x00"}]}),
    ],
)
def test_a_nul_in_a_json_body_is_refused_and_nothing_is_written(
    request: pytest.FixtureRequest,
    rows: dict[str, Any],
    caller: str,
    status: int,
    method: str,
    path: str,
    data: dict[str, Any],
) -> None:
    client = request.getfixturevalue(caller)
    before = written()

    response = call(
        client, method, path.format(event=rows["event"].pk), data=data, HTTP_IF_MATCH="*"
    )

    assert response.status_code == status, response.content
    assert "NUL" in response.content.decode() or status == 401
    assert written() == before


def test_a_form_body_is_refused_nul_or_not(curator: APIClient) -> None:
    # Request bodies are JSON only: a form body is never parsed, so its NUL reaches nothing.
    for body in ("code=GBR&name=U%00K", "code=GBR&name=UK"):
        response = curator.post(
            "/api/v1/actors/", body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 415
        assert "application/x-www-form-urlencoded" in response.json()["detail"]
    assert not Actor.objects.exists()
