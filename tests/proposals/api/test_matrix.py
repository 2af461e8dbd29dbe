"""GET /api/v1/matrix/: who stands where on each measure, now or on a given day, as JSON or CSV."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.api.feeds import stance_matrix
from proposals.models import Position
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
def test_the_csv_has_an_actor_column_then_one_per_measure(
    anonymous: APIClient, stances: dict[str, Position], request_csv: dict[str, Any]
) -> None:
    params = {**request_csv["params"], "as_of": "2019-12-31"}
    headers = {k: v for k, v in request_csv.items() if k != "params"}

    response = anonymous.get(URL, params, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="matrix-2019-12-31.csv"' in response["Content-Disposition"]
    assert response.content.decode().splitlines() == [
        "actor,hotline,launch-notice,trilateral-framework",
        "CHN,,,opposes",
        "RUS,,,conditional",
        "USA,,endorses,proposes",
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


def populate(size: int) -> None:
    actors = [ActorFactory.create(code=code) for code in STATE_CODES[:size]]
    for n in range(size):
        measure = MeasureFactory.create(categories=["arms_limit", "hotline"])
        for k, actor in enumerate(actors):
            for year in (2001, 2002):  # a superseded stance and the current one
                PositionFactory.create(measure=measure, actor=actor, date=D(year, 1 + k, 1 + n))


@pytest.mark.parametrize("size", [1, 6])
@pytest.mark.parametrize(
    ("filters", "queries"),
    [
        # The measures (with their category flag), then the current positions with their actors.
        ({}, 2),
        ({"categories": ["arms_limit"], "as_of": D(2001, 12, 31)}, 2),
        # The same, after one query to check the actor codes asked for.
        ({"codes": ["USA"]}, 3),
    ],
)
def test_the_grid_takes_the_same_queries_at_any_size(
    django_assert_num_queries: Any, size: int, filters: dict[str, Any], queries: int
) -> None:
    populate(size)
    arguments: dict[str, Any] = {"as_of": None, "categories": [], "slugs": [], "codes": []}
    # Counted on the grid itself: the view adds no query of its own.
    with django_assert_num_queries(queries):
        matrix = stance_matrix(**{**arguments, **filters})
    if not filters:
        assert len(matrix["rows"]) == size
        assert all(len(row["cells"]) == size for row in matrix["rows"])
