"""Source refresh: which sources to check when, and checking one, end to end.

Contract
--------
``sources_dispatch_due(now=None, batch_size=None, max_sources=None) -> list[int]``
    Claims due sources (``next_check_at <= now``, or never scheduled) in batches, each in its
    own transaction, and after each commit queues one ``tracker.tasks.refresh_source`` per
    claimed id, hosts interleaved, each host's sources one politeness interval apart (as
    countdowns, up to ``HOST_WAIT_MAX``; the rest of a busy host's sources are put back on the
    schedule that far ahead). A claim moves ``next_check_at`` one lease ahead
    (``TRACKER_REFRESH_LEASE``). Two dispatchers at
    the same moment never claim the same source (``SELECT … FOR UPDATE SKIP LOCKED`` on
    PostgreSQL; on SQLite, which runs one writer at a time, a conditional ``UPDATE`` is the
    claim), and the next tick does not claim it again while its task waits. A lost task costs
    only the lease: the source is then due again. Returns the ids queued.

``source_refresh(source_id=..., force=False, slot_reserved=False) -> SourceCheck | None``
    Checks one source: per-source lock, per-host politeness, a conditional GET through
    :func:`tracker.fetcher.fetch` with robots.txt honoured, metadata from the bytes, the rules
    of :mod:`tracker.health`, then the ``SourceCheck`` row and the source's refresh fields in
    one transaction. The source is written with an ``UPDATE`` of the refresh fields only, so a
    curator editing its title at the same moment loses nothing, and a check leaves no audit
    history entry; if the URL was edited during the fetch, the stale result is dropped.

    Returns the new check, or ``None`` when it did nothing: another worker holds the source,
    it was deleted or edited meanwhile, it was already checked since this refresh was queued
    (a re-delivered or duplicate task; ``force`` skips that test), or its host is busy for
    longer than a task should wait in the broker (the source is then rescheduled for when the
    host is free). Raises :class:`HostBusy` when the host is busy for a few seconds: call again
    after ``wait_seconds``, passing ``slot_reserved=busy.reserved``.

``sources_request_refresh(sources=...) -> list[int]`` and ``source_request_refresh(source=...)``
    "Check now": claim exactly as the dispatcher does, and queue after commit.

Shared state lives in Redis when ``REDIS_URL`` is set, else in Django's default cache (a
database table, which every local process shares): the per-source lock, the per-host
politeness schedule and the robots.txt cache.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from tracker.fetcher import FetchPolicy, FetchResult, fetch, make_session
from tracker.health import GONE_STATUSES, Schedule, Stored, judge
from tracker.metadata import PageMetadata, extract
from tracker.models import Source, SourceCheck
from tracker.politeness import CachePoliteness, HostPoliteness, Politeness
from tracker.robots import (
    CacheRobotsStore,
    LocalRobotsCache,
    RedisRobotsStore,
    RobotsChecker,
    RobotsStore,
)

if TYPE_CHECKING:
    import redis
    import requests

# A task told to come back later waits in the broker (and in a worker's memory) until then;
# anything longer goes back to the schedule in the database instead.
HOST_WAIT_MAX = 60.0
# robots.txt may ask for any Crawl-delay; past a minute it would starve a host's other sources
# (a day's checks of a few hundred pages), and one request a minute is polite by any measure.
CRAWL_DELAY_MAX = 60.0
# The fields source_refresh reads; the curator's fields are not loaded, so never written back.
_STATE_FIELDS = (
    "url",
    "next_check_at",
    "etag",
    "last_modified",
    "content_hash",
    "content_hash_version",
    "health",
    "consecutive_failures",
)


class HostBusy(Exception):
    """The source's host may not be fetched for ``wait_seconds``; come back then.

    ``reserved`` means a fetch slot at that time is already the caller's.
    """

    def __init__(self, wait_seconds: float, *, reserved: bool) -> None:
        super().__init__(f"host busy for {wait_seconds:.3f} s")
        self.wait_seconds = wait_seconds
        self.reserved = reserved


# --- configuration ----------------------------------------------------------------------------


def fetch_policy() -> FetchPolicy:
    """The fetcher's policy, from settings."""
    ports = settings.TRACKER_FETCH_ALLOWED_PORTS
    return _policy(
        settings.TRACKER_USER_AGENT,
        tuple(settings.TRACKER_FETCH_ALLOWED_NETWORKS),
        frozenset(ports) if ports is not None else None,
        settings.TRACKER_FETCH_DEADLINE,
        settings.TRACKER_FETCH_MAX_BYTES,
    )


@functools.lru_cache(maxsize=8)
def _policy(
    user_agent: str,
    networks: tuple[str, ...],
    ports: frozenset[int] | None,
    deadline: float,
    max_bytes: int,
) -> FetchPolicy:
    # Built once per configuration: parsing the networks on every check is wasted work.
    return FetchPolicy(
        user_agent=user_agent,
        allowed_networks=networks,
        allowed_ports=ports,
        deadline=deadline,
        max_bytes=max_bytes,
    )


def _schedule() -> Schedule:
    return Schedule(
        interval=timedelta(hours=settings.TRACKER_CHECK_INTERVAL_HOURS),
        broken_after=settings.TRACKER_BROKEN_AFTER,
    )


def _lease() -> timedelta:
    return timedelta(seconds=settings.TRACKER_REFRESH_LEASE)


# --- shared state: Redis when configured, else the default cache --------------------------------


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    import redis

    # One pool per process; redis-py opens fresh connections in a forked child by itself.
    return redis.Redis.from_url(url)


def _redis() -> redis.Redis | None:
    url: str = settings.REDIS_URL
    return _redis_client(url) if url else None


def _politeness() -> Politeness:
    client = _redis()
    return HostPoliteness(client) if client is not None else CachePoliteness(caches["default"])


def _robots_store() -> RobotsStore:
    url: str = settings.REDIS_URL
    memo = _robots_memos.get(url)
    if memo is None:
        client = _redis()
        shared: RobotsStore = (
            RedisRobotsStore(client) if client is not None else CacheRobotsStore(caches["default"])
        )
        memo = _robots_memos[url] = LocalRobotsCache(shared)
    return memo


_robots_memos: dict[str, LocalRobotsCache] = {}


def clear_local_caches() -> None:
    """Forget what this process remembers of robots.txt (tests; after changing REDIS_URL)."""
    for memo in _robots_memos.values():
        memo.clear()


@contextlib.contextmanager
def _source_lock(source_id: int) -> Iterator[bool]:
    """Hold the source for the length of one refresh; yields False if another worker has it.

    The lock outlives the task's hard time limit, so a killed worker's lock expires on its own.
    """
    name = f"tracker:refresh-lock:{source_id}"
    timeout = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300) + 30
    client = _redis()
    if client is not None:
        from redis.exceptions import LockError

        lock = client.lock(name, timeout=timeout, blocking=False)
        acquired = bool(lock.acquire())
        try:
            yield acquired
        finally:
            if acquired:
                with contextlib.suppress(LockError):  # Expired meanwhile: nothing to release.
                    lock.release()
        return
    cache = caches["default"]
    token = secrets.token_hex(16)
    acquired = cache.add(name, token, timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(name) == token:
            cache.delete(name)


_local = threading.local()


def _session(policy: FetchPolicy) -> requests.Session:
    """One session per thread and policy: connections to a host are reused between checks."""
    if getattr(_local, "policy", None) != policy:
        if getattr(_local, "session", None) is not None:
            _local.session.close()
        _local.session, _local.policy = make_session(policy), policy
    # Cookies one site set must not follow us to the next check, of it or of another site.
    _local.session.cookies.clear()
    return _local.session


# --- dispatch ---------------------------------------------------------------------------------


def sources_dispatch_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_sources: int | None = None,
) -> list[int]:
    """Claim and queue due sources; see the module docstring."""
    now = now or timezone.now()
    batch_size = batch_size or settings.TRACKER_DISPATCH_BATCH
    max_sources = max_sources or settings.TRACKER_DISPATCH_MAX_PER_TICK
    lease_until = now + _lease()
    spacing: float = settings.TRACKER_HOST_MIN_INTERVAL
    queued_per_host: Counter[str] = Counter()
    dispatched: list[int] = []
    while len(dispatched) < max_sources:
        with transaction.atomic():
            rows = _claim_due(now, lease_until, min(batch_size, max_sources - len(dispatched)))
            if not rows:
                break
            # Each source gets its host's next place, one politeness interval after the
            # previous one, as its countdown: a host with many due pages is fetched at its
            # polite pace instead of its tasks all arriving together to be sent back. Places
            # beyond the horizon go back to the schedule for a later tick.
            ready: list[tuple[int, float]] = []
            later: list[int] = []
            for pk, host in _round_robin(rows):
                countdown = queued_per_host[host] * spacing
                if countdown > HOST_WAIT_MAX:
                    later.append(pk)
                    continue
                queued_per_host[host] += 1
                ready.append((pk, countdown))
            if later:
                Source.objects.filter(pk__in=later).update(
                    next_check_at=now + timedelta(seconds=HOST_WAIT_MAX)
                )
            transaction.on_commit(functools.partial(_enqueue, ready))
        dispatched.extend(pk for pk, _ in ready)
    return dispatched


def _claim_due(now: datetime, lease_until: datetime, limit: int) -> list[tuple[int, str]]:
    """(id, url) of up to ``limit`` due sources, now claimed until ``lease_until``."""
    due = Source.objects.due(now=now).order_by(F("next_check_at").asc(nulls_first=True), "id")
    if connection.features.has_select_for_update_skip_locked:
        # Rows another dispatcher has locked are skipped, not waited for, so both proceed
        # with disjoint batches.
        rows = list(due.select_for_update(skip_locked=True).values_list("id", "url")[:limit])
        Source.objects.filter(pk__in=[pk for pk, _ in rows]).update(next_check_at=lease_until)
        return rows
    return claim_conditionally(list(due.values_list("id", "url")[:limit]), now, lease_until)


def claim_conditionally(
    candidates: list[tuple[int, str]], now: datetime, lease_until: datetime
) -> list[tuple[int, str]]:
    """Claim those of ``candidates`` still due, by one conditional UPDATE (no row locks).

    The claim for databases without ``SKIP LOCKED`` (SQLite). SQLite runs one write
    transaction at a time, so no other claim can land between the UPDATE and the check below;
    a candidate another dispatcher claimed first is no longer due and is left out.
    """
    ids = [pk for pk, _ in candidates]
    updated = Source.objects.filter(pk__in=ids).due(now=now).update(next_check_at=lease_until)
    if updated == len(ids):
        return candidates
    mine = set(
        Source.objects.filter(pk__in=ids, next_check_at=lease_until).values_list("id", flat=True)
    )
    return [row for row in candidates if row[0] in mine]


def interleave_hosts(rows: list[tuple[int, str]]) -> list[int]:
    """Ids in round-robin order of host: one per host, then the second of each, and so on."""
    return [pk for pk, _ in _round_robin(rows)]


def _round_robin(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(id, host) of (id, url) rows in round-robin order of host, each host's in row order."""
    seen: Counter[str] = Counter()
    keyed = []
    for position, (pk, url) in enumerate(rows):
        host = Source(url=url).host
        keyed.append((seen[host], position, pk, host))
        seen[host] += 1
    return [(pk, host) for _, _, pk, host in sorted(keyed)]


def _enqueue(items: list[tuple[int, float]]) -> None:
    """Queue ``refresh_source`` for each (source id, countdown in seconds)."""
    from tracker.tasks import refresh_source  # The tasks module imports this one.

    for source_id, countdown in items:
        refresh_source.apply_async((source_id,), countdown=countdown or None)


# --- check now --------------------------------------------------------------------------------


def sources_request_refresh(*, sources: QuerySet[Source]) -> list[int]:
    """Claim ``sources`` and queue a refresh of each after commit; returns their ids.

    The claim is the dispatcher's, so the next tick does not queue them a second time.
    """
    with transaction.atomic():
        rows = list(sources.order_by("id").values_list("id", "url"))
        Source.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            next_check_at=timezone.now() + _lease()
        )
        ids = interleave_hosts(rows)
        transaction.on_commit(functools.partial(_enqueue, [(pk, 0.0) for pk in ids]))
    return ids


def source_request_refresh(*, source: Source) -> None:
    sources_request_refresh(sources=Source.objects.filter(pk=source.pk))


# --- refresh one source -----------------------------------------------------------------------


def source_refresh(
    *, source_id: int, force: bool = False, slot_reserved: bool = False
) -> SourceCheck | None:
    """Check one source now; see the module docstring."""
    with _source_lock(source_id) as locked:
        if not locked:
            return None
        source = Source.objects.filter(pk=source_id).only(*_STATE_FIELDS).first()
        if source is None:
            return None
        now = timezone.now()
        if not force and source.next_check_at is not None and source.next_check_at > now + _lease():
            return None  # Checked since this refresh was queued.
        policy = fetch_policy()
        robots = RobotsChecker(policy=policy, store=_robots_store())
        # From here on the time counts as the check's: reading robots.txt (for its
        # Crawl-delay) may be most of it.
        clock = time.monotonic()
        if not slot_reserved and not _take_turn(source, robots, now):
            return None
        started = timezone.now()
        result = fetch(
            source.url,
            policy=policy,
            etag=source.etag,
            last_modified=source.last_modified,
            session=_session(policy),
            robots=robots,
        )
        result.duration_ms = max(result.duration_ms, int((time.monotonic() - clock) * 1000))
        stored = Stored(
            url=source.url,
            content_hash=source.content_hash,
            content_hash_version=source.content_hash_version,
            health=source.health,
            consecutive_failures=source.consecutive_failures,
            gone_streak=_gone_streak(source_id) if result.status in GONE_STATUSES else 0,
        )
        judgement = judge(result, _page(result), stored, now=started, schedule=_schedule())
        with transaction.atomic():
            updated = Source.objects.filter(pk=source_id, url=source.url).update(**judgement.source)
            if not updated:
                return None  # Deleted, or its URL edited: this result is about another page.
            return SourceCheck.objects.create(source_id=source_id, **judgement.check)


def _take_turn(source: Source, robots: RobotsChecker, now: datetime) -> bool:
    """Take this host's next fetch slot; False if the source was put back on the schedule."""
    interval = settings.TRACKER_HOST_MIN_INTERVAL
    crawl_delay = robots.crawl_delay(source.url)
    if crawl_delay:
        interval = max(interval, min(crawl_delay, CRAWL_DELAY_MAX))
    turn = _politeness().reserve(source.host, interval, within=HOST_WAIT_MAX)
    if turn.wait <= 0:
        return True
    if turn.wait <= HOST_WAIT_MAX:
        raise HostBusy(turn.wait, reserved=turn.reserved)
    Source.objects.filter(pk=source.pk).update(next_check_at=now + timedelta(seconds=turn.wait))
    return False


def _page(result: FetchResult) -> PageMetadata | None:
    if not result.ok or result.not_modified or not 200 <= (result.status or 0) < 300:
        return None
    return extract(result.body, url=result.final_url, content_type=result.content_type)


def _gone_streak(source_id: int) -> int:
    """How many of the latest checks, newest first, found the page gone (up to what matters)."""
    latest = SourceCheck.objects.filter(source_id=source_id).order_by("-checked_at", "-id")
    outcomes = latest.values_list("outcome", flat=True)[: max(0, settings.TRACKER_BROKEN_AFTER - 1)]
    streak = 0
    for outcome in outcomes:
        if outcome != SourceCheck.Outcome.GONE:
            break
        streak += 1
    return streak
