"""Who is involved in each measure, stored (``MeasureInvolvement``, kept by
``proposals.derived``), and its backfill: one ``INSERT … SELECT`` of the distinct (measure,
actor) pairs of the events with an actor, the positions and the named parties, the same on
SQLite and PostgreSQL. The unique constraint and the index are built after the rows are in.
Every write keeps the rows current from then on.
"""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    table = {
        name: quote(apps.get_model("proposals", name)._meta.db_table)
        for name in ("MeasureInvolvement", "Event", "Position", "MeasureParty")
    }
    # UNION, not UNION ALL: each pair once.
    schema_editor.execute(
        f"INSERT INTO {table['MeasureInvolvement']} (measure_id, actor_id) "
        f"SELECT measure_id, actor_id FROM {table['Event']} WHERE actor_id IS NOT NULL "
        f"UNION SELECT measure_id, actor_id FROM {table['Position']} "
        f"UNION SELECT measure_id, actor_id FROM {table['MeasureParty']}"
    )
    if schema_editor.connection.vendor == "postgresql":
        # The rows' deferred foreign-key checks, now: PostgreSQL alters no table (the unique
        # constraint below) with checks pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('proposals', '0012_derived_spans'),
    ]

    operations = [
        migrations.CreateModel(
            name='MeasureInvolvement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('actor', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='involvement_rows', to='proposals.actor')),
                ('measure', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='involvement_rows', to='proposals.measure')),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='measureinvolvement',
            constraint=models.UniqueConstraint(fields=('measure', 'actor'), name='unique_measure_involvement'),
        ),
        migrations.AddIndex(
            model_name='measureinvolvement',
            index=models.Index(fields=['actor', 'measure'], name='involvement_actor_measure'),
        ),
    ]
