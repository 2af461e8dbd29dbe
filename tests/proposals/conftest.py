from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient


@pytest.fixture
def anonymous() -> Iterator[APIClient]:
    """A reader with no account, its throttle history cleared (it is kept per process)."""
    caches["throttle"].clear()
    yield APIClient()
    caches["throttle"].clear()
