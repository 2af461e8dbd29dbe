from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Sources and their checks"
    default_auto_field = "django.db.models.BigAutoField"
