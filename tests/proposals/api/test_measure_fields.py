"""GET /api/v1/measures/?fields=…: the light list. The named fields decide which queries run, and
each item is the full item cut to those fields (and ``url``)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from proposals.models import MeasureParty
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory
from tests.proposals.api.test_schema import conforms

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/measures/"
OWN = "slug,title,summary,form,scope,venue,parent,parameters,created_at,updated_at"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def make_measures(n: int) -> None:
    usa, sun = ActorFactory(code="USA"), ActorFactory(code="SUN")
    for i in range(n):
        measure = MeasureFactory(categories=["hotline"])
        MeasureParty.objects.create(measure=measure, actor=usa)
        EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
        EventFactory(measure=measure, kind="ratified", date=D(2000, 2, 1), actor=usa)
        EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 3, 1))
        PositionFactory(measure=measure, actor=sun, stance="opposes", date=D(1990, 1, i % 28 + 1))
        PositionFactory(measure=measure, actor=usa, stance="endorses", date=D(2001, 1, 1))


# Every list request: 1 data version (ETag), 2 COUNT, 3 the page of measures (parent slug
# joined). Then what the fields need, in this order: categories, events, positions, named
# parties, the actors' successor map.
QUERIES = [
    (OWN, 3),
    ("slug,status_on", 3),
    ("categories", 4),
    ("parties", 4),
    ("events", 4),
    ("current_positions", 4),
    # events, named parties (the measure's own signature reaches them), successor map
    ("status", 6),
    ("participations", 6),
    ("title,status_basis,categories", 7),
    ("categories,events,current_positions,parties,status", 8),
]


@pytest.mark.parametrize("n", [3, 12])
@pytest.mark.parametrize(("fields", "queries"), QUERIES)
def test_the_fields_decide_the_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int, fields: str, queries: int
) -> None:
    make_measures(n)
    with django_assert_num_queries(queries):
        response = anonymous.get(URL, {"fields": fields})
    assert response.status_code == 200
    assert len(response.json()["results"]) == n


def test_the_light_cursor_page_runs_the_page_query_alone(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    make_measures(5)
    # data version, the page: no COUNT on a cursor walk, and nothing the fields do not need.
    with django_assert_num_queries(2):
        response = anonymous.get(URL, {"cursor": "", "page_size": 2, "fields": OWN})
    assert [set(item) for item in response.json()["results"]] == [{*OWN.split(","), "url"}] * 2


@pytest.mark.parametrize("fields", [field for field, _ in QUERIES])
@pytest.mark.parametrize("as_of", [None, "2000-01-15"])
def test_each_item_is_the_full_item_cut_to_the_fields(
    anonymous: APIClient, fields: str, as_of: str | None
) -> None:
    make_measures(4)
    day = {"as_of": as_of} if as_of else {}
    full = anonymous.get(URL, day).json()["results"]
    light = anonymous.get(URL, {**day, "fields": fields}).json()["results"]
    kept = {*fields.split(","), "url"}
    assert light == [{name: item[name] for name in item if name in kept} for item in full]
    for item, whole in zip(light, full, strict=True):
        assert list(item) == [name for name in whole if name in kept]  # the same order


def test_the_status_of_a_light_item_counts_the_named_parties_and_successors(
    anonymous: APIClient,
) -> None:
    # RUS succeeded the SUN; the measure names the SUN as a party and entered into force: RUS is
    # a party through its predecessor, which needs the parties and the successor map.
    rus = ActorFactory(code="RUS")
    sun = ActorFactory(code="SUN", successor=rus)
    measure = MeasureFactory(slug="treaty")
    MeasureParty.objects.create(measure=measure, actor=sun)
    EventFactory(measure=measure, kind="signed", date=D(1987, 12, 8))
    EventFactory(measure=measure, kind="entered_into_force", date=D(1988, 6, 1))
    full = anonymous.get(URL).json()["results"][0]
    light = anonymous.get(URL, {"fields": "participations,status"}).json()["results"][0]
    assert light["participations"] == full["participations"]
    assert light["participations"]["RUS"]["participation"] == "party"
    assert light["status"] == full["status"] == "in_force"


@pytest.mark.parametrize("fields", [OWN, "status,events", "current_positions"])
def test_a_light_page_matches_its_schema(
    anonymous: APIClient, schema: dict[str, Any], fields: str
) -> None:
    make_measures(2)
    response = anonymous.get(URL, {"fields": fields})
    documented = schema["paths"][URL]["get"]["responses"]["200"]
    conforms(schema, documented["content"]["application/json"]["schema"], response.json(), URL)


def test_the_schema_states_what_each_field_costs(schema: dict[str, Any]) -> None:
    item = schema["components"]["schemas"]["MeasureList"]
    assert item["required"] == ["url"]
    for field in ("categories", "parties", "events", "current_positions", "participations"):
        assert f"`{field}`" in item["description"]
    assert "need none beyond the page" in item["description"]
