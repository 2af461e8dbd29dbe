"""Per-host politeness shared by every worker: at most one fetch per host per interval.

Celery's ``rate_limit`` counts per worker and per task type, so it cannot say "one request to
this host every N seconds" across a fleet. The slot lives in Redis instead: ``acquire`` either
reserves the host for ``min_interval`` seconds and returns ``0.0`` (fetch now), or reserves
nothing and returns how many seconds remain until the host is free. The caller should
reschedule for that long rather than sleep, since a sleeping worker holds a pool slot.

The interval is the caller's choice; a sensible one is the larger of robots.txt's Crawl-delay
and a floor of a second or two.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

# Check and reserve in one step: two workers asking at the same moment must not both win.
# The PEXPIRE branch repairs a key left without expiry (set by hand, say), which would
# otherwise block the host forever.
_RESERVE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
    return 0
end
local wait = redis.call('PTTL', KEYS[1])
if wait < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    wait = tonumber(ARGV[1])
end
return wait
"""


class HostPoliteness:
    """Spacing of fetches per host name, enforced in Redis for all processes alike."""

    def __init__(self, redis_client: redis.Redis, *, key_prefix: str = "tracker:polite:") -> None:
        self.redis = redis_client
        self.key_prefix = key_prefix
        self._reserve = redis_client.register_script(_RESERVE_SCRIPT)

    def acquire(self, host: str, min_interval: float) -> float:
        """Reserve ``host`` now and return 0.0, or return the seconds until it is free."""
        name = host.strip().lower().rstrip(".")
        if not name:
            raise ValueError("acquire() needs a host name.")
        if min_interval <= 0:
            return 0.0
        # Round up: a slot a fraction of a millisecond short is not the interval asked for.
        interval_ms = max(1, math.ceil(min_interval * 1000))
        wait_ms = int(self._reserve(keys=[self.key_prefix + name], args=[interval_ms]))
        return wait_ms / 1000
