"""Fixtures for the fetcher: real HTTP servers on loopback and the policies that reach them.

Redis comes from the suite-wide ``redis_client`` fixture (a real redis-server); the refresh
pipeline's fixtures (settings that reach loopback, a Celery app on an in-memory broker) follow.
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from celery import Celery
from celery.contrib.testing.app import TestApp, setup_default_app
from django.core.cache import caches

import tracker.tasks  # noqa: F401 - registers the tasks with every Celery app made later
from tests.tracker.httpserver import LoopbackServer
from tracker import services
from tracker.fetcher import FetchPolicy

USER_AGENT = "ArmsControlTrackerTest/1.0 (+https://tracker.example.org/bot)"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def policy() -> FetchPolicy:
    """The test policy: loopback may be reached, every other non-public range may not."""
    return FetchPolicy(user_agent=USER_AGENT, allowed_networks=("127.0.0.0/8",), deadline=5)


@pytest.fixture
def production_policy() -> FetchPolicy:
    """The defaults, as deployed: no address exceptions at all."""
    return FetchPolicy(user_agent=USER_AGENT, deadline=2)


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """100 MiB of zeros, gzip-compressed to about 100 KB, built in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(100)]
    parts.append(compressor.flush())
    return b"".join(parts)


# --- the refresh pipeline ---------------------------------------------------------------------


@pytest.fixture
def loopback_settings(settings: Any, db: None) -> Any:
    """Settings under which the refresh reaches the loopback test servers, fast.

    Production refuses loopback and ports other than 80/443; ``test_refresh`` keeps one test
    proving that. Politeness is off unless a test turns it on. The shared cache starts empty:
    it holds locks, politeness slots and robots.txt records, and a transactional test's flush
    does not empty it.
    """
    caches["default"].clear()
    services.clear_local_caches()
    settings.TRACKER_FETCH_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.TRACKER_FETCH_ALLOWED_PORTS = None
    settings.TRACKER_FETCH_DEADLINE = 5.0
    settings.TRACKER_HOST_MIN_INTERVAL = 0.0
    settings.TRACKER_USER_AGENT = USER_AGENT
    return settings


@pytest.fixture
def celery_app(settings: Any) -> Iterator[Celery]:
    """The project's Celery configuration on kombu's in-memory broker, as the current app.

    Tasks the code under test queues land here rather than in a developer's local queue;
    ``queued`` reads them back.
    """
    app = TestApp(set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url="memory://", broker_transport_options={})
    with setup_default_app(app):
        app.set_current()
        app.set_default()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("celery")
        yield app


REFRESH = "tracker.tasks.refresh_sources"


def queued_sources(app: Celery) -> list[int]:
    """The source ids of every refresh task waiting in ``app``'s default queue."""
    return [pk for (ids, *_) in queued(app, REFRESH) for pk in ids]


def queued(app: Celery, task_name: str) -> list[tuple[Any, ...]]:
    """The arguments of every ``task_name`` message waiting in ``app``'s default queue."""
    return [args for args, _ in queued_with_eta(app, task_name)]


def queued_with_eta(app: Celery, task_name: str) -> list[tuple[tuple[Any, ...], str | None]]:
    """(arguments, ETA in ISO 8601 or None) of every ``task_name`` message waiting."""
    found = []
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery", no_ack=True)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                if message.headers.get("task") == task_name:
                    found.append((tuple(message.payload[0]), message.headers.get("eta")))
        finally:
            queue.close()
    return found


@pytest.fixture(scope="session")
def authority() -> trustme.CA:
    """A certificate authority made for these tests, trusted only where a test says so."""
    return trustme.CA()


@pytest.fixture
def ca_bundle(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


def https_server(authority: trustme.CA, *names: str) -> LoopbackServer:
    """An HTTPS server on 127.0.0.1 whose certificate, from ``authority``, names ``names``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(context)
    return LoopbackServer(tls=context)
