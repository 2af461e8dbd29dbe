#!/usr/bin/env python3
"""How each API request's cost grows with the data: the same requests timed at two dataset sizes.

    python3 benchmarks/growth/run.py [--measures-small 1000] [--measures-large 100000]
    python3 benchmarks/growth/run.py --database growth_1k --database growth_100k   # reuse

Steps, in order:

1. Two PostgreSQL databases, one per size. By default the script creates
   ``growth_bench_<measures>`` for ``--measures-small`` and ``--measures-large``
   measures, migrates them, fills them with the API benchmark's generator
   (``benchmarks/api/dataset.py``) and vacuums them, and drops them at the end
   (``--keep-database`` keeps them). ``--database NAME``, given once per size, reuses databases
   filled earlier the same way (e.g. kept by a previous run): they are only migrated, never
   dropped, and their size is read from them.
2. For each database, in a process of its own: the concrete requests (a deep cursor, the last
   page, measures spread over the table for the detail) and the SQL queries each request runs,
   counted in process through the same URLconf.
3. One gunicorn per database (``--workers`` sync workers each on 127.0.0.1, debug off,
   anonymous throttling off, the service's own settings), both running at once.
4. A sequential client on loopback: ``--warmup`` requests of each kind, then ``--requests``
   timed rounds in which every request of the table is sent once to each size in turn, so
   other work on the machine hits both sizes alike. Requests that build the whole dataset (the
   matrix and the export) get ``--heavy-requests`` rounds. A request answering anything but 200
   is reported with its status, not its time.
5. Print each request's p50 at both sizes and the growth ratio (large / small), write
   ``benchmarks/results/growth-<UTC time>.json``, stop gunicorn, drop the databases the script
   created.

Needs a PostgreSQL server on which the role in ``--server`` may create databases (default: the
``TRACKER_BENCH_POSTGRES`` environment variable, else
``postgres://postgres@127.0.0.1:5432/postgres``). It runs itself with the project's virtualenv,
``.venv`` (``python3 dev.py test`` creates it).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

if __package__ in (None, ""):
    # Run as a script: make the project's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import (
    DEFAULT_SERVER,
    RESULTS,
    ROOT,
    VENV,
    database_url,
    free_port,
    gunicorn_command,
    in_project_venv,
    recreate_database,
    service_env,
    start_server,
    stop,
)

API = "/api/v1"
AS_OF = "2019-01-01"
DETAIL_SPREAD = 10  # the detail request rotates over this many measures, spread over the table
GROWTH_TARGET = 2.0  # paged and single-object requests: large / small, p50

# name: (what it is, path with {placeholders}, paged or single-object, heavy)
REQUESTS: dict[str, tuple[str, str, bool, bool]] = {
    "list": ("`/measures/` page 1", "/measures/", True, False),
    "as_of": (f"`/measures/?as_of={AS_OF}`", f"/measures/?as_of={AS_OF}", True, False),
    "cursor": ("`/measures/?cursor=…` deep", "/measures/?cursor={cursor}", True, False),
    "detail": ("`/measures/{slug}/` (one measure)", "/measures/{slug}/", True, False),
    "search": ("`/measures/?q=notification`", "/measures/?q=notification", True, False),
    "search_phrase": (
        '`/measures/?q="ballistic missile"`',
        "/measures/?q=%22ballistic+missile%22",
        True,
        False,
    ),
    "search_page": (
        "`/measures/?q=notification&page=5`",
        "/measures/?q=notification&page=5",
        True,
        False,
    ),
    "endorsed_by": ("`/measures/?endorsed_by=CHN`", "/measures/?endorsed_by=CHN", True, False),
    "opposed_by": ("`/measures/?opposed_by=CHN`", "/measures/?opposed_by=CHN", True, False),
    "party": ("`/measures/?party=USA`", "/measures/?party=USA", True, False),
    "actor": ("`/measures/?actor=CHN`", "/measures/?actor=CHN", True, False),
    "actor_page": ("`/actors/USA/` (one actor)", "/actors/USA/", True, False),
    "actor_page_as_of": (
        f"`/actors/USA/?as_of={AS_OF}`",
        f"/actors/USA/?as_of={AS_OF}",
        True,
        False,
    ),
    "category": ("`/measures/?category=hotline`", "/measures/?category=hotline", True, False),
    "status": ("`/measures/?status=in_force`", "/measures/?status=in_force", True, False),
    "status_as_of": (
        f"`/measures/?status=in_force&as_of={AS_OF}`",
        f"/measures/?status=in_force&as_of={AS_OF}",
        True,
        False,
    ),
    "party_as_of": (
        f"`/measures/?party=USA&as_of={AS_OF}`",
        f"/measures/?party=USA&as_of={AS_OF}",
        True,
        False,
    ),
    "last_page": ("`/measures/?page=<last>` (offset)", "/measures/?page={last_page}", True, False),
    "positions": ("`/positions/` page 1", "/positions/", True, False),
    "positions_current": (
        "`/positions/?current=true`",
        "/positions/?current=true",
        True,
        False,
    ),
    "positions_actor": ("`/positions/?actor=USA`", "/positions/?actor=USA", True, False),
    "events": ("`/events/` page 1", "/events/", True, False),
    "events_kind": ("`/events/?kind=ratified`", "/events/?kind=ratified", True, False),
    "citations": (
        "`/citations/?measure={slug}`",
        "/citations/?measure={slug}",
        True,
        False,
    ),
    "changes": (
        "`/changes/` poll at the end of the feed",
        "/changes/?since={feed_end}",
        True,
        False,
    ),
    "quality": ("`/quality/` (data-quality queue)", "/quality/", True, False),
    "matrix": ("`/matrix/`", "/matrix/", False, True),
    "export": ("`/export/` (JSON)", "/export/", False, True),
}


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/growth/run.py",
        description="p50 of every request of the API at two dataset sizes, and its growth.",
    )
    add = parser.add_argument
    add(
        "--server",
        default=os.environ.get("TRACKER_BENCH_POSTGRES", DEFAULT_SERVER),
        help="PostgreSQL server URL whose role may create databases "
        "(default: $TRACKER_BENCH_POSTGRES, else %(default)s)",
    )
    add(
        "--database",
        action="append",
        default=[],
        metavar="NAME",
        help="reuse this filled database instead of building one; give it once per size "
        "(twice): each is migrated, never dropped, and its size read from it",
    )
    add("--measures-small", type=int, default=1000, help="measures of the small dataset")
    add(
        "--measures-large",
        type=int,
        default=100_000,
        help="measures of the large dataset (default %(default)s; 1000000 takes hours to "
        "build and about 16 GiB of memory while building)",
    )
    add("--seed", type=int, default=1, help="seed of the generated datasets")
    add("--keep-database", action="store_true", help="keep the databases this run built")
    add("--workers", type=int, default=2, help="gunicorn sync workers per size (default 2)")
    add("--requests", type=int, default=50, help="timed rounds (default %(default)s)")
    add("--heavy-requests", type=int, default=3, help="timed rounds of matrix and export")
    add("--warmup", type=int, default=5, help="untimed requests of each kind first")
    add("--timeout", type=float, default=120, help="client timeout per request, seconds")
    add(
        "--skip",
        action="append",
        default=[],
        choices=sorted(REQUESTS),
        help="leave out a request (repeatable), e.g. the export on a machine with little memory",
    )
    add("--child", help=argparse.SUPPRESS)  # in the child: the database to prepare
    add("--build", type=int, default=0, help=argparse.SUPPRESS)  # in the child
    args = parser.parse_args(argv)
    if args.child:
        return args
    if len(args.database) not in (0, 2):
        parser.error("--database is given twice (one per size) or not at all")
    if not args.database and not 50 < args.measures_small < args.measures_large:
        parser.error("--measures-small must exceed one page (50) and be below --measures-large")
    if min(args.requests, args.heavy_requests, args.warmup + 1) < 1:
        parser.error("--requests and --heavy-requests must be at least 1")
    return args


# --- the child: one database ------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """Migrate (and fill) the database in ``DATABASE_URL``; print the plan as JSON."""
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    from benchmarks.api.dataset import generate, vacuum
    from proposals.api.pagination import TrackerPagination
    from proposals.models import Measure

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    built: dict[str, Any] = {}
    if args.build:
        started = time.perf_counter()
        built = {**generate(measures=args.build, seed=args.seed).as_dict()}
        vacuum()
        built["generated_in_s"] = round(time.perf_counter() - started, 1)
    else:
        with connection.cursor() as cursor:  # the new indexes' statistics
            cursor.execute("ANALYZE")
    count = Measure.objects.count()
    ordered = Measure.objects.order_by("slug", "pk")
    # A cursor near the end of the list, as the API encodes them for its default ordering.
    deep = ordered.values_list("slug", "pk")[max(0, count - 60)]
    spread = [
        ordered.values_list("slug", flat=True)[count * (2 * i + 1) // (2 * DETAIL_SPREAD)]
        for i in range(DETAIL_SPREAD)
    ]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    plan = {
        "measures": count,
        "built": built,
        "postgres": postgres,
        "cursor": TrackerPagination._encode(["slug", "pk"], list(deep)),
        "last_page": math.ceil(count / 50),
        "slugs": spread,
    }
    print(json.dumps(plan))


def query_counts(paths: dict[str, str]) -> dict[str, int]:
    """SQL queries of each request, in the child, through the service's URLconf."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts = {}
    for name, path in paths.items():
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        counts[name] = len(captured.captured_queries) if response.status_code == 200 else -1
    return counts


def child_counts(args: argparse.Namespace) -> None:
    import django

    django.setup()
    print(json.dumps(query_counts(json.loads(args.child))))


# --- the parent -------------------------------------------------------------------------------


@dataclass
class Size:
    database: str
    built: bool
    url: str
    env: dict[str, str]
    plan: dict[str, Any] = field(default_factory=dict)
    port: int = 0
    server: subprocess.Popen[bytes] | None = None
    paths: dict[str, list[str]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)


def in_child(size: Size, *extra: str) -> Any:
    command = [str(VENV / "bin" / "python"), str(Path(__file__).resolve()), *extra]
    done = subprocess.run(command, cwd=ROOT, env=size.env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"preparing {size.database} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def get(port: int, path: str, timeout: float) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    except TimeoutError:
        return 0, b"", time.perf_counter() - started
    finally:
        conn.close()
    return response.status, body, time.perf_counter() - started


def start_gunicorn(size: Size, log: Path, workers: int) -> None:
    size.port = free_port()
    command = gunicorn_command(size.port, workers, "--worker-class", "sync")
    command += ["--log-level", "warning"]
    port = size.port
    size.server = start_server(
        command, env=size.env, log=log, ready=lambda _: get(port, "/health/", 5)[0] == 200
    )


def stop_server(size: Size) -> None:
    if size.server is not None:
        stop(size.server)


def feed_end(size: Size, timeout: float) -> str:
    """The cursor at the end of the change feed, followed from its start."""
    path = f"{API}/changes/?page_size=1000"
    for _ in range(100_000):
        status, body, _ = get(size.port, path, timeout)
        if status != 200:
            sys.exit(f"{path} answered {status}: {body[:300]!r}")
        page = json.loads(body)
        if not page["has_more"]:
            return str(page["next_cursor"])
        path = f"{API}/changes/?page_size=1000&since={quote(page['next_cursor'])}"
    sys.exit("The change feed did not end.")


def resolve(size: Size, wanted: list[str], timeout: float) -> None:
    values = {
        "cursor": quote(size.plan["cursor"]),
        "last_page": size.plan["last_page"],
        "feed_end": quote(feed_end(size, timeout)) if "changes" in wanted else "",
    }
    for name in wanted:
        template = API + REQUESTS[name][1]
        if "{slug}" in template:
            size.paths[name] = [template.replace("{slug}", s) for s in size.plan["slugs"]]
        else:
            size.paths[name] = [template.format(**values)]


def time_requests(sizes: list[Size], args: argparse.Namespace, wanted: list[str]) -> None:
    for size in sizes:
        for name in wanted:
            size.times[name], size.statuses[name] = [], set()
    for name in wanted:
        print(f"warm-up: {name}", flush=True)
        for size in sizes:
            for turn in range(args.warmup if not REQUESTS[name][3] else min(args.warmup, 1)):
                paths = size.paths[name]
                get(size.port, paths[turn % len(paths)], args.timeout)
    light = [n for n in wanted if not REQUESTS[n][3]]
    heavy = [n for n in wanted if REQUESTS[n][3]]
    for names, rounds in ((light, args.requests), (heavy, args.heavy_requests)):
        for turn in range(rounds):
            if turn % 10 == 0 and names:
                print(f"rounds {turn + 1}-{min(turn + 10, rounds)} of {rounds}", flush=True)
            for name in names:
                for size in sizes:
                    paths = size.paths[name]
                    status, body, seconds = get(size.port, paths[turn % len(paths)], args.timeout)
                    size.statuses[name].add(status)
                    size.bytes[name] = max(size.bytes.get(name, 0), len(body))
                    if status == 200:
                        size.times[name].append(seconds * 1000)


def p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def summarize(sizes: list[Size], wanted: list[str]) -> dict[str, Any]:
    small, large = sizes
    rows = {}
    for name in wanted:
        a, b = p50(small.times[name]), p50(large.times[name])
        growth = round(b / a, 2) if a and b else None
        rows[name] = {
            "request": REQUESTS[name][0],
            "paths": {"small": small.paths[name], "large": large.paths[name]},
            "p50_ms": {"small": a, "large": b},
            "p90_ms": {
                key: round(statistics.quantiles(s.times[name], n=10)[-1], 1)
                if len(s.times[name]) >= 2
                else None
                for key, s in (("small", small), ("large", large))
            },
            "statuses": {
                "small": sorted(small.statuses[name]),
                "large": sorted(large.statuses[name]),
            },
            "max_bytes": {"small": small.bytes.get(name, 0), "large": large.bytes.get(name, 0)},
            "queries": {"small": small.queries.get(name), "large": large.queries.get(name)},
            "growth": growth,
            "bounded": REQUESTS[name][2],
            "target_met": None
            if not REQUESTS[name][2] or growth is None
            else growth <= GROWTH_TARGET,
        }
    return rows


def cell(value: float | None, statuses: list[int]) -> str:
    if value is None:
        return "/".join(str(s) if s else "timeout" for s in statuses) or "-"
    return f"{value:,.1f}"


def table(sizes: list[Size], rows: dict[str, Any]) -> str:
    small, large = (s.plan["measures"] for s in sizes)
    head = f"{'request':<44}{small:>12,}{large:>12,}{'growth':>9}{'queries':>10}"
    lines = [head, f"{'':<44}{'p50 ms':>12}{'p50 ms':>12}"]
    for row in rows.values():
        growth = "-" if row["growth"] is None else f"{row['growth']:.2f}x"
        if row["target_met"] is False:
            growth += " !"
        queries = "/".join(str(q) for q in row["queries"].values())
        lines.append(
            f"{row['request'].replace('`', ''):<44}"
            f"{cell(row['p50_ms']['small'], row['statuses']['small']):>12}"
            f"{cell(row['p50_ms']['large'], row['statuses']['large']):>12}"
            f"{growth:>9}{queries:>10}"
        )
    lines.append("")
    lines.append(
        f"growth: p50 at {large:,} measures / p50 at {small:,}; '!' marks a paged or "
        f"single-object request above {GROWTH_TARGET:g}x. queries: SQL queries per request, "
        "small/large."
    )
    return "\n".join(lines)


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


def main(argv: list[str]) -> None:
    args = options(argv)
    if args.child:
        (child if args.child == "prepare" else child_counts)(args)
        return
    wanted = [name for name in REQUESTS if name not in args.skip]
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS / f"growth-{stamp}.gunicorn.log"
    with tempfile.TemporaryDirectory(prefix="tracker-growth-") as var:
        (Path(var) / "static").mkdir()
        if args.database:
            names = [(name, 0) for name in args.database]
        else:
            names = [(f"growth_bench_{n}", n) for n in (args.measures_small, args.measures_large)]
        sizes = []
        for name, build in names:
            url = database_url(args.server, name)
            sizes.append(
                Size(
                    name,
                    bool(build),
                    url,
                    service_env(
                        url,
                        var,
                        DATABASE_CONN_MAX_AGE="3600",
                        # Every request builds its answer: repeated identical requests are what
                        # this times, and the cache of rendered list pages would answer them
                        # from memory.
                        TRACKER_API_LIST_CACHE_MB="0",
                    ),
                )
            )
        load_before = os.getloadavg()
        try:
            for size, (_, build) in zip(sizes, names, strict=True):
                if build:
                    print(f"creating {size.database} with {build:,} measures …", flush=True)
                    recreate_database(args.server, size.database)
                else:
                    print(f"migrating {size.database} …", flush=True)
                size.plan = in_child(size, "--child", "prepare", "--build", str(build))
                print(f"{size.database}: {size.plan['measures']:,} measures", flush=True)
            sizes.sort(key=lambda s: s.plan["measures"])
            for size in sizes:
                start_gunicorn(size, log, args.workers)
                resolve(size, wanted, args.timeout)
                first = {name: paths[0] for name, paths in size.paths.items()}
                light = {n: p for n, p in first.items() if not REQUESTS[n][3]}
                size.queries = in_child(size, "--child", json.dumps(light))
            time_requests(sizes, args, wanted)
            load_after = os.getloadavg()
        finally:
            for size in sizes:
                stop_server(size)
            if not args.keep_database:
                for size in sizes:
                    if size.built:
                        recreate_database(args.server, size.database, drop_only=True)

    rows = summarize(sizes, wanted)
    report = table(sizes, rows)
    result = {
        "benchmark": "p50 of each API request at two dataset sizes, sequential client",
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "machine": {**machine(), "postgresql": sizes[0].plan["postgres"]},
        "load_average": {"before": load_before, "after": load_after},
        "options": {k: v for k, v in vars(args).items() if k not in ("server", "child", "build")},
        "datasets": {
            key: {"database": s.database, "measures": s.plan["measures"], "built": s.plan["built"]}
            for key, s in (("small", sizes[0]), ("large", sizes[1]))
        },
        "requests": rows,
    }
    out = RESULTS / f"growth-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    print()
    print(
        f"{args.workers} sync gunicorn workers per size; sequential client; p50 of "
        f"{args.requests} requests ({args.heavy_requests} for the matrix and export) after "
        f"{args.warmup} of warm-up; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after"
    )
    print(report)
    print(f"\nwritten: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    in_project_venv(__file__)
    main(sys.argv[1:])
