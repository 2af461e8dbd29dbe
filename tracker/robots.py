"""robots.txt: fetched through the safe fetcher, parsed by protego, cached per origin.

Contract
--------
``RobotsChecker(policy=..., store=...).verdict(url)`` says whether ``url`` may be fetched under
``policy.robots_token``, fetching and caching the origin's robots.txt when the store has no
record of it. :func:`tracker.fetcher.fetch` calls ``verdict`` on every URL it is about to
request, redirect hops included, so a disallowed page is never requested.

The store holds opaque strings under keys such as ``robots:https://example.org:443``: a
process-local :class:`InMemoryRobotsStore`, or one shared by every worker so each host's
robots.txt is read once per TTL: :class:`RedisRobotsStore`, or :class:`CacheRobotsStore` over
a Django cache when there is no Redis.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from protego import Protego

from tracker.fetcher import ErrorKind, FetchPolicy, FetchResult, fetch

if TYPE_CHECKING:
    import redis

# RFC 9309 asks crawlers to parse at least 500 KiB of robots.txt; anything larger is treated as
# unreadable rather than parsed in part.
ROBOTS_MAX_BYTES = 512 * 1024


class RobotsStore(Protocol):
    """Where parsed-robots records live between fetches; values are opaque strings."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None: ...


class InMemoryRobotsStore:
    """A per-process store, for tests and single-process use."""

    def __init__(self, ttl: float = 86400) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] <= time.monotonic():
                self._items.pop(key, None)
                return None
            return item[1]

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + (ttl or self.ttl), value)


class RedisRobotsStore:
    """A store shared by every worker, so each host's robots.txt is read once per TTL."""

    def __init__(
        self, redis_client: redis.Redis, ttl: float = 86400, *, prefix: str = "tracker:"
    ) -> None:
        self.redis = redis_client
        self.ttl = ttl
        self.prefix = prefix

    def get(self, key: str) -> str | None:
        value = self.redis.get(self.prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        milliseconds = max(1, int((ttl or self.ttl) * 1000))
        self.redis.set(self.prefix + key, value, px=milliseconds)


class LocalRobotsCache:
    """A process's short memory in front of a shared store.

    A worker checks many pages of the same sites; reading each site's record from Redis (and
    parsing its JSON) for every page, twice, costs more than the rest of a 304 check's own
    work. Records are kept here for ``ttl`` seconds, so a robots.txt change reaches every
    worker at most that much later than the shared store.
    """

    def __init__(self, store: RobotsStore, *, ttl: float = 60, max_items: int = 4096) -> None:
        self.store = store
        self.ttl = ttl
        self.max_items = max_items
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
        if item is not None and item[0] > time.monotonic():
            return item[1]
        value = self.store.get(key)
        if value is not None:
            self._remember(key, value, self.ttl)
        return value

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        self.store.set(key, value, ttl=ttl)
        self._remember(key, value, min(self.ttl, ttl or self.ttl))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _remember(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()  # Crude, and rare: a worker sees a few thousand sites.
            self._items[key] = (time.monotonic() + ttl, value)


class CacheRobotsStore:
    """A store over a Django cache (anything with its ``get``/``set``), for installs without
    Redis: every process of one installation shares the cache, so they share robots.txt too.
    """

    # Cache keys are limited (250 characters for memcached, 255 for the database cache), and
    # a host name alone may be 253.
    MAX_KEY_LENGTH = 200

    def __init__(self, cache: Any, ttl: float = 86400, *, prefix: str = "tracker:") -> None:
        self.cache = cache
        self.ttl = ttl
        self.prefix = prefix

    def _key(self, key: str) -> str:
        full = self.prefix + key
        if len(full) > self.MAX_KEY_LENGTH:
            full = self.prefix + "robots-sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return full

    def get(self, key: str) -> str | None:
        value = self.cache.get(self._key(key))
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        # Cache timeouts are whole seconds.
        self.cache.set(self._key(key), value, timeout=max(1, math.ceil(ttl or self.ttl)))


@dataclass(frozen=True)
class RobotsVerdict:
    """Whether a URL may be fetched, and why.

    ``error_kind`` is set when the page may not be fetched for a reason other than the rules,
    and ``fetch`` reports that kind instead of ``robots_disallowed``: the host is a refused
    address (``blocked_address``, ``bad_url``), or robots.txt could not be read right now
    (``robots_unavailable``: a network failure, 429 or 5xx), which is "try again later", not
    "the site forbids it".
    """

    allowed: bool
    reason: str
    error_kind: ErrorKind | None = None


class RobotsChecker:
    """robots.txt rules per (scheme, host, port), fetched with :func:`fetch` and cached.

    Following RFC 9309: a 4xx (other than 429) means no rules, so everything is allowed; a
    5xx, a 429, or a network failure means "disallow for now" (``robots_unavailable``), cached
    only for ``error_ttl`` so the site is retried soon. A robots.txt over 512 KiB counts as a
    failure too. Parsing is protego's, which handles wildcards, Allow/Disallow precedence and
    Crawl-delay the way major crawlers do. Rules are matched against ``policy.robots_token``.

    Failures of the store itself (Redis down) propagate: they are this system's fault, and the
    caller's retry policy should see them rather than a made-up verdict.
    """

    def __init__(
        self,
        *,
        policy: FetchPolicy,
        store: RobotsStore | None = None,
        error_ttl: float = 600,
    ) -> None:
        self.policy = replace(policy, max_bytes=min(policy.max_bytes, ROBOTS_MAX_BYTES))
        self.store: RobotsStore = store if store is not None else InMemoryRobotsStore()
        self.error_ttl = error_ttl

    def verdict(self, url: str, *, budget: float | None = None) -> RobotsVerdict:
        """Judge ``url``; ``budget`` caps the seconds spent fetching robots.txt if not cached."""
        record = self._record(url, budget)
        if record["kind"] == "rules":
            rules = _parse(record["text"])
            if rules.can_fetch(url, self.policy.robots_token):
                return RobotsVerdict(True, "allowed by robots.txt")
            return RobotsVerdict(False, "disallowed by robots.txt")
        allowed = record["kind"] == "allow_all"
        return RobotsVerdict(allowed, record["reason"], record.get("error_kind"))

    def can_fetch(self, url: str) -> bool:
        return self.verdict(url).allowed

    def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay robots.txt sets for us on ``url``'s host, in seconds, if any."""
        record = self._record(url, None)
        if record["kind"] != "rules":
            return None
        return _parse(record["text"]).crawl_delay(self.policy.robots_token)

    @staticmethod
    def origin(url: str) -> tuple[str, str, int]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        return scheme, (parts.hostname or "").lower().rstrip("."), port

    def _record(self, url: str, budget: float | None) -> dict[str, Any]:
        scheme, host, port = self.origin(url)
        key = f"robots:{scheme}://{host}:{port}"
        cached = self.store.get(key)
        if cached is not None:
            record: dict[str, Any] = json.loads(cached)
            return record
        if budget is not None and budget <= 0:
            # Our own clock ran out, which says nothing about the site: do not cache it.
            return self._unreachable("no time left to read robots.txt")
        policy = self.policy
        if budget is not None and budget < policy.deadline:
            policy = replace(policy, deadline=budget)
        result = fetch(f"{scheme}://{self._netloc(host, port)}/robots.txt", policy=policy)
        record, ttl = self._interpret(result)
        if result.error_kind == "deadline" and policy is not self.policy:
            return record  # Cut short by the page's remaining time, not the site's slowness.
        self.store.set(key, json.dumps(record), ttl=ttl)
        return record

    @staticmethod
    def _netloc(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _interpret(self, result: FetchResult) -> tuple[dict[str, Any], float | None]:
        """The record to cache for a robots.txt fetch, and its TTL (None: the store's)."""
        if result.error_kind in ("blocked_address", "bad_url"):
            return self._unreachable(result.error, result.error_kind), self.error_ttl
        if result.error_kind == "too_many_redirects":
            # RFC 9309 §2.3.1.2: past five redirects robots.txt counts as unavailable.
            return {"kind": "allow_all", "reason": "robots.txt redirects too often"}, None
        if result.error_kind is not None or result.status is None:
            return self._unreachable(f"robots.txt unreachable: {result.error}"), self.error_ttl
        if result.status == 429 or result.status >= 500:
            return self._unreachable(f"robots.txt answered {result.status}"), self.error_ttl
        if result.status >= 400:
            return {"kind": "allow_all", "reason": f"no robots.txt ({result.status})"}, None
        if result.status >= 300:
            # A redirect without a usable Location: nothing to parse, nothing forbidden.
            return {"kind": "allow_all", "reason": f"robots.txt answered {result.status}"}, None
        text = result.body.decode("utf-8-sig", errors="replace")
        return {"kind": "rules", "text": text}, None

    @staticmethod
    def _unreachable(reason: str, error_kind: ErrorKind = "robots_unavailable") -> dict[str, Any]:
        return {"kind": "disallow_all", "reason": reason, "error_kind": error_kind}


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> Protego:
    # A worker checks the same few hundred hosts over and over; parsing each robots.txt once
    # per process instead of once per URL (and per redirect hop) is measurably cheaper.
    return Protego.parse(text)
