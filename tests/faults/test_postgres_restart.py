"""PostgreSQL restarted mid-cycle: every session is cut, the running tasks' fetches are written
once it is back, and no page is fetched a second time."""

from __future__ import annotations

import time

from tests.faults.conftest import (
    CYCLE,
    Stack,
    assert_each_source_checked_once,
    every_source_checked,
    summary,
    under_way,
)


def test_finished_fetches_are_written_once_postgresql_is_back(stack: Stack) -> None:
    under_way(stack)

    stack.postgres.stop()
    time.sleep(2)
    stack.postgres.start()
    back = time.monotonic()

    done = stack.wait_until(every_source_checked(stack), within=CYCLE, what="all checked")
    assert_each_source_checked_once(stack)
    assert set(stack.requests().values()) == {1}  # Nothing fetched was thrown away.
    assert "The database is out of reach" in stack.log("worker")
    summary(stack, "PostgreSQL restart", recovery=done - back)
