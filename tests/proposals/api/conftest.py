"""Clients of the API as its three kinds of caller see it: anonymous, a signed-in user without
permissions, and a curator (member of the "curators" group made by a migration)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from knox.models import AuthToken
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    # Throttle history is per process; a test must not inherit another test's requests.
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def _token_client(user: User) -> APIClient:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def reader_user(db: None) -> User:
    return User.objects.create_user("reader", password="a long reader passphrase")


@pytest.fixture
def curator_user(db: None) -> User:
    user = User.objects.create_user("curator", password="a long curator passphrase")
    user.groups.add(Group.objects.get(name="curators"))
    return user


@pytest.fixture
def reader(reader_user: User) -> APIClient:
    """Authenticated with a token, but without any model permission."""
    return _token_client(reader_user)


@pytest.fixture
def curator(curator_user: User) -> APIClient:
    return _token_client(curator_user)
