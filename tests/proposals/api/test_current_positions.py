"""GET /api/v1/positions/?current=: each actor's current position per measure, as one SQL
condition (``proposals.models.current_on``), against the rules of ``proposals.status`` applied in
Python to the same positions, over random histories with dates of every precision."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from proposals import status as rules
from proposals.models import Position
from tests.factories import ActorFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/positions/"
STANCES = [choice for choice, _ in Position.Stance.choices]


def random_history(rng: random.Random) -> None:
    """Two actors' positions on three measures within two years, dated to the day, the month or
    the year (a month or a year is stored as its first day), several on some days."""
    actors = [ActorFactory(code=code) for code in ("USA", "RUS")]
    measures = [MeasureFactory() for _ in range(3)]
    taken: set[tuple[int, int, datetime.date]] = set()
    for _ in range(rng.randint(4, 14)):
        measure, actor = rng.choice(measures), rng.choice(actors)
        precision = rng.choice(["day", "day", "month", "year"])
        date = D(2010, 1, 1) + datetime.timedelta(days=rng.randint(0, 700))
        if precision == "month":
            date = date.replace(day=1)
        elif precision == "year":
            date = date.replace(month=1, day=1)
        if (measure.pk, actor.pk, date) in taken:
            continue  # one position per actor, measure and day
        taken.add((measure.pk, actor.pk, date))
        PositionFactory(
            measure=measure,
            actor=actor,
            date=date,
            date_precision=precision,
            stance=rng.choice(STANCES),
        )


def by_the_rules(on: datetime.date, *, certain_only: bool) -> set[int]:
    histories: dict[tuple[int, int], list[rules.PositionFact]] = {}
    for position in Position.objects.order_by("date", "id"):
        histories.setdefault((position.measure_id, position.actor_id), []).append(
            rules.PositionFact(
                position.stance,
                position.date,
                position.pk,
                position.date_precision,
                position.certainty,
            )
        )
    current = set()
    for history in histories.values():
        candidates = rules.current_candidates(history, on=on)
        if certain_only and len(candidates) != 1:
            continue
        current |= {c.sequence for c in candidates if c is not None}
    return current


def listed(client: APIClient, **query: Any) -> set[int]:
    caches["throttle"].clear()  # many requests; the anonymous rate is not what is tested
    response = client.get(URL, {**query, "page_size": 200})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["next"] is None
    return {item["id"] for item in body["results"]}


@pytest.mark.parametrize("seed", range(12))
def test_current_positions_follow_the_rules(anonymous: APIClient, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a fixed seed per case: the same history every run
    random_history(rng)
    days = [D(2010, 1, 1) + datetime.timedelta(days=rng.randint(-30, 760)) for _ in range(6)]
    for on in [*days, D(2010, 12, 31), D(2011, 1, 1), D(2011, 6, 15)]:
        for certain in (False, True):
            expected = by_the_rules(on, certain_only=certain)
            query = {"date_before": on.isoformat(), "certain": str(certain).lower()}
            assert listed(anonymous, current="true", **query) == expected, (on, certain)
            # `false`: the rest of the positions dated by that day (`date_before` keeps only those).
            by_then = set(Position.objects.filter(date__lte=on).values_list("pk", flat=True))
            assert listed(anonymous, current="false", **query) == by_then - expected


@pytest.mark.parametrize("n", [3, 12])
def test_a_page_of_current_positions_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    usa = ActorFactory(code="USA")
    for i in range(n):
        measure = MeasureFactory()
        PositionFactory(measure=measure, actor=usa, stance="proposes", date=D(2001, 1, 1 + i))
        PositionFactory(measure=measure, actor=usa, stance="opposes", date=D(2002, 1, 1 + i))
    # 1 data version, 2 the actor code exists, 3 COUNT, 4 the page (measure and actor joined),
    # 5 the citations.
    with django_assert_num_queries(5):
        response = anonymous.get(URL, {"current": "true", "actor": "USA"})
    assert [item["stance"] for item in response.json()["results"]] == ["opposes"] * n
