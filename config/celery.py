"""The Celery application: broker from settings, tasks discovered in the Django apps."""

import os
from typing import Any

import structlog
from celery import Celery, Task, signals
from django.dispatch import receiver
from django_structlog.celery import signals as log_signals
from django_structlog.celery.steps import DjangoStructLogInitStep

from config.startup import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
settings_or_exit()

# Its broker connections try an unreachable broker again at a steady pace (config/broker.py).
app = Celery("tracker", amqp="config.broker:AMQP")
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


@receiver(log_signals.bind_extra_task_metadata)
def name_the_task_and_its_worker(task: Task, **kwargs: Any) -> None:
    """Every line a task logs names the task and the worker that ran it (its ``--hostname``):
    with several workers logging to one place, each one's share can be told apart."""
    structlog.contextvars.bind_contextvars(task=task.name, worker=task.request.hostname)


@receiver(log_signals.pre_task_succeeded)
def log_the_result(result: Any, **kwargs: Any) -> None:
    """A task's ``task_succeeded`` line carries what it returned: the number of sources a
    refresh checked, or a dispatch queued."""
    structlog.contextvars.bind_contextvars(result=result)
