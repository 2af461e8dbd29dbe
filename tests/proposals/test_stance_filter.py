"""``Measure.objects.with_current_stance`` (the ``endorsed_by`` and ``opposed_by`` filters) is one
SQL condition; it must select exactly the measures that the stance rules of ``proposals.status``
select from the same positions, on every day, certain or not."""

from __future__ import annotations

import datetime
import random

import pytest

from proposals import status as rules
from proposals.models import Measure, Position, certainly_taken_by
from tests.factories import ActorFactory, MeasureFactory, PositionFactory
from tests.proposals.histories import EDGES, STANCES, coarse_day, days_around

pytestmark = pytest.mark.django_db
D = datetime.date
ASKED = [("endorses", "proposes"), ("opposes",), ("neutral", "conditional")]


@pytest.fixture
def histories() -> list[datetime.date]:
    """Forty measures on which CHN took one to four positions in 2020-2022, a third of them
    dated only to the month or year, and a USA position on each that must not count; returns
    the days worth asking about: each period's first and last day and the day after it."""
    chooser = random.Random(12)  # noqa: S311  # a fixed draw, so a failure replays
    chn, usa = ActorFactory(code="CHN"), ActorFactory(code="USA")
    days = set(EDGES)
    for number in range(40):
        measure = MeasureFactory(slug=f"m-{number:02d}")
        PositionFactory(measure=measure, actor=usa, stance="endorses", date=D(2021, 5, 5))
        taken = set()
        for _ in range(chooser.randint(1, 4)):
            day, precision = coarse_day(chooser)
            if day in taken:
                continue
            taken.add(day)
            PositionFactory(
                measure=measure,
                actor=chn,
                stance=chooser.choice(STANCES),
                date=day,
                date_precision=precision,
                certainty=chooser.choice(["confirmed", "reported"]),
            )
            days |= days_around(day, precision)
    return sorted(days)


def by_the_rules(on: datetime.date, wanted: set[str], *, certain_only: bool) -> set[str]:
    facts: dict[str, list[rules.PositionFact]] = {}
    for position in Position.objects.filter(actor__code="CHN").select_related("measure"):
        facts.setdefault(position.measure.slug, []).append(
            rules.PositionFact(
                position.stance,
                position.date,
                position.pk,
                position.date_precision,
                position.certainty,
            )
        )
    chosen = set()
    for slug, history in facts.items():
        answer = rules.stance_on(history, on=on)
        if answer.is_certainly(wanted) if certain_only else answer.may_be(wanted):
            chosen.add(slug)
    return chosen


@pytest.mark.parametrize("certain_only", [False, True])
@pytest.mark.parametrize("wanted", ASKED)
def test_it_selects_what_the_stance_rules_select(
    histories: list[datetime.date], wanted: tuple[str, ...], certain_only: bool
) -> None:
    uncertain_days = 0
    for on in histories:
        expected = by_the_rules(on, set(wanted), certain_only=certain_only)
        if by_the_rules(on, set(wanted), certain_only=False) != by_the_rules(
            on, set(wanted), certain_only=True
        ):
            uncertain_days += 1
        chosen = Measure.objects.with_current_stance(
            code="CHN", stances=wanted, on=on, certain_only=certain_only
        )
        assert set(chosen.values_list("slug", flat=True)) == expected, on
    # The draw holds days on which a coarse date makes the answer uncertain.
    assert uncertain_days > 0


@pytest.mark.parametrize(
    "on",
    [
        D(1, 1, 1),
        D(1, 1, 31),
        D(1, 12, 31),
        D(2021, 2, 27),
        D(2021, 2, 28),
        D(2021, 3, 1),
        D(2020, 12, 30),
        D(2020, 12, 31),
        D(2021, 1, 1),
        D(9999, 12, 30),
        D(9999, 12, 31),
    ],
)
def test_certainly_taken_by_agrees_with_the_periods_of_the_rules(on: datetime.date) -> None:
    actor = ActorFactory(code="CHN")
    dates = {
        ("day", on),
        ("day", on - datetime.timedelta(days=1) if on > D(1, 1, 1) else on),
        ("month", on.replace(day=1)),
        ("year", on.replace(month=1, day=1)),
    }
    if on > D(1, 12, 31):
        before = on.replace(day=1) - datetime.timedelta(days=1)
        dates |= {("month", before.replace(day=1)), ("year", D(on.year - 1, 1, 1))}
    for precision, day in dates:  # a measure each: one position per actor, measure and day
        PositionFactory(measure=MeasureFactory(), actor=actor, date=day, date_precision=precision)
    rows = Position.objects.filter(date__lte=on)
    expected = {
        pk
        for pk, day, precision in rows.values_list("pk", "date", "date_precision")
        if rules.period_end(day, precision) <= on
    }
    assert set(rows.filter(certainly_taken_by(on)).values_list("pk", flat=True)) == expected
