"""``GET /metrics``: Prometheus metrics of the web processes and of the refresh.

Two parts, one page:

- **requests** by view, method and status, with latency histograms, counted in each web
  process by django-prometheus's middleware (several gunicorn workers: set
  ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory they share and every worker's counts are
  summed);
- **the refresh**, read when scraped from the database and the shared cache, so they are the
  same whichever process answers and count the work of every worker on every machine: sources
  by health, due and overdue sources, checks of the last hour by outcome, the broker's queue
  depth, and the ages of beat's last dispatch and of the last recorded check.

With ``TRACKER_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import datetime
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tracker import heartbeat
from tracker.models import Source, SourceCheck


class RefreshCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        by_health = GaugeMetricFamily("tracker_sources", "Sources by health.", labels=["health"])
        counts = dict(Source.objects.values_list("health").annotate(n=Count("id")).order_by())
        for health in Source.Health.values:
            by_health.add_metric([health], counts.get(health, 0))
        yield by_health
        yield GaugeMetricFamily(
            "tracker_sources_due",
            "Sources due for a check now (never scheduled included).",
            value=Source.objects.due(now=now).count(),
        )
        patience = datetime.timedelta(
            seconds=settings.TRACKER_REFRESH_LEASE + settings.TRACKER_DISPATCH_EVERY
        )
        yield GaugeMetricFamily(
            "tracker_sources_overdue",
            "Sources due for longer than a refresh lease plus a dispatch interval.",
            value=Source.objects.filter(next_check_at__lte=now - patience).count(),
        )
        recent = GaugeMetricFamily(
            "tracker_source_checks_last_hour",
            "Checks recorded in the last hour, by outcome.",
            labels=["outcome"],
        )
        outcomes = dict(
            SourceCheck.objects.filter(checked_at__gte=now - datetime.timedelta(hours=1))
            .values_list("outcome")
            .annotate(n=Count("id"))
            .order_by()
        )
        for outcome in SourceCheck.Outcome.values:
            recent.add_metric([outcome], outcomes.get(outcome, 0))
        yield recent
        depth = queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "tracker_queue_depth", "Tasks waiting in the broker's queue.", value=depth
            )
        for name, help_text in (
            (heartbeat.DISPATCH, "Seconds since beat's last dispatch tick."),
            (heartbeat.CHECK, "Seconds since the last check was recorded."),
        ):
            try:
                last = heartbeat.last(name)
            except Exception:  # the cache is down: /health/ says so; the age is unknown
                last = None
            if last is not None:
                yield GaugeMetricFamily(
                    f"tracker_last_{name}_age_seconds",
                    help_text,
                    value=(now - last).total_seconds(),
                )


def queue_depth() -> int | None:
    """Messages waiting in the default queue (``None`` when the broker cannot be asked)."""
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith("filesystem://"):
            folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
            return sum(1 for entry in folder.iterdir() if entry.suffix == ".msg")
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return int(client.llen("celery"))
        finally:
            client.close()
    except Exception:  # the broker is down: /health/ says so
        return None


_refresh = prometheus_client.CollectorRegistry(auto_describe=False)
_refresh.register(RefreshCollector())


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.TRACKER_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return HttpResponse(
                "A metrics token is needed.\n", status=401, content_type="text/plain"
            )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        requests = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)
    else:
        requests = prometheus_client.REGISTRY
    body = prometheus_client.generate_latest(requests) + prometheus_client.generate_latest(_refresh)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
