"""/health/ tells which part is down (503) or stalled (degraded, 200); /health/live/ checks
nothing. Real parts only: the test database, a real redis-server, a closed loopback port."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import free_port
from tests.factories import SourceFactory
from tracker import heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_parts(settings: Any, tmp_path: Path) -> Any:
    """The embedded defaults: a cache in process memory and a filesystem broker in tmp."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),  # a cache of this test's own
        },
    }
    queue = tmp_path / "queue"
    queue.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
    }
    return settings


def health(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/")
    return response.status_code, response.json()


def test_all_parts_up_and_working_is_ok(client: Client, local_parts: Any) -> None:
    heartbeat.beat(heartbeat.DISPATCH)
    code, body = health(client)
    assert code == 200
    assert body["status"] == "ok"
    assert {name: part["status"] for name, part in body["components"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "beat": "ok",
        "worker": "ok",
    }
    assert body["components"]["broker"]["transport"] == "filesystem"


def test_a_beat_that_never_ticked_or_stopped_ticking_is_stale_but_serving_goes_on(
    client: Client, local_parts: Any
) -> None:
    code, body = health(client)
    assert (code, body["status"], body["components"]["beat"]["status"]) == (
        200,
        "degraded",
        "stale",
    )
    long_ago = timezone.now() - datetime.timedelta(
        seconds=3 * local_parts.TRACKER_DISPATCH_EVERY + 5
    )
    heartbeat.beat(heartbeat.DISPATCH, at=long_ago)
    assert health(client)[1]["components"]["beat"]["status"] == "stale"


def test_a_worker_is_stale_when_sources_are_overdue_and_nothing_was_checked(
    client: Client, local_parts: Any
) -> None:
    heartbeat.beat(heartbeat.DISPATCH)
    overdue_since = timezone.now() - datetime.timedelta(hours=2)
    SourceFactory(next_check_at=overdue_since)
    SourceFactory(next_check_at=timezone.now() + datetime.timedelta(hours=1))

    worker = health(client)[1]["components"]["worker"]
    assert (worker["status"], worker["overdue_sources"], worker["last_check_age_seconds"]) == (
        "stale",
        1,
        None,
    )
    heartbeat.beat(heartbeat.CHECK)  # the worker recorded a check just now: it is working
    code, body = health(client)
    assert (code, body["status"], body["components"]["worker"]["status"]) == (200, "ok", "ok")


def test_an_unreachable_redis_makes_it_503_naming_cache_and_broker(
    client: Client, settings: Any
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": closed},
    }
    settings.CELERY_BROKER_URL = closed
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    code, body = health(client)

    assert code == 503
    assert body["status"] == "error"
    parts = body["components"]
    assert (parts["database"]["status"], parts["cache"]["status"], parts["broker"]["status"]) == (
        "ok",
        "error",
        "error",
    )
    assert "Connection" in parts["cache"]["error"]
    assert "beat" not in parts  # its heartbeat lives in the cache that is down


@pytest.mark.redis
def test_a_real_redis_as_cache_and_broker_is_ok(
    client: Client, settings: Any, redis_url: str
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        },
    }
    settings.CELERY_BROKER_URL = redis_url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    heartbeat.beat(heartbeat.DISPATCH)

    code, body = health(client)

    assert (code, body["status"]) == (200, "ok")
    assert body["components"]["broker"]["transport"] == "redis"


def test_liveness_checks_nothing(
    client: Client, django_assert_num_queries: Callable[[int], AbstractContextManager[object]]
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/health/live/")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
