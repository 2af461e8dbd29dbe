"""The demo dataset: complete, cited, consistent, and safe to load at every start."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.management import call_command
from django.db.models import Count

from proposals import derived
from proposals.management.commands.load_demo import DEMO_FILE
from proposals.models import Category, Event, Measure, Position
from tracker.models import Source

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def demo() -> None:
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_demo_file_is_in_the_import_format() -> None:
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    assert data["format"] == "arms-control-tracker/1"


def test_it_holds_enough_of_every_kind(demo: None) -> None:
    assert Measure.objects.count() >= 15
    assert Event.objects.count() >= 40
    assert Position.objects.count() >= 15
    covered = set(Measure.objects.values_list("categories__code", flat=True))
    assert covered == set(Category.objects.values_list("code", flat=True))


def test_every_fact_is_cited(demo: None) -> None:
    assert not Measure.objects.annotate(n=Count("citations")).filter(n=0).exists()
    assert not Event.objects.annotate(n=Count("citations")).filter(n=0).exists()
    assert not Position.objects.annotate(n=Count("citations")).filter(n=0).exists()


def test_the_actors_of_the_seed_documents_are_there(demo: None) -> None:
    from proposals.models import Actor

    codes = set(Actor.objects.values_list("code", flat=True))
    assert {"JPN", "USA", "CHN", "RUS", "KOR", "PRK", "SUN"} <= codes
    assert Actor.objects.get(code="SUN").successor.code == "RUS"


def test_loading_twice_changes_nothing(demo: None) -> None:
    def snapshot() -> list[object]:
        return [
            sorted(Measure.objects.values_list("slug", "updated_at", "status")),
            sorted(Event.objects.values_list("id", "updated_at")),
            sorted(Position.objects.values_list("id", "updated_at")),
            sorted(Source.objects.values_list("url", "updated_at")),
            Measure.history.count(),
            Event.history.count(),
        ]

    before = snapshot()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == before


def test_loading_again_keeps_a_curators_edit(demo: None) -> None:
    measure = Measure.objects.get(slug="inf-treaty")
    measure.summary = "Edited by a curator."
    measure.save()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    measure.refresh_from_db()
    assert measure.summary == "Edited by a curator."


def test_every_stored_status_equals_the_derived_one(demo: None) -> None:
    assert derived.drifted() == []


@pytest.mark.parametrize(
    ("slug", "on", "status"),
    [
        ("inf-treaty", D(1988, 6, 1), "in_force"),
        ("inf-treaty", D(2019, 1, 1), "in_force"),
        ("inf-treaty", D(2019, 9, 1), "terminated"),
        ("new-start", D(2024, 1, 1), "in_force"),
        ("new-start", D(2026, 2, 5), "expired"),
        ("open-skies-treaty", D(2022, 1, 1), "in_force"),
    ],
)
def test_real_treaties_walk_through_their_dates(
    demo: None, slug: str, on: datetime.date, status: str
) -> None:
    assert Measure.objects.get(slug=slug).status_on(on).value == status


@pytest.mark.parametrize(
    ("slug", "on", "actor", "participation"),
    [
        ("inf-treaty", D(2019, 3, 1), "RUS", "suspended"),
        ("inf-treaty", D(2019, 8, 2), "USA", "withdrawn"),
        ("new-start", D(2022, 1, 1), "RUS", "party"),
        ("new-start", D(2024, 1, 1), "RUS", "suspended"),
        ("new-start", D(2024, 1, 1), "USA", "party"),
        ("open-skies-treaty", D(2020, 11, 22), "USA", "withdrawn"),
        ("open-skies-treaty", D(2021, 1, 1), "RUS", "party"),
        ("open-skies-treaty", D(2021, 12, 18), "RUS", "withdrawn"),
    ],
)
def test_participation_walks_through_its_dates(
    demo: None, slug: str, on: datetime.date, actor: str, participation: str
) -> None:
    assert Measure.objects.get(slug=slug).participations_on(on)[actor].value == participation
