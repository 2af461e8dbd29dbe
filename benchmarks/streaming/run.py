#!/usr/bin/env python3
"""The whole export and the whole matrix, downloaded from gunicorn: time, bytes, peak RSS.

    python3 benchmarks/streaming/run.py [--measures 100000]              # builds its dataset
    python3 benchmarks/streaming/run.py --existing streaming_100k          # a database you have

Steps, in order:

1. The database: by default (re)create ``--database`` on ``--server``, migrate it and fill it
   with the API benchmark's generated dataset (``benchmarks/api/dataset.py``, ``--measures``
   measures; about 10 minutes for 100,000). With ``--existing NAME`` use that database as it is
   (migrated first, never dropped), e.g. a copy of one built before.
2. Start gunicorn with the service's own ``config/gunicorn.py`` (sync workers, the heartbeat
   hook) and ``--timeout`` seconds of worker timeout (default 30), debug off, anonymous
   throttling off, on 127.0.0.1.
3. Download, one at a time, each to the end: the JSON export, each CSV table of the export and
   the matrix CSV; for each, the time to the last byte, the bytes, and the **peak RSS of the
   worker that served it** (the kernel's high-water mark, ``VmHWM``, reset through
   ``/proc/<pid>/clear_refs`` before each download; where that cannot be reset, the largest
   of samples taken every 20 ms). A download that does not end with 200 and its whole body
   (the JSON's closing brace) stops the run.
4. Time ``--pages`` requests of a JSON page of the matrix (50 measures, the default page size):
   the first page and a page in the middle of the grid; report the median.
5. Print a table and write ``benchmarks/results/streaming-<UTC time>.json``; stop gunicorn and
   drop the database unless it was ``--existing`` or ``--keep-database`` is given.

Linux only (``/proc``). Runs itself with the project's ``.venv`` (``python3 dev.py test``
creates it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the project's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import (
    RESULTS,
    add_database_options,
    check_database_option,
    database_url,
    free_port,
    gunicorn_command,
    in_project_venv,
    recreate_database,
    service_env,
    start_server,
    stop,
)

TABLES = ("actors", "sources", "measures", "events", "positions", "citations")


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Download the whole export (JSON, each CSV table) and the whole matrix CSV "
        "from gunicorn; report time, bytes and the serving worker's peak RSS, and the median "
        "time of a JSON page of the matrix.",
    )
    add = parser.add_argument
    add_database_options(parser, database="tracker_bench_streaming")
    add("--existing", metavar="NAME", help="use this database as it is (never dropped)")
    add("--measures", type=int, default=100_000, help="measures to generate (%(default)s)")
    add("--seed", type=int, default=1, help="dataset seed (default %(default)s)")
    add("--workers", type=int, default=2, help="gunicorn sync workers (default %(default)s)")
    add("--timeout", type=int, default=30, help="gunicorn worker timeout, s (%(default)s)")
    add("--pages", type=int, default=50, help="matrix page requests per page timed (%(default)s)")
    add("--port", type=int, default=0, help="port for gunicorn (default: a free one)")
    args = parser.parse_args(argv)
    if not args.existing:
        check_database_option(parser, args)
    return args


# --- the database -------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate (and unless ``--existing``, fill) the database; return what it holds."""
    import django
    from django.core.management import call_command
    from django.db import connection, connections

    django.setup()
    from benchmarks.api.dataset import generate, vacuum
    from proposals.models import Actor, Citation, Event, Measure, Position

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    generated_in = None
    if not args.existing:
        started = time.perf_counter()
        generate(measures=args.measures, seed=args.seed)
        vacuum()
        generated_in = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    counts = {
        str(model._meta.verbose_name_plural): model._default_manager.count()
        for model in (Measure, Event, Position, Citation, Actor)
    }
    connections.close_all()
    return {"dataset": counts, "generated_in_s": generated_in, "postgres": postgres}


# --- the server ---------------------------------------------------------------------------------


def start_gunicorn(
    args: argparse.Namespace, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    command = gunicorn_command(
        args.port, args.workers, "-c", "config/gunicorn.py", "--timeout", str(args.timeout)
    )

    def ready(process: subprocess.Popen[bytes]) -> bool:
        up = request(args.port, "/health/live/")["status"] == 200
        return up and len(workers(process.pid)) == args.workers

    return start_server(command, env=env, log=log, ready=ready)


def workers(master: int) -> list[int]:
    """The gunicorn workers: the master's child processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            found.append(int(entry.name))
    return sorted(found)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakRSS:
    """The peak resident memory of each worker during a download: ``VmHWM`` reset before it
    (``clear_refs`` 5, Linux 4.0+, needs the right to write it), else sampled every 20 ms."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.sampled = dict.fromkeys(pids, 0)
        self.high_water = True
        for pid in pids:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                self.high_water = False
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            for pid in self.pids:
                with contextlib.suppress(OSError, KeyError):
                    self.sampled[pid] = max(self.sampled[pid], status_kib(pid, "VmRSS"))
            time.sleep(0.02)

    def stop(self) -> dict[int, int]:
        """KiB per worker pid."""
        self.running = False
        self.thread.join()
        if self.high_water:
            return {pid: status_kib(pid, "VmHWM") for pid in self.pids}
        return self.sampled


# --- the downloads ------------------------------------------------------------------------------


def request(port: int, path: str, *, keep: bool = False) -> dict[str, Any]:
    """GET ``path`` to its last byte: status, bytes, seconds, the body's last bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        size, tail = 0, b""
        kept = []
        while chunk := response.read(1 << 16):
            size += len(chunk)
            tail = (tail + chunk)[-16:]
            if keep:
                kept.append(chunk)
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    return {
        "status": response.status,
        "bytes": size,
        "seconds": seconds,
        "tail": tail,
        "body": b"".join(kept) if keep else None,
    }


def download(port: int, path: str, pids: list[int], *, ends: bytes) -> dict[str, Any]:
    meter = PeakRSS(pids)
    try:
        got = request(port, path)
    finally:
        peaks = meter.stop()
    if got["status"] != 200 or not got["tail"].endswith(ends):
        sys.exit(f"{path}: status {got['status']}, {got['bytes']} bytes, ending {got['tail']!r}")
    before = min(peaks.values())
    return {
        "path": path,
        "seconds": round(got["seconds"], 2),
        "bytes": got["bytes"],
        "peak_rss_mib": round(max(peaks.values()) / 1024, 1),
        # The idle worker's peak: what a worker holds without a download.
        "idle_worker_rss_mib": round(before / 1024, 1),
        "rss_method": "VmHWM" if meter.high_water else "sampled VmRSS",
    }


def page_times(port: int, path: str, count: int) -> dict[str, Any]:
    request(port, path)  # warm
    times = []
    for _ in range(count):
        got = request(port, path)
        if got["status"] != 200:
            sys.exit(f"{path}: status {got['status']}")
        times.append(got["seconds"] * 1000)
    return {
        "path": path,
        "p50_ms": round(statistics.median(times), 1),
        "bytes": got["bytes"],
        "requests": count,
    }


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 1024**3, 1),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "django": version("django"),
        "gunicorn": version("gunicorn"),
    }


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    args = options(argv)
    args.port = args.port or free_port()
    name = args.existing or args.database
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS / f"streaming-{stamp}.gunicorn.log"

    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as var:
        (Path(var) / "static").mkdir()
        env = service_env(database_url(args.server, name), var)
        os.environ.update(env)
        if not args.existing:
            print(f"creating {name} with {args.measures} measures …", flush=True)
            recreate_database(args.server, name)
        gunicorn = None
        try:
            facts = prepare(args)
            print(f"dataset: {facts['dataset']}", flush=True)
            gunicorn = start_gunicorn(args, env, log)
            pids = workers(gunicorn.pid)
            downloads = []
            targets = [("/api/v1/export/", b"\n}")]
            targets += [(f"/api/v1/export/?format=csv&table={t}", b"\n") for t in TABLES]
            targets.append(("/api/v1/matrix/?format=csv", b"\n"))
            for path, ends in targets:
                print(f"GET {path} …", flush=True)
                downloads.append(download(args.port, path, pids, ends=ends))
                print(f"  {downloads[-1]}", flush=True)
            first = json.loads(request(args.port, "/api/v1/matrix/", keep=True)["body"])
            middle = max(1, first["count_at_least"] // 50 // 2)
            pages = [
                page_times(args.port, "/api/v1/matrix/", args.pages),
                page_times(args.port, f"/api/v1/matrix/?page={middle}", args.pages),
                page_times(args.port, "/api/v1/matrix/?cursor=", args.pages),
            ]
            for page in pages:
                print(f"  {page}", flush=True)
            killed = "WORKER TIMEOUT" in log.read_text()
        finally:
            if gunicorn is not None:
                stop(gunicorn)
            if not args.existing and not args.keep_database:
                recreate_database(args.server, name, drop_only=True)

    result = {
        "benchmark": "whole export and matrix, streamed from gunicorn",
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "machine": {**machine(), "postgresql": facts["postgres"]},
        "load_average_after": os.getloadavg(),
        "options": {k: v for k, v in vars(args).items() if k not in ("server", "port")},
        "dataset": facts["dataset"],
        "generated_in_s": facts["generated_in_s"],
        "worker_timeout_s": args.timeout,
        "worker_killed_by_timeout": killed,
        "downloads": downloads,
        "matrix_pages": pages,
    }
    out = RESULTS / f"streaming-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print()
    print(f"{'download':<44} {'seconds':>8} {'MB':>8} {'peak RSS MiB':>13}")
    for row in downloads:
        print(
            f"{row['path']:<44} {row['seconds']:>8} {row['bytes'] / 1e6:>8.1f} "
            f"{row['peak_rss_mib']:>13}"
        )
    for page in pages:
        print(f"{page['path']:<44} p50 {page['p50_ms']} ms ({page['bytes']} bytes)")
    print(f"worker killed by the {args.timeout} s timeout: {'yes' if killed else 'no'}")
    print(f"written to {out}")


if __name__ == "__main__":
    in_project_venv(__file__)
    main(sys.argv[1:])
