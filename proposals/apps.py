from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Measures, events and positions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from proposals import derived

        derived.connect()
