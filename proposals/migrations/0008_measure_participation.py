"""Today's participations, stored (``MeasureParticipation``, kept by ``proposals.derived``), and
their backfill: every measure's participations on the day the migration runs, derived by the
rules of ``proposals.status`` from the events, scopes, named parties and successors as they are,
read here through the migration's own models, a thousand measures at a time. The indexes are
built after the rows are in. The daily job (and any write) keeps the rows current from then on.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

BATCH = 1000


def backfill(apps, schema_editor):
    from proposals import status as rules

    alias = schema_editor.connection.alias
    Actor = apps.get_model("proposals", "Actor")
    Measure = apps.get_model("proposals", "Measure")
    MeasureParty = apps.get_model("proposals", "MeasureParty")
    Event = apps.get_model("proposals", "Event")
    MeasureParticipation = apps.get_model("proposals", "MeasureParticipation")
    on = timezone.localdate()
    successor_of, actor_ids = {}, {}
    for pk, code, successor in Actor._default_manager.using(alias).values_list(
        "pk", "code", "successor__code"
    ):
        actor_ids[code] = pk
        if successor:
            successor_of[code] = successor
    ids = list(Measure._default_manager.using(alias).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        first, last = ids[start], ids[min(start + BATCH, len(ids)) - 1]
        span = {"measure_id__gte": first, "measure_id__lte": last}
        parties = {}
        for measure_id, code in (
            MeasureParty._default_manager.using(alias)
            .filter(**span)
            .values_list("measure_id", "actor__code")
        ):
            parties.setdefault(measure_id, set()).add(code)
        facts = {}
        for measure_id, kind, date, actor_code, pk, precision, certainty in (
            Event._default_manager.using(alias)
            .filter(**span)
            .values_list(
                "measure_id", "kind", "date", "actor__code", "pk", "date_precision", "certainty"
            )
        ):
            facts.setdefault(measure_id, []).append(
                rules.EventFact(kind, date, actor_code, pk, precision, certainty)
            )
        rows = []
        for measure_id, scope in (
            Measure._default_manager.using(alias)
            .filter(pk__gte=first, pk__lte=last)
            .values_list("pk", "scope")
        ):
            answers = rules.participations_on(
                facts.get(measure_id, []),
                on=on,
                successor_of=successor_of,
                measure=rules.MeasureFacts(scope, frozenset(parties.get(measure_id, ()))),
            )
            for code, answer in answers.items():
                if answer.certain:
                    value, possible = str(answer.value), ""
                else:
                    values = ",".join(str(v) if v else "none" for v in answer.possible)
                    value, possible = "", f",{values},"
                rows.append(
                    MeasureParticipation(
                        measure_id=measure_id,
                        actor_id=actor_ids[code],
                        participation=value,
                        possible=possible,
                        basis=answer.basis or "",
                    )
                )
        MeasureParticipation._default_manager.using(alias).bulk_create(rows, batch_size=5000)
    if schema_editor.connection.vendor == "postgresql":
        # The rows' deferred foreign-key checks, now: PostgreSQL alters no table (the unique
        # constraint below) with checks pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('proposals', '0007_change_log'),
    ]

    operations = [
        migrations.CreateModel(
            name='MeasureParticipation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('participation', models.CharField(blank=True, choices=[('signatory', 'Signatory'), ('party', 'Party'), ('suspended', 'Suspended'), ('withdrawn', 'Withdrawn'), ('ended', 'Ended')], help_text="Today's participation when certain; empty while uncertain.", max_length=16)),
                ('possible', models.CharField(blank=True, help_text="While today's participation is uncertain (a coarse date), every value it may have, as ,none,party, (none: no participation yet); empty when certain.", max_length=120)),
                ('basis', models.CharField(blank=True, choices=[('confirmed', 'Confirmed'), ('reported', 'Reported'), ('disputed', 'Disputed')], help_text='The weakest certainty of the events the answer rests on; empty: none.', max_length=16)),
                ('actor', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participation_rows', to='proposals.actor')),
                ('measure', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participation_rows', to='proposals.measure')),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='measureparticipation',
            index=models.Index(fields=['actor', 'participation', 'measure'], name='participation_actor_value'),
        ),
        migrations.AddConstraint(
            model_name='measureparticipation',
            constraint=models.UniqueConstraint(fields=('measure', 'actor'), name='unique_measure_participation'),
        ),
    ]
