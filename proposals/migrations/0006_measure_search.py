"""The full-text index of measures (``proposals.fulltext``), made by the database itself.

PostgreSQL: a stored generated column ``search_vector`` (title A, venue B, summary C, ``english``)
with a GIN index; adding it rewrites the measure table once. While it exists, PostgreSQL refuses
to change the type of title, venue or summary: a later migration that does must drop the column
first and add it again (``fulltext.POSTGRES_UNINSTALL`` / ``POSTGRES_INSTALL``).

SQLite: an FTS5 table over the same columns, three triggers that keep it in step, and a first
build of it from the existing rows. ``MeasureText`` is the model of that table (unmanaged: no
database operation of Django's touches it); it is declared on both databases so that their
migration states are the same.
"""

import django.db.models.deletion
from django.db import migrations, models

import proposals.fulltext
from proposals import fulltext


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": fulltext.POSTGRES_INSTALL, "sqlite": fulltext.SQLITE_INSTALL}
    for sql in statements.get(vendor, []):
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": fulltext.POSTGRES_UNINSTALL, "sqlite": fulltext.SQLITE_UNINSTALL}
    for sql in statements.get(vendor, []):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('proposals', '0005_scale_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='MeasureText',
            fields=[
                ('measure', models.OneToOneField(db_column='rowid', db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='search_entry', serialize=False, to='proposals.measure')),
                ('document', proposals.fulltext.FTS5Document(db_column='proposals_measure_fts')),
                ('rank', models.FloatField()),
            ],
            options={
                'db_table': 'proposals_measure_fts',
                'managed': False,
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
