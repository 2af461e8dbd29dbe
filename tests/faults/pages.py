"""The loopback page servers of the fault suite, as a process of their own.

    python -m tests.faults.pages HOSTS PAGES DELAY

serves ``PAGES`` article pages (``/p0`` …) on each of ``HOSTS`` loopback addresses
(127.0.0.2, 127.0.0.3, …), each answer ``DELAY`` seconds late, as a slow site would; prints
one line of JSON, the origins, once all listen; and counts the requests for each page, which
``GET /requests`` on the first origin returns as JSON (robots.txt left out).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.tracker.httpserver import LoopbackServer, RecordedRequest, Reply

ARTICLE = (Path(__file__).parent.parent / "tracker" / "pages" / "article.html").read_bytes()


def main(hosts: int, pages: int, delay: float) -> None:
    # Blocked before the server threads start, so that only sigwait() below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    servers = [LoopbackServer(f"127.0.0.{index + 2}") for index in range(hosts)]

    def page(origin: str) -> object:
        def reply(request: RecordedRequest) -> Reply:
            time.sleep(delay)
            with lock:
                counts[origin + request.path] += 1
            return Reply(body=ARTICLE, headers={"Content-Type": "text/html; charset=utf-8"})

        return reply

    def requests(request: RecordedRequest) -> Reply:
        with lock:
            body = json.dumps(dict(counts)).encode()
        return Reply(body=body, headers={"Content-Type": "application/json"})

    for server in servers:
        server.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n"))
        for number in range(pages):
            server.route(f"/p{number}", page(server.origin))  # type: ignore[arg-type]
        server.start()
    servers[0].route("/requests", requests)
    print(json.dumps([server.origin for server in servers]), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
