#!/usr/bin/env python3
"""Throughput of the API against Datasette, serving the same SQLite file.

    python3 benchmarks/datasette/run.py [--measures 2000] [--runs 3] [--duration 15] ...

Steps, in order:

1. Make Datasette's own virtualenv, ``benchmarks/datasette/.venv``, with ``datasette`` from PyPI
   (``--datasette-version``), unless it is there already. Datasette is kept out of the project's
   dependencies: it is not the service's, only this benchmark runs it, and its own pins
   (uvicorn, Jinja, asgiref …) must not move the project's.
2. Generate one SQLite file with the API benchmark's generator (``benchmarks/api/dataset.py``,
   ``--measures``, 2,000 as there), migrated by the service, vacuumed and analysed.
3. Serve it with the API: gunicorn, ``--workers`` sync workers, the service's own settings on
   SQLite, debug off, anonymous throttling off (as ``benchmarks/api/run.py`` on PostgreSQL).
   Serve it with Datasette: the same number of worker processes, each a plain Datasette server
   (one asynchronous uvicorn process, as ``datasette serve`` runs) listening on the same port
   with ``SO_REUSEPORT`` (``serve.py`` says why not uvicorn's ``--workers``), the file opened
   immutable (``datasette -i``, how Datasette publishes a file that does not change), facet
   suggestions off.
4. Check that each pair answers the same 50 measures (same slugs, in order; the canned query's
   events are the nested page's, its positions include every current position) before anything
   is timed.
5. Warm up, then load every target with wrk on loopback: ``--runs`` runs of ``--duration``
   seconds per target, in slices of about ``--slice`` seconds in which the targets take turns,
   so other work on the machine hits all of them alike. Targets: the API's nested page and
   Datasette's canned query aggregating events and positions with ``json_group_array``; the
   API's light page (``fields=`` of the measure's own columns, which runs no events, positions or
   parties query) and Datasette's table JSON of 50 rows; and both API pages built afresh on every
   request (``Cache-Control: no-cache`` passes the cache of rendered pages,
   ``proposals/api/listcache.py``), for what building a page costs.
6. Print a table, write ``benchmarks/results/datasette-<UTC time>.json`` and remove the file
   (``--keep`` keeps its directory and says where).

Needs wrk on the ``PATH`` (Debian and Ubuntu: ``apt-get install wrk``) and PyPI reachable the
first time. It runs itself with the project's virtualenv, ``.venv`` (``python3 dev.py test``
creates it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sqlite3
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
from benchmarks.api.run import (
    _cpu_seconds,
    _processes,
    combine,
    get,
    machine,
    start_gunicorn,
    wrk,
)
from benchmarks.datasette import queries
from benchmarks.harness import (
    RESULTS,
    ROOT,
    free_port,
    in_project_venv,
    service_env,
    start_server,
    stop,
)

HERE = Path(__file__).resolve().parent
DATASETTE_VENV = HERE / ".venv"
DATASETTE_VERSION = "0.65.5"
RATIO_TARGET = 1.2  # API / Datasette, requests/s

# name: (server, path, request headers, label)
TARGETS: dict[str, tuple[str, str, dict[str, str] | None, str]] = {
    "api_nested": ("api", queries.API_NESTED, None, "API, nested page"),
    "datasette_canned": ("datasette", queries.DATASETTE_CANNED, None, "Datasette, canned query"),
    "api_light": ("api", queries.API_LIGHT, None, "API, light page (fields=)"),
    "datasette_table": ("datasette", queries.DATASETTE_TABLE, None, "Datasette, table JSON"),
    "api_nested_built": (
        "api",
        queries.API_NESTED,
        {"Cache-Control": "no-cache"},
        "API, nested, built afresh",
    ),
    "api_light_built": (
        "api",
        queries.API_LIGHT,
        {"Cache-Control": "no-cache"},
        "API, light, built afresh",
    ),
}
# (API target, Datasette target, whether the target ratio applies)
PAIRS = [
    ("api_nested", "datasette_canned", True),
    ("api_light", "datasette_table", True),
    ("api_nested_built", "datasette_canned", False),
    ("api_light_built", "datasette_table", False),
]


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/datasette/run.py",
        description="Requests/s of the API and of Datasette serving the same generated SQLite "
        "file, each with the same number of worker processes, loaded with wrk on loopback: the "
        "nested page of 50 measures against a canned query aggregating the same measures' "
        "events and positions as JSON, and the API's light page against Datasette's table JSON.",
    )
    add = parser.add_argument
    add("--measures", type=int, default=2000, help="measures to generate (default %(default)s)")
    add("--seed", type=int, default=1, help="seed of the generated dataset")
    add(
        "--workers",
        type=int,
        default=2,
        help="worker processes of each server: gunicorn sync workers, uvicorn workers "
        "(default %(default)s)",
    )
    add("--connections", type=int, default=4, help="wrk connections (default %(default)s)")
    add("--threads", type=int, default=2, help="wrk threads (default %(default)s)")
    add("--duration", type=int, default=15, help="seconds per timed run (default %(default)s)")
    add("--runs", type=int, default=3, help="rounds over the targets (default %(default)s)")
    add(
        "--slice",
        type=int,
        default=5,
        help="a run is cut into slices of about this many seconds, the targets taking turns "
        "(default %(default)s)",
    )
    add("--warmup", type=int, default=5, help="seconds of warm-up per target (default %(default)s)")
    add(
        "--datasette-version",
        default=DATASETTE_VERSION,
        help="the datasette release installed into benchmarks/datasette/.venv "
        "(default %(default)s)",
    )
    add("--keep", action="store_true", help="keep the SQLite file (its directory is printed)")
    args = parser.parse_args(argv)
    if min(args.duration, args.slice, args.warmup, args.runs, args.workers) < 1:
        parser.error("--duration, --slice, --warmup, --runs and --workers must be at least 1")
    if args.measures <= 50:
        parser.error("--measures must exceed one page (50)")
    args.threads = min(args.threads, args.connections)
    return args


# --- Datasette's virtualenv ---------------------------------------------------------------------


def datasette_python(version: str) -> Path:
    """The interpreter of Datasette's virtualenv, with ``datasette==version`` installed."""
    python = DATASETTE_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {DATASETTE_VENV.relative_to(ROOT)} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DATASETTE_VENV)], check=True)
    installed = subprocess.run(
        [str(python), "-c", "import datasette.version as v; print(v.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if installed != version:
        print(f"installing datasette=={version} into it …", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"datasette=={version}"], check=True
        )
    return python


# --- the file -----------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate and fill the SQLite file in this process; return the dataset's counts."""
    import django
    from django.core.management import call_command
    from django.db import connection, connections

    django.setup()
    from benchmarks.api.dataset import generate

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    started = time.perf_counter()
    counts = generate(measures=args.measures, seed=args.seed)
    with connection.cursor() as cursor:
        # Planner statistics, a compact file, and everything in the main file: Datasette opens
        # it immutable, which reads no write-ahead log.
        cursor.execute("VACUUM")
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.perf_counter() - started
    connections.close_all()
    return {"dataset": counts.as_dict(), "generated_in_s": round(seconds, 1)}


# --- the servers --------------------------------------------------------------------------------


def start_datasette(
    python: Path, port: int, workers: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    command = [str(python), str(HERE / "serve.py"), "--port", str(port)]
    command += ["--workers", str(workers)]
    return start_server(
        command,
        env=env,
        log=log,
        cwd=HERE,
        what="Datasette",
        ready=lambda _: get(port, "/-/versions.json")[0] == 200,
    )


class WorkerMeter:
    """CPU time of one server's worker processes, the children of the process started (Linux
    only). SQLite runs inside them, so this is all the CPU a request costs its server."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.available = Path("/proc/self/stat").exists()

    def read(self) -> dict[str, tuple[frozenset[int], float]]:
        if not self.available:
            return {}
        workers = {pid for pid, ppid in _processes() if ppid == self.master}
        return {"worker": (frozenset(workers), _cpu_seconds(workers))}


# --- the honesty check --------------------------------------------------------------------------


def check_responses(ports: dict[str, int]) -> dict[str, Any]:
    """Stop unless each pair answers the same 50 measures."""

    def fetch(name: str) -> Any:
        server, path, _, _ = TARGETS[name]
        status, _, body = get(ports[server], path)
        if status != 200:
            sys.exit(f"{path} answered {status}: {body[:300]!r}")
        return json.loads(body), len(body)

    (nested, nested_bytes), (light, light_bytes) = fetch("api_nested"), fetch("api_light")
    (canned, canned_bytes), (table, table_bytes) = (
        fetch("datasette_canned"),
        fetch("datasette_table"),
    )
    slugs = [item["slug"] for item in nested["results"]]
    if len(slugs) != 50:
        sys.exit(f"The API's page has {len(slugs)} measures, not 50.")
    canned_rows = [dict(zip(canned["columns"], row, strict=True)) for row in canned["rows"]]
    table_rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    for label, other in (
        ("the light page", [item["slug"] for item in light["results"]]),
        ("the canned query", [row["slug"] for row in canned_rows]),
        ("the table JSON", [row["slug"] for row in table_rows]),
    ):
        if other != slugs:
            sys.exit(f"The nested page and {label} hold different measures; nothing timed.")
    if any("events" in item or "status" in item for item in light["results"]):
        sys.exit("The light page carries events or a status: not the light representation.")
    events = positions = 0
    for item, row in zip(nested["results"], canned_rows, strict=True):
        canned_events = [event["id"] for event in json.loads(row["events"])]
        canned_positions = {position["id"] for position in json.loads(row["positions"])}
        if [event["id"] for event in item["events"]] != canned_events:
            sys.exit(f"{item['slug']}: the canned query's events are not the API's.")
        if not {p["id"] for p in item["current_positions"]} <= canned_positions:
            sys.exit(f"{item['slug']}: a current position is missing from the canned query.")
        events += len(canned_events)
        positions += len(canned_positions)
    if not events or not positions:
        sys.exit("The page has no events or no positions: not the intended data.")
    return {
        "same_measures": True,
        "events_on_page": events,
        "positions_on_page": positions,
        "body_bytes": {
            "api_nested": nested_bytes,
            "datasette_canned": canned_bytes,
            "api_light": light_bytes,
            "datasette_table": table_bytes,
        },
    }


# --- load ---------------------------------------------------------------------------------------


def load(
    args: argparse.Namespace, ports: dict[str, int], meters: dict[str, WorkerMeter]
) -> dict[str, list[dict[str, Any]]]:
    def one(name: str, seconds: int) -> dict[str, Any]:
        server, path, headers, _ = TARGETS[name]
        target = argparse.Namespace(**{**vars(args), "port": ports[server]})
        return wrk(target, path, seconds, headers, meter=meters[server])  # type: ignore[arg-type]

    for name, (_, _, _, label) in TARGETS.items():
        print(f"warm-up: {label}, {args.warmup} s", flush=True)
        one(name, args.warmup)
    count = max(1, round(args.duration / args.slice))
    length = args.duration / count
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
    for number in range(1, args.runs + 1):
        print(
            f"run {number}/{args.runs}: {count} x {length:g} s per target, interleaved",
            flush=True,
        )
        slices: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
        for _ in range(count):
            for name in TARGETS:
                slices[name].append(one(name, round(length)))
        for name, taken in slices.items():
            runs[name].append(combine(taken))
    return runs


# --- report -------------------------------------------------------------------------------------


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the runs; a ratio is the median of the runs' own ratios (within a run the
    targets took turns, so they saw the same machine)."""

    def median(name: str, key: str) -> float | None:
        values = [r[key] for r in runs[name] if key in r]
        return round(statistics.median(values), 2) if values else None

    ratios = {}
    for top, bottom, targeted in PAIRS:
        per_run = [
            round(a["requests_per_s"] / b["requests_per_s"], 3)
            for a, b in zip(runs[top], runs[bottom], strict=True)
        ]
        cpu_top = median(top, "worker_cpu_ms_per_request")
        cpu_bottom = median(bottom, "worker_cpu_ms_per_request")
        ratio = statistics.median(per_run)
        ratios[f"{top}/{bottom}"] = {
            "ratio": round(ratio, 3),
            "per_run": per_run,
            "by_cpu": round(cpu_bottom / cpu_top, 3) if cpu_top and cpu_bottom else None,
            "target": RATIO_TARGET if targeted else None,
            "met": ratio >= RATIO_TARGET if targeted else None,
        }
    return {
        "median_requests_per_s": {name: median(name, "requests_per_s") for name in runs},
        "median_cpu_ms_per_request": {
            name: median(name, "worker_cpu_ms_per_request") for name in runs
        },
        "ratios": ratios,
    }


def table(
    args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], summary: dict[str, Any]
) -> str:
    head = [f"run {n}" for n in range(1, args.runs + 1)]
    head += ["median", "p50 ms", "p99 ms", "CPU ms", "bytes"]
    lines = [f"{'requests/s':<30}" + "".join(f"{h:>9}" for h in head)]
    for name, (_, _, _, label) in TARGETS.items():
        rs = runs[name]
        cells = [f"{r['requests_per_s']:.1f}" for r in rs]
        cells.append(f"{summary['median_requests_per_s'][name]:.1f}")
        for key in ("p50_ms", "p99_ms"):
            cells.append(f"{statistics.median(r.get(key, 0.0) for r in rs):.1f}")
        cpu = summary["median_cpu_ms_per_request"][name]
        cells.append("n/a" if cpu is None else f"{cpu:.2f}")
        cells.append(str(rs[-1]["bytes_per_request"]))
        lines.append(f"{label:<30}" + "".join(f"{c:>9}" for c in cells))
    lines += ["", "CPU ms: CPU of the server's worker processes per request (SQLite included)."]
    met = {True: "met", False: "NOT met", None: "no target"}
    for top, bottom, _ in PAIRS:
        r = summary["ratios"][f"{top}/{bottom}"]
        per_run = ", ".join(f"{x:.2f}" for x in r["per_run"])
        by_cpu = "n/a" if r["by_cpu"] is None else f"{r['by_cpu']:.2f}"
        target = f"target >= {r['target']}: " if r["target"] else ""
        lines.append(
            f"{TARGETS[top][3]} / {TARGETS[bottom][3]}: {r['ratio']:.2f} in requests/s "
            f"(runs: {per_run}; {target}{met[r['met']]}); {by_cpu} in CPU per request"
        )
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    args = options(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian and Ubuntu: apt-get install wrk).")
    python = datasette_python(args.datasette_version)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    ports = {"api": free_port(), "datasette": free_port()}
    var = tempfile.mkdtemp(prefix="tracker-datasette-")
    (Path(var) / "static").mkdir()
    file = Path(var) / queries.FILE_NAME
    metadata = Path(var) / "metadata.json"
    metadata.write_text(json.dumps(queries.metadata(), indent=2))
    env = service_env(
        f"sqlite:///{file}",
        var,
        BENCH_DATASETTE_FILE=str(file),
        BENCH_DATASETTE_METADATA=str(metadata),
    )
    os.environ.update(env)
    print(f"generating {file.name} with {args.measures} measures …", flush=True)
    facts = prepare(args)
    print(f"dataset: {facts['dataset']} ({facts['generated_in_s']} s)", flush=True)
    servers: dict[str, subprocess.Popen[bytes]] = {}
    logs = {side: RESULTS / f"datasette-{stamp}.{side}.log" for side in ("api", "datasette")}
    try:
        gunicorn_args = argparse.Namespace(workers=args.workers, port=ports["api"])
        servers["api"] = start_gunicorn(gunicorn_args, env, logs["api"])
        servers["datasette"] = start_datasette(
            python, ports["datasette"], args.workers, env, logs["datasette"]
        )
        check = check_responses(ports)
        print(f"same 50 measures on both sides: {check}", flush=True)
        load_before = os.getloadavg()
        meters = {side: WorkerMeter(process.pid) for side, process in servers.items()}
        runs = load(args, ports, meters)
        load_after = os.getloadavg()
    finally:
        for process in servers.values():
            stop(process)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)

    summary = summarize(runs)
    report = table(args, runs, summary)
    result = {
        "benchmark": "the API against Datasette on the same SQLite file",
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "machine": {
            **machine(),
            "sqlite": sqlite3.sqlite_version,
            "datasette": args.datasette_version,
        },
        # Other work on the machine skews the figures: the 1, 5 and 15 minute load averages.
        "load_average": {"before": load_before, "after": load_after},
        "options": vars(args),
        "dataset": facts["dataset"],
        "targets": {
            name: {"path": path, "headers": headers}
            for name, (_, path, headers, _) in TARGETS.items()
        },
        "response": check,
        "runs": runs,
        "summary": summary,
    }
    out = RESULTS / f"datasette-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for log in logs.values():
        if log.exists() and log.stat().st_size == 0:
            log.unlink()
    print()
    print(
        f"{args.measures} measures in one SQLite file ({sqlite3.sqlite_version}); API: gunicorn "
        f"{args.workers} sync workers; Datasette {args.datasette_version}: uvicorn {args.workers} "
        f"workers; wrk {args.connections} connections; {args.runs} runs of {args.duration} s per "
        f"target in slices of about {args.slice} s"
    )
    print(report)
    print(f"\nwritten: {out.relative_to(ROOT)}")
    if args.keep:
        print(f"kept: {var}")


if __name__ == "__main__":
    in_project_venv(__file__)
    main(sys.argv[1:])
