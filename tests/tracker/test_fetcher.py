"""The fetcher against real servers on loopback: what it fetches, and everything it refuses."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from tests.tracker.conftest import https_server
from tests.tracker.httpserver import LoopbackServer, RecordedRequest, Reply
from tracker.fetcher import FetchPolicy, fetch, make_session, parse_retry_after
from tracker.robots import InMemoryRobotsStore, RedisRobotsStore, RobotsChecker

PAGES = Path(__file__).parent / "pages"
ARTICLE = (PAGES / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}


def test_it_fetches_an_article(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/analysis", Reply(body=ARTICLE, headers=HTML))

    result = fetch(server.url("/analysis"), policy=policy)

    assert result.ok, result.error
    assert (result.status, result.body) == (200, ARTICLE)
    assert result.final_url == result.requested_url == server.url("/analysis")
    assert result.redirects == []
    assert result.content_type == "text/html; charset=utf-8"
    assert result.headers["content-length"] == str(len(ARTICLE))
    assert result.bytes_read == len(ARTICLE)
    (request,) = server.requests
    assert request.headers["user-agent"] == policy.user_agent
    assert request.headers["accept-encoding"] == "gzip, deflate"


def test_it_decodes_a_gzipped_body(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route(
        "/gz", Reply(body=gzip.compress(ARTICLE), headers={**HTML, "Content-Encoding": "gzip"})
    )

    result = fetch(server.url("/gz"), policy=policy)

    assert result.ok, result.error
    assert result.body == ARTICLE


def test_it_follows_a_redirect_chain(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/old", Reply(status=301, headers={"Location": server.url("/moved")}))
    server.route("/moved", Reply(status=302, headers={"Location": "/moved-again?x=1"}))
    server.route("/moved-again", Reply(status=308, headers={"Location": "final"}))
    server.route("/final", Reply(body=ARTICLE, headers=HTML))

    result = fetch(server.url("/old"), policy=policy)

    assert result.ok, result.error
    assert result.redirects == [
        server.url("/moved"),
        server.url("/moved-again?x=1"),
        server.url("/final"),
    ]
    assert result.final_url == server.url("/final")
    assert (result.status, result.body) == (200, ARTICLE)


def test_it_stops_after_max_redirects(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))

    result = fetch(server.url("/loop"), policy=dataclasses.replace(policy, max_redirects=3))

    assert result.error_kind == "too_many_redirects"
    assert result.status == 302
    assert len(server.requests) == 4  # The first request and three redirects.


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("http://10.0.0.1/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://100.100.100.200/latest/meta-data/", "blocked_address"),  # CGNAT metadata
        ("http://[::1]:{port}/", "blocked_address"),  # loopback, but not the allowed IPv4 range
        ("http://[fd00::1]/", "blocked_address"),
        ("http://0177.0.0.1:{port}/", "bad_url"),
        ("http://2130706433:{port}/", "bad_url"),
        ("http://user:secret@127.0.0.1:{port}/", "bad_url"),
        ("ftp://127.0.0.1:{port}/", "bad_url"),
        ("file:///etc/passwd", "bad_url"),
    ],
)
def test_it_checks_every_redirect_target(
    server: LoopbackServer, policy: FetchPolicy, location: str, kind: str
) -> None:
    server.route(
        "/start", Reply(status=302, headers={"Location": location.format(port=server.port)})
    )

    result = fetch(server.url("/start"), policy=policy)

    assert result.error_kind == kind, result.error
    assert server.paths() == ["/start"]
    assert result.final_url == server.url("/start")


def test_it_checks_the_resolved_address_of_every_hop(policy: FetchPolicy) -> None:
    """A redirect to a *name* is judged on the address it resolves to, at connection time.

    The first server may be reached; "localhost" resolves to 127.0.0.1, which this policy
    does not allow, so the second server must never see a request.
    """
    narrow = dataclasses.replace(policy, allowed_networks=("127.0.0.2/32",))
    with LoopbackServer("127.0.0.2") as allowed, LoopbackServer("127.0.0.1") as forbidden:
        allowed.route(
            "/start", Reply(status=302, headers={"Location": f"http://localhost:{forbidden.port}/"})
        )

        result = fetch(allowed.url("/start"), policy=narrow)

        assert result.error_kind == "blocked_address", result.error
        assert allowed.paths() == ["/start"]
        assert forbidden.requests == []


def test_it_reports_a_page_that_goes_from_missing_to_gone(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    answers = iter([404, 410])
    server.route("/retired", lambda request: Reply(status=next(answers), body=b"not here"))

    first = fetch(server.url("/retired"), policy=policy)
    second = fetch(server.url("/retired"), policy=policy)

    # A response is not a transport error: the caller decides what 404 and 410 mean.
    assert (first.ok, first.status) == (True, 404)
    assert (second.ok, second.status) == (True, 410)


@pytest.mark.parametrize(
    "reply",
    [
        # One body byte every 0.5 s: every read succeeds, so no read timeout ever fires.
        Reply(body=lambda: (b"x" for _ in range(100)), content_length=False, chunk_delay=0.5),
        # The status line and headers dripped the same way.
        Reply(
            raw=[bytes([c]) for c in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
            chunk_delay=0.3,
        ),
    ],
    ids=["body", "headers"],
)
def test_it_cuts_a_slow_drip_at_the_deadline(
    server: LoopbackServer, policy: FetchPolicy, reply: Reply
) -> None:
    server.route("/drip", reply)
    started = time.monotonic()

    result = fetch(server.url("/drip"), policy=dataclasses.replace(policy, deadline=1.0))

    elapsed = time.monotonic() - started
    assert result.error_kind == "deadline", result.error
    assert elapsed < 1.8
    assert result.body == b""


def test_it_caps_a_body_of_unknown_length(server: LoopbackServer, policy: FetchPolicy) -> None:
    chunk = b"x" * 65536
    server.route(
        "/huge",
        Reply(body=lambda: (chunk for _ in range(320)), content_length=False),  # 20 MiB
    )

    result = fetch(server.url("/huge"), policy=policy)

    assert result.error_kind == "too_large", result.error
    assert policy.max_bytes < result.bytes_read <= policy.max_bytes + 65536
    assert result.body == b""


def test_it_caps_a_gzip_bomb_on_decompressed_size(
    server: LoopbackServer, policy: FetchPolicy, gzip_bomb: bytes
) -> None:
    server.route("/bomb", Reply(body=gzip_bomb, headers={**HTML, "Content-Encoding": "gzip"}))

    result = fetch(server.url("/bomb"), policy=policy)

    assert len(gzip_bomb) < policy.max_bytes  # The wire size alone would pass the cap.
    assert result.error_kind == "too_large", result.error
    assert policy.max_bytes < result.bytes_read <= policy.max_bytes + 65536


def test_it_refuses_a_declared_length_over_the_cap_without_reading(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    server.route("/big", Reply(body=b"x" * 2048))

    result = fetch(server.url("/big"), policy=dataclasses.replace(policy, max_bytes=1024))

    assert result.error_kind == "too_large"
    assert result.bytes_read == 0


@pytest.mark.parametrize(
    ("validator", "request_header"),
    [("etag", "if-none-match"), ("last_modified", "if-modified-since")],
)
def test_it_makes_conditional_requests(
    server: LoopbackServer, policy: FetchPolicy, validator: str, request_header: str
) -> None:
    etag, last_modified = '"v1-5d41402a"', "Fri, 14 Mar 2025 08:30:00 GMT"

    def conditional(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == etag or (
            request.headers.get("if-modified-since") == last_modified
        ):
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=ARTICLE, headers={**HTML, "ETag": etag, "Last-Modified": last_modified})

    server.route("/page", conditional)

    first = fetch(server.url("/page"), policy=policy)
    validators: dict[str, Any] = {validator: getattr(first, validator)}
    second = fetch(server.url("/page"), policy=policy, **validators)

    assert (first.etag, first.last_modified) == (etag, last_modified)
    assert (first.status, first.not_modified) == (200, False)
    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert second.ok
    assert server.requests[1].headers[request_header] == getattr(first, validator)


def test_it_keeps_the_connection_after_a_304(server: LoopbackServer, policy: FetchPolicy) -> None:
    """A 304 has no body, so the next fetch from that host reuses the connection."""
    server.route("/a", Reply(status=304, headers={"ETag": '"v1"'}))
    session = make_session(policy)

    results = [fetch(server.url("/a"), policy=policy, etag='"v1"', session=session) for _ in "ab"]

    assert [result.not_modified for result in results] == [True, True]
    first, second = server.requests
    assert first.client_port == second.client_port


def test_a_kept_connection_outlives_the_deadline_of_the_fetch_that_opened_it(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    """A finished fetch's watchdog is cancelled: it never shuts the socket a later fetch uses."""
    server.route("/a", Reply(body=b"ok"))
    short = dataclasses.replace(policy, deadline=0.5)
    session = make_session(short)

    first = fetch(server.url("/a"), policy=short, session=session)
    time.sleep(0.8)  # The first fetch's deadline passes while its connection waits in the pool.
    second = fetch(server.url("/a"), policy=short, session=session)

    assert (first.ok, second.ok, second.body) == (True, True, b"ok")
    assert server.requests[0].client_port == server.requests[1].client_port


def test_sessions_of_different_threads_share_connections(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    """A session made with ``connections_of`` lends and borrows kept-alive connections."""
    server.route("/a", Reply(body=b"ok"))
    shared = make_session(policy)
    results = []

    def fetch_in_own_session() -> None:
        own = make_session(policy, connections_of=shared)
        results.append(fetch(server.url("/a"), policy=policy, session=own))

    for _ in range(2):  # One after the other, each in a thread and a session of its own.
        thread = threading.Thread(target=fetch_in_own_session)
        thread.start()
        thread.join()

    assert [result.body for result in results] == [b"ok", b"ok"]
    assert server.requests[0].client_port == server.requests[1].client_port


def test_a_session_borrows_connections_only_under_the_same_policy(policy: FetchPolicy) -> None:
    other = make_session(dataclasses.replace(policy, deadline=policy.deadline + 1))

    with pytest.raises(ValueError, match="same policy"):
        make_session(policy, connections_of=other)


def test_it_keeps_a_connection_per_host_across_many_hosts(policy: FetchPolicy) -> None:
    """A worker goes round hundreds of hosts; each keeps its connection until it comes back."""
    servers = [LoopbackServer(host=f"127.0.0.{n}").start() for n in range(2, 14)]
    try:
        for server in servers:
            server.route("/a", Reply(body=b"ok"))
        session = make_session(policy)
        for _ in range(2):
            for server in servers:
                assert fetch(server.url("/a"), policy=policy, session=session).ok
        ports = [{request.client_port for request in server.requests} for server in servers]
    finally:
        for server in servers:
            server.stop()

    assert all(len(used) == 1 for used in ports)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        ("0", 0),
        ("Fri, 14 Mar 2025 08:32:00 GMT", 120),
        ("Fri, 14 Mar 2025 08:00:00 GMT", 0),  # Already past: retry now, not never.
        ("soon", None),
        ("-5", None),
    ],
)
def test_it_parses_retry_after(value: str, seconds: int | None) -> None:
    now = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)

    assert parse_retry_after(value, now=now) == seconds


def test_it_reports_retry_after_on_429(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))

    result = fetch(server.url("/busy"), policy=policy)

    assert (result.ok, result.status, result.retry_after_seconds) == (True, 429, 120)


ROBOTS_TXT = b"""\
User-agent: *
Disallow: /

User-agent: ArmsControlTrackerTest
Disallow: /private/
Crawl-delay: 2.5
"""


def test_it_obeys_robots_txt(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/robots.txt", Reply(body=ROBOTS_TXT, headers={"Content-Type": "text/plain"}))
    server.route("/private/memo", Reply(body=ARTICLE, headers=HTML))
    server.route("/public/analysis", Reply(body=ARTICLE, headers=HTML))
    robots = RobotsChecker(policy=policy, store=InMemoryRobotsStore())

    blocked = fetch(server.url("/private/memo"), policy=policy, robots=robots)
    allowed = fetch(server.url("/public/analysis"), policy=policy, robots=robots)

    assert blocked.error_kind == "robots_disallowed"
    assert allowed.ok, allowed.error
    assert robots.crawl_delay(server.url("/")) == 2.5
    # robots.txt was read once and cached; the disallowed page was never requested.
    assert server.paths() == ["/robots.txt", "/public/analysis"]


def test_it_checks_robots_txt_of_each_redirect_target(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    server.route("/robots.txt", Reply(body=ROBOTS_TXT))
    server.route("/go", Reply(status=302, headers={"Location": "/private/memo"}))
    robots = RobotsChecker(policy=policy)

    result = fetch(server.url("/go"), policy=policy, robots=robots)

    assert result.error_kind == "robots_disallowed"
    assert server.paths() == ["/robots.txt", "/go"]


def test_it_can_be_told_to_ignore_robots_txt(server: LoopbackServer, policy: FetchPolicy) -> None:
    server.route("/robots.txt", Reply(body=ROBOTS_TXT))
    server.route("/private/memo", Reply(body=ARTICLE))
    ignoring = dataclasses.replace(policy, respect_robots=False)

    result = fetch(
        server.url("/private/memo"), policy=ignoring, robots=RobotsChecker(policy=policy)
    )

    assert result.ok
    assert server.paths() == ["/private/memo"]


@pytest.mark.parametrize(
    ("robots_status", "allowed"),
    [(404, True), (410, True), (403, True), (429, False), (500, False), (503, False)],
)
def test_it_reads_robots_txt_failures_as_rfc_9309_says(
    server: LoopbackServer, policy: FetchPolicy, robots_status: int, allowed: bool
) -> None:
    server.route("/robots.txt", Reply(status=robots_status, body=b"Disallow: /"))

    verdict = RobotsChecker(policy=policy).verdict(server.url("/page"))

    assert verdict.allowed is allowed


def test_it_treats_an_unreachable_robots_txt_as_disallow_for_now(policy: FetchPolicy) -> None:
    verdict = RobotsChecker(policy=policy).verdict(f"http://127.0.0.1:{closed_port()}/page")

    assert verdict.allowed is False
    assert verdict.error_kind == "robots_unavailable"


@pytest.mark.parametrize(
    ("robots_status", "kind"), [(200, "robots_disallowed"), (503, "robots_unavailable")]
)
def test_it_tells_a_forbidden_page_from_an_unreadable_robots_txt(
    server: LoopbackServer, policy: FetchPolicy, robots_status: int, kind: str
) -> None:
    server.route("/robots.txt", Reply(status=robots_status, body=b"User-agent: *\nDisallow: /\n"))

    result = fetch(server.url("/page"), policy=policy, robots=RobotsChecker(policy=policy))

    assert result.error_kind == kind
    assert server.paths() == ["/robots.txt"]


@pytest.mark.parametrize(
    "name",
    ["InMemoryRobotsStore", "RedisRobotsStore", "RobotsChecker", "RobotsStore", "RobotsVerdict"],
)
def test_it_still_exports_the_robots_names_it_used_to_define(name: str) -> None:
    import tracker.fetcher
    import tracker.robots

    assert getattr(tracker.fetcher, name) is getattr(tracker.robots, name)


def test_it_reports_a_refused_host_as_such_when_checking_robots_txt(
    server: LoopbackServer, production_policy: FetchPolicy
) -> None:
    robots = RobotsChecker(policy=production_policy)

    result = fetch(f"http://localhost:{server.port}/", policy=production_policy, robots=robots)

    assert result.error_kind == "blocked_address", result.error
    assert server.requests == []


@pytest.mark.redis
def test_it_shares_robots_txt_between_workers_through_redis(
    server: LoopbackServer, policy: FetchPolicy, redis_client: Any
) -> None:
    server.route("/robots.txt", Reply(body=ROBOTS_TXT))
    first_worker = RobotsChecker(policy=policy, store=RedisRobotsStore(redis_client))
    second_worker = RobotsChecker(policy=policy, store=RedisRobotsStore(redis_client))

    assert first_worker.can_fetch(server.url("/private/memo")) is False
    assert second_worker.can_fetch(server.url("/private/memo")) is False
    assert second_worker.crawl_delay(server.url("/")) == 2.5
    assert server.paths() == ["/robots.txt"]
    (key,) = redis_client.keys("*")
    assert 0 < redis_client.ttl(key) <= 86400


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_reports_a_refused_connection(policy: FetchPolicy) -> None:
    result = fetch(f"http://127.0.0.1:{closed_port()}/", policy=policy)

    assert result.error_kind == "connection"
    assert result.status is None


def test_it_reports_a_failed_tls_handshake(server: LoopbackServer, policy: FetchPolicy) -> None:
    result = fetch(f"https://127.0.0.1:{server.port}/", policy=policy)

    assert result.error_kind == "tls", result.error


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/file",
        "javascript:alert(1)",
        "http://user:password@example.org/",
        "http:///no-host",
        "http://exa mple.org/",
        "http://example.org:99999/",
        "example.org/no-scheme",
    ],
)
def test_it_rejects_malformed_urls(production_policy: FetchPolicy, url: str) -> None:
    result = fetch(url, policy=production_policy)

    assert result.error_kind == "bad_url", result.error


def test_it_enforces_allowed_ports(server: LoopbackServer, policy: FetchPolicy) -> None:
    web_ports_only = dataclasses.replace(policy, allowed_ports=frozenset({80, 443}))

    result = fetch(server.url("/"), policy=web_ports_only)

    assert result.error_kind == "blocked_address"
    assert server.requests == []


# The address table: every row refused under the production policy, before any connection.
# Rows whose address is this machine point at a live server's port, so a connection, had one
# been made, would show up in its request log.
ADDRESS_TABLE = [
    ("http://127.0.0.1:{port}/", "blocked_address"),
    ("http://10.0.0.1/", "blocked_address"),
    ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
    ("http://100.64.0.1/", "blocked_address"),
    ("http://0.0.0.0:{port}/", "blocked_address"),
    ("http://224.0.0.1/", "blocked_address"),
    ("http://[::1]:{port}/", "blocked_address"),
    ("http://[fc00::1]/", "blocked_address"),
    ("http://[::ffff:127.0.0.1]:{port}/", "blocked_address"),
    ("http://2130706433:{port}/", "bad_url"),  # decimal 127.0.0.1
    ("http://0177.0.0.1:{port}/", "bad_url"),  # octal 127.0.0.1
    ("http://127.1:{port}/", "bad_url"),  # short form of 127.0.0.1
    ("http://0x7f.0.0.1:{port}/", "bad_url"),  # hexadecimal
    ("http://localhost:{port}/", "blocked_address"),  # a name that resolves to loopback
]


@pytest.mark.parametrize(("url", "kind"), ADDRESS_TABLE)
def test_it_rejects_private_addresses(
    server: LoopbackServer, production_policy: FetchPolicy, url: str, kind: str
) -> None:
    result = fetch(url.format(port=server.port), policy=production_policy)

    assert result.error_kind == kind, result.error
    assert result.status is None
    assert server.requests == []


@pytest.mark.parametrize("network", ["10.0.0.0/8", "0.0.0.0/0", "169.254.169.254/32", "::/0"])
def test_it_refuses_allowed_networks_beyond_loopback(policy: FetchPolicy, network: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        dataclasses.replace(policy, allowed_networks=(network,))


def test_it_reuses_a_session_built_for_the_policy(
    server: LoopbackServer, policy: FetchPolicy
) -> None:
    server.route("/a", Reply(body=b"a"))
    server.route("/b", Reply(body=b"b"))
    with make_session(policy) as session:
        bodies = [fetch(server.url(p), policy=policy, session=session).body for p in ("/a", "/b")]

    assert bodies == [b"a", b"b"]


def test_it_refuses_a_session_without_the_address_checks(policy: FetchPolicy) -> None:
    with pytest.raises(ValueError, match="make_session"):
        fetch("http://127.0.0.1/", policy=policy, session=requests.Session())


# --- HTTPS ----------------------------------------------------------------------------------


def test_it_fetches_over_https_checking_the_certificate_and_name(
    authority: trustme.CA, ca_bundle: str, policy: FetchPolicy
) -> None:
    """The address is pinned after resolving "localhost"; the name still goes to SNI and to
    the certificate check."""
    trusting = dataclasses.replace(policy, ca_bundle=ca_bundle)
    with https_server(authority, "localhost") as server:
        server.route("/analysis", Reply(body=ARTICLE, headers=HTML))
        url = f"https://localhost:{server.port}/analysis"

        result = fetch(url, policy=trusting)

    assert result.ok, result.error
    assert (result.status, result.body, result.final_url) == (200, ARTICLE, url)


@pytest.mark.parametrize(
    ("names", "trusted", "reason"),
    [
        # A trusted certificate for another name (not for the pinned address either).
        (("tracker.example.org", "127.0.0.1"), True, "hostname 'localhost' doesn't match"),
        # The right name, from an authority nobody trusts.
        (("localhost",), False, "certificate verify failed"),
    ],
)
def test_it_refuses_a_certificate_it_cannot_verify(
    authority: trustme.CA,
    ca_bundle: str,
    policy: FetchPolicy,
    names: tuple[str, ...],
    trusted: bool,
    reason: str,
) -> None:
    checking = dataclasses.replace(policy, ca_bundle=ca_bundle) if trusted else policy
    with https_server(authority, *names) as server:
        server.route("/analysis", Reply(body=ARTICLE, headers=HTML))

        result = fetch(f"https://localhost:{server.port}/analysis", policy=checking)

        assert (result.error_kind, result.status, result.body) == ("tls", None, b"")
        assert reason in result.error
        assert server.requests == []  # Nothing was sent over the unverified connection.


def test_a_ca_bundle_must_exist(policy: FetchPolicy, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file"):
        dataclasses.replace(policy, ca_bundle=str(tmp_path / "missing.pem"))
