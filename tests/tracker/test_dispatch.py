"""The beat tick's dispatch: which sources are claimed and queued, and never twice at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import SourceFactory
from tests.tracker.conftest import REFRESH, queued_sources, queued_with_eta
from tracker import services
from tracker.models import Source

LEASE = timedelta(seconds=600)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_app")]


def sources(count: int, **fields: Any) -> list[Source]:
    return SourceFactory.create_batch(count, **fields)


def test_it_dispatches_due_and_new_sources_only(
    celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    due = sources(2, next_check_at=now - timedelta(minutes=5))
    new = sources(1, next_check_at=None)
    sources(2, next_check_at=now + timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        dispatched = services.sources_dispatch_due(now=now)

    assert sorted(dispatched) == sorted(source.pk for source in [*due, *new])
    assert sorted(queued_sources(celery_app)) == sorted(dispatched)
    claimed = Source.objects.filter(pk__in=dispatched).values_list("next_check_at", flat=True)
    assert set(claimed) == {now + LEASE}


def test_the_next_tick_leaves_claimed_sources_alone_until_the_lease_runs_out() -> None:
    now = timezone.now()
    sources(3, next_check_at=None)
    first = services.sources_dispatch_due(now=now)

    assert services.sources_dispatch_due(now=now + timedelta(minutes=1)) == []
    assert sorted(services.sources_dispatch_due(now=now + LEASE)) == sorted(first)


def test_it_claims_in_batches_up_to_the_cap_per_tick() -> None:
    now = timezone.now()
    sources(7, next_check_at=None)

    first_tick = services.sources_dispatch_due(now=now, batch_size=2, max_sources=5)
    second_tick = services.sources_dispatch_due(now=now, batch_size=2, max_sources=5)

    assert len(first_tick) == 5
    assert len(second_tick) == 2
    assert not set(first_tick) & set(second_tick)


def test_it_dispatches_the_longest_waiting_first() -> None:
    now = timezone.now()
    late = SourceFactory.create(next_check_at=now - timedelta(days=2))
    new = SourceFactory.create(next_check_at=None)
    later = SourceFactory.create(next_check_at=now - timedelta(days=1))

    dispatched = services.sources_dispatch_due(now=now, batch_size=1)

    assert dispatched == [new.pk, late.pk, later.pk]


def test_a_host_with_many_pages_does_not_hold_up_the_others(
    celery_app: Celery, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 1.0
    urls = ["https://a.example/1", "https://a.example/2", "https://a.example/3"]
    urls += ["https://b.example/1", "https://b.example/2", "https://c.example/1"]
    created = [SourceFactory.create(url=url, next_check_at=None) for url in urls]
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        dispatched = services.sources_dispatch_due(now=now)

    tasks = [
        ([Source.objects.get(pk=pk).url[8:9] for pk in ids], countdown(now, eta))
        for (ids, *_), eta in queued_with_eta(celery_app, REFRESH)
    ]
    # Every host's first two seconds of turns in the first task; a's third page, two turns
    # on, in a task of its own at that time.
    assert tasks == [(["a", "a", "b", "b", "c"], 0), (["a"], 2)]
    assert sorted(dispatched) == sorted(source.pk for source in created)


def countdown(now: datetime, eta: str | None) -> float:
    """Seconds from ``now`` to a task's ETA, to the nearest second (0 without one)."""
    return 0 if eta is None else round((datetime.fromisoformat(eta) - now).total_seconds())


def test_it_spaces_each_hosts_sources_by_the_politeness_interval(
    celery_app: Celery, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 20.0
    now = timezone.now()
    busy_host = [SourceFactory.create(url=f"https://a.example/{n}") for n in range(5)]
    other_host = SourceFactory.create(url="https://b.example/1")

    with django_capture_on_commit_callbacks(execute=True):
        dispatched = services.sources_dispatch_due(now=now)

    countdowns = {
        pk: countdown(now, eta)
        for (ids, *_), eta in queued_with_eta(celery_app, REFRESH)
        for pk in ids
    }
    # Places 0, 20, 40 and 60 s fit the 60 s horizon; the fifth waits for a later tick.
    assert [countdowns.get(s.pk) for s in busy_host] == [0, 20, 40, 60, None]
    assert countdowns[other_host.pk] == 0
    assert busy_host[4].pk not in dispatched
    busy_host[4].refresh_from_db()
    assert busy_host[4].next_check_at == now + timedelta(seconds=services.HOST_WAIT_MAX)


def test_each_task_takes_a_batch_of_hosts_and_a_span_of_their_turns(
    celery_app: Celery, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRACKER_REFRESH_BATCH = 3
    settings.TRACKER_HOST_MIN_INTERVAL = 1.0
    urls = [f"https://{host}.example/{n}" for host in "abcde" for n in range(3)]
    created = [SourceFactory.create(url=url, next_check_at=None) for url in urls]
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        services.sources_dispatch_due(now=now)

    tasks = [
        ([Source.objects.get(pk=pk).url[8:9] for pk in ids], countdown(now, eta))
        for (ids, *_), eta in queued_with_eta(celery_app, REFRESH)
    ]
    # Of each host, the pages whose turns fall in the first two seconds, in one lane; three
    # hosts a task; the third pages two seconds later.
    assert tasks == [
        (["a", "a", "b", "b", "c", "c"], 0),
        (["d", "d", "e", "e"], 0),
        (["a", "b", "c"], 2),
        (["d", "e"], 2),
    ]
    assert sum(len(hosts) for hosts, _ in tasks) == len(created)


def test_the_conditional_claim_leaves_out_what_another_dispatcher_took() -> None:
    """The SQLite claim: a dispatcher holding stale candidates claims only what is still due."""
    now = timezone.now()
    created = sources(4, next_check_at=None)
    candidates = [(source.pk, source.url) for source in created]
    other = services.claim_conditionally(candidates[:2], now, now + LEASE)

    mine = services.claim_conditionally(candidates, now, now + LEASE + timedelta(seconds=1))

    assert [pk for pk, _ in other] == [created[0].pk, created[1].pk]
    assert [pk for pk, _ in mine] == [created[2].pk, created[3].pk]


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_take_the_same_source(
    postgres_only: None, settings: Any
) -> None:
    """Two beats (or ticks) on separate connections, started together, split the due sources."""
    settings.TRACKER_HOST_MIN_INTERVAL = 0.0  # All on one host: no pacing, every source queued.
    created = sources(300, next_check_at=None)
    start = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            start.wait()
            results.append(services.sources_dispatch_due(batch_size=10))
        except BaseException as error:  # Reported by the assertion below.
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    first, second = results
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(source.pk for source in created)
    # Both made progress: neither waited for the other's locks.
    assert first
    assert second


def test_check_now_claims_and_queues_the_chosen_sources(
    celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    chosen = sources(2, next_check_at=timezone.now() + timedelta(days=1))
    sources(1, next_check_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        ids = services.sources_request_refresh(
            sources=Source.objects.filter(pk__in=[s.pk for s in chosen])
        )

    assert sorted(ids) == sorted(source.pk for source in chosen)
    assert sorted(queued_sources(celery_app)) == sorted(ids)
    # Claimed like a dispatch: the next tick does not queue them again.
    assert not set(services.sources_dispatch_due()) & set(ids)


def test_nothing_is_queued_when_the_callers_transaction_rolls_back(
    celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    source = SourceFactory.create(next_check_at=None)

    def request_then_fail() -> None:
        with transaction.atomic():
            services.source_request_refresh(source=source)
            raise RuntimeError("the caller's transaction failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        request_then_fail()

    assert queued_sources(celery_app) == []
