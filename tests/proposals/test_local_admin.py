"""`manage.py ensure_local_admin`, run by the quick start: the password it prints is the one
that works, on whichever database; TRACKER_ADMIN_PASSWORD is applied when it changes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def local(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("TRACKER_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("TRACKER_ADMIN_USER", raising=False)
    return settings


def run() -> str:
    out = io.StringIO()
    call_command("ensure_local_admin", stdout=out)
    return out.getvalue().strip()


def logs_in(password: str) -> bool:
    return bool(get_user_model().objects.get(username="admin").check_password(password))


def printed_password(line: str) -> str:
    return line.split(" / ", 1)[1].split(" ")[0]


def test_the_printed_password_logs_in_then_and_later(local: Any) -> None:
    created = run()
    assert created.startswith("Admin account created: admin / ")
    password = printed_password(created)
    assert logs_in(password)
    assert run() == f"Admin account: admin / {password}"


def test_an_account_from_another_database_is_not_given_its_password(local: Any) -> None:
    # The account exists here, but the password file of this database was never written:
    # another database's file must not be printed as this one's.
    get_user_model().objects.create_superuser(username="admin", email="", password="own secret")
    (local.VAR_DIR / "admin-password.txt").write_text("stale\n")

    line = run()

    assert "stale" not in line
    assert "TRACKER_ADMIN_PASSWORD" in line


def test_a_changed_admin_password_variable_is_applied(
    local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_ADMIN_PASSWORD", "first-choice")
    run()
    monkeypatch.setenv("TRACKER_ADMIN_PASSWORD", "second-choice")

    assert run() == "Admin account: admin / second-choice (password updated)"
    assert logs_in("second-choice")
    assert not logs_in("first-choice")
