"""A real Celery worker consuming from a real redis-server, refreshing sources on loopback.

Not eager mode: messages go through Redis, the worker acknowledges them late, and the
tracker's locks and politeness slots live in that same Redis, as in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django_structlog.celery.steps import DjangoStructLogInitStep

from tests.factories import SourceFactory
from tests.tracker.httpserver import LoopbackServer, Reply
from tracker import services
from tracker.models import Source, SourceCheck
from tracker.tasks import dispatch_due_sources, refresh_sources

ARTICLE = (Path(__file__).parent / "pages" / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(
    celery_app: Celery, redis_url: str, redis_client: Any, loopback_settings: Any
) -> Iterator[Celery]:
    """A worker thread consuming from Redis, with the tracker's shared state in Redis too.

    Its tasks run in its own thread, with a database connection of their own that nothing
    would close (the service reuses connections across tasks): closed after each task here, so
    none outlives the test and holds the test database open.
    """
    loopback_settings.REDIS_URL = redis_url
    celery_app.conf.update(
        broker_url=redis_url, broker_transport_options={"visibility_timeout": 3600}
    )
    task_postrun.connect(close_this_threads_connections)
    if DjangoStructLogInitStep not in celery_app.steps["worker"]:
        celery_app.steps["worker"].add(DjangoStructLogInitStep)  # as config/celery.py does
    try:
        with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
            yield celery_app
    finally:
        task_postrun.disconnect(close_this_threads_connections)
    connection.close()


def close_this_threads_connections(**kwargs: Any) -> None:
    connections.close_all()


def wait_for_checks(count: int, *, timeout: float = 30) -> list[SourceCheck]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = list(SourceCheck.objects.order_by("checked_at", "id"))
        if len(checks) >= count:
            return checks
        time.sleep(0.1)
    pytest.fail(f"expected {count} checks within {timeout} s, found {SourceCheck.objects.count()}")


def test_a_worker_checks_a_source_queued_through_redis(
    worker: Celery, server: LoopbackServer
) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = SourceFactory.create(url=server.url("/analysis"))

    services.source_request_refresh(source=source)

    (check,) = wait_for_checks(1)
    assert (check.source_id, check.outcome, check.http_status) == (source.pk, "ok", 200)
    source.refresh_from_db()
    assert source.health == Source.Health.OK
    assert source.fetched_title


def test_a_task_logs_under_the_request_id_of_the_request_that_queued_it(
    worker: Celery, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = SourceFactory.create(url=server.url("/analysis"))
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("curator", "", "pw"))

    response = client.post(f"/api/v1/sources/{source.pk}/refresh/")
    wait_for_checks(1)

    assert response.status_code == 202
    request_id = response["X-Request-ID"]
    assert len(request_id) == 36  # a UUID, unless TRACKER_TRUST_REQUEST_ID takes the client's
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    by_event = {entry["event"]: entry for entry in logged}
    assert by_event["request_finished"]["request_id"] == request_id
    assert by_event["task_enqueued"]["request_id"] == request_id
    started = by_event["task_started"]
    assert (started["request_id"], started["task"]) == (request_id, "tracker.tasks.refresh_sources")


def two_pages_of_one_host(
    server: LoopbackServer, loopback_settings: Any, interval: float
) -> list[Source]:
    """Two sources on one host that may be fetched only ``interval`` seconds apart."""
    loopback_settings.TRACKER_HOST_MIN_INTERVAL = interval
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    server.route("/b", Reply(body=ARTICLE, headers=HTML))
    return [SourceFactory.create(url=server.url(path)) for path in ("/a", "/b")]


def assert_checked_apart(server: LoopbackServer, sources: list[Source], interval: float) -> None:
    first, second = wait_for_checks(2)
    assert [first.source_id, second.source_id] == [source.pk for source in sources]
    assert (second.checked_at - first.checked_at).total_seconds() >= interval - 0.01
    assert [path for path in server.paths() if path != "/robots.txt"] == ["/a", "/b"]


def test_a_beat_tick_dispatches_through_the_worker_politely(
    worker: Celery, server: LoopbackServer, loopback_settings: Any
) -> None:
    """The tick queues both pages of one host in one task, which checks them in turn."""
    sources = two_pages_of_one_host(server, loopback_settings, 1.0)

    dispatch_due_sources.delay()

    assert_checked_apart(server, sources, 1.0)


def test_a_page_whose_turn_is_far_comes_back_at_its_reserved_turn(
    worker: Celery, server: LoopbackServer, loopback_settings: Any
) -> None:
    """The second page's turn is further off than a task waits: it gets a task of its own."""
    interval = services.TASK_SPAN + 1
    sources = two_pages_of_one_host(server, loopback_settings, interval)

    refresh_sources.delay([source.pk for source in sources])

    assert_checked_apart(server, sources, interval)
