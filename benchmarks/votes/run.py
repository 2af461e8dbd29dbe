#!/usr/bin/env python3
"""Rows/s of the recorded-votes import (``manage.py import_votes``) on a generated file.

    python3 benchmarks/votes/run.py [--states 193] [--resolutions 200] [--runs 3]

Steps, in order:

1. Write a made-up voting-data file in the UN Digital Library export's layout: ``--states``
   states (real ISO codes, made-up votes: about 60 % yes, 20 % abstentions, 10 % no, 10 % not
   voting) by ``--resolutions`` resolutions, each voted on its own day.
2. For each database — a fresh SQLite file, and PostgreSQL when ``DATABASE_URL`` is set (the
   script creates ``--database`` on that server and drops it at the end) — in a process of its
   own: migrate, create one actor per state, one measure per resolution (listing its symbol in
   ``parameters["un_resolutions"]``) and a user; then time the import (reading the file
   included) twice: the first import writes every position, citation and source with its
   history; the second, of the same file, must write nothing.
3. Print a table and write ``benchmarks/results/votes-<UTC time>.json``.

It runs itself with the project's virtualenv, ``.venv`` (``python3 dev.py test`` creates it).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import random
import secrets
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
from benchmarks.harness import RESULTS, ROOT, database_url, in_project_venv, recreate_database

HEADER = [
    *("undl_id", "ms_code", "ms_name", "ms_vote", "date", "session", "resolution", "draft"),
    *("committee_report", "meeting", "title", "agenda_title", "subjects", "vote_note"),
    *("total_yes", "total_no", "total_abstentions", "total_non_voting", "total_ms", "undl_link"),
]
VOTES = ["Y"] * 6 + ["A"] * 2 + ["N", "X"]
FIRST_DAY = datetime.date(2000, 1, 3)


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/votes/run.py",
        description="Rows/s of import_votes on a generated file, first import and re-import, "
        "on SQLite and (with DATABASE_URL) PostgreSQL.",
    )
    parser.add_argument("--states", type=int, default=193)
    parser.add_argument("--resolutions", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="fresh databases per engine")
    parser.add_argument(
        "--database", default="tracker_bench_votes", help="PostgreSQL database to (re)create"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # database URL, in the child
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if "bench" not in args.database:
        parser.error("--database must contain 'bench': this script drops it")
    return args


def symbol(n: int) -> str:
    return f"A/RES/BENCH/{n + 1}"


def write_file(path: Path, *, states: list[tuple[str, str]], resolutions: int) -> int:
    chooser = random.Random(20261201)  # made-up votes, not secrets
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(resolutions):
            date = (FIRST_DAY + datetime.timedelta(days=n)).isoformat()
            undl_id = 90_000_000 + n
            for code, name in states:
                writer.writerow(
                    [
                        undl_id,
                        code,
                        name.upper(),
                        chooser.choice(VOTES),
                        date,
                        "BENCH",
                        symbol(n),
                        "",
                        "",
                        "",
                        f"Made-up resolution {n + 1}",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        len(states),
                        f"https://digitallibrary.un.org/record/{undl_id}",
                    ]
                )
                rows += 1
    return rows


# --- the child: one engine, one fresh database ----------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django_countries import countries

    from proposals.models import Actor, Category, Measure, Position
    from proposals.votes import read_votes_csv, votes_import

    call_command("migrate", verbosity=0)
    with Path(args.file).open(encoding="utf-8") as rows:
        codes = {row[1] for row in csv.reader(rows)} - {"ms_code"}
    Actor.objects.bulk_create(
        Actor(code=code, name=countries.name(countries.alpha2(code))) for code in sorted(codes)
    )
    measures = Measure.objects.bulk_create(
        Measure(
            slug=f"bench-{n + 1}",
            title=f"Bench measure {n + 1}",
            form=Measure.Form.PROPOSAL,
            scope=Measure.Scope.MULTILATERAL,
            parameters={"un_resolutions": [symbol(n)]},
        )
        for n in range(args.resolutions)
    )
    other = Category.objects.get(code="other")
    Measure.categories.through.objects.bulk_create(
        Measure.categories.through(measure_id=m.pk, category_id=other.pk) for m in measures
    )
    user = User.objects.create_user("bench")
    text = Path(args.file).read_text(encoding="utf-8")

    timings = []
    reports = []
    for _ in range(2):
        started = time.perf_counter()
        report = votes_import(resolutions=read_votes_csv(text), user=user)
        timings.append(time.perf_counter() - started)
        reports.append(report)
    first, again = reports
    assert first.positions_created == Position.objects.count() > 0
    assert (again.positions_created, again.positions_updated, again.citations_created) == (0, 0, 0)
    assert again.sources_created == 0
    return {
        "engine": connection.vendor,
        "rows": first.rows,
        "positions": first.positions_created,
        "history_rows": Position.history.count(),
        "first_seconds": timings[0],
        "again_seconds": timings[1],
    }


def run_child(args: argparse.Namespace, url: str, path: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--child={url}",
        f"--file={path}",
        f"--resolutions={args.resolutions}",
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the import failed on {url.split(':')[0]}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    in_project_venv(__file__)
    args = options(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    from django.conf import settings
    from django_countries.data import ALT_CODES, COUNTRIES

    settings.configure(USE_I18N=False)  # the names are lazy translations; English is enough
    # The first --states countries of django-countries' list, by alpha-3 code.
    states = sorted((ALT_CODES[code][0], str(name)) for code, name in COUNTRIES.items())
    states = states[: args.states]
    results: list[dict[str, Any]] = []
    server = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "votes.csv"
        rows = write_file(path, states=states, resolutions=args.resolutions)
        print(f"{rows:,} rows ({len(states)} states by {args.resolutions} resolutions)")
        for run in range(args.runs):
            sqlite = Path(scratch) / f"bench-{run}.sqlite3"
            results.append(run_child(args, f"sqlite:///{sqlite}", path))
            if server.startswith("postgres"):
                recreate_database(server, args.database)
                try:
                    results.append(run_child(args, database_url(server, args.database), path))
                finally:
                    recreate_database(server, args.database, drop_only=True)

    print(f"{'engine':<12}{'run':>4}{'first import rows/s':>22}{'re-import rows/s':>20}")
    for result in results:
        result["first_rows_per_second"] = result["rows"] / result["first_seconds"]
        result["again_rows_per_second"] = result["rows"] / result["again_seconds"]
    for engine in sorted({result["engine"] for result in results}):
        runs = [result for result in results if result["engine"] == engine]
        for n, result in enumerate(runs, start=1):
            print(
                f"{engine:<12}{n:>4}{result['first_rows_per_second']:>22,.0f}"
                f"{result['again_rows_per_second']:>20,.0f}"
            )
        first = statistics.median(result["first_rows_per_second"] for result in runs)
        again = statistics.median(result["again_rows_per_second"] for result in runs)
        print(f"{engine:<12}{'med':>4}{first:>22,.0f}{again:>20,.0f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"votes-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "states": len(states),
                "resolutions": args.resolutions,
                "rows": rows,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "results": results,
            },
            indent=2,
        )
    )
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
