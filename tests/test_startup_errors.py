"""A bad environment value stops every entry point with one line that names the variable, says
what is wrong with the value and gives an example — before any command (a migration) runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ENTRY_POINTS = {
    "manage.py": [sys.executable, "manage.py", "migrate", "--no-input"],
    "wsgi": [sys.executable, "-c", "import config.wsgi"],
    "celery": [sys.executable, "-c", "import config.celery"],
}

BAD_VALUES = [
    ("DATABASE_URL", "nonsense", "DATABASE_URL=postgres://"),
    ("DATABASE_URL", "mysql://u@localhost/x", "DATABASE_URL=postgres://"),
    ("DATABASE_URL", "postgres://localhost:5432", "DATABASE_URL=postgres://"),
    ("REDIS_URL", "nonsense", "REDIS_URL=redis://localhost:6379/0"),
    ("REDIS_URL", "redis://localhost:port/0", "REDIS_URL=redis://localhost:6379/0"),
    ("REDIS_URL", "unix:///run/redis.sock", "REDIS_URL=redis://localhost:6379/0"),
    ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG=false"),
    ("TRACKER_REFRESH_LEASE", "ten", "TRACKER_REFRESH_LEASE=600"),
    ("TRACKER_REFRESH_LEASE", "120", "TRACKER_REFRESH_LEASE=600"),  # not past the time limit
    ("TRACKER_FETCH_DEADLINE", "soon", "TRACKER_FETCH_DEADLINE=30"),
    ("TRACKER_FETCH_ALLOWED_PORTS", "http", "TRACKER_FETCH_ALLOWED_PORTS=80,443"),
    (
        "TRACKER_CORS_ALLOWED_ORIGINS",
        "analysis.example.org",
        "TRACKER_CORS_ALLOWED_ORIGINS=https://",
    ),
    ("TRACKER_LOG_FORMAT", "xml", "TRACKER_LOG_FORMAT=json"),
    ("TRACKER_API_LIST_CACHE_MB", "lots", "TRACKER_API_LIST_CACHE_MB=16"),
    ("TRACKER_API_LIST_CACHE_MB", "-1", "TRACKER_API_LIST_CACHE_MB=16"),
    ("TRACKER_API_EXACT_COUNT_LIMIT", "all", "TRACKER_API_EXACT_COUNT_LIMIT=1000"),
    ("TRACKER_API_EXACT_COUNT_LIMIT", "0", "TRACKER_API_EXACT_COUNT_LIMIT=1000"),
]


def start(command: list[str], tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TRACKER_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_SETTINGS_MODULE="config.settings",
        TRACKER_VAR_DIR=str(tmp_path),
        **overrides,
    )
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(("name", "value", "example"), BAD_VALUES)
def test_manage_py_stops_with_one_line_before_migrating(
    tmp_path: Path, name: str, value: str, example: str
) -> None:
    result = start(ENTRY_POINTS["manage.py"], tmp_path, **{name: value})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: {name} ")
    assert repr(value) in lines[0]
    assert f"e.g. {example}" in lines[0]
    assert not (tmp_path / "tracker.sqlite3").exists()  # nothing migrated


@pytest.mark.parametrize("entry", ["wsgi", "celery"])
def test_the_web_and_worker_entry_points_stop_the_same_way(tmp_path: Path, entry: str) -> None:
    result = start(ENTRY_POINTS[entry], tmp_path, REDIS_URL="nonsense")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: REDIS_URL must be a Redis URL, not 'nonsense' "
        "(e.g. REDIS_URL=redis://localhost:6379/0)"
    ]


def test_good_values_start(tmp_path: Path) -> None:
    result = start(
        [sys.executable, "manage.py", "check"],
        tmp_path,
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr


def test_a_password_in_a_bad_database_url_is_not_printed(tmp_path: Path) -> None:
    result = start(
        ENTRY_POINTS["manage.py"], tmp_path, DATABASE_URL="oracle://scott:tiger@db.example/x"
    )
    assert result.returncode == 2
    assert "tiger" not in result.stderr
    assert "'oracle://scott:***@db.example/x'" in result.stderr
