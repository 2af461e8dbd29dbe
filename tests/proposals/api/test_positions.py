"""GET/POST/PUT/PATCH/DELETE /api/v1/positions/."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Position
from tests.factories import ActorFactory, CitationFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/positions/"


@pytest.mark.parametrize("n", [3, 12])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    for _ in range(n):
        CitationFactory(measure=None, position=PositionFactory())
    # 1 data version, 2 COUNT, 3 the page with measure and actor joined,
    # 4 the citations of the page's positions with their sources.
    with django_assert_num_queries(4):
        response = anonymous.get(URL)
    assert response.json()["count"] == n
    assert all(len(p["citations"]) == 1 for p in response.json()["results"])


def test_who_opposes_a_measure_now_since_when_citing_what(anonymous: APIClient) -> None:
    chn, usa = ActorFactory(code="CHN"), ActorFactory(code="USA")
    talks = MeasureFactory(slug="trilateral")
    for date in (D(2019, 5, 6), D(2019, 7, 16), D(2020, 2, 12)):
        position = PositionFactory(measure=talks, actor=chn, stance="opposes", date=date)
        CitationFactory(measure=None, position=position, locator=date.isoformat())
    PositionFactory(measure=talks, actor=usa, stance="proposes", date=D(2019, 5, 1))
    body = anonymous.get(
        URL, {"measure": "trilateral", "stance": "opposes", "current": "true"}
    ).json()
    (current,) = body["results"]
    assert (current["actor"], current["date"]) == ("CHN", "2020-02-12")
    assert current["citations"][0]["locator"] == "2020-02-12"
    history = anonymous.get(URL, {"measure": "trilateral", "actor": "CHN"}).json()
    assert [p["date"] for p in history["results"]] == ["2019-05-06", "2019-07-16", "2020-02-12"]


@pytest.mark.parametrize(
    ("params", "named"),
    [({"current": "maybe"}, "current"), ({"date_after": "2019"}, "date_after")],
)
def test_bad_filters_are_400s(anonymous: APIClient, params: dict[str, str], named: str) -> None:
    response = anonymous.get(URL, params)
    assert response.status_code == 400
    assert named in response.json()


def test_csv(anonymous: APIClient) -> None:
    PositionFactory(
        measure=MeasureFactory(slug="ban"),
        actor=ActorFactory(code="JPN"),
        date=D(2020, 1, 1),
        quote="We support it.",
    )
    header, row = anonymous.get(URL, {"format": "csv"}).content.decode().splitlines()
    assert header == "id,measure,actor,stance,date,date_precision,quote,url"
    assert ",ban,JPN,endorses,2020-01-01,day,We support it.," in row


def test_a_second_position_on_the_same_day_is_a_409_naming_the_first(curator: APIClient) -> None:
    ActorFactory(code="CHN")
    MeasureFactory(slug="ban")
    body = {"measure": "ban", "actor": "CHN", "stance": "opposes", "date": "2020-01-01"}
    first = curator.post(URL, body, format="json")
    assert first.status_code == 201
    again = curator.post(URL, {**body, "stance": "neutral"}, format="json")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This actor already has a position on this measure on this date; edit that "
        "one instead.",
        "existing": first.json()["url"],
    }
    assert Position.objects.count() == 1
