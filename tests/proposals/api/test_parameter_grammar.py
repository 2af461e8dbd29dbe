"""One grammar for query parameters: the same input gets the same answer, with the same error
shape, on every endpoint that takes the parameter (and every endpoint refuses what it does not
take). The parsers themselves are tested first, without HTTP."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest
from django import forms
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from proposals.api import params
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceCheckFactory,
    SourceFactory,
)

# --- the parsers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        (params.DateParam(), "2020-02-29", datetime.date(2020, 2, 29)),
        (params.DateParam(), "", None),
        (
            params.InstantParam(),
            "2024-05-01T12:00:00Z",
            datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
        ),
        (
            params.InstantParam(),
            "2024-05-01",
            datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC),
        ),
        (  # an unencoded "+" arrives as a space
            params.InstantParam(),
            "2024-05-01T12:00 02:00",
            datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.UTC),
        ),
        (  # any offset ISO 8601 allows, though PostgreSQL takes only up to ±15:59
            params.InstantParam(),
            "0515-04-21T09:25:38.1-19:38",
            datetime.datetime(515, 4, 22, 5, 3, 38, 100000, tzinfo=datetime.UTC),
        ),
        (  # before year 1 in UTC: the earliest instant there is
            params.InstantParam(),
            "0001-01-01T00:00:00+05:00",
            datetime.datetime.min.replace(tzinfo=datetime.UTC),
        ),
        (params.IntegerParam(), str(params.INT64_MAX), params.INT64_MAX),
        (params.BooleanParam(), "FALSE", False),
        (params.BooleanParam(), "1", True),
        (params.ListParam(choices=["a", "b", "c"]), ["a,b", "c", "a"], ["a", "b", "c"]),
        (params.ListParam(child=params.ActorCodeParam()), ["chn, usa"], ["CHN", "USA"]),
        (params.OrderingParam(fields=["slug", "title"]), "-title,slug", ["-title", "slug"]),
        # A field named again adds nothing: its first mention decides.
        (
            params.OrderingParam(fields=["slug", "title"]),
            "slug,-slug,title,slug",
            ["slug", "title"],
        ),
        (params.HostParam(), "WWW.UN.ORG.", "www.un.org"),
        (params.HostParam(), "xn--bcher-kva.example", "xn--bcher-kva.example"),
        (params.SearchParam(), "crisis hotline", "crisis hotline"),
    ],
)
def test_it_parses(field: forms.Field, text: Any, expected: Any) -> None:
    assert field.clean(text) == expected


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (params.DateParam(), "2020-1-1"),
        (params.DateParam(), "2020-02-30"),
        (params.DateParam(), "01/02/2020"),
        (params.DateParam(), "2020-01-01T00:00"),
        (params.InstantParam(), "2020-1-1T00:00"),
        (params.InstantParam(), "2020-01-01T25:00"),
        (params.InstantParam(), "last monday"),
        (params.IntegerParam(), "9" * 22),
        (params.IntegerParam(), str(params.INT64_MAX + 1)),
        (params.IntegerParam(), "0"),
        (params.IntegerParam(), "-1"),
        (params.IntegerParam(), "1.5"),
        (params.IntegerParam(max_value=200), "201"),
        (params.BooleanParam(), "maybe"),
        (params.ListParam(choices=["a", "b"]), ["a,z"]),
        (params.ListParam(choices=["a", "b"], max_items=1), ["a,b"]),
        (params.OrderingParam(fields=["slug"]), ","),
        (params.OrderingParam(fields=["slug"]), "-"),
        (params.OrderingParam(fields=["slug"]), "slug,"),
        (params.OrderingParam(fields=["slug"]), "title"),
        (params.HostParam(), "."),
        (params.HostParam(), "un..org"),
        (params.HostParam(), "un.org/path"),
        (params.HostParam(), "bücher.example"),  # the schema's pattern: ASCII, xn-- form
        (params.HostParam(), " un.org"),
        (params.SearchParam(), " ".join(["word"] * 21)),
        (params.SearchParam(), "x" * 201),
        (params.TextParam(), "x" * 201),
        (params.ActorCodeParam(), "X" * 17),
        (params.SlugParam(), "not a slug"),
    ],
)
def test_it_refuses(field: forms.Field, text: Any) -> None:
    with pytest.raises(forms.ValidationError):
        field.clean(text)


def test_an_ordering_error_names_the_allowed_fields() -> None:
    with pytest.raises(forms.ValidationError) as error:
        params.OrderingParam(fields=["slug", "title"]).clean(",")
    assert "slug, -slug, title, -title" in error.value.messages[0]


# --- every endpoint alike ---------------------------------------------------------------------

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/measures/",
    "/api/v1/actors/",
    "/api/v1/positions/",
    "/api/v1/events/",
    "/api/v1/sources/",
    "/api/v1/citations/",
    "/api/v1/sources/{source}/checks/",
    "/api/v1/quality/",
]
PAGED = [path for path in LISTS if "checks" not in path]  # a check history is walked by cursor
ORDERED = LISTS[:5]
WHOLE = ["/api/v1/matrix/", "/api/v1/changes/", "/api/v1/export/"]
EVERYWHERE = LISTS + WHOLE
AS_OF = ["/api/v1/measures/", "/api/v1/actors/", "/api/v1/matrix/"]
AS_OF_DETAILS = ["/api/v1/measures/inf/", "/api/v1/actors/RUS/"]
TOO_BIG = "9" * 22


def encoded(payload: dict[str, Any], prefix: str = "") -> str:
    """A cursor as the API spells one, holding what an edited cursor might hold."""
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return prefix + raw


THOUSAND_WORDS = " ".join(["treaty"] * 1000)


@pytest.fixture
def data() -> dict[str, Any]:
    rus, usa = ActorFactory(code="RUS"), ActorFactory(code="USA")
    inf = MeasureFactory(slug="inf", categories=["arms_limit"])
    hotline = MeasureFactory(slug="hotline", categories=["hotline"])
    MeasureFactory(slug="other", categories=["transparency"])
    event = EventFactory(measure=inf, kind="signed", actor=usa)
    PositionFactory(measure=inf, actor=rus, stance="opposes")
    PositionFactory(measure=hotline, actor=usa, stance="endorses")
    source = SourceFactory(url="https://www.un.org/disarmament/", health="ok")
    CitationFactory(source=source, measure=None, event=event)
    SourceCheckFactory(source=source)
    return {"source": source.pk}


def get(client: APIClient, path: str, query: str, data: dict[str, Any]) -> Any:
    return client.get(f"{path.format(**data)}?{query}")


def assert_refused(response: Any, name: str) -> None:
    """400 with the body every endpoint uses: each parameter name mapped to its messages."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {name}
    assert body[name]
    assert all(isinstance(message, str) and message for message in body[name])


REFUSED = [
    *[("unknown=1", "unknown", path) for path in EVERYWHERE],
    *[("page=1&page=2", "page", path) for path in EVERYWHERE],
    *[("page_size=1&page_size=2", "page_size", path) for path in EVERYWHERE],
    *[(f"page={TOO_BIG}", "page", path) for path in EVERYWHERE],
    *[(f"page_size={TOO_BIG}", "page_size", path) for path in EVERYWHERE],
    *[("page_size=0", "page_size", path) for path in [*LISTS, "/api/v1/changes/"]],
    *[("as_of=2020-1-1", "as_of", path) for path in [*AS_OF, *AS_OF_DETAILS]],
    *[("as_of=2020-02-30", "as_of", path) for path in [*AS_OF, *AS_OF_DETAILS]],
    *[("as_of=2020-01-01&as_of=2020-01-02", "as_of", path) for path in AS_OF],
    *[(query, "ordering", path) for query in ("ordering=,", "ordering=-") for path in ORDERED],
    *[("ordering=nope", "ordering", path) for path in ORDERED],
    *[("ordering=-updated_at&ordering=updated_at", "ordering", path) for path in ORDERED],
    *[(f"q={THOUSAND_WORDS}", "q", path) for path in EVERYWHERE],
    *[("q=" + "x" * 60000, "q", path) for path in EVERYWHERE],
    *[("fields=nope", "fields", path) for path in LISTS],
    *[("fields=id&fields=nope", "fields", path) for path in LISTS],
    ("category=arms_limit,nope", "category", "/api/v1/measures/"),
    ("category=arms_limit,nope", "category", "/api/v1/matrix/"),
    (f"position={TOO_BIG}", "position", "/api/v1/citations/"),
    (f"event={TOO_BIG}", "event", "/api/v1/citations/"),
    (f"source={TOO_BIG}", "source", "/api/v1/citations/"),
    ("host=.", "host", "/api/v1/sources/"),
    ("venue=" + "x" * 60000, "venue", "/api/v1/measures/"),
    ("changed_since=2024-1-1T00:00", "changed_since", "/api/v1/measures/"),
    ("since=2024-1-1", "since", "/api/v1/changes/"),
    ("since=2024-01-01&since=2024-01-02", "since", "/api/v1/changes/"),
    ("table=nope", "table", "/api/v1/export/"),
    ("table=actors&table=events", "table", "/api/v1/export/"),
    ("actor=RUS&actor=USA", "actor", "/api/v1/events/"),
    ("cursor=" + "x" * 5000, "cursor", "/api/v1/measures/"),
]


# Well formed, but naming nothing that exists: 404, with the body a 400 has.
NAMES_NOTHING = [
    ("measure=nope", "measure", "/api/v1/events/"),
    ("actor=ZZZ", "actor", "/api/v1/positions/"),
    ("endorsed_by=ZZZ", "endorsed_by", "/api/v1/measures/"),
    ("measure=nope", "measure", "/api/v1/matrix/"),
    ("actor=ZZZ", "actor", "/api/v1/matrix/"),
    ("measure=nope", "measure", "/api/v1/quality/"),
    ("url=https://user:pw@www.un.org/", "url", "/api/v1/sources/"),
    ("source=12345", "source", "/api/v1/citations/"),
    ("since=c1.bm90IGEgY3Vyc29y", "since", "/api/v1/changes/"),
    ("since=" + encoded({"b": 0, "e": 10**22, "s": {}}, prefix="c1."), "since", "/api/v1/changes/"),
    ("cursor=" + encoded({"o": ["slug", "pk"], "v": ["a", 10**22]}), "cursor", "/api/v1/measures/"),
    ("cursor=" + encoded({"o": ["date", "id"], "v": ["soon", 1]}), "cursor", "/api/v1/events/"),
    (
        "cursor=" + encoded({"o": ["-checked_at", "-id"], "v": ["x", 1]}),
        "cursor",
        "/api/v1/sources/{source}/checks/",
    ),
]


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(("query", "name", "path"), NAMES_NOTHING)
def test_a_value_naming_nothing_is_a_404_naming_it(
    anonymous: APIClient, data: dict[str, Any], query: str, name: str, path: str
) -> None:
    response = get(anonymous, path, query, data)
    assert response.status_code == 404, response.content
    body = response.json()
    assert set(body) == {name}
    assert all(isinstance(message, str) and message for message in body[name])


def test_a_value_naming_nothing_beside_a_malformed_one_is_a_400_naming_both(
    anonymous: APIClient,
) -> None:
    response = anonymous.get("/api/v1/events/?measure=nope&date_after=2020-1-1")
    assert response.status_code == 400
    assert set(response.json()) == {"measure", "date_after"}


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(("query", "name", "path"), REFUSED)
def test_every_endpoint_refuses_alike(
    anonymous: APIClient, data: dict[str, Any], query: str, name: str, path: str
) -> None:
    assert_refused(get(anonymous, path, query, data), name)


# The first two top-level fields of each list's items, for `fields=`.
TWO_FIELDS = {
    "/api/v1/measures/": ["slug", "title"],
    "/api/v1/actors/": ["code", "name"],
    "/api/v1/positions/": ["measure", "stance"],
    "/api/v1/events/": ["measure", "kind"],
    "/api/v1/sources/": ["title", "health"],
    "/api/v1/citations/": ["source", "quote"],
    "/api/v1/sources/{source}/checks/": ["outcome", "http_status"],
    "/api/v1/quality/": ["rule", "reason"],
}
ACCEPTED = [
    *[("page=1", path) for path in PAGED],
    *[("page_size=1", path) for path in [*LISTS, "/api/v1/changes/"]],
    *[("cursor=", path) for path in [*ORDERED, "/api/v1/citations/"]],
    *[("as_of=2020-02-29", path) for path in [*AS_OF, *AS_OF_DETAILS]],
    *[("format=json", path) for path in EVERYWHERE],
    *[(f"fields={TWO_FIELDS[path][0]}", path) for path in LISTS],
    *[("ordering=-updated_at", path) for path in ORDERED],
    ("ordering=title,-slug", "/api/v1/measures/"),
    ("q=" + " ".join(["treaty"] * 20), "/api/v1/measures/"),
    (f"position={params.INT64_MAX}", "/api/v1/citations/"),
    ("host=UN.org.", "/api/v1/sources/"),
    ("changed_since=2024-01-01", "/api/v1/measures/"),
    ("since=2024-01-01", "/api/v1/changes/"),
    ("since=2024-01-01T00:00:00%2B02:00", "/api/v1/changes/"),
    ("since=2024-01-01T00:00:00Z", "/api/v1/sources/{source}/checks/"),
    ("since=2024-01-01", "/api/v1/sources/{source}/checks/"),
    ("format=csv&table=actors", "/api/v1/export/"),
]


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(("query", "path"), ACCEPTED)
def test_every_endpoint_accepts_the_valid_forms(
    anonymous: APIClient, data: dict[str, Any], query: str, path: str
) -> None:
    response = get(anonymous, path, query, data)
    assert response.status_code == 200, response.content


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize("path", [*EVERYWHERE, *AS_OF_DETAILS])
def test_a_format_no_endpoint_offers_is_406_everywhere(
    anonymous: APIClient, data: dict[str, Any], path: str
) -> None:
    response = get(anonymous, path, "format=nope", data)
    assert response.status_code == 406
    assert set(response.json()) == {"detail"}


LIST_VALUES = [
    ("/api/v1/measures/", "category", ["arms_limit", "hotline"]),
    ("/api/v1/matrix/", "category", ["arms_limit", "hotline"]),
    ("/api/v1/measures/", "form", ["treaty", "proposal"]),
    ("/api/v1/actors/", "kind", ["state", "organization"]),
    ("/api/v1/positions/", "stance", ["opposes", "neutral"]),
    ("/api/v1/events/", "kind", ["signed", "ratified"]),
    ("/api/v1/sources/", "health", ["ok", "broken"]),
    ("/api/v1/sources/{source}/checks/", "outcome", ["ok", "changed"]),
    ("/api/v1/quality/", "rule", ["uncited", "no_official_source"]),
    ("/api/v1/matrix/", "actor", ["rus", "USA"]),
    ("/api/v1/matrix/", "measure", ["inf", "hotline"]),
    *[(path, "fields", TWO_FIELDS[path]) for path in LISTS],
]


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(("path", "name", "values"), LIST_VALUES)
def test_a_list_is_the_same_repeated_or_comma_separated(
    anonymous: APIClient, data: dict[str, Any], path: str, name: str, values: list[str]
) -> None:
    first, second = values
    bodies = [
        get(anonymous, path, query, data)
        for query in (
            f"{name}={first}&{name}={second}",
            f"{name}={first},{second}",
            f"{name}={first}%2C%20{second}&{name}={first}",
        )
    ]
    assert [response.status_code for response in bodies] == [200, 200, 200]
    assert bodies[0].json() == bodies[1].json() == bodies[2].json()


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize("path", ["/api/v1/measures/", "/api/v1/matrix/"])
def test_categories_select_the_same_measures_on_the_list_and_the_matrix(
    anonymous: APIClient, path: str
) -> None:
    body = anonymous.get(path, {"category": "arms_limit,hotline"}).json()
    slugs = {item["slug"] for item in body.get("results", body.get("measures"))}
    assert slugs == {"inf", "hotline"}


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize("path", LISTS)
def test_fields_keeps_the_asked_fields_and_the_identifiers(
    anonymous: APIClient, data: dict[str, Any], path: str
) -> None:
    asked = TWO_FIELDS[path]
    response = get(anonymous, path, f"fields={','.join(asked)}", data)
    full = get(anonymous, path, "", data).json()["results"]
    results = response.json()["results"]
    assert results
    for item, whole in zip(results, full, strict=True):
        kept = {*asked, *(name for name in ("id", "url") if name in whole)}
        assert item == {name: whole[name] for name in kept}


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(
    ("path", "asked", "columns"),
    [
        ("/api/v1/measures/", "title,status", ["title", "status", "url"]),
        ("/api/v1/sources/{source}/checks/", "outcome", ["id", "outcome"]),
        ("/api/v1/quality/", "object,rule", ["rule", "object_type", "object_id", "label"]),
    ],
)
def test_fields_selects_the_csv_columns_too(
    anonymous: APIClient, data: dict[str, Any], path: str, asked: str, columns: list[str]
) -> None:
    response = get(anonymous, path, f"fields={asked}&format=csv", data)
    assert response.status_code == 200
    header = response.content.decode().splitlines()[0].split(",")
    assert set(columns) <= set(header)
    assert not {"created_at", "reason", "http_status", "checked_at"} & set(header)


@pytest.mark.parametrize("n", [3, 12])
def test_fields_adds_no_query(anonymous: APIClient, django_assert_num_queries: Any, n: int) -> None:
    for _ in range(n):
        EventFactory(measure=MeasureFactory(categories=["hotline"]), kind="signed")
    # 1 data version (ETag), 2 COUNT, 3 the page of measures, 4 events, 5 named parties,
    # 6 the actors' successor map: what the status needs, and no more (test_measure_fields.py).
    with django_assert_num_queries(6):
        response = anonymous.get("/api/v1/measures/", {"fields": "slug,status"})
    assert len(response.json()["results"]) == n
    assert set(response.json()["results"][0]) == {"slug", "status", "url"}


# --- the OpenAPI document --------------------------------------------------------------------


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, list[dict[str, Any]]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, [p for p in item["get"].get("parameters", []) if p["in"] == "query"])
        for path, item in schema["paths"].items()
        if "get" in item
    ]


def test_each_parameter_is_documented_once_per_endpoint(
    operations: list[tuple[str, list[dict[str, Any]]]],
) -> None:
    for path, parameters in operations:
        names = [p["name"] for p in parameters]
        assert len(names) == len(set(names)), path


@pytest.mark.parametrize("name", ["as_of", "page", "cursor", "category", "q", "ordering"])
def test_a_parameter_is_documented_the_same_way_everywhere(
    operations: list[tuple[str, list[dict[str, Any]]]], name: str
) -> None:
    def grammar(parameter: dict[str, Any]) -> Any:
        schema = parameter["schema"]
        kind = schema.get("items", schema)
        return (schema["type"], kind.get("type"), kind.get("format"), parameter.get("explode"))

    found = [grammar(p) for _, parameters in operations for p in parameters if p["name"] == name]
    assert found
    assert len(set(found)) == 1, found


def test_every_query_parameter_is_bounded(
    operations: list[tuple[str, list[dict[str, Any]]]],
) -> None:
    for path, parameters in operations:
        for parameter in parameters:
            schema, where = parameter["schema"], f"{path} {parameter['name']}"
            if "anyOf" in schema:  # the feed's `since`: a date-time or a cursor
                assert all({"maxLength", "format"} & set(s) for s in schema["anyOf"]), where
                continue
            if schema["type"] == "array":
                assert parameter.get("explode") is not None, where
                schema = schema["items"]
            if schema["type"] == "integer":
                assert schema["minimum"] >= 0, where
                assert schema["maximum"] <= params.INT64_MAX, where
            elif schema["type"] == "string":
                assert {"maxLength", "enum", "format"} & set(schema), where
            # `format` on the lists is drf-spectacular's own enum of the renderers.
            assert parameter.get("description") or parameter["name"] == "format", where
