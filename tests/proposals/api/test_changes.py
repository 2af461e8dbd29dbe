"""GET /api/v1/changes/: every create, update and delete, in order, through a cursor that never
skips or repeats a change.

These tests commit their writes (``transaction=True``): on PostgreSQL the feed serves a change
only once the transaction that made it has finished, as a client would see it.
"""

from __future__ import annotations

import base64
import datetime
import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from proposals.changefeed import TABLES, Cursor, changes_since
from proposals.models import (
    Actor,
    Category,
    ChangeLog,
    Measure,
    MeasureInvolvement,
    MeasureParticipation,
    ParticipationSpan,
    StatusSpan,
)
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/changes/"


@pytest.fixture
def author(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice")


@pytest.fixture(autouse=True)
def categories() -> None:
    # A transactional test starts from tables emptied by the previous one, migration data too.
    for code in Category.Code.values:
        Category.objects.get_or_create(code=code)


def feed(client: APIClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def follow(client: APIClient, *, page_size: int, since: str | None = None) -> list[dict[str, Any]]:
    """Every entry, page after page, following next_cursor until nothing more is ready."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": page_size}
    if since:
        params["since"] = since
    for _ in range(1000):
        page = feed(client, **params)
        assert len(page["results"]) <= page_size
        entries += page["results"]
        params["since"] = page["next_cursor"]
        if not page["has_more"]:
            return entries
    raise AssertionError("the feed never ran dry")


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(e["table"], e["key"], e["action"]) for e in entries]


def test_a_create_an_update_and_a_delete_are_three_entries_in_order(
    anonymous: APIClient, author: User
) -> None:
    actor = ActorFactory.create(code="NATO", name="NATO", kind=Actor.Kind.ORGANIZATION)
    actor.name = "North Atlantic Treaty Organization"
    actor._history_user = author
    actor.save()
    actor.delete()

    page = feed(anonymous)

    assert summary(page["results"]) == [
        ("actors", "NATO", "created"),
        ("actors", "NATO", "updated"),
        ("actors", "NATO", "deleted"),
    ]
    created, updated, deleted = page["results"]
    assert created["changes"] is None
    assert updated["changes"] == [
        {"field": "name", "before": "NATO", "after": "North Atlantic Treaty Organization"}
    ]
    assert updated["by"] == "alice"
    assert created["by"] is None
    assert created["at"] <= updated["at"] <= deleted["at"]
    assert page["has_more"] is False


def test_the_cursor_resumes_exactly_after_the_last_change(anonymous: APIClient) -> None:
    ActorFactory.create(code="USA")
    first = feed(anonymous)
    assert summary(first["results"]) == [("actors", "USA", "created")]

    again = feed(anonymous, since=first["next_cursor"])
    assert again["results"] == []
    assert again["next_cursor"] == first["next_cursor"]

    ActorFactory.create(code="RUS")
    later = feed(anonymous, since=first["next_cursor"])
    assert summary(later["results"]) == [("actors", "RUS", "created")]


def busy_history(author: User) -> None:
    """Changes to every table, some sharing a timestamp, with updates and cascading deletes."""
    usa, rus = ActorFactory.create(code="USA"), ActorFactory.create(code="RUS")
    source = SourceFactory.create(url="https://example.org/treaty")
    with time_machine.travel(timezone.now(), tick=False):  # these changes share one instant
        measure = MeasureFactory.create(slug="inf-treaty", categories=["arms_limit"])
        position = PositionFactory.create(
            measure=measure, actor=usa, date=datetime.date(2019, 2, 1)
        )
        CitationFactory.create(source=source, measure=None, position=position)
    # An event changes the measure's derived status: a second row of the measure, so not at the
    # instant of its other update.
    EventFactory.create(measure=measure, kind="signed", date=datetime.date(1987, 12, 8))
    other = MeasureFactory.create(slug="new-start")
    PositionFactory.create(
        measure=other, actor=rus, stance="opposes", date=datetime.date(2023, 2, 21)
    )
    measure.title = "Intermediate-Range Nuclear Forces Treaty"
    measure._history_user = author
    measure.save()
    measure.categories.add(Category.objects.get(code="transparency"))
    source.title = "Treaty text"
    source.save()
    other.delete()  # cascades to its position


def test_the_history_lists_every_change_once_in_commit_order(
    anonymous: APIClient, author: User
) -> None:
    busy_history(author)
    entries = follow(anonymous, page_size=1000)

    assert summary(entries) == [
        ("actors", "USA", "created"),
        ("actors", "RUS", "created"),
        ("sources", "https://example.org/treaty", "created"),
        ("measures", "inf-treaty", "created"),
        ("measures", "inf-treaty", "updated"),  # its categories
        ("positions", "inf-treaty/USA/2019-02-01", "created"),
        ("citations", None, "created"),
        ("events", "inf-treaty/signed/1987-12-08/-", "created"),
        ("measures", "inf-treaty", "updated"),  # its derived status: signed
        ("measures", "new-start", "created"),
        ("measures", "new-start", "updated"),
        ("positions", "new-start/RUS/2023-02-21", "created"),
        ("measures", "inf-treaty", "updated"),  # its title
        ("measures", "inf-treaty", "updated"),  # a second category
        ("sources", "https://example.org/treaty", "updated"),
        ("positions", "new-start/RUS/2023-02-21", "deleted"),
        ("measures", "new-start", "deleted"),
    ]


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_paging_never_skips_or_repeats_a_change(
    anonymous: APIClient, author: User, page_size: int
) -> None:
    busy_history(author)
    everything = follow(anonymous, page_size=1000)

    paged = follow(anonymous, page_size=page_size)

    assert paged == everything
    keys = [(e["table"], e["id"], e["action"], e["at"]) for e in paged]
    assert len(keys) == len(set(keys))


def test_a_datetime_starts_the_feed_at_that_instant(anonymous: APIClient) -> None:
    with time_machine.travel(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC), tick=False):
        ActorFactory.create(code="USA")
    with time_machine.travel(datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC), tick=False):
        ActorFactory.create(code="RUS")

    for since in ("2024-02-01T00:00:00Z", "2024-02-01", "2024-02-01T01:00:00+01:00"):
        page = feed(anonymous, since=since)
        assert summary(page["results"]) == [("actors", "RUS", "created")], since
    cursor = feed(anonymous, since="2024-02-01")["next_cursor"]
    ActorFactory.create(code="CHN")
    assert summary(feed(anonymous, since=cursor)["results"]) == [("actors", "CHN", "created")]


def rename(obj: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(obj, name, value)
    obj.save()


def terminate(measure: Measure) -> None:
    EventFactory.create(measure=measure, kind="terminated", date=datetime.date(2019, 1, 1))


def measure_in_force_by_events() -> Measure:
    measure = MeasureFactory.create(slug="m")
    EventFactory.create(measure=measure, kind="entered_into_force", date=datetime.date(2001, 1, 1))
    return measure


UPDATES: list[tuple[str, Callable[[], Any], Callable[[Any], None], list[dict[str, Any]]]] = [
    (
        "measures",
        lambda: MeasureFactory.create(slug="m", title="Old"),
        lambda measure: rename(measure, title="New"),
        [{"field": "title", "before": "Old", "after": "New"}],
    ),
    (
        "measures",
        lambda: MeasureFactory.create(slug="m", categories=["hotline"]),
        lambda measure: measure.categories.add(Category.objects.get(code="transparency")),
        [{"field": "categories", "before": ["hotline"], "after": ["hotline", "transparency"]}],
    ),
    (
        "measures",  # a derived field, written when its events change, is a change like any other
        measure_in_force_by_events,
        terminate,
        [{"field": "status", "before": "in_force", "after": "terminated"}],
    ),
    (
        "actors",  # foreign keys appear as ids
        lambda: ActorFactory.create(code="SUN", name="USSR"),
        lambda actor: rename(actor, successor=ActorFactory.create(code="RUS", name="Russia")),
        [{"field": "successor", "before": None, "after": "id of RUS"}],
    ),
    (
        "sources",
        lambda: SourceFactory.create(url="https://example.org/a", is_primary=False),
        lambda source: rename(source, is_primary=True),
        [{"field": "is_primary", "before": False, "after": True}],
    ),
    (
        "positions",
        lambda: PositionFactory.create(stance="neutral", date=datetime.date(2020, 1, 1)),
        lambda position: rename(position, stance="opposes", date=datetime.date(2020, 2, 1)),
        [
            {"field": "date", "before": "2020-01-01", "after": "2020-02-01"},
            {"field": "stance", "before": "neutral", "after": "opposes"},
        ],
    ),
]


@pytest.mark.parametrize(("table", "make", "change", "expected"), UPDATES)
def test_an_update_shows_each_changed_field_before_and_after(
    anonymous: APIClient,
    table: str,
    make: Callable[[], Any],
    change: Callable[[Any], None],
    expected: list[dict[str, Any]],
) -> None:
    obj = make()
    cursor = feed(anonymous)["next_cursor"]
    change(obj)

    entries = feed(anonymous, since=cursor)["results"]
    results = [e for e in entries if (e["table"], e["id"]) == (table, obj.pk)]

    assert [e["action"] for e in results] == ["updated"]
    ids: dict[Any, int] = {f"id of {a.code}": a.pk for a in Actor.objects.all()}
    expected = [
        {**item, "after": ids.get(item["after"], item["after"])}
        if isinstance(item["after"], str)
        else item
        for item in expected
    ]
    assert results[0]["changes"] == expected


def test_a_save_that_changes_nothing_is_not_listed(anonymous: APIClient) -> None:
    actor = ActorFactory.create(code="USA")
    cursor = feed(anonymous)["next_cursor"]
    actor.save()  # a history row, but nothing for a client to see

    page = feed(anonymous, since=cursor)

    assert page["results"] == []
    assert page["next_cursor"] != cursor  # consumed, so it is not read again


@pytest.mark.parametrize(
    ("make", "table", "key"),
    [
        (lambda: MeasureFactory.create(slug="gone"), "measures", "gone"),
        (lambda: ActorFactory.create(code="PRK"), "actors", "PRK"),
        (
            lambda: SourceFactory.create(url="https://example.org/gone"),
            "sources",
            "https://example.org/gone",
        ),
        (
            lambda: EventFactory.create(
                measure=MeasureFactory.create(slug="m"), kind="signed", date="2000-01-01"
            ),
            "events",
            "m/signed/2000-01-01/-",
        ),
        (
            lambda: PositionFactory.create(
                measure=MeasureFactory.create(slug="m"),
                actor=ActorFactory.create(code="JPN"),
                date="2001-01-01",
            ),
            "positions",
            "m/JPN/2001-01-01",
        ),
        (lambda: CitationFactory.create(), "citations", None),
    ],
)
def test_deletions_are_listed_with_their_natural_key(
    anonymous: APIClient, make: Callable[[], Any], table: str, key: str | None
) -> None:
    obj = make()
    pk = obj.pk
    cursor = feed(anonymous)["next_cursor"]
    obj.delete()

    results = feed(anonymous, since=cursor)["results"]

    # (A deleted event also changes its measure's derived status: another table's entry.)
    assert [
        (e["table"], e["id"], e["key"], e["action"]) for e in results if e["table"] == table
    ] == [(table, pk, key, "deleted")]


def test_deleting_a_measure_lists_what_went_with_it(anonymous: APIClient) -> None:
    measure = MeasureFactory.create(slug="inf")
    EventFactory.create(measure=measure, kind="signed", date="1987-12-08")
    PositionFactory.create(
        measure=measure, actor=ActorFactory.create(code="USA"), date="2019-02-01"
    )
    CitationFactory.create(measure=measure)
    cursor = feed(anonymous)["next_cursor"]
    measure.delete()

    results = feed(anonymous, since=cursor)["results"]

    assert sorted((e["table"], e["action"]) for e in results) == [
        ("citations", "deleted"),
        ("events", "deleted"),
        ("measures", "deleted"),
        ("positions", "deleted"),
    ]
    keys = {e["table"]: e["key"] for e in results}
    # The measure is gone, yet its slug still names what was deleted with it.
    assert keys["events"] == "inf/signed/1987-12-08/-"
    assert keys["positions"] == "inf/USA/2019-02-01"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"since": "last monday"}, "since"),
        ({"since": "2024-13-01"}, "since"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    anonymous: APIClient, params: dict[str, str], name: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.parametrize(
    "since",
    ["c1.not-a-cursor", "c1.eyJ0IjogLTF9"],  # the second well-formed, with impossible values
)
def test_a_cursor_the_feed_did_not_make_is_a_404(anonymous: APIClient, since: str) -> None:
    response = anonymous.get(URL, {"since": since})

    assert response.status_code == 404
    assert list(response.json()) == ["since"]


def populate(size: int) -> None:
    """``size`` rows in every table, each measure and actor also updated once."""
    for n in range(size):
        measure = MeasureFactory.create()
        measure.title = f"Renamed {n}"
        measure.save()
        actor = ActorFactory.create()
        actor.name = f"Renamed {n}"
        actor.save()
        EventFactory.create(measure=measure, actor=actor)
        PositionFactory.create(measure=measure, actor=actor)
        CitationFactory.create(measure=measure, source=SourceFactory.create())


@pytest.mark.parametrize("size", [1, 6])
def test_a_page_takes_the_same_queries_at_any_size(
    django_assert_num_queries: Any, size: int
) -> None:
    populate(size)
    # Counted on the feed itself: the view adds no query of its own, and what middleware or
    # throttling may add is not this feed's to count.
    # PostgreSQL only: the oldest running transaction. Then, in both databases: the pending
    # change-log rows; the history rows they point at in measures, actors, sources, events,
    # positions and citations (six); the previous versions of the updated measures, and of the
    # updated actors; the categories of those measure versions; the slugs and codes that name
    # the events' and positions' measures and actors.
    expected = 12 + (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        page = changes_since(Cursor(), limit=1000)
    # Per size: a measure created, given its categories and renamed; an actor created and
    # renamed; an event, a position, a source and a citation created.
    assert len(page.changes) == size * 9


# --- the change log: every write path, rollbacks, old cursors, the backfill ---------------------


def history_of(table: str) -> Any:
    return TABLES[table].history.model  # type: ignore[attr-defined]


RAW_SQL_TABLES = [
    ("measures", lambda: MeasureFactory.create(slug="m"), "m"),
    ("actors", lambda: ActorFactory.create(code="USA"), "USA"),
    ("sources", lambda: SourceFactory.create(url="https://example.org/a"), "https://example.org/a"),
    (
        "events",
        lambda: EventFactory.create(
            measure=MeasureFactory.create(slug="m"), kind="signed", date="2000-01-01"
        ),
        "m/signed/2000-01-01/-",
    ),
    (
        "positions",
        lambda: PositionFactory.create(
            measure=MeasureFactory.create(slug="m"),
            actor=ActorFactory.create(code="JPN"),
            date="2001-01-01",
        ),
        "m/JPN/2001-01-01",
    ),
    ("citations", lambda: CitationFactory.create(), None),
]


@pytest.mark.parametrize(("table", "make", "key"), RAW_SQL_TABLES)
def test_a_history_row_written_by_raw_sql_is_served(
    anonymous: APIClient, table: str, make: Callable[[], Any], key: str | None
) -> None:
    """No Python runs for this write: the database logs it (and so every table has its
    trigger, which a migration that rebuilds the table on SQLite would silently drop)."""
    obj = make()
    cursor = feed(anonymous)["next_cursor"]
    history = history_of(table)
    quote = connection.ops.quote_name
    columns = [f.column for f in history._meta.concrete_fields if f.column != "history_id"]
    values = [
        {"history_type": "'-'", "history_date": "%s"}.get(column, quote(column))
        for column in columns
    ]
    # Only the model's own quoted table and column names go into the text; values are bound.
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {quote(history._meta.db_table)} WHERE history_id = %s"
    )
    with connection.cursor() as db:
        db.execute(sql, [timezone.now(), history.objects.filter(id=obj.pk).latest().history_id])

    results = feed(anonymous, since=cursor)["results"]

    assert [(e["table"], e["id"], e["key"], e["action"]) for e in results] == [
        (table, obj.pk, key, "deleted")
    ]


def test_a_change_rolled_back_leaves_nothing_in_the_log(anonymous: APIClient) -> None:
    ActorFactory.create(code="USA")
    logged = ChangeLog.objects.count()
    cursor = feed(anonymous)["next_cursor"]

    def abandoned_change() -> None:
        with transaction.atomic():
            ActorFactory.create(code="RUS")
            assert ChangeLog.objects.count() == logged + 1  # written with the change...
            raise RuntimeError("abandoned")

    with pytest.raises(RuntimeError, match="abandoned"):
        abandoned_change()

    assert ChangeLog.objects.count() == logged  # ...and gone with it
    assert feed(anonymous, since=cursor)["results"] == []


def test_a_logged_change_whose_history_row_is_gone_is_skipped(anonymous: APIClient) -> None:
    ActorFactory.create(code="USA")
    ActorFactory.create(code="RUS")
    Actor.history.filter(code="USA").delete()

    page = feed(anonymous)

    assert summary(page["results"]) == [("actors", "RUS", "created")]
    assert feed(anonymous, since=page["next_cursor"])["results"] == []


def horizon_now() -> int:
    if connection.vendor != "postgresql":
        return 1
    with connection.cursor() as db:
        db.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(db.fetchone()[0])


def test_a_cursor_issued_before_the_change_log_still_resumes_exactly(
    anonymous: APIClient,
) -> None:
    usa = ActorFactory.create(code="USA")
    ActorFactory.create(code="RUS")
    # As the feed wrote them before the log: the window, and the last history id served per
    # table (here: USA served, RUS not yet).
    body = {"b": 0, "e": horizon_now(), "s": {"actors": usa.history.get().history_id}}
    old = "c1." + base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    ActorFactory.create(code="CHN")

    page = feed(anonymous, since=old)

    assert summary(page["results"]) == [("actors", "RUS", "created"), ("actors", "CHN", "created")]
    assert page["next_cursor"].startswith("c2.")
    assert feed(anonymous, since=page["next_cursor"])["results"] == []


def migrate(executor: MigrationExecutor, targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh graph, as the next `migrate` would load


def test_the_migration_backfills_the_log_from_the_history_in_the_feeds_order(
    anonymous: APIClient, author: User
) -> None:
    executor = MigrationExecutor(connection)
    log_migration = ("proposals", "0007_change_log")
    before = [
        parent.key
        for parent in executor.loader.graph.node_map[log_migration].parents
        if parent.key[0] == "proposals"
    ]
    executor = migrate(executor, before)  # no log, no triggers: history as it was
    try:
        # Today's code stores participations, involvement and answers over time as it writes
        # (proposals.derived); their tables come after the log, so they are there only while
        # that history is written.
        derived_tables = (MeasureParticipation, MeasureInvolvement, StatusSpan, ParticipationSpan)
        with connection.schema_editor() as editor:
            for model in derived_tables:
                editor.create_model(model)
        busy_history(author)
        with connection.schema_editor() as editor:
            for model in derived_tables:
                editor.delete_model(model)
    finally:
        executor = migrate(executor, executor.loader.graph.leaf_nodes())

    assert ChangeLog.objects.count() == sum(history_of(table).objects.count() for table in TABLES)
    # The order the feed served the same history in before the log existed.
    assert summary(follow(anonymous, page_size=3)) == [
        ("actors", "USA", "created"),
        ("actors", "RUS", "created"),
        ("sources", "https://example.org/treaty", "created"),
        ("measures", "inf-treaty", "created"),
        ("measures", "inf-treaty", "updated"),
        ("positions", "inf-treaty/USA/2019-02-01", "created"),
        ("citations", None, "created"),
        ("events", "inf-treaty/signed/1987-12-08/-", "created"),
        ("measures", "inf-treaty", "updated"),
        ("measures", "new-start", "created"),
        ("measures", "new-start", "updated"),
        ("positions", "new-start/RUS/2023-02-21", "created"),
        ("measures", "inf-treaty", "updated"),
        ("measures", "inf-treaty", "updated"),
        ("sources", "https://example.org/treaty", "updated"),
        ("positions", "new-start/RUS/2023-02-21", "deleted"),
        ("measures", "new-start", "deleted"),
    ]
    # And the triggers are back: a change after the backfill is logged and served.
    ActorFactory.create(code="CHN")
    assert summary(follow(anonymous, page_size=100))[-1] == ("actors", "CHN", "created")


# --- concurrent writers (PostgreSQL: transactions commit in any order) --------------------------


COMMIT = object()


class Writer(threading.Thread):
    """One transaction on its own connection, moved forward a statement at a time by the test,
    so the test decides the order in which transactions begin, write and commit."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.outbox: queue.Queue[BaseException | None] = queue.Queue()

    def run(self) -> None:
        try:
            with transaction.atomic():
                while (action := self.inbox.get()) is not COMMIT:
                    try:
                        action()
                    except BaseException as error:  # handed to the test thread
                        self.outbox.put(error)
                        raise
                    self.outbox.put(None)
            self.outbox.put(None)
        finally:
            connection.close()

    def do(self, action: Any) -> None:
        self.inbox.put(action)
        error = self.outbox.get(timeout=10)
        if error is not None:
            raise error

    def commit(self) -> None:
        self.do(COMMIT)


def take_transaction_id() -> None:
    """Make the transaction start now, as far as PostgreSQL's ordering is concerned."""
    with connection.cursor() as db:
        db.execute("SELECT pg_current_xact_id()")


def add_actor(code: str) -> Callable[[], None]:
    # A plain create: factories use savepoints, whose rows carry a later, inner transaction
    # number, and this test needs the outer transaction's order.
    return lambda: Actor.objects.create(code=code, name=code) and None


@pytest.fixture
def writers(postgres_only: None) -> Iterator[tuple[Writer, Writer]]:
    pair = Writer(), Writer()
    for writer in pair:
        writer.start()
    yield pair
    for writer in pair:
        if writer.is_alive():
            writer.inbox.put(COMMIT)
            writer.join(timeout=10)


def test_a_transaction_that_commits_late_is_not_skipped(
    anonymous: APIClient, writers: tuple[Writer, Writer]
) -> None:
    """A draws the lower history id but commits after B. B is served first, and A still
    arrives afterwards, where a cursor of history ids would have stepped over it."""
    a, b = writers
    b.do(take_transaction_id)  # B is the older transaction
    a.do(take_transaction_id)
    a.do(add_actor("USA"))
    b.do(add_actor("RUS"))
    b.commit()
    first = feed(anonymous)
    assert summary(first["results"]) == [("actors", "RUS", "created")]

    a.commit()
    second = feed(anonymous, since=first["next_cursor"])

    assert summary(second["results"]) == [("actors", "USA", "created")]
    history = Actor.history.model.objects
    assert history.get(code="USA").history_id < history.get(code="RUS").history_id


def test_a_change_waits_while_an_older_transaction_runs(
    anonymous: APIClient, writers: tuple[Writer, Writer]
) -> None:
    a, b = writers
    a.do(take_transaction_id)  # A is the older transaction
    b.do(take_transaction_id)
    b.do(add_actor("RUS"))
    b.commit()
    a.do(add_actor("USA"))

    held = feed(anonymous)
    assert held["results"] == []  # RUS waits: A, older, might still write before it

    a.commit()
    page = feed(anonymous, since=held["next_cursor"])
    # One window now holds both, each table in the order its rows were written.
    assert summary(page["results"]) == [("actors", "RUS", "created"), ("actors", "USA", "created")]


def test_rows_written_in_a_savepoint_carry_the_outer_transaction_number(
    postgres_only: None,
) -> None:
    with transaction.atomic():
        with connection.cursor() as db:
            db.execute("SELECT pg_current_xact_id()::text::bigint")
            (outer,) = db.fetchone()
        ActorFactory.create(code="USA")  # factories write inside a savepoint
        with transaction.atomic():
            ActorFactory.create(code="RUS")

    assert list(ChangeLog.objects.values_list("txid", flat=True)) == [outer, outer]


def test_a_late_transaction_paged_one_change_at_a_time_arrives_whole_and_in_order(
    anonymous: APIClient, writers: tuple[Writer, Writer]
) -> None:
    a, b = writers
    a.do(take_transaction_id)  # A is older and commits last
    b.do(take_transaction_id)
    for code in ("USA", "RUS"):
        a.do(add_actor(code))
        b.do(add_actor(code + "X"))
    b.commit()
    held = follow(anonymous, page_size=1)
    assert held == []  # A, older, is still running

    a.do(add_actor("CHN"))
    a.commit()
    ActorFactory.create(code="FRA")  # a later transaction, for the next window
    entries = held + follow(anonymous, page_size=1)

    # One window holds A and B, in the order their rows were written; then the next.
    assert [e["key"] for e in entries] == ["USA", "USAX", "RUS", "RUSX", "CHN", "FRA"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables to alter them")
def test_a_change_log_trigger_lost_in_a_table_rebuild_comes_back_after_migrating() -> None:
    from django.core.management import call_command

    from proposals.changefeed import ensure_sqlite_triggers

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER changelog_events")  # as an ALTER TABLE rebuild would
    EventFactory()
    assert not ChangeLog.objects.filter(table="events").exists()

    call_command("migrate", verbosity=0)  # the post_migrate handler puts it back

    assert ensure_sqlite_triggers(connection) == []  # nothing left missing
    EventFactory()
    assert ChangeLog.objects.filter(table="events").count() == 1
