"""A worker process killed mid-cycle (out of memory, a crash): every source is still checked,
once, within one lease of the restart and one dispatch interval."""

from __future__ import annotations

import os
import signal
import time

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


def test_a_killed_pool_process_task_is_redelivered_and_takes_over_its_locks(stack: Stack) -> None:
    under_way(stack)
    pool = stack.pool_processes()
    assert len(pool) == 4

    os.kill(pool[0], signal.SIGKILL)  # Each of the four is running one of the cycle's tasks.
    killed = time.monotonic()

    done = stack.wait_until(
        every_source_checked(stack), within=LEASE + DISPATCH_EVERY + CYCLE, what="all checked"
    )
    assert_each_source_checked_once(stack)
    assert stack.worker.poll() is None  # The same worker: its pool replaced the process.
    # The killed task's fetches were done again by its redelivery, nobody else's.
    assert 0 < sum(1 for count in stack.requests().values() if count > 1) <= 5 * 20
    summary(stack, "pool process SIGKILL", recovery=done - killed)


def test_a_killed_worker_is_replaced_and_its_sources_come_back_after_their_lease(
    stack: Stack,
) -> None:
    under_way(stack)
    os.kill(stack.worker.pid, signal.SIGKILL)  # Its pool processes exit with it.
    stack.worker.wait(timeout=10)

    stack.start_worker()  # What the supervisor does.
    restarted = time.monotonic()

    done = stack.wait_until(
        every_source_checked(stack), within=LEASE + DISPATCH_EVERY + CYCLE, what="all checked"
    )
    assert_each_source_checked_once(stack)
    summary(stack, "worker main process SIGKILL", recovery=done - restarted)
