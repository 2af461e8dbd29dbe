"""Flow 4: a curator checks a source now with the button on its page, and sees its health badge,
its check history and its picture there; then checks it again from the sources list and reads
what changed between the two checks. A real Celery worker on a real Redis fetches the page from
a loopback server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery
from django.contrib.auth.models import User

from tests.factories import SourceFactory
from tests.tracker.httpserver import LoopbackServer, Reply
from tracker.models import Source

from .admin_pages import (
    check_history,
    check_now,
    health_shown,
    run_list_action,
    signed_in,
    table_rows,
)
from .browser import Tab
from .conftest import OpenTab

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ARTICLE = (Path(__file__).parent.parent / "tracker" / "pages" / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}


def reload_until(tab: Tab, condition: Callable[[], bool], *, within: float = 30) -> None:
    """Reload the page until ``condition`` holds, as a curator would."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not there after {within} s: health {health_shown(tab)!r}")
        time.sleep(0.5)
        tab.reload()


def test_a_curator_checks_a_source_now_and_reads_its_history(
    open_tab: OpenTab, admin_user: User, worker: Celery, server: LoopbackServer
) -> None:
    server.route("/statements/launches", Reply(body=ARTICLE, headers=HTML))
    source = SourceFactory(url=server.url("/statements/launches"), title="Statement on launches")
    tab = open_tab("source-check")
    signed_in(tab, admin_user)
    tab.open(f"/admin/tracker/source/{source.pk}/change/")
    assert health_shown(tab) == "Not checked yet"
    assert tab.text(".field-recent_checks .readonly") == "Not checked yet."
    tab.shoot("1-not-checked-yet", at="#content-main")

    check_now(tab)

    assert tab.driver.current_url.endswith(f"/admin/tracker/source/{source.pk}/change/")
    assert "Queued this source for a check" in tab.text(".messagelist .success")
    tab.shoot("2-queued")
    reload_until(tab, lambda: health_shown(tab) == "OK")

    assert tab.text(".field-http_status .readonly") == "200"
    assert [(outcome, status) for _, outcome, status, _, _ in check_history(tab)] == [
        ("OK (text as before, or read for the first time)", "200")
    ]
    assert server.paths().count("/statements/launches") == 1
    source.refresh_from_db()
    assert source.health == Source.Health.OK
    tab.shoot("3-health-and-history", at=".field-health_status")

    # Several at once: the list's action, here for this one source.
    tab.open("/admin/tracker/source/")
    run_list_action(tab, rows=["Statement on launches"], action="Check now")
    assert "Queued 1 source for a check" in tab.text(".messagelist .success")
    tab.shoot("4-queued-from-the-list")
    tab.open(f"/admin/tracker/source/{source.pk}/change/")
    reload_until(tab, lambda: len(check_history(tab)) == 2)

    assert [outcome for _, outcome, _, _, _ in check_history(tab)] == [
        "OK (text as before, or read for the first time)",
        "OK (text as before, or read for the first time)",
    ]
    compared = {row[0]: row[1:] for row in _compared(tab)}
    assert compared["HTTP status"] == ["200", "200", "same"]
    assert compared["content hash"][2] == "same"
    assert server.paths().count("/statements/launches") == 2
    tab.shoot("5-latest-change", at=".field-latest_change")


def _compared(tab: Tab) -> list[list[str]]:
    """The "latest change" table: what, before, after, changed or same."""
    return [
        [str(row.find_element("css selector", "th").text).strip(), *cells]
        for row, cells in zip(
            tab.find_all(".field-latest_change table tbody tr"),
            table_rows(tab, ".field-latest_change table"),
            strict=True,
        )
    ]
