#!/usr/bin/env python3
"""Latency of full-text search (``GET /api/v1/measures/?q=…``), and the plan the database uses.

    python3 benchmarks/search/run.py --database-url postgres://postgres@127.0.0.1:5432/bench
    python3 benchmarks/search/run.py --database-url … --build 100000   # make the dataset first

Migrates the database (installing the search index if it is missing), then sends each search
``--requests`` times through Django's test client in this process (one warm-up request first)
and prints the median, the 90th percentile, the number of matching measures and the SQL queries
of one request; on PostgreSQL also ``EXPLAIN (ANALYZE, BUFFERS)`` of the page query.

``--build N`` fills an *empty* database with the API benchmark's generator (``api/dataset.py``,
N measures) before timing; without it the database must already hold such a dataset (a copy of
one, for example: ``createdb -T <template> <name>``). Anonymous throttling is turned off. It runs
itself with the project's virtualenv, ``.venv`` (``python3 dev.py test`` creates it).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# The generator writes summaries from 28 words, so each word is in most measures: these searches
# match many rows. A title ends with the measure's number: "421" matches one.
SEARCHES = [
    "notification",
    '"ballistic missile"',
    "hotline -verification",
    "warhead or annex",
    "421",
]


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        required=True,
        help="the database to search (PostgreSQL or sqlite:///path); it is migrated",
    )
    parser.add_argument(
        "--build", type=int, metavar="N", help="first fill the empty database with N measures"
    )
    parser.add_argument("--requests", type=int, default=50, help="requests per search (50)")
    parser.add_argument(
        "--search",
        action="append",
        help=f"a value of q (repeatable; default: {', '.join(SEARCHES)})",
    )
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def main(argv: list[str]) -> None:
    args = options(argv)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": args.database_url,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "TRACKER_API_ANON_RATE": "off",
            "TRACKER_API_LIST_CACHE_MB": "0",  # each search runs; none answered from memory
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from proposals.models import Measure

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    if args.build:
        if Measure.objects.exists():
            sys.exit("--build needs an empty database; this one already holds measures.")
        from benchmarks.api.dataset import generate, vacuum

        started = time.perf_counter()
        print(generate(measures=args.build).as_dict())
        if connection.vendor == "postgresql":
            vacuum()
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"built in {time.perf_counter() - started:.1f} s")

    client = Client(HTTP_HOST="127.0.0.1")
    total = Measure.objects.count()
    print(f"{connection.vendor}, {total:,} measures, {args.requests} requests per search")
    print(f"{'q':<28} {'p50 ms':>9} {'p90 ms':>9} {'matches':>9} {'queries':>8}")
    # The first row, without q, is the cost of the page itself.
    for text in [None, *(args.search or SEARCHES)]:
        path = "/api/v1/measures/"
        query = {} if text is None else {"q": text}
        response = client.get(path, query)  # warm-up
        assert response.status_code == 200, (text, response.status_code, response.content[:300])
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(path, query)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(path, query)
        deciles = statistics.quantiles(timings, n=10) if len(timings) > 1 else timings * 9
        label = "(no q: the page alone)" if text is None else text
        body = response.json()
        # Past the bound of exact counts a page says only how many match at least.
        matches = (
            f"{body['count']:,}" if body["count"] is not None else f">={body['count_at_least']:,}"
        )
        print(
            f"{label:<28} {statistics.median(timings):>9.1f} {deciles[8]:>9.1f} "
            f"{matches:>9} {len(captured.captured_queries):>8}"
        )
    if connection.vendor == "postgresql":
        explain(args.search[0] if args.search else SEARCHES[0])


def explain(text: str) -> None:
    """The plans of the queries that find the first page of ``?q=text``, as the list view runs
    them: the page's ids group by group (``MeasureQuerySet.ranked_page_ids``), then its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from proposals.api.pagination import _page_rows
    from proposals.api.serializers import measure_rows
    from proposals.models import Measure

    with CaptureQueriesContext(connection) as captured:
        _page_rows(measure_rows(Measure.objects.search(text)), 0, 50)
    with connection.cursor() as cursor:
        for number, query in enumerate(captured.captured_queries, 1):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            print(f"\nEXPLAIN ANALYZE of query {number} of the first page of ?q={text}:")
            print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.prefix) != VENV_PYTHON.parents[1]:
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    main(sys.argv[1:])
