"""When Redis, the throttles' cache, cannot be reached, the throttles fail open: reads and logins
go on (the login lockout counts in the database), and one warning says so per outage."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from proposals.api import throttling
from proposals.api.throttling import AnonymousThrottle
from tests.conftest import free_port
from tests.factories import MeasureFactory
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db

OUTAGE = "Throttle cache unreachable"


@pytest.fixture(autouse=True)
def no_outage_known() -> Iterator[None]:
    throttling._CacheOutage.down = False
    yield
    throttling._CacheOutage.down = False


@pytest.fixture(autouse=True)
def measure() -> None:
    MeasureFactory(slug="inf")


@pytest.fixture
def throttle_cache_at(fresh_throttle: None) -> Iterator[Callable[[str], None]]:
    """Points the throttle cache at a Redis URL, until before ``fresh_throttle`` clears it."""
    overrides: list[override_settings] = []

    def point(url: str) -> None:
        redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        override = override_settings(CACHES={**settings.CACHES, "throttle": redis})
        override.enable()
        overrides.append(override)

    yield point
    for override in reversed(overrides):
        override.disable()


def warnings_of_outage(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(OUTAGE)]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


def test_with_the_cache_at_a_closed_port_reads_and_logins_go_on(
    throttle_cache_at: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
    curator_user: Any,
) -> None:
    throttle_cache_at(f"redis://127.0.0.1:{free_port()}/0")
    client = APIClient()

    codes = [client.get("/api/v1/measures/").status_code for _ in range(3)]
    credentials = base64.b64encode(b"curator:a long curator passphrase").decode()
    login = client.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert codes == [200, 200, 200]
    assert login.status_code == 200
    assert login.json()["token"]
    assert len(warnings_of_outage(caplog)) == 1


@pytest.mark.redis
def test_stopping_redis_lets_requests_through_with_one_warning(
    throttle_cache_at: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
) -> None:
    throttle_cache_at(redis_server.url)
    monkeypatch.setattr(AnonymousThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    client = APIClient()
    # Through the real server the limit holds.
    assert [client.get("/api/v1/measures/").status_code for _ in range(3)] == [200, 200, 429]

    redis_server.stop()

    assert [client.get("/api/v1/measures/").status_code for _ in range(3)] == [200, 200, 200]
    assert len(warnings_of_outage(caplog)) == 1


def test_token_reads_during_an_outage_do_not_announce_its_end(
    throttle_cache_at: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
    curator: APIClient,
) -> None:
    throttle_cache_at(f"redis://127.0.0.1:{free_port()}/0")
    anonymous = APIClient()

    # Interleaved: the token reads never ask the anonymous throttle's cache.
    for _ in range(3):
        assert anonymous.get("/api/v1/measures/").status_code == 200
        assert curator.get("/api/v1/measures/").status_code == 200

    messages = [r.getMessage() for r in caplog.records]
    assert len(warnings_of_outage(caplog)) == 1
    assert not [m for m in messages if m.startswith("Throttle cache answers again")]
