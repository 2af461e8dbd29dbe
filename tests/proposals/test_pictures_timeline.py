"""GET /api/v1/measures/{slug}/timeline.svg: a measure's events by date, one lane for the measure
and one per actor, coloured by status and participation over time; parsed and read back."""

from __future__ import annotations

import datetime
import itertools
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from rest_framework.test import APIClient

from common import palette
from proposals.models import Event, Measure
from proposals.pictures.timeline import MAX_EVENTS
from tests.factories import ActorFactory, EventFactory, MeasureFactory
from tests.proposals.svg_pictures import SVG, parse, tooltip

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/measures/{}/timeline.svg"
HATCH = "url(#timeline-hatch)"


def lanes(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == "lane"]


def lane_label(lane: ET.Element) -> str:
    label = next(t for t in lane.iter(f"{SVG}text") if t.get("class") == "label")
    return tooltip(label)


def segments(lane: ET.Element) -> list[tuple[str, str, str, str]]:
    return [
        (rect.get("data-state", ""), rect.get("data-start", ""), rect.get("data-end", ""),
         rect.get("fill", ""))
        for rect in lane.iter(f"{SVG}rect")
        if rect.get("class") == "segment"
    ]  # fmt: skip


def markers(lane: ET.Element) -> list[ET.Element]:
    return [node for node in lane if node.get("class") == "event"]


def left(marker: ET.Element) -> float:
    return float(marker.get("cx") or marker.get("x") or "nan")


@pytest.fixture
def inf() -> Measure:
    """A bilateral treaty between the United States and Russia: signed, in force from a month
    known only to the month, suspended by Russia, ended by the United States' withdrawal; and
    China, no party, with an incident known only to the year."""
    usa = ActorFactory.create(code="USA", name="United States")
    rus = ActorFactory.create(code="RUS", name="Russian Federation")
    chn = ActorFactory.create(code="CHN", name="China")
    measure = MeasureFactory.create(slug="inf", title="INF Treaty", scope="bilateral")
    measure.parties.set([usa, rus])

    def event(kind: str, day: datetime.date, actor: Any = None, precision: str = "day") -> Event:
        return EventFactory.create(
            measure=measure, kind=kind, date=day, actor=actor, date_precision=precision
        )

    event("signed", D(1987, 12, 8))
    event("incident", D(1988, 6, 1))
    event("entered_into_force", D(1988, 6, 1), precision="month")
    event("implemented", D(1988, 7, 1))
    event("suspended", D(2007, 12, 12), rus)
    event("withdrawal_notified", D(2019, 2, 2), usa)
    event("withdrew", D(2019, 8, 2), usa)
    event("incident", D(1990, 1, 1), chn, precision="year")
    return measure


def test_one_lane_for_the_measure_then_one_per_actor_by_name(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))

    assert [(lane.get("data-lane"), lane.get("data-actor")) for lane in lanes(svg)] == [
        ("measure", None),
        ("actor", "CHN"),
        ("actor", "RUS"),
        ("actor", "USA"),
    ]
    assert [lane_label(lane) for lane in lanes(svg)] == [
        "The measure as a whole",
        "China (CHN)",
        "Russian Federation (RUS)",
        "United States (USA)",
    ]


def test_each_lane_is_coloured_by_status_or_participation_over_time(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))
    measure, china, russia, usa = lanes(svg)
    end = svg.get("data-end")
    p = palette.PARTICIPATION

    # Inside June 1988 the entry into force may or may not have happened yet: hatched; by the
    # end of 30 June it has, whatever its day, as the API answers for that day.
    assert segments(measure) == [
        ("signed", "1987-12-08", "1988-06-01", p["signatory"]),
        ("uncertain", "1988-06-01", "1988-06-30", HATCH),
        ("in_force", "1988-06-30", "2007-12-12", p["party"]),
        # On a bilateral measure a party's suspension suspends it, its withdrawal ends it.
        ("suspended", "2007-12-12", "2019-08-02", p["suspended"]),
        ("terminated", "2019-08-02", end, p["ended"]),
    ]
    assert segments(russia) == [
        ("signatory", "1987-12-08", "1988-06-01", p["signatory"]),
        ("uncertain", "1988-06-01", "1988-06-30", HATCH),
        ("party", "1988-06-30", "2007-12-12", p["party"]),
        ("suspended", "2007-12-12", "2019-08-02", p["suspended"]),
        ("ended", "2019-08-02", end, p["ended"]),
    ]
    assert segments(usa)[-2:] == [
        # The notice of withdrawal changes nothing until the withdrawal.
        ("party", "1988-06-30", "2019-08-02", p["party"]),
        ("withdrawn", "2019-08-02", end, p["withdrawn"]),
    ]
    assert segments(china) == []  # no participation: the bare lane
    for day, status in (("1988-06-29", None), ("1988-06-30", "in_force")):
        answer = anonymous.get("/api/v1/measures/inf/", {"as_of": day}).json()
        assert answer["status"] == status, day


def test_one_marker_per_event_in_date_order_with_a_tooltip_naming_it(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))
    measure, china, russia, usa = lanes(svg)

    every = [marker for lane in lanes(svg) for marker in markers(lane)]
    assert sorted(int(m.get("data-event", "0")) for m in every) == sorted(
        inf.events.values_list("pk", flat=True)
    )
    assert [m.get("data-kind") for m in markers(measure)] == [
        "signed",
        "incident",
        "entered_into_force",
        "implemented",
    ]
    xs = [left(m) for m in markers(measure)]
    assert xs[0] < xs[1] == xs[2] < xs[3]
    assert [tooltip(m) for m in markers(measure)] == [
        "Signed, the measure, 1987-12-08",
        "Incident, the measure, 1988-06-01",
        "Entered into force, the measure, June 1988",
        "Implemented, the measure, 1988-07-01",
    ]
    assert [tooltip(m) for m in markers(usa)] == [
        "Notified withdrawal, United States (USA), 2019-02-02",
        "Withdrew, United States (USA), 2019-08-02",
    ]
    assert [tooltip(m) for m in markers(china)] == ["Incident, China (CHN), 1990"]
    assert left(markers(usa)[0]) < left(markers(usa)[1])
    assert left(markers(russia)[0]) < left(markers(usa)[0])


def test_a_coarse_date_is_drawn_as_its_whole_month_or_year(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))
    measure, china, *_ = lanes(svg)
    june_first, month, july_first = markers(measure)[1:4]

    # A day is a dot; the month is a box from the first of June to the first of July.
    assert [june_first.tag, month.tag, july_first.tag] == [
        f"{SVG}circle",
        f"{SVG}rect",
        f"{SVG}circle",
    ]
    assert float(month.get("x", "")) == pytest.approx(left(june_first), abs=0.01)
    assert float(month.get("x", "")) + float(month.get("width", "")) == pytest.approx(
        left(july_first), abs=0.01
    )
    # The year is twelve times as wide, give or take the length of months (365 / 30 days).
    (year,) = markers(china)
    assert float(year.get("width", "")) / float(month.get("width", "")) == pytest.approx(
        365 / 30, rel=0.01
    )
    assert year.get("data-precision") == "year"


def test_the_axis_labels_the_years_and_the_legend_names_every_colour(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))

    years = [int(t.text or "") for t in svg.iter(f"{SVG}text") if t.get("class") == "year"]
    assert years[0] <= 1990
    assert years[-1] >= 2020
    assert all(b - a == years[1] - years[0] for a, b in itertools.pairwise(years))
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend")
    fills = {rect.get("fill") for rect in legend.iter(f"{SVG}rect")}
    assert set(palette.PARTICIPATION.values()) | {HATCH} <= fills


def test_the_text_alternative_names_the_measure_its_events_and_lanes(
    anonymous: APIClient, inf: Measure
) -> None:
    svg = parse(anonymous.get(URL.format("inf")))

    assert svg.get("role") == "img"
    title, desc = (svg.find(f"{SVG}{tag}") for tag in ("title", "desc"))
    assert title is not None
    assert desc is not None
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Timeline of INF Treaty"
    assert desc.text is not None
    assert "8 events" in desc.text
    assert "the measure, then China, Russian Federation, United States" in desc.text
    assert desc.text.endswith("Status today: Terminated.")


def test_hostile_names_are_escaped_and_the_picture_still_parses(anonymous: APIClient) -> None:
    name = "<script>alert('x')</script> & \"Co\" \x01\x7f]]>"
    actor = ActorFactory.create(code="USA", name=name)
    measure = MeasureFactory.create(slug="hostile", title="<svg onload=alert(1)> & ]]> \x0b")
    EventFactory.create(measure=measure, actor=actor, kind="signed", scope_note="<b>&amp;</b>")

    response = anonymous.get(URL.format("hostile"))
    svg = parse(response)

    assert b"<script>" not in response.content
    assert b"<svg onload" not in response.content
    (title,) = [t for t in svg if t.tag == f"{SVG}title"]
    assert title.text == "Timeline of <svg onload=alert(1)> & ]]> \ufffd"
    usa = lanes(svg)[1]
    assert lane_label(usa) == "<script>alert('x')</script> & \"Co\" \ufffd\ufffd]]> (USA)"
    (marker,) = markers(usa)
    assert tooltip(marker).endswith(": <b>&amp;</b>")


def test_the_first_and_the_last_day_there_are_can_be_drawn(anonymous: APIClient) -> None:
    measure = MeasureFactory.create(slug="forever")
    EventFactory.create(measure=measure, kind="signed", date=D(1, 1, 1), date_precision="year")
    EventFactory.create(measure=measure, kind="expired", date=D.max)

    svg = parse(anonymous.get(URL.format("forever")))

    (measure_lane,) = lanes(svg)
    assert [m.get("data-date") for m in markers(measure_lane)] == ["0001-01-01", "9999-12-31"]
    # The axis ends where the calendar does: the last day is its edge, with its marker on it.
    assert [s[:3] for s in segments(measure_lane)] == [
        ("uncertain", "0001-01-01", "0001-12-31"),
        ("signed", "0001-12-31", "9999-12-31"),
    ]
    assert left(markers(measure_lane)[-1]) == pytest.approx(float(svg.get("width", "")) - 24)


def test_an_unknown_measure_or_parameter_is_refused_in_json(anonymous: APIClient) -> None:
    MeasureFactory.create(slug="known")

    missing = anonymous.get(URL.format("unknown"))
    extra = anonymous.get(URL.format("known"), {"as_of": "2020-01-01"})

    assert missing.status_code == 404
    assert missing.json() == {"detail": "There is no measure with the slug 'unknown'."}
    assert extra.status_code == 400
    assert list(extra.json()) == ["as_of"]


def test_a_current_copy_is_a_304_until_an_event_changes(anonymous: APIClient, inf: Measure) -> None:
    first = anonymous.get(URL.format("inf"))
    etag = first["ETag"]

    again = anonymous.get(URL.format("inf"), HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert anonymous.get(URL.format("inf"))["ETag"] == etag
    EventFactory.create(measure=inf, kind="incident", date=D(2020, 1, 1))
    changed = anonymous.get(URL.format("inf"), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


@pytest.mark.parametrize("size", [3, 30])
def test_a_timeline_costs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, size: int
) -> None:
    measure = MeasureFactory.create(slug="busy")
    for index in range(size):
        actor = ActorFactory.create(code=f"A{index:02}", kind="organization")
        EventFactory.create(measure=measure, actor=actor, kind="signed", date=D(2000, 1, 1))
    # The data version (ETag), the measure, its named parties, its events with their actors,
    # the actors' successors.
    with django_assert_num_queries(5):
        svg = parse(anonymous.get(URL.format("busy")))
    assert len(lanes(svg)) == size + 1


def test_a_measure_with_too_many_events_is_drawn_up_to_a_day_with_a_note(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    measure = MeasureFactory.create(slug="crowded")
    start = D(2000, 1, 1)
    Event.objects.bulk_create(
        Event(measure=measure, kind="incident", date=start + datetime.timedelta(days=n))
        for n in range(MAX_EVENTS + 20)
    )
    cut = start + datetime.timedelta(days=MAX_EVENTS)

    # One more query than a timeline within the bound: the number of events left out.
    with django_assert_num_queries(6):
        svg = parse(anonymous.get(URL.format("crowded")))

    assert len(markers(lanes(svg)[0])) == MAX_EVENTS
    assert svg.get("data-end") == cut.isoformat()
    notes = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "note"]
    assert f"20 later events, from {cut.isoformat()} on, are not drawn" in " ".join(
        note or "" for note in notes
    )
