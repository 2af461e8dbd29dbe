"""Check sources now: every one, the due ones, or those with a given health or host."""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter, deque
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from tqdm import tqdm

from tracker.models import Source
from tracker.services import interleave_hosts, sources_refresh, sources_request_refresh

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
        """Check the sources here, a batch at a time, politely.

        Batches follow the hosts' round-robin order, so a batch rarely holds one host twice. A
        source whose host is busy is tried again at the turn reserved for it, or once the host
        is free: waiting is fine in a command, unlike in a worker.
        """
        size: int = settings.TRACKER_REFRESH_BATCH
        pending = deque(ids)
        # (monotonic time the host is free, source id, whether that turn is reserved for it)
        waiting: list[tuple[float, int, bool]] = []
        outcomes: Counter[str] = Counter()
        while pending or waiting:
            if waiting and (not pending or waiting[0][0] <= time.monotonic()):
                time.sleep(max(0.0, waiting[0][0] - time.monotonic()))
                ready_at, _, reserved = waiting[0]
                batch = []
                while waiting and waiting[0][0] <= ready_at and waiting[0][2] is reserved:
                    batch.append(heapq.heappop(waiting)[1])
            else:
                reserved = False
                batch = [pending.popleft() for _ in range(min(size, len(pending)))]
            report = sources_refresh(source_ids=batch, force=True, slot_reserved=reserved)
            outcomes.update(check.outcome for check in report.checks)
            outcomes["skipped (busy elsewhere, deleted or edited)"] += len(report.skipped)
            now = time.monotonic()
            for source_id, wait in report.deferred.items():
                heapq.heappush(waiting, (now + wait, source_id, False))
            for source_id, wait in report.reserved.items():
                heapq.heappush(waiting, (now + wait, source_id, True))
            progress.update(len(report.checks) + len(report.skipped))
        progress.close()
        summary = ", ".join(
            f"{outcome} {count}" for outcome, count in sorted(outcomes.items()) if count
        )
        self.stdout.write(f"Checked {_sources(outcomes.total())}: {summary}.")


def _sources(count: int) -> str:
    return f"{count} source" if count == 1 else f"{count} sources"
