"""Flow 9: the pictures on the curators' pages: the timeline on a measure's page, the chart of
check outcomes on a source's page and on the dashboard. Each is loaded by the browser, says
what it shows (its alt), and, read back as the browser got it, is an SVG drawing the test's own
measure, actors and checks. The stance matrix heatmap (``/api/v1/matrix.svg``) is on no admin
page: it is opened as the API serves it."""

from __future__ import annotations

import datetime
from xml.etree import ElementTree as ET

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from common import palette
from proposals.models import Event, Position
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceCheckFactory,
    SourceFactory,
)
from tracker.models import SourceCheck

from .admin_pages import fetch_text, signed_in
from .browser import Tab, broken_images
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)

SVG = "{http://www.w3.org/2000/svg}"


def picture(tab: Tab, css: str) -> tuple[str, ET.Element]:
    """The alt of the loaded <img> ``css`` and its SVG, fetched as the page's own request."""
    img = tab.wait_css(css)
    tab.wait(lambda d: d.execute_script("return arguments[0].complete", img))
    assert tab.driver.execute_script("return arguments[0].naturalWidth", img) > 0, css
    text = fetch_text(tab, img.get_attribute("src"))
    svg = ET.fromstring(text)  # noqa: S314  # the service's own output
    assert svg.tag == f"{SVG}svg", text[:200]
    return str(img.get_attribute("alt")), svg


def groups(svg: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == kind]


def test_the_pictures_show_the_measure_and_the_sources_checks(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    usa, sun = (
        ActorFactory(code="USA", name="United States"),
        ActorFactory(code="SUN", name="Soviet Union"),
    )
    measure = MeasureFactory(slug="hotline", title="Direct communication link", scope="bilateral")
    EventFactory(measure=measure, kind=Event.Kind.SIGNED, date=datetime.date(1963, 6, 20))
    EventFactory(
        measure=measure, actor=usa, kind=Event.Kind.RATIFIED, date=datetime.date(1963, 8, 30)
    )
    # Dated: the factory's default date moves forward with every position the session makes.
    PositionFactory(
        measure=measure,
        actor=sun,
        stance=Position.Stance.ENDORSES,
        date=datetime.date(1963, 6, 20),
    )
    source = SourceFactory(title="Memorandum of understanding", is_primary=True)
    CitationFactory(source=source, measure=measure)
    now = timezone.now()
    SourceCheckFactory(source=source, checked_at=now - datetime.timedelta(days=1))
    SourceCheckFactory(
        source=source, checked_at=now, outcome=SourceCheck.Outcome.GONE, http_status=404
    )
    tab = open_tab("pictures")
    signed_in(tab, admin_user)

    # The measure's timeline: the measure's lane, then one per actor of its events.
    tab.open(f"/admin/proposals/measure/{measure.pk}/change/")
    alt, svg = picture(tab, ".field-timeline img")
    assert alt.startswith("Timeline of Direct communication link: 2 events from 1963-06-20")
    lanes = groups(svg, "lane")
    assert [(g.get("data-lane"), g.get("data-actor")) for g in lanes] == [
        ("measure", None),
        ("actor", "USA"),
    ]
    tab.shoot("1-timeline", at=".field-timeline")

    # The source's checks by day: yesterday's OK, today's gone.
    tab.open(f"/admin/tracker/source/{source.pk}/change/")
    alt, svg = picture(tab, ".field-health_chart img")
    assert alt == "Outcomes of the checks of this source, by day"
    days = {g.get("data-day", ""): g for g in groups(svg, "day")}
    assert sorted(days) == sorted(
        {
            timezone.localdate(now - datetime.timedelta(days=1)).isoformat(),
            timezone.localdate(now).isoformat(),
        }
    )
    outcomes = [
        (rect.get("data-outcome"), rect.get("fill"))
        for g in days.values()
        for rect in g.iter(f"{SVG}rect")
        if rect.get("class") == "outcome"
    ]
    assert sorted(outcomes) == sorted(
        [("gone", palette.OUTCOME["gone"]), ("ok", palette.OUTCOME["ok"])]
    )
    tab.shoot("2-source-health", at=".field-health_chart")

    # The dashboard: every source's checks by day, the same two.
    tab.open("/admin/dashboard/")
    alt, svg = picture(tab, "#health-over-time img")
    assert alt == "Outcomes of the checks of all sources, by day"
    assert sum(int(g.get("data-total") or 0) for g in groups(svg, "day")) == 2
    tab.shoot("3-dashboard")

    # The stance matrix, as the API serves it (no admin page shows it): USA's and SUN's rows.
    tab.open("/api/v1/matrix.svg")
    svg = ET.fromstring(fetch_text(tab, "/api/v1/matrix.svg"))  # noqa: S314
    rows = {g.get("data-actor"): g for g in groups(svg, "row")}
    assert "SUN" in rows
    (cell,) = [c for c in rows["SUN"].iter(f"{SVG}rect") if c.get("class") == "cell"]
    assert (cell.get("data-measure"), cell.get("data-stance")) == ("hotline", "endorses")
    assert cell.get("fill") == palette.STANCE["endorses"]
    tab.shoot("4-matrix")

    for path in ("/admin/", "/admin/proposals/measure/", "/admin/tracker/source/"):
        tab.open(path)
        assert broken_images(tab.driver) == [], path


def test_a_picture_that_does_not_load_or_has_no_alt_is_found(
    open_tab: OpenTab, admin_user: User
) -> None:
    tab = open_tab("pictures")
    signed_in(tab, admin_user)
    tab.open("/admin/")
    tab.driver.execute_script(
        "for (const [src, alt] of [['/static/admin/img/icon-yes.svg', ''],"
        " ['/static/admin/img/no-such-picture.svg', 'missing']]) {"
        "  const img = document.createElement('img'); img.src = src; img.alt = alt;"
        "  document.body.append(img); }"
    )

    found = broken_images(tab.driver)

    assert [line.split(" ", 2)[:2] for line in found] == [["no", "alt:"], ["not", "loaded:"]]
    assert found[0].endswith("/static/admin/img/icon-yes.svg")
    assert found[1].endswith("/static/admin/img/no-such-picture.svg")
    tab.collect()
    tab.logged.clear()  # the missing picture's 404, provoked above
