"""Redis, the broker and the shared state, gone for a while mid-cycle (and back empty, as a
restart without persistence leaves it): the worker lives on, and every source is checked, once,
none of them blamed for the outage. Meanwhile the API answers every read, anonymous or with a
token, and ``/health/`` names what is down."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

import redis

from tests.faults.conftest import (
    CYCLE,
    DISPATCH_EVERY,
    LEASE,
    Stack,
    assert_each_source_checked_once,
    every_source_checked,
    records,
    summary,
    under_way,
)

OUTAGE = 5.0
# The worker tries Redis again every few seconds (Celery's broker retry, growing by two seconds
# a time): after a five-second outage it is back within this many seconds.
RECONNECT = 10.0


def test_the_worker_survives_a_redis_outage_and_refresh_resumes(stack: Stack) -> None:
    under_way(stack)
    worker = stack.worker

    stack.redis.stop()
    time.sleep(OUTAGE)
    stack.redis.start()
    back = time.monotonic()
    # Refresh resumes: beat's ticks reach the worker again, whose dispatch leaves its heartbeat
    # in the Redis that came back empty.
    client = redis.Redis.from_url(stack.redis.url)
    resumed = stack.wait_until(
        lambda: bool(client.keys("*tracker:heartbeat:dispatch")),
        within=RECONNECT + DISPATCH_EVERY,
        what="a dispatch after Redis came back",
    )
    client.close()
    print(f"\nFAULT Redis outage: a dispatch ran {resumed - back:.1f} s after Redis came back")

    done = stack.wait_until(
        every_source_checked(stack), within=LEASE + DISPATCH_EVERY + CYCLE, what="all checked"
    )
    assert_each_source_checked_once(stack)
    # The worker lived through it: never replaced, and it said why it stopped consuming.
    assert worker.poll() is None
    assert stack.worker_starts == 1
    log = stack.log("worker")
    assert "Connection to broker lost" in log
    assert "Unrecoverable error" not in log
    summary(stack, "Redis outage", recovery=done - back)


LONG_OUTAGE = 30.0
# How late a try to connect may come on a loaded machine.
LATE = 1.0
# What the worker takes, once connected, to run a tick on a loaded machine: Celery's consumer
# restarts (its "mingle" step waits a second for other workers' replies), pool processes are
# replaced (see docs/reliability.md) and the tick runs.
TICK = 5.0
READS = ("/api/v1/measures/", "/api/v1/sources/")
# The data the readers read, and the reader whose token the token client sends.
SEED = """
from django.contrib.auth import get_user_model
from knox.models import AuthToken
from tests.factories import EventFactory, PositionFactory
for event in EventFactory.create_batch(20):
    PositionFactory(measure=event.measure)
reader = get_user_model().objects.create_user("reader", password="not used: a token reads")
print(AuthToken.objects.create(reader)[1])
"""


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when it came
    client: str
    path: str
    status: int | str  # the HTTP status, or what went wrong instead


def get(url: str, token: str | None = None) -> tuple[int | str, bytes]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return f"{type(error).__name__}: {error}", b""


class Readers:
    """An anonymous client and a token client, each in a thread reading the API in a loop."""

    def __init__(self, origin: str, token: str) -> None:
        self.answers: list[Answer] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.read, args=(origin, client, key))
            for client, key in (("anonymous", None), ("token", token))
        ]

    def read(self, origin: str, client: str, token: str | None) -> None:
        while not self.stopping.is_set():
            for path in READS:
                status, _ = get(origin + path, token)
                self.answers.append(Answer(time.monotonic(), client, path, status))
            self.stopping.wait(0.1)  # A steady load that leaves the worker its share of the CPU.

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


def health(origin: str) -> tuple[int | str, dict[str, object]]:
    status, body = get(origin + "/health/")
    return status, json.loads(body) if body else {}


def test_reads_answer_through_a_30_s_redis_outage_and_refresh_resumes(stack: Stack) -> None:
    token = stack.shell(SEED).split()[-1]
    # Anonymous reads are throttled as usual, at a rate these readers stay under.
    web = stack.start_web(workers=2, TRACKER_API_ANON_RATE="100000/minute")
    worker = stack.worker
    under_way(stack)

    with Readers(web, token) as readers:
        time.sleep(1)
        stack.redis.stop()
        down = time.monotonic()
        during: list[tuple[int | str, dict[str, object]]] = []
        while time.monotonic() < down + LONG_OUTAGE:
            during.append(health(web))
            time.sleep(3)
        stack.redis.start()
        back, back_at = time.monotonic(), time.time()
        healthy = stack.wait_until(
            lambda: health(web)[0] == 200, within=DISPATCH_EVERY, what="/health/ answering 200"
        )
        # The worker tries Redis at least once a dispatch interval (config/broker.py): it is
        # back within one interval, in time for the next tick, and refresh resumes.
        client = redis.Redis.from_url(stack.redis.url)
        resumed = stack.wait_until(
            lambda: bool(client.keys("*tracker:heartbeat:dispatch")),
            within=back + DISPATCH_EVERY + TICK - time.monotonic(),
            what="a dispatch after Redis came back",
        )
        client.close()
        time.sleep(2)

    *_, connected = [
        datetime.fromisoformat(line["timestamp"]).timestamp() - back_at
        for line in records(stack.log("worker"))
        if line["event"].startswith("Connected to")
    ]
    assert 0 < connected <= DISPATCH_EVERY + LATE

    outage = [a for a in readers.answers if down <= a.at <= back]
    failed = [a for a in readers.answers if a.status != 200]
    assert failed == []
    assert {(a.client, a.path) for a in outage} == {
        (who, path) for who in ("anonymous", "token") for path in READS
    }
    # The throttles met the outage and let the reads through.
    assert "Throttle cache unreachable" in stack.log("web")
    for status, report in during:
        assert status == 503
        components = report["components"]
        assert isinstance(components, dict)
        assert components["cache"]["status"] == components["broker"]["status"] == "error"
        assert components["database"]["status"] == "ok"

    done = stack.wait_until(
        every_source_checked(stack), within=LEASE + DISPATCH_EVERY + CYCLE, what="all checked"
    )
    assert_each_source_checked_once(stack)
    assert worker.poll() is None
    assert stack.worker_starts == 1
    assert "Unrecoverable error" not in stack.log("worker")
    print(
        f"\nFAULT Redis stopped {back - down:.0f} s under read load: {len(readers.answers)} reads "
        f"({len(outage)} during the outage), {len(failed)} not 200; /health/ 503 "
        f"{len(during)} of {len(during)} times during, 200 {healthy - back:.1f} s after; "
        f"the worker connected {connected:.1f} s and a dispatch ran {resumed - back:.1f} s after "
        "Redis came back"
    )
    summary(stack, "Redis outage of 30 s under read load", recovery=done - back)
