"""Throttles of the API. They keep their request history in the ``throttle`` cache (see
settings): on the database cache every request would cost queries.

Throttling spreads load and slows password guessing; it is not a security boundary (the check
and the write of the history are not atomic).
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle


class AnonymousThrottle(AnonRateThrottle):
    """Per-address limit for anonymous clients (rate: ``TRACKER_API_ANON_RATE``)."""

    def __init__(self) -> None:
        self.cache = caches["throttle"]
        super().__init__()


class LoginThrottle(ScopedRateThrottle):
    """Per-address limit at the login endpoint (rate: ``TRACKER_API_LOGIN_RATE``)."""

    def __init__(self) -> None:
        self.cache = caches["throttle"]
        super().__init__()
