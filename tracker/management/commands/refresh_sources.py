"""Check sources now: every one, the due ones, or those with a given health or host."""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter, deque
from functools import reduce
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from tqdm import tqdm

from tracker.models import Source
from tracker.services import (
    HostBusy,
    interleave_hosts,
    source_refresh,
    sources_request_refresh,
)

QUEUE_BATCH = 500


class Command(BaseCommand):
    help = (
        "Check sources now. Without options: the sources that are due. By default they are "
        "queued for the Celery workers; --sync checks them here, one after another, with no "
        "worker needed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--health",
            action="append",
            choices=Source.Health.values,
            help="Only sources with this health (repeat for several).",
        )
        parser.add_argument(
            "--host", action="append", help="Only sources on this host name (repeat for several)."
        )
        parser.add_argument("--all", action="store_true", help="Every source.")
        parser.add_argument(
            "--sync", action="store_true", help="Check here instead of queueing for the workers."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sources = self.selection(options)
        rows = list(sources.order_by("id").values_list("id", "url"))
        if not rows:
            self.stdout.write("No sources to check.")
            return
        ids = interleave_hosts(rows)
        progress = tqdm(
            total=len(ids), unit="source", file=sys.stderr, disable=options["verbosity"] == 0
        )
        with progress:
            if options["sync"]:
                self.check_here(ids, progress)
            else:
                self.queue(ids, progress)

    def selection(self, options: dict[str, Any]) -> QuerySet[Source]:
        healths, hosts = options["health"], options["host"]
        if options["all"]:
            if healths or hosts:
                raise CommandError("--all cannot be combined with --health or --host.")
            return Source.objects.all()
        if not (healths or hosts):
            return Source.objects.due()
        sources = Source.objects.all()
        if healths:
            sources = sources.filter(health__in=healths)
        if hosts:
            sources = sources & reduce(
                lambda union, host: union | Source.objects.on_host(host),
                hosts[1:],
                Source.objects.on_host(hosts[0]),
            )
        return sources

    def queue(self, ids: list[int], progress: tqdm[Any]) -> None:
        for start in range(0, len(ids), QUEUE_BATCH):
            batch = ids[start : start + QUEUE_BATCH]
            sources_request_refresh(sources=Source.objects.filter(pk__in=batch))
            progress.update(len(batch))
        progress.close()
        self.stdout.write(f"Queued {_sources(len(ids))}; the Celery workers check them.")

    def check_here(self, ids: list[int], progress: tqdm[Any]) -> None:
        """Check each source in turn, politely: a busy host's sources wait, others go first.

        Waiting is fine in a command, unlike in a worker; it happens only when every remaining
        source is on a host that was just fetched.
        """
        pending = deque((source_id, False) for source_id in ids)
        waiting: list[tuple[float, int, bool]] = []  # (monotonic time ready, id, slot reserved)
        outcomes: Counter[str] = Counter()
        while pending or waiting:
            if waiting and (not pending or waiting[0][0] <= time.monotonic()):
                ready_at, source_id, reserved = heapq.heappop(waiting)
                time.sleep(max(0.0, ready_at - time.monotonic()))
            else:
                source_id, reserved = pending.popleft()
            try:
                check = source_refresh(source_id=source_id, force=True, slot_reserved=reserved)
            except HostBusy as busy:
                ready_at = time.monotonic() + busy.wait_seconds
                heapq.heappush(waiting, (ready_at, source_id, busy.reserved))
                continue
            outcomes[check.outcome if check else "skipped (busy elsewhere or rescheduled)"] += 1
            progress.update(1)
        progress.close()
        summary = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(f"Checked {_sources(sum(outcomes.values()))}: {summary}.")


def _sources(count: int) -> str:
    return f"{count} source" if count == 1 else f"{count} sources"
