"""Flow 1: a curator logs in to the admin; a wrong password is refused with a message."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from .admin_pages import log_in
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_curator_logs_in_after_a_wrong_password(open_tab: OpenTab, admin_user: User) -> None:
    tab = open_tab("login")

    log_in(tab, username=admin_user.username, password="not-the-password")

    assert "Please enter the correct username and password" in tab.text(".errornote")
    assert tab.driver.current_url.startswith(f"{tab.origin}/admin/login/")
    tab.shoot("1-wrong-password")

    log_in(tab, username=admin_user.username, password="password")

    assert tab.driver.current_url == f"{tab.origin}/admin/"
    assert tab.text("#site-name") == "Arms-control proposal tracker"
    assert admin_user.username.upper() in tab.text("#user-tools").upper()
    assert {"Measures", "Sources"} <= {link.text for link in tab.find_all("#content-main th a")}
    tab.shoot("2-signed-in")
