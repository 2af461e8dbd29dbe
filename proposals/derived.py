"""Derived state with one door: a measure's stored status and its stored participations always
equal what ``proposals.status`` derives from its events, its scope and its named parties (and the
actors' successors), and its stored involvement what its events, positions and named parties
say, whatever wrote the rows.

**What is stored.** ``Measure.status`` holds today's status when it is certain (empty before the
measure existed or while it is uncertain); ``Measure.status_possible`` holds every value it may
have today, as ``,in_force,terminated,``, while it is uncertain (empty otherwise; ``none`` stands
for "did not exist yet"). ``MeasureParticipation`` holds one row per actor that has a
participation in the measure today, certain or not, in the same form: ``participation`` when
certain, else empty with every possible value in ``possible`` (``,none,party,``: maybe no
participation yet, maybe a party), and the ``basis`` the answer rests on. So a participation that
is uncertain today is never stored as certain: the ``party`` filter matches it only as a
possibility, as it matches an uncertain status. Stances are not stored: they are derived on read.
``MeasureInvolvement`` holds one row per actor that acted on the measure (an event), took a
position on it or is a named party of it, at any date: it does not depend on the day, nor on
successors (the ``actor`` filter names an actor, not its lineage).

**No history for participations and involvement.** Unlike the status, a column of the measure
recorded with it, participation and involvement rows get no audit-history and no change-log
rows: each is a function of rows that have both (events, positions, the measure's scope and
parties, actors' successors) and, for participations, of the day. The change feed already lists
every write that changed one, a history of the copy would record the same change twice (and
could disagree with it), and a past participation is asked with ``as_of``, which derives it from
the events as they stood.

**Why hooks at the model layer, not only the services.** Derived state can go stale through any
write to an event (its date, kind, actor, precision or measure), to a measure's scope or parties,
or to an actor's successor, and such writes come from the API, the admin (forms, inlines, bulk
delete, history revert), the dataset import, management commands and a shell. The services are
one way in among several: the admin's history revert and a plain ``event.save()`` never pass
through them. So the invariant is kept where every ORM write passes: ``post_save`` /
``post_delete`` of events, positions, measures and named parties (an explicit ``MeasureParty``
model: Django sends no signal for its hidden many-to-many rows), an actor's save, and the bulk
paths that send no signal (``QuerySet.update``, ``bulk_create``, ``bulk_update`` on events,
positions, measures, parties and actors' successors, overridden in their QuerySets to call
``rederive``; ``models.MeasureRowQuerySet`` for the rows of a measure). Each hook only names the
measures to look at again; ``rederive`` is the single function that computes and stores, in the
writer's transaction, so a reader never sees the new events with the old status or
participations. It locks the measures before it reads their events, so of two writers of one
measure the second derives from what the first committed. The writer's author
(``_history_user``, else the request's user) is kept on the measure's history row.

A position changes no status and no participation, only who is involved: its hooks ask
``rederive(..., involvement_only=True)``, which locks the measures and stores their involvement
alone (two reads, and a write only when an actor comes or goes), and only when the position is
new, gone, or moved to another measure or actor; a changed stance, date or quote costs nothing
but the read of what the position was.

Writers of many rows (a measure with its events, an import) open ``deferred()``: the hooks then
collect measure ids and ``rederive`` runs once per measure when the block ends, still inside
the transaction.

What the hooks cannot see is raw SQL. ``manage.py recompute_statuses --check`` finds any
measure whose stored status, participations or involvement differ from the derived ones (for
operators and CI) and the daily job rewrites them; the daily job also lets dated events take
effect when their day comes. Until it has run on a given day, what is stored is the answer of
the day it last ran for the measures no write has touched since.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import astuple, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from proposals import status as rules


@dataclass
class _Pending:
    """What ``deferred()`` collected: measures to derive whole, with their writer's author, and
    measures whose involvement alone may have changed (their positions)."""

    authors: dict[int, Any] = field(default_factory=dict)
    involvement: set[int] = field(default_factory=set)


_pending: ContextVar[_Pending | None] = ContextVar("pending_rederive", default=None)
_writing: ContextVar[bool] = ContextVar("rederive_writing", default=False)

# The measure's fields that rederive writes: a save of only these is rederive's own.
DERIVED_FIELDS = frozenset({"status", "status_possible", "status_computed_on", "updated_at"})


@dataclass(frozen=True)
class Stored:
    """The stored form of an answer: its value when certain (empty when that value is "none
    yet"), else every value it may have as ``,a,b,`` (``none`` among them); participations also
    keep the basis they rest on (empty: none)."""

    value: str
    possible: str
    basis: str = ""

    @classmethod
    def of(cls, answer: rules.Answer[Any], *, with_basis: bool = False) -> Stored:
        basis = (answer.basis or "") if with_basis else ""
        if answer.certain:
            return cls(str(answer.value) if answer.value else "", "", basis)
        values = ",".join(str(value) if value else "none" for value in answer.possible)
        return cls("", f",{values},", basis)

    def answer(self) -> rules.Answer[str]:
        """The answer this stands for, as the rules gave it."""
        if not self.possible:
            return rules.Answer((self.value or None,), self.basis or None)
        values = self.possible.strip(",").split(",")
        return rules.Answer(
            tuple(None if value == "none" else value for value in values), self.basis or None
        )


NO_STATUS: rules.Answer[rules.MeasureStatus] = rules.Answer((None,))


@dataclass(frozen=True)
class Derived:
    """What the rules derive for one measure on one day."""

    status: rules.Answer[rules.MeasureStatus]
    participations: dict[str, rules.Answer[rules.Participation]]


def derive(
    measure_ids: Iterable[int] | None = None, *, on: datetime.date | None = None
) -> tuple[dict[int, Derived], dict[str, int]]:
    """``{measure id: its status and participations on ``on``}`` for the given measures (all
    when ``None``), and ``{actor code: actor id}``, from four queries whatever their number."""
    return _derive(Inputs.read(measure_ids), on=on or timezone.localdate())


@dataclass
class Inputs:
    """What the rules read of some measures (``rule_inputs``) and of the actors."""

    measures: dict[int, tuple[list[rules.EventFact], rules.MeasureFacts]]
    successor_of: dict[str, str]
    actor_ids: dict[str, int]

    @classmethod
    def read(cls, measure_ids: Iterable[int] | None) -> Inputs:
        from proposals.models import Actor, rule_inputs

        measures = rule_inputs(measure_ids)
        # Read after the events: every code they name is here (an actor with events cannot go).
        successor_of: dict[str, str] = {}
        actor_ids: dict[str, int] = {}
        for pk, code, successor in Actor.objects.values_list("pk", "code", "successor__code"):
            actor_ids[code] = pk
            if successor:
                successor_of[code] = successor
        return cls(measures, successor_of, actor_ids)


def _derive(inputs: Inputs, *, on: datetime.date) -> tuple[dict[int, Derived], dict[str, int]]:
    successor_of = inputs.successor_of
    result = {
        measure_id: Derived(
            rules.status_on(facts, on=on, measure=measure, successor_of=successor_of),
            rules.participations_on(facts, on=on, measure=measure, successor_of=successor_of),
        )
        for measure_id, (facts, measure) in inputs.measures.items()
    }
    return result, inputs.actor_ids


def derived_statuses(
    measure_ids: Iterable[int] | None = None, *, on: datetime.date | None = None
) -> dict[int, rules.Answer[rules.MeasureStatus]]:
    """``{measure id: status answer on ``on``}`` for the given measures (all when ``None``)."""
    return {pk: found.status for pk, found in derive(measure_ids, on=on)[0].items()}


def rederive(
    measure_ids: Iterable[int],
    *,
    author: Any = None,
    on: datetime.date | None = None,
    involvement_only: bool = False,
) -> int:
    """Store the derived status, participations and involvement of these measures; return how
    many measures changed (any of the three). ``involvement_only``: the writer changed only
    what involvement reads (positions), so only that is stored.

    Inside ``deferred()`` this only notes the ids. A measure whose status is unchanged gets no
    history row and keeps its ``updated_at``.
    """
    ids = {int(pk) for pk in measure_ids if pk is not None}
    pending = _pending.get()
    if pending is not None:
        if involvement_only:
            pending.involvement |= ids
            return 0
        for pk in ids:
            if author is not None or pk not in pending.authors:
                pending.authors[pk] = author
        return 0
    if not ids:
        return 0
    if involvement_only:
        return _store_involvement_only(ids)
    return _store(ids, authors=dict.fromkeys(ids, author), on=on or timezone.localdate())


def rederive_succession(actor_ids: Iterable[int | None], *, author: Any = None) -> int:
    """After these actors' successors changed: every measure on which an actor linked to them by
    succession (their predecessors and successors, however far) acted or is a named party."""
    from proposals.models import Actor, Event, MeasureParty

    linked = {int(pk) for pk in actor_ids if pk is not None}
    links = list(Actor.objects.filter(successor__isnull=False).values_list("pk", "successor_id"))
    grew = bool(linked)
    while grew:
        before = len(linked)
        for old, new in links:
            if old in linked or new in linked:
                linked |= {old, new}
        grew = len(linked) != before
    if not linked:
        return 0
    acted = Event.objects.filter(actor_id__in=linked).values_list("measure_id", flat=True)
    named = MeasureParty.objects.filter(actor_id__in=linked).values_list("measure_id", flat=True)
    return rederive(set(acted.distinct()) | set(named), author=author)


def rederive_all(*, on: datetime.date | None = None) -> int:
    """Every measure (the daily job); returns how many changed."""
    from proposals.models import Measure

    ids = list(Measure.objects.order_by("pk").values_list("pk", flat=True))
    changed = 0
    for start in range(0, len(ids), 500):
        changed += _store(set(ids[start : start + 500]), authors={}, on=on or timezone.localdate())
    return changed


def involvement(measure_ids: Iterable[int] | None = None) -> set[tuple[int, int]]:
    """``{(measure id, actor id)}`` of every actor that acted on (an event), took a position on
    or is a named party of these measures (all when ``None``), at any date: one query."""
    from proposals.models import Event, MeasureParty, Position

    sources: list[Any] = [
        Event.objects.filter(actor__isnull=False),
        Position.objects.all(),
        MeasureParty.objects.all(),
    ]
    if measure_ids is not None:
        ids = list(measure_ids)
        sources = [rows.filter(measure_id__in=ids) for rows in sources]
    first, *others = (rows.order_by().values_list("measure_id", "actor_id") for rows in sources)
    return set(first.union(*others))  # UNION: each pair once


# How involvement is shown by the drift check: an actor involved, or not.
INVOLVED, NOT_INVOLVED = Stored("involved", ""), Stored("", "")


@dataclass
class Drift:
    """What is stored and differs from what the rules derive, as ``(label, stored, derived)``:
    statuses labelled by the measure's slug, participations by ``slug, participation of CODE``,
    involvement by ``slug, involvement of CODE`` (``INVOLVED`` or ``NOT_INVOLVED``)."""

    statuses: list[tuple[str, Stored, Stored]]
    participations: list[tuple[str, Stored, Stored]]
    involvement: list[tuple[str, Stored, Stored]]
    # Measures whose spans over time (``proposals.spans``) differ, each as its rows (stored,
    # derived) written out in the ``value`` of a ``Stored``.
    spans: list[tuple[str, Stored, Stored]] = field(default_factory=list)


def drift(*, on: datetime.date | None = None) -> Drift:
    """Every stored status, participation and involvement that is not the derived one."""
    from proposals.models import Measure, MeasureInvolvement, MeasureParticipation

    inputs = Inputs.read(None)
    found, actor_ids = _derive(inputs, on=on or timezone.localdate())
    codes = {pk: code for code, pk in actor_ids.items()}
    statuses = []
    slugs = {}
    for pk, slug, status, possible in Measure.objects.order_by("slug").values_list(
        "pk", "slug", "status", "status_possible"
    ):
        slugs[pk] = slug
        want = Stored.of(found[pk].status if pk in found else NO_STATUS)
        have = Stored(status, possible)
        if have != want:
            statuses.append((slug, have, want))
    wanted = {
        (pk, code): Stored.of(answer, with_basis=True)
        for pk, result in found.items()
        for code, answer in result.participations.items()
    }
    rows = MeasureParticipation.objects.values_list(
        "measure_id", "actor_id", "participation", "possible", "basis"
    )
    stored = {
        (measure_id, codes.get(actor_id, str(actor_id))): Stored(*values)
        for measure_id, actor_id, *values in rows
    }
    nothing = Stored("", ",none,")  # shown as "no participation"
    participations = [
        (
            f"{slugs.get(measure_id, measure_id)}, participation of {code}",
            stored.get((measure_id, code), nothing),
            wanted.get((measure_id, code), nothing),
        )
        for measure_id, code in stored.keys() | wanted.keys()
        if stored.get((measure_id, code)) != wanted.get((measure_id, code))
    ]
    stored_pairs = set(MeasureInvolvement.objects.values_list("measure_id", "actor_id"))
    wanted_pairs = involvement()
    involved = [
        (
            f"{slugs.get(measure_id, measure_id)}, involvement of "
            f"{codes.get(actor_id, str(actor_id))}",
            INVOLVED if (measure_id, actor_id) in stored_pairs else NOT_INVOLVED,
            INVOLVED if (measure_id, actor_id) in wanted_pairs else NOT_INVOLVED,
        )
        for measure_id, actor_id in stored_pairs ^ wanted_pairs
    ]
    return Drift(
        statuses,
        sorted(participations, key=lambda item: item[0]),
        sorted(involved, key=lambda item: item[0]),
        _spans_drift(inputs, slugs, codes),
    )


def _spans_drift(
    inputs: Inputs, slugs: dict[int, str], codes: dict[int, str]
) -> list[tuple[str, Stored, Stored]]:
    wanted = wanted_spans(inputs)
    stored = set(stored_spans(None))

    def written(rows: set[tuple[Any, ...]], measure: int) -> Stored:
        text = "; ".join(
            f"{'status' if actor is None else codes.get(actor, actor)} "
            f"{value or possible} from {starts} to {ends or 'now'}"
            for m, actor, starts, ends, value, possible in sorted(rows, key=str)
            if m == measure
        )
        return Stored(text or "no spans", "")

    differing = {row[0] for row in wanted ^ stored}
    return [
        (
            f"{slugs.get(measure, measure)}, answers over time",
            written(stored, measure),
            written(wanted, measure),
        )
        for measure in sorted(differing, key=lambda pk: str(slugs.get(pk, pk)))
    ]


def drifted(*, on: datetime.date | None = None) -> list[tuple[str, Stored, Stored]]:
    """Measures whose stored status, participations or involvement are not the derived ones:
    ``(label, stored, derived)``, statuses first (see ``Drift``)."""
    found = drift(on=on)
    return found.statuses + found.participations + found.involvement + found.spans


@transaction.atomic
def _store(ids: set[int], *, authors: dict[int, Any], on: datetime.date) -> int:
    from proposals.models import Measure

    changed: set[int] = set()
    bookkeeping = []
    token = _writing.set(True)
    try:
        # Locked before their events are read: a second writer of a measure waits here, then
        # derives from what the first one committed.
        measures = list(Measure.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        if not measures:
            return 0
        inputs = Inputs.read([measure.pk for measure in measures])
        found, actor_ids = _derive(inputs, on=on)
        for measure in measures:
            want = Stored.of(found[measure.pk].status if measure.pk in found else NO_STATUS)
            if Stored(measure.status, measure.status_possible) == want:
                if measure.status_computed_on != on:
                    bookkeeping.append(measure.pk)
                continue
            measure.status, measure.status_possible = want.value, want.possible
            measure.status_computed_on = on
            if authors.get(measure.pk) is not None:
                measure._history_user = authors[measure.pk]  # type: ignore[attr-defined]
            measure.save(update_fields=["status", "status_possible", "status_computed_on"])
            changed.add(measure.pk)
        if bookkeeping:
            # Not a content change: no history row, no updated_at.
            Measure.objects.filter(pk__in=bookkeeping).update(status_computed_on=on)
        changed |= _store_participations(found, actor_ids)
        changed |= _store_involvement([measure.pk for measure in measures])
        _store_spans(inputs)
    finally:
        _writing.reset(token)
    return len(changed)


def _store_involvement_only(ids: set[int]) -> int:
    from proposals.models import Measure

    # No savepoint: it runs inside its writer's transaction, which a failure undoes whole.
    with transaction.atomic(savepoint=False):
        # Locked as in _store: of two writers of a measure's positions, the second reads what
        # the first committed.
        locked = Measure.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        return len(_store_involvement(list(locked.values_list("pk", flat=True))))


def _store_involvement(measure_ids: list[int]) -> set[int]:
    """Make the measures' involvement rows the derived ones; return the measures changed."""
    from proposals.models import MeasureInvolvement

    if not measure_ids:
        return set()
    wanted = involvement(measure_ids)
    rows = MeasureInvolvement.objects.filter(measure_id__in=measure_ids)
    stored = {
        (measure_id, actor_id): pk
        for pk, measure_id, actor_id in rows.values_list("pk", "measure_id", "actor_id")
    }
    gone = [pk for pair, pk in stored.items() if pair not in wanted]
    if gone:
        MeasureInvolvement.objects.filter(pk__in=gone).delete()
    new = wanted - stored.keys()
    if new:
        MeasureInvolvement.objects.bulk_create(
            MeasureInvolvement(measure_id=measure_id, actor_id=actor_id)
            for measure_id, actor_id in sorted(new)
        )
    return {measure_id for measure_id, _ in wanted ^ stored.keys()}


def _store_participations(found: dict[int, Derived], actor_ids: dict[str, int]) -> set[int]:
    """Make the measures' participation rows the derived ones; return the measures changed."""
    from proposals.models import MeasureParticipation

    wanted = {
        (measure_id, actor_ids[code]): Stored.of(answer, with_basis=True)
        for measure_id, result in found.items()
        for code, answer in result.participations.items()
    }
    rows = MeasureParticipation.objects.filter(measure_id__in=list(found)).values_list(
        "pk", "measure_id", "actor_id", "participation", "possible", "basis"
    )
    stored = {(measure, actor): (pk, Stored(*values)) for pk, measure, actor, *values in rows}
    gone = [pk for key, (pk, _) in stored.items() if key not in wanted]
    new, moved = [], []
    for (measure_id, actor_id), want in wanted.items():
        row = MeasureParticipation(
            measure_id=measure_id,
            actor_id=actor_id,
            participation=want.value,
            possible=want.possible,
            basis=want.basis,
        )
        if (measure_id, actor_id) not in stored:
            new.append(row)
        elif stored[measure_id, actor_id][1] != want:
            row.pk = stored[measure_id, actor_id][0]
            moved.append(row)
    if gone:
        MeasureParticipation.objects.filter(pk__in=gone).delete()
    if new:
        MeasureParticipation.objects.bulk_create(new)
    if moved:
        MeasureParticipation.objects.bulk_update(moved, ["participation", "possible", "basis"])
    changed = {measure_id for measure_id, _ in wanted.keys() ^ stored.keys()}
    return changed | {row.measure_id for row in moved}


def wanted_spans(inputs: Inputs) -> set[tuple[Any, ...]]:
    """The status and participation spans the rules give these measures, as rows:
    ``(measure, None, starts, ends, value, possible)`` for a status, the actor's id in place of
    ``None`` for a participation."""
    # Not at the top: spans reads the stored form (``Stored``) from here.
    from proposals.spans import spans_of

    rows: set[tuple[Any, ...]] = set()
    for measure_id, (facts, measure) in inputs.measures.items():
        status, participations = spans_of(facts, measure, inputs.successor_of)
        rows |= {(measure_id, None, *astuple(span)) for span in status}
        rows |= {
            (measure_id, inputs.actor_ids[code], *astuple(span))
            for code, actor_spans in participations.items()
            for span in actor_spans
        }
    return rows


def stored_spans(measure_ids: Iterable[int] | None) -> dict[tuple[Any, ...], int]:
    """The stored spans of these measures (all when None) as rows like ``wanted_spans``'s, with
    their ids."""
    from proposals.models import ParticipationSpan, StatusSpan

    statuses = StatusSpan.objects.all()
    participations = ParticipationSpan.objects.all()
    if measure_ids is not None:
        ids = list(measure_ids)
        statuses = statuses.filter(measure_id__in=ids)
        participations = participations.filter(measure_id__in=ids)
    rows: dict[tuple[Any, ...], int] = {}
    for pk, measure, *rest in statuses.values_list(
        "pk", "measure_id", "starts", "ends", "status", "possible"
    ):
        rows[(measure, None, *rest)] = pk
    for pk, *row in participations.values_list(
        "pk", "measure_id", "actor_id", "starts", "ends", "participation", "possible"
    ):
        rows[tuple(row)] = pk
    return rows


def _store_spans(inputs: Inputs) -> None:
    """Make the measures' spans the derived ones: delete what is no longer wanted, add what is
    missing (a span is never updated in place)."""
    from proposals.models import ParticipationSpan, StatusSpan

    wanted = wanted_spans(inputs)
    stored = stored_spans(inputs.measures)
    gone = [(pk, row[1] is None) for row, pk in stored.items() if row not in wanted]
    if statuses_gone := [pk for pk, is_status in gone if is_status]:
        StatusSpan.objects.filter(pk__in=statuses_gone).delete()
    if participations_gone := [pk for pk, is_status in gone if not is_status]:
        ParticipationSpan.objects.filter(pk__in=participations_gone).delete()
    new = [row for row in wanted if row not in stored]
    StatusSpan.objects.bulk_create(
        StatusSpan(measure_id=m, starts=a, ends=b, status=v, possible=p)
        for m, actor, a, b, v, p in new
        if actor is None
    )
    ParticipationSpan.objects.bulk_create(
        ParticipationSpan(
            measure_id=m, actor_id=actor, starts=a, ends=b, participation=v, possible=p
        )
        for m, actor, a, b, v, p in new
        if actor is not None
    )


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Collect the measures to rederive and do each once when the outermost block ends."""
    if _pending.get() is not None:
        yield
        return
    pending = _Pending()
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if pending.authors:
        _store(set(pending.authors), authors=pending.authors, on=timezone.localdate())
    # The measures derived whole above have their involvement stored already.
    if only_involvement := pending.involvement - pending.authors.keys():
        _store_involvement_only(only_involvement)


# --- the hooks ----------------------------------------------------------------------------------


def _author_of(instance: Any) -> Any:
    return getattr(instance, "_history_user", None)


def _event_pre_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A moved event leaves a measure behind, which must be looked at again too.
    instance._measure_before = None
    if instance.pk is not None and not kwargs.get("raw"):
        instance._measure_before = (
            sender._base_manager.filter(pk=instance.pk).values_list("measure_id", flat=True).first()
        )


def _event_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    ids = {instance.measure_id, getattr(instance, "_measure_before", None)}
    rederive(ids, author=_author_of(instance))


def _deleted_with_its_measure(kwargs: dict[str, Any]) -> bool:
    from proposals.models import Measure

    origin = kwargs.get("origin")
    return isinstance(origin, Measure) or getattr(origin, "model", None) is Measure


def _event_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if _deleted_with_its_measure(kwargs):
        return  # the measure itself is being deleted with its events
    rederive({instance.measure_id}, author=_author_of(instance))


def _position_pre_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Only a position new or moved to another measure or actor changes who is involved; a
    # moved one leaves a measure behind, which must be looked at again too.
    instance._involved_before = None
    if instance.pk is not None and not kwargs.get("raw"):
        instance._involved_before = (
            sender._base_manager.filter(pk=instance.pk)
            .values_list("measure_id", "actor_id")
            .first()
        )


def _position_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    before = getattr(instance, "_involved_before", None)
    if not kwargs.get("created") and before == (instance.measure_id, instance.actor_id):
        return  # its stance, date or words changed: nobody came or went
    left = {before[0]} if before else set()
    rederive({instance.measure_id} | left, involvement_only=True)


def _position_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if _deleted_with_its_measure(kwargs):
        return  # the measure itself is being deleted with its positions
    rederive({instance.measure_id}, involvement_only=True)


def _measure_pre_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A measure read before its events changed carries a stale status; saving it whole would
    # write that back (and record it in the history). Its derived fields are the stored ones.
    if _writing.get() or instance.pk is None or kwargs.get("raw"):
        return
    stored = (
        sender._base_manager.filter(pk=instance.pk)
        .values("status", "status_possible", "status_computed_on")
        .first()
    )
    for name, value in (stored or {}).items():
        setattr(instance, name, value)


def _measure_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if _writing.get() or (update_fields and set(update_fields) <= DERIVED_FIELDS):
        return
    # Its scope may have changed: look again.
    rederive({instance.pk}, author=_author_of(instance))


def _party_row_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if _deleted_with_its_measure(kwargs):
        # Its involvement rows are gone already; storing them again from the positions not
        # yet deleted would stop the measure's own deletion.
        return
    rederive({instance.measure_id})


def _actor_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if kwargs.get("created") or (update_fields is not None and "successor" not in update_fields):
        return
    # A new successor carries on the actor's participation (and acts for it as a party).
    rederive_succession({instance.pk, instance.successor_id}, author=_author_of(instance))


def connect() -> None:
    """Called once from the app config."""
    from proposals.models import Actor, Event, Measure, MeasureParty, Position

    pre_save.connect(_event_pre_save, sender=Event, dispatch_uid="derived-event-pre")
    post_save.connect(_event_saved, sender=Event, dispatch_uid="derived-event-saved")
    post_delete.connect(_event_deleted, sender=Event, dispatch_uid="derived-event-deleted")
    pre_save.connect(_position_pre_save, sender=Position, dispatch_uid="derived-position-pre")
    post_save.connect(_position_saved, sender=Position, dispatch_uid="derived-position-saved")
    post_delete.connect(_position_deleted, sender=Position, dispatch_uid="derived-position-deleted")
    pre_save.connect(_measure_pre_save, sender=Measure, dispatch_uid="derived-measure-pre")
    post_save.connect(_measure_saved, sender=Measure, dispatch_uid="derived-measure-saved")
    # Adding parties bulk-creates rows (MeasurePartyQuerySet); removing them deletes rows.
    post_save.connect(_party_row_changed, sender=MeasureParty, dispatch_uid="derived-party-saved")
    post_delete.connect(
        _party_row_changed, sender=MeasureParty, dispatch_uid="derived-party-deleted"
    )
    post_save.connect(_actor_saved, sender=Actor, dispatch_uid="derived-actor-saved")
