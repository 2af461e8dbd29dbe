from django.db import migrations

CODES = [
    "hotline",
    "launch_notification",
    "deployment_zone_limit",
    "arms_limit",
    "transparency",
    "incident_prevention",
    "other",
]


def create_categories(apps, schema_editor):
    Category = apps.get_model("proposals", "Category")
    for code in CODES:
        Category.objects.get_or_create(code=code)


class Migration(migrations.Migration):
    dependencies = [("proposals", "0001_initial")]

    operations = [migrations.RunPython(create_categories, migrations.RunPython.noop)]
