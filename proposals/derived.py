"""Derived state with one door: a measure's stored status always equals what
``proposals.status`` derives from its events, its scope and its named parties, whatever wrote
the rows.

**What is stored.** ``Measure.status`` holds today's status when it is certain (empty before the
measure existed or while it is uncertain); ``Measure.status_possible`` holds every value it may
have today, as ``,in_force,terminated,``, while it is uncertain (empty otherwise; ``none`` stands
for "did not exist yet"). Participations and stances are not stored: they are derived on read.

**Why hooks at the model layer, not only the services.** A status can go stale through any write
to an event (its date, kind, actor, precision or measure), to a measure's scope or parties, or to
an actor's successor, and such writes come from the API, the admin (forms, inlines, bulk delete,
history revert), the dataset import, management commands and a shell. The services are one way
in among several: the admin's history revert and a plain ``event.save()`` never pass through
them. So the invariant is kept where every ORM write passes: ``post_save`` / ``post_delete``
of events, measures and named parties (an explicit ``MeasureParty`` model: Django sends no
signal for its hidden many-to-many rows), an actor's save, and the bulk paths that send no
signal (``QuerySet.update``, ``bulk_create``, ``bulk_update`` on events, measures and parties,
overridden in their QuerySets to call ``rederive``). Each hook only names the
measures to look at again; ``rederive`` is the single function that computes and stores, in the
writer's transaction, so a reader never sees the new events with the old status. The writer's
author (``_history_user``, else the request's user) is kept on the measure's history row.

Writers of many rows (a measure with its events, an import) open ``deferred()``: the hooks then
collect measure ids and ``rederive`` runs once per measure when the block ends, still inside
the transaction.

What the hooks cannot see is raw SQL. ``manage.py recompute_statuses --check`` finds any
measure whose stored status differs from the derived one (for operators and CI) and the daily
job rewrites them; the daily job also lets dated events take effect when their day comes.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from proposals import status as rules

_pending: ContextVar[dict[int, Any] | None] = ContextVar("pending_rederive", default=None)
_writing: ContextVar[bool] = ContextVar("rederive_writing", default=False)

# The measure's fields that rederive writes: a save of only these is rederive's own.
DERIVED_FIELDS = frozenset({"status", "status_possible", "status_computed_on", "updated_at"})


@dataclass(frozen=True)
class Stored:
    """The stored form of a status answer."""

    status: str
    possible: str

    @classmethod
    def of(cls, answer: rules.Answer[rules.MeasureStatus]) -> Stored:
        if answer.certain:
            return cls(answer.value.value if answer.value else "", "")
        values = ",".join(value.value if value else "none" for value in answer.possible)
        return cls("", f",{values},")


def derived_statuses(
    measure_ids: Iterable[int] | None = None, *, on: datetime.date | None = None
) -> dict[int, rules.Answer[rules.MeasureStatus]]:
    """``{measure id: status answer on ``on``}`` for the given measures (all when ``None``),
    from four queries whatever their number."""
    from proposals.models import Actor, rule_inputs

    on = on or timezone.localdate()
    successor_of = Actor.objects.successor_map()
    return {
        measure_id: rules.status_on(facts, on=on, measure=measure, successor_of=successor_of)
        for measure_id, (facts, measure) in rule_inputs(measure_ids).items()
    }


def rederive(
    measure_ids: Iterable[int], *, author: Any = None, on: datetime.date | None = None
) -> int:
    """Store the derived status of these measures; return how many changed.

    Inside ``deferred()`` this only notes the ids. A measure whose status is unchanged gets no
    history row and keeps its ``updated_at``.
    """
    ids = {int(pk) for pk in measure_ids if pk is not None}
    pending = _pending.get()
    if pending is not None:
        for pk in ids:
            if author is not None or pk not in pending:
                pending[pk] = author
        return 0
    if not ids:
        return 0
    return _store(ids, authors=dict.fromkeys(ids, author), on=on or timezone.localdate())


def rederive_all(*, on: datetime.date | None = None) -> int:
    """Every measure (the daily job); returns how many changed."""
    from proposals.models import Measure

    ids = list(Measure.objects.order_by("pk").values_list("pk", flat=True))
    changed = 0
    for start in range(0, len(ids), 500):
        changed += _store(set(ids[start : start + 500]), authors={}, on=on or timezone.localdate())
    return changed


def drifted(*, on: datetime.date | None = None) -> list[tuple[str, Stored, Stored]]:
    """Measures whose stored status is not the derived one: ``(slug, stored, derived)``."""
    from proposals.models import Measure

    derived = derived_statuses(on=on)
    result = []
    for pk, slug, status, possible in Measure.objects.order_by("slug").values_list(
        "pk", "slug", "status", "status_possible"
    ):
        want = Stored.of(derived.get(pk) or rules.Answer((None,)))
        have = Stored(status, possible)
        if have != want:
            result.append((slug, have, want))
    return result


@transaction.atomic
def _store(ids: set[int], *, authors: dict[int, Any], on: datetime.date) -> int:
    from proposals.models import Measure

    derived = derived_statuses(ids, on=on)
    changed = 0
    bookkeeping = []
    token = _writing.set(True)
    try:
        for measure in Measure.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            want = Stored.of(derived.get(measure.pk) or rules.Answer((None,)))
            if Stored(measure.status, measure.status_possible) == want:
                if measure.status_computed_on != on:
                    bookkeeping.append(measure.pk)
                continue
            measure.status, measure.status_possible = want.status, want.possible
            measure.status_computed_on = on
            if authors.get(measure.pk) is not None:
                measure._history_user = authors[measure.pk]  # type: ignore[attr-defined]
            measure.save(update_fields=["status", "status_possible", "status_computed_on"])
            changed += 1
        if bookkeeping:
            # Not a content change: no history row, no updated_at.
            Measure.objects.filter(pk__in=bookkeeping).update(status_computed_on=on)
    finally:
        _writing.reset(token)
    return changed


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Collect the measures to rederive and do each once when the outermost block ends."""
    if _pending.get() is not None:
        yield
        return
    token = _pending.set({})
    try:
        yield
        pending = _pending.get() or {}
    finally:
        _pending.reset(token)
    if pending:
        _store(set(pending), authors=pending, on=timezone.localdate())


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


def _event_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from proposals.models import Measure

    origin = kwargs.get("origin")
    if isinstance(origin, Measure) or getattr(origin, "model", None) is Measure:
        return  # the measure itself is being deleted with its events
    rederive({instance.measure_id}, author=_author_of(instance))


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
    rederive({instance.measure_id})


def _measures_naming(actor_id: int) -> set[int]:
    from proposals.models import MeasureParty

    return set(MeasureParty.objects.filter(actor_id=actor_id).values_list("measure_id", flat=True))


def _actor_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if kwargs.get("created") or (update_fields is not None and "successor" not in update_fields):
        return
    from proposals.models import Event

    # A new successor carries on the actor's participation (and acts for it as a party).
    actors = {instance.pk, instance.successor_id} - {None}
    ids = set(
        Event.objects.filter(actor_id__in=actors).values_list("measure_id", flat=True).distinct()
    )
    for actor_id in actors:
        ids |= _measures_naming(actor_id)
    rederive(ids, author=_author_of(instance))


def connect() -> None:
    """Called once from the app config."""
    from proposals.models import Actor, Event, Measure, MeasureParty

    pre_save.connect(_event_pre_save, sender=Event, dispatch_uid="derived-event-pre")
    post_save.connect(_event_saved, sender=Event, dispatch_uid="derived-event-saved")
    post_delete.connect(_event_deleted, sender=Event, dispatch_uid="derived-event-deleted")
    pre_save.connect(_measure_pre_save, sender=Measure, dispatch_uid="derived-measure-pre")
    post_save.connect(_measure_saved, sender=Measure, dispatch_uid="derived-measure-saved")
    # Adding parties bulk-creates rows (MeasurePartyQuerySet); removing them deletes rows.
    post_save.connect(_party_row_changed, sender=MeasureParty, dispatch_uid="derived-party-saved")
    post_delete.connect(
        _party_row_changed, sender=MeasureParty, dispatch_uid="derived-party-deleted"
    )
    post_save.connect(_actor_saved, sender=Actor, dispatch_uid="derived-actor-saved")
