"""GET /api/v1/sources/{id}/health.svg and /api/v1/sources/health.svg: check outcomes by day, as
stacked counts; parsed and read back day by day."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import time_machine
from rest_framework.test import APIClient

from common import palette
from proposals.pictures.health import SHORT_LABELS
from tests.factories import SourceCheckFactory, SourceFactory
from tests.proposals.svg_pictures import SVG, parse
from tracker.models import Source, SourceCheck

pytestmark = pytest.mark.django_db
ALL = "/api/v1/sources/health.svg"
NOW = datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def outcomes(svg: ET.Element) -> dict[tuple[str, str], int]:
    """(day, outcome) → count of every bar segment."""
    return {
        (day.get("data-day", ""), bar.get("data-outcome", "")): int(bar.get("data-count", "0"))
        for day in svg.iter(f"{SVG}g")
        if day.get("class") == "day"
        for bar in day.iter(f"{SVG}rect")
        if bar.get("class") == "outcome"
    }


def check(source: Source, when: datetime.datetime, outcome: str, times: int = 1) -> None:
    for _ in range(times):
        SourceCheckFactory.create(source=source, checked_at=when, outcome=outcome)


@pytest.fixture
def treaty() -> Source:
    """A source checked over the last days (and once just too long ago), and another source
    blocked today."""
    source = SourceFactory.create(title="Treaty text")
    check(source, at(3, 15), "ok", 2)
    check(source, at(3, 15, 10), "gone")
    check(source, at(3, 14, 23, 30), "changed")
    check(source, at(3, 10), "network_error", 3)
    check(source, at(3, 10), "not_modified")
    check(source, at(12, 16, 0, 0, year=2025), "ok")  # the first of the last 90 days
    check(source, at(12, 15, 23, 59, year=2025), "ok")  # the day before: not shown
    check(SourceFactory.create(), at(3, 15), "blocked", 2)
    return source


TREATY = {
    ("2026-03-15", "ok"): 2,
    ("2026-03-15", "gone"): 1,
    ("2026-03-14", "changed"): 1,
    ("2026-03-10", "network_error"): 3,
    ("2026-03-10", "not_modified"): 1,
    ("2025-12-16", "ok"): 1,
}


def test_one_sources_checks_by_day_and_outcome(anonymous: APIClient, treaty: Source) -> None:
    svg = parse(anonymous.get(f"/api/v1/sources/{treaty.pk}/health.svg"))

    assert outcomes(svg) == TREATY
    bars = [
        bar
        for day in svg.iter(f"{SVG}g")
        if day.get("class") == "day"
        for bar in day.iter(f"{SVG}rect")
        if bar.get("class") == "outcome"
    ]
    assert {bar.get("fill") for bar in bars} == {palette.OUTCOME[outcome] for _, outcome in TREATY}
    assert all(bar.get("fill") == palette.OUTCOME[bar.get("data-outcome", "")] for bar in bars)


def test_every_sources_checks_are_stacked_by_day(anonymous: APIClient, treaty: Source) -> None:
    svg = parse(anonymous.get(ALL))

    assert outcomes(svg) == {**TREATY, ("2026-03-15", "blocked"): 2}
    (today,) = [g for g in svg.iter(f"{SVG}g") if g.get("data-day") == "2026-03-15"]
    ok, gone, blocked = (
        next(r for r in today.iter(f"{SVG}rect") if r.get("data-outcome") == outcome)
        for outcome in ("ok", "gone", "blocked")
    )
    # Heights in proportion to the counts, stacked from the bottom in the order of outcomes.
    assert float(ok.get("height", "")) == pytest.approx(2 * float(gone.get("height", "")))
    assert float(blocked.get("height", "")) == pytest.approx(2 * float(gone.get("height", "")))
    bottom_of = {r: float(r.get("y", "")) + float(r.get("height", "")) for r in (ok, gone, blocked)}
    assert bottom_of[gone] == pytest.approx(float(ok.get("y", "")))
    assert bottom_of[blocked] == pytest.approx(float(gone.get("y", "")))
    assert today.get("data-total") == "5"


def test_days_are_in_order_and_the_window_follows_days(
    anonymous: APIClient, treaty: Source
) -> None:
    svg = parse(anonymous.get(ALL, {"days": 7}))

    days = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "day"]
    assert [g.get("data-day") for g in days] == ["2026-03-10", "2026-03-14", "2026-03-15"]
    xs = [float(next(g.iter(f"{SVG}rect")).get("x", "")) for g in days]
    assert xs == sorted(xs)
    assert svg.find(f"{SVG}title").text == (  # type: ignore[union-attr]
        "Check outcomes of all sources by day, 2026-03-09 to 2026-03-15"
    )


def test_days_are_counted_in_the_sites_time_zone(
    anonymous: APIClient, treaty: Source, settings: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"  # five hours behind UTC in March (daylight time)

    svg = parse(anonymous.get(f"/api/v1/sources/{treaty.pk}/health.svg", {"days": 7}))

    # 23:30 UTC on the 14th is 19:30 in New York: still the 14th; 09:00 UTC is 05:00 there.
    assert outcomes(svg) == {
        ("2026-03-15", "ok"): 2,
        ("2026-03-15", "gone"): 1,
        ("2026-03-14", "changed"): 1,
        ("2026-03-10", "network_error"): 3,
        ("2026-03-10", "not_modified"): 1,
    }


def test_the_text_alternative_gives_the_totals(anonymous: APIClient, treaty: Source) -> None:
    svg = parse(anonymous.get(f"/api/v1/sources/{treaty.pk}/health.svg"))

    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "health-title health-desc"
    assert svg.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        f"Check outcomes of source {treaty.pk} (Treaty text), one bar per day from 2025-12-16 "
        "to 2026-03-15: 9 checks (OK 3, not modified 1, content changed 1, gone (404/410) 1, "
        "network error 3); 86 of 90 days without a check."
    )


def test_the_legend_names_every_outcome_in_its_colour(anonymous: APIClient) -> None:
    svg = parse(anonymous.get(ALL))

    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend")
    keys = {
        "".join(key.itertext()).strip(): key.find(f"{SVG}rect").get("fill")  # type: ignore[union-attr]
        for key in legend.iter(f"{SVG}g")
        if key.get("class") == "key"
    }
    named = {label for text in keys for label in text.split(" / ")}
    assert named == set(SHORT_LABELS.values())
    for outcome, label in SHORT_LABELS.items():
        (fill,) = [fill for text, fill in keys.items() if label in text.split(" / ")]
        assert fill == palette.OUTCOME[outcome]
    assert set(SHORT_LABELS) == set(SourceCheck.Outcome.values) == set(palette.OUTCOME)


def test_a_day_without_checks_has_no_bar(anonymous: APIClient) -> None:
    svg = parse(anonymous.get(ALL))

    assert outcomes(svg) == {}
    notes = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["No checks in these days."]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"days": "0"}, "Must be between 1 and 366."),
        ({"days": "367"}, "Must be between 1 and 366."),
        ({"days": "a week"}, "Enter a whole number."),
        ({"days": ["7", "8"]}, "Give this parameter once; only list parameters may be repeated."),
        ({"since": "2026-01-01"}, "Not a parameter of this endpoint; it takes: days, format."),
    ],
)
def test_a_bad_parameter_is_refused_in_json(
    anonymous: APIClient, treaty: Source, query: dict[str, Any], message: str
) -> None:
    for url in (ALL, f"/api/v1/sources/{treaty.pk}/health.svg"):
        response = anonymous.get(url, query)

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json() == {name: [message] for name in query}


@pytest.mark.parametrize("source_id", ["999999", "9223372036854775808", "0"])
def test_an_unknown_source_is_a_404(anonymous: APIClient, source_id: str) -> None:
    response = anonymous.get(f"/api/v1/sources/{source_id}/health.svg")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_a_hostile_title_is_escaped_and_the_picture_still_parses(anonymous: APIClient) -> None:
    source = SourceFactory.create(title='<script>alert(1)</script> & "x" \x03')
    check(source, at(3, 15), "ok")

    response = anonymous.get(f"/api/v1/sources/{source.pk}/health.svg")
    svg = parse(response)

    assert b"<script>" not in response.content
    assert svg.find(f"{SVG}title").text == (  # type: ignore[union-attr]
        f'Check outcomes of source {source.pk} (<script>alert(1)</script> & "x" \ufffd) by '
        "day, 2025-12-16 to 2026-03-15"
    )


def test_a_current_copy_is_a_304_until_a_new_check(anonymous: APIClient, treaty: Source) -> None:
    url = f"/api/v1/sources/{treaty.pk}/health.svg"
    etag = anonymous.get(url)["ETag"]

    again = anonymous.get(url, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert anonymous.get(url, {"days": 30})["ETag"] != etag
    check(treaty, at(3, 15, 11), "changed")
    fresh = anonymous.get(url, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert outcomes(parse(fresh))[("2026-03-15", "changed")] == 1


@pytest.mark.parametrize("checks", [2, 40])
@pytest.mark.parametrize(
    ("one_source", "queries"),
    [
        # The data version (ETag), the source, the checks grouped by day and outcome.
        (True, 3),
        # The data version, the checks grouped by day and outcome.
        (False, 2),
    ],
)
def test_a_chart_costs_the_same_queries_whatever_the_checks(
    anonymous: APIClient,
    django_assert_num_queries: Any,
    checks: int,
    one_source: bool,
    queries: int,
) -> None:
    source = SourceFactory.create()
    outcomes_ = list(SourceCheck.Outcome.values)
    for n in range(checks):
        check(source, NOW - datetime.timedelta(hours=7 * n), outcomes_[n % len(outcomes_)])
    url = f"/api/v1/sources/{source.pk}/health.svg" if one_source else ALL

    with django_assert_num_queries(queries):
        svg = parse(anonymous.get(url))

    assert sum(outcomes(svg).values()) == checks
