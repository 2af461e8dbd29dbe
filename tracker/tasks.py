"""Celery tasks of the tracker: an id in, one service call, the retry policy. Nothing else."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from tracker import services

logger = logging.getLogger(__name__)

# A reserved slot is waited for once; unreserved waits (the cache fallback cannot reserve
# ahead) may take a few tries. Past that, the claim's lease brings the source back.
HOST_BUSY_RETRIES = 30


@shared_task(name="tracker.tasks.dispatch_due_sources", ignore_result=True)
def dispatch_due_sources() -> int:
    """Beat tick: queue a refresh of every due source."""
    return len(services.sources_dispatch_due())


@shared_task(
    bind=True,
    name="tracker.tasks.refresh_source",
    ignore_result=True,
    # Acknowledged only when done, and redelivered if the worker dies mid-check: the service
    # is safe to run twice (lock, re-delivery check, one transaction per check).
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=HOST_BUSY_RETRIES,
)
def refresh_source(
    self: Task[Any, Any], source_id: int, force: bool = False, slot_reserved: bool = False
) -> None:
    try:
        services.source_refresh(source_id=source_id, force=force, slot_reserved=slot_reserved)
    except services.HostBusy as busy:
        if self.request.retries >= HOST_BUSY_RETRIES:
            logger.info("source %s: host still busy; left to the next dispatch", source_id)
            return
        # Never sleep here: a sleeping task holds a pool slot that other hosts could use.
        raise self.retry(
            countdown=busy.wait_seconds,
            kwargs={"source_id": source_id, "force": force, "slot_reserved": busy.reserved},
        ) from None
