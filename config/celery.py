"""The Celery application: broker from settings, tasks discovered in the Django apps."""

import os
from typing import Any

from celery import Celery, signals
from django_structlog.celery.steps import DjangoStructLogInitStep

from config.startup import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
settings_or_exit()

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task logs under the request id of the request that queued it (see settings, Logs).
app.steps["worker"].add(DjangoStructLogInitStep)


@signals.task_prerun.connect
def close_old_database_connections(**kwargs: Any) -> None:
    """What Django does at the start of each request: drop a broken or expired connection.

    Connections otherwise live across tasks (``CELERY_DB_REUSE_MAX``).
    """
    from django.db import close_old_connections

    close_old_connections()
