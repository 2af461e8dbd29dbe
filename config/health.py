"""Health: ``/health/`` says which part is down or stalled; ``/health/live/`` checks nothing.

``/health/`` answers JSON with one entry per component and 503 when a part every request
needs is down (the database, the cache, the broker). A stalled beat or worker does not stop the
web process from serving, so it makes the answer ``degraded`` with 200:

- ``beat`` is stale when its last dispatch tick is older than three dispatch intervals;
- ``worker`` is stale when some source is overdue — due for longer than a refresh lease plus a
  dispatch interval — and no check has been recorded for that long.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from kombu import Connection

from tracker import heartbeat
from tracker.models import Source

Report = dict[str, Any]


def _database() -> Report:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "vendor": connection.vendor}


def _cache() -> Report:
    cache = caches["default"]
    cache.set("tracker:health:probe", "1", timeout=30)
    if cache.get("tracker:health:probe") != "1":
        return {"status": "error", "error": "the cache did not keep a value"}
    return {"status": "ok"}


def _broker() -> Report:
    url = settings.CELERY_BROKER_URL
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with Connection(url, transport_options=options, connect_timeout=2) as broker:
        if broker.transport_cls == "filesystem":
            folder = options["data_folder_in"]
            if not os.access(folder, os.W_OK):
                return {"status": "error", "error": f"queue folder not writable: {folder}"}
        else:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return {"status": "ok", "transport": broker.transport_cls}


def _age(at: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return round((now - at).total_seconds(), 1) if at else None


def _beat(now: datetime.datetime) -> Report:
    last = heartbeat.last(heartbeat.DISPATCH)
    age = _age(last, now)
    stale = age is None or age > 3 * settings.TRACKER_DISPATCH_EVERY
    return {"status": "stale" if stale else "ok", "last_dispatch_age_seconds": age}


def _worker(now: datetime.datetime) -> Report:
    patience = datetime.timedelta(
        seconds=settings.TRACKER_REFRESH_LEASE + settings.TRACKER_DISPATCH_EVERY
    )
    last = heartbeat.last(heartbeat.CHECK)
    overdue = Source.objects.filter(next_check_at__lte=now - patience).count()
    stale = overdue > 0 and (last is None or now - last > patience)
    return {
        "status": "stale" if stale else "ok",
        "last_check_age_seconds": _age(last, now),
        "overdue_sources": overdue,
    }


REQUIRED: dict[str, Callable[[], Report]] = {
    "database": _database,
    "cache": _cache,
    "broker": _broker,
}


def _run(check: Callable[[], Report]) -> Report:
    try:
        return check()
    except Exception as error:  # any failure of a component is that component's report
        return {"status": "error", "error": f"{error.__class__.__name__}: {error}"[:300]}


def health(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    components = {name: _run(check) for name, check in REQUIRED.items()}
    if components["database"]["status"] == "ok" and components["cache"]["status"] == "ok":
        components["beat"] = _run(lambda: _beat(now))
        components["worker"] = _run(lambda: _worker(now))
    down = [name for name in REQUIRED if components[name]["status"] != "ok"]
    stalled = [name for name, report in components.items() if report["status"] != "ok"]
    status = "error" if down else "degraded" if stalled else "ok"
    return JsonResponse(
        {"status": status, "checked_at": now.isoformat(), "components": components},
        status=503 if down else 200,
    )


def live(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked (for a supervisor's liveness probe)."""
    return JsonResponse({"status": "ok"})
