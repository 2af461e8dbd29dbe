"""A refresh when a part it relies on goes away mid-task: Redis, the database.

What such an outage must not do: count against a source (a ``failed`` row, a backoff), throw
away fetches that finished, or fail the task after its checks were written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import SourceFactory
from tests.servers import RedisServer
from tests.tracker.httpserver import LoopbackServer, RecordedRequest, Reply
from tracker import services
from tracker.models import Source

ARTICLE = (Path(__file__).parent / "pages" / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}

pytestmark = pytest.mark.usefixtures("loopback_settings")


@pytest.fixture
def own_redis(settings: Any) -> Iterator[RedisServer]:
    """A redis-server of this test's own, holding the refresh's shared state, to stop at will."""
    redis_server = RedisServer().start()
    settings.REDIS_URL = redis_server.url
    try:
        yield redis_server
    finally:
        redis_server.close()


def claimed(server: LoopbackServer, *paths: str) -> list[Source]:
    """Sources at ``paths``, claimed by a dispatch five minutes ago (their lease still runs)."""
    until = timezone.now() + timedelta(minutes=5)
    return [SourceFactory.create(url=server.url(path), next_check_at=until) for path in paths]


@pytest.mark.redis
def test_a_redis_outage_mid_task_leaves_the_rest_of_the_lane_to_its_lease(
    server: LoopbackServer,
    own_redis: RedisServer,
    loopback_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first page's fetch finishes as Redis dies; the host's next turn cannot be asked
    for, so its two other pages stay as they were, claimed until their lease ends."""
    loopback_settings.TRACKER_HOST_MIN_INTERVAL = 0.05  # Turns are asked of Redis.

    def redis_dies_meanwhile(request: RecordedRequest) -> Reply:
        own_redis.stop()
        return Reply(body=ARTICLE, headers=HTML)

    server.route("/a", redis_dies_meanwhile)
    server.route("/b", Reply(body=ARTICLE, headers=HTML))
    server.route("/c", Reply(body=ARTICLE, headers=HTML))
    first, *rest = claimed(server, "/a", "/b", "/c")
    caplog.set_level(logging.WARNING, logger="tracker.services")

    report = services.sources_refresh(source_ids=[first.pk, *(s.pk for s in rest)])

    assert [(check.source_id, check.outcome) for check in report.checks] == [(first.pk, "ok")]
    assert sorted(report.unfinished) == [s.pk for s in rest]
    assert report.skipped == []
    for source in rest:
        before = source.next_check_at
        source.refresh_from_db()
        assert (source.health, source.consecutive_failures) == (Source.Health.UNCHECKED, 0)
        assert source.next_check_at == before  # Due again when the lease ends, not backed off.
        assert not source.checks.exists()
    assert [path for path in server.paths() if path != "/robots.txt"] == ["/a"]
    # One line for the outage and one for the locks left to expire; no traceback per source.
    assert "2 source(s) not checked, left until their lease ends: ConnectionError" in caplog.text
    assert "Source locks left to expire" in caplog.text
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.django_db(transaction=True)
def test_finished_fetches_are_written_when_the_database_comes_back(
    server: LoopbackServer, postgres_only: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The task's database session dies while it fetches (a restart cuts every session): the
    write is tried again on a new connection, and nothing fetched is lost or fetched again."""
    sources = claimed(server, "/a", "/b")
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid

    def the_session_dies(request: RecordedRequest) -> Reply:
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        finally:
            other.close()
        return Reply(body=ARTICLE, headers=HTML)

    server.route("/a", the_session_dies)
    server.route("/b", Reply(body=ARTICLE, headers=HTML))
    caplog.set_level(logging.WARNING, logger="tracker.services")

    report = services.sources_refresh(source_ids=[source.pk for source in sources])

    assert sorted(check.source_id for check in report.checks) == [s.pk for s in sources]
    assert connection.connection.info.backend_pid != backend
    for source in sources:
        source.refresh_from_db()
        assert source.health == Source.Health.OK
        assert source.checks.count() == 1
    assert sorted(server.paths()) == ["/a", "/b", "/robots.txt"]
    assert "The database is out of reach writing this task's 2 checks" in caplog.text
