"""GET /api/v1/matrix/: who stands where on each measure, now or on a given day, as JSON or CSV."""

from __future__ import annotations

import csv
import datetime
import io
import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from proposals.api.feeds import matrix_csv, matrix_measures, stance_matrix
from proposals.models import Measure, Position
from tests.factories import STATE_CODES, ActorFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/matrix/"
D = datetime.date


@pytest.fixture
def stances() -> dict[str, Position]:
    """Three measures, four actors (Japan silent), China's opposition restated over time."""
    usa, rus, chn = (ActorFactory.create(code=code) for code in ("USA", "RUS", "CHN"))
    ActorFactory.create(code="JPN")
    trilateral = MeasureFactory.create(slug="trilateral-framework", categories=["arms_limit"])
    notice = MeasureFactory.create(slug="launch-notice", categories=["launch_notification"])
    MeasureFactory.create(slug="hotline", categories=["hotline"])

    def say(measure: Any, actor: Any, stance: str, date: datetime.date) -> Position:
        return PositionFactory.create(measure=measure, actor=actor, stance=stance, date=date)

    return {
        "usa-proposes": say(trilateral, usa, "proposes", D(2019, 4, 1)),
        "chn-first": say(trilateral, chn, "opposes", D(2019, 5, 6)),
        "rus-conditional": say(trilateral, rus, "conditional", D(2019, 6, 1)),
        "chn-again": say(trilateral, chn, "opposes", D(2019, 7, 16)),
        "chn-latest": say(trilateral, chn, "opposes", D(2020, 2, 12)),
        "usa-endorses": say(notice, usa, "endorses", D(2015, 1, 1)),
        "usa-neutral": say(notice, usa, "neutral", D(2021, 1, 1)),
    }


def cell(position: Position) -> dict[str, Any]:
    return {
        "stance": position.stance,
        "certain": True,
        "stance_possible": [position.stance],
        "basis": position.certainty,
        "date": position.date.isoformat(),
        "date_precision": "day",
        "position": position.pk,
    }


def test_each_cell_is_the_actors_latest_stance(
    anonymous: APIClient, stances: dict[str, Position]
) -> None:
    response = anonymous.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] is None
    assert [m["slug"] for m in body["measures"]] == [
        "hotline",
        "launch-notice",
        "trilateral-framework",
    ]
    assert body["rows"] == [
        {
            "actor": "CHN",
            "name": "State CHN",
            "cells": {
                "hotline": None,
                "launch-notice": None,
                "trilateral-framework": cell(stances["chn-latest"]),
            },
        },
        {
            "actor": "RUS",
            "name": "State RUS",
            "cells": {
                "hotline": None,
                "launch-notice": None,
                "trilateral-framework": cell(stances["rus-conditional"]),
            },
        },
        {
            "actor": "USA",
            "name": "State USA",
            "cells": {
                "hotline": None,
                "launch-notice": cell(stances["usa-neutral"]),
                "trilateral-framework": cell(stances["usa-proposes"]),
            },
        },
    ]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2015-01-01", {"USA": {"launch-notice": "usa-endorses"}}),
        (
            "2019-05-06",
            {
                "CHN": {"trilateral-framework": "chn-first"},
                "USA": {"launch-notice": "usa-endorses", "trilateral-framework": "usa-proposes"},
            },
        ),
        (
            "2019-12-31",
            {
                "CHN": {"trilateral-framework": "chn-again"},
                "RUS": {"trilateral-framework": "rus-conditional"},
                "USA": {"launch-notice": "usa-endorses", "trilateral-framework": "usa-proposes"},
            },
        ),
        ("2014-12-31", {}),
    ],
)
def test_as_of_shows_the_stances_as_they_stood_that_day(
    anonymous: APIClient,
    stances: dict[str, Position],
    as_of: str,
    expected: dict[str, dict[str, str]],
) -> None:
    body = anonymous.get(URL, {"as_of": as_of}).json()

    assert body["as_of"] == as_of
    shown = {
        row["actor"]: {slug: value["position"] for slug, value in row["cells"].items() if value}
        for row in body["rows"]
    }
    assert shown == {
        code: {slug: stances[name].pk for slug, name in cells.items()}
        for code, cells in expected.items()
    }


@pytest.mark.parametrize(
    "request_csv",
    [{"params": {"format": "csv"}}, {"params": {}, "HTTP_ACCEPT": "text/csv"}],
    ids=["format", "accept"],
)
def test_the_csv_has_a_measure_column_then_one_per_actor(
    anonymous: APIClient, stances: dict[str, Position], request_csv: dict[str, Any]
) -> None:
    params = {**request_csv["params"], "as_of": "2019-12-31"}
    headers = {k: v for k, v in request_csv.items() if k != "params"}

    response = anonymous.get(URL, params, **headers)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="matrix-2019-12-31.csv"' in response["Content-Disposition"]
    assert response.getvalue().decode().splitlines() == [
        "measure,CHN,RUS,USA",
        "hotline,,,",
        "launch-notice,,,endorses",
        "trilateral-framework,opposes,conditional,proposes",
    ]


@pytest.mark.parametrize(
    ("params", "columns", "actors"),
    [
        ({"category": "arms_limit"}, ["trilateral-framework"], ["CHN", "RUS", "USA"]),
        (
            {"category": "arms_limit,launch_notification"},
            ["launch-notice", "trilateral-framework"],
            ["CHN", "RUS", "USA"],
        ),
        (
            {"category": ["arms_limit", "launch_notification"]},
            ["launch-notice", "trilateral-framework"],
            ["CHN", "RUS", "USA"],
        ),
        ({"category": "hotline"}, ["hotline"], []),
        ({"measure": "launch-notice"}, ["launch-notice"], ["USA"]),
        (
            {"measure": ["hotline", "launch-notice"], "category": "hotline"},
            ["hotline"],
            [],
        ),
        (
            {"actor": "chn,usa"},
            ["hotline", "launch-notice", "trilateral-framework"],
            ["CHN", "USA"],
        ),
        # An actor asked for by name has a row even without any stance.
        ({"actor": "JPN"}, ["hotline", "launch-notice", "trilateral-framework"], ["JPN"]),
    ],
)
def test_filters_choose_the_columns_and_rows(
    anonymous: APIClient,
    stances: dict[str, Position],
    params: dict[str, Any],
    columns: list[str],
    actors: list[str],
) -> None:
    body = anonymous.get(URL, params).json()

    assert [m["slug"] for m in body["measures"]] == columns
    assert [row["actor"] for row in body["rows"]] == actors
    assert all(list(row["cells"]) == columns for row in body["rows"])


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"as_of": "2019-13-01"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": "01/02/2019"}, "as_of"),
        ({"category": "nuclear"}, "category"),
        ({"category": "hotline,nuclear"}, "category"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    anonymous: APIClient, stances: dict[str, Position], params: dict[str, str], name: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.parametrize(
    ("params", "name"), [({"measure": "no-such-measure"}, "measure"), ({"actor": "XXX"}, "actor")]
)
def test_a_parameter_naming_nothing_is_a_404_naming_it(
    anonymous: APIClient, stances: dict[str, Position], params: dict[str, str], name: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 404
    assert list(response.json()) == [name]


def test_a_bad_parameter_in_a_csv_request_is_a_csv_error(anonymous: APIClient) -> None:
    response = anonymous.get(URL, {"format": "csv", "as_of": "someday"})

    assert response.status_code == 400
    lines = response.content.decode().splitlines()
    assert lines[0] == "field,message"
    assert lines[1].startswith("as_of,")


def populate(measures: int, actors: int = 3) -> None:
    """``measures`` measures, each with a superseded and a current stance of every actor."""
    states = [ActorFactory.create(code=code) for code in STATE_CODES[:actors]]
    for n in range(measures):
        measure = MeasureFactory.create(
            slug=f"measure-{n:03}", categories=["hotline"] if n % 3 else ["arms_limit"]
        )
        for k, actor in enumerate(states):
            for year in (2001, 2002):
                PositionFactory.create(
                    measure=measure,
                    actor=actor,
                    stance=["proposes", "endorses", "opposes"][(n + k + year) % 3],
                    date=D(year, 1 + k, 1 + n % 28),
                )


def walk(client: APIClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the JSON grid, following ``next``."""
    pages = [client.get(URL, params).json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    return pages


def cells_by_measure(pages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every cell of the pages, by measure slug then actor code (null cells left out)."""
    found: dict[str, dict[str, Any]] = {}
    for page in pages:
        for measure in page["measures"]:
            found[measure["slug"]] = {
                row["actor"]: row["cells"][measure["slug"]]
                for row in page["rows"]
                if row["cells"][measure["slug"]] is not None
            }
    return found


def test_the_json_is_a_page_of_measures_with_links(anonymous: APIClient) -> None:
    populate(5)

    response = anonymous.get(URL, {"page_size": 2, "page": 2})

    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "as_of",
        "count",
        "count_at_least",
        "next",
        "previous",
        "measures",
        "rows",
    ]
    assert body["count"] == 5
    assert [m["slug"] for m in body["measures"]] == ["measure-002", "measure-003"]
    assert parse_qs(urlsplit(body["next"]).query) == {"page": ["3"], "page_size": ["2"]}
    assert parse_qs(urlsplit(body["previous"]).query) == {"page_size": ["2"]}
    assert all(list(row["cells"]) == ["measure-002", "measure-003"] for row in body["rows"])
    assert 'rel="next"' in response["Link"]
    assert 'rel="prev"' in response["Link"]


def test_without_paging_parameters_the_json_is_the_first_page_of_fifty(
    anonymous: APIClient,
) -> None:
    populate(51, actors=1)

    body = anonymous.get(URL).json()

    assert body["count"] == 51
    assert len(body["measures"]) == 50
    assert body["next"] is not None


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"as_of": "2001-12-31"},
        {"category": "hotline"},
        {"actor": "USA,CHN"},
        {
            "measure": "measure-000,measure-001,measure-002,measure-004,measure-005",
            "category": "hotline",
        },
    ],
)
@pytest.mark.parametrize("paging", [{"page_size": 2}, {"page_size": 3, "cursor": ""}])
def test_pages_hold_the_same_cells_as_one_page_of_all_measures(
    anonymous: APIClient, params: dict[str, Any], paging: dict[str, Any]
) -> None:
    populate(7)
    whole = anonymous.get(URL, {**params, "page_size": 200}).json()

    pages = walk(anonymous, {**params, **paging})

    assert len(pages) > 1
    assert [m for page in pages for m in page["measures"]] == whole["measures"]
    assert cells_by_measure(pages) == cells_by_measure([whole])
    # A page lists the actors with a stance among its own measures (and every named actor).
    for page in pages:
        with_stance = {code for cells in cells_by_measure([page]).values() for code in cells}
        named = set(params["actor"].split(",")) if "actor" in params else set()
        assert {row["actor"] for row in page["rows"]} == with_stance | named


@pytest.mark.parametrize(
    "params", [{}, {"as_of": "2001-12-31"}, {"category": "hotline"}, {"actor": "USA"}]
)
def test_the_csv_holds_every_cell_of_every_page(
    anonymous: APIClient, params: dict[str, Any]
) -> None:
    populate(7)
    ActorFactory.create(code="JPN")  # no stance anywhere: no column unless named
    pages = walk(anonymous, {**params, "page_size": 2})
    expected = {
        slug: {
            code: "|".join(s or "none" for s in cell["stance_possible"])
            for code, cell in cells.items()
        }
        for slug, cells in cells_by_measure(pages).items()
    }

    response = anonymous.get(URL, {**params, "format": "csv"})

    assert response.streaming
    header, *rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    codes = header[1:]
    assert header[0] == "measure"
    assert codes == sorted({code for cells in expected.values() for code in cells})
    assert {row[0]: {c: v for c, v in zip(codes, row[1:], strict=True) if v} for row in rows} == (
        expected
    )
    assert [row[0] for row in rows] == [m["slug"] for page in pages for m in page["measures"]]


def test_with_paging_parameters_the_csv_is_that_page(anonymous: APIClient) -> None:
    populate(5)  # every actor has a stance on every measure: the same columns on any page
    whole = b"".join(anonymous.get(URL, {"format": "csv"}).streaming_content)

    page = anonymous.get(URL, {"format": "csv", "page_size": 2, "page": 2})

    assert page.status_code == 200
    lines = b"".join(page.streaming_content).decode().splitlines()
    whole_lines = whole.decode().splitlines()
    assert lines == [whole_lines[0], *whole_lines[3:5]]  # the header, measures 3 and 4
    assert lines[1].startswith("measure-002,")
    assert 'rel="next"' in page["Link"]
    assert 'rel="prev"' in page["Link"]


@pytest.mark.parametrize(
    ("params", "name"),
    [({"page_size": "201"}, "page_size"), ({"page": "0"}, "page")],
)
def test_bad_paging_is_a_400_naming_it(
    anonymous: APIClient, params: dict[str, str], name: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_a_cursor_the_api_did_not_make_is_a_404(anonymous: APIClient) -> None:
    response = anonymous.get(URL, {"cursor": "nope"})

    assert response.status_code == 404
    assert list(response.json()) == ["cursor"]


def test_a_page_past_the_last_is_a_404(anonymous: APIClient) -> None:
    populate(3)

    assert anonymous.get(URL, {"page": 2}).status_code == 404


@pytest.mark.parametrize(
    "params", [{"page_size": 2}, {"page_size": 2, "page": 2}, {"format": "csv"}]
)
def test_each_page_and_the_csv_has_an_etag_that_answers_304(
    anonymous: APIClient, params: dict[str, Any]
) -> None:
    populate(5)
    first = anonymous.get(URL, params)
    etag = first["ETag"]

    again = anonymous.get(URL, params, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    other = {**params, "page": 3} if "page_size" in params else {**params, "as_of": "2001-01-01"}
    assert anonymous.get(URL, other)["ETag"] != etag
    PositionFactory.create(measure=Measure.objects.first(), actor=ActorFactory.create())
    assert anonymous.get(URL, params, HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize("size", [6, 15])
@pytest.mark.parametrize(
    ("params", "queries"),
    [
        # The data version (ETag), the count, the page of measures, their positions with the
        # actors.
        ({"page_size": 2}, 4),
        ({"page_size": 2, "page": 2, "category": "hotline", "as_of": "2001-12-31"}, 4),
        # A cursor page: no count.
        ({"page_size": 2, "cursor": ""}, 3),
        # One more each to check the actor codes and the slugs asked for.
        ({"page_size": 2, "actor": "USA"}, 5),
        ({"page_size": 2, "measure": "measure-000,measure-001,measure-002"}, 5),
    ],
)
def test_a_page_costs_the_same_queries_at_any_size(
    anonymous: APIClient,
    django_assert_num_queries: Any,
    size: int,
    params: dict[str, Any],
    queries: int,
) -> None:
    populate(size, actors=size // 2)
    with django_assert_num_queries(queries):
        body = anonymous.get(URL, params).json()
    assert len(body["measures"]) == 2
    assert body["rows"]


@pytest.mark.parametrize("size", [3, 7])
@pytest.mark.parametrize(
    ("named", "before"),
    # The actors with a stance in the grid (the columns), unless the actors are named.
    [(None, 1), ({"USA": "State USA"}, 0)],
)
def test_the_csv_costs_two_queries_per_batch_of_measures(
    django_assert_num_queries: Any, size: int, named: dict[str, str] | None, before: int
) -> None:
    populate(size)
    measures = matrix_measures(categories=[], slugs=[])
    # Per batch of two: the measures, their positions with the actors (3 and 7 never fill the
    # last batch exactly, which would cost one more query finding no more measures).
    with django_assert_num_queries(before + 2 * math.ceil(size / 2)):
        rows = list(matrix_csv(measures, as_of=None, named=named, batch_size=2))
    assert [row[0] for row in rows[1:]] == [f"measure-{n:03}" for n in range(size)]


def test_the_grid_of_a_page_is_one_query(django_assert_num_queries: Any) -> None:
    populate(4)
    page = list(matrix_measures(categories=[], slugs=[]))
    with django_assert_num_queries(1):
        grid = stance_matrix(page, as_of=None)
    assert [row["actor"] for row in grid["rows"]] == sorted(STATE_CODES[:3])
    assert all(len(row["cells"]) == 4 for row in grid["rows"])
