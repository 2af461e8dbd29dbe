"""Writes that span models or have side effects. Every function is keyword-only and atomic. The
stored status follows the events through ``proposals.derived`` (whatever writes them); the
writes of many rows here open ``derived.deferred()`` so that each measure is looked at once.

The curator writes (``<entity>_create`` / ``_update`` / ``_delete``) share three promises:

- a row is saved only when a value really changed, so ``updated_at`` moves and an audit-history
  row is written only for a real change (a PATCH that repeats the stored values writes nothing);
- every history row names its author (``user``), whether or not a request is in progress;
- invalid data raises ``django.core.exceptions.ValidationError`` keyed by field name (nested
  rows as ``events[2].date``), and nothing is written.

Event writes lock the measure they belong to, so a write to a measure and a concurrent write to
one of its events are applied one after the other, never interleaved.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from proposals import derived
from proposals.models import Actor, Category, Citation, Event, Measure, Position
from tracker.models import Source, fresh_refresh_state
from tracker.urlnorm import InvalidSourceURL, url_match_key

User = AbstractBaseUser | AnonymousUser | None
M = TypeVar("M", bound=models.Model)


@transaction.atomic
def measure_recompute_status(*, measure: Measure, on: datetime.date | None = None) -> bool:
    """Store the status derived from the measure's events. Returns whether it changed."""
    return derived.rederive([measure.pk], on=on) > 0


def measures_recompute_statuses(*, on: datetime.date | None = None) -> int:
    """Recompute every measure (the daily job: scheduled events take effect). Returns changes."""
    return derived.rederive_all(on=on)


# --- curator writes -----------------------------------------------------------------------------


def _author(obj: models.Model, user: User) -> None:
    # simple-history reads the author from here first; outside a request there is no other way.
    obj._history_user = user if user is not None and user.is_authenticated else None  # type: ignore[attr-defined]


def _validated(obj: models.Model, *, prefix: str = "") -> None:
    try:
        obj.full_clean()
    except ValidationError as error:
        raise _prefixed(error, prefix) from None


def _prefixed(error: ValidationError, prefix: str) -> ValidationError:
    if not prefix:
        return error
    if not hasattr(error, "error_dict"):
        return ValidationError({prefix: error.messages})
    return ValidationError(
        {
            prefix if name == NON_FIELD_ERRORS else f"{prefix}.{name}": messages
            for name, messages in error.message_dict.items()
        }
    )


def _assign(obj: models.Model, values: Mapping[str, Any]) -> list[str]:
    """Set the values that differ from the stored ones; return the names of those fields."""
    changed = []
    for name, value in values.items():
        field = obj._meta.get_field(name)
        if isinstance(field, models.ForeignKey):
            current, new = getattr(obj, field.attname), value.pk if value is not None else None
        else:
            current, new = getattr(obj, name), value
        if current != new:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _create(model: type[M], *, user: User, fields: Mapping[str, Any], prefix: str = "") -> M:
    obj = model(**fields)
    _validated(obj, prefix=prefix)
    _author(obj, user)
    obj.save()
    return obj


def _update(obj: M, *, user: User, fields: Mapping[str, Any], prefix: str = "") -> bool:
    changed = _assign(obj, fields)
    if not changed:
        return False
    _validated(obj, prefix=prefix)
    _author(obj, user)
    obj.save(update_fields=[*changed, "updated_at"])
    return True


def _delete(obj: models.Model, *, user: User) -> None:
    _author(obj, user)
    obj.delete()


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
    events: Sequence[Mapping[str, Any]] = (),
    positions: Sequence[Mapping[str, Any]] = (),
) -> Measure:
    """Create a measure with its categories and, optionally, its events and positions."""
    with derived.deferred():
        measure = _create(Measure, user=user, fields=fields)
        _set_categories(measure, categories, user=user)
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
    events: Sequence[Mapping[str, Any]] | None = None,
    positions: Sequence[Mapping[str, Any]] | None = None,
) -> bool:
    """Change what differs. ``events`` / ``positions``, when given, are the complete new lists:
    items with an ``id`` update that row, items without one are created, and rows left out are
    deleted (with their citations). Returns whether anything changed."""
    with derived.deferred():
        return _measure_update(
            measure=_lock(measure),
            user=user,
            fields=fields,
            categories=categories,
            events=events,
            positions=positions,
        )


def _measure_update(
    *,
    measure: Measure,
    user: User,
    fields: Mapping[str, Any],
    categories: Iterable[str] | None,
    events: Sequence[Mapping[str, Any]] | None,
    positions: Sequence[Mapping[str, Any]] | None,
) -> bool:
    new_categories = set(categories) if categories is not None else None
    categories_changed = new_categories is not None and new_categories != set(
        measure.categories.values_list("code", flat=True)
    )
    if categories_changed:
        # One history row for the whole edit: the m2m change itself writes none, and the save
        # below records the new categories with the other fields.
        measure.skip_history_when_saving = True  # type: ignore[attr-defined]
        try:
            _set_categories(measure, new_categories or set(), user=user)
        finally:
            del measure.skip_history_when_saving  # type: ignore[attr-defined]
    changed = _assign(measure, fields)
    if changed or categories_changed:
        _validated(measure)
        _author(measure, user)
        measure.save(update_fields=[*changed, "updated_at"])
    events_changed = events is not None and _sync_events(measure, events, user=user)
    positions_changed = positions is not None and _sync_positions(measure, positions, user=user)
    return bool(changed or categories_changed or events_changed or positions_changed)


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
        raise ValidationError(
            {name: f"Not {name} of this measure: {sorted(unknown)}. Leave out the id to add one."}
        )
    changed = False
    # Deletions first, so a row replaced under the same natural key does not collide with it.
    for pk, child in existing.items():
        if pk not in listed:
            _delete(child, user=user)
            changed = True
    for index, item in enumerate(items):
        fields = {key: value for key, value in item.items() if key != "id"}
        prefix = f"{name}[{index}]"
        if item.get("id") is None:
            _create(model, user=user, fields={**fields, "measure": measure}, prefix=prefix)
            changed = True
        else:
            changed |= _update(existing[item["id"]], user=user, fields=fields, prefix=prefix)
    return changed


def _sync_events(measure: Measure, items: Sequence[Mapping[str, Any]], *, user: User) -> bool:
    return _sync_children(measure, items, model=Event, name="events", user=user)


def _sync_positions(measure: Measure, items: Sequence[Mapping[str, Any]], *, user: User) -> bool:
    return _sync_children(measure, items, model=Position, name="positions", user=user)


# Events: the measures involved are locked; their status follows (proposals.derived). --------


@transaction.atomic
def event_create(*, user: User, fields: Mapping[str, Any]) -> Event:
    measure = _lock(fields["measure"])
    return _create(Event, user=user, fields={**fields, "measure": measure})


@transaction.atomic
def event_update(*, event: Event, user: User, fields: Mapping[str, Any]) -> bool:
    before = _lock(event.measure)
    if "measure" in fields and fields["measure"].pk != before.pk:
        _lock(fields["measure"])
    return _update(event, user=user, fields=fields)


@transaction.atomic
def event_delete(*, event: Event, user: User) -> None:
    _lock(event.measure)
    _delete(event, user=user)


# Positions, actors, citations, sources: plain rows. -------------------------------------------


@transaction.atomic
def position_create(*, user: User, fields: Mapping[str, Any]) -> Position:
    return _create(Position, user=user, fields=fields)


@transaction.atomic
def position_update(*, position: Position, user: User, fields: Mapping[str, Any]) -> bool:
    return _update(position, user=user, fields=fields)


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


# The curator's fields of a source only: a refresh owns the others (tracker.models).
SOURCE_CURATOR_FIELDS = (
    "url",
    "title",
    "publisher",
    "kind",
    "is_primary",
    "published_on",
    "archived_url",
)


def _curator_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(SOURCE_CURATOR_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Set by the refresh, not by curators."))
    result = dict(fields)
    if "url" in result:
        # The URL is stored as cited; its key goes with it, so a save writes both. A bad URL
        # is left for Source.clean() to reject with its message.
        with contextlib.suppress(InvalidSourceURL):
            result["url_key"] = url_match_key(result["url"])
    return result


@transaction.atomic
def source_create(*, user: User, fields: Mapping[str, Any]) -> Source:
    return _create(Source, user=user, fields=_curator_fields(fields))


@transaction.atomic
def source_update(*, source: Source, user: User, fields: Mapping[str, Any]) -> bool:
    """Write a curator's edit; a new address also resets the refresh state (checked anew, soon).

    Another spelling of the same address (``tracker.urlnorm``) is stored as cited but keeps what
    the refreshes found.
    """
    fields = _curator_fields(fields)
    if "url" in fields and fields.get("url_key") != source.url_key:
        fields.update(fresh_refresh_state())
    return _update(source, user=user, fields=fields)


@transaction.atomic
def source_delete(*, source: Source, user: User) -> None:
    """Raises ``ProtectedError`` while citations refer to it."""
    _delete(source, user=user)
