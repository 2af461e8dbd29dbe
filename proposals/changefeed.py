"""The change feed: every create, update and delete of the curated tables, oldest first, read
from the audit history (django-simple-history's tables), with a cursor that never skips or
repeats a change.

**Why not history ids.** On PostgreSQL an id is drawn when a row is inserted, not when its
transaction commits: a transaction that drew id 10 may commit after one that drew id 11, and a
client that had read up to 11 would never see 10.

**Windows of finished transactions.** PostgreSQL stamps every row with the number of the
transaction that inserted it (the ``xmin`` system column), and tells the oldest transaction
still running (``pg_current_snapshot``). Every transaction numbered below that one has committed
or rolled back, so the rows they wrote form a set that can never change again. The feed serves
changes window by window: a window holds the rows of transactions numbered from where the
previous window ended up to the oldest transaction running when the window was opened. Within a
window, each table's rows are served in history-id order — which is the order in which changes
to any one row really happened, since a writer waits for the previous writer of that row to
commit — and tables are interleaved by time. A change made by a transaction that is still
running waits for the next window, and so does everything written by younger transactions.
Changes to one row therefore arrive in the order they were made, with one rare exception: a
long transaction that updates a row after a younger one changed it, while a third transaction
that began between them is still running, lands in an earlier window. ``at`` (the time each
change was recorded) orders changes to one row in every case.

On SQLite, writers take the write lock as their transaction begins (settings:
``transaction_mode = IMMEDIATE``), so history ids are drawn in commit order: everything is one
window that never closes, and the cursor is the last history id served per table.

**The cursor** records the current window (``start``, ``end``: transaction numbers) and, per
table, the last history id served from it, plus the ``since`` instant the client started from.
A page may end in the middle of a window (a large import) and the next page resumes exactly
there.

Limits, stated so nobody relies on more: a history row updated in place later (its author's
account deleted, which sets ``history_user`` to null) gets a new ``xmin`` and is served again;
transaction numbers are widened from the 32 bits ``xmin`` holds relative to the current one, so
a cursor two billion transactions old is meaningless; and each poll scans the history tables
(``xmin`` has no index). Measured on the API benchmark's dataset with its history (43,116
history rows, PostgreSQL 15, 2 cores): a poll at the end of the feed takes 19.5 ms, growing
in step with the history. A change-log table with a stored, indexed 64-bit transaction id
(``pg_current_xact_id()``) would remove all three.

**Entries.** One per history row: the table, the row's id and natural key, ``created`` /
``updated`` / ``deleted``, when and by whom, and for updates the fields that changed with their
values before and after (foreign keys as ids; a measure's categories as lists of codes). An
update that changed nothing a client can see (a save that repeated the stored values) is
consumed by the cursor but not listed, so a page may hold fewer entries than asked for.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.db.models import BigIntegerField, Case, Max, OuterRef, Subquery, Value, When
from django.db.models.expressions import RawSQL

from proposals.models import Actor, Citation, Event, Measure, Position
from tracker.models import Source

# The tables of the feed, in the order that breaks ties between changes made at the same
# instant: a measure before its events, positions and citations.
TABLES: dict[str, type[models.Model]] = {
    "measures": Measure,
    "actors": Actor,
    "sources": Source,
    "events": Event,
    "positions": Position,
    "citations": Citation,
}
ACTIONS = {"+": "created", "~": "updated", "-": "deleted"}
# Bookkeeping that moves on every save; never a change a client cares about.
UNDIFFED = {"id", "created_at", "updated_at"}
CURSOR_PREFIX = "c1."


class InvalidCursor(ValueError):
    """The text is not a cursor this feed issued."""


@dataclass(frozen=True)
class Cursor:
    """A position in the feed. Clients see it only as the opaque ``next_cursor`` string."""

    start: int = 0  # the window: transactions numbered from ``start``, up to before ``end``
    end: int = 0
    seen: Mapping[str, int] = field(default_factory=dict)  # last history id served, per table
    since: datetime.datetime | None = None  # only changes recorded at or after this instant

    def encode(self) -> str:
        body: dict[str, Any] = {
            "b": self.start,
            "e": self.end,
            "s": dict(sorted(self.seen.items())),
        }
        if self.since is not None:
            body["f"] = self.since.isoformat()
        raw = json.dumps(body, separators=(",", ":")).encode()
        return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if not text.startswith(CURSOR_PREFIX):
            raise InvalidCursor("not a cursor")
        encoded = text[len(CURSOR_PREFIX) :]
        try:
            body = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            start, end, seen = body["b"], body["e"], body["s"]
            since = datetime.datetime.fromisoformat(body["f"]) if "f" in body else None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidCursor("not a cursor") from None
        valid = (
            all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end))
            and 0 <= start <= end
            and isinstance(seen, dict)
            and all(t in TABLES and isinstance(n, int) for t, n in seen.items())
            and (since is None or since.tzinfo is not None)
        )
        if not valid:
            raise InvalidCursor("not a cursor")
        return cls(start=start, end=end, seen=seen, since=since)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    table: str
    id: int
    key: str | None
    action: str
    at: datetime.datetime
    by: str | None
    changes: list[FieldChange] | None  # for updates only


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    next_cursor: Cursor
    has_more: bool


@dataclass(frozen=True)
class _Row:
    table: str
    record: Any  # a historical record, annotated with ``txid``, ``later`` and ``previous_id``

    @property
    def order(self) -> tuple[int, datetime.datetime, int, int]:
        rank = list(TABLES).index(self.table)
        return (self.record.later, self.record.history_date, rank, self.record.history_id)


def changes_since(cursor: Cursor, *, limit: int) -> ChangePage:
    """The changes after ``cursor``, at most ``limit`` history rows of them, oldest first.

    A fixed number of queries whatever ``limit`` and the data: the oldest running transaction
    (PostgreSQL), then per table the pending rows, the previous versions of updated rows, the
    natural keys of the measures and actors that events and positions point at, and the
    categories of measure versions.
    """
    horizon = _horizon(cursor)
    pending = [
        [_Row(table, record) for record in _pending(table, cursor, horizon, limit)]
        for table in TABLES
    ]
    # Each table's rows come in cursor order (the rest of the current window, then the next
    # window, each by history id); merging keeps that order within every table, so the cursor
    # stays a prefix of each, and interleaves the tables by time.
    merged = list(heapq.merge(*pending, key=lambda row: row.order))
    served = merged[:limit]
    has_more = len(merged) > limit
    return ChangePage(
        changes=_describe(served),
        next_cursor=_advance(cursor, served, horizon, has_more=has_more),
        has_more=has_more,
    )


def _horizon(cursor: Cursor) -> int:
    """Where the next window would end: the oldest transaction still running (PostgreSQL).

    On SQLite every row counts as transaction 0, so the one window is [0, 1).
    """
    if connection.vendor != "postgresql":
        return 1
    with connection.cursor() as db:
        db.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        (oldest,) = db.fetchone()
    # Never behind the cursor, even if it came from a server that had seen more.
    return max(int(oldest), cursor.end)


def _txid(history: type[models.Model], horizon: int) -> RawSQL:
    """The 64-bit number of the transaction that inserted each row.

    ``xmin`` holds only the low 32 bits; the row's transaction is the one nearest to the
    horizon with those low bits (transactions are never two billion apart here).
    """
    column = f"{connection.ops.quote_name(history._meta.db_table)}.xmin"
    # The only text put into the SQL is the model's own quoted table name; values are bound.
    return RawSQL(  # noqa: S611
        f"%s + ((({column}::text::bigint) - %s + 6442450944) %% 4294967296) - 2147483648",
        (horizon, horizon % 4294967296),
        output_field=BigIntegerField(),
    )


def _pending(table: str, cursor: Cursor, horizon: int, limit: int) -> list[Any]:
    history = TABLES[table].history.model  # type: ignore[attr-defined]
    records = history._default_manager.select_related("history_user")
    if connection.vendor == "postgresql":
        records = records.annotate(txid=_txid(history, horizon))
    else:
        records = records.annotate(txid=Value(0, output_field=BigIntegerField()))
    records = records.filter(txid__gte=cursor.start, txid__lt=horizon).exclude(
        txid__lt=cursor.end, history_id__lte=cursor.seen.get(table, 0)
    )
    if cursor.since is not None:
        records = records.filter(history_date__gte=cursor.since)
    previous = (
        history._default_manager.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    records = records.annotate(
        # 0: the rest of the cursor's window; 1: the next window.
        later=Case(When(txid__lt=cursor.end, then=Value(0)), default=Value(1)),
        previous_id=Subquery(previous),
    )
    return list(records.order_by("later", "history_id")[: limit + 1])


def _advance(cursor: Cursor, served: list[_Row], horizon: int, *, has_more: bool) -> Cursor:
    if connection.vendor == "postgresql" and not has_more:
        # Everything written by transactions older than the horizon has been served.
        return Cursor(start=horizon, end=horizon, since=cursor.since)
    if not served:
        return cursor
    if served[-1].record.later:
        # The page reached into the next window: the current one is done.
        window = Cursor(start=cursor.end, end=horizon, since=cursor.since)
        served = [row for row in served if row.record.later]
    else:
        window = cursor
    seen = dict(window.seen)
    for row in served:
        seen[row.table] = max(seen.get(row.table, 0), row.record.history_id)
    return Cursor(start=window.start, end=window.end, seen=seen, since=cursor.since)


# --- describing the rows ------------------------------------------------------------------------


def _describe(served: list[_Row]) -> list[Change]:
    previous = _previous_versions(served)
    categories = _measure_categories(served, previous)
    slugs = _latest(Measure, "slug", _referenced(served, "measure_id"))
    codes = _latest(Actor, "code", _referenced(served, "actor_id"))
    changes = []
    for row in served:
        record = row.record
        action = ACTIONS[record.history_type]
        diff = None
        if action == "updated":
            before = previous.get((row.table, record.previous_id))
            diff = _diff(row.table, before, record, categories) if before is not None else []
            if not diff:
                continue
        user = record.history_user
        changes.append(
            Change(
                table=row.table,
                id=record.id,
                key=_key(row.table, record, slugs, codes),
                action=action,
                at=record.history_date,
                by=user.get_username() if user is not None else None,
                changes=diff,
            )
        )
    return changes


def _previous_versions(served: list[_Row]) -> dict[tuple[str, int], Any]:
    wanted: dict[str, list[int]] = {}
    for row in served:
        if row.record.history_type == "~" and row.record.previous_id is not None:
            wanted.setdefault(row.table, []).append(row.record.previous_id)
    result = {}
    for table, ids in wanted.items():
        history = TABLES[table].history.model  # type: ignore[attr-defined]
        for record in history._default_manager.filter(history_id__in=ids):
            result[(table, record.history_id)] = record
    return result


def _measure_categories(
    served: list[_Row], previous: dict[tuple[str, int], Any]
) -> dict[int, list[str]]:
    """Category codes of every measure version involved in an update, by history id."""
    ids = [
        history_id
        for row in served
        if row.table == "measures" and row.record.history_type == "~"
        for history_id in (row.record.history_id, row.record.previous_id)
    ]
    ids += [history_id for table, history_id in previous if table == "measures"]
    if not ids:
        return {}
    through = apps.get_model("proposals", "HistoricalMeasure_categories")
    result: dict[int, list[str]] = {history_id: [] for history_id in ids if history_id}
    rows = through._default_manager.filter(history_id__in=result).order_by("category_id")
    for history_id, code in rows.values_list("history_id", "category_id"):
        result[history_id].append(code)
    return result


def _diff(
    table: str, before: Any, after: Any, categories: dict[int, list[str]]
) -> list[FieldChange]:
    # Compared field by field rather than with simple-history's ``diff_against``, which skips
    # fields that are not editable in forms — and a measure's derived ``status`` is the change
    # clients most want to see.
    changes = [
        FieldChange(f.name, f.value_from_object(before), f.value_from_object(after))
        for f in after.tracked_fields
        if f.name not in UNDIFFED and f.value_from_object(before) != f.value_from_object(after)
    ]
    if table == "measures":
        old, new = categories.get(before.history_id, []), categories.get(after.history_id, [])
        if old != new:
            changes.append(FieldChange("categories", old, new))
    return sorted(changes, key=lambda change: change.field)


def _referenced(served: list[_Row], attname: str) -> set[int]:
    return {
        getattr(row.record, attname)
        for row in served
        if row.table in ("events", "positions") and getattr(row.record, attname) is not None
    }


def _latest(model: type[models.Model], name: str, ids: Iterable[int]) -> dict[int, str]:
    """The last recorded ``name`` of each id, from the history, so deleted rows have one too."""
    ids = list(ids)
    if not ids:
        return {}
    history = model.history.model  # type: ignore[attr-defined]
    last = (
        history._default_manager.filter(id__in=ids)
        .values("id")
        .annotate(last=Max("history_id"))
        .values("last")
    )
    rows = history._default_manager.filter(history_id__in=Subquery(last))
    return dict(rows.values_list("id", name))


def _key(table: str, record: Any, slugs: dict[int, str], codes: dict[int, str]) -> str | None:
    """The natural key, in the form the import report uses."""
    if table == "measures":
        return str(record.slug)
    if table == "actors":
        return str(record.code)
    if table == "sources":
        return str(record.url)
    if table == "events":
        slug = slugs.get(record.measure_id, f"#{record.measure_id}")
        actor = codes.get(record.actor_id, f"#{record.actor_id}") if record.actor_id else "-"
        return f"{slug}/{record.kind}/{record.date.isoformat()}/{actor}"
    if table == "positions":
        slug = slugs.get(record.measure_id, f"#{record.measure_id}")
        actor = codes.get(record.actor_id, f"#{record.actor_id}")
        return f"{slug}/{actor}/{record.date.isoformat()}"
    return None  # a citation has no natural key of its own
