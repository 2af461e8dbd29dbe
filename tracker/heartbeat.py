"""When the periodic work last happened: beat's dispatch tick and the last recorded check.

Kept in the shared cache (Redis, or the database cache without it) under one key each, so
``/health/`` can tell a stalled beat or worker without scanning any table. Writing a heartbeat
never fails the work it records: a cache error is logged and ignored.
"""

from __future__ import annotations

import datetime
import logging

from django.core.cache import caches
from django.utils import timezone

logger = logging.getLogger(__name__)

DISPATCH = "dispatch"
CHECK = "check"


def _key(name: str) -> str:
    return f"tracker:heartbeat:{name}"


def beat(name: str, *, at: datetime.datetime | None = None) -> None:
    try:
        caches["default"].set(_key(name), (at or timezone.now()).isoformat(), timeout=None)
    except Exception:  # the cache being down must not fail the dispatch or the checks
        logger.warning("Could not record the %s heartbeat: the cache is unavailable.", name)


def last(name: str) -> datetime.datetime | None:
    """When ``name`` last happened (``None``: never, as far as the cache knows). Raises when
    the cache cannot be read."""
    value = caches["default"].get(_key(name))
    return datetime.datetime.fromisoformat(value) if value else None
