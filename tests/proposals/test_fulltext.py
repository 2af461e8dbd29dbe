"""The web-search syntax translated for FTS5, and SQLite's index kept in step by its triggers.

These run on a SQLite database of their own, whatever ``DATABASE_URL`` says, so that the SQLite
side is checked on every run, PostgreSQL's included."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from proposals import fulltext
from proposals.fulltext import Term
from tests.proposals.api.test_search import GARBAGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("launch", [[Term(("launch",))]]),
        ("missile launches", [[Term(("missile",)), Term(("launches",))]]),
        ('"crisis hotline"', [[Term(("crisis", "hotline"))]]),
        ('"unterminated phrase', [[Term(("unterminated", "phrase"))]]),
        ("crisis -hotline", [[Term(("crisis",)), Term(("hotline",), excluded=True)]]),
        ('-"crisis hotline"', [[Term(("crisis", "hotline"), excluded=True)]]),
        ("a or b", [[Term(("b",))]]),  # "a" is a stop word
        ("hotline OR zone", [[Term(("hotline",))], [Term(("zone",))]]),
        ("or hotline or or", [[Term(("hotline",))]]),
        ("intermediate-range", [[Term(("intermediate", "range"))]]),
        ("NEAR(a b, 2)", [[Term(("NEAR", "a")), Term(("b",)), Term(("2",))]]),
        ("title:x^ y*", [[Term(("title", "x")), Term(("y",))]]),
        ("the of", []),
        ("- -- *", []),
        ("e\u0301t\u00e9", [[Term(("\u00e9t\u00e9",))]]),  # composed, as FTS5 reads it
    ],
)
def test_it_parses(text: str, expected: list[list[Term]]) -> None:
    assert fulltext.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "matching", "excluding"),
    [
        ("launch", '("launch")', ()),
        ("missile launches", '("missile" AND "launches")', ()),
        ('crisis -"hotline test"', '(("crisis") NOT ("hotline test"))', ()),
        ("hotline or zone", '("hotline") OR ("zone")', ()),
        ("-hotline -zone", None, ('"hotline" OR "zone"',)),
        ("missile or -crisis", '("missile")', ('"crisis"',)),
        ("the", None, ()),
    ],
)
def test_it_writes_fts5_queries(text: str, matching: str | None, excluding: tuple[str]) -> None:
    assert fulltext.fts5_match(text) == fulltext.FTS5Query(matching, excluding)


# --- against a real FTS5 index ------------------------------------------------------------------


@pytest.fixture
def index() -> Iterator[sqlite3.Connection]:
    """A measure table with only the searched columns, and the migration's index over it."""
    database = sqlite3.connect(":memory:")
    database.execute(
        "CREATE TABLE proposals_measure (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
        "venue TEXT NOT NULL, summary TEXT NOT NULL)"
    )
    database.execute(
        "INSERT INTO proposals_measure VALUES (1, 'Launch notification', '', 'Before the index.')"
    )
    for sql in fulltext.SQLITE_INSTALL:
        database.execute(sql)
    yield database
    database.close()


def matches(database: sqlite3.Connection, fts5_query: str) -> set[int]:
    rows = database.execute(
        "SELECT rowid FROM proposals_measure_fts WHERE proposals_measure_fts MATCH ?", [fts5_query]
    )
    return {row[0] for row in rows}


def search(database: sqlite3.Connection, text: str) -> set[int]:
    """What ``MeasureQuerySet.search`` finds on SQLite, in plain SQL."""
    query = fulltext.fts5_match(text)
    found = matches(database, query.matching) if query.matching else set()
    for unwanted in query.excluding:
        everything = {row[0] for row in database.execute("SELECT id FROM proposals_measure")}
        found |= everything - matches(database, unwanted)
    return found


def test_the_migration_indexes_the_rows_already_there(index: sqlite3.Connection) -> None:
    assert search(index, "notifications") == {1}


def test_the_triggers_follow_inserts_updates_and_deletes(index: sqlite3.Connection) -> None:
    index.execute("INSERT INTO proposals_measure VALUES (2, 'Crisis hotline', 'Geneva', '')")
    index.execute("UPDATE proposals_measure SET title = 'Seabed accord' WHERE id = 1")
    assert search(index, "hotline geneva") == {2}
    assert search(index, "seabed") == {1}
    assert search(index, "launch") == set()
    index.execute("DELETE FROM proposals_measure WHERE id = 2")
    assert search(index, "hotline") == set()
    # FTS5's own check that the index holds exactly the table's rows.
    index.execute(
        "INSERT INTO proposals_measure_fts (proposals_measure_fts) VALUES ('integrity-check')"
    )


@pytest.mark.parametrize("text", GARBAGE)
def test_no_text_is_an_fts5_syntax_error(index: sqlite3.Connection, text: str) -> None:
    search(index, text)  # sqlite3.OperationalError would fail the test


def test_no_random_text_is_an_fts5_syntax_error(index: sqlite3.Connection) -> None:
    alphabet = [*"\"-*:^()+'\\{}[]<>&|!~.,;?@#$%=_/ \t", "NEAR", "OR", "AND", "NOT", "x"]
    alphabet += ["é", "\u0301", "日", "🙂", "\u200b", "²"]
    rng = random.Random(7)  # noqa: S311 - a fixed seed: the same texts on every run
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        try:
            search(index, text)
        except sqlite3.OperationalError as error:
            pytest.fail(f"{text!r}: {error}")


def test_the_bm25_rank_weighs_title_over_venue_over_summary(index: sqlite3.Connection) -> None:
    index.execute("DELETE FROM proposals_measure")
    rows = [
        (1, "Other", "", "verification"),
        (2, "Other", "verification", ""),
        (3, "verification", "", ""),
        *[(i, "Filler", "", "") for i in range(4, 10)],
    ]
    index.executemany("INSERT INTO proposals_measure VALUES (?, ?, ?, ?)", rows)
    ranked = index.execute(
        "SELECT rowid FROM proposals_measure_fts WHERE proposals_measure_fts MATCH ? ORDER BY rank",
        ['"verification"'],
    )
    assert [row[0] for row in ranked] == [3, 2, 1]


# --- after a migration that rebuilt the measure table -------------------------------------------


@pytest.fixture
def sqlite_connection(tmp_path: Path, django_db_blocker: Any) -> Iterator[BaseDatabaseWrapper]:
    """A Django connection to a new SQLite file, beside the test database."""
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}}
    )
    with django_db_blocker.unblock():
        yield handler["default"]
        handler["default"].close()


def test_lost_triggers_are_restored_and_the_index_rebuilt(
    sqlite_connection: BaseDatabaseWrapper,
) -> None:
    with sqlite_connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE proposals_measure (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
            "venue TEXT NOT NULL, summary TEXT NOT NULL)"
        )
        for sql in fulltext.SQLITE_INSTALL:
            cursor.execute(sql)
        assert not fulltext.ensure_sqlite_index(sqlite_connection)  # nothing missing
        # What SQLite's table rebuild leaves: the same table, without its triggers.
        for name in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER proposals_measure_fts_{name}")
        cursor.execute("INSERT INTO proposals_measure VALUES (1, 'Written meanwhile', '', '')")

        assert fulltext.ensure_sqlite_index(sqlite_connection)

        cursor.execute("INSERT INTO proposals_measure VALUES (2, 'Written after', '', '')")
        cursor.execute(
            "SELECT rowid FROM proposals_measure_fts WHERE proposals_measure_fts MATCH %s",
            ['"written"'],
        )
        assert {row[0] for row in cursor.fetchall()} == {1, 2}


def test_a_database_without_the_index_is_left_alone(
    sqlite_connection: BaseDatabaseWrapper,
) -> None:
    assert not fulltext.ensure_sqlite_index(sqlite_connection)
    with sqlite_connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master")
        assert cursor.fetchone()[0] == 0
