"""Refreshing one source, end to end, against real servers on loopback.

Each test points a source at a route of a loopback server, runs ``source_refresh`` (the
function a worker runs) and reads what it wrote: the ``SourceCheck`` row and the source's
refresh fields.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trafilatura
import trustme
from django.db import connection
from django.utils import timezone

from tests.factories import SourceCheckFactory, SourceFactory
from tests.tracker.conftest import https_server
from tests.tracker.httpserver import LoopbackServer, RecordedRequest, Reply
from tracker import services
from tracker.metadata import EXTRACTOR_VERSION
from tracker.models import Source, SourceCheck

PAGES = Path(__file__).parent / "pages"
ARTICLE = (PAGES / "article.html").read_bytes()
ARTICLE_OTHER_CHROME = (PAGES / "article_other_chrome.html").read_bytes()
ARTICLE_REVISED = (PAGES / "article_revised.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
Health = Source.Health
Outcome = SourceCheck.Outcome
DAY = timedelta(hours=24)

pytestmark = pytest.mark.usefixtures("loopback_settings")


def source_at(server: LoopbackServer, path: str, **fields: Any) -> Source:
    return SourceFactory.create(url=server.url(path), **fields)


def refresh(source: Source) -> SourceCheck:
    check = services.source_refresh(source_id=source.pk, force=True)
    assert check is not None
    source.refresh_from_db()
    return check


def between(value: datetime | None, low: timedelta, high: timedelta) -> bool:
    """Whether ``value`` lies between now + low and now + high (a second of slack each way)."""
    now = timezone.now()
    slack = timedelta(seconds=1)
    return value is not None and now + low - slack <= value <= now + high + slack


def with_etag(body: bytes, etag: str) -> Callable[[RecordedRequest], Reply]:
    def reply(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={**HTML, "ETag": etag})

    return reply


def test_it_records_an_article_beside_what_the_curator_typed(server: LoopbackServer) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers={**HTML, "ETag": '"a1"'}))
    source = source_at(server, "/analysis", title="Curator's title", publisher="Curator's desk")
    history_before = source.history.count()

    check = refresh(source)

    assert (check.outcome, check.http_status, check.error) == (Outcome.OK, 200, "")
    assert check.bytes_read == len(ARTICLE)
    assert check.content_hash == source.content_hash != ""
    assert check.final_url == source.final_url == source.url
    assert source.health == Health.OK
    assert source.fetched_title == (
        "A launch-notification pact for the Western Pacific is within reach"
    )
    assert source.fetched_published_on == date(2025, 3, 14)
    assert source.fetched_canonical_url == (
        "https://analysis.example.org/2025/03/launch-notification-pact"
    )
    assert source.fetched_language == "en-GB"
    assert (source.title, source.publisher) == ("Curator's title", "Curator's desk")
    assert source.etag == '"a1"'
    assert source.content_hash_version == EXTRACTOR_VERSION
    assert source.consecutive_failures == 0
    assert between(source.next_check_at, DAY, DAY * 1.1)
    # A check is refresh state, not a curator's edit: no audit history entry.
    assert source.history.count() == history_before


def test_it_checks_an_https_source_against_the_configured_authority(
    authority: trustme.CA, ca_bundle: str, settings: Any
) -> None:
    settings.TRACKER_FETCH_CA_BUNDLE = ca_bundle
    with https_server(authority, "localhost") as server:
        server.route("/robots.txt", Reply(status=404))
        server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
        source = SourceFactory.create(url=f"https://localhost:{server.port}/analysis")

        check = refresh(source)

    assert (check.outcome, check.http_status, source.health) == (Outcome.OK, 200, Health.OK)
    assert source.fetched_title


def test_it_follows_a_redirect_chain_and_records_where_it_ends(server: LoopbackServer) -> None:
    server.route("/old", Reply(status=301, headers={"Location": "/moved"}))
    server.route("/moved", Reply(status=302, headers={"Location": "/final"}))
    server.route("/final", Reply(body=ARTICLE, headers=HTML))
    source = source_at(server, "/old")

    check = refresh(source)

    assert check.outcome == Outcome.REDIRECTED
    assert source.health == Health.REDIRECTED
    assert source.final_url == check.final_url == server.url("/final")
    assert source.url == server.url("/old")


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.1/intranet", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"],
)
def test_it_blocks_a_redirect_to_a_private_address(server: LoopbackServer, target: str) -> None:
    server.route("/out", Reply(status=302, headers={"Location": target}))
    source = source_at(server, "/out")

    check = refresh(source)

    assert check.outcome == Outcome.BLOCKED
    assert source.health == Health.BLOCKED
    assert "not a public address" in check.error
    assert source.consecutive_failures == 1
    assert between(source.next_check_at, DAY, DAY * 1.1)


@pytest.mark.parametrize("open_ports", [False, True], ids=["production", "ports-opened"])
def test_the_production_defaults_refuse_loopback(
    server: LoopbackServer, settings: Any, open_ports: bool
) -> None:
    settings.TRACKER_FETCH_ALLOWED_NETWORKS = []
    settings.TRACKER_FETCH_ALLOWED_PORTS = None if open_ports else frozenset({80, 443})
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = source_at(server, "/analysis")

    check = refresh(source)

    assert check.outcome == Outcome.BLOCKED
    assert source.health == Health.BLOCKED
    assert server.requests == []


def test_it_marks_a_source_broken_only_after_repeated_404(server: LoopbackServer) -> None:
    statuses = iter([404, 410, 404])
    server.route("/gone", lambda request: Reply(status=next(statuses), body=b"not here"))
    source = source_at(server, "/gone")

    seen = []
    for _ in range(3):
        check = refresh(source)
        seen.append((check.outcome, source.health, source.consecutive_failures))

    assert seen == [
        (Outcome.GONE, Health.UNREACHABLE, 1),
        (Outcome.GONE, Health.UNREACHABLE, 2),
        (Outcome.GONE, Health.BROKEN, 3),
    ]
    assert source.last_error == "HTTP 404: the page is gone"
    # Backoff doubled with each failure: one hour, two, then four.
    assert between(source.next_check_at, timedelta(hours=4), timedelta(hours=4.4))


@pytest.mark.redis
def test_a_batch_judges_each_gone_page_by_its_own_history(
    server: LoopbackServer, with_redis: None
) -> None:
    """Gone twice before, gone twice with a success between, never checked: one query."""
    histories = {
        "/twice": [Outcome.GONE, Outcome.GONE],
        "/interrupted": [Outcome.GONE, Outcome.OK, Outcome.GONE],
        "/new": [],
    }
    sources = {}
    for path, outcomes in histories.items():
        server.route(path, Reply(status=410))
        sources[path] = source_at(server, path)
        for outcome in outcomes:  # Oldest first.
            SourceCheckFactory.create(source=sources[path], outcome=outcome)

    services.sources_refresh(source_ids=[s.pk for s in sources.values()], force=True)

    healths = {}
    for path, source in sources.items():
        source.refresh_from_db()
        healths[path] = source.health
    assert healths == {
        "/twice": Health.BROKEN,  # The third gone in a row.
        "/interrupted": Health.UNREACHABLE,
        "/new": Health.UNREACHABLE,
    }


def test_it_counts_gone_checks_afresh_after_a_success(server: LoopbackServer) -> None:
    statuses = iter([404, 404, 200, 404, 404])

    def reply(request: RecordedRequest) -> Reply:
        status = next(statuses)
        return Reply(body=ARTICLE, headers=HTML) if status == 200 else Reply(status=status)

    server.route("/flaky", reply)
    source = source_at(server, "/flaky")

    healths = []
    for _ in range(5):
        refresh(source)
        healths.append(source.health)

    assert healths == [Health.UNREACHABLE, Health.UNREACHABLE, Health.OK] + [Health.UNREACHABLE] * 2


@pytest.mark.parametrize(
    ("status", "retry_after", "earliest"),
    [
        (429, "7200", timedelta(hours=2)),
        (503, "90000", timedelta(seconds=90000)),
        (429, "30", timedelta(hours=1)),  # The backoff is longer than what the server asks.
        (403, None, timedelta(hours=1)),
        (500, None, timedelta(hours=1)),
    ],
)
def test_it_backs_off_from_a_server_error_honouring_retry_after(
    server: LoopbackServer, status: int, retry_after: str | None, earliest: timedelta
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    server.route("/busy", Reply(status=status, headers=headers))
    source = source_at(server, "/busy")

    check = refresh(source)

    assert (check.outcome, check.http_status) == (Outcome.HTTP_ERROR, status)
    assert source.health == Health.UNREACHABLE
    assert check.error == f"HTTP {status}"
    assert between(source.next_check_at, earliest, earliest * 1.1)


def test_it_records_the_deadline_when_a_server_drips(server: LoopbackServer, settings: Any) -> None:
    settings.TRACKER_FETCH_DEADLINE = 1.0
    server.route(
        "/drip",
        Reply(
            body=lambda: (b"<p>." for _ in range(1000)),
            headers=HTML,
            content_length=False,
            chunk_delay=0.1,
        ),
    )
    source = source_at(server, "/drip")

    check = refresh(source)

    assert check.outcome == Outcome.NETWORK_ERROR
    assert "deadline" in check.error
    assert 900 <= check.duration_ms < 3000
    assert source.health == Health.UNREACHABLE
    assert source.last_error == check.error
    assert between(source.next_check_at, timedelta(hours=1), timedelta(hours=1.1))


def test_the_duration_counts_reading_robots_txt_too(server: LoopbackServer) -> None:
    slow_robots = Reply(
        body=lambda: iter([b"User-agent: *\n", b"Allow: /\n"]),
        content_length=False,
        chunk_delay=0.2,
    )
    server.route("/robots.txt", slow_robots)
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))

    check = refresh(source_at(server, "/analysis"))

    assert check.outcome == Outcome.OK
    assert check.duration_ms >= 350


@pytest.mark.redis
def test_a_check_that_raises_leaves_its_source_alone_and_the_others_stand(
    server: LoopbackServer,
    with_redis: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A page that trips the extraction library costs nothing but its own check, which says
    nothing about the page: no row, no backoff; it is due again when its lease ends."""
    real_extraction = trafilatura.bare_extraction

    def trips_on_the_poison_page(tree: Any, **options: Any) -> Any:
        if tree.findtext(".//title") == "Poison":
            raise ValueError("the extractor tripped")
        return real_extraction(tree, **options)

    monkeypatch.setattr(trafilatura, "bare_extraction", trips_on_the_poison_page)
    poison = b"<html><head><title>Poison</title></head><body><p>Text.</p></body></html>"
    server.route("/poison", Reply(body=poison, headers=HTML))
    server.route("/fine", Reply(body=ARTICLE, headers=HTML))
    claimed_until = timezone.now() + timedelta(minutes=5)
    tripping = source_at(
        server, "/poison", health=Health.OK, etag='"kept"', next_check_at=claimed_until
    )
    fine = source_at(server, "/fine")

    report = services.sources_refresh(source_ids=[tripping.pk, fine.pk], force=True)

    assert [(check.source_id, check.outcome) for check in report.checks] == [(fine.pk, "ok")]
    assert report.unfinished == {tripping.pk: "checker error: ValueError: the extractor tripped"}
    tripping.refresh_from_db()
    assert (tripping.health, tripping.etag, tripping.consecutive_failures) == (
        Health.OK,
        '"kept"',
        0,
    )
    assert tripping.next_check_at == claimed_until
    assert not tripping.checks.exists()
    assert "the extractor tripped" in caplog.text  # The bug's traceback, for whoever fixes it.


def test_it_stops_a_gzip_bomb_at_the_cap_and_keeps_the_health(
    server: LoopbackServer, gzip_bomb: bytes
) -> None:
    server.route(
        "/bomb",
        Reply(body=gzip_bomb, headers={**HTML, "Content-Encoding": "gzip", "ETag": '"b"'}),
    )
    source = source_at(server, "/bomb")

    check = refresh(source)

    assert check.outcome == Outcome.TOO_LARGE
    assert "cap" in check.error
    assert check.bytes_read <= 5 * 1024 * 1024 + 64 * 1024
    assert source.health == Health.UNCHECKED
    assert source.consecutive_failures == 0
    # Its validators are kept: an unchanged oversized page is a 304 next time.
    assert source.etag == '"b"'


def test_it_asks_conditionally_and_takes_304_as_not_modified(server: LoopbackServer) -> None:
    server.route("/analysis", with_etag(ARTICLE, '"v1"'))
    source = source_at(server, "/analysis")
    first = refresh(source)

    second = refresh(source)

    assert first.outcome == Outcome.OK
    assert (second.outcome, second.http_status, second.bytes_read) == (
        Outcome.NOT_MODIFIED,
        304,
        0,
    )
    assert second.content_hash == first.content_hash
    assert source.health == Health.OK
    assert server.requests[-1].headers["if-none-match"] == '"v1"'


def test_it_ignores_a_change_of_only_the_ad_block(server: LoopbackServer) -> None:
    pages = iter([ARTICLE, ARTICLE_OTHER_CHROME])
    server.route("/analysis", lambda request: Reply(body=next(pages), headers=HTML))
    source = source_at(server, "/analysis")
    refresh(source)

    check = refresh(source)

    assert check.outcome == Outcome.OK
    assert source.health == Health.OK
    assert source.content_changed_at is None


def test_it_reports_a_changed_article_and_checks_it_sooner(server: LoopbackServer) -> None:
    pages = iter([ARTICLE, ARTICLE_REVISED])
    server.route("/analysis", lambda request: Reply(body=next(pages), headers=HTML))
    source = source_at(server, "/analysis")
    first = refresh(source)

    check = refresh(source)

    assert check.outcome == Outcome.CHANGED
    assert check.content_hash not in ("", first.content_hash)
    assert source.health == Health.CHANGED
    assert between(source.content_changed_at, timedelta(0), timedelta(0))
    assert between(source.next_check_at, DAY / 4, DAY / 4 * 1.1)


def test_it_takes_a_new_extractor_version_as_a_new_baseline(server: LoopbackServer) -> None:
    server.route("/analysis", Reply(body=ARTICLE_REVISED, headers=HTML))
    source = source_at(
        server, "/analysis", content_hash="0" * 64, content_hash_version="trafilatura-1.0+n0"
    )

    check = refresh(source)

    assert check.outcome == Outcome.OK
    assert source.content_hash_version == EXTRACTOR_VERSION
    assert source.content_changed_at is None


# --- safe to run twice, and beside curators ----------------------------------------------------


def test_it_leaves_a_source_to_the_worker_that_holds_it(server: LoopbackServer) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = source_at(server, "/analysis")

    with services._source_locks([source.pk]) as held:
        assert held == [source.pk]
        assert services.source_refresh(source_id=source.pk, force=True) is None

    assert server.requests == []
    assert refresh(source).outcome == Outcome.OK  # The lock is free again.


def test_it_skips_a_source_checked_since_its_refresh_was_queued(server: LoopbackServer) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = source_at(server, "/analysis", next_check_at=timezone.now() + DAY)

    assert services.source_refresh(source_id=source.pk) is None
    assert server.requests == []
    assert services.source_refresh(source_id=source.pk, force=True) is not None


@pytest.mark.django_db(transaction=True)
def test_it_keeps_a_curators_edit_made_during_the_check(server: LoopbackServer) -> None:
    source = source_at(server, "/analysis", title="Before")

    def edit_then_reply(request: RecordedRequest) -> Reply:
        Source.objects.filter(pk=source.pk).update(title="Edited meanwhile")
        connection.close()  # This runs in the server's thread, on its own connection.
        return Reply(body=ARTICLE, headers=HTML)

    server.route("/analysis", edit_then_reply)

    refresh(source)

    assert source.title == "Edited meanwhile"
    assert source.health == Health.OK


@pytest.mark.django_db(transaction=True)
def test_it_drops_the_result_when_the_url_is_edited_during_the_check(
    server: LoopbackServer,
) -> None:
    source = source_at(server, "/analysis")

    def move_then_reply(request: RecordedRequest) -> Reply:
        Source.objects.filter(pk=source.pk).update(url=server.url("/elsewhere"))
        connection.close()
        return Reply(status=404)

    server.route("/analysis", move_then_reply)

    assert services.source_refresh(source_id=source.pk, force=True) is None
    source.refresh_from_db()
    assert source.health == Health.UNCHECKED
    assert not SourceCheck.objects.filter(source=source).exists()


# --- politeness ---------------------------------------------------------------------------------


@pytest.fixture(params=["cache", "redis"])
def shared_state(request: pytest.FixtureRequest, settings: Any) -> str:
    """Locks, politeness and robots.txt in the default cache (no Redis) or in Redis."""
    if request.param == "redis":
        request.applymarker(pytest.mark.redis)
        settings.REDIS_URL = request.getfixturevalue("redis_url")
        request.getfixturevalue("redis_client")  # Flushes the database before and after.
    return str(request.param)


def test_a_task_delivered_again_takes_over_the_locks_it_held(
    server: LoopbackServer, shared_state: str
) -> None:
    """A worker killed mid-task leaves its locks behind; the same task, delivered again with
    the same id, checks its sources at once instead of skipping them until the locks expire.
    Another task still finds them held."""
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
    source = source_at(server, "/analysis")
    died_holding = services._source_locks([source.pk], token="task-1")
    assert died_holding.__enter__() == [source.pk]  # Never left: the worker was killed.

    other = services.sources_refresh(source_ids=[source.pk], force=True, token="task-2")
    again = services.sources_refresh(source_ids=[source.pk], force=True, token="task-1")

    assert (other.checks, other.skipped) == ([], [source.pk])
    assert [check.source_id for check in again.checks] == [source.pk]
    # Released when done: any task may have it now.
    assert services.source_refresh(source_id=source.pk, force=True) is not None


def test_it_sleeps_through_a_short_wait_for_the_host(
    server: LoopbackServer, settings: Any, shared_state: str
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 0.2  # The cache rounds it up to a second.
    arrived: dict[str, float] = {}

    def page(request: RecordedRequest) -> Reply:
        arrived[request.path] = time.monotonic()
        return Reply(body=ARTICLE, headers=HTML)

    server.route("/a", page)
    server.route("/b", page)
    first, second = source_at(server, "/a"), source_at(server, "/b")
    refresh(first)

    check = refresh(second)

    assert check.outcome == Outcome.OK
    # Measured where the host sees it: the gap between the two fetches, whatever the load.
    assert arrived["/b"] - arrived["/a"] >= 0.15
    assert server.paths() == ["/robots.txt", "/a", "/b"]


def test_it_hands_back_a_later_turn_reserved_or_not(
    server: LoopbackServer, settings: Any, shared_state: str
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 30.0
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    first, second = source_at(server, "/a"), source_at(server, "/b")
    refresh(first)

    report = services.sources_refresh(source_ids=[second.pk], force=True)

    # Redis reserves the turn for the caller; the cache can only say when the host frees up,
    # so there the source goes back on the schedule.
    reserved = shared_state == "redis"
    later = report.reserved if reserved else report.deferred
    assert (report.checks, report.skipped, list(later)) == ([], [], [second.pk])
    assert 25 < later[second.pk] <= 30
    second.refresh_from_db()
    assert between(second.next_check_at, timedelta(seconds=25), timedelta(seconds=30)) is not (
        reserved
    )
    assert server.paths() == ["/robots.txt", "/a"]
    assert not SourceCheck.objects.filter(source=second).exists()


def test_it_fetches_in_the_turn_reserved_for_it(server: LoopbackServer, settings: Any) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 30.0
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    server.route("/b", Reply(body=ARTICLE, headers=HTML))
    first, second = source_at(server, "/a"), source_at(server, "/b")
    refresh(first)

    report = services.sources_refresh(source_ids=[second.pk], force=True, slot_reserved=True)

    assert [check.outcome for check in report.checks] == [Outcome.OK]
    assert server.paths() == ["/robots.txt", "/a", "/b"]


def test_it_spaces_fetches_by_robots_crawl_delay(server: LoopbackServer, shared_state: str) -> None:
    server.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 20\n"))
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    first, second = source_at(server, "/a"), source_at(server, "/b")
    refresh(first)

    report = services.sources_refresh(source_ids=[second.pk], force=True)

    later = report.reserved if shared_state == "redis" else report.deferred
    assert 18 < later[second.pk] <= 20


def test_it_puts_a_source_back_on_the_schedule_when_its_host_is_busy_for_long(
    server: LoopbackServer, settings: Any, shared_state: str
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 300.0
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    first, second = source_at(server, "/a"), source_at(server, "/b")
    refresh(first)

    assert services.source_refresh(source_id=second.pk, force=True) is None

    second.refresh_from_db()
    assert between(second.next_check_at, timedelta(seconds=290), timedelta(seconds=300))
    assert second.health == Health.UNCHECKED


# --- a batch ------------------------------------------------------------------------------------


@pytest.fixture
def with_redis(settings: Any, redis_url: str, redis_client: Any) -> None:
    """Shared state in Redis, as deployed: a batch's fetches then run in threads."""
    settings.REDIS_URL = redis_url


@pytest.mark.redis
def test_a_batch_fetches_its_hosts_concurrently(with_redis: None) -> None:
    """Each page, on a host of its own, answers only once three requests are in flight."""
    together = threading.Barrier(3, timeout=5)

    def after_the_others(request: RecordedRequest) -> Reply:
        together.wait()
        return Reply(body=ARTICLE, headers=HTML)

    with contextlib.ExitStack() as stack:
        hosts = [stack.enter_context(LoopbackServer(f"127.0.0.{n}")) for n in (1, 2, 3)]
        for host in hosts:
            host.route("/a", after_the_others)
        sources = [source_at(host, "/a") for host in hosts]

        report = services.sources_refresh(source_ids=[s.pk for s in sources], force=True)

    assert sorted(check.source_id for check in report.checks) == sorted(s.pk for s in sources)
    assert {check.outcome for check in report.checks} == {Outcome.OK}
    assert not together.broken


@pytest.mark.redis
def test_a_batch_checks_one_hosts_pages_in_turn_at_its_pace(
    server: LoopbackServer, with_redis: None, settings: Any
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 0.3
    for path in ("/a", "/b", "/c"):
        server.route(path, Reply(body=ARTICLE, headers=HTML))
    sources = [source_at(server, path) for path in ("/a", "/b", "/c")]

    report = services.sources_refresh(source_ids=[s.pk for s in sources], force=True)

    assert [check.source_id for check in report.checks] == [s.pk for s in sources]
    assert {check.outcome for check in report.checks} == {Outcome.OK}
    starts = [check.checked_at for check in report.checks]
    assert all((b - a).total_seconds() >= 0.29 for a, b in itertools.pairwise(starts))
    assert server.paths() == ["/robots.txt", "/a", "/b", "/c"]


@pytest.mark.redis
def test_a_lane_hands_back_a_far_turn_and_defers_the_pages_after_it(
    server: LoopbackServer, with_redis: None, settings: Any
) -> None:
    settings.TRACKER_HOST_MIN_INTERVAL = 30.0
    for path in ("/a", "/b", "/c"):
        server.route(path, Reply(body=ARTICLE, headers=HTML))
    first, second, third = (source_at(server, path) for path in ("/a", "/b", "/c"))

    report = services.sources_refresh(source_ids=[first.pk, second.pk, third.pk], force=True)

    assert [check.source_id for check in report.checks] == [first.pk]
    # The second page's turn, 30 s on, is reserved for a task queued for it; the third is
    # back on the schedule for then, to ask for a turn of its own.
    assert list(report.reserved) == [second.pk]
    assert list(report.deferred) == [third.pk]
    assert 25 < report.reserved[second.pk] <= 30
    assert report.deferred[third.pk] == report.reserved[second.pk]
    third.refresh_from_db()
    assert between(third.next_check_at, timedelta(seconds=25), timedelta(seconds=30))
    assert server.paths() == ["/robots.txt", "/a"]


@pytest.mark.redis
def test_a_task_near_its_time_limit_starts_no_more_fetches(
    server: LoopbackServer, with_redis: None, settings: Any
) -> None:
    """The rest of each lane goes back on the schedule, due now, for the next tick."""
    settings.CELERY_TASK_SOFT_TIME_LIMIT = int(settings.TRACKER_FETCH_DEADLINE)
    settings.TRACKER_HOST_MIN_INTERVAL = 0.1
    for path in ("/a", "/b"):
        server.route(path, Reply(body=ARTICLE, headers=HTML))
    first, second = source_at(server, "/a"), source_at(server, "/b")
    before = timezone.now()

    report = services.sources_refresh(source_ids=[first.pk, second.pk], force=True)

    assert [check.source_id for check in report.checks] == [first.pk]
    assert report.deferred == {second.pk: 0.0}
    second.refresh_from_db()
    assert second.next_check_at is not None
    assert before <= second.next_check_at <= timezone.now()
    assert server.paths() == ["/robots.txt", "/a"]


@pytest.mark.redis
def test_a_batch_writes_each_outcome_to_its_own_source(
    server: LoopbackServer, with_redis: None
) -> None:
    server.route("/fresh", Reply(body=ARTICLE, headers={**HTML, "ETag": '"f1"'}))
    server.route("/same", with_etag(ARTICLE, '"s1"'))
    server.route("/down", Reply(status=503))
    fresh, gone, down = (
        source_at(server, "/fresh"),
        source_at(server, "/gone"),
        source_at(server, "/down"),
    )
    same = source_at(server, "/same", etag='"s1"', content_hash="c" * 64, health=Health.OK)

    report = services.sources_refresh(source_ids=[fresh.pk, same.pk, gone.pk, down.pk], force=True)

    outcomes = {check.source_id: check.outcome for check in report.checks}
    assert outcomes == {
        fresh.pk: Outcome.OK,
        same.pk: Outcome.NOT_MODIFIED,
        gone.pk: Outcome.GONE,
        down.pk: Outcome.HTTP_ERROR,
    }
    for source in (fresh, same, gone, down):
        source.refresh_from_db()
    assert (fresh.health, fresh.etag, fresh.fetched_title != "") == (Health.OK, '"f1"', True)
    assert (same.health, same.content_hash, same.fetched_title) == (Health.OK, "c" * 64, "")
    assert (gone.health, gone.http_status, gone.consecutive_failures) == (
        Health.UNREACHABLE,
        404,
        1,
    )
    assert (down.health, down.http_status, down.last_error) == (
        Health.UNREACHABLE,
        503,
        "HTTP 503",
    )


@pytest.mark.redis
def test_a_batch_skips_only_the_sources_it_cannot_have(
    server: LoopbackServer, with_redis: None
) -> None:
    for path in ("/a", "/b", "/c"):
        server.route(path, Reply(body=ARTICLE, headers=HTML))
    free, held, checked = (source_at(server, path) for path in ("/a", "/b", "/c"))
    Source.objects.filter(pk=checked.pk).update(next_check_at=timezone.now() + DAY)

    with services._source_locks([held.pk]):
        report = services.sources_refresh(source_ids=[free.pk, held.pk, checked.pk, 0])

    assert [check.source_id for check in report.checks] == [free.pk]
    assert report.skipped == [held.pk, checked.pk, 0]
    assert server.paths() == ["/robots.txt", "/a"]


@pytest.mark.redis
@pytest.mark.parametrize("size", [2, 6])
def test_a_batch_writes_in_the_same_number_of_queries_whatever_its_size(
    server: LoopbackServer,
    with_redis: None,
    size: int,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    """Read the sources and the latest checks of those gone; then, in a transaction (a
    savepoint inside the test's), lock them, write one UPDATE per set of fields (here three:
    new pages, 304s and gone pages) and one INSERT; then the check heartbeat, one write to the
    shared cache (here the database cache: five queries; one Redis command when deployed)."""
    server.route("/same", with_etag(ARTICLE, '"s1"'))
    for n in range(size):
        server.route(f"/new{n}", Reply(body=ARTICLE, headers=HTML))
        server.route(f"/gone{n}", Reply(status=404))
    ids = [source_at(server, f"/new{n}").pk for n in range(size)]
    ids += [source_at(server, f"/same?{n}", etag='"s1"').pk for n in range(size)]
    ids += [source_at(server, f"/gone{n}").pk for n in range(size)]

    with django_assert_num_queries(9 + 5):
        report = services.sources_refresh(source_ids=ids, force=True)

    assert len(report.checks) == 3 * size
