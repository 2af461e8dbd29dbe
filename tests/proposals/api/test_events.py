"""GET/POST/PUT/PATCH/DELETE /api/v1/events/."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.models import Measure
from tests.factories import ActorFactory, CitationFactory, EventFactory, MeasureFactory

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/events/"


@pytest.mark.parametrize("n", [3, 12])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    usa = ActorFactory(code="USA")
    for _ in range(n):
        CitationFactory(measure=None, event=EventFactory(actor=usa))
    # 1 data version, 2 COUNT, 3 the page with measure and actor joined,
    # 4 the citations of the page's events with their sources.
    with django_assert_num_queries(4):
        response = anonymous.get(URL)
    assert response.json()["count"] == n


def test_filters_over_http(anonymous: APIClient) -> None:
    usa = ActorFactory(code="USA")
    inf = MeasureFactory(slug="inf")
    EventFactory(measure=inf, kind="signed", date=D(1987, 12, 8))
    EventFactory(measure=inf, kind="withdrew", date=D(2019, 8, 2), actor=usa)
    EventFactory(kind="proposed", date=D(2020, 1, 1))

    def kinds(**params: str) -> list[str]:
        return [e["kind"] for e in anonymous.get(URL, params).json()["results"]]

    assert kinds(measure="inf") == ["signed", "withdrew"]
    assert kinds(actor="USA") == ["withdrew"]
    assert kinds(kind="proposed") == ["proposed"]
    assert kinds(date_after="2019-08-02", date_before="2019-12-31") == ["withdrew"]
    assert kinds(ordering="-date") == ["proposed", "withdrew", "signed"]
    assert anonymous.get(URL, {"kind": "exploded"}).status_code == 400


def test_writing_an_event_recomputes_the_measures_status(
    curator: APIClient, curator_user: Any
) -> None:
    measure = MeasureFactory(slug="inf")
    created = curator.post(
        URL,
        {"measure": "inf", "kind": "entered_into_force", "date": "1988-06-01"},
        format="json",
    )
    assert created.status_code == 201
    measure.refresh_from_db()
    assert measure.status == "in_force"
    assert measure.history.latest().history_user == curator_user
    path = f"{URL}{created.json()['id']}/"
    changed = curator.patch(path, {"kind": "expired"}, format="json", HTTP_IF_MATCH=created["ETag"])
    assert changed.status_code == 200
    assert Measure.objects.get(pk=measure.pk).status == "expired"
    assert curator.delete(path, HTTP_IF_MATCH=changed["ETag"]).status_code == 204
    assert Measure.objects.get(pk=measure.pk).status == ""


def test_moving_an_event_recomputes_both_measures(curator: APIClient) -> None:
    one, two = MeasureFactory(slug="one"), MeasureFactory(slug="two")
    created = curator.post(
        URL, {"measure": "one", "kind": "signed", "date": "2000-01-01"}, format="json"
    )
    moved = curator.patch(
        f"{URL}{created.json()['id']}/",
        {"measure": "two"},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert moved.status_code == 200
    assert (Measure.objects.get(pk=one.pk).status, Measure.objects.get(pk=two.pk).status) == (
        "",
        "signed",
    )


def test_a_month_precision_date_must_be_the_first(curator: APIClient) -> None:
    MeasureFactory(slug="inf")
    response = curator.post(
        URL,
        {"measure": "inf", "kind": "signed", "date": "1987-12-08", "date_precision": "month"},
        format="json",
    )
    assert response.status_code == 400
    assert "date" in response.json()


def test_a_date_alone_that_does_not_suit_the_stored_precision_is_a_409(
    curator: APIClient,
) -> None:
    event = EventFactory(date=datetime.date(1987, 1, 1), date_precision="year")
    url = f"/api/v1/events/{event.pk}/"

    refused = curator.patch(url, {"date": "1987-12-08"}, format="json", HTTP_IF_MATCH="*")
    assert refused.status_code == 409
    assert "send `date` and `date_precision` together" in refused.json()["detail"]
    alone = curator.patch(url, {"date_precision": "month"}, format="json", HTTP_IF_MATCH="*")
    assert alone.status_code == 200  # 1987-01-01 is the first of its month too
    event.refresh_from_db()
    assert event.date == datetime.date(1987, 1, 1)

    both = {"date": "1987-12-08", "date_precision": "day"}
    assert curator.patch(url, both, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert (
        curator.patch(url, {"date": "1988-01-01"}, format="json", HTTP_IF_MATCH="*").status_code
        == 200
    )
