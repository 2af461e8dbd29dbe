"""Citations written with their event or position (or inside a measure's events and positions):
each source named by URL, matched by normalized URL or created, all in the fact's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from proposals.models import Citation, Event, Measure, Position
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db

# An event created with its citations, whatever their number (savepoints count as queries):
# 1-2 the token, 3-4 the permissions, 5-6 the measure and actor named in the body,
# 7-8 savepoint and the measure locked, 9-10 the event's measure and actor checked to exist,
# 11-18 the precision and the two unique constraints checked, each in its savepoint,
# 19-20 the event and its history row, 21-27 the measure's status derived again (successors,
# parties, scope, events, the measure) in a savepoint, 28-32 in a savepoint: the sources by
# URL, one insert of the new ones and one of their history rows, 33 the event's citations,
# 34-35 one insert of the new citations and one of their history rows, 36 release,
# 37-38 the event read back with its citations for the answer.
# Eight more store the measure's derived rows (proposals.derived): its participations (their
# read and insert), who is involved in it (the actors of its events, positions and parties,
# the stored rows, the insert of the event's actor) and its answers over time (the stored
# status and participation spans read, the new status span inserted).
QUERIES = 46


@pytest.fixture
def inf() -> Measure:
    ActorFactory(code="USA")
    return MeasureFactory(slug="inf")


def event(**extra: Any) -> dict[str, Any]:
    return {"measure": "inf", "kind": "signed", "date": "1987-12-08", "actor": "USA", **extra}


def test_an_event_cites_new_and_known_sources_by_url_or_id(
    curator: APIClient, curator_user: User, inf: Measure
) -> None:
    known = SourceFactory(url="https://www.un.org/inf")
    other = SourceFactory(url="https://example.org/analysis")
    response = curator.post(
        "/api/v1/events/",
        event(
            citations=[
                {"url": "https://www.state.gov/inf", "quote": "Signed today.", "locator": "p. 1"},
                {"url": "HTTPS://WWW.UN.ORG/inf?utm_source=feed", "locator": "art. 1"},
                {"source": other.pk},
            ]
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    cited = response.json()["citations"]
    assert [(c["source"]["url"], c["quote"], c["locator"]) for c in cited] == [
        ("https://www.state.gov/inf", "Signed today.", "p. 1"),
        ("https://www.un.org/inf", "", "art. 1"),
        ("https://example.org/analysis", "", ""),
    ]
    assert cited[1]["source"]["id"] == known.pk
    new = Source.objects.get(url="https://www.state.gov/inf")
    assert (new.kind, new.health, new.history.get().history_user) == (
        "other",
        "unchecked",
        curator_user,
    )
    assert Citation.history.filter(history_user=curator_user).count() == 3
    assert Source.objects.count() == 3


@pytest.mark.parametrize("n", [1, 4])
def test_the_queries_of_a_cited_create_do_not_grow_with_its_citations(
    curator: APIClient, inf: Measure, django_assert_num_queries: Any, n: int
) -> None:
    SourceFactory(url="https://www.un.org/known")
    citations = [{"url": f"https://www.state.gov/inf/{i}"} for i in range(n)]
    citations.append({"url": "https://www.un.org/known"})
    with django_assert_num_queries(QUERIES):
        response = curator.post("/api/v1/events/", event(citations=citations), format="json")
    assert response.status_code == 201, response.json()
    assert len(response.json()["citations"]) == n + 1


@pytest.mark.parametrize(
    ("citations", "named"),
    [
        ([{"url": "https://www.state.gov/a"}, {"url": "ftp://example.org/x"}], "citations[1].url"),
        ([{"quote": "No source"}], "citations"),
        (
            [{"url": "https://www.state.gov/a"}, {"url": "https://www.state.gov/a#x"}],
            "citations[1]",
        ),
    ],
)
def test_a_bad_citation_writes_nothing(
    curator: APIClient, inf: Measure, citations: list[dict[str, Any]], named: str
) -> None:
    response = curator.post("/api/v1/events/", event(citations=citations), format="json")
    assert response.status_code == 400
    assert named in response.json()
    assert (Event.objects.count(), Source.objects.count(), Citation.objects.count()) == (0, 0, 0)


def test_a_citation_of_a_source_that_does_not_exist_is_a_404_writing_nothing(
    curator: APIClient, inf: Measure
) -> None:
    citations = [{"url": "https://www.state.gov/a"}, {"source": 999999}]
    response = curator.post("/api/v1/events/", event(citations=citations), format="json")
    assert response.status_code == 404
    assert response.json() == {
        "citations": {"1": {"source": ['Invalid pk "999999" - object does not exist.']}}
    }
    assert (Event.objects.count(), Source.objects.count(), Citation.objects.count()) == (0, 0, 0)


def test_an_update_makes_the_list_the_events_citations(curator: APIClient, inf: Measure) -> None:
    signed = EventFactory(measure=inf, kind="signed")
    kept = CitationFactory(measure=None, event=signed, locator="art. 1", quote="old")
    dropped = CitationFactory(measure=None, event=signed, locator="art. 2")
    path = f"/api/v1/events/{signed.pk}/"
    response = curator.patch(
        path,
        {
            "citations": [
                {"source": kept.source_id, "locator": "art. 1", "quote": "new"},
                {"url": "https://www.state.gov/inf"},
            ]
        },
        format="json",
        HTTP_IF_MATCH=curator.get(path)["ETag"],
    )
    assert response.status_code == 200, response.json()
    first = response.json()["citations"][0]
    assert (first["id"], first["quote"]) == (kept.pk, "new")
    assert not Citation.objects.filter(pk=dropped.pk).exists()
    assert signed.citations.count() == 2
    # Without "citations" a write leaves them alone.
    again = curator.patch(
        path, {"description": "At the White House."}, format="json", HTTP_IF_MATCH=response["ETag"]
    )
    assert again.status_code == 200
    assert signed.citations.count() == 2


def test_a_position_cites_a_source_by_url(curator: APIClient, inf: Measure) -> None:
    response = curator.post(
        "/api/v1/positions/",
        {
            "measure": "inf",
            "actor": "USA",
            "stance": "proposes",
            "date": "1987-01-01",
            "citations": [{"url": "https://www.state.gov/proposal", "quote": "We propose."}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    position = Position.objects.get()
    assert position.citations.get().source.url == "https://www.state.gov/proposal"


def test_a_measure_write_cites_inside_its_events_and_positions(curator: APIClient) -> None:
    ActorFactory(code="USA")
    document: dict[str, Any] = {
        "slug": "hotline",
        "title": "Hotline agreement",
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        "events": [
            {
                "kind": "signed",
                "date": "1963-06-20",
                "citations": [{"url": "https://www.state.gov/hotline", "locator": "§1"}],
            }
        ],
        "positions": [
            {
                "actor": "USA",
                "stance": "proposes",
                "date": "1962-04-18",
                "citations": [{"url": "https://www.state.gov/hotline", "locator": "§2"}],
            }
        ],
    }
    response = curator.post("/api/v1/measures/", document, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["events"][0]["citations"][0]["source"]["url"] == "https://www.state.gov/hotline"
    assert body["positions"][0]["citations"][0]["locator"] == "§2"
    assert Source.objects.count() == 1

    broken = {**document, "slug": "other", "events": [{**document["events"][0]}]}
    broken["events"][0]["citations"] = [{"url": "ftp://example.org/hotline"}]
    refused = curator.post("/api/v1/measures/", broken, format="json")
    assert refused.status_code == 400
    assert "events[0].citations[0].url" in refused.json()
    assert not Measure.objects.filter(slug="other").exists()
