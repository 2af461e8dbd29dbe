"""The fault suite's stack: each part a real process of its own, as deployed.

PostgreSQL (a cluster of the suite's own, so it can be restarted), redis-server (one per test,
so it can be stopped), loopback page servers, a Celery worker with a prefork pool and beat,
started with ``celery -A config`` exactly as in production, with short leases and intervals
from the ``TRACKER_*`` environment variables so that a fault and its recovery take seconds.

The suite runs where the rest runs on PostgreSQL (``DATABASE_URL``), as in CI; elsewhere it
skips, saying why.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

from tests.conftest import free_port, need
from tests.servers import PostgresCluster, RedisServer, wait_for_port

ROOT = Path(__file__).resolve().parent.parent.parent
HOSTS = 20  # The shape of production: many sources on a few hosts, each fetched politely.
PAGES_PER_HOST = 20
PAGE_DELAY = 0.4  # Seconds each page takes to answer: a cycle lasts several seconds.
WORKER_PROCESSES = 4
LEASE = 60  # The shortest lease the settings allow.
DISPATCH_EVERY = 2
# How long a cycle of checks may take once dispatched, on a loaded machine: the slack of every
# recovery deadline below.
CYCLE = 30.0
ENVIRONMENT = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "TRACKER_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
    "TRACKER_FETCH_ALLOWED_PORTS": "any",
    "TRACKER_FETCH_DEADLINE": "5",
    "TRACKER_HOST_MIN_INTERVAL": "0.05",
    "TRACKER_REFRESH_LEASE": str(LEASE),
    "TRACKER_DISPATCH_EVERY": str(DISPATCH_EVERY),
    "TRACKER_REFRESH_BATCH": "5",  # Four tasks of five hosts: every pool process is busy.
    "TRACKER_TASK_SOFT_TIME_LIMIT": "35",
    "TRACKER_TASK_TIME_LIMIT": "45",
}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        need("the fault suite runs on PostgreSQL, as deployed (set DATABASE_URL)")
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.close()


@contextlib.contextmanager
def page_servers(hosts: int, pages: int, delay: float) -> Iterator[list[str]]:
    """Page servers on ``hosts`` loopback hosts in a process of their own; yields the origins."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.pages", str(hosts), str(pages), str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def origins() -> Iterator[list[str]]:
    """The page servers' origins, one per loopback host."""
    with page_servers(HOSTS, PAGES_PER_HOST, PAGE_DELAY) as found:
        yield found


@pytest.fixture(scope="session")
def schema(postgres: PostgresCluster) -> str:
    """A migrated, empty database, the template of the templates below."""
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE faults_schema")
    env = _environment(database_url=postgres.url("faults_schema"), redis_url="")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    return "faults_schema"


def seeded(postgres: PostgresCluster, schema: str, name: str, urls: list[str]) -> str:
    """A copy of ``schema`` named ``name`` holding a source of each URL, unchecked."""
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {schema}")
    env = _environment(database_url=postgres.url(name), redis_url="")
    seed = (
        "import sys\n"
        "from tracker.models import Source\n"
        "from tracker.urlnorm import url_match_key\n"
        "urls = sys.stdin.read().split()\n"
        "Source.objects.bulk_create(Source(url=u, url_key=url_match_key(u)) for u in urls)\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", seed],
        cwd=ROOT,
        env=env,
        input="\n".join(urls),
        text=True,
        check=True,
    )
    return name


@pytest.fixture(scope="session")
def template(postgres: PostgresCluster, schema: str, origins: list[str]) -> str:
    """A database holding every source, unchecked: each test starts from a copy."""
    urls = [f"{origin}/p{n}" for origin in origins for n in range(PAGES_PER_HOST)]
    return seeded(postgres, schema, "faults_template", urls)


def _environment(
    *, database_url: str, redis_url: str, var_dir: str | None = None
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRACKER_", "DATABASE_", "REDIS_"))
    }
    env.update(ENVIRONMENT, DATABASE_URL=database_url, REDIS_URL=redis_url)
    env.setdefault("DJANGO_SECRET_KEY", "fault-suite-" + "x" * 50)
    env["TRACKER_VAR_DIR"] = var_dir or tempfile.mkdtemp(prefix="faults-var-")
    return env


@dataclass
class Stack:
    """One test's running service: its database, Redis, worker and beat."""

    postgres: PostgresCluster
    redis: RedisServer
    database: str
    workdir: Path
    origin: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    worker_starts: int = 0
    requests_before: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return _environment(
            database_url=self.postgres.url(self.database),
            redis_url=self.redis.url,
            var_dir=str(self.workdir),
        )

    def _start(
        self, name: str, *args: str, command: tuple[str, ...] = ("celery", "-A", "config"),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:  # fmt: skip
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", *command, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Its pool processes in a group of their own, to end at once.
        )
        self.processes[name] = process
        return process

    def start_worker(
        self, name: str = "worker", *, concurrency: int = WORKER_PROCESSES
    ) -> subprocess.Popen[bytes]:
        """Start a worker (again: what a supervisor does when it is gone, see
        docs/deployment.md), logging to ``<name>.log``."""
        self.worker_starts += 1
        return self._start(
            name, "worker", "--pool", "prefork", "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--hostname", f"faults{self.worker_starts}@%h",
        )  # fmt: skip

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self._start(
            "beat", "beat", "--loglevel", "INFO", "--schedule", str(self.workdir / "beat-schedule")
        )

    def shell(self, script: str) -> str:
        """Run ``script`` in ``manage.py shell`` on this stack's database; returns its output."""
        return subprocess.run(
            [sys.executable, "manage.py", "shell", "-v0", "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def start_web(self, *, workers: int, **env: str) -> str:
        """gunicorn as deployed (``config/gunicorn.py``) on a free loopback port, logging to
        ``web.log``; returns its origin once it answers."""
        port = free_port()
        web = self._start(
            "web", "config.wsgi", "-c", "config/gunicorn.py",
            command=("gunicorn",),
            env={
                "TRACKER_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1", **env,
            },
        )  # fmt: skip
        wait_for_port(port, alive=web)
        return f"http://127.0.0.1:{port}"

    @property
    def worker(self) -> subprocess.Popen[bytes]:
        return self.processes["worker"]

    def pool_processes(self) -> list[int]:
        """The worker's pool processes (children of its main process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.worker.pid:
                children.append(int(stat.parent.name))
        return children

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # -- reading what happened -----------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.postgres.url(self.database), autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def checks_per_source(self) -> dict[int, list[str]]:
        """Source id -> the outcomes of its checks, for every source (none: an empty list)."""
        rows = self.query(
            "SELECT s.id, c.outcome FROM tracker_source s "
            "LEFT JOIN tracker_sourcecheck c ON c.source_id = s.id ORDER BY s.id, c.id"
        )
        found: dict[int, list[str]] = {}
        for source_id, outcome in rows:
            found.setdefault(source_id, [])
            if outcome is not None:
                found[source_id].append(outcome)
        return found

    def checked(self) -> int:
        return int(self.query("SELECT count(DISTINCT source_id) FROM tracker_sourcecheck")[0][0])

    def requests(self) -> dict[str, int]:
        """Page URL -> the requests for it since this test began (the page servers are shared)."""
        with urllib.request.urlopen(self.origin + "/requests", timeout=5) as answer:
            counts: dict[str, int] = json.load(answer)
        before = self.requests_before
        return {url: n - before.get(url, 0) for url, n in counts.items() if n > before.get(url, 0)}

    def wait_until(self, condition: Callable[[], bool], *, within: float, what: str) -> float:
        """Poll ``condition`` until it holds; fail after ``within`` seconds. Returns when."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"not within {within:.0f} s: {what} ({self.checked()} sources checked)")
            time.sleep(0.2)
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


_numbers = itertools.count()


@contextlib.contextmanager
def stack_of(
    postgres: PostgresCluster, template: str, origin: str, workdir: Path
) -> Iterator[Stack]:
    """A fresh copy of ``template`` and a Redis of its own; every process started is ended."""
    database = f"faults_{next(_numbers)}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database} TEMPLATE {template}")
    redis_server = RedisServer().start()
    running = Stack(postgres, redis_server, database, workdir, origin)
    running.requests_before = running.requests()
    try:
        yield running
    finally:
        running.stop()
        redis_server.close()


@pytest.fixture
def stack(
    postgres: PostgresCluster, template: str, origins: list[str], tmp_path: Path
) -> Iterator[Stack]:
    """A fresh copy of the sources, a Redis of its own, then beat and the worker."""
    with stack_of(postgres, template, origins[0], tmp_path) as running:
        running.start_worker()
        running.start_beat()
        yield running


TOTAL = HOSTS * PAGES_PER_HOST


def under_way(stack: Stack) -> None:
    """Wait until the first cycle is under way: a fifth of the pages fetched, none written.

    A task writes all its checks at its end, so until then every fetch is in flight.
    """
    stack.wait_until(
        lambda: sum(stack.requests().values()) >= TOTAL // 5, within=CYCLE, what="a cycle under way"
    )
    assert stack.checked() == 0, "the cycle ended before the fault came"


def every_source_checked(stack: Stack) -> Callable[[], bool]:
    return lambda: stack.checked() == TOTAL


def assert_each_source_checked_once(stack: Stack) -> None:
    """One check per source, each ``ok``: none lost, none twice, none blamed for the fault."""
    outcomes = stack.checks_per_source()
    assert len(outcomes) == TOTAL
    assert {source: found for source, found in outcomes.items() if found != ["ok"]} == {}


def records(log: str) -> list[dict[str, Any]]:
    """The JSON lines of a log, in order (Celery's start-up banner and its pool processes'
    messages are plain text)."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def level(line: str) -> str | None:
    """The level of a log line: a JSON line's ``level``, or Celery's own ``[… ERROR/Process]``."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            return str(json.loads(line).get("level"))
    for name in ("critical", "error", "warning"):
        if f"{name.upper()}/" in line:
            return name
    return None


def tracebacks(log: str) -> int:
    """Tracebacks in a log: a JSON line's ``exception``, or Python's own text."""
    return log.count("Traceback") + log.count('"exception": [')


def summary(stack: Stack, fault: str, *, recovery: float) -> None:
    """One line of figures for docs/reliability.md (shown with ``pytest -s``)."""
    log = stack.log("worker")
    errors = sum(1 for line in log.splitlines() if level(line) in {"error", "critical"})
    warnings = sum(1 for line in log.splitlines() if level(line) == "warning")
    print(
        f"\nFAULT {fault}: recovered {recovery:.1f} s after, worker log {len(log) / 1024:.0f} KiB, "
        f"{errors} error and {warnings} warning lines, {tracebacks(log)} tracebacks, "
        f"{stack.worker_starts} worker start(s), "
        f"{sum(1 for count in stack.requests().values() if count > 1)} pages fetched twice"
    )
