"""Password logins resist guessing: failures count against the client's address and against the
account, on the API and the admin alike, and a throttled or locked-out login is answered before
the password is looked at, so a right and a wrong password get the very same answer."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from proposals.api.throttling import LoginThrottle

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
RIGHT, WRONG = "a long curator passphrase", "guess"
LIMIT = 3
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def small_limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def login(username: str, password: str, address: str = "192.0.2.1") -> Any:
    return APIClient().post(
        LOGIN, HTTP_AUTHORIZATION=basic(username, password), REMOTE_ADDR=address
    )


def fail(times: int, *, username: str = "curator", addresses: list[str] | None = None) -> None:
    for n in range(times):
        address = addresses[n % len(addresses)] if addresses else "192.0.2.1"
        assert login(username, WRONG, address).status_code in (401, 429)


def assert_same_refusal(wrong: Any, right: Any) -> None:
    assert wrong.status_code == right.status_code == 429
    assert wrong.content == right.content
    assert wrong["Retry-After"] == right["Retry-After"]
    assert int(right["Retry-After"]) > 0


@pytest.mark.usefixtures("curator_user", "frozen")
def test_failures_below_the_limit_are_401_and_the_right_password_still_works() -> None:
    fail(LIMIT - 1)
    assert login("curator", RIGHT).status_code == 200
    assert AuthToken.objects.count() == 1


@pytest.mark.usefixtures("curator_user", "frozen")
def test_the_failure_that_reaches_the_limit_and_every_attempt_after_it_are_429() -> None:
    codes = [login("curator", WRONG).status_code for _ in range(LIMIT)]
    assert codes == [401] * (LIMIT - 1) + [429]

    wrong, right = login("curator", WRONG), login("curator", RIGHT)

    assert_same_refusal(wrong, right)
    assert right["Retry-After"] == str(15 * 60)
    assert "Too many failed logins" in right.json()["detail"]
    assert not AuthToken.objects.exists()


@pytest.mark.usefixtures("curator_user", "frozen")
def test_failures_for_one_account_from_many_addresses_lock_the_account() -> None:
    fail(LIMIT, addresses=["192.0.2.1", "192.0.2.2", "192.0.2.3"])

    wrong = login("curator", WRONG, "198.51.100.7")
    right = login("curator", RIGHT, "198.51.100.7")

    assert_same_refusal(wrong, right)


@pytest.mark.usefixtures("curator_user", "frozen")
def test_failures_from_one_address_for_many_accounts_lock_the_address() -> None:
    for name in ("alice", "bob", "carol"):
        fail(1, username=name)

    assert_same_refusal(login("curator", WRONG), login("curator", RIGHT))
    # The account itself was never guessed at: from elsewhere it logs in.
    assert login("curator", RIGHT, "198.51.100.7").status_code == 200


@pytest.mark.usefixtures("curator_user")
def test_a_lockout_ends_the_cool_off_after_the_last_failure(frozen: Any) -> None:
    fail(LIMIT)
    frozen.shift(datetime.timedelta(minutes=10))
    refused = login("curator", RIGHT)
    assert refused.status_code == 429
    # Attempts during the lockout do not extend it: five minutes are left.
    assert refused["Retry-After"] == str(5 * 60)

    frozen.shift(datetime.timedelta(minutes=5, seconds=1))

    assert login("curator", RIGHT).status_code == 200


@pytest.mark.usefixtures("curator_user", "frozen")
def test_the_login_rate_counts_every_attempt_before_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "2/minute"})
    assert login("curator", RIGHT).status_code == 200
    assert login("curator", RIGHT).status_code == 200

    assert_same_refusal(login("curator", WRONG), login("curator", RIGHT))
    assert AuthToken.objects.count() == 2


@pytest.mark.usefixtures("curator_user", "frozen")
def test_x_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    # Without trusted proxies X-Forwarded-For is the client's own say: ignored.
    for n in range(LIMIT):
        APIClient().post(
            LOGIN,
            HTTP_AUTHORIZATION=basic(f"user{n}", WRONG),
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert login("curator", RIGHT, "127.0.0.1").status_code == 429


# --- the admin's login form ------------------------------------------------------------------


@pytest.fixture
def admin_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("admin", password=RIGHT)


def admin_login(password: str, address: str = "192.0.2.1", username: str = "admin") -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


@pytest.mark.usefixtures("admin_user", "frozen")
def test_the_admin_login_locks_out_after_the_limit_whatever_the_password() -> None:
    for _ in range(LIMIT - 1):
        assert admin_login(WRONG).status_code == 200  # the form again, with its error
    assert admin_login(WRONG).status_code == 429

    wrong, right = admin_login(WRONG), admin_login(RIGHT)

    assert_same_refusal(wrong, right)
    assert "Too many failed logins" in right.content.decode()


@pytest.mark.usefixtures("admin_user", "frozen")
def test_admin_and_api_failures_count_together_against_the_account() -> None:
    admin_login(WRONG, "192.0.2.1")
    admin_login(WRONG, "192.0.2.2")
    login("admin", WRONG, "192.0.2.3")

    assert admin_login(RIGHT, "198.51.100.7").status_code == 429
    assert login("admin", RIGHT, "198.51.100.8").status_code == 429


@pytest.mark.usefixtures("admin_user", "frozen")
def test_the_admin_login_still_works_below_the_limit() -> None:
    admin_login(WRONG)
    response = admin_login(RIGHT)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
