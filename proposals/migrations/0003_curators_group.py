"""The "curators" group: add, change, delete and view on every curated model. A curator is a
user in this group; the API's model permissions and the admin site both honour it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATED = {
    "proposals": ["actor", "measure", "event", "position", "citation"],
    "tracker": ["source"],
}
ACTIONS = ["add", "change", "delete", "view"]


def create_curators(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now.
    for label in CURATED:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="curators")
    for label, models in CURATED.items():
        codenames = [f"{action}_{model}" for model in models for action in ACTIONS]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        )


def remove_curators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="curators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("proposals", "0002_categories"),
        ("tracker", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_curators, remove_curators)]
