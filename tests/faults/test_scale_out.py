"""Beyond one machine, without Docker: three workers, each a ``celery -A config worker`` of its
own as on three machines, one beat, one Redis and one PostgreSQL refresh 5,000 sources on 50
loopback hosts. Each source is checked exactly once in the cycle, and every worker does part of
it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    DISPATCH_EVERY,
    LEASE,
    Stack,
    level,
    page_servers,
    records,
    seeded,
    stack_of,
)
from tests.servers import PostgresCluster

HOSTS = 50
PAGES_PER_HOST = 100
# Each page answers 50 ms late, and a host is fetched at most every 50 ms (the suite's
# TRACKER_HOST_MIN_INTERVAL): a host's hundred pages take at least 5 s, one after another, so
# the cycle is bound by the work of the checks, which the workers share, not by politeness.
PAGE_DELAY = 0.05
TOTAL = HOSTS * PAGES_PER_HOST
WORKERS = 3
CONCURRENCY = 2  # Pool processes per worker: six in all, on two cores.
REFRESH = "tracker.tasks.refresh_sources"
DISPATCH = "tracker.tasks.dispatch_due_sources"


@pytest.fixture(scope="module")
def many_origins() -> Iterator[list[str]]:
    with page_servers(HOSTS, PAGES_PER_HOST, PAGE_DELAY) as found:
        yield found


@pytest.fixture(scope="module")
def many_sources(postgres: PostgresCluster, schema: str, many_origins: list[str]) -> str:
    urls = [f"{origin}/p{n}" for origin in many_origins for n in range(PAGES_PER_HOST)]
    return seeded(postgres, schema, "faults_scale_template", urls)


@pytest.fixture
def three_workers(
    postgres: PostgresCluster, many_sources: str, many_origins: list[str], tmp_path: Path
) -> Iterator[Stack]:
    """Three workers, each waited for until it consumes, then beat: the cycle starts with all
    three listening, as in a running deployment."""
    with stack_of(postgres, many_sources, many_origins[0], tmp_path) as stack:
        names = [f"worker{n}" for n in range(1, WORKERS + 1)]
        for name in names:
            stack.start_worker(name, concurrency=CONCURRENCY)
        stack.wait_until(
            lambda: all(" ready." in stack.log(name) for name in names),
            within=60,
            what="three workers ready",
        )
        stack.start_beat()
        yield stack


def task_lines(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The lines a worker logged about its tasks (those that carry a task id)."""
    return [record for record in records(stack.log(name)) if "task_id" in record]


def test_three_workers_share_a_cycle_each_source_checked_once(three_workers: Stack) -> None:
    stack = three_workers
    # The cycle must end within a lease: past it, sources not yet checked would be due again.
    stack.wait_until(lambda: stack.checked() == TOTAL, within=LEASE, what="all checked")
    done = time.time()
    time.sleep(3 * DISPATCH_EVERY)  # Later ticks find nothing due: nothing is checked again.

    outcomes = stack.checks_per_source()
    assert len(outcomes) == TOTAL
    assert {source: found for source, found in outcomes.items() if found != ["ok"]} == {}
    fetched = stack.requests()
    assert len(fetched) == TOTAL
    assert set(fetched.values()) == {1}  # No page fetched twice, even by a check not written.

    # Each worker's share, from its own log: the tasks it ran and the checks they wrote.
    shares: dict[str, int] = {}
    tasks: dict[str, set[str]] = {}
    dispatches: list[dict[str, Any]] = []
    for n in range(1, WORKERS + 1):
        name = f"worker{n}"
        log = stack.log(name).splitlines()
        assert [line for line in log if level(line) in {"error", "critical"}] == []
        lines = task_lines(stack, name)
        ran = [line for line in lines if line["event"] in {"task_started", "task_succeeded"}]
        # Each names the worker that ran the task (its --hostname).
        assert {line["worker"].split("@")[0] for line in ran} == {f"faults{n}"}
        succeeded = [line for line in ran if line["event"] == "task_succeeded"]
        refreshed = [line for line in succeeded if line["task"] == REFRESH]
        tasks[name] = {line["task_id"] for line in refreshed}
        shares[name] = sum(int(line["result"]) for line in refreshed)
        dispatches += [
            line for line in lines if line["event"] == "task_started" and line["task"] == DISPATCH
        ]
    assert sum(shares.values()) == TOTAL  # The logs agree with the check rows.
    assert all(share > 0 for share in shares.values()), shares
    names = list(tasks)
    for i, one in enumerate(names):  # No task ran on two workers.
        for other in names[i + 1 :]:
            assert tasks[one].isdisjoint(tasks[other])

    started = min(datetime.fromisoformat(line["timestamp"]) for line in dispatches)
    print(
        f"\nSCALE-OUT {TOTAL} sources on {HOSTS} hosts, {WORKERS} workers x {CONCURRENCY}: "
        f"all checked {done - started.timestamp():.1f} s after the first dispatch; "
        + ", ".join(
            f"{name} {shares[name]} ({shares[name] / TOTAL:.0%}) in {len(tasks[name])} tasks"
            for name in names
        )
    )
