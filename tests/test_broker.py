"""The broker connections of the worker and beat (``config/broker.py``): an unreachable broker is
tried again at a steady pace, never less often than once a dispatch interval."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.exceptions import OperationalError

from config.broker import Connection
from config.celery import app
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("dispatch_every", "waits"),
    [(2, [1, 2, 2]), (60, [1, 2, 3])],  # kombu alone waits 2, 4, 6 seconds
)
def test_an_unreachable_broker_is_tried_again_at_least_once_a_dispatch_interval(
    settings: Any, monkeypatch: pytest.MonkeyPatch, dispatch_every: int, waits: list[int]
) -> None:
    settings.TRACKER_DISPATCH_EVERY = dispatch_every
    monkeypatch.setattr("kombu.utils.functional.sleep", lambda seconds: None)
    seen: list[float] = []
    connection = app.connection_for_read(f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(connection, Connection)
    with connection, pytest.raises(OperationalError):
        connection.ensure_connection(lambda error, wait: seen.append(wait), 3)
    assert seen == waits
