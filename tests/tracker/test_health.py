"""The health rules on their own: schedule arithmetic that the loopback tests cannot reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.fetcher import FetchResult
from tracker.health import Schedule, Stored, judge

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SCHEDULE = Schedule(interval=timedelta(hours=24), broken_after=3)
URL = "https://treaties.example.org/hotline"


def answer(status: int | None = 200, **fields: object) -> FetchResult:
    return FetchResult(requested_url=URL, final_url=URL, status=status, **fields)


@pytest.mark.parametrize(
    ("earlier_failures", "hours"),
    [(0, 1), (1, 2), (2, 4), (5, 32), (7, 128), (8, 168), (30, 168)],
)
def test_it_doubles_the_backoff_up_to_a_week(earlier_failures: int, hours: int) -> None:
    stored = Stored(url=URL, consecutive_failures=earlier_failures)

    judgement = judge(answer(503), None, stored, now=NOW, schedule=SCHEDULE)

    delay = judgement.source["next_check_at"] - NOW
    assert timedelta(hours=hours) <= delay < timedelta(hours=hours) * 1.1


def test_it_caps_an_absurd_retry_after_at_a_month() -> None:
    result = answer(429, retry_after_seconds=10 * 365 * 86400)

    judgement = judge(result, None, Stored(url=URL), now=NOW, schedule=SCHEDULE)

    delay = judgement.source["next_check_at"] - NOW
    assert timedelta(days=30) <= delay < timedelta(days=33)


def test_it_spreads_sources_by_a_fixed_fraction_of_the_interval() -> None:
    def next_check(url: str) -> timedelta:
        result = FetchResult(requested_url=url, final_url=url, status=304, not_modified=True)
        judgement = judge(result, None, Stored(url=url), now=NOW, schedule=SCHEDULE)
        return judgement.source["next_check_at"] - NOW

    delays = {next_check(f"https://treaties.example.org/{n}") for n in range(50)}

    assert len(delays) == 50
    assert all(timedelta(hours=24) <= delay < timedelta(hours=26.4) for delay in delays)
    assert next_check(URL) == next_check(URL)


@pytest.mark.parametrize(("sent", "kept"), [("", '"stored"'), ('"fresh"', '"fresh"')])
def test_a_304_keeps_the_stored_validator_unless_it_sends_a_new_one(sent: str, kept: str) -> None:
    result = answer(304, not_modified=True, etag=sent)

    judgement = judge(result, None, Stored(url=URL), now=NOW, schedule=SCHEDULE)

    assert judgement.source.get("etag", '"stored"') == kept


def test_a_network_failure_leaves_the_last_final_url_alone() -> None:
    result = answer(None, error_kind="connection", error="connection refused")

    judgement = judge(result, None, Stored(url=URL), now=NOW, schedule=SCHEDULE)

    assert "final_url" not in judgement.source
    assert judgement.source["http_status"] is None
