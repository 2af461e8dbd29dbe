#!/usr/bin/env python3
"""Where the CPU of one request goes: the API's first page of measures against the hand-written
view, in one process, through Django's WSGI handler as a gunicorn worker calls it.

    python3 benchmarks/api/run.py --keep-database     # once: the database to read
    python3 benchmarks/api/costs.py [--requests 100] [--rounds 5] [--experiment NAME ...]

No server and no load generator: each round sends ``--requests`` requests to each target in
turn and reads the process's CPU time, so it needs much less quiet than ``run.py``. It prints,
per target, the CPU milliseconds per request (median and best round), the garbage collector's
share by generation, and for the API the CPU of its named steps (a step's figure includes any
collection that ran inside it). The database's own CPU is not counted here (``run.py`` reads it).

``--experiment`` changes the API in this process only, to size a change before making it:

- ``lazy-fields``: the list's ``fields=`` selection builds the item serializer's field names only
  when the request has ``fields=`` (today every list request builds them).
- ``drop-page``: the response lets go of its data once the server has closed it, so the page is
  freed at once rather than by the garbage collector (DRF's view and response refer to each
  other, which keeps the page alive until a collection).
- ``freeze``: after the warm-up, everything loaded so far is moved out of the collector's reach
  (``gc.freeze()``), as a gunicorn worker could do once the app is loaded. It applies to both
  targets.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the project's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import DEFAULT_SERVER, database_url, in_project_venv

TARGETS = {"api": "/api/v1/measures/", "baseline": "/baseline/measures/"}
EXPERIMENTS = ("lazy-fields", "drop-page", "freeze")


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/api/costs.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--server",
        default=os.environ.get("TRACKER_BENCH_POSTGRES", DEFAULT_SERVER),
        help="PostgreSQL server URL (default: $TRACKER_BENCH_POSTGRES, else %(default)s)",
    )
    add("--database", default="tracker_bench", help="made by run.py --keep-database")
    add("--requests", type=int, default=100, help="requests per target per round")
    add("--rounds", type=int, default=5, help="rounds, the targets taking turns")
    add(
        "--experiment",
        action="append",
        choices=EXPERIMENTS,
        default=[],
        help="a change to try on the API in this process (repeatable; see above)",
    )
    return parser.parse_args(argv)


@dataclass
class Tally:
    """CPU seconds in named steps and in each generation's collections, and collections run."""

    steps: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    gc_seconds: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    gc_runs: collections.Counter[int] = field(default_factory=collections.Counter)


class Meter:
    """Counts into ``self.tally`` the CPU spent in wrapped functions and in collections."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._gc_started = 0.0
        gc.callbacks.append(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.tally.gc_seconds[info["generation"]] += time.process_time() - self._gc_started
            self.tally.gc_runs[info["generation"]] += 1

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.tally.steps[label] += time.process_time() - started

        setattr(owner, name, timed)


def setup(args: argparse.Namespace, var: Path) -> Callable[[str], bytes]:
    (var / "static").mkdir()  # what collectstatic would fill: whitenoise looks for it
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.api.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "costs-" + "x" * 50,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_CONN_MAX_AGE": "3600",
            "TRACKER_API_ANON_RATE": "off",
            # The page is built on every request, as the hand-written view builds it, not answered
            # from the cache of rendered list pages.
            "TRACKER_API_LIST_CACHE_MB": "0",
            "TRACKER_VAR_DIR": str(var),
            "DATABASE_URL": database_url(args.server, args.database),
        }
    )
    os.environ.pop("REDIS_URL", None)
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    def get(path: str) -> bytes:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return sys.stdout.buffer.write  # never called: Django returns the body instead

        response = application(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()
        if not statuses[0].startswith("200"):
            sys.exit(f"{path} answered {statuses[0]}: {content[:300]!r}")
        return content

    return get


def experiment(name: str) -> None:
    if name == "lazy-fields":
        from proposals.api import pagination

        build = pagination.FieldSelection.__init__

        def lazy(self: Any, request: Any, view: Any) -> None:
            if "fields" in request.query_params:
                build(self, request, view)
            else:
                self.known, self.kept = [], None

        pagination.FieldSelection.__init__ = lazy  # type: ignore[method-assign]
    elif name == "drop-page":
        from rest_framework.response import Response

        def close(self: Any) -> None:
            super(Response, self).close()
            self.data = None
            self.renderer_context = None

        Response.close = close  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    args = options(argv)
    with tempfile.TemporaryDirectory(prefix="tracker-costs-") as var:
        measure(args, setup(args, Path(var)))


def measure(args: argparse.Namespace, get: Callable[[str], bytes]) -> None:
    for name in args.experiment:
        experiment(name)

    import drf_orjson_renderer.renderers

    from proposals.api import conditional, pagination
    from proposals.api import serializers as api

    meter = Meter()
    meter.wrap(api.MeasureReader, "many", "rows to dicts (MeasureReader.many)")
    meter.wrap(pagination, "item_fields", "fields= names (item serializer's fields)")
    meter.wrap(conditional, "list_etag", "ETag (data version query, Python side)")
    meter.wrap(drf_orjson_renderer.renderers.ORJSONRenderer, "render", "rendering")

    first = get(TARGETS["api"])
    if first != get(TARGETS["baseline"]):
        sys.exit("The two responses differ; nothing measured.")
    for path in TARGETS.values():
        for _ in range(20):
            get(path)
    if "freeze" in args.experiment:
        gc.collect()
        gc.freeze()
    meter.tally = Tally()  # the warm-up's counts are dropped

    per_request: dict[str, list[float]] = {name: [] for name in TARGETS}
    tallies = {name: Tally() for name in TARGETS}
    for _ in range(args.rounds):
        for name, path in TARGETS.items():
            meter.tally = tallies[name]
            started = time.process_time()
            for _ in range(args.requests):
                get(path)
            per_request[name].append((time.process_time() - started) / args.requests * 1000)

    count = args.requests * args.rounds
    print(f"CPU ms per request in this process, {args.rounds} rounds of {args.requests}", end="")
    print(f" requests per target; experiments: {', '.join(args.experiment) or 'none'}")
    for name in TARGETS:
        runs = per_request[name]
        print(f"{name:9s} median {statistics.median(runs):6.2f}  best {min(runs):6.2f}", end="")
        print(f"  rounds: {' '.join(f'{value:.2f}' for value in runs)}")
        tally = tallies[name]
        gc_line = ", ".join(
            f"gen {gen} {tally.gc_seconds[gen] / count * 1000:.2f} ({tally.gc_runs[gen]} runs)"
            for gen in sorted(tally.gc_runs)
        )
        print(f"          garbage collection: {gc_line or 'none'}")
        for label, seconds in sorted(tally.steps.items(), key=lambda item: -item[1]):
            print(f"          {label}: {seconds / count * 1000:.2f}")
    ratio = statistics.median(per_request["baseline"]) / statistics.median(per_request["api"])
    print(f"hand-written view / API in CPU per request: {ratio:.3f}")


if __name__ == "__main__":
    in_project_venv(__file__)
    main(sys.argv[1:])
