"""GET /api/v1/changes/: every create, update and delete, in order, through a cursor that never
skips or repeats a change.

These tests commit their writes (``transaction=True``): on PostgreSQL the feed serves a change
only once the transaction that made it has finished, as a client would see it.
"""

from __future__ import annotations

import datetime
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from proposals.changefeed import Cursor, changes_since
from proposals.models import Actor, Category, Measure
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
    # history rows of measures, actors, sources, events, positions and citations (six); the
    # previous versions of the updated measures, and of the updated actors; the categories of
    # those measure versions; the slugs and codes that name the events' and positions' measures
    # and actors.
    expected = 11 + (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        page = changes_since(Cursor(), limit=1000)
    # Per size: a measure created, given its categories and renamed; an actor created and
    # renamed; an event, a position, a source and a citation created.
    assert len(page.changes) == size * 9


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
