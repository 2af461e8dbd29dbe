"""A position dated only to the month or year makes the stance uncertain inside its period, in
the matrix and in `/positions/?current=true` as in a measure's `current_positions`."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from rest_framework.test import APIClient

from proposals.models import Position
from tests.factories import ActorFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def turn() -> dict[str, Position]:
    """Russia endorsed the talks on 3 March 2021 and, some day in June 2022, came to oppose
    them; China's only position is known to the year 2022."""
    rus, chn = ActorFactory.create(code="RUS"), ActorFactory.create(code="CHN")
    talks = MeasureFactory.create(slug="talks")
    return {
        "rus-endorses": PositionFactory.create(
            measure=talks, actor=rus, stance="endorses", date=D(2021, 3, 3)
        ),
        "rus-opposes": PositionFactory.create(
            measure=talks,
            actor=rus,
            stance="opposes",
            date=D(2022, 6, 1),
            date_precision="month",
            certainty="reported",
        ),
        "chn-neutral": PositionFactory.create(
            measure=talks, actor=chn, stance="neutral", date=D(2022, 1, 1), date_precision="year"
        ),
    }


def cells(client: APIClient, on: str) -> dict[str, dict[str, object] | None]:
    body = client.get("/api/v1/matrix/", {"as_of": on}).json()
    return {row["actor"]: row["cells"]["talks"] for row in body["rows"]}


def test_inside_the_month_the_matrix_cell_gives_both_stances_and_no_single_one(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    cell = cells(anonymous, "2022-06-15")["RUS"]
    assert cell == {
        "stance": None,
        "certain": False,
        "stance_possible": ["endorses", "opposes"],
        "basis": "reported",  # one of the worlds rests on a reported position
        "date": "2022-06-01",
        "date_precision": "month",
        "position": turn["rus-opposes"].pk,
    }


def test_before_and_after_the_month_the_matrix_cell_is_certain(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    before = cells(anonymous, "2022-05-31")["RUS"]
    after = cells(anonymous, "2022-06-30")["RUS"]
    assert before is not None
    assert after is not None
    assert (before["stance"], before["certain"], before["position"]) == (
        "endorses",
        True,
        turn["rus-endorses"].pk,
    )
    assert (after["stance"], after["certain"], after["stance_possible"]) == (
        "opposes",
        True,
        ["opposes"],
    )


def test_a_year_precision_position_may_not_have_been_taken_yet(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    cell = cells(anonymous, "2022-03-01")["CHN"]
    assert cell is not None
    assert (cell["stance"], cell["certain"], cell["stance_possible"]) == (
        None,
        False,
        [None, "neutral"],
    )
    assert cells(anonymous, "2023-01-01")["CHN"] == {
        "stance": "neutral",
        "certain": True,
        "stance_possible": ["neutral"],
        "basis": "confirmed",
        "date": "2022-01-01",
        "date_precision": "year",
        "position": turn["chn-neutral"].pk,
    }


def test_the_matrix_csv_lists_every_possible_stance(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    response = anonymous.get("/api/v1/matrix/", {"as_of": "2022-06-15", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    assert rows == [["measure", "CHN", "RUS"], ["talks", "none|neutral", "endorses|opposes"]]


def current_ids(client: APIClient, **params: str) -> set[int]:
    response = client.get("/api/v1/positions/", {"current": "true", **params})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_current_positions_inside_the_month_are_both_candidates(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    assert current_ids(anonymous, date_before="2022-06-15") == {
        turn["rus-endorses"].pk,
        turn["rus-opposes"].pk,
        turn["chn-neutral"].pk,
    }
    # Neither of Russia's positions is certainly current inside June, nor China's in 2022.
    assert current_ids(anonymous, date_before="2022-06-15", certain="true") == set()
    assert current_ids(anonymous, date_before="2022-12-31", certain="true") == {
        turn["rus-opposes"].pk,
        turn["chn-neutral"].pk,
    }


def test_a_position_is_superseded_only_when_certainly_so(
    anonymous: APIClient, turn: dict[str, Position]
) -> None:
    response = anonymous.get(
        "/api/v1/positions/", {"current": "false", "date_before": "2022-06-15"}
    )
    assert [row["id"] for row in response.json()["results"]] == []
    response = anonymous.get(
        "/api/v1/positions/", {"current": "false", "date_before": "2022-07-01"}
    )
    assert [row["id"] for row in response.json()["results"]] == [turn["rus-endorses"].pk]
