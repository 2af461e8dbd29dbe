"""Source refresh: which sources to check when, and checking them, end to end.

Contract
--------
``sources_dispatch_due(now=None, batch_size=None, max_sources=None) -> list[int]``
    Claims due sources (``next_check_at <= now``, or never scheduled) in batches, each in its
    own transaction, then queues ``tracker.tasks.refresh_sources`` tasks for all of them. A
    task holds up to ``TRACKER_REFRESH_BATCH`` hosts, and of each host up to ``TASK_SPAN``
    seconds of its politeness turns (one source at the default interval of a second, twenty at
    a tenth of a second); it is queued for a little before its first turn, and a host's next
    task follows one span later, up to ``HOST_WAIT_MAX`` (the rest of a busy host's sources
    are put back on the schedule that far ahead). A claim moves ``next_check_at`` one lease
    ahead (``TRACKER_REFRESH_LEASE``). Two dispatchers at the same moment never claim the same
    source (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite, which runs one writer
    at a time, a conditional ``UPDATE`` is the claim), and the next tick does not claim it
    again while its task waits. A lost task costs only the lease: its sources are then due
    again. Returns the ids queued.

``sources_refresh(source_ids=..., force=False, token=None) -> RefreshReport``
    Checks several sources at once, each as if alone: a per-source lock, per-host politeness,
    a conditional GET through :func:`tracker.fetcher.fetch` with robots.txt honoured, metadata
    from the bytes, the rules of :mod:`tracker.health`. Each host's sources form a lane,
    checked one after another by one thread of a pool, each at the host's next turn; the
    lanes run concurrently (they mostly wait on the network or for a turn). Then every
    ``SourceCheck`` row and every source's refresh fields are written in one transaction, a
    few statements for the whole batch. Sources are written by ``UPDATE`` of the refresh
    fields only, so a curator editing a title at the same moment loses nothing, and a check
    leaves no audit history entry; a source whose URL was edited during the fetch keeps
    nothing of the stale result.

    The report lists the new checks and the sources not checked: *skipped* when another
    worker holds one, it was deleted or edited meanwhile, or it was already checked since this
    refresh was queued (a re-delivered or duplicate task; ``force`` skips that test); and
    *reserved* when its host's next turn, now reserved for it, is more than ``TASK_SPAN``
    away (``queue_reserved`` queues a task for that moment, which fetches with
    ``slot_reserved=True`` without asking again); *deferred* when no turn could be reserved
    within ``HOST_WAIT_MAX`` (or, on the database cache, which cannot reserve ahead, the host
    stays busy past ``HOST_WAIT_IN_TASK``), in which case it is back on the schedule for when
    the host is free. A shorter wait is slept through. The sources of a lane after one handed
    back are deferred to that moment too, and so are those a lane has not started when the
    task nears its soft time limit (see ``_task_budget``), to the next tick.

    A check that raises says nothing about the page: Redis, the database or the broker out of
    reach, or a bug in the checker. Nothing is written for it: the source keeps its health,
    its failure count and its schedule, and stays claimed until its lease ends, when the next
    dispatch brings it back (*unfinished* in the report). Once one of a lane's checks meets an
    outage, the lane's later sources are left the same way without trying; an outage is
    logged once per task, a bug with its traceback per source. The batch's other checks are
    written as usual. A write the database refuses because it is out of reach (a restart) is
    tried again, the connection reopened, with a doubling wait until shortly before the task's
    soft time limit: finished fetches are not thrown away for an outage of a few seconds.

    Each source's lock lives as long as a task may (``CELERY_TASK_TIME_LIMIT``), shorter than
    the lease, so a dead task's locks are gone by the time its sources are due again. A task
    locks with its own id (``token``): the same task delivered again after its worker died
    takes over the locks it held instead of skipping its own sources. A lock that cannot be
    released (Redis gone) expires on its own. ``source_refresh(source_id=..., force=False)``
    is the same for one source.

``sources_request_refresh(sources=...) -> list[int]`` and ``source_request_refresh(source=...)``
    "Check now": claim and queue exactly as the dispatcher does.

``queue_reserved`` and the dispatch put tasks on the broker; when it is out of reach, the
sources stay claimed and come back when their lease ends.

Shared state lives in Redis when ``REDIS_URL`` is set, else in Django's default cache (a
database table, which every local process shares): the per-source lock, the per-host
politeness schedule and the robots.txt cache.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from tracker import heartbeat
from tracker.fetcher import FetchPolicy, FetchResult, fetch, make_session
from tracker.health import GONE_STATUSES, Judgement, Schedule, Stored, judge
from tracker.metadata import PageMetadata, extract
from tracker.models import Source, SourceCheck, host_of
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

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# A task told to come back later waits in the broker (and in a worker's memory) until then;
# anything longer goes back to the schedule in the database instead.
HOST_WAIT_MAX = 60.0
# Where turns cannot be reserved ahead (the database cache), a fetch thread waits for its
# host up to this long; past it, the source goes back to the schedule. Short, so a task's
# time stays well inside its soft time limit.
HOST_WAIT_IN_TASK = 10.0
# A refresh task takes up to this many seconds of each of its hosts' turns: its sources of one
# host are checked one after another by one thread, each at the host's next turn, so a host
# with many due pages is fetched at its polite pace without a task per page. A turn reserved up
# to this far ahead is slept through; a later one is left to a task queued for it.
TASK_SPAN = 2.0
# With no politeness interval, a task still takes at most this many sources of one host.
LANE_MAX = 50
# Sources whose reserved turns fall within this many seconds of each other share a task.
TURN_GRANULARITY = 0.05
# A dispatched task is due this long before its first turn.
TASK_LEAD = 0.25
# A task stops starting fetches this long before its soft time limit, less one fetch deadline
# and one turn: the rest of its sources go back to the schedule, so it always ends in time.
TASK_MARGIN = 5.0
# A write the database refused for being out of reach is tried again after this many seconds,
# doubling up to the second figure, until shortly before the task's soft time limit.
WRITE_RETRY_FIRST = 0.5
WRITE_RETRY_MAX = 4.0
# robots.txt may ask for any Crawl-delay; past a minute it would starve a host's other sources
# (a day's checks of a few hundred pages), and one request a minute is polite by any measure.
CRAWL_DELAY_MAX = 60.0
# The fields a refresh reads; the curator's fields are not loaded, so never written back.
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
        settings.TRACKER_FETCH_CA_BUNDLE,
    )


@functools.lru_cache(maxsize=8)
def _policy(
    user_agent: str,
    networks: tuple[str, ...],
    ports: frozenset[int] | None,
    deadline: float,
    max_bytes: int,
    ca_bundle: str,
) -> FetchPolicy:
    # Built once per configuration: parsing the networks on every check is wasted work.
    return FetchPolicy(
        user_agent=user_agent,
        allowed_networks=networks,
        allowed_ports=ports,
        deadline=deadline,
        max_bytes=max_bytes,
        ca_bundle=ca_bundle,
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


# Takes each key that is free, or already holds this token (the same task delivered again after
# its worker died), for ARGV[2] seconds; returns 1 for each key taken, 0 for each held by others.
_TAKE_SCRIPT = """
local taken = {}
for i, key in ipairs(KEYS) do
    if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) then
        taken[i] = 1
    elseif redis.call('GET', key) == ARGV[1] then
        redis.call('EXPIRE', key, ARGV[2])
        taken[i] = 1
    else
        taken[i] = 0
    end
end
return taken
"""

# Releases the given keys that still hold this batch's token: a lock that expired and was
# taken by another worker meanwhile is not ours to delete.
_RELEASE_SCRIPT = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('DEL', key)
    end
end
"""


def _lock_seconds() -> int:
    """How long a source's lock lives: as long as a task may run, and so shorter than a lease."""
    return int(getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300)


@contextlib.contextmanager
def _source_locks(source_ids: Sequence[int], token: str | None = None) -> Iterator[list[int]]:
    """Hold sources for the length of one refresh; yields those no other worker holds.

    ``token`` names the holder (a task's id); locks it already holds are taken over. A lock
    expires with the task's hard time limit, so a killed worker's locks expire on their own,
    and one that cannot be released (Redis gone) does too. With Redis, taking and releasing a
    batch's locks is one round trip each.
    """
    names = {pk: f"tracker:refresh-lock:{pk}" for pk in dict.fromkeys(source_ids)}
    timeout = _lock_seconds()
    token = token or secrets.token_hex(16)
    client = _redis()
    held: list[int] = []
    if client is not None:
        taken = client.eval(_TAKE_SCRIPT, len(names), *names.values(), token, timeout)
        held = [pk for pk, took in zip(names, taken, strict=True) if took]
        try:
            yield held
        finally:
            if held:
                _release(
                    client.eval, _RELEASE_SCRIPT, len(held), *(names[pk] for pk in held), token
                )
        return
    cache = caches["default"]
    for pk, name in names.items():
        if cache.add(name, token, timeout=timeout):
            held.append(pk)
        elif cache.get(name) == token:
            cache.touch(name, timeout=timeout)
            held.append(pk)
    try:
        yield held
    finally:
        for pk in held:
            _release(_release_cached, cache, names[pk], token)


def _release_cached(cache: Any, name: str, token: str) -> None:
    if cache.get(name) == token:
        cache.delete(name)


def _release(release: Callable[..., Any], *args: Any) -> None:
    """Release locks; if the shared state is out of reach, leave them to expire."""
    try:
        release(*args)
    except Exception as error:
        if not is_outage(error):
            raise
        logger.warning("Source locks left to expire: %s", _describe(error))


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says a part the checker relies on is out of reach, not the page.

    Redis (locks, politeness, robots.txt), the database and the broker.
    """
    import redis
    from kombu.exceptions import OperationalError as BrokerError

    return isinstance(error, redis.RedisError | BrokerError | OperationalError | InterfaceError)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


_local = threading.local()


def _session(policy: FetchPolicy) -> requests.Session:
    """This thread's session; the process's threads share their connections to each host.

    Any thread may fetch any host next, so per-thread connection pools would rarely hold a
    kept-alive connection to it.
    """
    if getattr(_local, "policy", None) != policy:
        if getattr(_local, "session", None) is not None:
            _local.session.close()
        _local.session = make_session(policy, connections_of=_shared_session(policy))
        _local.policy = policy
    # Cookies one site set must not follow us to the next check, of it or of another site.
    _local.session.cookies.clear()
    return _local.session


_shared_sessions: dict[tuple[int, FetchPolicy], requests.Session] = {}
_shared_lock = threading.Lock()


def _shared_session(policy: FetchPolicy) -> requests.Session:
    """The session whose connection pools this process's threads share (made after a fork)."""
    key = (os.getpid(), policy)
    with _shared_lock:
        if key not in _shared_sessions:
            for stale in [k for k in _shared_sessions if k[0] != key[0]]:
                del _shared_sessions[stale]  # A parent's, inherited through a fork.
            _shared_sessions[key] = make_session(policy)
        return _shared_sessions[key]


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
    claimed: list[tuple[int, str]] = []
    while len(claimed) < max_sources:
        with transaction.atomic():
            rows = _claim_due(now, lease_until, min(batch_size, max_sources - len(claimed)))
        if not rows:
            break
        claimed.extend(rows)
    # Queued together, once every batch is claimed: a host's sources from all of them then
    # fill its lanes in order, instead of each batch's few starting lanes of their own.
    queued = _queue_claimed(claimed, now)
    heartbeat.beat(heartbeat.DISPATCH, at=now)
    return queued


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


def _queue_claimed(rows: list[tuple[int, str]], now: datetime) -> list[int]:
    """Queue claimed (id, url) rows as tasks of host lanes, after commit; returns the ids.

    A host's ``r``-th source has its turn ``r`` politeness intervals from now. Each host's
    sources are cut into lanes of ``TASK_SPAN`` seconds of turns; lanes starting in the same
    span are grouped into tasks of up to ``TRACKER_REFRESH_BATCH`` hosts, each queued for a
    little before its first turn. A task checks each lane in a thread of its own, at the
    host's pace. Turns beyond the horizon go back to the schedule for a later tick.
    """
    spacing: float = settings.TRACKER_HOST_MIN_INTERVAL
    per_lane = max(1, min(LANE_MAX, int(TASK_SPAN / spacing))) if spacing > 0 else LANE_MAX
    lanes: dict[str, list[list[int]]] = {}
    starts: dict[int, int] = {}  # Id of a lane's first source -> its round.
    rounds: Counter[str] = Counter()
    later: list[int] = []
    for pk, host in _by_host(rows):
        if rounds[host] * spacing > HOST_WAIT_MAX:
            later.append(pk)
            continue
        host_lanes = lanes.setdefault(host, [])
        if not host_lanes or len(host_lanes[-1]) == per_lane:
            host_lanes.append([])
            starts[pk] = rounds[host]
        host_lanes[-1].append(pk)
        rounds[host] += 1
    if later:
        Source.objects.filter(pk__in=later).update(
            next_check_at=now + timedelta(seconds=HOST_WAIT_MAX)
        )
    # Lanes that start in the same span share tasks, so a task's threads start together.
    by_span: dict[int, list[list[int]]] = {}
    for lane in sorted(
        (lane for host_lanes in lanes.values() for lane in host_lanes),
        key=lambda lane: starts[lane[0]],
    ):
        by_span.setdefault(int(starts[lane[0]] * spacing / TASK_SPAN), []).append(lane)
    size: int = settings.TRACKER_REFRESH_BATCH
    # A task is due a little before its first turn: its threads wait for the turn, as for any
    # later one, and a task reaching a worker process late still finds its hosts' turns ahead.
    groups = [
        span_lanes[i : i + size]
        for span_lanes in by_span.values()
        for i in range(0, len(span_lanes), size)
    ]
    tasks = [
        (
            [pk for lane in group for pk in lane],
            max(0.0, starts[group[0][0]] * spacing - TASK_LEAD),
        )
        for group in groups
    ]
    transaction.on_commit(functools.partial(_enqueue, tasks, start=now))
    return [pk for ids, _ in tasks for pk in ids]


def _by_host(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(id, host) of (id, url) rows, each host's in row order, hosts by their first row."""
    hosts: dict[str, list[int]] = {}
    for pk, url in rows:
        hosts.setdefault(host_of(url), []).append(pk)
    return [(pk, host) for host, ids in hosts.items() for pk in ids]


def interleave_hosts(rows: list[tuple[int, str]]) -> list[int]:
    """Ids in round-robin order of host: one per host, then the second of each, and so on."""
    return [pk for pk, _ in _round_robin(rows)]


def _round_robin(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(id, host) of (id, url) rows in round-robin order of host, each host's in row order."""
    seen: Counter[str] = Counter()
    keyed = []
    for position, (pk, url) in enumerate(rows):
        host = host_of(url)
        keyed.append((seen[host], position, pk, host))
        seen[host] += 1
    return [(pk, host) for _, _, pk, host in sorted(keyed)]


def _enqueue(
    batches: list[tuple[list[int], float]],
    *,
    start: datetime,
    force: bool = False,
    slot_reserved: bool = False,
) -> None:
    """Queue ``refresh_sources`` for each (source ids, seconds after ``start``).

    The times count from ``start``, the moment they were reckoned from, not from when each
    task is queued (queueing many takes a while).
    """
    from tracker.tasks import refresh_sources  # The tasks module imports this one.

    options = {"force": force, "slot_reserved": slot_reserved}
    for ids, seconds in batches:
        eta = start + timedelta(seconds=seconds) if seconds > 0 else None
        refresh_sources.apply_async((ids,), options, eta=eta)


# --- check now --------------------------------------------------------------------------------


def sources_request_refresh(*, sources: QuerySet[Source]) -> list[int]:
    """Claim ``sources`` and queue a refresh of each after commit; returns their ids.

    The claim and the batches are the dispatcher's, so the next tick does not queue them a
    second time and a host's sources keep their polite spacing.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(sources.order_by("id").values_list("id", "url"))
        Source.objects.filter(pk__in=[pk for pk, _ in rows]).update(next_check_at=now + _lease())
        return _queue_claimed(rows, now)


def source_request_refresh(*, source: Source) -> None:
    sources_request_refresh(sources=Source.objects.filter(pk=source.pk))


# --- refresh sources --------------------------------------------------------------------------


@dataclass
class RefreshReport:
    """What :func:`sources_refresh` did with each source it was given."""

    checks: list[SourceCheck] = field(default_factory=list)
    # Source id -> seconds until its host is free; the source is back on the schedule.
    deferred: dict[int, float] = field(default_factory=dict)
    # Source id -> seconds until the host's turn that is now reserved for it: refresh it
    # then, with ``slot_reserved=True`` (see queue_reserved).
    reserved: dict[int, float] = field(default_factory=dict)
    # Held by another worker, deleted, its URL edited, or checked since it was queued.
    skipped: list[int] = field(default_factory=list)
    # Source id -> why its check did not finish (an outage, a bug): nothing was written, and
    # the source comes back when its lease ends.
    unfinished: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Later:
    at: float  # time.monotonic() when the host's turn comes
    reserved: bool


@dataclass(frozen=True)
class _Fetched:
    started: datetime
    result: FetchResult
    page: PageMetadata | None


@dataclass(frozen=True)
class _Unfinished:
    """A check that raised: nothing is written for it, and its task's other checks stand."""

    error: str
    outage: bool


def sources_refresh(
    *,
    source_ids: Sequence[int],
    force: bool = False,
    slot_reserved: bool = False,
    token: str | None = None,
) -> RefreshReport:
    """Check these sources now, each host's in turn and the hosts concurrently; see above.

    ``token`` names the caller for the sources' locks (a task's id; see ``_source_locks``).
    """
    report = RefreshReport()
    started = time.monotonic()
    stop_at = started + _task_budget()
    write_by = started + _soft_time_limit() - 1.0
    with _source_locks(source_ids, token) as held:
        found = _retrying_on_outage(
            lambda: Source.objects.filter(pk__in=held).only(*_STATE_FIELDS).in_bulk(),
            until=write_by,
            what="reading this task's sources",
        )
        now = timezone.now()
        sources = [
            found[pk]
            for pk in dict.fromkeys(source_ids)
            if pk in found and (force or _not_checked_since_queued(found[pk], now))
        ]
        policy = fetch_policy()
        robots = RobotsChecker(policy=policy, store=_robots_store())
        lanes: dict[str, list[Source]] = {}
        for source in sources:
            lanes.setdefault(source.host, []).append(source)
        jobs = [
            functools.partial(_check_lane, lane, policy, robots, slot_reserved, stop_at)
            for lane in lanes.values()
        ]
        outcomes = [outcome for lane_outcomes in _run_all(jobs) for outcome in lane_outcomes]
        # Waits count from now, when the caller gets them, not from when each was found.
        clock = time.monotonic()
        later = {s.pk: o for s, o in outcomes if isinstance(o, _Later)}
        report.reserved = {pk: max(0.0, o.at - clock) for pk, o in later.items() if o.reserved}
        report.deferred = {pk: max(0.0, o.at - clock) for pk, o in later.items() if not o.reserved}
        unfinished = {s.pk: o for s, o in outcomes if isinstance(o, _Unfinished)}
        report.unfinished = {pk: o.error for pk, o in unfinished.items()}
        fetched = [(s, o) for s, o in outcomes if isinstance(o, _Fetched)]
        report.checks = _retrying_on_outage(
            lambda: _write(report.deferred, fetched),
            until=write_by,
            what=f"writing this task's {len(fetched)} checks",
        )
    _log_outages(unfinished)
    if report.checks:
        heartbeat.beat(heartbeat.CHECK)
    done = {check.source_id for check in report.checks} | later.keys() | unfinished.keys()
    report.skipped = [pk for pk in source_ids if pk not in done]
    return report


def _write(deferred: dict[int, float], fetched: list[tuple[Source, _Fetched]]) -> list[SourceCheck]:
    """Put the deferred sources back on the schedule and record the checks (may be rerun)."""
    _reschedule(deferred, timezone.now())
    return _record(fetched)


def _retrying_on_outage(work: Callable[[], _T], *, until: float, what: str) -> _T:
    """``work()``, run again while the database is out of reach, until ``until`` (monotonic).

    Each retry opens a new connection (the old one died with the server), after a wait that
    doubles from ``WRITE_RETRY_FIRST`` to ``WRITE_RETRY_MAX``. Past ``until`` the error is
    raised: the task fails, and its sources come back when their lease ends.
    """
    delay = WRITE_RETRY_FIRST
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() + delay > until:
                raise
            logger.warning(
                "The database is out of reach %s (%s); trying again in %.1f s.",
                what,
                _describe(error),
                delay,
            )
        connection.close()
        time.sleep(delay)
        delay = min(delay * 2, WRITE_RETRY_MAX)


def _log_outages(unfinished: dict[int, _Unfinished]) -> None:
    """One line per task for sources left by an outage (a bug was logged where it happened)."""
    outages = Counter(o.error for o in unfinished.values() if o.outage)
    for error, count in outages.items():
        logger.warning("%d source(s) not checked, left until their lease ends: %s", count, error)


def _soft_time_limit() -> float:
    return float(getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None) or 300)


def _task_budget() -> float:
    """Seconds after its start a task may still start a fetch and end inside its time limit."""
    return _soft_time_limit() - settings.TRACKER_FETCH_DEADLINE - TASK_SPAN - TASK_MARGIN


def _not_checked_since_queued(source: Source, now: datetime) -> bool:
    """False for a re-delivered or duplicate task: a check since the claim moved the date on."""
    return source.next_check_at is None or source.next_check_at <= now + _lease()


def source_refresh(*, source_id: int, force: bool = False) -> SourceCheck | None:
    """Check one source now: :func:`sources_refresh` of one. ``None`` if it was not checked."""
    checks = sources_refresh(source_ids=[source_id], force=force).checks
    return checks[0] if checks else None


def queue_reserved(reserved: dict[int, float], *, force: bool = False) -> None:
    """Queue a refresh of each source in ``reserved`` for its host's reserved turn.

    Sources whose turns fall in the same 50 ms share a task, which starts at the latest of
    them: never before a turn, so never sooner than politeness allows.
    """
    by_turn: dict[float, list[int]] = {}
    for pk, wait in reserved.items():
        by_turn.setdefault(math.ceil(wait / TURN_GRANULARITY) * TURN_GRANULARITY, []).append(pk)
    try:
        _enqueue(
            sorted((ids, turn) for turn, ids in by_turn.items()),
            start=timezone.now(),
            force=force,
            slot_reserved=True,
        )
    except Exception as error:
        if not is_outage(error):
            raise
        # Still claimed: the next dispatch after their lease brings them back.
        logger.warning(
            "%d source(s) left until their lease ends, not queued: %s",
            len(reserved),
            _describe(error),
        )


_Outcome = tuple[Source, _Fetched | _Unfinished | _Later]


def _check_lane(
    lane: list[Source],
    policy: FetchPolicy,
    robots: RobotsChecker,
    slot_reserved: bool,
    stop_at: float,
) -> list[_Outcome]:
    """Check one host's sources one after another, each at the host's next turn.

    Runs in a pool thread: it touches Redis and the network, never the database. When a turn
    is further away than the task may wait, that source is handed back (its turn reserved, or
    not) and the rest of the lane goes back on the schedule for after it; so do the sources
    not started by ``stop_at`` (the first always is).
    """
    outcomes: list[_Outcome] = []
    for index, source in enumerate(lane):
        if index and time.monotonic() >= stop_at:
            now = _Later(time.monotonic(), reserved=False)
            return outcomes + [(rest, now) for rest in lane[index:]]
        outcome = _check_one(source, policy, robots, slot_reserved)
        outcomes.append((source, outcome))
        if isinstance(outcome, _Later):
            after = _Later(outcome.at, reserved=False)
            return outcomes + [(rest, after) for rest in lane[index + 1 :]]
        if isinstance(outcome, _Unfinished) and outcome.outage:
            # The rest would only wait on the same outage, one timeout each.
            return outcomes + [(rest, outcome) for rest in lane[index + 1 :]]
    return outcomes


def _check_one(
    source: Source, policy: FetchPolicy, robots: RobotsChecker, slot_reserved: bool
) -> _Fetched | _Unfinished | _Later:
    """:func:`_fetch_politely`, with anything it raises turned into an unfinished check.

    A moment when Redis is out of reach, or a page that trips a bug, must not cost the checks
    of every other source in the task, nor count against the source: it says nothing about
    the page.
    """
    try:
        return _fetch_politely(source, policy, robots, slot_reserved)
    except Exception as error:
        if is_outage(error):
            return _Unfinished(_describe(error), outage=True)
        logger.exception(
            "Checking source %s (%s) raised; left until its lease ends", source.pk, source.url
        )
        return _Unfinished(f"checker error: {_describe(error)}", outage=False)


def _fetch_politely(
    source: Source, policy: FetchPolicy, robots: RobotsChecker, slot_reserved: bool
) -> _Fetched | _Later:
    """Wait for the host's turn, fetch and extract; or say when the host's turn comes."""
    # From here on the time counts as the check's: reading robots.txt (for its Crawl-delay)
    # may be most of it.
    clock = time.monotonic()
    if not slot_reserved and (later := _wait_turn(source, robots)):
        return later
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
    page = _page(result)
    result.body = b""  # Extracted; a lane's later fetches need not keep it in memory.
    return _Fetched(started, result, page)


def _wait_turn(source: Source, robots: RobotsChecker) -> _Later | None:
    """Sleep until this host may be fetched and return None, or say when its turn comes.

    A turn reserved up to ``TASK_SPAN`` ahead is slept through here; a later one is handed
    back, for a task queued for that moment (while a lane sleeps, its thread checks nothing
    else, and a long sleep would hold the task past its other hosts' sources). A turn that
    cannot be reserved ahead (the database cache) is waited for up to ``HOST_WAIT_IN_TASK``.
    """
    interval = settings.TRACKER_HOST_MIN_INTERVAL
    crawl_delay = robots.crawl_delay(source.url)
    if crawl_delay:
        interval = max(interval, min(crawl_delay, CRAWL_DELAY_MAX))
    politeness = _politeness()
    give_up = time.monotonic() + HOST_WAIT_IN_TASK
    while True:
        turn = politeness.reserve(source.host, interval, within=HOST_WAIT_MAX)
        if turn.reserved and turn.wait > TASK_SPAN:
            return _Later(time.monotonic() + turn.wait, reserved=True)
        if turn.reserved:
            time.sleep(turn.wait)
            return None
        if turn.wait > give_up - time.monotonic():
            return _Later(time.monotonic() + turn.wait, reserved=False)
        # Not reserved (a cache cannot reserve ahead): come back when the host frees up.
        time.sleep(turn.wait)


def _run_all(jobs: Sequence[Callable[[], list[_Outcome]]]) -> list[list[_Outcome]]:
    """Run ``jobs`` concurrently in this process's thread pool; results in order.

    Without Redis, politeness and robots.txt live in the database cache, which a pool
    thread would reach through a database connection of its own; there the jobs run one
    after another in the calling thread instead.
    """
    if len(jobs) < 2 or not settings.REDIS_URL:
        return [job() for job in jobs]
    return [future.result() for future in [_thread_pool().submit(job) for job in jobs]]


_pools: dict[int, ThreadPoolExecutor] = {}


def _thread_pool() -> ThreadPoolExecutor:
    """This process's fetch threads, started on first use (after a worker forks, not before)."""
    pid = os.getpid()
    pool = _pools.get(pid)
    if pool is None:
        _pools.clear()  # A parent's pool: its threads did not survive the fork.
        pool = _pools[pid] = ThreadPoolExecutor(
            max_workers=settings.TRACKER_REFRESH_BATCH, thread_name_prefix="refresh"
        )
    return pool


def _reschedule(busy: dict[int, float], now: datetime) -> None:
    """Put sources whose host stays busy back on the schedule for when it frees up."""
    _update_sources(
        [(pk, {"next_check_at": now + timedelta(seconds=wait)}) for pk, wait in busy.items()]
    )


def _update_sources(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Write each (id, {field: value}) with one parameterized ``UPDATE`` per set of fields.

    Each set is sent once for all its rows (``executemany``): the ORM's ``bulk_update``
    builds a ``CASE`` per field and row, which cost more than the fetches of a batch of
    unchanged pages. Values go through each field's own conversion, as ``save()`` does.
    """
    meta = Source._meta
    fields = {field.name: field for field in meta.concrete_fields}
    quote = connection.ops.quote_name
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for pk, values in rows:
        names = tuple(sorted(values))
        groups.setdefault(names, []).append(
            [fields[name].get_db_prep_save(values[name], connection) for name in names] + [pk]
        )
    table, key = quote(meta.db_table), quote(str(fields["id"].column))
    with connection.cursor() as cursor:
        for names, params in groups.items():
            assignments = ", ".join(f"{quote(str(fields[name].column))} = %s" for name in names)
            # Identifiers come from the model's own metadata, quoted; values are parameters.
            sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
            cursor.executemany(sql, params)


def _record(fetched: list[tuple[Source, _Fetched]]) -> list[SourceCheck]:
    """Judge each result and write the checks and the sources' refresh fields together.

    The rows are locked first, and a source whose URL was edited during its fetch is left
    alone: that result is about another page. Only refresh fields are written, so a
    curator's concurrent edit of anything else stands, and no audit history entry is made.
    """
    if not fetched:
        return []
    schedule = _schedule()
    streaks = _gone_streaks(
        [source.pk for source, done in fetched if done.result.status in GONE_STATUSES]
    )
    judged = [
        (source, _judge(source, done, schedule, streaks.get(source.pk, 0)))
        for source, done in fetched
    ]
    with transaction.atomic():
        current = dict(
            Source.objects.select_for_update()
            .filter(pk__in=[source.pk for source, _ in judged])
            .order_by("pk")  # Rows locked in one order by everyone: no deadlock.
            .values_list("id", "url")
        )
        kept = [(source, j) for source, j in judged if current.get(source.pk) == source.url]
        _update_sources([(source.pk, j.source) for source, j in kept])
        return SourceCheck.objects.bulk_create(
            [SourceCheck(source_id=source.pk, **j.check) for source, j in kept]
        )


def _judge(source: Source, done: _Fetched, schedule: Schedule, gone_streak: int) -> Judgement:
    stored = Stored(
        url=source.url,
        content_hash=source.content_hash,
        content_hash_version=source.content_hash_version,
        health=source.health,
        consecutive_failures=source.consecutive_failures,
        gone_streak=gone_streak,
    )
    return judge(done.result, done.page, stored, now=done.started, schedule=schedule)


def _page(result: FetchResult) -> PageMetadata | None:
    if not result.ok or result.not_modified or not 200 <= (result.status or 0) < 300:
        return None
    return extract(result.body, url=result.final_url, content_type=result.content_type)


def _gone_streaks(source_ids: list[int]) -> dict[int, int]:
    """How many of each source's latest checks, newest first, found the page gone.

    Counted up to what matters (``TRACKER_BROKEN_AFTER - 1``), for all the sources in one
    query, however many of a batch answered 404 or 410.
    """
    depth = settings.TRACKER_BROKEN_AFTER - 1
    if not source_ids or depth < 1:
        return {}
    latest = (
        SourceCheck.objects.filter(source_id__in=source_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("source_id"),
                order_by=[F("checked_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=depth)
        .order_by("source_id", "rank")
        .values_list("source_id", "outcome")
    )
    streaks: dict[int, int] = {}
    ended: set[int] = set()
    for source_id, outcome in latest:
        if source_id in ended:
            continue
        if outcome == SourceCheck.Outcome.GONE:
            streaks[source_id] = streaks.get(source_id, 0) + 1
        else:
            ended.add(source_id)
    return streaks
