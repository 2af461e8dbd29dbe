"""The benchmark's web: article pages on many loopback host names, each answered after a delay.

    python benchmarks/linkcheck/server.py --port 8181 --hosts 59 --delay 0.05

Listens on ``--port`` of 127.0.0.2, 127.0.0.3 … (``--hosts`` addresses) and serves:

* ``/a/<n>``: an article of about 15 KB, different for every ``n``, with ``ETag`` and
  ``Last-Modified``; ``If-None-Match`` with that ETag answers ``304`` without a body.
* ``/huge/<n>``: 64 MiB of HTML without ``Content-Length``, streamed until the client hangs up.
* ``/bomb/<n>``: a gzip bomb, 100 MiB of zeros in about 100 KB.
* ``/robots.txt``: 404, as on most sites (everything allowed).

Every answer waits ``--delay`` seconds first. One asyncio loop serves all of it: waiting costs no
thread, so the delay, not the server, sets the pace. The control address (127.0.0.1, same port)
answers ``/_stats`` (JSON: requests and bytes by kind and status, the server's CPU seconds, how
late the delay timers woke) and ``/_reset``.

No dependency beyond the standard library, so LinkChecker and the pipeline meet the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

PAGE_TARGET_BYTES = 15 * 1024
HUGE_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
LAST_MODIFIED = "Sat, 14 Mar 2026 09:00:00 GMT"

PARAGRAPHS = [
    "Delegations meeting in Vienna this week moved closer to an arrangement under which each "
    "side would notify the other of ballistic missile launches at least twenty-four hours in "
    "advance, giving the launch window, the general area of impact and the type of vehicle.",
    "Officials familiar with the talks said the sticking point remains whether space launch "
    "vehicles should be covered, since the same boosters can carry a satellite or a warhead and "
    "a surprise launch of either can be misread during a crisis.",
    "The proposal builds on the 1988 agreement between Washington and Moscow on notifications of "
    "launches of intercontinental and submarine-launched ballistic missiles, and on the 2000 "
    "memorandum that was meant to set up a joint data exchange centre that never opened.",
    "Analysts point out that a hotline is only as useful as the habits built around it: regular "
    "test calls, agreed formats for messages and officials on both ends who are authorised to "
    "answer at any hour, including during holidays and changes of government.",
    "Regional states have asked to be included in the notification scheme, arguing that debris "
    "and stages fall into their exclusive economic zones and that fishing fleets and aviation "
    "need the same warnings that the two main parties give each other.",
    "A draft text seen by reporters lists the information each notification would carry and the "
    "channels through which it would be sent, with a fallback to diplomatic notes when the "
    "direct line is unavailable, and a commitment to review the arrangement after two years.",
]
NAVIGATION = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(40))
FOOTER = "".join(f'<li><a href="/about/{i}">About link {i}</a></li>' for i in range(30))


def article(n: int) -> bytes:
    """About 15 KB of HTML: chrome around an article whose text differs for every ``n``."""
    published = (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n % 600)).date().isoformat()
    paragraphs = []
    size = 0
    i = 0
    while size < PAGE_TARGET_BYTES - 4500:
        text = f"{PARAGRAPHS[(n + i) % len(PARAGRAPHS)]} (Report {n}, paragraph {i + 1}.)"
        paragraphs.append(f"<p>{text}</p>")
        size += len(text) + 7
        i += 1
    body = "\n".join(paragraphs)
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Launch notification talks, report {n} | Example Security Review</title>
<meta property="og:title" content="Launch notification talks, report {n}">
<meta property="article:published_time" content="{published}T09:00:00Z">
<link rel="canonical" href="https://review.example.org/reports/{n}">
<style>body {{ font-family: serif; }} nav li {{ display: inline; margin: 0 4px; }}</style>
</head>
<body>
<header><nav><ul>{NAVIGATION}</ul></nav></header>
<aside class="advert"><p>Advertisement: subscribe for unlimited access to every report.</p></aside>
<main><article>
<h1>Launch notification talks, report {n}</h1>
<p class="byline">By a staff writer, {published}</p>
{body}
</article></main>
<footer><ul>{FOOTER}</ul><p>Copyright Example Security Review.</p></footer>
</body>
</html>
"""
    return html.encode()


def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join([*(compressor.compress(zeros) for _ in range(100)), compressor.flush()])


class Web:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.bomb = gzip_bomb()
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.body_bytes: Counter[str] = Counter()
        self.lateness_total = 0.0
        self.lateness_max = 0.0
        self.waits = 0
        self.cpu_at_reset = self.cpu_seconds()

    @staticmethod
    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "body_bytes": dict(self.body_bytes),
            "cpu_seconds": round(self.cpu_seconds() - self.cpu_at_reset, 3),
            "timer_lateness_ms": {
                "mean": round(1000 * self.lateness_total / max(1, self.waits), 3),
                "max": round(1000 * self.lateness_max, 3),
            },
        }

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        control = writer.get_extra_info("sockname")[0] == "127.0.0.1"
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                if control:
                    await self.control(writer, path)
                    continue
                keep_open = await self.answer(writer, method, path, headers)
                if not keep_open or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, ValueError):
            return
        finally:
            writer.close()

    async def control(self, writer: asyncio.StreamWriter, path: str) -> None:
        if path == "/_reset":
            self.reset()
        payload = json.dumps(self.stats()).encode()
        writer.write(self.head(200, len(payload), "application/json") + payload)
        await writer.drain()

    @staticmethod
    def head(status: int, length: int | None, content_type: str, **extra: str) -> bytes:
        reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
        if length is None:
            lines.append("Connection: close")
        elif status != 304:
            lines.append(f"Content-Length: {length}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def answer(
        self, writer: asyncio.StreamWriter, method: str, path: str, headers: dict[str, str]
    ) -> bool:
        """Send one answer; False when the connection must close after it."""
        loop = asyncio.get_running_loop()
        woke_for = loop.time() + self.delay
        await asyncio.sleep(self.delay)
        lateness = loop.time() - woke_for
        self.waits += 1
        self.lateness_total += lateness
        self.lateness_max = max(self.lateness_max, lateness)

        kind, _, number = path.lstrip("/").partition("/")
        n = int(number) if number.isdigit() else -1
        etag = f'"{kind}-{n}-1"'
        html = "text/html; charset=utf-8"
        if n < 0 or kind not in ("a", "huge", "bomb"):
            self.count(kind or "other", 404, 0)
            writer.write(self.head(404, 0, "text/plain"))
            await writer.drain()
            return True
        validators = {"ETag": etag, "Last_Modified": LAST_MODIFIED}
        if headers.get("if-none-match") == etag:
            self.count(kind, 304, 0)
            writer.write(self.head(304, 0, html, **validators))
            await writer.drain()
            return True
        if kind == "a":
            body = article(n)
            self.count(kind, 200, len(body))
            writer.write(self.head(200, len(body), html, **validators))
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
            return True
        if kind == "bomb":
            self.count(kind, 200, len(self.bomb))
            writer.write(
                self.head(200, len(self.bomb), html, Content_Encoding="gzip", **validators)
            )
            if method != "HEAD":
                writer.write(self.bomb)
            await writer.drain()
            return True
        writer.write(self.head(200, None, html, **validators))
        self.count(kind, 200, 0)
        if method != "HEAD":
            chunk = b"<p>" + b"x" * (CHUNK - 3)
            for _ in range(HUGE_BYTES // CHUNK):
                writer.write(chunk)
                self.body_bytes[kind] += len(chunk)
                await writer.drain()
        return False

    def count(self, kind: str, status: int, body_bytes: int) -> None:
        self.requests[f"{kind} {status}"] += 1
        self.body_bytes[kind] += body_bytes


async def main(port: int, hosts: int, delay: float) -> None:
    web = Web(delay)
    addresses = ["127.0.0.1"] + [f"127.0.0.{2 + i}" for i in range(hosts)]
    servers = [
        await asyncio.start_server(web.serve, address, port, backlog=1024, reuse_address=True)
        for address in addresses
    ]
    print(f"serving {hosts} hosts on port {port}", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hosts", type=int, default=59)
    parser.add_argument("--delay", type=float, default=0.05)
    options = parser.parse_args()
    asyncio.run(main(options.port, options.hosts, options.delay))
