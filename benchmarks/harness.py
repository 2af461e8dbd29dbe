"""What every benchmark runner needs: the project's interpreter, a free port, a scratch database,
the service's environment, and starting and stopping the servers under test.

Standard library only (psycopg is imported when a database is made), because a runner imports
this before it has re-run itself with the project's ``.venv``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
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


# --- the servers under test ---------------------------------------------------------------------


def service_env(database: str, var: str, **extra: str) -> dict[str, str]:
    """The environment of the service as a benchmark runs it: production settings on loopback,
    no throttling, no Redis (the default local setup), ``var`` as its writable directory."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_LOG_LEVEL": "WARNING",
        "TRACKER_API_ANON_RATE": "off",
        "TRACKER_VAR_DIR": var,
        "DATABASE_URL": database,
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


def gunicorn_command(port: int, workers: int, *options: str) -> list[str]:
    return [
        str(VENV / "bin" / "gunicorn"),
        "config.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        *options,
    ]


def start_server(
    command: list[str],
    *,
    env: dict[str, str],
    log: Path,
    cwd: Path = ROOT,
    ready: Callable[[subprocess.Popen[bytes]], bool],
    what: str = "gunicorn",
) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output in ``log`` and wait up to a minute until ``ready(it)``
    (an ``OSError`` counts as not yet); exit the runner if it dies or never gets there."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}; see {log}")
        try:
            if ready(process):
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    sys.exit(f"{what} did not answer within a minute; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def status_of(port: int, path: str, timeout: float = 5) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
