"""What both benchmark runners need: the project's interpreter, a free port, a scratch database.

Standard library only (psycopg is imported when a database is made), because a runner imports
this before it has re-run itself with the project's ``.venv``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def in_project_venv(script: str) -> None:
    """Re-run ``script`` with the project's interpreter unless this already is it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        sys.exit("No .venv yet: run `python3 dev.py test` once to create it.")
    os.execv(python, [str(python), str(Path(script).resolve()), *sys.argv[1:]])


def add_database_options(parser: argparse.ArgumentParser, *, database: str) -> None:
    """--server, --database (default ``database``) and --keep-database."""
    parser.add_argument(
        "--server",
        default=os.environ.get("TRACKER_BENCH_POSTGRES", DEFAULT_SERVER),
        help="PostgreSQL server URL whose role may create databases "
        "(default: $TRACKER_BENCH_POSTGRES, else %(default)s)",
    )
    parser.add_argument("--database", default=database, help="database to (re)create and drop")
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the database in place afterwards"
    )


def check_database_option(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if "bench" not in args.database:
        parser.error("--database must contain 'bench': this script drops it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(server: str, name: str) -> str:
    return urlsplit(server)._replace(path=f"/{name}").geturl()


def recreate_database(server: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
