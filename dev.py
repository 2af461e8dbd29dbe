#!/usr/bin/env python3
"""The two commands of the quick start, needing nothing but Python 3.11.

    python3 dev.py run    # install, migrate, load the demo data, serve API + worker + beat
    python3 dev.py test   # install, then lint, type-check, check migrations, run every test
    python3 dev.py screenshots  # run the browser flows, refresh docs/images/curation/

Both create ``.venv`` and install the project into it when ``pyproject.toml`` has changed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def install() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    stamp.write_text(wanted)


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run() -> None:
    install()
    env = base_env()
    env.setdefault("DJANGO_DEBUG", "true")
    manage: list[str | Path] = [PYTHON, "manage.py"]
    sh(*manage, "migrate", "--no-input", env=env)
    sh(*manage, "createcachetable", env=env)
    sh(*manage, "load_demo", env=env)
    sh(*manage, "ensure_local_admin", env=env)
    port = env.setdefault("TRACKER_PORT", "8000")
    print(f"\nServing http://127.0.0.1:{port}/admin/ and http://127.0.0.1:{port}/api/v1/ ", end="")
    print("with a Celery worker and beat. Stop with Ctrl-C.\n", flush=True)
    os.execve(
        str(BIN / "honcho"),
        [str(BIN / "honcho"), "--procfile", "Procfile.local", "start"],
        env,
    )


def test() -> None:
    install()
    env = base_env()
    # Tests run with production-like settings; the key only has to be non-empty and unshared.
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    sh(BIN / "ruff", "check", ".", env=env)
    sh(BIN / "ruff", "format", "--check", ".", env=env)
    sh(BIN / "mypy", ".", env=env)
    sh(PYTHON, "manage.py", "makemigrations", "--check", "--dry-run", env=env)
    sh(PYTHON, "-m", "pytest", *sys.argv[2:], env=env)


def screenshots() -> None:
    """Run the end-to-end flows and copy their screenshots, made small, into the docs."""
    install()
    artifacts = ROOT / "var" / "e2e-docs"
    for old in artifacts.glob("*.png"):
        old.unlink()
    env = base_env(E2E_ARTIFACTS=str(artifacts))
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    sh(PYTHON, "-m", "pytest", "tests/e2e", *sys.argv[2:], env=env)
    target = ROOT / "docs" / "images" / "curation"
    sh(PYTHON, "-m", "tests.e2e.screenshots", artifacts, target, env=env)


if __name__ == "__main__":
    commands = {"run": run, "test": test, "screenshots": screenshots}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        usage = "run | test | screenshots [pytest arguments]"
        sys.exit(f"usage: python3 {Path(__file__).name} {usage}")
    commands[sys.argv[1]]()
