"""Real servers a test owns and may stop: redis-server and a PostgreSQL cluster on loopback.

Unlike the suite-wide ``redis_url`` fixture (one server shared by every test, in CI the one
``.ci/run`` started), these belong to one test or module, which may stop, kill and restart them
to see what the service does meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port, need


def wait_for_port(
    port: int, *, alive: subprocess.Popen[bytes] | None = None, within: float = 30
) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline or (alive is not None and alive.poll() is not None):
                raise RuntimeError(f"nothing answered on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class RedisServer:
    """A redis-server on a free loopback port, without persistence: a restart starts empty."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            need("redis-server is not installed (Debian package redis-server)")
        self.binary = binary
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, alive=self.process)
        return self

    def stop(self) -> None:
        """Stop at once, as a crash or a network cut would: clients see their sockets close."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb in a temporary directory), to restart at will.

    When run as root, the server runs as the ``postgres`` user, as PostgreSQL requires.
    """

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            need("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.bin = bin_dir
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.datadir, user="postgres")
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> PostgresCluster:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.datadir} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-w", "-l", str(self.datadir / "log"),
            "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop fast: every session is cut off, as in a restart or a failover."""
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-m", "fast", "stop")

    def close(self) -> None:
        pid_file = self.datadir / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # Immediate shutdown.
            deadline = time.monotonic() + 10
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.datadir, ignore_errors=True)
