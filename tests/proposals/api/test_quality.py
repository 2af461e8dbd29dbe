"""GET /api/v1/quality/: the data-quality queue, filtered, paged, as JSON and CSV."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals import quality
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/quality/"


@pytest.fixture
def inf() -> dict[str, Any]:
    """An uncited signature by Russia of the INF treaty, and an uncited US position on it."""
    rus, usa = ActorFactory(code="RUS"), ActorFactory(code="USA")
    measure = MeasureFactory(slug="inf", title="INF Treaty", form="treaty", scope="bilateral")
    event = EventFactory(measure=measure, kind="signed", actor=rus, date=datetime.date(1987, 12, 8))
    position = PositionFactory(measure=measure, actor=usa, quote="We back it.")
    return {"event": event, "position": position, "measure": measure}


def test_it_lists_findings_with_their_object_links_and_the_counts_per_rule(
    anonymous: APIClient, inf: dict[str, Any]
) -> None:
    response = anonymous.get(URL, {"rule": "uncited"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    event = inf["event"]
    assert body["results"][0] == {
        "rule": "uncited",
        "object": {
            "type": "event",
            "id": event.pk,
            "label": "inf: RUS signed 1987-12-08",
            "url": f"http://testserver/api/v1/events/{event.pk}/",
            "admin_url": f"http://testserver/admin/proposals/event/{event.pk}/change/",
        },
        "measure": "inf",
        "actor": "RUS",
        "reason": "This event cites no source at all.",
    }
    assert body["results"][1]["object"]["type"] == "position"
    # The counts are of every rule, whichever rules the list shows.
    assert list(body["counts"]) == list(quality.RULE_IDS)
    assert body["counts"]["uncited"] == 2
    assert body["counts"]["position_without_quote"] == 0
    assert body["counts"]["agreement_without_parties"] == 0  # RUS signed: an actor's event


def test_a_measure_finding_links_by_slug(anonymous: APIClient) -> None:
    measure = MeasureFactory(slug="nameless", form="treaty", scope="bilateral")

    body = anonymous.get(URL, {"rule": "agreement_without_parties"}).json()

    shown = body["results"][0]["object"]
    assert shown["url"] == "http://testserver/api/v1/measures/nameless/"
    assert shown["admin_url"] == f"http://testserver/admin/proposals/measure/{measure.pk}/change/"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "rus"}, {("uncited", "inf", "RUS")}),
        ({"actor": "CHN"}, {("uncited", "other", "CHN")}),
        ({"measure": "inf"}, {("uncited", "inf", "RUS"), ("uncited", "inf", "USA")}),
        ({"measure": "inf", "actor": "USA"}, {("uncited", "inf", "USA")}),
        (
            {"actor": "CHN", "rule": "uncited,position_without_quote"},
            {("uncited", "other", "CHN"), ("position_without_quote", "other", "CHN")},
        ),
    ],
)
def test_it_filters_by_measure_actor_and_rule(
    anonymous: APIClient,
    inf: dict[str, Any],
    params: dict[str, str],
    expected: set[tuple[str, str, str]],
) -> None:
    other = MeasureFactory(slug="other", form="proposal")
    PositionFactory(measure=other, actor=ActorFactory(code="CHN"), quote="")

    body = anonymous.get(URL, {"rule": "uncited", **params}).json()

    assert {(r["rule"], r["measure"], r["actor"]) for r in body["results"]} == expected
    assert body["count"] == len(expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rule": "no_such_rule"}, "rule"),
        ({"cursor": ""}, "cursor"),
        ({"page_size": "500"}, "page_size"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    anonymous: APIClient, inf: dict[str, Any], params: dict[str, str], field: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize(
    ("params", "field"), [({"measure": "no-such-measure"}, "measure"), ({"actor": "XYZ"}, "actor")]
)
def test_a_parameter_naming_nothing_is_a_404_naming_it(
    anonymous: APIClient, inf: dict[str, Any], params: dict[str, str], field: str
) -> None:
    response = anonymous.get(URL, params)

    assert response.status_code == 404
    assert list(response.json()) == [field]


def test_an_unknown_rule_in_csv_is_a_csv_400(anonymous: APIClient, inf: dict[str, Any]) -> None:
    response = anonymous.get(URL, {"rule": "nope", "format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == "field,message"


def test_it_pages_the_findings(anonymous: APIClient) -> None:
    for _ in range(5):
        PositionFactory(quote="")

    first = anonymous.get(URL, {"rule": "position_without_quote", "page_size": 2}).json()
    last = anonymous.get(URL, {"rule": "position_without_quote", "page_size": 2, "page": 3})
    past = anonymous.get(URL, {"rule": "position_without_quote", "page_size": 2, "page": 4})

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page=2" in first["next"]
    assert first["previous"] is None
    assert [r["object"]["type"] for r in last.json()["results"]] == ["position"]
    assert last.json()["next"] is None
    assert past.status_code == 404
    ids = [r["object"]["id"] for r in first["results"]]
    assert ids == sorted(ids)


def test_it_answers_csv_one_row_per_finding_with_a_link_header(
    anonymous: APIClient, inf: dict[str, Any]
) -> None:
    response = anonymous.get(URL, {"rule": "uncited", "format": "csv", "page_size": 1})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    event = inf["event"]
    assert rows == [
        {
            "rule": "uncited",
            "object_type": "event",
            "object_id": str(event.pk),
            "label": "inf: RUS signed 1987-12-08",
            "measure": "inf",
            "actor": "RUS",
            "reason": "This event cites no source at all.",
            "api_url": f"http://testserver/api/v1/events/{event.pk}/",
            "admin_url": f"http://testserver/admin/proposals/event/{event.pk}/change/",
        }
    ]
    assert 'rel="next"' in response["Link"]


def test_a_current_copy_is_a_304(anonymous: APIClient, inf: dict[str, Any]) -> None:
    etag = anonymous.get(URL)["ETag"]

    assert anonymous.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304
    PositionFactory(quote="")
    assert anonymous.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200


def populate(size: int) -> None:
    rus = ActorFactory(code="RUS")
    for i in range(size):
        measure = MeasureFactory(form="treaty", scope="bilateral")
        EventFactory(measure=measure, kind="signed", actor=rus, date=datetime.date(2000, 1, 1))
        EventFactory(measure=measure, kind="signed", actor=rus, date=datetime.date(2000, 1, 2))
        PositionFactory(measure=measure, actor=rus, quote="")
        MeasureFactory(form="agreement", scope="plurilateral", slug=f"nameless-{i}")


@pytest.mark.parametrize("size", [2, 8])
@pytest.mark.parametrize(
    ("params", "queries"),
    [
        # The data version (for the ETag), then the rules' 15 queries.
        ({}, 16),
        # + the measure's and the actor's existence checks.
        ({"measure": "nameless-0", "actor": "RUS", "format": "csv"}, 18),
    ],
)
def test_it_runs_a_fixed_number_of_queries(
    anonymous: APIClient,
    django_assert_num_queries: Callable[..., AbstractContextManager[object]],
    size: int,
    params: dict[str, str],
    queries: int,
) -> None:
    populate(size)

    with django_assert_num_queries(queries):
        response = anonymous.get(URL, params)

    assert response.status_code == 200
