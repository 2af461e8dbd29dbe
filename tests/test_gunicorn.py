"""The production web process: gunicorn with config/gunicorn.py logs one JSON access line per
request, carrying the request id the response hands back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_an_access_line_per_request_with_its_request_id(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TRACKER_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        TRACKER_VAR_DIR=str(tmp_path),
        TRACKER_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )
    log = (tmp_path / "out.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "out.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live/?probe=1") as response:
            request_id = response.headers["X-Request-ID"]
            assert response.status == 200
        time.sleep(0.3)  # the access line is written after the response
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    output = (tmp_path / "out.log").read_text().splitlines()
    # Every line is JSON, gunicorn's own included (warnings of Python itself aside).
    lines = [json.loads(line) for line in output if not line.startswith((" ", "/"))]
    assert any(line.get("logger") == "gunicorn.error" for line in lines)
    (access,) = [line for line in lines if line.get("event") == "access"]
    assert (access["method"], access["path"], access["query"], access["status"]) == (
        "GET",
        "/health/live/",
        "probe=1",
        200,
    )
    assert access["request_id"] == request_id
    finished = [line for line in lines if line.get("event") == "request_finished"]
    assert [line["request_id"] for line in finished] == [request_id]
