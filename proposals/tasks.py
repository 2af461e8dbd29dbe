"""Periodic jobs of the proposals app: thin wrappers around services."""

from celery import shared_task

from proposals.services import measures_recompute_statuses


@shared_task(name="proposals.tasks.recompute_all_statuses", acks_late=True)
def recompute_all_statuses() -> int:
    """Daily: events dated today take effect (a scheduled expiry), stored status follows."""
    return measures_recompute_statuses()
