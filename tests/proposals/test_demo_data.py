"""The demo dataset: complete, cited, consistent, and safe to load at every start."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.management import call_command
from django.db.models import Count

from proposals import derived
from proposals.dataset import dataset_import
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
        ("new-start", D(2024, 1, 1), "suspended"),  # Russia suspended a bilateral treaty
        ("new-start", D(2026, 2, 5), "expired"),
        ("open-skies-treaty", D(2022, 1, 1), "in_force"),
        # Added or fixed in the demo:
        ("abm-treaty", D(1990, 1, 1), "in_force"),
        ("cfe-treaty", D(1991, 1, 1), "signed"),
        ("cfe-treaty", D(2026, 12, 1), "in_force"),
        ("japan-russia-incsea-1993", D(2026, 12, 1), "in_force"),
        ("us-china-military-cbm-mous-2014", D(2026, 12, 1), "in_force"),
        ("us-japan-space-framework-agreement-2023", D(2026, 12, 1), "in_force"),
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
        ("cfe-treaty", D(2008, 1, 1), "RUS", "suspended"),
        ("cfe-treaty", D(2023, 11, 7), "RUS", "withdrawn"),
        ("cfe-treaty", D(2024, 1, 1), "USA", "suspended"),
        ("abm-treaty", D(2002, 6, 13), "USA", "withdrawn"),
    ],
)
def test_participation_walks_through_its_dates(
    demo: None, slug: str, on: datetime.date, actor: str, participation: str
) -> None:
    assert Measure.objects.get(slug=slug).participations_on(on)[actor].value == participation


# --- what the demo must hold to be worth citing ---------------------------------------------

AGREEMENT_FORMS = ("treaty", "agreement", "memorandum", "political_commitment")


def test_the_demo_loads_without_a_rejected_row(db: None) -> None:
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    report = dataset_import(data=data, update_existing=False)
    assert report.applied
    assert [(r.table, r.key, r.reason) for r in report.rejected] == []


def test_every_bilateral_or_plurilateral_agreement_names_its_parties(demo: None) -> None:
    agreements = Measure.objects.filter(
        form__in=AGREEMENT_FORMS, scope__in=("bilateral", "plurilateral")
    ).prefetch_related("parties")
    assert agreements.count() >= 20
    for measure in agreements:
        assert len(measure.parties.all()) >= 2, measure.slug


def test_every_fact_without_a_primary_source_is_marked_reported_or_disputed(demo: None) -> None:
    for model in (Event, Position):
        unsourced = model.objects.exclude(citations__source__is_primary=True)  # type: ignore[attr-defined]
        assert not unsourced.filter(certainty="confirmed").exists(), model.__name__


def test_some_facts_rest_on_primary_sources(demo: None) -> None:
    assert Event.objects.filter(citations__source__is_primary=True).distinct().count() >= 50
    assert Position.objects.filter(citations__source__is_primary=True).distinct().count() >= 5


def _event(slug: str, kind: str, on: datetime.date, actor: str | None) -> Event:
    events = Event.objects.filter(measure__slug=slug, kind=kind, date=on)
    return events.get(actor__code=actor) if actor else events.get(actor=None)


@pytest.mark.parametrize(
    ("slug", "kind", "on", "actor"),
    [
        ("cfe-treaty", "signed", D(1990, 11, 19), None),
        ("cfe-treaty", "entered_into_force", D(1992, 11, 9), None),
        ("cfe-treaty", "suspended", D(2007, 12, 12), "RUS"),
        ("cfe-treaty", "withdrew", D(2023, 11, 7), "RUS"),
        ("cfe-treaty", "suspended", D(2023, 12, 7), "USA"),
        ("abm-treaty", "signed", D(1972, 5, 26), None),
        ("abm-treaty", "entered_into_force", D(1972, 10, 3), None),
        ("abm-treaty", "withdrawal_notified", D(2001, 12, 13), "USA"),
        ("abm-treaty", "withdrew", D(2002, 6, 13), "USA"),
        ("us-japan-space-framework-agreement-2023", "signed", D(2023, 1, 13), None),
        ("us-japan-space-framework-agreement-2023", "entered_into_force", D(2023, 6, 19), None),
        ("ppwt-draft-treaty", "proposed", D(2008, 2, 12), None),
        ("ppwt-draft-treaty", "proposed", D(2014, 6, 10), None),
        (
            "northeast-asia-inf-range-deployment-restriction-proposal",
            "incident",
            D(2022, 12, 5),
            "RUS",
        ),
        (
            "russia-china-military-cooperation-agreement-negotiations",
            "incident",
            D(2020, 12, 22),
            "CHN",
        ),
        (
            "russia-china-military-cooperation-agreement-negotiations",
            "incident",
            D(2022, 11, 30),
            "RUS",
        ),
        ("japan-russia-incsea-1993", "implemented", D(2009, 6, 2), None),
        ("us-china-military-cbm-mous-2014", "implemented", D(2021, 11, 30), None),
    ],
)
def test_the_added_measures_hold_their_key_events(
    demo: None, slug: str, kind: str, on: datetime.date, actor: str | None
) -> None:
    event = _event(slug, kind, on, actor)
    assert event.citations.exists()


def test_the_added_measures_name_their_parties_and_venues(demo: None) -> None:
    def parties(slug: str) -> set[str]:
        return set(Measure.objects.get(slug=slug).parties.values_list("code", flat=True))

    assert parties("abm-treaty") == {"USA", "SUN"}
    assert {"USA", "RUS"} <= parties("cfe-treaty")
    assert parties("us-japan-space-framework-agreement-2023") == {"USA", "JPN"}
    assert Measure.objects.get(slug="ppwt-draft-treaty").venue == "Conference on Disarmament"
    resolution = Measure.objects.get(slug="unga-prevention-of-arms-race-in-outer-space-resolution")
    assert resolution.venue == "UN General Assembly First Committee"


def test_a_recorded_vote_becomes_positions_citing_the_un_record(demo: None) -> None:
    votes = Position.objects.filter(
        measure__slug="unga-prevention-of-arms-race-in-outer-space-resolution"
    ).order_by("date")
    assert [(p.actor.code, p.stance, p.date) for p in votes] == [
        ("USA", "neutral", D(2002, 10, 22)),
        ("USA", "opposes", D(2005, 10, 25)),
    ]
    for position in votes:
        assert position.certainty == "confirmed"
        assert position.citations.filter(source__is_primary=True).exists()
