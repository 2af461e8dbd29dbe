"""The only module in the project that makes outbound HTTP requests.

Contract
--------
``fetch(url, policy=...)`` performs one GET of a URL that a curator typed, and never raises for a
network or server problem: every outcome is a :class:`FetchResult`, and a failure sets
``error_kind`` to one of :data:`ERROR_KINDS` plus a readable ``error``. It raises only for
programming errors (an invalid :class:`FetchPolicy`, a session not built by :func:`make_session`).

What a fetch guarantees
~~~~~~~~~~~~~~~~~~~~~~~
* **Destination.** Only ``http``/``https``, no ``user:pass@``, and an IP literal must be spelt
  canonically (``2130706433``, ``0177.0.0.1`` and ``127.1`` are refused before any request,
  because resolvers accept them as 127.0.0.1). Every connection, including every redirect hop,
  resolves the host once, checks that address and connects to that same address (the
  requests-hardened adapter pins it, so DNS rebinding between check and connect cannot happen).
  An address is refused unless it is globally routable: loopback, RFC 1918, link-local (cloud
  metadata at 169.254.169.254), CGNAT 100.64/10, multicast, unspecified, reserved, unique-local
  IPv6 and IPv4-mapped IPv6 forms of all of these are blocked.
* **The request is for the URL as given.** Its path and query go out unchanged (requests
  would decode ``%7E`` to ``~``); only non-ASCII characters are escaped, as UTF-8, and
  urllib3 writes the hex digits of escapes in upper case (``%2f`` as ``%2F``, the same URL).
* **Redirects** are followed here, not by requests, so each ``Location`` goes through the same
  URL rules; at most ``policy.max_redirects`` hops are followed.
* **Time.** ``policy.deadline`` bounds the whole fetch in wall-clock time: redirects, robots.txt,
  headers and body. Per-operation timeouts shrink as the deadline nears, the read loop checks
  the clock, and a watchdog shuts the socket down at the deadline. The watchdog is what stops a
  server that drips one byte at a time: no per-read timeout ever fires for it. The one wait
  it cannot cut short is DNS resolution (``getaddrinfo`` blocks inside the C library), which
  the system resolver's own timeout bounds.
* **Size.** ``policy.max_bytes`` caps the *decompressed* body. A declared ``Content-Length``
  over the cap is refused without reading; otherwise decoded bytes are counted while streaming,
  so a gzip bomb stops at the cap. Only gzip and deflate are offered.
* **Conditional GET.** Pass the stored ``etag``/``last_modified``; a 304 comes back as
  ``not_modified=True`` with no body.
* **robots.txt.** Given a :class:`RobotsChecker`, each URL about to be requested (each hop too)
  is checked first. robots.txt is fetched through this same function, so the same address rules
  apply to it.

Nothing here imports Django: the caller builds a :class:`FetchPolicy` from settings.
Retrying is deliberately absent too. A worker that sleeps through ``Retry-After`` holds a pool
slot, so the caller reads ``retry_after_seconds`` and reschedules instead.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import http.client
import ipaddress
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    # robots.py builds on fetch(), so at run time these are re-exported lazily (below).
    from tracker.robots import InMemoryRobotsStore as InMemoryRobotsStore
    from tracker.robots import RedisRobotsStore as RedisRobotsStore
    from tracker.robots import RobotsChecker as RobotsChecker
    from tracker.robots import RobotsStore as RobotsStore
    from tracker.robots import RobotsVerdict as RobotsVerdict

ErrorKind = Literal[
    "blocked_address",
    "bad_url",
    "too_many_redirects",
    "deadline",
    "too_large",
    "connection",
    "tls",
    "robots_disallowed",
    "robots_unavailable",
]
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MiB = 1024 * 1024
# Big enough that a fast server is read in few iterations, small enough that the byte cap and
# the clock are checked often.
READ_CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# Connection pools (one per host) a session keeps; the least recently used goes first.
HOST_POOLS = 256
LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@dataclass(frozen=True)
class FetchPolicy:
    """How the fetcher may behave; built once from settings and shared by every fetch.

    ``allowed_networks`` lists CIDRs that may be reached although they are not public. It is
    empty in production; tests and the local demo set ``("127.0.0.0/8",)`` to talk to servers on
    loopback. Only loopback networks are accepted: the pinned-address check in requests-hardened
    can open up loopback and nothing else, and no legitimate source lives on a private LAN.

    ``allowed_ports`` of ``None`` allows any port. Production should pass ``{80, 443}``; the
    default stays open because the test and benchmark servers listen on high ephemeral ports,
    and a port alone does not make an address reachable (the address rules still apply).

    ``ca_bundle`` is a PEM file of the certificate authorities HTTPS servers are checked
    against, instead of the usual public ones (certifi): for a network whose outbound traffic
    passes an inspecting proxy with its own authority, and for tests. Certificates are always
    verified, names included.
    """

    user_agent: str
    allowed_networks: tuple[str, ...] = ()
    max_redirects: int = 5
    connect_timeout: float = 5
    read_timeout: float = 10
    deadline: float = 30
    max_bytes: int = 5 * MiB
    respect_robots: bool = True
    allowed_ports: frozenset[int] | None = None
    ca_bundle: str = ""
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.user_agent.strip():
            raise ValueError("FetchPolicy.user_agent must identify the crawler.")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchPolicy.{name} must be positive.")
        if self.max_redirects < 0 or self.max_bytes <= 0:
            raise ValueError("FetchPolicy.max_redirects must be >= 0 and max_bytes > 0.")
        if self.ca_bundle and not os.path.isfile(self.ca_bundle):
            raise ValueError(f"FetchPolicy.ca_bundle {self.ca_bundle!r} is not a file.")
        networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.allowed_networks)
        for network in networks:
            if not any(_subnet_of(network, loopback) for loopback in LOOPBACK_NETWORKS):
                raise ValueError(
                    f"FetchPolicy.allowed_networks may only open loopback ranges, not {network}."
                )
        # Frozen: settings may hand over a list, and the parsed form is computed once.
        object.__setattr__(self, "allowed_networks", tuple(self.allowed_networks))
        object.__setattr__(self, "networks", networks)
        if self.allowed_ports is not None:
            object.__setattr__(self, "allowed_ports", frozenset(self.allowed_ports))

    @property
    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against (``Foo`` of ``Foo/1.0 (…)``).

        Matching on the whole header would let a group for any word in the contact URL apply.
        """
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass
class FetchResult:
    """What happened. ``error_kind is None`` means a response was received and read in full.

    ``redirects`` lists the ``Location`` targets followed, in order; ``final_url`` is the URL
    of the last response (``requested_url`` when there was no redirect). On an error ``body``
    is empty, while ``status`` and ``headers`` keep whatever was received before it.
    ``content_type`` is the raw header, parameters included, so the charset reaches the parser.
    """

    requested_url: str
    final_url: str
    redirects: list[str] = field(default_factory=list)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    not_modified: bool = False
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    retry_after_seconds: int | None = None
    duration_ms: int = 0
    bytes_read: int = 0
    error_kind: ErrorKind | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None


class _Refused(Exception):
    """Internal: ends a fetch with an error kind. Never leaves this module."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


class BlockedAddress(InvalidIPAddress):
    """The resolved address is outside what the policy allows."""


# --- Address rules ----------------------------------------------------------------------------


def _subnet_of(inner: IPNetwork, outer: IPNetwork) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def address_refusal(address: IPAddress, policy: FetchPolicy) -> str | None:
    """Why ``address`` may not be contacted under ``policy``, or ``None`` if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:10.0.0.1 reaches 10.0.0.1; judge the IPv4 address it stands for.
        address = address.ipv4_mapped
    if any(address in network for network in policy.networks):
        return None
    blocked = (
        not address.is_global
        # is_global is True for multicast and for 6to4/NAT64 prefixes that embed any IPv4
        # address, so those are checked explicitly, along with the library's extra ranges.
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or any(address in network for network in EXTRA_BLOCKED_NET_RANGES)
    )
    return f"{address} is not a public address" if blocked else None


def _canonical_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address for a dotted-quad host, refusing every spelling but the canonical one.

    Resolvers (inet_aton) read ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` as
    127.0.0.1, and URL parsers treat a host whose last label is numeric as IPv4, so any such
    host must be exactly four decimal octets without leading zeros.
    """
    labels = host.split(".")
    last = labels[-1]
    numeric = last.isdigit() or (
        last[:2] == "0x" and all(c in "0123456789abcdef" for c in last[2:])
    )
    if not numeric:
        return None
    canonical = len(labels) == 4 and all(
        label.isdigit() and str(int(label)) == label and int(label) <= 255 for label in labels
    )
    if not canonical:
        raise _Refused("bad_url", f"{host!r} is not a canonically written IPv4 address")
    return ipaddress.IPv4Address(host)


def _check_url(url: str, policy: FetchPolicy) -> None:
    """Raise ``_Refused`` unless ``url`` may be requested; IP literals are judged here.

    Host names are judged later, at connection time, on the address they resolve to.
    """
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise _Refused("bad_url", "URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _Refused("bad_url", f"unparsable URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _Refused("bad_url", f"scheme {parts.scheme!r} is not http or https")
    if "@" in parts.netloc:
        raise _Refused("bad_url", "URLs with a user name or password are not fetched")
    host = parts.hostname
    if not host:
        raise _Refused("bad_url", "URL has no host")
    if policy.allowed_ports is not None:
        effective_port = port or (443 if parts.scheme.lower() == "https" else 80)
        if effective_port not in policy.allowed_ports:
            raise _Refused("blocked_address", f"port {effective_port} is not allowed")

    address: IPAddress | None
    if parts.netloc.startswith("["):
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            # Includes zone identifiers (fe80::1%eth0), which name an interface of this host.
            raise _Refused("bad_url", f"{host!r} is not a valid IPv6 address") from None
    else:
        try:
            # IDNA maps look-alikes such as fullwidth digits onto ASCII before the numeric check.
            ascii_host = host.encode("idna").decode("ascii").lower().rstrip(".")
        except UnicodeError:
            raise _Refused("bad_url", f"{host!r} is not a valid host name") from None
        if not ascii_host:
            raise _Refused("bad_url", "URL has no host")
        address = _canonical_ipv4(ascii_host)
    if address is not None and (reason := address_refusal(address, policy)):
        raise _Refused("blocked_address", reason)


# --- Deadline watchdog ------------------------------------------------------------------------


class _Watchdog:
    """Shuts down the sockets of one fetch when its deadline passes.

    Per-read timeouts restart with every byte, so they cannot bound a server that drips; only
    closing the socket from outside interrupts a read that is already blocked.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.cancelled = False
        self.seconds = seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def start(self) -> None:
        _deadlines.add(time.monotonic() + self.seconds, self)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            self._sockets.clear()

    def enlist(self, sock: socket.socket) -> None:
        with self._lock:
            if not any(known is sock for known in self._sockets):
                self._sockets.append(sock)
            if self.fired:
                self._shut(sock)

    def fire(self) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.fired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # OSError means already closed (or detached by the TLS wrapper): nothing to interrupt.
        # The base-class method on purpose: SSLSocket.shutdown also drops its SSL object, which
        # would race with the reading thread; a plain shutdown makes that read see end-of-file.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Deadlines:
    """One thread per process that fires every fetch's watchdog when its deadline passes.

    A timer thread per fetch would cost a thread start per fetch; here a fetch costs a heap
    push. Cancelled watchdogs stay in the heap until their deadline and are then skipped.
    """

    def __init__(self) -> None:
        self._reset()
        # A forked child inherits neither the thread nor, safely, the lock: start afresh.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, watchdog: _Watchdog) -> None:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            earliest = self._heap[0][0] if self._heap else math.inf
            heapq.heappush(self._heap, (when, next(self._order), watchdog))
            if when < earliest:
                self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                if not self._heap:
                    self._condition.wait()
                    continue
                when, _, watchdog = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                heapq.heappop(self._heap)
                watchdog.fire()


_deadlines = _Deadlines()
_active_watchdog: ContextVar[_Watchdog | None] = ContextVar("_active_watchdog", default=None)


def _enlist(sock: socket.socket | None) -> None:
    watchdog = _active_watchdog.get()
    if watchdog is not None and sock is not None:
        watchdog.enlist(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Hands each socket to the active watchdog.

    Sockets rather than connections, because http.client drops ``conn.sock`` as soon as it
    sees ``Connection: close`` while the response goes on reading from that socket.
    """

    def _new_conn(self) -> socket.socket:
        # The bare socket: covers the TLS handshake, before the wrapped socket exists.
        sock = super()._new_conn()
        _enlist(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        _enlist(self.sock)  # For HTTPS this is the TLS socket now wrapping the bare one.

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A keep-alive connection taken from the pool was enlisted by an earlier fetch.
        _enlist(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --- Client -----------------------------------------------------------------------------------


class _GuardedAdapter(IPFilterAdapter):
    """requests-hardened's pinning adapter, with this project's address rules added.

    The parent resolves the host once, refuses private addresses and makes urllib3 connect to
    that very address (keeping the name for Host, SNI and certificate checks). This subclass
    then applies ``address_refusal`` to the pinned address, which adds the ``is_global`` rule
    and the policy's loopback exception, and it makes connections visible to the watchdog.
    """

    def __init__(self, *, https: bool, policy: FetchPolicy) -> None:
        self.policy = policy
        super().__init__(is_https_proto=https, allow_loopback=bool(policy.networks))

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        # One pool per host. A worker checks pages of hundreds of hosts in turn, and requests'
        # default of 10 pools would drop each host's pool, and its open connection, before
        # the host comes round again.
        connections = max(connections, HOST_POOLS)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pinned = ipaddress.ip_address(str(host_params["host"]).strip("[]"))
        if reason := address_refusal(pinned, self.policy):
            raise BlockedAddress(reason)
        return host_params, pool_kwargs


def make_session(
    policy: FetchPolicy, *, connections_of: requests.Session | None = None
) -> requests.Session:
    """A session whose every connection goes through the guarded adapter.

    Pass it to several :func:`fetch` calls to reuse connections (robots.txt, then the page).
    ``connections_of``, a session made here with the same policy, lends its adapters and so
    its connection pools: sessions used by different threads (a session is not thread-safe,
    urllib3's pools are) then share kept-alive connections while keeping their own cookies.
    """
    session = requests.Session()
    # Environment proxies and .netrc must not be able to reroute or authenticate fetches.
    session.trust_env = False
    if connections_of is not None:
        _require_guarded(connections_of, policy)
        for prefix in ("http://", "https://"):
            session.mount(prefix, connections_of.get_adapter(prefix + "example.invalid/"))
    else:
        session.mount("http://", _GuardedAdapter(https=False, policy=policy))
        session.mount("https://", _GuardedAdapter(https=True, policy=policy))
    session.headers.update(
        {
            "User-Agent": policy.user_agent,
            # Brotli and zstd stay off: smaller decompressor surface, and every server
            # that offers them also offers gzip.
            "Accept-Encoding": "gzip, deflate",
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
        }
    )
    return session


def _require_guarded(session: requests.Session, policy: FetchPolicy) -> None:
    for prefix in ("http://", "https://"):
        adapter = session.get_adapter(prefix + "example.invalid/")
        if not isinstance(adapter, _GuardedAdapter) or adapter.policy != policy:
            raise ValueError("fetch() needs a session from make_session() with the same policy.")
    if session.trust_env:
        raise ValueError("fetch() needs a session with trust_env disabled.")


# --- Fetch ------------------------------------------------------------------------------------


class _Clock:
    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.started = time.monotonic()
        self.ends = self.started + policy.deadline

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def check(self) -> None:
        if self.remaining() <= 0:
            raise _Refused("deadline", f"gave up after the {self.policy.deadline:g} s deadline")

    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts, shrunk so no single wait outlasts the deadline."""
        self.check()
        remaining = self.remaining()
        return (
            min(self.policy.connect_timeout, remaining),
            min(self.policy.read_timeout, remaining),
        )


@contextlib.contextmanager
def _watched(seconds: float) -> Iterator[_Watchdog]:
    watchdog = _Watchdog(seconds)
    token = _active_watchdog.set(watchdog)
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.cancel()
        _active_watchdog.reset(token)


def parse_retry_after(value: str, *, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), or None."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, math.ceil(delta))


def _classify(exc: BaseException, watchdog: _Watchdog, clock: _Clock) -> tuple[ErrorKind, str]:
    # A watchdog shutdown surfaces as whatever error the interrupted read produced.
    if watchdog.fired or clock.remaining() <= 0:
        return "deadline", f"gave up after the {clock.policy.deadline:g} s deadline"
    if isinstance(exc, InvalidIPAddress):
        # requests-hardened's own refusal carries only the address.
        reason = str(exc) if isinstance(exc, BlockedAddress) else f"{exc} is not a public address"
        return "blocked_address", f"refused to connect: {reason}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", f"TLS error: {exc}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection", f"connection timed out: {exc}"
    # requests reports a read timeout inside iter_content as a plain ConnectionError.
    if isinstance(exc, requests.exceptions.ReadTimeout | urllib3.exceptions.ReadTimeoutError) or (
        exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError)
    ):
        return "deadline", f"no data for {clock.policy.read_timeout:g} s"
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.InvalidSchema
        | requests.exceptions.MissingSchema,
    ):
        return "bad_url", str(exc)
    return "connection", f"{type(exc).__name__}: {exc}"


def fetch(
    url: str,
    *,
    policy: FetchPolicy,
    etag: str = "",
    last_modified: str = "",
    session: requests.Session | None = None,
    robots: RobotsChecker | None = None,
) -> FetchResult:
    """GET ``url`` under ``policy``; see the module docstring for the guarantees.

    ``etag``/``last_modified`` are the validators stored from the previous fetch. ``session``
    (from :func:`make_session` with the same policy) lets several fetches share connections.
    ``robots``, when given and ``policy.respect_robots`` is set, vets each URL before it is
    requested.
    """
    clock = _Clock(policy)
    result = FetchResult(requested_url=url, final_url=url)
    owned_session = session is None
    if session is None:
        session = make_session(policy)
    else:
        _require_guarded(session, policy)
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified

    with _watched(policy.deadline) as watchdog:
        try:
            _fetch_into(result, session, policy, clock, conditional, robots)
            if watchdog.fired:
                # A body without Content-Length ends at EOF, so a socket shut by the watchdog
                # can look like a complete response.
                raise _Refused("deadline", f"gave up after the {policy.deadline:g} s deadline")
        except _Refused as refusal:
            result.error_kind, result.error = refusal.kind, refusal.message
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
        ) as exc:
            result.error_kind, result.error = _classify(exc, watchdog, clock)
        finally:
            if owned_session:
                session.close()
    if result.error_kind is not None:
        result.body = b""
    result.duration_ms = clock.elapsed_ms()
    return result


def _fetch_into(
    result: FetchResult,
    session: requests.Session,
    policy: FetchPolicy,
    clock: _Clock,
    conditional: dict[str, str],
    robots: RobotsChecker | None,
) -> None:
    current = result.requested_url
    while True:
        _check_url(current, policy)
        if robots is not None and policy.respect_robots:
            verdict = robots.verdict(current, budget=clock.remaining())
            if verdict.error_kind is not None:
                raise _Refused(verdict.error_kind, verdict.reason)
            if not verdict.allowed:
                raise _Refused("robots_disallowed", verdict.reason)
        request = session.prepare_request(requests.Request("GET", current, headers=conditional))
        request.url = _as_given(request.url or current, current)
        response = session.send(
            request,
            stream=True,
            allow_redirects=False,
            timeout=clock.timeouts(),
            verify=policy.ca_bundle or True,
        )
        with response:
            result.final_url = current
            _record_headers(result, response)
            target = session.get_redirect_target(response)
            if response.status_code in REDIRECT_STATUSES and target:
                if len(result.redirects) >= policy.max_redirects:
                    raise _Refused(
                        "too_many_redirects", f"more than {policy.max_redirects} redirects"
                    )
                # The redirect body is never read, so it is never decompressed either.
                current = urljoin(current, target).split("#", 1)[0]
                result.redirects.append(current)
                continue
            if response.status_code == 304:
                result.not_modified = True
                # A 304 has no body (http.client reads none whatever the headers say), so the
                # connection can go back to the pool for the next fetch from this host.
                response.raw.drain_conn()
                response.raw.release_conn()
                return
            _read_body(result, response, policy, clock)
            return


def _as_given(prepared: str, url: str) -> str:
    """The prepared URL with ``url``'s own path and query: the request is for the URL as cited.

    requests re-quotes what it sends (``/%7Euser`` goes out as ``/~user``); only the characters
    no request line may carry, non-ASCII ones, are escaped here. The scheme and host stay as
    requests prepared them (lower case, IDNA).
    """
    given, sent = urlsplit(url), urlsplit(prepared)
    path = _NON_ASCII.sub(_utf8_escapes, given.path) or "/"
    query = _NON_ASCII.sub(_utf8_escapes, given.query)
    return urlunsplit((sent.scheme, sent.netloc, path, query, ""))


def _utf8_escapes(match: re.Match[str]) -> str:
    return quote(match.group(0), safe="")


def _record_headers(result: FetchResult, response: requests.Response) -> None:
    result.status = response.status_code
    result.headers = {name.lower(): value for name, value in response.headers.items()}
    result.content_type = result.headers.get("content-type", "").strip()
    result.etag = result.headers.get("etag", "").strip()
    result.last_modified = result.headers.get("last-modified", "").strip()
    retry_after = result.headers.get("retry-after")
    result.retry_after_seconds = parse_retry_after(retry_after) if retry_after else None


def _read_body(
    result: FetchResult, response: requests.Response, policy: FetchPolicy, clock: _Clock
) -> None:
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise _Refused(
            "too_large", f"Content-Length {declared} exceeds the {policy.max_bytes} byte cap"
        )
    chunks: list[bytes] = []
    # iter_content yields decompressed data, so the cap applies to what a gzip bomb expands to.
    for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
        result.bytes_read += len(chunk)
        if result.bytes_read > policy.max_bytes:
            raise _Refused("too_large", f"body exceeds the {policy.max_bytes} byte cap")
        chunks.append(chunk)
        clock.check()
    result.body = b"".join(chunks)


# --- robots.txt, re-exported --------------------------------------------------------------------

_ROBOTS_NAMES = frozenset(
    {"InMemoryRobotsStore", "RedisRobotsStore", "RobotsChecker", "RobotsStore", "RobotsVerdict"}
)


def __getattr__(name: str) -> Any:
    # The robots.txt code lives in tracker.robots, which imports fetch() from here; resolving
    # the old names on first use keeps `from tracker.fetcher import RobotsChecker` working
    # without a circular import.
    if name in _ROBOTS_NAMES:
        from tracker import robots

        return getattr(robots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
