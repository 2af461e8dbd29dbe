"""The change log: one row per audit-history row, written by triggers on the history tables in the
transaction that writes the history row, and backfilled from the history already there.

PostgreSQL: one statement-level trigger per history table records the rows a statement inserted
with ``pg_current_xact_id()``. The triggers are created before the backfill: creating one waits
for every transaction writing that table to finish, and holds back new writers until this
migration commits, so the backfill sees every history row written without a trigger and no row
is logged twice.

SQLite: one row-level trigger per history table; ``txid`` is 0 (see ``proposals.changefeed``).

The backfill streams each history table in history-id order and merges them by time, as the feed
served them before the log existed (ties: a measure before its events, positions and citations),
writing the log in batches. On PostgreSQL each row's transaction number is its ``xmin`` widened
to 64 bits: the nearest transaction at or before the newest one that may have written it.
"""

import heapq
from itertools import islice

from django.db import migrations, models
from django.db.models import BigIntegerField, Value
from django.db.models.expressions import RawSQL

# Feed name, app, historical model; in the order that breaks ties between rows of one instant.
HISTORY = [
    ("measures", "proposals", "HistoricalMeasure"),
    ("actors", "proposals", "HistoricalActor"),
    ("sources", "tracker", "HistoricalSource"),
    ("events", "proposals", "HistoricalEvent"),
    ("positions", "proposals", "HistoricalPosition"),
    ("citations", "proposals", "HistoricalCitation"),
]
BATCH = 5000

POSTGRESQL_FUNCTION = """
CREATE FUNCTION proposals_changelog_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO proposals_changelog ("table", history_id, txid, at)
    SELECT TG_ARGV[0], history_id, pg_current_xact_id()::text::bigint, history_date
    FROM written ORDER BY history_id;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGER = """
CREATE TRIGGER changelog_{name} AFTER INSERT ON {table}
REFERENCING NEW TABLE AS written
FOR EACH STATEMENT EXECUTE FUNCTION proposals_changelog_write('{name}')
"""
SQLITE_TRIGGER = """
CREATE TRIGGER changelog_{name} AFTER INSERT ON {table}
BEGIN
    INSERT INTO proposals_changelog ("table", history_id, txid, at)
    VALUES ('{name}', NEW.history_id, 0, NEW.history_date);
END
"""


def history_tables(apps):
    for name, app, model in HISTORY:
        yield name, apps.get_model(app, model)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION)
        template = POSTGRESQL_TRIGGER
    elif vendor == "sqlite":
        template = SQLITE_TRIGGER
    else:
        raise NotImplementedError(f"the change log has no triggers for {vendor}")
    quote = schema_editor.quote_name
    for name, history in history_tables(apps):
        schema_editor.execute(template.format(name=name, table=quote(history._meta.db_table)))


def drop_triggers(apps, schema_editor):
    quote = schema_editor.quote_name
    postgresql = schema_editor.connection.vendor == "postgresql"
    for name, history in history_tables(apps):
        on_table = f" ON {quote(history._meta.db_table)}" if postgresql else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS changelog_{name}{on_table}")
    if postgresql:
        schema_editor.execute("DROP FUNCTION IF EXISTS proposals_changelog_write()")


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    ChangeLog = apps.get_model("proposals", "ChangeLog")
    newest = None
    if connection.vendor == "postgresql":
        with connection.cursor() as db:
            # Every row this migration can see was written by a transaction before this one.
            db.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1")
            (newest,) = db.fetchone()

    def stream(rank, name, history):
        rows = history._default_manager.using(connection.alias).order_by("history_id")
        if newest is None:
            txid = Value(0, output_field=BigIntegerField())
        else:
            column = f"{connection.ops.quote_name(history._meta.db_table)}.xmin"
            txid = RawSQL(
                f"%s - ((%s - ({column}::text::bigint) + 4294967296) %% 4294967296)",
                (newest, newest % 4294967296),
                output_field=BigIntegerField(),
            )
        rows = rows.annotate(txid=txid).values_list("history_date", "history_id", "txid")
        for at, history_id, number in rows.iterator(chunk_size=BATCH):
            yield at, rank, history_id, name, number

    merged = heapq.merge(
        *(stream(rank, name, history) for rank, (name, history) in enumerate(history_tables(apps)))
    )
    while batch := list(islice(merged, BATCH)):
        ChangeLog._default_manager.using(connection.alias).bulk_create(
            ChangeLog(table=name, history_id=history_id, txid=number, at=at)
            for at, _rank, history_id, name, number in batch
        )


class Migration(migrations.Migration):

    dependencies = [
        ("proposals", "0006_measure_search"),
        ("tracker", "0005_sourcecheck_checked_at_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeLog",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "table",
                    models.CharField(
                        choices=[
                            ("measures", "Measures"),
                            ("actors", "Actors"),
                            ("sources", "Sources"),
                            ("events", "Events"),
                            ("positions", "Positions"),
                            ("citations", "Citations"),
                        ],
                        max_length=16,
                    ),
                ),
                ("history_id", models.BigIntegerField()),
                ("txid", models.BigIntegerField()),
                ("at", models.DateTimeField(help_text="The history row's ``history_date``.")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["txid", "id"], name="changelog_txid_id"),
                    models.Index(fields=["at"], name="changelog_at"),
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
