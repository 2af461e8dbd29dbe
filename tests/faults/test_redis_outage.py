"""Redis, the broker and the shared state, gone for a while mid-cycle (and back empty, as a
restart without persistence leaves it): the worker lives on, and every source is checked, once,
none of them blamed for the outage."""

from __future__ import annotations

import time

import redis

from tests.faults.conftest import (
    CYCLE,
    DISPATCH_EVERY,
    LEASE,
    Stack,
    assert_each_source_checked_once,
    every_source_checked,
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
