"""Full-text search of measures: one meaning of ``?q=`` on both databases, each from an index.

**PostgreSQL.** ``proposals_measure.search_vector`` is a stored generated column (migration
0006): ``setweight(to_tsvector('english', title), 'A') || … venue 'B' || … summary 'C'``, with a
GIN index. The database computes it from the row on every write, whatever makes the write (the
ORM, a bulk update, an import, a history revert, raw SQL), so it cannot drift from the columns.
A search is ``search_vector @@ websearch_to_tsquery('english', q)``. Its rank's groups (the title
alone matches, the venue alone does, the rest: ``MeasureQuerySet.search``) are
``ts_filter(search_vector, '{a}') @@ …`` and ``'{b}'``, each with its own GIN index (migration
0010), so that a group is read in the default order by an index whether it is common or rare.

The column is not a field of ``Measure``: a ``GeneratedField`` over ``SearchVector`` exists only
on PostgreSQL, so the models (and their migrations) could not be the same on both databases, and
every measure read, the audit history and the export would carry the vector. ``stored_vector()``
reads the column under whatever alias the query gives the measure table.

**SQLite.** ``proposals_measure_fts`` is an FTS5 table over the same three columns (title, venue,
summary; Porter stemming, case and diacritics folded), holding no copy of the text
(``content='proposals_measure'``) and kept in step by three triggers on ``proposals_measure``, so
that every write reaches it too. ``ensure_sqlite_index`` restores the triggers after a migration
that rebuilt the measure table (SQLite's way of altering a column drops a table's triggers).
A group of the rank is the same query restricted to one column (``{title} : (…)``).

**The query language** is PostgreSQL's web-search syntax, translated for FTS5 by ``parse`` and
``fts5_match``: words must all appear (stemmed: *launches* finds *launch*); ``"a phrase"`` must
appear as written; ``or`` between words or phrases gives alternatives; ``-word`` or
``-"a phrase"`` excludes; every other character separates words. English stop words (*the*, *of*)
are left out of the words, as PostgreSQL does. The translation quotes every word, so no user text
can reach FTS5 as syntax. Known differences, documented in ``docs/data-semantics.md``: the two
stemmers differ in details, and a phrase with stop words inside must match them exactly on SQLite
(PostgreSQL allows any word in their place).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Col

SEARCH_VECTOR_COLUMN = "search_vector"
FTS_TABLE = "proposals_measure_fts"

# PostgreSQL's ``english`` stop words (tsearch_data/english.stop), which its parser drops from
# documents and queries alike.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did doing
    a an the and but if or because as until while of at by for with about against between into
    through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t can will just don should now
    """.split()  # noqa: SIM905 - the list as PostgreSQL's file writes it
)


# --- the query language -------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word or a phrase (consecutive words), possibly excluded."""

    words: tuple[str, ...]
    excluded: bool = False


def _is_word_character(character: str) -> bool:
    # FTS5's unicode61 tokenizer: letters, numbers and private-use characters make words;
    # combining marks belong to the letter they follow (they are folded away).
    category = unicodedata.category(character)
    return category[0] in "LNM" or category == "Co"


def words_of(text: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for character in text:
        if _is_word_character(character):
            current.append(character)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def parse(text: str) -> list[list[Term]]:
    """The alternatives (``or``) of the query, each a list of terms that must all hold."""
    text = unicodedata.normalize("NFC", text)
    alternatives: list[list[Term]] = [[]]
    i, end = 0, len(text)
    while i < end:
        if text[i].isspace():
            i += 1
            continue
        excluded = False
        if text[i] == "-":
            while i < end and text[i] == "-":
                i += 1
            if i == end or text[i].isspace():
                continue
            excluded = True
        if text[i] == '"':
            closing = text.find('"', i + 1)
            closing = end if closing == -1 else closing
            chunk, quoted, i = text[i + 1 : closing], True, closing + 1
        else:
            start = i
            while i < end and not text[i].isspace() and text[i] != '"':
                i += 1
            chunk, quoted = text[start:i], False
        if not quoted and not excluded and chunk.lower() == "or":
            if alternatives[-1]:
                alternatives.append([])
            continue
        words = tuple(words_of(chunk))
        if words and not all(word.lower() in STOP_WORDS for word in words):
            alternatives[-1].append(Term(words, excluded))
    return [terms for terms in alternatives if terms]


def _fts5_phrase(term: Term) -> str:
    # A double-quoted FTS5 string: everything inside is text, never syntax; the words hold no
    # quote (``words_of`` keeps only letters, numbers and marks).
    return '"' + " ".join(term.words) + '"'


def _fts5_any(terms: list[Term]) -> str:
    return " OR ".join(_fts5_phrase(term) for term in terms)


@dataclass(frozen=True)
class FTS5Query:
    """``matching``: the FTS5 query of the alternatives that name a word to find (None: none
    does). ``excluding``: one FTS5 query per alternative made only of exclusions, which holds
    for the measures that do *not* match it. A measure is found if it satisfies any of them."""

    matching: str | None
    excluding: tuple[str, ...]


def fts5_match(text: str) -> FTS5Query:
    matching: list[str] = []
    excluding: list[str] = []
    for terms in parse(text):
        wanted = [term for term in terms if not term.excluded]
        unwanted = [term for term in terms if term.excluded]
        if not wanted:
            excluding.append(_fts5_any(unwanted))
            continue
        expression = " AND ".join(_fts5_phrase(term) for term in wanted)
        if unwanted:
            expression = f"({expression}) NOT ({_fts5_any(unwanted)})"
        matching.append(f"({expression})")
    return FTS5Query(" OR ".join(matching) or None, tuple(excluding))


def fts5_in_column(query: str, column: str) -> str:
    """``query`` (an FTS5 expression from ``fts5_match``) satisfied by one column alone."""
    return f"{{{column}}} : ({query})"


# --- PostgreSQL ---------------------------------------------------------------------------------


POSTGRES_INSTALL = [
    """ALTER TABLE proposals_measure ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
            || setweight(to_tsvector('english'::regconfig, coalesce(venue, '')), 'B')
            || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'C')
        ) STORED""",
    "CREATE INDEX proposals_measure_search ON proposals_measure USING gin (search_vector)",
    # Statistics of the new column, so that the planner's first estimates of a search are sound.
    "ANALYZE proposals_measure",
]
POSTGRES_UNINSTALL = [
    "DROP INDEX IF EXISTS proposals_measure_search",
    "ALTER TABLE proposals_measure DROP COLUMN IF EXISTS search_vector",
]


class StoredVector(models.Expression):
    """The measure row's ``search_vector`` column, under the alias the query gives the table
    (a subquery renames it)."""

    output_field = SearchVectorField()

    def resolve_expression(  # type: ignore[override]  # resolves to a column, as F() does
        self, query: Any = None, *args: Any, **kwargs: Any
    ) -> Col:
        column = SearchVectorField()
        column.set_attributes_from_name(SEARCH_VECTOR_COLUMN)
        column.model = query.model  # a column of the measure table, for the expression's identity
        return Col(query.get_initial_alias(), column, SearchVectorField())


# --- SQLite -------------------------------------------------------------------------------------


class FTS5Document(models.TextField):
    """The hidden column of an FTS5 table named after the table: ``document__match=`` is its
    ``MATCH``."""


@FTS5Document.register_lookup
class Match(models.Lookup):
    lookup_name = "match"

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


_SQLITE_TRIGGERS = {
    "proposals_measure_fts_insert": """
        CREATE TRIGGER IF NOT EXISTS proposals_measure_fts_insert
        AFTER INSERT ON proposals_measure BEGIN
            INSERT INTO proposals_measure_fts (rowid, title, venue, summary)
            VALUES (new.id, new.title, new.venue, new.summary);
        END""",
    "proposals_measure_fts_delete": """
        CREATE TRIGGER IF NOT EXISTS proposals_measure_fts_delete
        AFTER DELETE ON proposals_measure BEGIN
            INSERT INTO proposals_measure_fts (proposals_measure_fts, rowid, title, venue, summary)
            VALUES ('delete', old.id, old.title, old.venue, old.summary);
        END""",
    "proposals_measure_fts_update": """
        CREATE TRIGGER IF NOT EXISTS proposals_measure_fts_update
        AFTER UPDATE OF id, title, venue, summary ON proposals_measure BEGIN
            INSERT INTO proposals_measure_fts (proposals_measure_fts, rowid, title, venue, summary)
            VALUES ('delete', old.id, old.title, old.venue, old.summary);
            INSERT INTO proposals_measure_fts (rowid, title, venue, summary)
            VALUES (new.id, new.title, new.venue, new.summary);
        END""",
}
_SQLITE_REBUILD = "INSERT INTO proposals_measure_fts (proposals_measure_fts) VALUES ('rebuild')"

SQLITE_INSTALL = [
    """CREATE VIRTUAL TABLE proposals_measure_fts USING fts5(
        title, venue, summary,
        content='proposals_measure',
        content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    # The table's ``rank`` column: bm25 with PostgreSQL's weights for A, B and C.
    "INSERT INTO proposals_measure_fts (proposals_measure_fts, rank) "
    "VALUES ('rank', 'bm25(1.0, 0.4, 0.2)')",
    *_SQLITE_TRIGGERS.values(),
    _SQLITE_REBUILD,
]
SQLITE_UNINSTALL = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS),
    "DROP TABLE IF EXISTS proposals_measure_fts",
]


def ensure_sqlite_index(connection: BaseDatabaseWrapper) -> bool:
    """Restore the triggers a rebuild of ``proposals_measure`` dropped, and re-index what was
    written meanwhile. True when something was missing."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE %s",
            [f"{FTS_TABLE}%"],
        )
        present = {row[0] for row in cursor.fetchall()}
        if FTS_TABLE not in present:
            return False  # not migrated this far (or unmigrated): the migration installs it
        missing = [sql for name, sql in _SQLITE_TRIGGERS.items() if name not in present]
        for sql in missing:
            cursor.execute(sql)
        if missing:
            cursor.execute(_SQLITE_REBUILD)
    return bool(missing)


class WeightFilter(models.Func):
    """``ts_filter(vector, '{a}')``: the part of a vector written with one weight (A: the title,
    B: the venue), as the expression indexes of ``POSTGRES_TIER_INDEXES`` hold it (the weight is
    written into the SQL, not passed as a parameter, so that the index matches)."""

    function = "ts_filter"
    output_field = SearchVectorField()

    def __init__(self, vector: Any, weight: str) -> None:
        if weight not in ("a", "b", "c", "d"):
            raise ValueError(f"not a weight: {weight!r}")
        super().__init__(vector, template=f"%(function)s(%(expressions)s, '{{{weight}}}')")
