"""409 Conflict for a create or an update that would repeat an existing object: the body names
that object's URL, so a client needs no message parsing to find it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Actor, Citation, Event, Measure, Position
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def rows() -> dict[str, Any]:
    usa = ActorFactory(code="USA")
    inf = MeasureFactory(slug="inf")
    source = SourceFactory(url="https://www.un.org/inf")
    return {
        "usa": usa,
        "inf": inf,
        "source": source,
        "event": EventFactory(measure=inf, kind="signed", date=D(1987, 12, 8), actor=usa),
        "wide": EventFactory(measure=inf, kind="entered_into_force", date=D(1988, 6, 1)),
        "position": PositionFactory(measure=inf, actor=usa, date=D(1987, 1, 1)),
        "citation": CitationFactory(measure=inf, source=source, locator="art. 1"),
    }


# (collection, a body repeating the existing row, the existing row's URL from the rows, model)
CREATES: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Callable[..., str]]] = {
    "measure": (
        "/api/v1/measures/",
        lambda r: {
            "slug": "inf",
            "title": "Again",
            "categories": ["arms_limit"],
            "form": "treaty",
            "scope": "bilateral",
        },
        lambda r: "/api/v1/measures/inf/",
    ),
    "actor": (
        "/api/v1/actors/",
        lambda r: {"code": "usa", "name": "Again"},
        lambda r: "/api/v1/actors/USA/",
    ),
    "actor event": (
        "/api/v1/events/",
        lambda r: {"measure": "inf", "kind": "signed", "date": "1987-12-08", "actor": "USA"},
        lambda r: f"/api/v1/events/{r['event'].pk}/",
    ),
    "measure-wide event": (
        "/api/v1/events/",
        lambda r: {"measure": "inf", "kind": "entered_into_force", "date": "1988-06-01"},
        lambda r: f"/api/v1/events/{r['wide'].pk}/",
    ),
    "position": (
        "/api/v1/positions/",
        lambda r: {"measure": "inf", "actor": "USA", "stance": "opposes", "date": "1987-01-01"},
        lambda r: f"/api/v1/positions/{r['position'].pk}/",
    ),
    "source": (
        "/api/v1/sources/",
        # Another spelling of the same URL: duplicates are found after normalization.
        lambda r: {"url": "HTTPS://www.un.org:443/inf?utm_source=feed#top"},
        lambda r: f"/api/v1/sources/{r['source'].pk}/",
    ),
    "citation": (
        "/api/v1/citations/",
        lambda r: {"source": r["source"].pk, "measure": "inf", "locator": "art. 1"},
        lambda r: f"/api/v1/citations/{r['citation'].pk}/",
    ),
}
MODELS = [Actor, Measure, Event, Position, Source, Citation]


def _counts() -> list[int]:
    return [model.objects.count() for model in MODELS]


@pytest.mark.parametrize("name", CREATES)
def test_a_create_repeating_an_object_is_a_409_naming_it(
    curator: APIClient, rows: dict[str, Any], name: str
) -> None:
    collection, body, existing = CREATES[name]
    before = _counts()
    response = curator.post(collection, body(rows), format="json")
    assert response.status_code == 409, response.content
    assert response.json()["existing"] == f"http://testserver{existing(rows)}"
    assert response.json()["detail"]
    assert _counts() == before
    assert curator.get(response.json()["existing"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "change", "existing"),
    [
        (
            lambda r: "/api/v1/measures/other/",
            {"slug": "inf"},
            lambda r: "/api/v1/measures/inf/",
        ),
        (
            lambda r: f"/api/v1/events/{r['other_event'].pk}/",
            {"kind": "signed", "date": "1987-12-08", "actor": "USA"},
            lambda r: f"/api/v1/events/{r['event'].pk}/",
        ),
        (
            lambda r: f"/api/v1/sources/{r['other_source'].pk}/",
            {"url": "https://www.un.org/inf"},
            lambda r: f"/api/v1/sources/{r['source'].pk}/",
        ),
    ],
)
def test_an_update_repeating_an_object_is_a_409_naming_it(
    curator: APIClient, rows: dict[str, Any], path: Any, change: Any, existing: Any
) -> None:
    MeasureFactory(slug="other")
    rows["other_event"] = EventFactory(measure=rows["inf"], kind="ratified", date=D(1988, 5, 1))
    rows["other_source"] = SourceFactory(url="https://example.org/other")
    target = path(rows)
    etag = curator.get(target)["ETag"]
    response = curator.patch(target, change, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 409, response.content
    assert response.json()["existing"] == f"http://testserver{existing(rows)}"
    assert curator.get(target)["ETag"] == etag  # nothing written


def test_an_invalid_field_besides_the_repetition_is_a_400(
    curator: APIClient, rows: dict[str, Any]
) -> None:
    response = curator.post(
        "/api/v1/events/",
        {
            "measure": "inf",
            "kind": "signed",
            "date": "1987-12-08",
            "actor": "USA",
            "date_precision": "year",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "date" in response.json()


def test_every_create_and_update_documents_its_409() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    writes = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
        and any(
            path.startswith(f"/api/v1/{name}/")
            for name in ("measures", "actors", "events", "positions", "sources", "citations")
        )
        and not path.endswith("/refresh/")
    ]
    assert len(writes) == 18
    for path, method, operation in writes:
        conflict = operation["responses"].get("409")
        assert conflict, f"{method} {path}"
        body = conflict["content"]["application/json"]["schema"]["$ref"]
        assert body.endswith("/Duplicate"), f"{method} {path}"
