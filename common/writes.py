"""The steps every curator write shares, whichever app owns the model.

- a row is saved only when a value really changed (``assign``), so ``updated_at`` moves and an
  audit-history row is written only for a real change;
- every history row names its author (``author``), whether or not a request is in progress;
- invalid data raises ``django.core.exceptions.ValidationError`` keyed by field name (nested
  rows as ``events[2].date``), and a row that would repeat an existing one on a unique field or
  constraint raises ``Duplicate``, naming that row.

``proposals.services`` and ``tracker.writes`` build on these; neither app imports the other's
writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import UniqueConstraint, Value

User = AbstractBaseUser | AnonymousUser | None
M = TypeVar("M", bound=models.Model)


class Duplicate(ValidationError):
    """The row would repeat ``existing`` on a unique field or constraint.

    A ``ValidationError`` still, so a caller that only knows those (an import) reports it like
    any other invalid row; the API answers it with 409 and the existing row's address.
    """

    def __init__(self, message: str, *, existing: models.Model) -> None:
        super().__init__(message, code="duplicate")
        self.existing = existing


def author(obj: models.Model, user: User) -> None:
    # simple-history reads the author from here first; outside a request there is no other way.
    obj._history_user = user if user is not None and user.is_authenticated else None  # type: ignore[attr-defined]


def validated(obj: models.Model, *, prefix: str = "") -> None:
    """``full_clean``; a top-level row that only repeats an existing one raises ``Duplicate``.

    Rows nested in a larger write (``prefix``) can only repeat a row of the same document, so
    theirs stays a plain field error of that document.
    """
    try:
        obj.full_clean()
    except ValidationError as error:
        if not prefix:
            duplicate = find_duplicate(obj)
            if duplicate is not None and _only_uniqueness(obj):
                existing, message = duplicate
                # A model's own clean() may say it better (e.g. a source's other spelling).
                own = _unique_messages(error)
                raise Duplicate(own[0] if own else message, existing=existing) from None
        raise prefixed(error, prefix) from None


def _only_uniqueness(obj: models.Model) -> bool:
    """Nothing but a repeat is wrong with ``obj``: the checks other than uniqueness pass, or
    fail only with ``unique`` errors (a model's ``clean()`` that checks a key of its own)."""
    try:
        obj.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return _unique_messages(error) is not None
    return True


def _unique_messages(error: ValidationError) -> list[str] | None:
    """The messages of ``error`` when every one of them is a ``unique`` error, else ``None``."""
    parts = (
        [part for errors in error.error_dict.values() for part in errors]
        if hasattr(error, "error_dict")
        else error.error_list
    )
    if parts and all(part.code == "unique" for part in parts):
        return [message for part in parts for message in part.messages]
    return None


def find_duplicate(obj: M) -> tuple[M, str] | None:
    """The stored row ``obj`` would repeat on a unique field or unique constraint, with the
    message that says so; ``None`` when there is none."""
    model = type(obj)
    meta = model._meta
    checks: list[tuple[list[Any], Any, str]] = []
    for field in meta.local_concrete_fields:
        if field.unique and not field.primary_key:
            checks.append(
                ([field], None, obj.unique_error_message(model, (field.name,)).messages[0])
            )
    for constraint in meta.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.fields:
            columns = [meta.get_field(name) for name in constraint.fields]
            checks.append(
                (columns, constraint.condition, str(constraint.get_violation_error_message()))
            )
    for fields, condition, message in checks:
        lookup = {field.attname: getattr(obj, field.attname) for field in fields}
        if any(value is None for value in lookup.values()):
            continue  # NULL never equals NULL in a unique index
        if condition is not None and not condition.check(_values(obj)):
            continue
        rows = model._default_manager.filter(**lookup)
        if condition is not None:
            rows = rows.filter(condition)
        if obj.pk is not None:
            rows = rows.exclude(pk=obj.pk)
        existing = rows.first()
        if existing is not None:
            return existing, message
    return None


def _values(obj: models.Model) -> dict[str, Value]:
    # What a constraint's condition reads, by field name and column name (as Django's own
    # constraint validation does).
    values = {}
    for field in obj._meta.local_concrete_fields:
        value = Value(getattr(obj, field.attname), output_field=field)
        values[field.name] = values[field.attname] = value
    return values


def prefixed(error: ValidationError, prefix: str) -> ValidationError:
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


def assign(obj: models.Model, values: Mapping[str, Any]) -> list[str]:
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


def create(model: type[M], *, user: User, fields: Mapping[str, Any], prefix: str = "") -> M:
    obj = model(**fields)
    validated(obj, prefix=prefix)
    author(obj, user)
    obj.save()
    return obj


def update(obj: M, *, user: User, fields: Mapping[str, Any], prefix: str = "") -> bool:
    changed = assign(obj, fields)
    if not changed:
        return False
    validated(obj, prefix=prefix)
    author(obj, user)
    obj.save(update_fields=[*changed, "updated_at"])
    return True


def delete(obj: models.Model, *, user: User) -> None:
    author(obj, user)
    obj.delete()
