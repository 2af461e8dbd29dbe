"""kombu's Redis transport, kept usable after Celery 5.7 collects a broken broker connection.

The one workaround for a broker library fault in this project; remove it when the fault is fixed
upstream (``tests/faults/test_redis_outage.py`` fails without it, so it shows when).

The fault: when the worker loses Redis while tasks run, Celery 5.7's consumer first calls
``Connection.collect()``, which tries to close the channel (this fails part-way: Redis is gone)
and then detaches the transport from its connection (``transport.client = None``); it then
calls ``Connection.close()``, which closes the same channel a second time. That second attempt
tries to put the unacknowledged messages back, builds a new Redis connection pool from
``transport.client`` and fails with ``AttributeError: 'NoneType' object has no attribute
'hostname'``. It is not a connection error, so Celery does not ignore it: the worker logs
"Unrecoverable error" and exits, and refresh stops until someone restarts it.

Here the transport keeps its client when told to forget it. The second close then fails with
a connection error (Redis is still down), which Celery ignores as it should, reconnects once
Redis is back, and the tasks still running acknowledge their messages through the old channel.
Keeping the reference only delays its collection until the transport itself is dropped.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Transport(redis.Transport):
    """kombu's Redis transport whose ``client`` survives ``Connection.collect()``."""

    _client: Any = None

    @property
    def client(self) -> Any:
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        if value is not None:
            self._client = value
