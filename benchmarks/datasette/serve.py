"""The Datasette side of the benchmark: N Datasette processes answering on one port.

    python serve.py --port 8001 --workers 2     # with Datasette's own virtualenv's Python

Runs in Datasette's virtualenv (``benchmarks/datasette/.venv``, made by ``run.py``), never in
the project's. Datasette is one asynchronous process, and its CLI has no workers option. The
equivalent of gunicorn's N sync workers chosen here: N child processes, each a plain Datasette
server (uvicorn, one process, as ``datasette serve`` runs it) on its own listening socket bound
to the same port with ``SO_REUSEPORT``, so the kernel spreads the connections over them.
Uvicorn's own ``--workers`` was measured and not used: over keep-alive connections its worker
processes answered Datasette's table JSON in a steady 40 to 50 ms, four times slower than one
process alone. Its shared socket is made without naming TCP as its protocol, so asyncio leaves
Nagle's algorithm on for the connections it accepts, and each answer's last write waits for the
client's delayed acknowledgement; the comparison would have been with a handicapped Datasette.

What it serves comes from the environment that ``run.py`` sets:

- ``BENCH_DATASETTE_FILE``: the SQLite file, opened immutable (``datasette -i``, how Datasette
  publishes a file that does not change: no change detection, table counts kept);
- ``BENCH_DATASETTE_METADATA``: a JSON metadata file holding the canned query.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any


def application() -> Any:
    from datasette.app import Datasette

    metadata = json.loads(Path(os.environ["BENCH_DATASETTE_METADATA"]).read_text())
    datasette = Datasette(
        immutables=[os.environ["BENCH_DATASETTE_FILE"]],
        metadata=metadata,
        # The table page would otherwise look for facet suggestions on every request.
        settings={"suggest_facets": False},
    )
    return datasette.app()


def worker(port: int) -> None:
    import uvicorn

    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on connections accepted from
    # a socket whose protocol says TCP, and without it keep-alive answers wait out the client's
    # delayed acknowledgement (about 40 ms each).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(application(), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    children = [
        multiprocessing.Process(target=worker, args=(args.port,)) for _ in range(args.workers)
    ]
    for child in children:
        child.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()


if __name__ == "__main__":
    main(sys.argv[1:])
