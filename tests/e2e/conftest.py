"""The end-to-end stack: the service on a live server on loopback, chromium driving it, and,
for the flows that need them, a real Celery worker on a real Redis and page servers on
loopback (the fixtures of ``tests/tracker``, reused).

Every browser a flow opens is judged when the flow ends, whatever the flow asserted itself:
no Content-Security-Policy violation, no console error, no request off the live server. A
flow that failed leaves a screenshot of where it stopped (``failure-<test>.png``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from proposals.models import Category

# Fixtures of the refresh tests, reused as they are: a Celery app as the current one, the
# settings that let the checker reach loopback, a page server, and a worker on Redis.
from tests.tracker.conftest import celery_app, loopback_settings, server  # noqa: F401
from tests.tracker.test_worker import worker  # noqa: F401

from .browser import Tab, artifacts_dir, chromium

OpenTab = Callable[..., Tab]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[OUTCOME] = report
    return report


OUTCOME = pytest.StashKey[pytest.TestReport]()

# A flow takes seconds; one still running after this is stuck and fails with every thread's
# stack, so that the suite goes on and the lock or the lost reply can be read from the report.
FLOW_TIMEOUT_SECONDS = 180


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(FLOW_TIMEOUT_SECONDS))


@pytest.fixture
def open_tab(request: pytest.FixtureRequest, live_server: Any, settings: Any) -> Iterator[OpenTab]:
    """Opens a browser on the live server for the flow: ``open_tab("login")``. Each call is a
    browser of its own (its own cookies: another curator)."""
    # Whatever a flow queues lands in the test's Celery app, never in a developer's local queue.
    request.getfixturevalue("celery_app")
    # The live server speaks plain HTTP; the production settings mark cookies HTTPS-only.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    tabs: list[Tab] = []
    with ExitStack() as browsers:

        def open_one(flow: str) -> Tab:
            tab = Tab(browsers.enter_context(chromium()), live_server.url, flow)
            tabs.append(tab)
            return tab

        yield open_one
        report = request.node.stash.get(OUTCOME, None)
        if report is not None and report.failed:
            artifacts_dir().mkdir(parents=True, exist_ok=True)
            for number, tab in enumerate(tabs):
                name = f"failure-{request.node.name}-{number}.png"
                tab.driver.save_screenshot(str(artifacts_dir() / name))
        elif report is not None and report.passed:
            for tab in tabs:
                tab.assert_clean()


@pytest.fixture
def categories() -> None:
    """The fixed categories, which a migration writes and a transactional test's flush empties."""
    for code in Category.Code:
        Category.objects.get_or_create(code=code)
