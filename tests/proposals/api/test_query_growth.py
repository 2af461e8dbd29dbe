"""The queries of a measure's detail, of the filtered measure lists and of deep pages do not
change with the number of measures: the same requests on 3 and on 60 measures, each of which
matches every filter, run the same queries (``benchmarks/README.md``, Growth, for their cost)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Measure, MeasureParty
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
)

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/measures/"

# The queries every measure page runs after its own: 1 categories, 2 events with actor codes,
# 3 positions with actor codes, 4 named parties, 5 the actors' successor map.
PAGE_CONTENT = 5


@pytest.fixture(params=[3, 60], ids=["3-measures", "60-measures"])
def measures(request: pytest.FixtureRequest) -> int:
    """Measures that all match the filters below: signed, ratified by the USA (a named party)
    and in force, endorsed by China (once to the month only) and opposed by Russia, each with
    citations of itself, an event and a position."""
    usa, rus, chn = (ActorFactory(code=code) for code in ("USA", "RUS", "CHN"))
    count = int(request.param)
    for number in range(count):
        measure = MeasureFactory(slug=f"m-{number:03d}", categories=["hotline", "transparency"])
        MeasureParty.objects.create(measure=measure, actor=usa)
        EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
        ratified = EventFactory(measure=measure, kind="ratified", date=D(2000, 2, 1), actor=usa)
        EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 3, 1))
        PositionFactory(measure=measure, actor=chn, stance="proposes", date=D(1999, 5, 1))
        endorses = PositionFactory(
            measure=measure,
            actor=chn,
            stance="endorses",
            date=D(2001, 6, 1),
            date_precision="month",
        )
        PositionFactory(measure=measure, actor=rus, stance="opposes", date=D(2002, 1, 1))
        CitationFactory(measure=measure)
        CitationFactory(measure=None, event=ratified)
        CitationFactory(measure=None, position=endorses)
    return count


def test_a_measure_detail_runs_seven_queries(
    anonymous: APIClient, django_assert_num_queries: Any, measures: int
) -> None:
    slug = Measure.objects.order_by("slug")[measures // 2].slug
    # 1 the measure (parent slug joined), 2 categories, 3 events, 4 positions, 5 named parties,
    # 6 successor map, 7 the citations of the measure and of its events and positions, by id.
    with django_assert_num_queries(7):
        response = anonymous.get(f"{URL}{slug}/")
    assert response.status_code == 200
    body = response.json()
    assert len(body["events"]) == 3
    assert len(body["positions"]) == 3
    assert len(body["citations"]) == 1
    cited = [e for e in body["events"] if e["citations"]] + [
        p for p in body["positions"] if p["citations"]
    ]
    assert [item["date"] for item in cited] == ["2000-02-01", "2001-06-01"]


# (query string, queries before the page's own: what the filter reads).
FILTERED = [
    # 1 data version (ETag), 2 COUNT, 3 the page.
    pytest.param("", 3, id="unfiltered"),
    pytest.param("as_of=2001-07-01", 3, id="as_of"),
    pytest.param("category=hotline", 3, id="category"),
    pytest.param("status=in_force", 3, id="status"),
    # 1 data version, 2 the actor code exists, 3 COUNT (the stance rules as a subquery), 4 page.
    pytest.param("endorsed_by=CHN", 4, id="endorsed_by"),
    pytest.param("opposed_by=RUS", 4, id="opposed_by"),
    pytest.param("endorsed_by=CHN&certain=true&as_of=2001-07-01", 4, id="endorsed_by-certain"),
    pytest.param("actor=CHN", 4, id="actor"),
    # Today's participations are stored: 1 data version, 2 the actor code exists, 3 COUNT (the
    # actor's stored participation rows as a subquery), 4 page.
    pytest.param("party=USA", 4, id="party"),
    pytest.param("party=USA&certain=true", 4, id="party-certain"),
    # Another day's are stored as spans over time: 1 data version, 2 the actor code exists,
    # 3 COUNT (the actor's spans holding that day, as a subquery), 4 page.
    pytest.param("party=USA&as_of=2001-07-01", 4, id="party-as_of"),
    pytest.param("status=in_force&as_of=2001-07-01", 3, id="status-as_of"),
]


@pytest.mark.parametrize(("query", "before_content"), FILTERED)
def test_a_filtered_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient,
    django_assert_num_queries: Any,
    measures: int,
    query: str,
    before_content: int,
) -> None:
    with django_assert_num_queries(before_content + PAGE_CONTENT):
        response = anonymous.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert response.json()["count"] == measures
    assert len(response.json()["results"]) == min(measures, 50)


def test_a_later_numbered_page_runs_the_same_queries_as_the_first(
    anonymous: APIClient, django_assert_num_queries: Any, measures: int
) -> None:
    last = (measures + 1) // 2
    # 1 data version, 2 COUNT, 3 the page: its rows for the ids at its offset (one query).
    with django_assert_num_queries(3 + PAGE_CONTENT):
        response = anonymous.get(URL, {"page_size": 2, "page": last})
    assert response.status_code == 200
    slugs = [item["slug"] for item in response.json()["results"]]
    expected = list(Measure.objects.order_by("slug").values_list("slug", flat=True))
    assert slugs == expected[(last - 1) * 2 : last * 2]


def test_a_cursor_page_deep_in_the_list_runs_the_same_queries_as_the_first(
    anonymous: APIClient, django_assert_num_queries: Any, measures: int
) -> None:
    path = f"{URL}?cursor=&page_size=2"
    seen: list[str] = []
    while path:
        # 1 data version, 2 the page (no COUNT).
        with django_assert_num_queries(2 + PAGE_CONTENT):
            response = anonymous.get(path)
        assert response.status_code == 200
        seen += [item["slug"] for item in response.json()["results"]]
        path = response.json()["next"]
    assert seen == sorted(Measure.objects.values_list("slug", flat=True))
