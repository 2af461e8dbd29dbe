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
    response = anonymous.get(URL, {"rule": "uncited", "counts": "true"})

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


def test_the_counts_are_given_only_when_asked_for(
    anonymous: APIClient, inf: dict[str, Any]
) -> None:
    body = anonymous.get(URL, {"rule": "uncited"}).json()
    counted = anonymous.get(URL, {"rule": "uncited", "counts": "false"}).json()

    assert (body["count"], body["counts"]) == (None, None)
    assert (counted["count"], counted["counts"]) == (None, None)
    assert len(body["results"]) == 2


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

    body = anonymous.get(URL, {"rule": "uncited", "counts": "true", **params}).json()

    assert {(r["rule"], r["measure"], r["actor"]) for r in body["results"]} == expected
    assert body["count"] == len(expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rule": "no_such_rule"}, "rule"),
        ({"cursor": ""}, "cursor"),
        ({"page_size": "500"}, "page_size"),
        ({"counts": "maybe"}, "counts"),
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

    quoteless = {"rule": "position_without_quote", "page_size": 2}
    first = anonymous.get(URL, {**quoteless, "counts": "true"}).json()
    last = anonymous.get(URL, {**quoteless, "page": 3})
    past = anonymous.get(URL, {**quoteless, "page": 4})
    far = anonymous.get(URL, {**quoteless, "page": 2**62})

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page=2" in first["next"]
    assert first["previous"] is None
    assert [r["object"]["type"] for r in last.json()["results"]] == ["position"]
    assert last.json()["next"] is None
    assert "page=2" in last.json()["previous"]
    assert past.status_code == 404
    assert past.json() == {"detail": "Page 4 is past the last page."}
    assert far.status_code == 404
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
    """``size`` measures with two uncited signatures on two dates by Russia and an uncited
    quoteless Russian position each, and ``size`` plurilateral agreements naming nobody."""
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
        # 1 the data version (for the ETag), 2 the uncited events, which fill the page.
        ({"page_size": "3"}, 2),
        # 1 data version, 2 the page of conflicting dates.
        ({"rule": "conflicting_dates", "page_size": "2"}, 2),
        # 1 data version, 2 the page, 3-17 one COUNT per branch of every rule (15).
        ({"page_size": "3", "counts": "true"}, 17),
        # 1 data version, 2 the measure exists, 3 the actor exists, then every branch that can
        # concern one measure and one actor, each a read of that measure's rows: 4-11 the four
        # fact rules' events and positions, 12 conflicting dates, 13 quoteless positions.
        ({"measure": "nameless-0", "actor": "RUS", "format": "csv"}, 13),
    ],
)
def test_a_page_runs_the_same_queries_at_any_size(
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


def test_a_page_deep_in_the_queue_reads_the_branches_before_it_once_each(
    anonymous: APIClient, django_assert_num_queries: Callable[..., AbstractContextManager[object]]
) -> None:
    populate(3)  # uncited: 6 events, 3 positions; then 3 conflicting dates, 3 quoteless, …
    # Findings 9 to 12 (and a 13th, for `next`): 1 data version, 2 uncited events from the
    # 9th: none, 3 so they are counted (6) and skipped, 4 uncited positions from the 3rd: one,
    # 5-10 the events and positions of no_official_source, all_sources_down and
    # confirmed_single_source: none, 11 conflicting dates: 3, 12 quoteless positions: the 13th.
    with django_assert_num_queries(12):
        response = anonymous.get(URL, {"page_size": "4", "page": "3"})

    body = response.json()
    assert [(r["rule"], r["object"]["type"]) for r in body["results"]] == [
        ("uncited", "position"),
        ("conflicting_dates", "event"),
        ("conflicting_dates", "event"),
        ("conflicting_dates", "event"),
    ]
    assert body["next"] is not None
