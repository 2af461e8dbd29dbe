"""Fixtures for the fetcher: real HTTP servers on loopback and the policies that reach them.

Redis comes from the suite-wide ``redis_client`` fixture (a real redis-server).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from tests.tracker.httpserver import LoopbackServer
from tracker.fetcher import FetchPolicy

USER_AGENT = "ArmsControlTrackerTest/1.0 (+https://tracker.example.org/bot)"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def policy() -> FetchPolicy:
    """The test policy: loopback may be reached, every other non-public range may not."""
    return FetchPolicy(user_agent=USER_AGENT, allowed_networks=("127.0.0.0/8",), deadline=5)


@pytest.fixture
def production_policy() -> FetchPolicy:
    """The defaults, as deployed: no address exceptions at all."""
    return FetchPolicy(user_agent=USER_AGENT, deadline=2)


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """100 MiB of zeros, gzip-compressed to about 100 KB, built in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(100)]
    parts.append(compressor.flush())
    return b"".join(parts)
