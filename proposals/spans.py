"""Derived answers over time: each measure's status and each actor's participation in it, as
spans of days with one answer each, stored so that "which measures were in force on that day"
and "to which measures was it a party on that day" are read from an index instead of the rules
being applied to every measure's events on each request.

**What is stored.** ``StatusSpan`` rows hold the status a measure has from ``starts`` until the
day before ``ends`` (no ``ends``: from then on), in the stored form of ``proposals.derived``
(the value when certain; every possible value as ``,a,b,`` while uncertain). A stretch with no
status at all (before anything happened) has no row. ``ParticipationSpan`` rows do the same for
each actor's participation. The answers are the rules' (``proposals.status``): they change only
on the first day of an event's period and on its last day, from which on it has certainly
happened, so the rules are asked once at each of those days and equal neighbours are merged.
Spans do not depend on today: what changes with the day is which span holds it.

**One door.** Spans are written by ``proposals.derived`` with the stored status, whenever a
write reaches a measure's events, scope, parties or an actor's successor; ``recompute_statuses
--check`` finds spans that differ from the rules' and the daily job rewrites them. No history
and no change-log rows, for the reasons the stored participations have none.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from proposals import status as rules
from proposals.derived import Stored


@dataclass(frozen=True)
class Span:
    """Days ``starts`` to the day before ``ends`` (None: no end) with one stored answer."""

    starts: datetime.date
    ends: datetime.date | None
    value: str
    possible: str


def _stored(answer: rules.Answer[Any]) -> tuple[str, str]:
    stored = Stored.of(answer)
    return stored.value, stored.possible


def _merge(spans: list[Span], day: datetime.date, answer: tuple[str, str]) -> None:
    """Continue the last span when the answer is the same, else close it and open another."""
    if spans and spans[-1].ends is None and (spans[-1].value, spans[-1].possible) == answer:
        return
    if spans and spans[-1].ends is None:
        last = spans[-1]
        spans[-1] = Span(last.starts, day, last.value, last.possible)
    if answer != ("", ""):  # no answer at all: no span
        spans.append(Span(day, None, *answer))


def spans_of(
    facts: Iterable[rules.EventFact],
    measure: rules.MeasureFacts,
    successor_of: dict[str, str],
) -> tuple[list[Span], dict[str, list[Span]]]:
    """The measure's status spans and each actor's participation spans (by actor code)."""
    ordered = sorted(facts, key=lambda fact: fact.date)
    dates = [fact.date for fact in ordered]
    days = sorted(
        {fact.date for fact in ordered}
        | {rules.period_end(fact.date, fact.precision) for fact in ordered}
    )
    status: list[Span] = []
    participations: dict[str, list[Span]] = {}
    for day in days:
        known = ordered[: bisect.bisect_right(dates, day)]
        _merge(
            status,
            day,
            _stored(rules.status_on(known, on=day, measure=measure, successor_of=successor_of)),
        )
        answers = rules.participations_on(known, on=day, measure=measure, successor_of=successor_of)
        for code in answers.keys() | participations.keys():
            answer = answers.get(code)
            _merge(
                participations.setdefault(code, []),
                day,
                _stored(answer) if answer is not None else ("", ""),
            )
    return status, {code: spans for code, spans in participations.items() if spans}
