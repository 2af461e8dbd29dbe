"""The API benchmark's yardstick (``benchmarks/api/baseline.py``) answers the same bytes as
``GET /api/v1/measures/`` on the benchmark's own generated data, on days when every answer is
certain and on days when the rules give uncertain ones. The benchmark refuses to time anything
otherwise, so a field the API gains without the baseline shows here first."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import time_machine
from django.core.cache import caches
from django.test import Client

from benchmarks.api.dataset import Counts, generate
from benchmarks.api.urls import BASELINE_PATH
from proposals.models import Event, Measure, Position
from proposals.status import period_end

pytestmark = [pytest.mark.django_db, pytest.mark.urls("benchmarks.api.urls")]

API_PATH = "/api/v1/measures/"
PAGE = 50


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    # The day searches below send more anonymous requests than one test usually does.
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def dataset() -> Counts:
    return generate(measures=PAGE + 30, seed=1)


def on(day: datetime.date, client: Client, path: str) -> bytes:
    noon = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    with time_machine.travel(noon, tick=False):
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return response.content


def coarse_days() -> list[datetime.date]:
    """A day inside the period of each month- or year-dated fact of the first page's measures:
    the days on which the rules may answer with several possible values."""
    first_page = Measure.objects.order_by("slug").values("pk")[:PAGE]
    days = set()
    for model in (Event, Position):
        rows = model.objects.filter(measure__in=first_page).exclude(date_precision="day")
        for date, precision in rows.values_list("date", "date_precision"):
            days.add(date + (period_end(date, precision) - date) / 2)
    # Django's in-memory cache, which holds the throttle's counts, misreads a clock set before
    # 1970 (a missing key looks unexpired), so the clock is only moved to later days.
    return sorted(day for day in days if day.year >= 1970)


def status_uncertain(item: dict[str, Any]) -> bool:
    return not item["status_certain"]


def participation_uncertain(item: dict[str, Any]) -> bool:
    return any(not answer["certain"] for answer in item["participations"].values())


def stance_uncertain(item: dict[str, Any]) -> bool:
    return any(not position["certain"] for position in item["current_positions"])


def test_the_dataset_has_what_the_page_is_meant_to_show(dataset: Counts) -> None:
    assert dataset.measures == PAGE + 30
    assert dataset.parties > 0
    assert Position.objects.exclude(certainty="confirmed").exists()
    assert Event.objects.exclude(certainty="confirmed").exists()
    assert Event.objects.filter(date_precision="year").exists()


def test_it_answers_the_apis_bytes_on_a_day_of_certain_answers(dataset: Counts) -> None:
    client = Client()
    day = datetime.date(2026, 12, 1)
    api = on(day, client, API_PATH)
    assert on(day, client, BASELINE_PATH) == api
    assert b'"parties":["' in api  # named parties are on the page, not only empty lists


@pytest.mark.parametrize("uncertain", [status_uncertain, participation_uncertain, stance_uncertain])
def test_it_answers_the_apis_bytes_when_an_answer_is_uncertain(
    dataset: Counts, uncertain: Callable[[dict[str, Any]], bool]
) -> None:
    client = Client()
    for day in coarse_days():
        api = on(day, client, API_PATH)
        if any(uncertain(item) for item in orjson.loads(api)["results"]):
            break
    else:
        pytest.fail(f"no day inside a coarse date's period gives a {uncertain.__name__} answer")
    assert on(day, client, BASELINE_PATH) == api


def test_it_runs_one_query_less_than_the_api(
    dataset: Counts, django_assert_num_queries: Any
) -> None:
    client = Client()
    client.get(BASELINE_PATH)  # the first request of a process loads the URLconf
    # 1 COUNT, 2 the page of measures (parent slug joined), 3 their categories, 4 their events
    # with actor codes, 5 their positions with actor codes, 6 their named parties, 7 the actors'
    # successor map; the API runs these and its data version (the ETag).
    with django_assert_num_queries(7):
        client.get(BASELINE_PATH)
    with django_assert_num_queries(8):
        client.get(API_PATH)
