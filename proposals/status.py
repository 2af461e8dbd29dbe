"""Status rules: what a measure's status and an actor's participation were on a given day.

Nothing here is typed by a curator; everything is derived from dated events. The rules, which the
API documentation repeats for clients:

**Which events count on day D.** Only events dated on or before D. An event recorded with month
or year precision is stored on the first day of its month or year and counts from that day. An
event dated after today (a scheduled expiry) takes effect when its date arrives.

**Order.** Events are applied oldest first; events on the same day are applied in the order of
``KIND_ORDER`` below (so "entered into force" precedes "suspended", and "withdrew" precedes
"terminated"), then in the order they were recorded.

**Measure status** comes from measure-wide events (events with no actor), except that a
``proposed`` event counts whoever made the proposal:

==========================================  ==============
event                                       status becomes
==========================================  ==============
proposed                                    proposed (only while nothing later has happened)
signed                                      signed (unless already in force or later)
entered_into_force, implemented, subscribed in_force
suspended                                   suspended
resumed                                     in_force
rejected                                    rejected
expired                                     expired
terminated                                  terminated
anything else                               unchanged
==========================================  ==============

A measure with no counting event on D has no status on D (``None``): it did not exist yet.

**Participation** of an actor comes from the events of that actor and of the actors it succeeded
(Russia carries on the Soviet Union's treaties): ``signed`` → signatory; ``ratified``,
``acceded``, ``subscribed``, ``entered_into_force`` → party; ``suspended`` → suspended;
``resumed`` → party; ``withdrew``, ``declared_not_bound`` → withdrawn. A notice of withdrawal
changes nothing until the withdrawal takes effect. When the measure itself has terminated or
expired, a signatory, party or suspended participant becomes ``ended``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class MeasureStatus(StrEnum):
    PROPOSED = "proposed"
    SIGNED = "signed"
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    REJECTED = "rejected"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class Participation(StrEnum):
    SIGNATORY = "signatory"
    PARTY = "party"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    ENDED = "ended"


# Same-day order: the life of a measure runs left to right.
KIND_ORDER = [
    "proposed",
    "signed",
    "ratified",
    "acceded",
    "subscribed",
    "entered_into_force",
    "implemented",
    "amended",
    "extended",
    "incident",
    "resumed",
    "suspended",
    "withdrawal_notified",
    "declared_not_bound",
    "withdrew",
    "rejected",
    "expired",
    "terminated",
]
_RANK = {kind: index for index, kind in enumerate(KIND_ORDER)}

_MEASURE_TRANSITIONS: dict[str, MeasureStatus] = {
    "signed": MeasureStatus.SIGNED,
    "entered_into_force": MeasureStatus.IN_FORCE,
    "implemented": MeasureStatus.IN_FORCE,
    "subscribed": MeasureStatus.IN_FORCE,
    "suspended": MeasureStatus.SUSPENDED,
    "resumed": MeasureStatus.IN_FORCE,
    "rejected": MeasureStatus.REJECTED,
    "expired": MeasureStatus.EXPIRED,
    "terminated": MeasureStatus.TERMINATED,
}
_ENDED = {MeasureStatus.EXPIRED, MeasureStatus.TERMINATED}

_PARTICIPATION_TRANSITIONS: dict[str, Participation] = {
    "signed": Participation.SIGNATORY,
    "ratified": Participation.PARTY,
    "acceded": Participation.PARTY,
    "subscribed": Participation.PARTY,
    "entered_into_force": Participation.PARTY,
    "suspended": Participation.SUSPENDED,
    "resumed": Participation.PARTY,
    "withdrew": Participation.WITHDRAWN,
    "declared_not_bound": Participation.WITHDRAWN,
}


@dataclass(frozen=True)
class EventFact:
    """The part of an event the rules read."""

    kind: str
    date: datetime.date
    actor_code: str | None = None
    sequence: int = 0  # the event's id: a stable tie-break for same-day, same-kind events


def _in_order(events: Iterable[EventFact], on: datetime.date) -> list[EventFact]:
    counted = [event for event in events if event.date <= on]
    counted.sort(key=lambda e: (e.date, _RANK.get(e.kind, len(_RANK)), e.sequence))
    return counted


def measure_status(events: Iterable[EventFact], *, on: datetime.date) -> MeasureStatus | None:
    status: MeasureStatus | None = None
    for event in _in_order(events, on):
        if event.kind == "proposed":
            # A proposal made again later does not undo a signature or entry into force.
            if status is None:
                status = MeasureStatus.PROPOSED
        elif event.actor_code is None and event.kind in _MEASURE_TRANSITIONS:
            new = _MEASURE_TRANSITIONS[event.kind]
            if new is MeasureStatus.SIGNED and status not in (None, MeasureStatus.PROPOSED):
                continue
            status = new
    return status


def participations(
    events: Iterable[EventFact],
    *,
    on: datetime.date,
    successor_of: dict[str, str] | None = None,
) -> dict[str, Participation]:
    """Every actor's participation on ``on``, keyed by actor code.

    ``successor_of`` maps a predecessor's code to its successor's (``{"SUN": "RUS"}``): the
    predecessor's events count as the successor's too, and both appear in the result.
    """
    successor_of = successor_of or {}
    ordered = _in_order(events, on)
    result: dict[str, Participation] = {}
    for event in ordered:
        if event.actor_code is None or event.kind not in _PARTICIPATION_TRANSITIONS:
            continue
        new = _PARTICIPATION_TRANSITIONS[event.kind]
        for code in _with_successors(event.actor_code, successor_of):
            result[code] = new
    if measure_status(ordered, on=on) in _ENDED:
        for code, state in result.items():
            if state is not Participation.WITHDRAWN:
                result[code] = Participation.ENDED
    return result


def _with_successors(code: str, successor_of: dict[str, str]) -> list[str]:
    chain = [code]
    seen = {code}
    while (nxt := successor_of.get(chain[-1])) and nxt not in seen:
        chain.append(nxt)
        seen.add(nxt)
    return chain
