"""Flow 4: a curator checks a source now, from the sources list, and sees its health and check
history on its page: a real Celery worker on a real Redis fetches a page from a loopback
server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery import Celery
from django.contrib.auth.models import User

from tests.factories import SourceFactory
from tests.tracker.httpserver import LoopbackServer, Reply
from tracker.models import Source

from .admin_pages import readonly, run_list_action, signed_in
from .browser import Tab
from .conftest import OpenTab

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ARTICLE = (Path(__file__).parent.parent / "tracker" / "pages" / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}


def reload_until(tab: Tab, field: str, wanted: str, *, within: float = 30) -> None:
    """Reload the page until the read-only ``field`` reads ``wanted``, as a curator would."""
    deadline = time.monotonic() + within
    while readonly(tab, field) != wanted:
        if time.monotonic() > deadline:
            pytest.fail(f"{field} still reads {readonly(tab, field)!r} after {within} s")
        time.sleep(0.5)
        tab.reload()


def test_a_curator_checks_a_source_now_and_reads_its_history(
    open_tab: OpenTab, admin_user: User, worker: Celery, server: LoopbackServer
) -> None:
    server.route("/statements/launches", Reply(body=ARTICLE, headers=HTML))
    source = SourceFactory(url=server.url("/statements/launches"), title="Statement on launches")
    tab = open_tab("source-check")
    signed_in(tab, admin_user)
    tab.open("/admin/tracker/source/")
    assert "Not checked yet" in tab.text("#result_list")

    run_list_action(tab, rows=["Statement on launches"], action="Check now")

    assert "Queued 1 source for a check" in tab.text(".messagelist .success")
    tab.shoot("1-queued")
    tab.open(f"/admin/tracker/source/{source.pk}/change/")
    reload_until(tab, "health", "OK")

    assert readonly(tab, "http_status") == "200"
    history = tab.find(".field-recent_checks table")
    rows = [
        [cell.text for cell in row.find_elements("css selector", "td")]
        for row in history.find_elements("css selector", "tr")[1:]
    ]
    assert [(outcome, status) for _, outcome, status, _, _ in rows] == [
        ("OK, content unchanged", "200")
    ]
    assert server.paths().count("/statements/launches") == 1
    source.refresh_from_db()
    assert source.health == Source.Health.OK
    tab.shoot("2-health-and-history", at=".field-health")
