"""A measure's named parties written through the API: the derived status and participations
follow (``proposals.derived``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from proposals.models import Measure
from tests.factories import ActorFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/measures/"


@pytest.fixture(autouse=True)
def actors() -> None:
    for code in ("USA", "RUS", "CHN"):
        ActorFactory(code=code)


def treaty(**overrides: Any) -> dict[str, Any]:
    return {
        "slug": "start",
        "title": "START",
        "categories": ["arms_limit"],
        "form": "treaty",
        "scope": "bilateral",
        "events": [
            {"kind": "signed", "date": "1991-07-31"},
            {"kind": "entered_into_force", "date": "1994-12-05"},
        ],
        **overrides,
    }


def test_named_parties_are_written_and_take_part_through_the_measures_events(
    curator: APIClient, curator_user: User
) -> None:
    response = curator.post(URL, treaty(parties=["usa", "RUS"]), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["parties"] == ["RUS", "USA"]
    assert {code: p["participation"] for code, p in body["participations"].items()} == {
        "RUS": "party",
        "USA": "party",
    }
    measure = Measure.objects.get(slug="start")
    assert measure.history.latest().history_user == curator_user


def test_changing_the_parties_moves_the_stored_status(
    curator: APIClient,
) -> None:
    events = [
        {"kind": "signed", "date": "1991-07-31"},
        {"kind": "entered_into_force", "date": "1994-12-05"},
        {"kind": "withdrew", "date": "2002-06-13", "actor": "USA"},
    ]
    created = curator.post(URL, treaty(events=events, parties=["USA", "RUS"]), format="json")
    assert created.status_code == 201, created.json()
    # A bilateral measure ends when one of its named parties withdraws.
    assert Measure.objects.get(slug="start").status == "terminated"
    history = Measure.history.filter(slug="start").count()

    response = curator.patch(
        f"{URL}start/", {"parties": ["RUS", "CHN"]}, format="json", HTTP_IF_MATCH=created["ETag"]
    )

    assert response.status_code == 200, response.json()
    assert response.json()["parties"] == ["CHN", "RUS"]
    measure = Measure.objects.get(slug="start")
    assert measure.status == "in_force"
    # One history row for the edit, one for the status it moved (proposals.derived).
    assert Measure.history.filter(slug="start").count() == history + 2
    latest = measure.history.latest()
    assert sorted(row.actor_id for row in latest.parties.all()) == sorted(
        measure.parties.values_list("pk", flat=True)
    )


def test_the_same_parties_again_write_nothing(curator: APIClient) -> None:
    created = curator.post(URL, treaty(parties=["USA", "RUS"]), format="json")
    history = Measure.history.count()
    response = curator.patch(
        f"{URL}start/", {"parties": ["rus", "usa"]}, format="json", HTTP_IF_MATCH=created["ETag"]
    )
    assert response.status_code == 200
    assert response["ETag"] == created["ETag"]
    assert Measure.history.count() == history


def test_an_unknown_party_is_a_404_naming_the_field(curator: APIClient) -> None:
    response = curator.post(URL, treaty(parties=["USA", "XYZ"]), format="json")
    assert response.status_code == 404
    assert list(response.json()) == ["parties"]
    assert not Measure.objects.exists()
