"""The broker connection as the worker and beat use it: two changes to kombu's.

**Reconnecting at a steady pace.** While the broker is out of reach, kombu tries again after
2 s, then 4 s, 6 s … up to 30 s. After an outage of half a minute the worker was thus still
waiting up to 12 s after Redis came back, while beat's dispatch ticks (each expiring after one
dispatch interval) went by unheard. :class:`Connection` waits 1 s, then a second longer each
try, up to one dispatch interval (``TRACKER_DISPATCH_EVERY``, at most kombu's 30 s): a worker
reconnects within one interval of the broker's return, in time for the next tick. Celery has no
setting for this; ``config/celery.py`` installs it through the app's ``amqp`` class.

**A Redis transport that survives the worker losing Redis** (:class:`Transport`). The one
workaround for a broker library fault in this project; remove it when the fault is fixed
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

import kombu
from celery.app import amqp
from django.conf import settings
from kombu.transport import redis

# kombu's longest wait between two tries to reach the broker.
RECONNECT_MAX = 30.0


class Connection(kombu.Connection):
    """kombu's connection, trying an unreachable broker at least once a dispatch interval."""

    def ensure_connection(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("interval_start", 1)
        kwargs.setdefault("interval_step", 1)
        kwargs.setdefault("interval_max", min(RECONNECT_MAX, settings.TRACKER_DISPATCH_EVERY))
        return super().ensure_connection(*args, **kwargs)


class AMQP(amqp.AMQP):
    """Celery's broker plumbing with :class:`Connection` for every connection the app opens."""

    Connection = Connection


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
