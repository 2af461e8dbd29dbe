"""How numbered pages count: exactly up to ``TRACKER_API_EXACT_COUNT_LIMIT`` matches, never
further; beyond it ``count`` is null and ``count_at_least`` a true lower bound, except on the page
that reaches the end of the list, which knows the number (``proposals/api/pagination.py``)."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from rest_framework.test import APIClient

from proposals.models import Actor, Citation, Event, Measure, Position
from tests.factories import (
    CitationFactory,
    EventFactory,
    MeasureFactory,
    OrganizationFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db

LIMIT = 5
PAGE_SIZE = 2


@pytest.fixture(autouse=True)
def small_limit(settings: Any) -> None:
    settings.TRACKER_API_EXACT_COUNT_LIMIT = LIMIT


# (list, the key of its rows, what makes one row, the model it counts)
ENDPOINTS: list[Any] = [
    pytest.param("/api/v1/measures/", "results", MeasureFactory, Measure, id="measures"),
    pytest.param("/api/v1/events/", "results", EventFactory, Event, id="events"),
    pytest.param("/api/v1/positions/", "results", PositionFactory, Position, id="positions"),
    pytest.param("/api/v1/citations/", "results", CitationFactory, Citation, id="citations"),
    pytest.param("/api/v1/sources/", "results", SourceFactory, Source, id="sources"),
    pytest.param("/api/v1/actors/", "results", OrganizationFactory, Actor, id="actors"),
    pytest.param("/api/v1/matrix/", "measures", MeasureFactory, Measure, id="matrix"),
]


def fill(make: Callable[..., Any], model: type[Model], total: int) -> int:
    """Rows of ``model`` until there are ``total`` (a migration may have made some)."""
    for _ in range(total - model._default_manager.count()):
        make()
    assert model._default_manager.count() == total
    return total


# Below the limit, at it, one past it, far past it with a full last page and with a short one.
SIZES = [LIMIT - 1, LIMIT, LIMIT + 1, 4 * LIMIT, 4 * LIMIT + 1]


@pytest.mark.parametrize("total", SIZES)
@pytest.mark.parametrize(("url", "key", "make", "model"), ENDPOINTS)
def test_every_page_states_no_more_than_is_known(
    anonymous: APIClient,
    url: str,
    key: str,
    make: Callable[..., Any],
    model: type[Model],
    total: int,
) -> None:
    fill(make, model, total)
    last = -(-total // PAGE_SIZE)
    seen: list[Any] = []
    for number in range(1, last + 1):
        response = anonymous.get(url, {"page": number, "page_size": PAGE_SIZE})
        assert response.status_code == 200, response.content
        body = response.json()
        rows = body[key]
        seen += [(row.get("id"), row.get("slug"), row.get("code")) for row in rows]
        if total <= LIMIT or number == last:
            # Counted, or seen to end on this page: the exact number.
            assert (body["count"], body["count_at_least"]) == (total, total)
        else:
            # More than the limit, and rows after this page: only what is certain.
            assert body["count"] is None
            assert body["count_at_least"] == max(LIMIT + 1, number * PAGE_SIZE + 1)
            assert body["count_at_least"] <= total
        assert (body["next"] is None) == (number == last)
        assert (body["previous"] is None) == (number == 1)
        assert len(rows) == min(PAGE_SIZE, total - (number - 1) * PAGE_SIZE)
    assert len(seen) == len(set(seen)) == total
    past = anonymous.get(url, {"page": last + 1, "page_size": PAGE_SIZE})
    assert past.status_code == 404
    assert f"Page {last + 1} is past the last page." in past.content.decode()


def test_a_cursor_page_has_no_count(anonymous: APIClient) -> None:
    fill(MeasureFactory, Measure, LIMIT + 1)
    body = anonymous.get("/api/v1/measures/", {"cursor": ""}).json()
    assert "count" not in body
    assert "count_at_least" not in body


def test_a_filter_is_counted_under_the_same_limit(anonymous: APIClient) -> None:
    for number in range(3 * LIMIT):
        MeasureFactory(categories=["hotline"] if number % 2 else ["transparency"])
    hotline = Measure.objects.filter(categories="hotline").count()
    assert hotline > LIMIT
    body = anonymous.get("/api/v1/measures/", {"category": "hotline", "page_size": 1}).json()
    assert (body["count"], body["count_at_least"]) == (None, LIMIT + 1)
    body = anonymous.get("/api/v1/measures/", {"category": "hotline", "page_size": 200}).json()
    assert (body["count"], body["count_at_least"]) == (hotline, hotline)


# Queries of a page of measures after the paging: 1 categories, 2 events with actor codes,
# 3 positions with actor codes, 4 named parties, 5 the actors' successor map.
PAGE_CONTENT = 5


@pytest.mark.parametrize("total", [LIMIT, LIMIT + 1, 10 * LIMIT], ids=["at", "past", "far"])
@pytest.mark.parametrize("page", [1, 2])
def test_the_count_costs_one_query_whatever_it_finds(
    anonymous: APIClient, django_assert_num_queries: Any, total: int, page: int
) -> None:
    fill(MeasureFactory, Measure, total)
    # 1 data version (ETag), 2 the count (at most LIMIT + 1 rows), 3 the page (with one row of
    # look-ahead when the count stopped short), then the page's contents.
    with django_assert_num_queries(3 + PAGE_CONTENT):
        response = anonymous.get("/api/v1/measures/", {"page": page, "page_size": PAGE_SIZE})
    assert response.status_code == 200
    assert len(response.json()["results"]) == PAGE_SIZE


def test_a_page_past_a_counted_end_reads_no_rows(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    fill(MeasureFactory, Measure, LIMIT)
    # 1 data version, 2 the count: the page lies past it, and no page is read.
    with django_assert_num_queries(2):
        response = anonymous.get("/api/v1/measures/", {"page": 4, "page_size": PAGE_SIZE})
    assert response.status_code == 404


def test_a_page_past_an_uncounted_end_is_found_empty(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    fill(MeasureFactory, Measure, 2 * LIMIT)
    # 1 data version, 2 the count (stopped at LIMIT + 1), 3 the page, empty.
    with django_assert_num_queries(3):
        response = anonymous.get("/api/v1/measures/", {"page": 50, "page_size": PAGE_SIZE})
    assert response.status_code == 404


def test_the_schema_says_count_may_be_null(anonymous: APIClient) -> None:
    schema = anonymous.get("/api/schema/", {"format": "json"}).json()
    page = schema["components"]["schemas"]["PaginatedMeasureListList"]["properties"]
    assert page["count"]["nullable"] is True
    assert f"no further than {LIMIT}" in page["count"]["description"]
    assert page["count_at_least"]["type"] == "integer"


# --- citations of a measure ---------------------------------------------------------------------


def test_citations_of_a_measure_are_those_of_it_its_events_and_its_positions(
    anonymous: APIClient, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.TRACKER_API_EXACT_COUNT_LIMIT = 1000
    rng = random.Random(12)  # noqa: S311 - a fixed seed: the same data on every run
    measures = MeasureFactory.create_batch(6)
    events = [
        EventFactory(measure=rng.choice(measures), date=datetime.date(2000, 1, 1 + day))
        for day in range(12)
    ]
    positions = [PositionFactory(measure=rng.choice(measures)) for _ in range(12)]
    sources = SourceFactory.create_batch(4)
    for _ in range(60):
        target = rng.choice(["measure", "event", "position"])
        values: dict[str, Any] = {"measure": None, "event": None, "position": None}
        values[target] = rng.choice(
            {"measure": measures, "event": events, "position": positions}[target]
        )
        CitationFactory(source=rng.choice(sources), locator=f"p. {rng.randrange(10**6)}", **values)

    def expected(measure: Measure) -> list[int]:
        return sorted(
            c.pk
            for c in Citation.objects.select_related("event", "position")
            if measure.pk
            in (c.measure_id, c.event and c.event.measure_id, c.position and c.position.measure_id)
        )

    for measure in measures:
        # 1 data version, 2 the slug exists, 3 the count, 4 the page with sources and targets.
        with django_assert_num_queries(4):
            response = anonymous.get(
                "/api/v1/citations/", {"measure": measure.slug, "page_size": 200}
            )
        body = response.json()
        assert [row["id"] for row in body["results"]] == expected(measure)
        assert body["count"] == len(expected(measure))
