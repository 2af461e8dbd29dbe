#!/usr/bin/env python3
"""Throughput of ``GET /api/v1/measures/`` against a hand-written view returning the same JSON.

    python3 benchmarks/api/run.py [--measures 2000] [--runs 3] [--duration 15] ...

Steps, in order:

1. (Re)create a PostgreSQL database (``--database``, default ``tracker_bench``) on ``--server``,
   migrate it, fill it with the generated dataset (``dataset.py``) and recompute statuses once.
2. Start gunicorn (``--workers`` sync workers on 127.0.0.1, debug off, anonymous throttling off)
   with ``benchmarks.api.settings``: the service's settings, with the baseline view
   (``baseline.py``) routed beside the real API, so both pass through the same middleware.
3. Check that the API's first page and the baseline answer the same bytes, and that
   ``If-None-Match`` with the API's ``ETag`` answers 304 without a body. Any difference stops the
   run before anything is timed.
4. Warm up, then load each target with wrk on loopback: ``--runs`` runs of ``--duration``
   seconds per target, each cut into slices of about ``--slice`` seconds in which the three
   targets take turns, so that other work on the machine hits all of them alike: the API
   (200), the baseline (200), the API with ``If-None-Match`` (304).
5. Print a table, write ``benchmarks/results/api-list-<UTC time>.json``, stop gunicorn and drop
   the database (``--keep-database`` keeps it).

Needs a PostgreSQL server on which the role in ``--server`` may create databases (default: the
``TRACKER_BENCH_POSTGRES`` environment variable, else
``postgres://postgres@127.0.0.1:5432/postgres``) and wrk on the ``PATH`` (Debian and Ubuntu:
``apt-get install wrk``). It runs itself with the project's virtualenv, ``.venv``
(``python3 dev.py test`` creates it).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the project's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import (
    RESULTS,
    ROOT,
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

API_PATH = "/api/v1/measures/"
BASELINE_PATH = "/baseline/measures/"  # benchmarks.api.urls
TARGETS = {
    "api": "API, full response (200)",
    "baseline": "hand-written view (200)",
    "api_304": "API, If-None-Match (304)",
}
RATIO_TARGET = 0.8  # API / hand-written view
NOT_MODIFIED_TARGET = 3.0  # 304 / full response


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/api/run.py",
        description="Requests/s of GET /api/v1/measures/ (a page of 50 with nested events and "
        "positions) and of a hand-written view returning the same JSON, both under gunicorn, "
        "loaded with wrk on loopback; and of the API's 304 path.",
    )
    add = parser.add_argument
    add_database_options(parser, database="tracker_bench")
    add("--measures", type=int, default=2000, help="measures to generate (default %(default)s)")
    add("--seed", type=int, default=1, help="seed of the generated dataset")
    add("--workers", type=int, default=2, help="gunicorn sync workers (default %(default)s)")
    add("--connections", type=int, default=4, help="wrk connections (default %(default)s)")
    add("--threads", type=int, default=2, help="wrk threads (default %(default)s)")
    add("--duration", type=int, default=15, help="seconds per timed run (default %(default)s)")
    add("--runs", type=int, default=3, help="rounds over the three targets (default %(default)s)")
    add(
        "--slice",
        type=int,
        default=5,
        help="a run is cut into slices of about this many seconds, the targets taking turns, "
        "so that other work on the machine hits all of them alike (default %(default)s)",
    )
    add("--warmup", type=int, default=5, help="seconds of warm-up per target (default %(default)s)")
    add("--port", type=int, default=0, help="port for gunicorn (default: a free one)")
    args = parser.parse_args(argv)
    check_database_option(parser, args)
    if min(args.duration, args.slice, args.warmup, args.runs) < 1:
        parser.error("--duration, --slice, --warmup and --runs must be at least 1")
    if args.measures <= 50:
        parser.error("--measures must exceed one page (50)")
    args.threads = min(args.threads, args.connections)
    return args


# --- the database -------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate and fill the database in this process; return the dataset and server facts."""
    import django
    from django.core.management import call_command
    from django.db import connection, connections

    django.setup()
    from benchmarks.api.dataset import generate, vacuum

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    started = time.perf_counter()
    counts = generate(measures=args.measures, seed=args.seed)
    vacuum()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    queries = queries_per_request()
    connections.close_all()
    return {
        "dataset": counts.as_dict(),
        "generated_in_s": round(seconds, 1),
        "postgres": postgres,
        "queries": queries,
    }


def queries_per_request() -> dict[str, int]:
    """SQL queries each target runs for one request (in process, through the same URLconf)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts = {}
    for name, path in (("api", API_PATH), ("baseline", BASELINE_PATH)):
        client.get(path)  # the first request of a process loads the URLconf and the schema hooks
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        counts[name] = len(captured.captured_queries)
    return counts


# --- the server -------------------------------------------------------------------------------


def start_gunicorn(
    args: argparse.Namespace, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    command = gunicorn_command(args.port, args.workers, "--worker-class", "sync")
    command += ["--log-level", "warning"]
    return start_server(
        command, env=env, log=log, ready=lambda _: get(args.port, "/health/")[0] == 200
    )


class CPUMeter:
    """CPU time used by the gunicorn workers and by their database backends (Linux; elsewhere
    nothing is read). Unlike requests/s, CPU per request hardly moves when other work runs on
    the machine, so it backs the throughput figures up."""

    def __init__(self, master: int, database: str) -> None:
        import psycopg

        self.master = master
        self.conn = psycopg.connect(database, autocommit=True)
        self.available = Path("/proc/self/stat").exists()

    def close(self) -> None:
        self.conn.close()

    def read(self) -> dict[str, tuple[frozenset[int], float]]:
        if not self.available:
            return {}
        workers = {pid for pid, ppid in _processes() if ppid == self.master}
        backends = {
            int(pid)
            for (pid,) in self.conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        }
        return {
            "worker": (frozenset(workers), _cpu_seconds(workers)),
            "database": (frozenset(backends), _cpu_seconds(backends)),
        }

    @staticmethod
    def spent(
        before: dict[str, tuple[frozenset[int], float]],
        after: dict[str, tuple[frozenset[int], float]],
    ) -> dict[str, float]:
        """CPU seconds of each side whose processes stayed the same in between."""
        return {
            side: after[side][1] - seconds
            for side, (pids, seconds) in before.items()
            if pids and after[side][0] == pids
        }


def _processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found.append((int(stat.parent.name), int(fields[1])))
    return found


def _cpu_seconds(pids: set[int]) -> float:
    ticks = 0
    for pid in pids:
        # After the parenthesised command: state, ppid, … utime (the 12th), stime (the 13th).
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --- the honesty check --------------------------------------------------------------------------


def first_difference(a: Any, b: Any, where: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            if found := first_difference(a[key], b[key], f"{where}.{key}"):
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if found := first_difference(x, y, f"{where}[{index}]"):
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def check_responses(port: int, measures: int) -> dict[str, Any]:
    """Stop unless both targets answer the same JSON and the API's 304 path works."""
    status, headers, api = get(port, API_PATH)
    if status != 200:
        sys.exit(f"{API_PATH} answered {status}: {api[:300]!r}")
    status, _, baseline = get(port, BASELINE_PATH)
    if status != 200:
        sys.exit(f"{BASELINE_PATH} answered {status}: {baseline[:300]!r}")
    if api != baseline:
        difference = first_difference(json.loads(api), json.loads(baseline))
        sys.exit(f"The two responses differ ({difference or 'in bytes only'}); nothing timed.")
    page = json.loads(api)
    events = [e for item in page["results"] for e in item["events"]]
    positions = [p for item in page["results"] for p in item["current_positions"]]
    if page["count"] not in (measures, None) or len(page["results"]) != 50:
        sys.exit(f"Expected a page of 50 of {measures} measures, got {len(page['results'])}")
    if not events or not positions or not any(e["actor"] for e in events):
        sys.exit("The page has no events with actors or no positions: not the intended data.")
    etag = headers["ETag"]
    status, _, body = get(port, API_PATH, {"If-None-Match": etag})
    if status != 304 or body:
        sys.exit(f"If-None-Match: {etag} answered {status} with {len(body)} bytes, not 304.")
    return {
        "identical_bytes": True,
        "body_bytes": len(api),
        "events_on_page": len(events),
        "events_with_actor_on_page": sum(1 for e in events if e["actor"]),
        "current_positions_on_page": len(positions),
        "etag": etag,
    }


# --- load -------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk(
    args: argparse.Namespace,
    path: str,
    seconds: int,
    headers: dict[str, str] | None = None,
    *,
    meter: CPUMeter,
) -> dict[str, Any]:
    """One wrk run: requests, seconds, bytes, latency percentiles and server CPU seconds."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{args.port}{path}")
    cpu_before = meter.read()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = meter.read()
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", output)
    if not done:
        sys.exit(f"Could not read wrk's output:\n{output}")
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        sys.exit(f"wrk saw failed requests on {path}; nothing is reported:\n{output}")
    latency = {
        f"p{q}_ms": float(v) * _UNITS[unit]
        for q, v, unit in re.findall(r"(50|90|99)%\s+([\d.]+)(us|ms|s|m|h)\b", output)
    }
    return {
        "requests": int(done.group(1)),
        "seconds": float(done.group(2)) * _UNITS[done.group(3)] / 1000,
        "bytes": float(done.group(4)) * _SIZES[done.group(5)],
        "cpu_seconds": CPUMeter.spent(cpu_before, cpu_after),
        **latency,
    }


def combine(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One run of a target from its slices: totals, and the slices' median percentiles."""
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["seconds"] for s in slices)
    run: dict[str, Any] = {
        "requests_per_s": round(requests / seconds, 1),
        "requests": requests,
        "seconds": round(seconds, 2),
        "bytes_per_request": round(sum(s["bytes"] for s in slices) / max(requests, 1)),
    }
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        if all(key in s for s in slices):
            run[key] = round(statistics.median(s[key] for s in slices), 2)
    for side in ("worker", "database"):
        if requests and all(side in s["cpu_seconds"] for s in slices):
            spent = sum(s["cpu_seconds"][side] for s in slices)
            run[f"{side}_cpu_ms_per_request"] = round(spent * 1000 / requests, 2)
    return run


def load(
    args: argparse.Namespace, etag: str, body_bytes: int, meter: CPUMeter
) -> dict[str, list[dict[str, Any]]]:
    plans = {
        "api": (API_PATH, None),
        "baseline": (BASELINE_PATH, None),
        "api_304": (API_PATH, {"If-None-Match": etag}),
    }
    for name, (path, headers) in plans.items():
        print(f"warm-up: {TARGETS[name]}, {args.warmup} s", flush=True)
        wrk(args, path, args.warmup, headers, meter=meter)
    count = max(1, round(args.duration / args.slice))
    length = args.duration / count
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in plans}
    for number in range(1, args.runs + 1):
        print(
            f"run {number}/{args.runs}: {count} x {length:g} s per target, interleaved",
            flush=True,
        )
        slices: dict[str, list[dict[str, Any]]] = {name: [] for name in plans}
        for _ in range(count):
            for name, (path, headers) in plans.items():
                slices[name].append(wrk(args, path, round(length), headers, meter=meter))
        for name, taken in slices.items():
            run = combine(taken)
            # wrk counts a 200 as a success on the 304 run too: the bytes tell them apart.
            if (run["bytes_per_request"] >= body_bytes) == (name == "api_304"):
                sys.exit(f"{TARGETS[name]}: {run['bytes_per_request']} bytes per response.")
            runs[name].append(run)
    return runs


# --- report -----------------------------------------------------------------------------------


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the runs. A ratio is the median of the runs' own ratios: within a run the
    targets took turns, so they saw the same machine."""

    def median(name: str, key: str) -> float | None:
        values = [r[key] for r in runs[name] if key in r]
        return round(statistics.median(values), 2) if values else None

    def ratios(top: str, bottom: str) -> list[float]:
        return [
            round(a["requests_per_s"] / b["requests_per_s"], 3)
            for a, b in zip(runs[top], runs[bottom], strict=True)
        ]

    cpu = {
        name: {side: median(name, f"{side}_cpu_ms_per_request") for side in ("worker", "database")}
        for name in runs
    }
    total = {
        name: sides["worker"] + sides["database"]
        for name, sides in cpu.items()
        if sides["worker"] is not None and sides["database"] is not None
    }
    per_run = ratios("api", "baseline")
    not_modified = ratios("api_304", "api")
    ratio, not_modified_ratio = statistics.median(per_run), statistics.median(not_modified)
    return {
        "median_requests_per_s": {name: median(name, "requests_per_s") for name in runs},
        "median_cpu_ms_per_request": cpu,
        "api_over_baseline": round(ratio, 3),
        "api_over_baseline_per_run": per_run,
        "api_over_baseline_by_cpu": (
            round(total["baseline"] / total["api"], 3)
            if "api" in total and "baseline" in total
            else None
        ),
        "api_over_baseline_target": RATIO_TARGET,
        "api_over_baseline_met": ratio >= RATIO_TARGET,
        "not_modified_over_full": round(not_modified_ratio, 2),
        "not_modified_over_full_per_run": not_modified,
        "not_modified_over_full_target": NOT_MODIFIED_TARGET,
        "not_modified_over_full_met": not_modified_ratio >= NOT_MODIFIED_TARGET,
    }


def table(
    args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], summary: dict[str, Any]
) -> str:
    head = [f"run {n}" for n in range(1, args.runs + 1)]
    head += ["median", "p50 ms", "p99 ms", "web CPU", "db CPU"]
    lines = [f"{'requests/s':<28}" + "".join(f"{h:>9}" for h in head)]
    for name, label in TARGETS.items():
        rs = runs[name]
        cells = [f"{r['requests_per_s']:.1f}" for r in rs]
        cells.append(f"{summary['median_requests_per_s'][name]:.1f}")
        for key in ("p50_ms", "p99_ms"):
            cells.append(f"{statistics.median(r.get(key, 0.0) for r in rs):.1f}")
        for value in summary["median_cpu_ms_per_request"][name].values():
            cells.append("n/a" if value is None else f"{value:.1f}")
        lines.append(f"{label:<28}" + "".join(f"{c:>9}" for c in cells))
    met = {True: "met", False: "NOT met"}
    per_run = ", ".join(f"{r:.2f}" for r in summary["api_over_baseline_per_run"])
    by_cpu = summary["api_over_baseline_by_cpu"]
    lines += [
        "",
        "web CPU, db CPU: ms of CPU per request in the gunicorn workers and their PostgreSQL "
        "backends.",
        f"API / hand-written view: {summary['api_over_baseline']:.2f} in requests/s, median of "
        f"the runs ({per_run}; target >= {RATIO_TARGET}: "
        f"{met[summary['api_over_baseline_met']]});",
        f"                         {'n/a' if by_cpu is None else f'{by_cpu:.2f}'} "
        "in CPU per request (web + db).",
        f"304 / full response:     {summary['not_modified_over_full']:.2f} in requests/s, median "
        f"of the runs (target >= {NOT_MODIFIED_TARGET:g}: "
        f"{met[summary['not_modified_over_full_met']]}).",
    ]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    wrk_banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 1024**3, 1),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "django": version("django"),
        "djangorestframework": version("djangorestframework"),
        "gunicorn": version("gunicorn"),
        "wrk": " ".join(wrk_banner.split()[:2]),
    }


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    args = options(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian and Ubuntu: apt-get install wrk).")
    args.port = args.port or free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS / f"api-list-{stamp}.gunicorn.log"

    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as var:
        (Path(var) / "static").mkdir()
        env = service_env(
            database_url(args.server, args.database),
            var,
            DJANGO_SETTINGS_MODULE="benchmarks.api.settings",
            # Each worker keeps its database connection for the whole run, so that the CPU of
            # its backend can be attributed (the default, 60 s, reconnects once a minute).
            DATABASE_CONN_MAX_AGE="3600",
            # The page is built on every request, as the hand-written view builds it, not
            # answered from the cache of rendered list pages.
            TRACKER_API_LIST_CACHE_MB="0",
        )
        os.environ.update(env)
        print(f"creating {args.database} with {args.measures} measures …", flush=True)
        recreate_database(args.server, args.database)
        gunicorn = None
        try:
            facts = prepare(args)
            print(f"dataset: {facts['dataset']} ({facts['generated_in_s']} s)", flush=True)
            gunicorn = start_gunicorn(args, env, log)
            check = check_responses(args.port, args.measures)
            print(
                f"responses identical ({check['body_bytes']} bytes); 304 path answers; "
                f"queries per request: {facts['queries']}",
                flush=True,
            )
            load_before = os.getloadavg()
            meter = CPUMeter(gunicorn.pid, env["DATABASE_URL"])
            try:
                runs = load(args, check["etag"], check["body_bytes"], meter)
            finally:
                meter.close()
            load_after = os.getloadavg()
        finally:
            if gunicorn is not None:
                stop(gunicorn)
            if not args.keep_database:
                recreate_database(args.server, args.database, drop_only=True)

    summary = summarize(runs)
    report = table(args, runs, summary)
    result = {
        "benchmark": "GET /api/v1/measures/ (first page of 50) vs a hand-written view",
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "machine": {**machine(), "postgresql": facts["postgres"]},
        # Other work on the machine skews the figures: the 1, 5 and 15 minute load averages.
        "load_average": {"before": load_before, "after": load_after},
        "options": {
            key: value for key, value in vars(args).items() if key not in ("server", "port")
        },
        "dataset": facts["dataset"],
        "generated_in_s": facts["generated_in_s"],
        "queries_per_request": facts["queries"],
        "response": check,
        "runs": runs,
        "summary": summary,
    }
    out = RESULTS / f"api-list-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    print()
    print(
        f"GET {API_PATH}: page of 50 of {args.measures} measures; gunicorn {args.workers} sync "
        f"workers; wrk {args.connections} connections; {args.runs} runs of {args.duration} s per "
        f"target in slices of about {args.slice} s"
    )
    print(report)
    print(f"\nwritten: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    in_project_venv(__file__)
    main(sys.argv[1:])
