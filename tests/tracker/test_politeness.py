"""Per-host politeness against real shared storage: Redis, and the Django cache without it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
from django.core.cache import caches

from tracker.politeness import CachePoliteness, HostPoliteness, Politeness, Turn


@pytest.fixture
def redis_politeness(redis_client: Any) -> HostPoliteness:
    return HostPoliteness(redis_client)


@pytest.fixture
def cache_politeness(db: None) -> CachePoliteness:
    # The default cache of an installation without Redis: a database table.
    caches["default"].clear()
    return CachePoliteness(caches["default"])


@pytest.fixture(params=["redis", "cache"])
def politeness(request: pytest.FixtureRequest) -> Politeness:
    """Both implementations, for the behaviour they share."""
    if request.param == "redis":
        request.applymarker(pytest.mark.redis)
    fixture: Politeness = request.getfixturevalue(f"{request.param}_politeness")
    return fixture


def test_it_lets_the_first_fetch_through_and_holds_the_next(politeness: Politeness) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0

    wait = politeness.acquire("analysis.example.org", 5)

    assert 4.5 < wait <= 5


def test_it_keeps_hosts_apart(politeness: Politeness) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0
    assert politeness.acquire("treaties.example.net", 5) == 0.0


@pytest.mark.parametrize(
    "spelling", ["ANALYSIS.example.org", "analysis.example.org.", " Analysis.Example.Org "]
)
def test_it_treats_spellings_of_a_host_as_one(politeness: Politeness, spelling: str) -> None:
    assert politeness.acquire("analysis.example.org", 5) == 0.0

    assert politeness.acquire(spelling, 5) > 0


def test_it_needs_no_slot_for_a_zero_interval(politeness: Politeness) -> None:
    assert politeness.acquire("analysis.example.org", 0) == 0.0
    assert politeness.acquire("analysis.example.org", 0) == 0.0


def test_it_refuses_an_empty_host(politeness: Politeness) -> None:
    with pytest.raises(ValueError, match="host"):
        politeness.acquire(" ", 5)


@pytest.mark.parametrize(("kind", "interval", "pause"), [("redis", 0.2, 0.25), ("cache", 1, 2.05)])
def test_it_frees_the_host_after_the_interval(
    request: pytest.FixtureRequest, kind: str, interval: float, pause: float
) -> None:
    if kind == "redis":
        request.applymarker(pytest.mark.redis)
    politeness: Politeness = request.getfixturevalue(f"{kind}_politeness")
    assert politeness.acquire("analysis.example.org", interval) == 0.0
    assert politeness.acquire("analysis.example.org", interval) > 0

    time.sleep(pause)

    assert politeness.acquire("analysis.example.org", interval) == 0.0


@pytest.mark.redis
def test_it_reserves_the_next_slots_in_order(redis_politeness: HostPoliteness) -> None:
    turns = [redis_politeness.reserve("analysis.example.org", 1, within=10) for _ in range(4)]

    assert all(turn.reserved for turn in turns)
    assert [round(turn.wait) for turn in turns] == [0, 1, 2, 3]


@pytest.mark.redis
def test_it_reserves_nothing_beyond_the_horizon(redis_politeness: HostPoliteness) -> None:
    assert redis_politeness.reserve("analysis.example.org", 5, within=2) == Turn(0.0, True)

    later = redis_politeness.reserve("analysis.example.org", 5, within=2)
    again = redis_politeness.reserve("analysis.example.org", 5, within=2)

    assert not later.reserved
    assert not again.reserved
    assert again.wait == pytest.approx(later.wait, abs=0.1)  # The refusal took no slot.


def test_the_cache_version_never_reserves_ahead(cache_politeness: CachePoliteness) -> None:
    assert cache_politeness.reserve("analysis.example.org", 1, within=10) == Turn(0.0, True)

    turn = cache_politeness.reserve("analysis.example.org", 1, within=10)

    assert not turn.reserved
    assert 0 < turn.wait <= 1


@pytest.mark.redis
def test_it_grants_one_slot_to_many_workers_at_once(redis_client: Any) -> None:
    """Separate connections stand in for separate worker processes racing for one host."""
    url = "redis://{host}:{port}/{db}".format(**redis_client.connection_pool.connection_kwargs)
    clients = [redis.Redis.from_url(url) for _ in range(16)]
    start = threading.Barrier(len(clients))
    turns: list[Turn] = []

    def worker(client: redis.Redis) -> None:
        politeness = HostPoliteness(client)
        start.wait()
        turns.append(politeness.reserve("analysis.example.org", 1, within=60))

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()

    # Every worker holds its own slot, one interval after the other: no two share one.
    assert all(turn.reserved for turn in turns)
    assert sorted(round(turn.wait) for turn in turns) == list(range(16))


@pytest.mark.redis
def test_it_ignores_a_stale_value_left_without_expiry(
    redis_politeness: HostPoliteness, redis_client: Any
) -> None:
    redis_client.set("tracker:polite:analysis.example.org", "1")  # as if set by hand

    assert redis_politeness.acquire("analysis.example.org", 2) == 0.0
    assert 0 < redis_client.pttl("tracker:polite:analysis.example.org") <= 2000


@pytest.mark.redis
def test_it_leaves_no_key_for_a_zero_interval(
    redis_politeness: HostPoliteness, redis_client: Any
) -> None:
    redis_politeness.acquire("analysis.example.org", 0)

    assert redis_client.keys("*") == []
