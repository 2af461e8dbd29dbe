"""GET/POST/PUT/PATCH/DELETE /api/v1/citations/."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import CitationFactory, EventFactory, MeasureFactory, SourceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/citations/"


@pytest.mark.parametrize("n", [3, 12])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    CitationFactory.create_batch(n)
    # 1 data version, 2 COUNT, 3 the page with source and measure joined.
    with django_assert_num_queries(3):
        response = anonymous.get(URL)
    assert response.json()["count"] == n


def test_filters_over_http(anonymous: APIClient) -> None:
    measure = MeasureFactory(slug="inf")
    on_measure = CitationFactory(measure=measure)
    on_event = CitationFactory(measure=None, event=EventFactory(measure=measure))
    CitationFactory()

    def ids(**params: Any) -> set[int]:
        return {c["id"] for c in anonymous.get(URL, params).json()["results"]}

    assert ids(measure="inf") == {on_measure.pk, on_event.pk}
    assert ids(event=on_event.event_id) == {on_event.pk}
    assert ids(source=on_measure.source_id) == {on_measure.pk}
    assert anonymous.get(URL, {"source": "abc"}).status_code == 400


@pytest.mark.parametrize(
    "targets",
    [{}, {"measure": "inf", "event": "EVENT"}],
)
def test_a_citation_supports_exactly_one_thing(curator: APIClient, targets: dict[str, Any]) -> None:
    measure = MeasureFactory(slug="inf")
    event = EventFactory(measure=measure)
    body = {"source": SourceFactory().pk, **targets}
    if body.get("event") == "EVENT":
        body["event"] = event.pk
    response = curator.post(URL, body, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_a_curator_cites_an_event(curator: APIClient) -> None:
    event = EventFactory()
    source = SourceFactory()
    response = curator.post(
        URL, {"source": source.pk, "event": event.pk, "locator": "art. 15"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["event"] == event.pk
    assert response.json()["measure"] is None


def test_a_partial_update_that_would_leave_two_facts_is_a_409_saying_how(
    curator: APIClient,
) -> None:
    citation = CitationFactory(measure=MeasureFactory(slug="inf"))
    event = EventFactory(measure=citation.measure)
    url = f"{URL}{citation.pk}/"

    refused = curator.patch(url, {"event": event.pk}, format="json", HTTP_IF_MATCH="*")
    assert refused.status_code == 409
    assert "send `measure: null`" in refused.json()["detail"]
    citation.refresh_from_db()
    assert (citation.measure_id, citation.event_id) == (event.measure_id, None)

    moved = curator.patch(
        url, {"measure": None, "event": event.pk}, format="json", HTTP_IF_MATCH="*"
    )
    assert moved.status_code == 200, moved.json()
    citation.refresh_from_db()
    assert (citation.measure_id, citation.event_id) == (None, event.pk)


def test_a_partial_update_naming_two_facts_is_a_400(curator: APIClient) -> None:
    citation = CitationFactory(measure=MeasureFactory(slug="inf"))
    event = EventFactory(measure=citation.measure)
    response = curator.patch(
        f"{URL}{citation.pk}/",
        {"measure": "inf", "event": event.pk},
        format="json",
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
