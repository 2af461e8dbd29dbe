from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Measures, events and positions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from proposals import derived

        derived.connect()
        post_migrate.connect(_restore_search_index, sender=self)
        post_migrate.connect(_restore_change_log_triggers, sender=self)


def _restore_search_index(*, using: str = "default", **kwargs: Any) -> None:
    # SQLite alters a table by building a new one, which loses the triggers that keep the
    # full-text index in step with it (proposals.fulltext).
    from proposals import fulltext

    fulltext.ensure_sqlite_index(connections[using])


def _restore_change_log_triggers(*, using: str = "default", **kwargs: Any) -> None:
    # Likewise for the triggers that write the change log (proposals.changefeed).
    from proposals import changefeed

    changefeed.ensure_sqlite_triggers(connections[using])
