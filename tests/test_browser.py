"""In a real browser (Debian's chromium, driven by chromedriver): the docs render the API's
operations, and the admin's scripts work (autocomplete, inlines, the add-related popup), with
not one Content-Security-Policy violation or script error on the way; the curation pages load
likewise, and their lists fit a 1366-pixel window.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from proposals.models import Actor
from tests.e2e.browser import chromium, problems, sign_in, wait_for, watch
from tests.factories import CitationFactory, SourceCheckFactory, SourceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(settings: Any) -> Iterator[Any]:
    # The live server speaks plain HTTP; the production settings mark cookies HTTPS-only.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    with chromium() as driver:
        yield driver


def test_the_docs_render_every_operation_from_this_service(browser: Any, live_server: Any) -> None:
    from selenium.webdriver.common.by import By

    watch(browser)
    browser.get(f"{live_server.url}/api/docs/")

    operations = wait_for(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    paths = {element.get_attribute("data-path") for element in operations}
    assert {"/api/v1/measures/", "/api/v1/sources/", "/api/v1/matrix/"} <= paths
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name);"
    )
    assert loaded
    assert [url for url in loaded if not url.startswith(f"{live_server.url}/")] == []
    assert problems(browser) == []


def test_the_admin_forms_work_under_the_policy(
    browser: Any, live_server: Any, admin_user: User
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    sign_in(browser, live_server.url, admin_user)
    watch(browser)

    # A form with autocomplete widgets, a two-box selector and inlines.
    browser.get(f"{live_server.url}/admin/proposals/measure/add/")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".select2-container"))
    assert browser.find_elements(By.CSS_SELECTOR, ".selector-available")  # filter_horizontal
    rows = len(browser.find_elements(By.CSS_SELECTOR, "#events-group .dynamic-events"))
    browser.find_element(By.CSS_SELECTOR, "#events-group .add-row a").click()
    wait_for(
        browser,
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#events-group .dynamic-events")) == rows + 1
        ),
    )
    assert problems(browser) == []

    # The add-related popup: a new actor made there is chosen in the form that opened it.
    browser.get(f"{live_server.url}/admin/proposals/actor/add/")
    form_window = browser.current_window_handle
    browser.find_element(By.ID, "add_id_successor").click()
    wait_for(browser, lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(next(h for h in browser.window_handles if h != form_window))
    wait_for(browser, lambda d: d.find_elements(By.ID, "id_code"))
    browser.find_element(By.ID, "id_code").send_keys("NZL")
    browser.find_element(By.ID, "id_name").send_keys("New Zealand")
    Select(browser.find_element(By.ID, "id_kind")).select_by_value(Actor.Kind.STATE)
    browser.find_element(By.NAME, "_save").click()
    wait_for(browser, lambda d: len(d.window_handles) == 1)
    browser.switch_to.window(form_window)

    created = Actor.objects.get(code="NZL")
    chosen = wait_for(
        browser, lambda d: d.find_element(By.ID, "id_successor").get_attribute("value")
    )
    assert chosen == str(created.pk)
    assert problems(browser) == []


def test_the_source_pages_dashboard_and_token_page_run_under_the_policy(
    browser: Any, live_server: Any, admin_user: User
) -> None:
    from selenium.webdriver.common.by import By

    source = SourceFactory(health="changed")
    SourceCheckFactory.create_batch(2, source=source)
    CitationFactory(source=source)
    SourceFactory(
        url="https://www.example-ministry-of-foreign-affairs.gov/press/statements/2026/11/"
        + "a-very-long-path-segment-" * 6,
        title="",
    )
    sign_in(browser, live_server.url, admin_user)
    watch(browser)
    # A laptop's window: the source list fits without scrolling sideways.
    browser.set_window_size(1366, 768)
    browser.get(f"{live_server.url}/admin/tracker/source/")
    wait_for(browser, lambda d: d.find_elements(By.ID, "result_list"))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth;"
    )
    with_badges = [
        f"/admin/tracker/source/{source.pk}/change/",
        "/admin/tracker/source/",
        "/admin/dashboard/",
    ]
    for page in [*with_badges, "/admin/", "/admin/matrix/?category=hotline", "/admin/tokens/"]:
        browser.get(f"{live_server.url}{page}")
        wait_for(browser, lambda d: d.find_elements(By.ID, "content-main"))
        if page in with_badges:
            assert browser.find_elements(By.CSS_SELECTOR, ".badge"), page
    browser.find_element(By.CSS_SELECTOR, "#make-token input[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "new-token-value"))

    assert problems(browser) == []


def test_the_curation_pages_load_under_the_policy_and_fit_a_1366_pixel_window(
    browser: Any, live_server: Any, admin_user: User
) -> None:
    import datetime

    from django.urls import reverse

    from proposals.models import Citation
    from tests.factories import EventFactory, MeasureFactory, PositionFactory, SourceFactory

    measure = MeasureFactory(
        title="Agreement on notifications of launches of intercontinental ballistic missiles "
        "and submarine-launched ballistic missiles",
        categories=["launch_notification", "transparency", "incident_prevention"],
        venue="Bilateral talks between the foreign ministries",
        parameters={"range_km": [500, 5500], "note": "Mongol Uls"},
    )
    usa = Actor.objects.create(code="USA", name="United States", aliases=["Mongol Uls"])
    event = EventFactory(
        measure=measure, kind="entered_into_force", date=datetime.date(1988, 5, 31)
    )
    Citation.objects.create(source=SourceFactory(health="broken"), event=event, locator="art. 1")
    PositionFactory(measure=measure, actor=usa, stance="endorses")
    sign_in(browser, live_server.url, admin_user)
    browser.set_window_size(1366, 768)
    watch(browser)
    pages = [
        reverse("admin:proposals_measure_changelist"),
        reverse("admin:proposals_event_changelist"),
        reverse("admin:proposals_position_changelist"),
        reverse("admin:proposals_measure_change", args=[measure.pk]),
        reverse("admin:proposals_measure_add"),
        reverse("admin:proposals_actor_change", args=[usa.pk]),
        reverse("admin:proposals_event_change", args=[event.pk]) + "?from_measure=1",
    ]
    for page in pages:
        browser.get(f"{live_server.url}{page}")
        wait_for(browser, lambda d: d.execute_script("return document.readyState") == "complete")
        assert problems(browser) == [], page
        if "changelist" in page or page.endswith(("/event/", "/position/", "/measure/")):
            # Nothing to scroll sideways: every column fits the window.
            overflow = browser.execute_script(
                "const list = document.querySelector('#changelist-form .results');"
                "return [list.scrollWidth, list.clientWidth];"
            )
            widths = browser.execute_script(
                "return [...document.querySelectorAll('#result_list thead th')]"
                ".map((th) => th.className + ': ' + Math.round(th.getBoundingClientRect().width));"
            )
            assert overflow[0] <= overflow[1], (page, widths)
