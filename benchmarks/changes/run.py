#!/usr/bin/env python3
"""What a poll of ``GET /api/v1/changes/`` costs at the end of the feed, as the history grows.

    python3 benchmarks/changes/run.py --measures 1000            # builds its own database
    python3 benchmarks/changes/run.py --use-database URL         # a copy you made, kept

Steps, in order:

1. The database: either (re)create ``--database`` on ``--server``, migrate it and fill it with
   the API benchmark's generated dataset (``benchmarks/api/dataset.py``, ``--measures``); or use
   the PostgreSQL database at ``--use-database`` as it is (e.g. a copy of a dataset made at an
   older schema), which is never dropped.
2. The history: the generated dataset is written with ``bulk_create`` and has no audit history.
   When a history table is empty, write one "created" history row per row of its table, by SQL,
   in transactions of ``--history-batch`` rows (so the history spans many transactions);
   ``--history-copies N`` writes N per row, for a long history on a small dataset.
3. Migrate (``--no-migrate``: leave the schema as it is); with a change log to create, this is
   where it is backfilled, and the time it took is reported.
4. ``VACUUM ANALYZE``, then time, in process through the whole Django stack (middleware,
   DRF), ``--polls`` sequential requests of each kind, after a few to warm up:
   - *empty*: another transaction finishes without writing anything the feed serves, then a
     poll with the cursor a client holds at the end of the feed (no entry);
   - *one change*: an actor renamed, then a poll from the previous cursor (one entry);
   and print p50, p90, the queries per request and the history size.

Written against the feed's cursor of both designs (scanning the history, and reading the change
log), so the same script measures before and after. ``--server`` (or ``TRACKER_BENCH_POSTGRES``)
is a PostgreSQL server whose role may create databases. It runs itself with ``.venv``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harness import (
    ROOT,
    add_database_options,
    check_database_option,
    database_url,
    in_project_venv,
    recreate_database,
)

HISTORY_FIELDS = {"history_id", "history_date", "history_type", "history_change_reason"}


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/changes/run.py",
        description="p50 of GET /api/v1/changes/ at the end of the feed, on a generated "
        "dataset given one history row per row.",
    )
    add_database_options(parser, database="tracker_bench_changes")
    parser.add_argument(
        "--use-database",
        metavar="URL",
        help="measure this existing PostgreSQL database instead of building one (kept)",
    )
    parser.add_argument("--measures", type=int, default=1000, help="dataset size to build")
    parser.add_argument("--polls", type=int, default=50, help="timed requests of each kind")
    parser.add_argument(
        "--history-batch", type=int, default=20000, help="history rows per transaction"
    )
    parser.add_argument(
        "--history-copies",
        type=int,
        default=1,
        help="history rows written per row (more: a long history on a small dataset)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="leave the schema as it is")
    args = parser.parse_args(argv)
    if not args.use_database:
        check_database_option(parser, args)
    return args


def write_history(batch: int, copies: int) -> dict[str, int]:
    """``copies`` "created" history rows per row of every table the feed serves, where none
    exists."""
    from django.db import connection, transaction

    from proposals.changefeed import TABLES

    written = {}
    quote = connection.ops.quote_name
    for name, model in TABLES.items():
        history = model.history.model  # type: ignore[attr-defined]
        if history.objects.exists():
            continue
        columns = [
            f.column
            for f in history._meta.concrete_fields
            if f.name not in HISTORY_FIELDS and f.name != "history_user"
        ]
        names = ", ".join(quote(c) for c in columns)
        table, source = quote(history._meta.db_table), quote(model._meta.db_table)
        last = model._default_manager.order_by("-id").values_list("id", flat=True).first() or 0
        for low in [start for _ in range(copies) for start in range(0, last + 1, batch)]:
            with transaction.atomic(), connection.cursor() as db:
                db.execute(
                    f"INSERT INTO {table} ({names}, history_date, history_type, "
                    f"history_change_reason, history_user_id) "
                    f"SELECT {names}, now(), '+', NULL, NULL FROM {source} "
                    "WHERE id >= %s AND id < %s ORDER BY id",
                    [low, low + batch],
                )
        written[name] = history.objects.count()
    return written


def timed(request: Any, polls: int, prepare: Any = None) -> list[float]:
    """Milliseconds of each of ``polls`` calls of ``request``, after 5 untimed ones;
    ``prepare`` runs untimed before each."""
    times = []
    for n in range(polls + 5):
        if prepare is not None:
            prepare()
        started = time.perf_counter()
        request()
        if n >= 5:
            times.append((time.perf_counter() - started) * 1000)
    return times


def measure(polls: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from proposals.changefeed import TABLES, Cursor
    from proposals.models import Actor

    client = Client()

    def poll(since: str) -> dict[str, Any]:
        response = client.get("/api/v1/changes/", {"since": since, "page_size": "100"})
        assert response.status_code == 200, response.content
        return json.loads(response.content)

    with connection.cursor() as db:
        db.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        (horizon,) = db.fetchone()
    # The cursor of a client that has read everything: an empty window at the horizon.
    state: dict[str, Any] = {"cursor": Cursor(start=horizon, end=horizon).encode(), "served": 0}
    actor = Actor.objects.order_by("id").first()
    assert actor is not None

    def poll_again() -> None:
        page = poll(state["cursor"])
        state["served"] += len(page["results"])
        state["cursor"] = page["next_cursor"]

    def finish_a_transaction() -> None:
        # Another transaction finishes, writing nothing the feed serves: the horizon moves on,
        # so the poll has a new, empty window to read.
        with transaction.atomic(), connection.cursor() as db:
            db.execute("SELECT pg_current_xact_id()")

    def rename() -> None:
        actor.name = f"Renamed {time.perf_counter()}"
        actor.save()

    queries = {}
    for name, prepare in (("empty", finish_a_transaction), ("one_change", rename)):
        prepare()
        with CaptureQueriesContext(connection) as captured:
            poll_again()
        queries[name] = len(captured)
    state["served"] = 0
    empty = timed(poll_again, polls, prepare=finish_a_transaction)
    assert state["served"] == 0, "a change from elsewhere: measure on a database nobody writes"
    one = timed(poll_again, polls, prepare=rename)
    history = {
        name: model.history.model.objects.count()  # type: ignore[attr-defined]
        for name, model in TABLES.items()
    }

    def stats(times: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(times), 2),
            "p90_ms": round(statistics.quantiles(times, n=10)[-1], 2),
        }

    return {
        "history_rows": sum(history.values()),
        "history": history,
        "queries": queries,
        "empty_poll": stats(empty),
        "one_change_poll": stats(one),
        # Served entries of the one-change polls: fewer than polls + 5 means a transaction held
        # open elsewhere on the server kept the horizon back (the changes wait for it).
        "one_change_served": state["served"],
        "one_change_polls": polls + 5,
    }


def main(argv: list[str]) -> None:
    in_project_venv(__file__)
    args = options(argv)
    url = args.use_database
    if url is None:
        url = database_url(args.server, args.database)
        recreate_database(args.server, args.database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-" + "x" * 50)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("TRACKER_API_ANON_RATE", "1000000/minute")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.chdir(ROOT)
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)  # one request log line per request would drown the result
    from django.core.management import call_command

    import proposals

    result: dict[str, Any] = {
        "database": url.rsplit("/", 1)[-1],
        "code": str(Path(proposals.__file__).parent.parent),
    }
    try:
        if args.use_database is None:
            from benchmarks.api.dataset import generate

            call_command("migrate", verbosity=0)
            result["dataset"] = generate(measures=args.measures).as_dict()
        started = time.perf_counter()
        result["history_written"] = write_history(args.history_batch, args.history_copies)
        result["history_seconds"] = round(time.perf_counter() - started, 1)
        if not args.no_migrate:
            started = time.perf_counter()
            call_command("migrate", verbosity=0)
            result["migrate_seconds"] = round(time.perf_counter() - started, 1)
        from django.db import connection

        with connection.cursor() as db:  # the steady state autovacuum reaches on its own
            db.execute("VACUUM ANALYZE")
        result.update(measure(args.polls))
    finally:
        from django.db import connections

        connections.close_all()
        if args.use_database is None and not args.keep_database:
            recreate_database(args.server, args.database, drop_only=True)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
