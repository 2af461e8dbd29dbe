"""Source URLs are stored as cited; duplicates are matched on a stored key instead.

Adds ``Source.url_key`` (``tracker.urlnorm.url_match_key`` of the URL), fills it for every
source, then makes it unique in place of ``url``. URLs stored before this migration were
rewritten when saved and stay as they are: what a curator first typed is not known any more.
"""

from django.db import migrations, models

from tracker.urlnorm import url_match_key

BATCH = 1000


def fill_keys(apps, schema_editor):
    Source = apps.get_model("tracker", "Source")
    seen = {}
    batch = []
    for source in Source.objects.order_by("pk").only("pk", "url").iterator(chunk_size=BATCH):
        source.url_key = url_match_key(source.url)
        if source.url_key in seen:
            raise RuntimeError(
                f"Sources {seen[source.url_key]} and {source.pk} cite the same address "
                f"({source.url_key}); merge them (move the citations, delete one), then migrate."
            )
        seen[source.url_key] = source.pk
        batch.append(source)
        if len(batch) == BATCH:
            Source.objects.bulk_update(batch, ["url_key"])
            batch = []
    Source.objects.bulk_update(batch, ["url_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0003_sourcecheck_outcome_failed"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="url_key",
            field=models.CharField(default="", editable=False, max_length=2000),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="source",
            name="url_key",
            field=models.CharField(editable=False, max_length=2000, unique=True),
        ),
        migrations.AddConstraint(
            model_name="source",
            constraint=models.CheckConstraint(
                condition=models.Q(("url_key", ""), _negated=True), name="source_url_key_set"
            ),
        ),
        migrations.AlterField(
            model_name="historicalsource",
            name="url",
            field=models.URLField(
                help_text="The address as cited; stored and fetched exactly as given.",
                max_length=2000,
            ),
        ),
        migrations.AlterField(
            model_name="source",
            name="url",
            field=models.URLField(
                help_text="The address as cited; stored and fetched exactly as given.",
                max_length=2000,
            ),
        ),
    ]
