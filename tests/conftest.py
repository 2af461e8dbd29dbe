"""Shared fixtures: real servers (Redis, PostgreSQL) when they can run here.

In CI (``CI=true``) a test that needs a server it cannot have fails instead of skipping, and the
whole suite refuses to run on anything but PostgreSQL.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import NoReturn

import pytest
from django.conf import settings
from django.db import connection

IN_CI = os.environ.get("CI") == "true"


def need(reason: str) -> NoReturn:
    """Skip locally with a stated reason; fail in CI, where every server must be present."""
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


def pytest_sessionstart(session: pytest.Session) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if IN_CI and "postgresql" not in engine:
        raise pytest.UsageError(f"CI runs the suite on PostgreSQL; DATABASE_URL gives {engine}.")


@pytest.fixture(autouse=True)
def no_kept_list_pages() -> None:
    """Rows a test rolled back can come back with the same ids in the next test, and so with the
    same data version and list ETags: each test starts with no rendered list page kept."""
    from proposals.api.listcache import list_cache

    cache = list_cache()
    if cache is not None:
        cache.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: TEST_REDIS_URL when given, else a throwaway redis-server on loopback."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    from tests.servers import RedisServer  # it builds on this module's helpers

    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        need("this behaviour exists only on PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def plain_static_files(settings: object) -> None:
    # The hashed-manifest storage needs `collectstatic`; pages under test only need URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After every test that touched the database, whatever it wrote, each measure's stored
    status equals what the rules derive (the check of ``recompute_statuses --check``), read
    before the test's fixtures tear down: the whole suite is a test that no write path skips the
    derived-state hooks. Tests that make drift on purpose (raw SQL, the one writer no hook
    sees) say so with ``makes_drift``."""
    result = yield
    uses_db = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        getattr(item, "fixturenames", ())
    )
    if uses_db and not item.get_closest_marker("makes_drift") and _schema_is_current():
        from proposals.derived import drifted

        left = drifted()
        if left:
            pytest.fail(
                "stored status differs from the derived one after this test: "
                + "; ".join(f"{slug}: stored {have}, derived {want}" for slug, have, want in left)
            )
    return result


def _schema_is_current() -> bool:
    """False while a test has migrated back to an older schema (its fixture migrates forward
    again when it tears down): the stored participations or involvement it would compare have
    no table yet."""
    from proposals.models import MeasureInvolvement, MeasureParticipation

    tables = connection.introspection.table_names()
    return all(
        model._meta.db_table in tables for model in (MeasureParticipation, MeasureInvolvement)
    )
