"""GET /metrics: request counts from the middleware, the refresh's state from the database and
the shared cache, and the token when one is set."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import SourceFactory
from tracker import heartbeat
from tracker.models import Source, SourceCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_parts(settings: Any, tmp_path: Path) -> Any:
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        },
    }
    queue = tmp_path / "queue"
    queue.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(queue)}
    settings.TRACKER_METRICS_TOKEN = ""
    return settings


def samples(client: Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_the_refresh_state_is_read_from_the_database_and_the_cache(
    client: Client, local_parts: Any
) -> None:
    now = timezone.now()
    SourceFactory(health=Source.Health.OK, next_check_at=now + datetime.timedelta(hours=1))
    broken = SourceFactory(
        health=Source.Health.BROKEN, next_check_at=now - datetime.timedelta(hours=3)
    )
    SourceFactory(next_check_at=None)  # new: due, not overdue
    SourceCheck.objects.create(source=broken, outcome=SourceCheck.Outcome.GONE, http_status=404)
    SourceCheck.objects.create(
        source=broken,
        outcome=SourceCheck.Outcome.OK,
        checked_at=now - datetime.timedelta(hours=2),  # outside the last hour
    )
    Path(local_parts.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"], "a.msg").write_text("{}")
    heartbeat.beat(heartbeat.DISPATCH, at=now - datetime.timedelta(seconds=30))

    found = samples(client)

    assert found[("tracker_sources", (("health", "ok"),))] == 1
    assert found[("tracker_sources", (("health", "broken"),))] == 1
    assert found[("tracker_sources_due", ())] == 2
    assert found[("tracker_sources_overdue", ())] == 1
    assert found[("tracker_source_checks_last_hour", (("outcome", "gone"),))] == 1
    assert found[("tracker_source_checks_last_hour", (("outcome", "ok"),))] == 0
    assert found[("tracker_queue_depth", ())] == 1
    assert 29 <= found[("tracker_last_dispatch_age_seconds", ())] < 60
    assert ("tracker_last_check_age_seconds", ()) not in found  # never checked


def test_requests_are_counted_by_view_and_status(client: Client, local_parts: Any) -> None:
    def answered(status: str) -> float:
        return samples(client).get(
            (
                "django_http_responses_total_by_status_view_method_total",
                (("method", "GET"), ("status", status), ("view", "health-live")),
            ),
            0,
        )

    before = answered("200")
    client.get("/health/live/")
    client.get("/health/live/")
    assert answered("200") == before + 2


def test_with_a_token_set_a_scrape_must_send_it(client: Client, local_parts: Any) -> None:
    local_parts.TRACKER_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert ("tracker_sources_due", ()) in samples(client, Authorization="Bearer s3cret")
