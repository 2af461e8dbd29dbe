"""GET/POST/PUT/PATCH/DELETE /api/v1/actors/."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Actor
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/actors/"


@pytest.mark.parametrize("n", [3, 10])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    rus = ActorFactory(code="RUS")
    for i in range(n):
        ActorFactory(code=f"ORG{i}", kind="organization", successor=rus)
    # 1 data version, 2 COUNT, 3 the page with each successor joined.
    with django_assert_num_queries(3):
        response = anonymous.get(URL)
    assert response.json()["count"] == n + 1


def test_the_detail_has_positions_and_participations_through_predecessors(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    rus = ActorFactory(code="RUS", name="Russia")
    sun = ActorFactory(code="SUN", name="USSR", successor=rus)
    inf = MeasureFactory(slug="inf")
    EventFactory(measure=inf, kind="ratified", date=D(1988, 5, 28), actor=sun)
    EventFactory(measure=inf, kind="entered_into_force", date=D(1988, 6, 1))
    EventFactory(measure=inf, kind="suspended", date=D(2019, 2, 2), actor=rus)
    talks = MeasureFactory(slug="talks")
    PositionFactory(measure=talks, actor=rus, stance="endorses", date=D(2018, 1, 1))
    PositionFactory(measure=talks, actor=rus, stance="opposes", date=D(2020, 1, 1))
    # 1 the actor (successor joined), 2 successor map, 3 its first positions, 4 the first
    # measures it took a position on, 5 its positions on those and on the positions' measures
    # (for `current`), 6 the first measures in which it had a participation that day (its
    # stored answers over time), 7-9 their parties, scopes and events.
    with django_assert_num_queries(9):
        body = anonymous.get(f"{URL}rus/", {"as_of": "2018-06-01"}).json()
    assert body["code"] == "RUS"
    assert body["predecessors"] == ["SUN"]
    assert [(p["measure"], p["participation"]) for p in body["participations"]] == [
        ("inf", "party")
    ]
    assert body["stances"] == [
        {
            "measure": "talks",
            "stance": "endorses",
            "certain": True,
            "possible": ["endorses"],
            "basis": "confirmed",
        }
    ]
    assert [(p["stance"], p["current"]) for p in body["positions"]] == [("endorses", True)]
    # Today's participations are stored: 1 the actor, 2 successor map, 3 to 5 its positions as
    # above, 6 its first participation rows with the measures' slugs.
    with django_assert_num_queries(6):
        today = anonymous.get(f"{URL}RUS/").json()
    assert [(p["measure"], p["participation"]) for p in today["participations"]] == [
        ("inf", "suspended")
    ]
    assert [(p["stance"], p["current"]) for p in today["positions"]] == [
        ("endorses", False),
        ("opposes", True),
    ]
    soviet = anonymous.get(f"{URL}SUN/", {"as_of": "1990-01-01"}).json()
    assert [(p["measure"], p["participation"]) for p in soviet["participations"]] == [
        ("inf", "party")
    ]


def busy_actor(measures: int) -> None:
    """USA ratified ``measures`` bilateral agreements in force and took positions on each: an
    early one, then, on the last two measures, a later one that supersedes it. The early
    positions' dates run against the slugs, so that the oldest are on the last measures."""
    usa = ActorFactory(code="USA")
    for i in range(measures):
        measure = MeasureFactory(slug=f"m-{i:02d}", scope="bilateral")
        EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
        EventFactory(measure=measure, kind="ratified", date=D(2000, 2, 1), actor=usa)
        EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 3, 1))
        PositionFactory(measure=measure, actor=usa, stance="proposes", date=D(2001, 12, 28 - i))
        if i >= measures - 2:
            PositionFactory(measure=measure, actor=usa, stance="opposes", date=D(2005, 1, 1 + i))


@pytest.mark.parametrize("measures", [5, 12])
def test_the_detail_cuts_each_list_and_says_where_it_continues(
    anonymous: APIClient, django_assert_num_queries: Any, settings: Any, measures: int
) -> None:
    settings.TRACKER_API_ACTOR_LIST_LIMIT = 3
    busy_actor(measures)
    # As many queries whatever the actor did: each list reads no more than its limit and one.
    with django_assert_num_queries(6):
        body = anonymous.get(f"{URL}USA/").json()
    slugs = [f"m-{i:02d}" for i in range(measures)]
    assert [p["measure"] for p in body["participations"]] == slugs[:3]
    assert {p["participation"] for p in body["participations"]} == {"party"}
    assert [(s["measure"], s["stance"]) for s in body["stances"]] == [
        ("m-00", "proposes"),
        ("m-01", "proposes"),
        ("m-02", "proposes"),
    ]
    # Oldest first, which here are on the last measures, whose stances the page does not show:
    # `current` is right for them too (the last two were superseded).
    oldest = [(p["measure"], p["current"]) for p in body["positions"]]
    assert oldest == [(slugs[-1], False), (slugs[-2], False), (slugs[-3], True)]
    today = datetime.date.today().isoformat()
    more = body["more"]
    assert more["positions"] == (
        f"http://testserver/api/v1/positions/?actor=USA&date_before={today}"
    )
    assert (
        more["participations"]
        == more["stances"]
        == (f"http://testserver/api/v1/measures/?actor=USA&as_of={today}")
    )
    # The positions list goes on where the page stops, in the same order.
    listed = anonymous.get(more["positions"], {"page_size": 100}).json()["results"]
    assert [p["id"] for p in listed][:3] == [p["id"] for p in body["positions"]]
    assert len(listed) == measures + 2
    # The measures list holds every participation and current position the page left out.
    involved = anonymous.get(more["participations"], {"page_size": 100}).json()["results"]
    assert [m["slug"] for m in involved] == slugs
    assert {measure["participations"]["USA"]["participation"] for measure in involved} == {"party"}


def test_the_detail_gives_short_lists_whole(anonymous: APIClient, settings: Any) -> None:
    settings.TRACKER_API_ACTOR_LIST_LIMIT = 7
    busy_actor(5)
    body = anonymous.get(f"{URL}USA/", {"as_of": "2010-01-01"}).json()
    assert body["more"] == {"participations": None, "stances": None, "positions": None}
    assert len(body["participations"]) == len(body["stances"]) == 5
    assert len(body["positions"]) == 7
    assert [p["current"] for p in body["positions"]].count(True) == 5


def test_filters_and_csv(anonymous: APIClient) -> None:
    ActorFactory(code="USA")
    ActorFactory(code="NATO", kind="organization", aliases=["North Atlantic Treaty Organization"])
    body = anonymous.get(URL, {"kind": "organization"}).json()
    assert [a["code"] for a in body["results"]] == ["NATO"]
    assert anonymous.get(URL, {"kind": "club"}).status_code == 400
    assert [a["code"] for a in anonymous.get(URL, {"ordering": "-code"}).json()["results"]] == [
        "USA",
        "NATO",
    ]
    csv = anonymous.get(URL, {"format": "csv", "kind": "organization"}).content.decode()
    assert csv.splitlines()[1].startswith("NATO,State NATO,organization,North Atlantic Treaty")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "XXX", "name": "Nowhere"}, "code"),  # not an ISO 3166 code
        ({"code": " GBR", "name": "UK"}, "code"),  # spaces: the schema's pattern has none
        ({"code": "ÄÖÜ", "name": "Umlauts"}, "code"),
        ({"code": "G 7", "name": "Group of Seven", "kind": "organization"}, "code"),
        ({"code": "ß", "name": "Not SS", "kind": "organization"}, "code"),
        ({"code": "GBR", "name": "UK", "kind": "tribe"}, "kind"),
        ({"code": "GBR", "name": " ", "kind": "state"}, "name"),
        ({"code": "GBR", "name": "UK", "aliases": ["Britain", " "]}, "aliases"),
    ],
)
def test_invalid_actors_are_refused(curator: APIClient, body: dict[str, Any], field: str) -> None:
    ActorFactory(code="USA")
    response = curator.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Actor.objects.count() == 1


def test_a_successor_that_does_not_exist_is_a_404_naming_it(curator: APIClient) -> None:
    body = {"code": "GBR", "name": "UK", "successor": "ZZZ"}
    response = curator.post(URL, body, format="json")
    assert response.status_code == 404
    assert list(response.json()) == ["successor"]
    assert not Actor.objects.exists()


def test_an_organization_code_may_be_lower_case_and_have_digits(curator: APIClient) -> None:
    body = {"code": "g20", "name": "Group of Twenty", "kind": "organization"}
    assert curator.post(URL, body, format="json").status_code == 201
    assert Actor.objects.get(code="G20").kind == "organization"


def test_a_taken_code_is_a_409_naming_the_actor(curator: APIClient) -> None:
    ActorFactory(code="USA")
    response = curator.post(URL, {"code": "usa", "name": "Again"}, format="json")
    assert response.status_code == 409
    assert response.json()["existing"] == "http://testserver/api/v1/actors/USA/"
    assert Actor.objects.count() == 1


def test_a_curator_creates_a_state_with_a_lower_case_code(curator: APIClient) -> None:
    response = curator.post(URL, {"code": "gbr", "name": "United Kingdom"}, format="json")
    assert response.status_code == 201
    assert Actor.objects.get(code="GBR").name == "United Kingdom"
