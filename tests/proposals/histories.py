"""Random histories for the tests that compare a stored or SQL answer with the rules: dates in
2020-2022, a third of them only to the month or year, drawn from a seeded ``random.Random`` so
that a failure replays."""

from __future__ import annotations

import datetime
import random

from proposals import status as rules
from proposals.models import Actor, Event, Measure, Position
from tests.factories import MeasureFactory, PositionFactory

D = datetime.date
CODES = ["USA", "RUS", "SUN", "CHN", "GBR"]
ACTOR_KINDS = [
    "signed",
    "ratified",
    "acceded",
    "subscribed",
    "entered_into_force",
    "suspended",
    "resumed",
    "withdrawal_notified",
    "withdrew",
    "declared_not_bound",
    "incident",
]
MEASURE_KINDS = [
    "proposed",
    "signed",
    "entered_into_force",
    "implemented",
    "suspended",
    "resumed",
    "expired",
    "terminated",
]
STANCES = [choice for choice, _ in Position.Stance.choices]
# Days outside every drawn period, worth asking about too.
EDGES = {D(2019, 12, 31), D(2023, 1, 1)}


def coarse_day(chooser: random.Random) -> tuple[datetime.date, str]:
    """A day in 2020-2022 and its precision: the first of its month or year when coarse."""
    day = D(2020, 1, 1) + datetime.timedelta(days=chooser.randint(0, 3 * 365))
    precision = chooser.choice(["day", "day", "month", "year"])
    if precision == "month":
        day = day.replace(day=1)
    elif precision == "year":
        day = day.replace(month=1, day=1)
    return day, precision


def days_around(day: datetime.date, precision: str) -> set[datetime.date]:
    """The days on which an answer may turn: the period's first and last, and the day after."""
    end = rules.period_end(day, precision)
    return {day, end, end + datetime.timedelta(days=1)}


def measure_history(
    number: int,
    chooser: random.Random,
    actors: dict[str, Actor],
    boundaries: set[datetime.date],
    *,
    positions: int = 0,
) -> Measure:
    """One measure of a draw: bilateral or plurilateral, zero to two named parties, one to six
    events by the actors or measure-wide, and up to ``positions`` positions by the actors; notes
    the days worth asking about in ``boundaries``."""
    codes = list(actors)
    measure = MeasureFactory(
        slug=f"m-{number:02d}", scope=chooser.choice(["bilateral", "plurilateral"])
    )
    measure.parties.set(actors[code] for code in chooser.sample(codes, chooser.randint(0, 2)))
    seen = set()
    for _ in range(chooser.randint(1, 6)):
        day, precision = coarse_day(chooser)
        code = chooser.choice([None, *codes])
        kind = chooser.choice(MEASURE_KINDS if code is None else ACTOR_KINDS)
        if (code, kind, day) in seen:
            continue
        seen.add((code, kind, day))
        Event.objects.create(
            measure=measure,
            actor=actors[code] if code else None,
            kind=kind,
            date=day,
            date_precision=precision,
            certainty=chooser.choice(["confirmed", "reported", "disputed"]),
        )
        boundaries |= days_around(day, precision)
    taken = set()
    for _ in range(chooser.randint(0, positions)):
        day, precision = coarse_day(chooser)
        code = chooser.choice(codes)
        if (code, day) in taken:
            continue
        taken.add((code, day))
        PositionFactory(
            measure=measure,
            actor=actors[code],
            stance=chooser.choice(STANCES),
            date=day,
            date_precision=precision,
        )
        boundaries |= days_around(day, precision)
    return measure
