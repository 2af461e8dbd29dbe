"""A real HTTP/1.1 server on loopback with a route table, for the fetcher's tests and benchmarks.

Each route maps a path (query string ignored) to a :class:`Reply`, or to a callable that gets
the :class:`RecordedRequest` and returns one. Every request is recorded, including those no
route matches (they get a 404), so a test can assert that a server was never contacted.

    with LoopbackServer() as server:
        server.route("/a", Reply(status=302, headers={"Location": "/b"}))
        server.route("/b", Reply(body=b"<html>...</html>"))
        fetch(server.url("/a"), policy=...)
        assert [r.path for r in server.requests] == ["/a", "/b"]

Replies can misbehave on purpose: stream a body of unknown length, pause between chunks (a
slow drip), or write raw bytes, headers included.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    client_port: int = 0  # the same for requests sent over one kept-alive connection


@dataclass
class Reply:
    """What the server sends back.

    ``body`` is bytes, or a zero-argument callable returning an iterable of chunks (so a large
    body is generated while it is sent). ``content_length=False`` leaves out Content-Length
    and ends the body by closing the connection. ``chunk_delay`` pauses before each chunk.
    ``raw``, if given, is written verbatim instead: status line, headers and all.
    """

    status: int = 200
    body: bytes | Callable[[], Iterable[bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: bool = True
    chunk_delay: float = 0.0
    raw: Iterable[bytes] | None = None


Route = Reply | Callable[[RecordedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-exchange are what these tests provoke; anything else is a
        # bug in a test's route and deserves the traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A threading server bound to ``host`` (127.0.0.1 by default) on a free port.

    With ``tls`` (a server-side context holding a certificate), it speaks HTTPS: each
    connection's handshake runs as it is accepted.
    """

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.scheme = "https" if tls else "http"
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server((host, 0), self._handler_class())
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port: int = self._httpd.server_address[1]
        # A short poll interval: shutdown() waits for the loop to notice, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # Ends drips still sleeping between chunks.
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration and inspection ----------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def route(self, path: str, reply: Route) -> None:
        with self._lock:
            self._routes[path] = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    # -- serving -------------------------------------------------------------------------------

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            route = self._routes.get(urlsplit(request.path).path)
        if route is None:
            return Reply(status=404, body=b"no route")
        return route if isinstance(route, Reply) else route(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                request = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    client_port=self.client_address[1],
                )
                try:
                    self._send(server._dispatch(request))
                except ConnectionError:
                    # The client hung up on purpose (size cap, deadline): not a server error.
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                if reply.raw is not None:
                    self.close_connection = True
                    self._write_chunks(reply.raw, reply.chunk_delay)
                    return
                body = reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes) and reply.content_length:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                chunks = [body] if isinstance(body, bytes) else body()
                self._write_chunks(chunks, reply.chunk_delay)

            def _write_chunks(self, chunks: Iterable[bytes], delay: float) -> None:
                for chunk in chunks:
                    if delay and server._stopping.wait(delay):
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                pass  # Tests read self.requests; a line per request on stderr is noise.

        return Handler
