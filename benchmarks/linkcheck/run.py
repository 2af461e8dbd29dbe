#!/usr/bin/env python3
"""One full refresh cycle of many sources through the real pipeline, against LinkChecker.

    .venv/bin/python benchmarks/linkcheck/run.py [--sources 10000] [--hosts 59] ...

Steps, in order:

1. Start a throwaway redis-server and the benchmark's web (``server.py``: ``--hosts`` loopback
   addresses from 127.0.0.2, an article of about 15 KB per URL answered after ``--delay``
   seconds, a few huge bodies and gzip bombs among them).
2. (Re)create a PostgreSQL database (``--database``) on ``--server``, migrate it and create
   ``--sources`` sources spread over the hosts in random order, none of them due yet.
3. Start the Celery workers (``--instances`` prefork workers of ``--concurrency`` processes)
   and beat (a dispatch tick every second), all on Redis and PostgreSQL, with per-host
   politeness of ``--host-interval`` seconds.
4. Cycle 1: make every source due and time until every one has its check row (fetch, robots,
   politeness, extraction, writes). Cycle 2: the same again, now with stored validators.
5. Stop the pipeline; run LinkChecker (``linkchecker -r1 --check-extern -o none links.html``,
   default settings, from its own virtualenv ``benchmarks/linkcheck/.venv``, created on first
   use) over a page linking every URL, against the same web.
6. Print a table, write ``benchmarks/results/linkcheck-<UTC time>.json``, drop the database
   (``--keep-database`` keeps it) and stop everything.

Needs redis-server on the PATH and a PostgreSQL server on which the role in ``--server`` may
create databases (default: ``$TRACKER_BENCH_POSTGRES``, else the URL below).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):
    # Run as a script: make the project's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import (
    RESULTS,
    ROOT,
    VENV,
    add_database_options,
    check_database_option,
    database_url,
    free_port,
    in_project_venv,
    recreate_database,
)

HERE = Path(__file__).resolve().parent
LINKCHECKER_VENV = HERE / ".venv"
# LinkChecker's default maxrequestspersecond is 10 per host: at least 0.1 s between requests
# (it then waits a random 0.1-0.6 s, so about 0.35 s on average).
LINKCHECKER_MIN_INTERVAL = 0.1
TARGETS = {"first_ratio": 2.0, "second_ratio": 5.0, "not_modified": 0.95, "bytes": 0.05}
RSS_TARGET_MB = 300


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python benchmarks/linkcheck/run.py",
        description="URLs/s of one refresh cycle through the real pipeline (beat, Celery "
        "workers, Redis, PostgreSQL, extraction) and of LinkChecker over the same URLs.",
    )
    add = parser.add_argument
    add_database_options(parser, database="tracker_linkcheck_bench")
    add("--sources", type=int, default=10_000, help="sources (default %(default)s)")
    add("--hosts", type=int, default=59, help="host names, 127.0.0.2 on (default %(default)s)")
    add("--huge", type=int, default=10, help="huge bodies among them (default %(default)s)")
    add("--delay", type=float, default=0.05, help="seconds before each answer (%(default)s)")
    add("--instances", type=int, default=1, help="Celery worker instances (%(default)s)")
    add("--concurrency", type=int, default=8, help="processes per instance (%(default)s)")
    add(
        "--batch",
        type=int,
        help="hosts per refresh task, TRACKER_REFRESH_BATCH (default: the service's)",
    )
    add(
        "--host-interval",
        type=float,
        default=LINKCHECKER_MIN_INTERVAL,
        help="seconds between two fetches from one host (default: LinkChecker's, %(default)s)",
    )
    add("--skip-linkchecker", action="store_true", help="time only the pipeline")
    add(
        "--linkchecker-shuffled",
        action="store_true",
        help="also run LinkChecker over the links in random order (its worst case; slow)",
    )
    add("--linkchecker-rate", type=float, help="use this URLs/s instead of running LinkChecker")
    add("--seed", type=int, default=1, help="seed of the source order")
    args = parser.parse_args(argv)
    check_database_option(parser, args)
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be between 1 and 250")
    return args


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not start")


@contextmanager
def running(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A child process, stopped (TERM, then KILL) on the way out."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


# --- the database and the sources ---------------------------------------------------------------


def source_urls(args: argparse.Namespace, port: int) -> list[str]:
    """Every URL, in a random order: articles, with --huge huge bodies and gzip bombs spread in."""
    rng = random.Random(args.seed)
    huge = sorted(rng.sample(range(args.sources), args.huge))
    kinds = {n: ("huge", "bomb")[i % 2] for i, n in enumerate(huge)}
    urls = []
    for n in range(args.sources):
        kind = kinds.get(n, "a")
        urls.append(f"http://127.0.0.{2 + n % args.hosts}:{port}/{kind}/{n}")
    rng.shuffle(urls)
    return urls


def create_sources(urls: list[str]) -> None:
    from django.core.management import call_command

    from tracker.models import Source
    from tracker.urlnorm import url_match_key

    call_command("migrate", verbosity=0)
    far = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)  # Not due until the cycle starts.
    Source.objects.bulk_create(
        [
            Source(url=url, url_key=url_match_key(url), kind=Source.Kind.NEWS, next_check_at=far)
            for url in urls
        ],
        batch_size=2000,
    )


# --- measuring ----------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Peak resident memory of every process under the worker instances, sampled twice a second.

    Reads VmHWM (the kernel's own high-water mark), so a peak between samples is not missed;
    pool processes replaced after their task quota are sampled while they live.
    """

    def __init__(self, parents: list[int]) -> None:
        super().__init__(daemon=True)
        self.parents = set(parents)
        self.peak_kib: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid, ppid = int(entry.name), int(fields.get("PPid", "0").strip())
            if pid in self.parents or ppid in self.parents:
                peak = int(fields.get("VmHWM", "0 kB").split()[0])
                self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), peak)
                self.kind[pid] = "main" if pid in self.parents else "pool"

    def report(self) -> dict[str, Any]:
        def peak(kind: str) -> float:
            values = [kib for pid, kib in self.peak_kib.items() if self.kind[pid] == kind]
            return round(max(values, default=0) / 1024, 1)

        pool = sum(1 for kind in self.kind.values() if kind == "pool")
        return {
            "pool_processes_seen": pool,
            "peak_rss_mb_pool": peak("pool"),
            "peak_rss_mb_main": peak("main"),
        }


class CPUAccount:
    """CPU seconds spent by each part of the system between two snapshots, from /proc.

    Pool processes that exit are counted through their parent (the kernel adds a reaped
    child's time to the parent's cutime/cstime).
    """

    def __init__(self, roles: dict[int, str], database: str) -> None:
        self.roles = roles  # pid -> role, for the processes this script started
        self.database = database
        self.ticks = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            pid, ppid = int(entry.name), int(fields[1])
            own = int(fields[11]) + int(fields[12])
            reaped = int(fields[13]) + int(fields[14])
            if pid in self.roles:
                role = self.roles[pid]
                totals[role] += own
                if role == "celery worker (main)":
                    totals["celery worker (pool)"] += reaped
            elif self.roles.get(ppid) == "celery worker (main)":
                totals["celery worker (pool)"] += own
            elif comm in ("postgres", "postmaster"):
                # Backends name their database in their title; the server's own processes
                # (WAL writer, checkpointer …) serve every database alike.
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
                if f" {self.database} " in title:
                    totals["postgresql (this database)"] += own
                elif "postgres: " in title and "127.0.0.1(" not in title:
                    totals["postgresql (server)"] += own
                else:
                    totals["other"] += own
            else:
                totals["other"] += own
        return totals

    def between(
        self, before: Counter[str], after: Counter[str], busy_ticks: int
    ) -> dict[str, float]:
        """Seconds per role; ``other`` also holds what the machine was busy with beyond them
        (processes that started and ended between the snapshots, the kernel)."""
        seconds = {
            role: (after[role] - before[role]) / self.ticks
            for role in set(after) | set(before)
            if role != "other"
        }
        seconds["other"] = max(0.0, busy_ticks / self.ticks - sum(seconds.values()))
        return {role: round(value, 1) for role, value in sorted(seconds.items()) if value > 0}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def published_messages(redis_url: str) -> int:
    """Messages sent to the broker so far (kombu publishes with LPUSH)."""
    import redis

    stats = redis.Redis.from_url(redis_url).info("commandstats")
    return int(stats.get("cmdstat_lpush", {}).get("calls", 0))


def web_stats(port: int, *, reset: bool = False) -> dict[str, Any]:
    path = "/_reset" if reset else "/_stats"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        stats: dict[str, Any] = json.load(response)
        return stats


def cycle(
    name: str, due_sql: str, expected: int, port: int, account: CPUAccount, redis_url: str
) -> dict[str, Any]:
    """Make every source due with ``due_sql``, then wait until each has one more check."""
    from django.db import connection
    from django.utils import timezone

    from tracker.models import Source, SourceCheck

    before = SourceCheck.objects.order_by("-id").values_list("id", flat=True).first() or 0
    web_stats(port, reset=True)
    busy0, total0 = cpu_jiffies()
    cpu0 = account.snapshot()
    messages0 = published_messages(redis_url)
    print(f"{name}: {expected} sources due now", flush=True)
    started = time.perf_counter()
    since = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(due_sql)
    last_report = started
    # A source is done when it has a check that started after it became due.
    while (done := Source.objects.filter(last_checked_at__gte=since).count()) < expected:
        time.sleep(0.25)
        now = time.perf_counter()
        if now - last_report >= 10:
            rate = done / (now - started)
            print(f"  {done} checked in {now - started:.0f} s ({rate:.0f}/s)", flush=True)
            last_report = now
        if now - started > 3600:
            sys.exit(f"{name} did not finish within an hour ({done} of {expected})")
    seconds = time.perf_counter() - started
    busy1, total1 = cpu_jiffies()
    cpu_seconds = account.between(cpu0, account.snapshot(), busy1 - busy0)
    messages = published_messages(redis_url) - messages0
    checks = SourceCheck.objects.filter(id__gt=before)
    outcomes = Counter(checks.values_list("outcome", flat=True))
    body_bytes = sum(checks.values_list("bytes_read", flat=True))
    result = {
        "seconds": round(seconds, 2),
        "urls_per_second": round(expected / seconds, 1),
        "checks": sum(outcomes.values()),  # more than the sources would mean duplicate work
        # One per refresh task (a batch of sources), plus beat's ticks.
        "task_messages": messages,
        "outcomes": dict(outcomes),
        "bytes_read": body_bytes,
        "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        "cpu_seconds": cpu_seconds,
        "web": web_stats(port),
    }
    print(f"{name}: {result['urls_per_second']} URLs/s in {seconds:.1f} s, {dict(outcomes)}")
    print(f"  CPU seconds: {cpu_seconds}", flush=True)
    return result


def web_capacity(
    port: int, hosts: int, *, clients: int = 200, seconds: float = 5
) -> dict[str, Any]:
    """Articles per second the web serves to ``clients`` concurrent keep-alive clients.

    A lower bound (the client here is Python too); it only has to be far above what the
    pipeline and LinkChecker ask of it, so that the web is never what is being measured.
    """
    import asyncio

    async def hammer() -> int:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        served = 0

        async def client(i: int) -> None:
            nonlocal served
            host = f"127.0.0.{2 + i % hosts}"
            reader, writer = await asyncio.open_connection(host, port)
            n = i
            while loop.time() < end:
                writer.write(f"GET /a/{n} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                served += 1
                n += clients
            writer.close()

        await asyncio.gather(*(client(i) for i in range(clients)))
        return served

    web_stats(port, reset=True)
    served = asyncio.run(hammer())
    web = web_stats(port)
    result = {
        "clients": clients,
        "articles_per_second": round(served / seconds),
        "web_cpu_share": round(web["cpu_seconds"] / seconds, 2),
        "timer_lateness_ms": web["timer_lateness_ms"],
    }
    print(f"the web alone: {result['articles_per_second']} articles/s to {clients} clients")
    return result


def host_interleaved(urls: list[str]) -> list[str]:
    """The URLs one host after another, round robin: LinkChecker's best order.

    LinkChecker sleeps out its per-host wait while holding a lock every thread needs, so a
    page listing one host's URLs together makes all ten threads wait on that host.
    """
    seen: Counter[str] = Counter()
    keyed = []
    for position, url in enumerate(urls):
        host = urlsplit(url).netloc
        keyed.append((seen[host], position, url))
        seen[host] += 1
    return [url for _, _, url in sorted(keyed)]


def run_linkchecker(urls: list[str], port: int, workdir: Path, order: str) -> dict[str, Any]:
    linkchecker = LINKCHECKER_VENV / "bin" / "linkchecker"
    if not linkchecker.exists():
        print("installing LinkChecker into benchmarks/linkcheck/.venv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LINKCHECKER_VENV)], check=True)
        pip = LINKCHECKER_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "--quiet", "linkchecker"], check=True)
    version = subprocess.run(
        [str(linkchecker), "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    page = workdir / "links.html"
    anchors = "\n".join(f'<a href="{url}">{n}</a>' for n, url in enumerate(urls))
    page.write_text(f"<!DOCTYPE html><html><body>\n{anchors}\n</body></html>\n")
    # LinkChecker drops root privileges to "nobody", which must still read the page.
    workdir.chmod(0o755)
    page.chmod(0o644)
    web_stats(port, reset=True)
    busy0, total0 = cpu_jiffies()
    print(f"LinkChecker ({version}) over {len(urls)} URLs, {order}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(linkchecker), "-r1", "--check-extern", "-o", "none", str(page)],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    busy1, total1 = cpu_jiffies()
    web = web_stats(port)
    checked = sum(count for key, count in web["requests"].items() if not key.startswith("robots"))
    result = {
        "version": version,
        "order": order,
        "seconds": round(seconds, 2),
        "urls_per_second": round(len(urls) / seconds, 1),
        "exit_status": completed.returncode,  # 1: it found broken links (the huge bodies)
        "requests_seen_by_the_web": checked,
        "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        "web": web,
    }
    print(f"LinkChecker: {result['urls_per_second']} URLs/s in {seconds:.1f} s")
    return result


# --- the run ------------------------------------------------------------------------------------


def pipeline_env(
    args: argparse.Namespace, database: str, redis_url: str, var: Path
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_DEBUG="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=database,
        DATABASE_CONN_MAX_AGE="600",
        REDIS_URL=redis_url,
        TRACKER_VAR_DIR=str(var),
        TRACKER_FETCH_ALLOWED_NETWORKS="127.0.0.0/8",
        TRACKER_FETCH_ALLOWED_PORTS="any",
        TRACKER_HOST_MIN_INTERVAL=str(args.host_interval),
        TRACKER_DISPATCH_EVERY="1",
        TRACKER_DISPATCH_MAX_PER_TICK=str(max(args.sources, 1)),
        PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if args.batch:
        env["TRACKER_REFRESH_BATCH"] = str(args.batch)
    return env


def wait_for_workers(instances: int) -> None:
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0)) >= instances:
            return
    sys.exit("the Celery workers did not answer")


def machine() -> dict[str, Any]:
    memory_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    in_project_venv(__file__)
    args = options(sys.argv[1:])
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server is not installed (Debian package redis-server)")
    database = database_url(args.server, args.database)
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {k: v for k, v in vars(args).items() if k != "server"},
    }
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="linkcheck-")))
        logs = RESULTS / "linkcheck-logs"  # Kept after the run, for when something fails.
        logs.mkdir(parents=True, exist_ok=True)
        redis_port, web_port = free_port(), free_port()
        redis_process = stack.enter_context(
            running(
                [
                    redis_server,
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                ],
                logs / "redis.log",
            )
        )
        wait_for_port(redis_port, redis_process, "redis-server")
        web = stack.enter_context(
            running(
                [
                    sys.executable,
                    str(HERE / "server.py"),
                    "--port",
                    str(web_port),
                    "--hosts",
                    str(args.hosts),
                    "--delay",
                    str(args.delay),
                ],
                logs / "web.log",
            )
        )
        wait_for_port(web_port, web, "the benchmark's web")
        roles = {
            os.getpid(): "harness",
            redis_process.pid: "redis",
            web.pid: "the benchmark's web",
        }
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = pipeline_env(args, database, redis_url, workdir / "var")
        os.environ.update(env)
        recreate_database(args.server, args.database)
        if not args.keep_database:
            stack.callback(recreate_database, args.server, args.database, drop_only=True)

        import django

        django.setup()
        from django.db import connections

        results["web_capacity"] = web_capacity(web_port, args.hosts)
        urls = source_urls(args, web_port)
        print(f"creating {len(urls)} sources on {args.hosts} hosts", flush=True)
        create_sources(urls)

        with ExitStack() as pipeline:
            mains = []
            for i in range(args.instances):
                worker = pipeline.enter_context(
                    running(
                        [
                            "celery",
                            "-A",
                            "config",
                            "worker",
                            "-P",
                            "prefork",
                            "-c",
                            str(args.concurrency),
                            "-n",
                            f"bench{i}@%h",
                            "-l",
                            "WARNING",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                        ],
                        logs / f"worker{i}.log",
                        env,
                    )
                )
                mains.append(worker.pid)
                roles[worker.pid] = "celery worker (main)"
            wait_for_workers(args.instances)
            sampler = Sampler(mains)
            sampler.start()
            beat = pipeline.enter_context(
                running(
                    [
                        "celery",
                        "-A",
                        "config",
                        "beat",
                        "-l",
                        "WARNING",
                        "-s",
                        str(workdir / "beat-schedule"),
                    ],
                    logs / "beat.log",
                    env,
                )
            )
            roles[beat.pid] = "celery beat"
            account = CPUAccount(roles, args.database)
            time.sleep(3)  # beat's first ticks find nothing due.
            n = len(urls)
            results["first_cycle"] = cycle(
                "cycle 1",
                "UPDATE tracker_source SET next_check_at = NULL",
                n,
                web_port,
                account,
                redis_url,
            )
            results["second_cycle"] = cycle(
                "cycle 2",
                "UPDATE tracker_source SET next_check_at = now()",
                n,
                web_port,
                account,
                redis_url,
            )
            sampler.sample()
            sampler.stopping.set()
            results["workers"] = {
                "instances": args.instances,
                "concurrency": args.concurrency,
                "batch": args.batch,
                **sampler.report(),
            }
        connections.close_all()

        if args.linkchecker_rate:
            results["linkchecker"] = {"urls_per_second": args.linkchecker_rate, "given": True}
        elif not args.skip_linkchecker:
            # The reference is LinkChecker's best case: links interleaved by host. In the
            # sources' own (random) order it is much slower; --linkchecker-shuffled shows it.
            results["linkchecker"] = run_linkchecker(
                host_interleaved(urls), web_port, workdir, "links interleaved by host"
            )
            if args.linkchecker_shuffled:
                results["linkchecker_shuffled"] = run_linkchecker(
                    urls, web_port, workdir, "links in the sources' random order"
                )
    report(results)


def report(results: dict[str, Any]) -> None:
    first, second = results["first_cycle"], results["second_cycle"]
    second_not_modified = second["outcomes"].get("not_modified", 0) / sum(
        second["outcomes"].values()
    )
    byte_share = second["bytes_read"] / max(1, first["bytes_read"])
    summary: dict[str, Any] = {
        "first_urls_per_second": first["urls_per_second"],
        "second_urls_per_second": second["urls_per_second"],
        "second_not_modified_share": round(second_not_modified, 4),
        "second_bytes_share": round(byte_share, 4),
        "peak_rss_mb_per_pool_process": results["workers"]["peak_rss_mb_pool"],
    }
    rows = [
        ("pipeline, cycle 1 (URLs/s)", first["urls_per_second"], ""),
        ("pipeline, cycle 2 (URLs/s)", second["urls_per_second"], ""),
        ("cycle 2 answered 304", f"{second_not_modified:.1%}", f"≥ {TARGETS['not_modified']:.0%}"),
        ("cycle 2 bytes / cycle 1 bytes", f"{byte_share:.2%}", f"≤ {TARGETS['bytes']:.0%}"),
        (
            "peak RSS per worker process (MB)",
            summary["peak_rss_mb_per_pool_process"],
            f"≤ {RSS_TARGET_MB}",
        ),
    ]
    linkchecker = results.get("linkchecker")
    if linkchecker:
        rate = linkchecker["urls_per_second"]
        summary["linkchecker_urls_per_second"] = rate
        summary["first_ratio"] = round(first["urls_per_second"] / rate, 2)
        summary["second_ratio"] = round(second["urls_per_second"] / rate, 2)
        rows[2:2] = [
            ("LinkChecker, links interleaved by host (URLs/s)", rate, ""),
            ("cycle 1 / LinkChecker", summary["first_ratio"], f"≥ {TARGETS['first_ratio']}"),
            ("cycle 2 / LinkChecker", summary["second_ratio"], f"≥ {TARGETS['second_ratio']}"),
        ]
    shuffled = results.get("linkchecker_shuffled")
    if shuffled:
        summary["linkchecker_shuffled_urls_per_second"] = shuffled["urls_per_second"]
        rows.insert(
            3, ("LinkChecker, links in random order (URLs/s)", shuffled["urls_per_second"], "")
        )
    results["summary"] = summary
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"linkcheck-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
