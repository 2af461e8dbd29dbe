"""The OpenAPI schema validates, documents the rules, and describes the real responses."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from proposals import status as rules
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceCheckFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_it_documents_the_status_rules_and_stances(schema: dict[str, Any]) -> None:
    description = schema["info"]["description"]
    assert "| entered_into_force, implemented, subscribed | in_force |" in description
    assert "A notice of withdrawal" in (rules.__doc__ or "")
    assert "A notice of withdrawal" in description
    assert "`conditional` — supports it on stated conditions" in description


def test_every_measure_filter_is_documented(schema: dict[str, Any]) -> None:
    parameters = {p["name"] for p in schema["paths"]["/api/v1/measures/"]["get"]["parameters"]}
    assert parameters >= {
        "category",
        "status",
        "form",
        "scope",
        "venue",
        "actor",
        "party",
        "endorsed_by",
        "opposed_by",
        "as_of",
        "changed_since",
        "q",
        "ordering",
        "page",
        "page_size",
        "cursor",
        "If-None-Match",
    }
    put = schema["paths"]["/api/v1/measures/{slug}/"]["put"]
    assert {"412", "428", "401", "403"} <= set(put["responses"])


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node:
        return _resolve(schema, node["allOf"][0])
    return node


def conforms(schema: dict[str, Any], node: dict[str, Any], value: Any, where: str) -> None:
    if value is None:
        # A nullable object is an `allOf` of its component with `nullable` beside it.
        nullable = node.get("nullable") or _resolve(schema, node).get("nullable")
        assert nullable, f"{where} is null but not nullable"
        return
    node = _resolve(schema, node)
    if "enum" in node:
        assert value in node["enum"], f"{where}: {value!r} not in {node['enum']}"
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        assert set(value) <= set(node["properties"]), f"{where}: undocumented keys"
        assert set(node.get("required", [])) <= set(value), f"{where}: required keys missing"
        for name, item in value.items():
            conforms(schema, node["properties"][name], item, f"{where}.{name}")
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        for name, item in value.items():
            conforms(schema, node["additionalProperties"], item, f"{where}[{name}]")
    elif kind == "array":
        for index, item in enumerate(value):
            conforms(schema, node["items"], item, f"{where}[{index}]")
    elif kind == "integer":
        assert isinstance(value, int), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "string":
        assert isinstance(value, str), where
        if node.get("format") == "date":
            datetime.date.fromisoformat(value)


@pytest.fixture
def data() -> dict[str, Any]:
    rus = ActorFactory(code="RUS")
    ActorFactory(code="SUN", successor=rus)
    measure = MeasureFactory(slug="inf", parameters={"range_km": [500, 5500]})
    event = EventFactory(measure=measure, kind="entered_into_force", actor=None)
    EventFactory(measure=measure, kind="ratified", actor=rus)
    position = PositionFactory(measure=measure, actor=rus)
    CitationFactory(measure=measure)
    CitationFactory(measure=None, event=event)
    CitationFactory(measure=None, position=position)
    check = SourceCheckFactory()
    return {"event": event.pk, "position": position.pk, "source": check.source_id}


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/api/v1/measures/", "/api/v1/measures/"),
        ("/api/v1/measures/?cursor=", "/api/v1/measures/"),
        ("/api/v1/measures/inf/", "/api/v1/measures/{slug}/"),
        ("/api/v1/actors/", "/api/v1/actors/"),
        ("/api/v1/actors/RUS/", "/api/v1/actors/{code}/"),
        ("/api/v1/positions/", "/api/v1/positions/"),
        ("/api/v1/positions/{position}/", "/api/v1/positions/{id}/"),
        ("/api/v1/events/", "/api/v1/events/"),
        ("/api/v1/events/{event}/", "/api/v1/events/{id}/"),
        ("/api/v1/sources/", "/api/v1/sources/"),
        ("/api/v1/sources/{source}/", "/api/v1/sources/{id}/"),
        ("/api/v1/sources/{source}/checks/", "/api/v1/sources/{id}/checks/"),
        ("/api/v1/citations/", "/api/v1/citations/"),
        ("/api/v1/quality/", "/api/v1/quality/"),
    ],
)
def test_real_responses_match_the_schema(
    anonymous: APIClient, schema: dict[str, Any], data: dict[str, Any], path: str, operation: str
) -> None:
    response = anonymous.get(path.format(**data))
    assert response.status_code == 200
    documented = schema["paths"][operation]["get"]["responses"]["200"]
    conforms(schema, documented["content"]["application/json"]["schema"], response.json(), path)
