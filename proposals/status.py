"""Status rules: what a measure's status, an actor's participation and an actor's stance were on
a given day, and how sure that answer is.

Nothing here is typed by a curator; everything is derived from dated events and positions. The
rules, which the API documentation repeats for clients:

**Which events count on day D.** An event recorded to the day counts from that day. An event
recorded only to the month or year happened on some day of its period: it certainly counts once
its period has ended (on the last day of the month or year and after), certainly does not before
the period begins, and *may* count on a day inside the period. An event dated after today (a
scheduled expiry) takes effect when its date arrives.

**Uncertain answers.** On a day inside the period of one or more such events, every combination
of them having happened yet or not is worked out; if the answers differ, the answer is
*uncertain* and is given as the set of possible values (``None`` among them meaning "did not
exist yet" / "no participation"), never as one of them. When the combinations all agree, the
answer is certain. (Beyond ten such events on one day, only the combinations "none", "all",
each one alone and all but each one are worked out.)

**Order.** Events are applied oldest first, a coarse event at the start of its period; events on
the same day are applied in the order of ``KIND_ORDER`` below (so "entered into force" precedes
"suspended", and "withdrew" precedes "terminated"), then in the order they were recorded.

**Measure status** comes from measure-wide events (events with no actor), except that a
``proposed`` event counts whoever made the proposal:

==========================================  ==============
event                                       status becomes
==========================================  ==============
proposed                                    proposed (only while nothing later has happened)
signed                                      signed (unless already in force or later)
entered_into_force, implemented, subscribed in_force
suspended                                   suspended
resumed                                     what it was before the suspension (in force)
rejected                                    rejected
expired                                     expired
terminated                                  terminated
anything else                               unchanged
==========================================  ==============

On a **bilateral** measure, a named party's own act also reaches the measure: its ``withdrew``
or ``declared_not_bound`` terminates the measure, its ``suspended`` suspends it and its
``resumed`` restores what the suspension interrupted — each on the act's date, and unless a
later event of the measure says otherwise. A plurilateral or multilateral measure continues
when parties leave. A party's successor acts for it (Russia for the Soviet Union).

A measure with no counting event on D has no status on D (``None``): it did not exist yet.

**Participation** of an actor comes from the events of that actor and of the actors it succeeded
(Russia carries on the Soviet Union's treaties): ``signed`` → signatory; ``ratified``,
``acceded``, ``subscribed``, ``entered_into_force`` → party; ``suspended`` → suspended;
``resumed`` → party; ``withdrew``, ``declared_not_bound`` → withdrawn. A notice of withdrawal
changes nothing until the withdrawal takes effect. The measure's own (measure-wide) events reach
its **named parties**: ``signed`` makes each of them a signatory and ``entered_into_force``,
``implemented`` or ``subscribed`` a party, unless its own events already say more (an actor
that ratified stays a party; one that withdrew stays withdrawn). When the measure itself has
terminated or expired, a signatory, party or suspended participant becomes ``ended``.

**Stance.** An actor's stance on D is that of its latest position counting on D (the same
counting rules: a position dated to the month may or may not have been taken yet inside its
month). Possible stances are each uncertain position's and that of the latest certain one
(``None``: no position yet).

**Basis.** Every answer says how well it is sourced: the weakest ``certainty``
(``confirmed`` > ``reported`` > ``disputed``) of the events or positions it rests on (the ones
that set the value, in every combination considered).
"""

from __future__ import annotations

import calendar
import datetime
import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar


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


# Weakest first: an answer is as well sourced as the weakest fact it rests on.
CERTAINTIES = ("disputed", "reported", "confirmed")
_CERTAINTY_RANK = {value: index for index, value in enumerate(CERTAINTIES)}

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
_FINAL = _ENDED | {MeasureStatus.REJECTED}
_EXITS = {"withdrew", "declared_not_bound"}
_IN_FORCE_KINDS = {"entered_into_force", "implemented", "subscribed"}

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

# Beyond this many coarse events open on one day, only some combinations are worked out.
MAX_OPEN = 10


def period_end(date: datetime.date, precision: str) -> datetime.date:
    """The last day a date of this precision may stand for: 1988-06-01 "month" → 1988-06-30."""
    if precision == "month":
        return date.replace(day=calendar.monthrange(date.year, date.month)[1])
    if precision == "year":
        return date.replace(month=12, day=31)
    return date


@dataclass(frozen=True)
class EventFact:
    """The part of an event the rules read."""

    kind: str
    date: datetime.date
    actor_code: str | None = None
    sequence: int = 0  # the event's id: a stable tie-break for same-day, same-kind events
    precision: str = "day"
    certainty: str = "confirmed"


@dataclass(frozen=True)
class PositionFact:
    """The part of a position the rules read."""

    stance: str
    date: datetime.date
    sequence: int = 0
    precision: str = "day"
    certainty: str = "confirmed"


@dataclass(frozen=True)
class MeasureFacts:
    """What the rules read of the measure itself: its scope and its named parties."""

    scope: str = ""
    parties: frozenset[str] = frozenset()


V = TypeVar("V", bound=Hashable)


@dataclass(frozen=True)
class Answer(Generic[V]):
    """A derived value on one day: every value it may have had, and how well it is sourced."""

    possible: tuple[V | None, ...]
    basis: str | None = None  # the weakest certainty it rests on; None when no fact decides it

    @property
    def certain(self) -> bool:
        return len(self.possible) == 1

    @property
    def value(self) -> V | None:
        """The value when certain; ``None`` both before anything happened and when uncertain."""
        return self.possible[0] if self.certain else None

    def may_be(self, wanted: Iterable[object]) -> bool:
        return any(value in wanted for value in self.possible if value is not None)

    def is_certainly(self, wanted: Iterable[object]) -> bool:
        return self.certain and self.value is not None and self.value in set(wanted)

    def as_dict(self, name: str) -> dict[str, object]:
        """The API's shape: ``{name: value or null, certain, possible, basis}``."""
        return {
            name: self.value,
            "certain": self.certain,
            "possible": list(self.possible),
            "basis": self.basis,
        }


Fact = TypeVar("Fact", EventFact, PositionFact)


def _sort_key(fact: EventFact | PositionFact) -> tuple[datetime.date, int, int]:
    rank = _RANK.get(fact.kind, len(_RANK)) if isinstance(fact, EventFact) else 0
    return (fact.date, rank, fact.sequence)


def _split(facts: Iterable[Fact], on: datetime.date) -> tuple[list[Fact], list[Fact]]:
    """(facts that certainly count on ``on``, facts that may count: ``on`` inside their period)."""
    sure: list[Fact] = []
    open_: list[Fact] = []
    for fact in facts:
        if fact.date > on:
            continue
        if period_end(fact.date, fact.precision) <= on:
            sure.append(fact)
        else:
            open_.append(fact)
    return sure, open_


def _combinations(open_: Sequence[Any]) -> Iterator[Sequence[Any]]:
    if len(open_) <= MAX_OPEN:
        for size in range(len(open_) + 1):
            yield from itertools.combinations(open_, size)
        return
    yield ()
    yield tuple(open_)
    for index in range(len(open_)):
        yield (open_[index],)
        yield tuple(open_[:index]) + tuple(open_[index + 1 :])


def _weakest(certainties: Iterable[str | None]) -> str | None:
    known = [c for c in certainties if c is not None]
    return min(known, key=lambda c: _CERTAINTY_RANK.get(c, 0)) if known else None


def _ordered(value: object) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))


def _answers(
    facts: Iterable[Fact],
    on: datetime.date,
    fold: Callable[[list[Fact]], dict[str, tuple[V | None, str | None]]],
) -> dict[str, Answer[V]]:
    """Run ``fold`` (ordered facts → {key: (value, certainty it rests on)}) in every world."""
    split: tuple[list[Any], list[Any]] = _split(facts, on)
    sure, open_ = split
    values: dict[str, set[V | None]] = {}
    bases: dict[str, list[str | None]] = {}
    for worlds, chosen in enumerate(_combinations(open_), start=1):
        world: list[Any] = [*sure, *chosen]  # type: ignore[has-type]
        result = fold(sorted(world, key=_sort_key))
        for key in result.keys() | values.keys():
            value, basis = result.get(key, (None, None))
            if key not in values:
                # Absent from the earlier worlds: there it had no value.
                values[key] = {None} if worlds > 1 else set()
                bases[key] = []
            values[key].add(value)
            bases[key].append(basis)
    return {
        key: Answer(tuple(sorted(found, key=_ordered)), _weakest(bases[key]))
        for key, found in values.items()
    }


# --- measure status ---------------------------------------------------------------------------


def _expanded(codes: Iterable[str], successor_of: dict[str, str]) -> set[str]:
    return {member for code in codes for member in _with_successors(code, successor_of)}


def _status_fold(
    ordered: Iterable[EventFact], measure: MeasureFacts, party_codes: set[str]
) -> tuple[MeasureStatus | None, EventFact | None]:
    """One world: the status after ``ordered`` and the event that set it."""
    status: MeasureStatus | None = None
    decider: EventFact | None = None
    before_suspension: MeasureStatus | None = None
    bilateral = measure.scope == "bilateral"
    for event in ordered:
        new: MeasureStatus | None = None
        if event.kind == "proposed":
            # A proposal made again later does not undo a signature or entry into force.
            new = MeasureStatus.PROPOSED if status is None else None
        elif event.actor_code is None:
            new = _MEASURE_TRANSITIONS.get(event.kind)
            if new is MeasureStatus.SIGNED and status not in (None, MeasureStatus.PROPOSED):
                new = None
        elif bilateral and event.actor_code in party_codes and status not in (None, *_FINAL):
            if event.kind in _EXITS:
                new = MeasureStatus.TERMINATED
            elif event.kind in ("suspended", "resumed"):
                new = _MEASURE_TRANSITIONS[event.kind]
        if new is None:
            continue
        if new is MeasureStatus.SUSPENDED and status is not MeasureStatus.SUSPENDED:
            before_suspension = status
        elif event.kind == "resumed":
            if status is not MeasureStatus.SUSPENDED:
                continue  # nothing to resume
            new = before_suspension or MeasureStatus.IN_FORCE
        status, decider = new, event
    return status, decider


def measure_status(
    events: Iterable[EventFact],
    *,
    on: datetime.date,
    measure: MeasureFacts | None = None,
    successor_of: dict[str, str] | None = None,
) -> MeasureStatus | None:
    """The status on ``on``, taking every event as certain on its stored date. Use
    ``status_on`` for the answer that honours date precision."""
    measure = measure or MeasureFacts()
    party_codes = _expanded(measure.parties, successor_of or {})
    counted = sorted((e for e in events if e.date <= on), key=_sort_key)
    return _status_fold(counted, measure, party_codes)[0]


def status_on(
    events: Iterable[EventFact],
    *,
    on: datetime.date,
    measure: MeasureFacts | None = None,
    successor_of: dict[str, str] | None = None,
) -> Answer[MeasureStatus]:
    """The measure's status on ``on``: certain, or every value it may have had."""
    measure = measure or MeasureFacts()
    party_codes = _expanded(measure.parties, successor_of or {})

    def fold(ordered: list[EventFact]) -> dict[str, tuple[MeasureStatus | None, str | None]]:
        status, decider = _status_fold(ordered, measure, party_codes)
        return {"status": (status, decider.certainty if decider else None)}

    return _answers(events, on, fold).get("status") or Answer((None,))


# --- participation ----------------------------------------------------------------------------


def _participation_fold(
    ordered: list[EventFact],
    measure: MeasureFacts,
    successor_of: dict[str, str],
    party_codes: set[str],
) -> dict[str, tuple[Participation | None, str | None]]:
    result: dict[str, tuple[Participation | None, str | None]] = {}
    named = [_with_successors(code, successor_of) for code in sorted(measure.parties)]
    for event in ordered:
        if event.actor_code is None:
            if event.kind == "signed":
                reaches: tuple[Participation | None, ...] = (None,)
                new = Participation.SIGNATORY
            elif event.kind in _IN_FORCE_KINDS:
                reaches, new = (None, Participation.SIGNATORY), Participation.PARTY
            else:
                continue
            for chain in named:
                for code in chain:
                    if result.get(code, (None, None))[0] in reaches:
                        result[code] = (new, event.certainty)
            continue
        if event.kind not in _PARTICIPATION_TRANSITIONS:
            continue
        for code in _with_successors(event.actor_code, successor_of):
            result[code] = (_PARTICIPATION_TRANSITIONS[event.kind], event.certainty)
    status, decider = _status_fold(ordered, measure, party_codes)
    if status in _ENDED and decider is not None:
        for code, (state, _) in result.items():
            if state is not Participation.WITHDRAWN:
                result[code] = (Participation.ENDED, decider.certainty)
    return result


def participations(
    events: Iterable[EventFact],
    *,
    on: datetime.date,
    successor_of: dict[str, str] | None = None,
    measure: MeasureFacts | None = None,
) -> dict[str, Participation]:
    """Every actor's participation on ``on``, keyed by actor code, taking every event as
    certain on its stored date (``participations_on`` honours date precision).

    ``successor_of`` maps a predecessor's code to its successor's (``{"SUN": "RUS"}``): the
    predecessor's events count as the successor's too, and both appear in the result.
    """
    successor_of = successor_of or {}
    measure = measure or MeasureFacts()
    party_codes = _expanded(measure.parties, successor_of)
    counted = sorted((e for e in events if e.date <= on), key=_sort_key)
    folded = _participation_fold(counted, measure, successor_of, party_codes)
    return {code: state for code, (state, _) in folded.items() if state is not None}


def participations_on(
    events: Iterable[EventFact],
    *,
    on: datetime.date,
    successor_of: dict[str, str] | None = None,
    measure: MeasureFacts | None = None,
) -> dict[str, Answer[Participation]]:
    """Every actor's participation on ``on``: certain, or every value it may have had. Actors
    with no participation in any combination are left out."""
    successor_of = successor_of or {}
    measure = measure or MeasureFacts()
    party_codes = _expanded(measure.parties, successor_of)
    answers = _answers(
        events,
        on,
        lambda ordered: _participation_fold(ordered, measure, successor_of, party_codes),
    )
    return {code: answer for code, answer in sorted(answers.items()) if answer.possible != (None,)}


# --- stance -----------------------------------------------------------------------------------


def current_candidates(
    positions: Iterable[PositionFact], *, on: datetime.date
) -> list[PositionFact | None]:
    """The positions of one actor on one measure that may be its current one on ``on``: the
    latest certainly taken (``None`` when there is none), then every position dated only to a
    month or year whose period holds ``on`` and that would come after it. One item: certain."""
    sure, open_ = _split(positions, on)
    latest = max(sure, key=_sort_key, default=None)
    candidates: list[PositionFact | None] = [latest]
    # A position that may have been taken already wins over the latest certain one only if it
    # comes after it in the order of the rules.
    candidates += [p for p in open_ if latest is None or _sort_key(p) > _sort_key(latest)]
    return candidates


def stance_on(positions: Iterable[PositionFact], *, on: datetime.date) -> Answer[str]:
    """One actor's stance on one measure on ``on``, from that actor's positions on it."""
    candidates = current_candidates(positions, on=on)
    possible = {c.stance if c else None for c in candidates}
    return Answer(
        tuple(sorted(possible, key=_ordered)),
        _weakest(c.certainty for c in candidates if c is not None),
    )


def _with_successors(code: str, successor_of: dict[str, str]) -> list[str]:
    chain = [code]
    seen = {code}
    while (nxt := successor_of.get(chain[-1])) and nxt not in seen:
        chain.append(nxt)
        seen.add(nxt)
    return chain
