"""Writes that span models or have side effects. Every function is keyword-only and atomic. The
stored status follows the events through ``proposals.derived`` (whatever writes them); the
writes of many rows here open ``derived.deferred()`` so that each measure is looked at once.

The curator writes (``<entity>_create`` / ``_update`` / ``_delete``) share three promises:

- a row is saved only when a value really changed, so ``updated_at`` moves and an audit-history
  row is written only for a real change (a PATCH that repeats the stored values writes nothing);
- every history row names its author (``user``), whether or not a request is in progress;
- invalid data raises ``django.core.exceptions.ValidationError`` keyed by field name (nested
  rows as ``events[2].date``), and nothing is written; a row that repeats an existing one on a
  unique field or constraint raises ``common.writes.Duplicate``, which names that row.

Those steps live in ``common.writes``, shared with the source writes of ``tracker.writes``.

Events and positions take their citations along (``citations``): each item names its source by
``source`` (a ``Source``) or by ``url``, matched by normalized URL or created
(``tracker.writes.sources_for_urls``), in the same transaction as the fact.

Event writes lock the measure they belong to, so a write to a measure and a concurrent write to
one of its events are applied one after the other, never interleaved.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from common import writes
from common.writes import User
from proposals import derived
from proposals.models import Actor, Category, Citation, Event, Measure, Position
from tracker.urlnorm import url_match_key
from tracker.writes import sources_for_urls


@transaction.atomic
def measure_recompute_status(*, measure: Measure, on: datetime.date | None = None) -> bool:
    """Store the status derived from the measure's events. Returns whether it changed."""
    return derived.rederive([measure.pk], on=on) > 0


def measures_recompute_statuses(*, on: datetime.date | None = None) -> int:
    """Recompute every measure (the daily job: scheduled events take effect). Returns changes."""
    return derived.rederive_all(on=on)


# --- curator writes -----------------------------------------------------------------------------

_create, _update, _delete = writes.create, writes.update, writes.delete
_assign, _author = writes.assign, writes.author

CitationItems = Sequence[Mapping[str, Any]]


def _lock(measure: Measure) -> Measure:
    # On PostgreSQL a row lock; SQLite takes its write lock when the transaction begins.
    return Measure.objects.select_for_update().get(pk=measure.pk)


# Measures ---------------------------------------------------------------------------------------


@transaction.atomic
def measure_create(
    *,
    user: User,
    fields: Mapping[str, Any],
    categories: Iterable[str],
    parties: Iterable[Actor] | None = None,
    events: Sequence[Mapping[str, Any]] = (),
    positions: Sequence[Mapping[str, Any]] = (),
) -> Measure:
    """Create a measure with its categories and, optionally, its named parties, events and
    positions (each with its citations)."""
    with derived.deferred():
        measure = _create(Measure, user=user, fields=fields)
        _set_categories(measure, categories, user=user)
        if parties:
            _set_parties(measure, parties, user=user)
        _sync_events(measure, events, user=user)
        _sync_positions(measure, positions, user=user)
    return measure


@transaction.atomic
def measure_update(
    *,
    measure: Measure,
    user: User,
    fields: Mapping[str, Any],
    categories: Iterable[str] | None = None,
    parties: Iterable[Actor] | None = None,
    events: Sequence[Mapping[str, Any]] | None = None,
    positions: Sequence[Mapping[str, Any]] | None = None,
) -> bool:
    """Change what differs. ``parties``, ``events`` and ``positions``, when given, are the
    complete new lists: for events and positions, items with an ``id`` update that row, items
    without one are created, and rows left out are deleted (with their citations). Returns
    whether anything changed."""
    with derived.deferred():
        return _measure_update(
            measure=_lock(measure),
            user=user,
            fields=fields,
            categories=categories,
            parties=parties,
            events=events,
            positions=positions,
        )


def _measure_update(
    *,
    measure: Measure,
    user: User,
    fields: Mapping[str, Any],
    categories: Iterable[str] | None,
    parties: Iterable[Actor] | None,
    events: Sequence[Mapping[str, Any]] | None,
    positions: Sequence[Mapping[str, Any]] | None,
) -> bool:
    new_categories = set(categories) if categories is not None else None
    categories_changed = new_categories is not None and new_categories != set(
        measure.categories.values_list("code", flat=True)
    )
    new_parties = list(parties) if parties is not None else None
    parties_changed = new_parties is not None and {a.pk for a in new_parties} != set(
        measure.parties.values_list("pk", flat=True)
    )
    if categories_changed or parties_changed:
        # One history row for the whole edit: the m2m changes themselves write none, and the
        # save below records the new categories and parties with the other fields.
        measure.skip_history_when_saving = True  # type: ignore[attr-defined]
        try:
            if categories_changed:
                _set_categories(measure, new_categories or set(), user=user)
            if parties_changed:
                _set_parties(measure, new_parties or [], user=user)
        finally:
            del measure.skip_history_when_saving  # type: ignore[attr-defined]
    changed = _assign(measure, fields)
    if changed or categories_changed or parties_changed:
        writes.validated(measure)
        _author(measure, user)
        measure.save(update_fields=[*changed, "updated_at"])
    events_changed = events is not None and _sync_events(measure, events, user=user)
    positions_changed = positions is not None and _sync_positions(measure, positions, user=user)
    return bool(
        changed or categories_changed or parties_changed or events_changed or positions_changed
    )


@transaction.atomic
def measure_delete(*, measure: Measure, user: User) -> None:
    """Delete a measure with its events, positions and citations."""
    _delete(_lock(measure), user=user)


def _set_categories(measure: Measure, codes: Iterable[str], *, user: User) -> None:
    wanted = list(Category.objects.filter(code__in=set(codes)))
    missing = set(codes) - {category.code for category in wanted}
    if missing or not wanted:
        reason = f"Unknown categories: {sorted(missing)}." if missing else "At least one."
        raise ValidationError({"categories": reason})
    _author(measure, user)
    measure.categories.set(wanted)


def _set_parties(measure: Measure, actors: Iterable[Actor], *, user: User) -> None:
    # The named-party rows send the signals the derived status listens to (proposals.derived).
    _author(measure, user)
    measure.parties.set(list(actors))


def _sync_children(
    measure: Measure,
    items: Sequence[Mapping[str, Any]],
    *,
    model: type[Event] | type[Position],
    name: str,
    user: User,
) -> bool:
    existing = {child.pk: child for child in model.objects.filter(measure=measure)}
    listed = {item["id"] for item in items if item.get("id") is not None}
    unknown = listed - existing.keys()
    if unknown:
        raise ValidationError(  # names no row of this measure: the API answers 404
            {
                name: ValidationError(
                    f"Not {name} of this measure: {sorted(unknown)}. Leave out the id to add one.",
                    code="does_not_exist",
                )
            }
        )
    changed = False
    # Deletions first, so a row replaced under the same natural key does not collide with it.
    for pk, child in existing.items():
        if pk not in listed:
            _delete(child, user=user)
            changed = True
    for index, item in enumerate(items):
        fields = {key: value for key, value in item.items() if key not in ("id", "citations")}
        prefix = f"{name}[{index}]"
        if item.get("id") is None:
            child = _create(model, user=user, fields={**fields, "measure": measure}, prefix=prefix)
            changed = True
        else:
            child = existing[item["id"]]
            changed |= _update(child, user=user, fields=fields, prefix=prefix)
        if item.get("citations") is not None:
            changed |= _set_citations(
                child, item["citations"], user=user, prefix=f"{prefix}.citations"
            )
    return changed


def _sync_events(measure: Measure, items: Sequence[Mapping[str, Any]], *, user: User) -> bool:
    return _sync_children(measure, items, model=Event, name="events", user=user)


def _sync_positions(measure: Measure, items: Sequence[Mapping[str, Any]], *, user: User) -> bool:
    return _sync_children(measure, items, model=Position, name="positions", user=user)


# Citations given with their fact ------------------------------------------------------------


def _set_citations(
    fact: Event | Position, items: CitationItems, *, user: User, prefix: str = "citations"
) -> bool:
    """Make ``items`` the complete list of the fact's citations. A citation is known by its
    source and locator (unique per fact): one listed again keeps its row (its quote updated),
    new ones are created together, and the rest are deleted. Returns whether anything changed.

    Queries: the fact's citations, the sources by URL (and one insert of the new ones with
    their history), one insert of the new citations with theirs, and one write per citation
    changed or deleted.
    """
    target = "event" if isinstance(fact, Event) else "position"
    by_url = sources_for_urls(
        urls=[(f"{prefix}[{i}].url", item["url"]) for i, item in enumerate(items) if "url" in item],
        user=user,
    )
    wanted: dict[tuple[int, str], tuple[int, Mapping[str, Any]]] = {}
    for index, item in enumerate(items):
        source = item.get("source") or by_url[url_match_key(item["url"])]
        key = (source.pk, item.get("locator", ""))
        if key in wanted:
            raise ValidationError(
                {f"{prefix}[{index}]": "The same source and locator is listed twice."}
            )
        wanted[key] = (index, {**item, "source": source})
    changed = False
    existing = {(c.source_id, c.locator): c for c in Citation.objects.filter(**{target: fact})}
    for key, citation in existing.items():
        if key not in wanted:
            _delete(citation, user=user)
            changed = True
    new = []
    for key, (index, item) in wanted.items():
        fields = {"quote": item.get("quote", "")}
        if key in existing:
            changed |= _update(existing[key], user=user, fields=fields, prefix=f"{prefix}[{index}]")
            continue
        citation = Citation(source=item["source"], locator=key[1], **fields, **{target: fact})
        # The fact and the sources exist, and the citations are unique per fact by the check
        # above: what is left to check needs no query.
        try:
            citation.full_clean(
                exclude=["source", "measure", "event", "position"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as error:
            raise writes.prefixed(error, f"{prefix}[{index}]") from None
        _author(citation, user)
        new.append(citation)
    if new:
        bulk_create_with_history(new, Citation)
    return changed or bool(new)


# Events: the measures involved are locked; their status follows (proposals.derived). --------


@transaction.atomic
def event_create(
    *, user: User, fields: Mapping[str, Any], citations: CitationItems | None = None
) -> Event:
    measure = _lock(fields["measure"])
    event = _create(Event, user=user, fields={**fields, "measure": measure})
    if citations:
        _set_citations(event, citations, user=user)
    return event


@transaction.atomic
def event_update(
    *,
    event: Event,
    user: User,
    fields: Mapping[str, Any],
    citations: CitationItems | None = None,
) -> bool:
    """``citations``, when given, is the complete new list of the event's citations."""
    before = _lock(event.measure)
    if "measure" in fields and fields["measure"].pk != before.pk:
        _lock(fields["measure"])
    changed = _update(event, user=user, fields=fields)
    if citations is not None:
        changed |= _set_citations(event, citations, user=user)
    return changed


@transaction.atomic
def event_delete(*, event: Event, user: User) -> None:
    _lock(event.measure)
    _delete(event, user=user)


# Positions, actors, citations: plain rows. ------------------------------------------------------


@transaction.atomic
def position_create(
    *, user: User, fields: Mapping[str, Any], citations: CitationItems | None = None
) -> Position:
    position = _create(Position, user=user, fields=fields)
    if citations:
        _set_citations(position, citations, user=user)
    return position


@transaction.atomic
def position_update(
    *,
    position: Position,
    user: User,
    fields: Mapping[str, Any],
    citations: CitationItems | None = None,
) -> bool:
    """``citations``, when given, is the complete new list of the position's citations."""
    changed = _update(position, user=user, fields=fields)
    if citations is not None:
        changed |= _set_citations(position, citations, user=user)
    return changed


@transaction.atomic
def position_delete(*, position: Position, user: User) -> None:
    _delete(position, user=user)


@transaction.atomic
def actor_create(*, user: User, fields: Mapping[str, Any]) -> Actor:
    return _create(Actor, user=user, fields=fields)


@transaction.atomic
def actor_update(*, actor: Actor, user: User, fields: Mapping[str, Any]) -> bool:
    return _update(actor, user=user, fields=fields)


@transaction.atomic
def actor_delete(*, actor: Actor, user: User) -> None:
    """Raises ``ProtectedError`` while events, positions or a successor link refer to it."""
    _delete(actor, user=user)


@transaction.atomic
def citation_create(*, user: User, fields: Mapping[str, Any]) -> Citation:
    return _create(Citation, user=user, fields=fields)


@transaction.atomic
def citation_update(*, citation: Citation, user: User, fields: Mapping[str, Any]) -> bool:
    return _update(citation, user=user, fields=fields)


@transaction.atomic
def citation_delete(*, citation: Citation, user: User) -> None:
    _delete(citation, user=user)
