"""The change feed: every create, update and delete of the curated tables, oldest first, read
through the change log (``ChangeLog``: one row per row of django-simple-history's tables), with
a cursor that never skips or repeats a change.

**The change log.** Database triggers on the history tables write a log row in the transaction
that writes each history row, whatever wrote it (a save, a bulk operation, a revert, a shell, raw
SQL): the table, the history row's id, its time, and on PostgreSQL the 64-bit number of the
writing transaction (``pg_current_xact_id()``, the outer transaction's even inside a savepoint).
A rolled-back change leaves no log row. Log ids are drawn as rows are written.

**Why not log ids alone.** On PostgreSQL an id is drawn when a row is inserted, not when its
transaction commits: a transaction that drew id 10 may commit after one that drew id 11, and a
client that had read up to 11 would never see 10.

**Windows of finished transactions.** PostgreSQL tells the oldest transaction still running
(``pg_snapshot_xmin(pg_current_snapshot())``). Every transaction numbered below it has committed
or rolled back, so the log rows they wrote form a set that can never change again. The feed
serves changes window by window: a window holds the rows of transactions numbered from where the
previous window ended up to the oldest transaction running when the window was opened. Within a
window, rows are served in log-id order, the order in which they were written — which is the
order in which changes to any one row really happened, since a writer waits for the previous
writer of that row to commit. A change made by a transaction that is still running waits for the
next window, and so does everything written by younger transactions. Changes to one row
therefore arrive in the order they were made, with one rare exception: a long transaction that
updates a row after a younger one changed it, while a third transaction that began between them
is still running, lands in an earlier window. ``at`` (the time each change was recorded) orders
changes to one row in every case.

On SQLite, a writer holds the write lock from its first write until it commits (and takes it as
its transaction begins: settings, ``transaction_mode = IMMEDIATE``), so log ids are drawn in
commit order: every row's transaction number is 0, everything is one window that never closes,
and the cursor is the last log id served.

**The cursor** records the current window (``start``, ``end``: transaction numbers) and the last
log id served from it, plus the ``since`` instant the client started from. A page may end in the
middle of a window (a large import) and the next page resumes exactly there. Cursors issued
before the log existed (``c1.``: the last history id served per table) keep working: the log was
backfilled with the same transaction numbers.

**Cost.** A poll reads the log rows of the transactions that finished since the last one, by an
index range scan on (``txid``, ``id``), then fetches the history rows it serves by id: what it
returns, however long the history. A poll when no transaction has finished since asks only for
the horizon. The rest of a window already begun (a large import, paged) is read by walking the
primary key from the cursor. A first request's window is the whole log, walked the same way;
the first page of a new window holding more than a page (an import that just finished) sorts
that window's log rows once.

Limits, stated so nobody relies on more: the log of history written before it existed was
backfilled from ``xmin`` (the low 32 bits of the writing transaction's number, widened to 64),
which is the savepoint's number for rows written inside one; and a transaction left open (idle
in a session), in any database of the same server since PostgreSQL numbers transactions
server-wide, holds back every change of younger transactions until it ends.

**Entries.** One per history row: the table, the row's id and natural key, ``created`` /
``updated`` / ``deleted``, when and by whom, and for updates the fields that changed with their
values before and after (foreign keys as ids; a measure's categories as lists of codes). An
update that changed nothing a client can see (a save that repeated the stored values) is
consumed by the cursor but not listed, so a page may hold fewer entries than asked for; so is a
log row whose history row has since been deleted (a history row deleted and written again under
its old id is logged, and listed, again).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.db.models import F, Max, OuterRef, Q, Subquery, Value

from proposals.models import Actor, ChangeLog, Citation, Event, Measure, Position
from tracker.models import Source

# The tables of the feed, by the name the log and the clients use.
TABLES: dict[str, type[models.Model]] = {
    ChangeLog.Table.MEASURES: Measure,
    ChangeLog.Table.ACTORS: Actor,
    ChangeLog.Table.SOURCES: Source,
    ChangeLog.Table.EVENTS: Event,
    ChangeLog.Table.POSITIONS: Position,
    ChangeLog.Table.CITATIONS: Citation,
}
ACTIONS = {"+": "created", "~": "updated", "-": "deleted"}
# Bookkeeping that moves on every save; never a change a client cares about.
UNDIFFED = {"id", "created_at", "updated_at"}
CURSOR_PREFIX = "c2."
# Issued before the change log: the window and, per table, the last history id served from it.
LEGACY_CURSOR_PREFIX = "c1."
CURSOR_PREFIXES = (CURSOR_PREFIX, LEGACY_CURSOR_PREFIX)


class InvalidCursor(ValueError):
    """The text is not a cursor this feed issued."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Cursor:
    """A position in the feed. Clients see it only as the opaque ``next_cursor`` string."""

    start: int = 0  # the window: transactions numbered from ``start``, up to before ``end``
    end: int = 0
    seen: int = 0  # the last log id served from the window
    since: datetime.datetime | None = None  # only changes recorded at or after this instant
    # A ``c1.`` cursor's position in its window instead of ``seen``: the last history id served,
    # per table.
    tables: Mapping[str, int] = field(default_factory=dict)

    def encode(self) -> str:
        body: dict[str, Any] = {"b": self.start, "e": self.end}
        if self.tables:  # only a c1 cursor that nothing new has moved yet
            prefix, body["s"] = LEGACY_CURSOR_PREFIX, dict(sorted(self.tables.items()))
        else:
            prefix, body["s"] = CURSOR_PREFIX, self.seen
        if self.since is not None:
            body["f"] = self.since.isoformat()
        raw = json.dumps(body, separators=(",", ":")).encode()
        return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        prefix = next((p for p in CURSOR_PREFIXES if text.startswith(p)), None)
        if prefix is None:
            raise InvalidCursor("not a cursor")
        encoded = text[len(prefix) :]
        try:
            body = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            start, end, seen = body["b"], body["e"], body["s"]
            since = datetime.datetime.fromisoformat(body["f"]) if "f" in body else None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidCursor("not a cursor") from None
        if prefix == LEGACY_CURSOR_PREFIX:
            position = isinstance(seen, dict) and all(
                t in TABLES and _is_int(n) and n >= 0 for t, n in seen.items()
            )
        else:
            position = _is_int(seen) and seen >= 0
        valid = (
            position
            and _is_int(start)
            and _is_int(end)
            and 0 <= start <= end
            and (since is None or since.tzinfo is not None)
        )
        if not valid:
            raise InvalidCursor("not a cursor")
        if prefix == LEGACY_CURSOR_PREFIX:
            return cls(start=start, end=end, tables=seen, since=since)
        return cls(start=start, end=end, seen=seen, since=since)

    @property
    def numbers(self) -> list[int]:
        """Every number the cursor holds, for a caller that bounds them."""
        return [self.start, self.end, self.seen, *self.tables.values()]


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
    entry: ChangeLog
    record: Any  # the historical record, annotated with ``previous_id``


def changes_since(cursor: Cursor, *, limit: int) -> ChangePage:
    """The changes after ``cursor``, at most ``limit`` log rows of them, oldest first.

    A fixed number of queries whatever ``limit`` and the data: the oldest running transaction
    (PostgreSQL), the pending log rows, then per table present the history rows they point at,
    the previous versions of updated rows, the natural keys of the measures and actors that
    events and positions point at, and the categories of measure versions.
    """
    horizon = _horizon(cursor)
    pending = _pending(cursor, horizon, limit)
    entries = pending[:limit]
    has_more = len(pending) > limit
    served = _served(entries)
    return ChangePage(
        changes=_describe(served),
        next_cursor=_advance(cursor, entries, horizon, has_more=has_more),
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


def _pending(cursor: Cursor, horizon: int, limit: int) -> list[ChangeLog]:
    """Up to ``limit + 1`` log rows after the cursor: the rest of its window, then the next."""
    branches = []
    if cursor.start < cursor.end:
        rest = ChangeLog.objects.filter(txid__gte=cursor.start, txid__lt=cursor.end)
        if cursor.tables:
            # A c1 cursor: past the last history id served in each table it names.
            rest = rest.filter(
                reduce(
                    operator.or_,
                    [Q(table=t, history_id__gt=n) for t, n in cursor.tables.items()],
                    ~Q(table__in=list(cursor.tables)),
                )
            )
        else:
            rest = rest.filter(id__gt=cursor.seen)
        # Walks the primary key from ``seen``: a page of a long window costs a page.
        branches.append(rest.annotate(later=Value(0)).order_by("id"))
    if cursor.end < horizon:
        following = ChangeLog.objects.filter(txid__gte=cursor.end, txid__lt=horizon)
        # After a poll, the window holds what finished since: read through the (txid, id)
        # index, then sorted. ``id + 0`` keeps the planner from walking the whole primary key
        # instead, in the hope of meeting the window early, which it does when its estimate of
        # a range at the end of the index is off. A first request's window is the whole log:
        # walk the primary key.
        order = "id" if cursor.end == 0 else F("id") + 0
        branches.append(following.annotate(later=Value(1)).order_by(order))
    if cursor.since is not None:
        branches = [branch.filter(at__gte=cursor.since) for branch in branches]
    if not branches:  # no transaction has finished since the last poll
        return []
    if len(branches) == 1:
        return list(branches[0][: limit + 1])
    first, second = (branch[: limit + 1] for branch in branches)
    return list(first.union(second, all=True).order_by("later", "id")[: limit + 1])


def _advance(cursor: Cursor, entries: list[ChangeLog], horizon: int, *, has_more: bool) -> Cursor:
    if connection.vendor == "postgresql" and not has_more:
        # Everything written by transactions older than the horizon has been served.
        return Cursor(start=horizon, end=horizon, since=cursor.since)
    if not entries:
        return cursor
    last = entries[-1]
    if last.txid >= cursor.end:
        # The page reached into the next window: the current one is done.
        return Cursor(start=cursor.end, end=horizon, seen=last.id, since=cursor.since)
    # Every row of the window up to ``last`` has been served, by this page or (a c1 cursor's
    # tables) an earlier one.
    return Cursor(start=cursor.start, end=cursor.end, seen=last.id, since=cursor.since)


def _served(entries: list[ChangeLog]) -> list[_Row]:
    """The history rows the log rows point at, in log order, each with its previous version's
    id; a log row whose history row is gone is skipped."""
    wanted: dict[str, list[int]] = {}
    for entry in entries:
        wanted.setdefault(entry.table, []).append(entry.history_id)
    records: dict[tuple[str, int], Any] = {}
    for table, ids in wanted.items():
        history = TABLES[table].history.model  # type: ignore[attr-defined]
        previous = (
            history._default_manager.filter(
                id=OuterRef("id"), history_id__lt=OuterRef("history_id")
            )
            .order_by("-history_id")
            .values("history_id")[:1]
        )
        rows = (
            history._default_manager.select_related("history_user")
            .filter(history_id__in=ids)
            .annotate(previous_id=Subquery(previous))
        )
        for record in rows:
            records[(table, record.history_id)] = record
    return [
        _Row(entry.table, entry, records[(entry.table, entry.history_id)])
        for entry in entries
        if (entry.table, entry.history_id) in records
    ]


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


# SQLite rebuilds a table to alter it, which drops its triggers: after every migration the
# change log's triggers are put back where missing (proposals.apps), as migration 0007 made them.
SQLITE_TRIGGER = """
CREATE TRIGGER changelog_{name} AFTER INSERT ON "{table}"
BEGIN
    INSERT INTO proposals_changelog ("table", history_id, txid, at)
    VALUES ('{name}', NEW.history_id, 0, NEW.history_date);
END
"""


def ensure_sqlite_triggers(connection: Any) -> list[str]:
    """Create the change log's triggers missing on SQLite; return the names created."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {(kind, name) for kind, name in cursor.fetchall()}
        if ("table", ChangeLog._meta.db_table) not in present:
            return []  # not migrated that far
        created = []
        for name, model in TABLES.items():
            trigger = f"changelog_{name}"
            history = model.history.model._meta.db_table  # type: ignore[attr-defined]
            if ("trigger", trigger) in present or ("table", history) not in present:
                continue
            cursor.execute(SQLITE_TRIGGER.format(name=name, table=history))
            created.append(trigger)
    return created
