"""Celery tasks of the tracker: ids in, one service call. Nothing else."""

from __future__ import annotations

from celery import Task, shared_task

from tracker import services


@shared_task(name="tracker.tasks.dispatch_due_sources", ignore_result=True)
def dispatch_due_sources() -> int:
    """Beat tick: queue a refresh of every due source."""
    return len(services.sources_dispatch_due())


@shared_task(
    name="tracker.tasks.refresh_sources",
    ignore_result=True,
    # Acknowledged only when done, and redelivered if the worker dies mid-check: the service
    # is safe to run twice (per-source locks, re-delivery check, one transaction per batch).
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
)
def refresh_sources(
    self: Task, source_ids: list[int], force: bool = False, slot_reserved: bool = False
) -> int:
    """Check a batch of sources: each host's one after another at its polite pace.

    A source whose host's turn is reserved for later is queued again for that moment; one
    whose host stays busy is back on the schedule, and the next dispatch brings it. The
    task's id holds the sources' locks, so a redelivery after a worker died takes them over.
    """
    report = services.sources_refresh(
        source_ids=source_ids, force=force, slot_reserved=slot_reserved, token=self.request.id
    )
    services.queue_reserved(report.reserved, force=force)
    return len(report.checks)
