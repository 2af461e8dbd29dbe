"""GET /api/v1/matrix.svg: the stance matrix as a heatmap, with the matrix's own parameters and
paging; parsed and read back cell by cell."""

from __future__ import annotations

import datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from rest_framework.test import APIClient

from common import palette
from proposals.models import Measure
from tests.factories import ActorFactory, MeasureFactory, PositionFactory
from tests.proposals.svg_pictures import SVG, grid, parse, tooltip

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/matrix.svg"
HATCH = "url(#matrix-hatch)"
WHITE = "#FFFFFF"
LONG_TITLE = "Advance notification of ballistic missile launches and space launch vehicles"


def columns(svg: ET.Element) -> list[ET.Element]:
    return [t for t in svg.iter(f"{SVG}text") if t.get("class") == "measure"]


@pytest.fixture
def stances() -> None:
    """Three measures; the United States, Russia and China on the trilateral one (Russia's
    position known only to the month), the United States alone on the launch notice; Japan
    silent."""
    usa = ActorFactory.create(code="USA", name="United States")
    rus = ActorFactory.create(code="RUS", name="Russian Federation")
    chn = ActorFactory.create(code="CHN", name="China")
    ActorFactory.create(code="JPN", name="Japan")
    trilateral = MeasureFactory.create(slug="trilateral", title="Trilateral arms control")
    notice = MeasureFactory.create(slug="launch-notice", title=LONG_TITLE)
    MeasureFactory.create(slug="hotline", title="Direct communication link")

    def say(measure: Measure, actor: Any, stance: str, day: D, precision: str = "day") -> None:
        PositionFactory.create(
            measure=measure, actor=actor, stance=stance, date=day, date_precision=precision
        )

    say(trilateral, usa, "proposes", D(2019, 4, 1))
    say(trilateral, chn, "opposes", D(2019, 5, 6))
    say(trilateral, rus, "conditional", D(2019, 6, 1), precision="month")
    say(notice, usa, "endorses", D(2015, 1, 1))
    say(notice, usa, "neutral", D(2021, 1, 1))


def test_each_cell_is_coloured_by_the_actors_current_stance(
    anonymous: APIClient, stances: None
) -> None:
    svg = parse(anonymous.get(URL))

    assert [c.get("data-measure") for c in columns(svg)] == [
        "hotline",
        "launch-notice",
        "trilateral",
    ]
    s = palette.STANCE
    assert grid(svg) == {
        ("CHN", "hotline"): ("none", WHITE),
        ("CHN", "launch-notice"): ("none", WHITE),
        ("CHN", "trilateral"): ("opposes", s["opposes"]),
        ("RUS", "hotline"): ("none", WHITE),
        ("RUS", "launch-notice"): ("none", WHITE),
        ("RUS", "trilateral"): ("conditional", s["conditional"]),
        ("USA", "hotline"): ("none", WHITE),
        ("USA", "launch-notice"): ("neutral", s["neutral"]),
        ("USA", "trilateral"): ("proposes", s["proposes"]),
    }


def test_as_of_leaves_out_later_stances_and_hatches_uncertain_ones(
    anonymous: APIClient, stances: None
) -> None:
    # Mid-June 2019 Russia's June position may or may not have been taken yet.
    june = grid(parse(anonymous.get(URL, {"as_of": "2019-06-15"})))
    # In mid-April China had not yet spoken: named in `actor`, its row is empty.
    april = grid(parse(anonymous.get(URL, {"as_of": "2019-04-15", "actor": "CHN,USA"})))

    assert june[("RUS", "trilateral")] == ("uncertain", HATCH)
    assert june[("USA", "launch-notice")] == ("endorses", palette.STANCE["endorses"])
    assert june[("CHN", "trilateral")] == ("opposes", palette.STANCE["opposes"])
    assert april[("CHN", "trilateral")] == ("none", WHITE)
    assert april[("USA", "trilateral")] == ("proposes", palette.STANCE["proposes"])
    assert {actor for actor, _ in april} == {"CHN", "USA"}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"as_of": "2019-06-15"},
        {"as_of": "2016-01-01", "category": "hotline"},
        {"actor": "USA,JPN"},
        {"measure": "trilateral,hotline"},
        {"page_size": 2, "page": 2},
        {"page_size": 2, "cursor": ""},
    ],
)
def test_the_picture_shows_what_the_matrix_answers(
    anonymous: APIClient, stances: None, params: dict[str, Any]
) -> None:
    svg = parse(anonymous.get(URL, params))
    body = anonymous.get("/api/v1/matrix/", params).json()

    expected = {}
    for row in body["rows"]:
        for slug, cell in row["cells"].items():
            if cell is None:
                expected[(row["actor"], slug)] = ("none", WHITE)
            elif cell["certain"]:
                expected[(row["actor"], slug)] = (cell["stance"], palette.STANCE[cell["stance"]])
            else:
                expected[(row["actor"], slug)] = ("uncertain", HATCH)
    assert grid(svg) == expected
    assert [c.get("data-measure") for c in columns(svg)] == [m["slug"] for m in body["measures"]]


def test_neutral_and_no_position_look_different_and_the_legend_says_which(
    anonymous: APIClient, stances: None
) -> None:
    svg = parse(anonymous.get(URL))
    cells = {
        (row.get("data-actor"), cell.get("data-measure")): cell
        for row in svg.iter(f"{SVG}g")
        if row.get("class") == "row"
        for cell in row.iter(f"{SVG}rect")
    }
    neutral, empty = cells[("USA", "launch-notice")], cells[("USA", "hotline")]

    assert (neutral.get("fill"), neutral.get("stroke")) == (palette.STANCE["neutral"], None)
    assert (empty.get("fill"), empty.get("stroke")) == (WHITE, palette.LIGHT_GREY)
    assert (
        tooltip(neutral) == f"United States (USA) on {LONG_TITLE}: neutral (position of 2021-01-01)"
    )
    assert tooltip(empty) == "United States (USA) on Direct communication link: no position"
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend")
    keys = {
        "".join(key.itertext()).strip(): key.find(f"{SVG}rect").get("fill")  # type: ignore[union-attr]
        for key in legend.iter(f"{SVG}g")
        if key.get("class") == "key"
    }
    assert keys == {
        "proposes": palette.STANCE["proposes"],
        "endorses": palette.STANCE["endorses"],
        "supports with conditions": palette.STANCE["conditional"],
        "neutral": palette.STANCE["neutral"],
        "opposes": palette.STANCE["opposes"],
        "uncertain (a position dated to the month or year)": HATCH,
        "no position": WHITE,
    }


def test_long_titles_are_cut_and_given_whole_in_the_tooltip(
    anonymous: APIClient, stances: None
) -> None:
    svg = parse(anonymous.get(URL))
    notice = next(c for c in columns(svg) if c.get("data-measure") == "launch-notice")

    shown = notice.find(f"{SVG}title").tail or ""  # type: ignore[union-attr]
    assert shown == "Advance notification of ballist…"
    assert tooltip(notice) == f"{LONG_TITLE} (launch-notice)"


def test_a_page_of_measures_links_the_next_one(anonymous: APIClient, stances: None) -> None:
    response = anonymous.get(URL, {"page_size": 2})
    svg = parse(response)

    assert [c.get("data-measure") for c in columns(svg)] == ["hotline", "launch-notice"]
    next_url = "http://testserver/api/v1/matrix.svg?page=2&page_size=2"
    assert response["Link"] == f'<{next_url}>; rel="next"'
    (link,) = [a for a in svg.iter(f"{SVG}a") if a.get("class") == "next"]
    assert link.get("href") == next_url
    notes = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "note"]
    assert "2 of 3 measures, in slug order." in notes
    last = parse(anonymous.get(next_url))
    assert [c.get("data-measure") for c in columns(last)] == ["trilateral"]


def test_the_text_alternative_counts_the_cells(anonymous: APIClient, stances: None) -> None:
    svg = parse(anonymous.get(URL, {"as_of": "2019-06-15"}))

    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "matrix-title matrix-desc"
    assert svg.find(f"{SVG}title").text == "Stances of actors on measures on 2019-06-15"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        "Stances on 2019-06-15 of 3 actors on 3 measures, one row per actor and one column "
        "per measure. Cells with a stance: 3 (proposes 1, endorses 1, opposes 1); uncertain: "
        "1; no position: 5."
    )


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"as_of": "2019-02-30"}, 400, "as_of"),
        ({"category": "nonsense"}, 400, "category"),
        ({"actor": "ZZZ"}, 404, "actor"),
        ({"measure": "no-such-measure"}, 404, "measure"),
        ({"colour": "red"}, 400, "colour"),
    ],
)
def test_a_bad_parameter_is_refused_in_json_as_the_matrix_refuses_it(
    anonymous: APIClient, stances: None, params: dict[str, str], status: int, field: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == [field]
    assert response.json() == anonymous.get("/api/v1/matrix/", params).json()


def test_hostile_names_are_escaped_and_the_picture_still_parses(anonymous: APIClient) -> None:
    actor = ActorFactory.create(code="USA", name="</text><script>alert(1)</script>&\"'\x02")
    measure = MeasureFactory.create(slug="x", title='<![CDATA[ & ]]> \x1f "quoted"')
    PositionFactory.create(measure=measure, actor=actor, stance="opposes")

    response = anonymous.get(URL)
    svg = parse(response)

    assert b"<script>" not in response.content
    (row,) = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "row"]
    label = next(t for t in row.iter(f"{SVG}text"))
    assert tooltip(label) == "</text><script>alert(1)</script>&\"'\ufffd (USA)"
    (column,) = columns(svg)
    assert tooltip(column) == '<![CDATA[ & ]]> \ufffd "quoted" (x)'


def test_a_current_copy_is_a_304_until_a_stance_changes(
    anonymous: APIClient, stances: None
) -> None:
    etag = anonymous.get(URL, {"as_of": "2020-01-01"})["ETag"]

    again = anonymous.get(URL, {"as_of": "2020-01-01"}, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    # Not the JSON's tag, nor another day's.
    assert anonymous.get("/api/v1/matrix/", {"as_of": "2020-01-01"})["ETag"] != etag
    assert anonymous.get(URL, {"as_of": "2020-01-02"})["ETag"] != etag
    PositionFactory.create(measure=Measure.objects.get(slug="hotline"), date=D(2010, 1, 1))
    assert anonymous.get(URL, {"as_of": "2020-01-01"}, HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize("size", [4, 12])
def test_a_page_costs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, size: int
) -> None:
    for n in range(size):
        measure = MeasureFactory.create(slug=f"measure-{n:03}")
        for code in ("USA", "RUS", "CHN")[: 1 + n % 3]:
            PositionFactory.create(measure=measure, actor=ActorFactory.create(code=code))

    # The data version (ETag), the count, the page of measures, their positions with the actors.
    with django_assert_num_queries(4):
        svg = parse(anonymous.get(URL, {"page_size": 3}))

    assert len(columns(svg)) == 3
    assert len(grid(svg)) == 9
