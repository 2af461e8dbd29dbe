"""The indexes of the search's ranking (``MeasureQuerySet.search``), on PostgreSQL.

A search ranks first the measures whose title alone satisfies the query, then those whose venue
alone does, then the rest, each group in the default order. Two GIN indexes over the title part
and the venue part of the stored ``search_vector`` (``ts_filter`` keeps the lexemes of one weight:
A is the title, B the venue) find the first two groups; the existing index finds the rest. Both
follow the column, which the database computes on every write. ``ANALYZE`` gives the planner the
statistics of the two expressions, so that it knows how common a word is in titles and venues.

Nothing on SQLite: its FTS5 table restricts a query to a column by itself. (A later migration
that drops ``search_vector`` to change a column's type drops these indexes with it, and must
create them again.)
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX measure_search_title ON proposals_measure "
    "USING gin (ts_filter(search_vector, '{a}'))",
    "CREATE INDEX measure_search_venue ON proposals_measure "
    "USING gin (ts_filter(search_vector, '{b}'))",
    "ANALYZE proposals_measure",
]
DROP = [
    "DROP INDEX IF EXISTS measure_search_title",
    "DROP INDEX IF EXISTS measure_search_venue",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("proposals", "0009_parameters_read_back"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
