"""Per-host politeness against a real Redis, as every worker shares it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from tracker.politeness import HostPoliteness

pytestmark = pytest.mark.redis


@pytest.fixture
def politeness(redis_client: Any) -> HostPoliteness:
    return HostPoliteness(redis_client)


def test_it_lets_the_first_fetch_through_and_holds_the_next(politeness: HostPoliteness) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0

    wait = politeness.acquire("analysis.example.org", 5)

    assert 4.5 < wait <= 5


def test_it_frees_the_host_after_the_interval(politeness: HostPoliteness) -> None:
    assert politeness.acquire("analysis.example.org", 0.2) == 0.0
    assert politeness.acquire("analysis.example.org", 0.2) > 0

    time.sleep(0.25)

    assert politeness.acquire("analysis.example.org", 0.2) == 0.0


def test_it_keeps_hosts_apart(politeness: HostPoliteness) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0
    assert politeness.acquire("treaties.example.net", 5) == 0.0


@pytest.mark.parametrize(
    "spelling", ["ANALYSIS.example.org", "analysis.example.org.", " Analysis.Example.Org "]
)
def test_it_treats_spellings_of_a_host_as_one(politeness: HostPoliteness, spelling: str) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0

    assert politeness.acquire(spelling, 5) > 0


def test_it_grants_one_slot_to_many_workers_at_once(redis_client: Any) -> None:
    """Separate connections stand in for separate worker processes racing for one host."""
    url = "redis://{host}:{port}/{db}".format(**redis_client.connection_pool.connection_kwargs)
    clients = [redis.Redis.from_url(url) for _ in range(16)]
    start = threading.Barrier(len(clients))
    waits: list[float] = []

    def worker(client: redis.Redis) -> None:
        politeness = HostPoliteness(client)
        start.wait()
        waits.append(politeness.acquire("analysis.example.org", 5))

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()

    assert sorted(waits)[:2] == [0.0, pytest.approx(5, abs=0.5)]
    assert waits.count(0.0) == 1


def test_it_needs_no_slot_for_a_zero_interval(
    politeness: HostPoliteness, redis_client: Any
) -> None:
    assert politeness.acquire("analysis.example.org", 0) == 0.0
    assert politeness.acquire("analysis.example.org", 0) == 0.0
    assert redis_client.keys("*") == []


def test_it_repairs_a_slot_left_without_expiry(
    politeness: HostPoliteness, redis_client: Any
) -> None:
    redis_client.set("tracker:polite:analysis.example.org", "1")  # as if set by hand

    wait = politeness.acquire("analysis.example.org", 2)

    assert 0 < wait <= 2
    assert 0 < redis_client.pttl("tracker:polite:analysis.example.org") <= 2000


def test_it_refuses_an_empty_host(politeness: HostPoliteness) -> None:
    with pytest.raises(ValueError, match="host"):
        politeness.acquire(" ", 5)
