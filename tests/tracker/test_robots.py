"""The stores robots.txt records live in, apart from the fetching (see test_fetcher)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import caches

from tracker.robots import CacheRobotsStore, InMemoryRobotsStore, LocalRobotsCache


class CountingStore(InMemoryRobotsStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: str) -> str | None:
        self.reads += 1
        return super().get(key)


def test_the_local_cache_reads_the_shared_store_once_per_ttl() -> None:
    shared = CountingStore()
    shared.set("robots:http://a.example:80", '{"kind": "allow_all"}')
    local = LocalRobotsCache(shared, ttl=0.2)

    values = [local.get("robots:http://a.example:80") for _ in range(5)]
    reads_while_fresh = shared.reads
    time.sleep(0.25)
    local.get("robots:http://a.example:80")

    assert values == ['{"kind": "allow_all"}'] * 5
    assert reads_while_fresh == 1
    assert shared.reads == 2


def test_the_local_cache_writes_through_and_remembers_no_miss() -> None:
    shared = CountingStore()
    local = LocalRobotsCache(shared, ttl=60)

    assert local.get("robots:http://a.example:80") is None
    assert local.get("robots:http://a.example:80") is None
    local.set("robots:http://a.example:80", "record", ttl=600)

    assert shared.reads == 2  # A miss is asked again: another worker may have stored it.
    assert shared.get("robots:http://a.example:80") == "record"
    assert local.get("robots:http://a.example:80") == "record"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["a.example", "x" * 63 + "." + "y" * 63 + "." + "z" * 63])
def test_the_cache_store_keeps_records_under_keys_the_cache_accepts(host: str) -> None:
    cache: Any = caches["default"]  # The database cache: keys up to 255 characters.
    store = CacheRobotsStore(cache, ttl=60)

    store.set(f"robots:https://{host}:443", "record")

    assert store.get(f"robots:https://{host}:443") == "record"
    assert store.get("robots:https://other.example:443") is None
