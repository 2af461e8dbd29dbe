"""The stored participations never drift from the derived ones, whatever writes the rows: the
admin (forms, history revert), the import (in process and through the API), ``QuerySet.update``,
``bulk_create``, ``bulk_update`` and plain saves in a shell, on events, measures, named parties
and actors' successors. After each write the stored rows are compared with what the rules derive
from the events (``tests.proposals.drift``: ``Measure.participations_on``, not the code that
stores them); raw SQL, the one writer no hook sees, is found by ``recompute_statuses --check``
and repaired by the daily job, which also lets dated events take effect."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from proposals import derived
from proposals.dataset import FORMAT, dataset_import
from proposals.models import Actor, Event, Measure, MeasureParty
from proposals.tasks import recompute_all_statuses
from tests.factories import ActorFactory, EventFactory, MeasureFactory
from tests.proposals.drift import assert_no_drift, event_form

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def inf() -> Measure:
    """A plurilateral treaty in force since 1988, ratified by the USA and the Soviet Union."""
    usa, sun = ActorFactory(code="USA"), ActorFactory(code="SUN", name="USSR")
    ActorFactory(code="RUS", name="Russia")  # not yet the Soviet Union's successor
    measure = MeasureFactory(slug="inf", scope="plurilateral")
    EventFactory(measure=measure, kind="ratified", actor=usa, date=D(1988, 5, 27))
    EventFactory(measure=measure, kind="ratified", actor=sun, date=D(1988, 5, 28))
    EventFactory(measure=measure, kind="entered_into_force", date=D(1988, 6, 1))
    assert assert_no_drift() == {("inf", "USA"): "party", ("inf", "SUN"): "party"}
    return measure


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_event_form(inf: Measure, admin_client: Client) -> None:
    event = Event.objects.get(measure=inf, actor__code="USA")

    response = admin_client.post(
        reverse("admin:proposals_event_change", args=[event.pk]),
        event_form(event, kind="signed"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert assert_no_drift()[("inf", "USA")] == "signatory"


def test_the_admin_actor_form_naming_a_successor(inf: Measure, admin_client: Client) -> None:
    sun, rus = Actor.objects.get(code="SUN"), Actor.objects.get(code="RUS")

    response = admin_client.post(
        reverse("admin:proposals_actor_change", args=[sun.pk]),
        {"code": "SUN", "name": sun.name, "kind": "state", "aliases": "[]", "successor": rus.pk},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert assert_no_drift()[("inf", "RUS")] == "party"  # it carries on the Soviet ratification


def test_reverting_an_event_from_its_admin_history(inf: Measure, admin_client: Client) -> None:
    event = Event.objects.get(measure=inf, actor__code="USA")
    original = event.history.earliest()
    event.kind = "withdrew"
    event.save()  # a shell write
    assert assert_no_drift()[("inf", "USA")] == "withdrawn"

    url = reverse("admin:proposals_event_simple_history", args=[event.pk, original.history_id])
    response = admin_client.post(url, event_form(original.instance))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert assert_no_drift()[("inf", "USA")] == "party"


# --- the import ---------------------------------------------------------------------------------


def document(*events: dict[str, object], parties: list[str] | None = None) -> dict[str, object]:
    return {
        "format": FORMAT,
        "actors": [{"code": "GBR", "name": "United Kingdom"}],
        "measures": [
            {
                "slug": "inf",
                "title": "INF Treaty",
                "categories": ["hotline"],
                "form": "agreement",
                "scope": "plurilateral",
                "parties": parties or [],
                "events": list(events),
            }
        ],
    }


def test_the_dataset_import(inf: Measure) -> None:
    report = dataset_import(
        data=document(
            {"kind": "withdrew", "date": "2019-08-02", "actor": "USA"},
            {"kind": "signed", "date": "2001-01-01", "actor": "GBR"},
        )
    )

    assert report.applied, report.as_dict()
    rows = assert_no_drift()
    assert (rows[("inf", "USA")], rows[("inf", "GBR")]) == ("withdrawn", "signatory")


def test_the_api_import(inf: Measure, admin_user: User) -> None:
    client = APIClient()
    client.force_authenticate(admin_user)

    response = client.post(
        "/api/v1/import/",
        document({"kind": "withdrew", "date": "2019-08-02", "actor": "SUN"}, parties=["GBR"]),
        format="json",
    )

    assert response.status_code == 200, response.content
    rows = assert_no_drift()
    # Named, the treaty's entry into force makes it a party.
    assert (rows[("inf", "SUN")], rows[("inf", "GBR")]) == ("withdrawn", "party")


# --- plain ORM writes in a shell ----------------------------------------------------------------


def test_querysets_update(inf: Measure) -> None:
    usa, sun, rus = (Actor.objects.get(code=code) for code in ("USA", "SUN", "RUS"))
    Event.objects.filter(actor=usa).update(kind="withdrew", date=D(2019, 8, 2))
    assert assert_no_drift()[("inf", "USA")] == "withdrawn"
    Actor.objects.filter(pk=sun.pk).update(successor=rus)
    assert assert_no_drift()[("inf", "RUS")] == "party"  # it carries on the Soviet ratification
    Actor.objects.filter(pk=sun.pk).update(successor=None)
    assert ("inf", "RUS") not in assert_no_drift()
    MeasureParty.objects.create(measure=inf, actor=usa)
    Measure.objects.filter(pk=inf.pk).update(scope="bilateral")  # the US withdrawal ends it
    assert assert_no_drift()[("inf", "SUN")] == "ended"
    MeasureParty.objects.filter(measure=inf).update(actor=rus)  # the US no longer named
    rows = assert_no_drift()
    assert (rows[("inf", "SUN")], rows[("inf", "RUS")]) == ("party", "party")


def test_bulk_create(inf: Measure) -> None:
    usa, sun, rus = (Actor.objects.get(code=code) for code in ("USA", "SUN", "RUS"))
    Event.objects.bulk_create([Event(measure=inf, actor=usa, kind="withdrew", date=D(2019, 8, 2))])
    assert assert_no_drift()[("inf", "USA")] == "withdrawn"
    Actor.objects.bulk_create(
        [Actor(code="SUN", name="USSR", successor=rus)],
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["successor"],
    )
    sun.refresh_from_db()
    assert sun.successor == rus
    assert assert_no_drift()[("inf", "RUS")] == "party"
    gbr = ActorFactory(code="GBR")
    MeasureParty.objects.bulk_create([MeasureParty(measure=inf, actor=gbr)])
    assert assert_no_drift()[("inf", "GBR")] == "party"  # named: the entry into force reaches it


def test_bulk_update(inf: Measure) -> None:
    usa, sun, rus = (Actor.objects.get(code=code) for code in ("USA", "SUN", "RUS"))
    event = Event.objects.get(actor=usa)
    event.kind = "declared_not_bound"
    Event.objects.bulk_update([event], ["kind"])
    assert assert_no_drift()[("inf", "USA")] == "withdrawn"
    sun.successor = rus
    Actor.objects.bulk_update([sun], ["successor"])
    assert assert_no_drift()[("inf", "RUS")] == "party"
    row = MeasureParty.objects.create(measure=inf, actor=usa)
    row.actor = Actor.objects.create(code="GBR", name="United Kingdom")
    MeasureParty.objects.bulk_update([row], ["actor"])
    assert assert_no_drift()[("inf", "GBR")] == "party"


def test_plain_saves_and_deletes(inf: Measure) -> None:
    usa, sun, rus = (Actor.objects.get(code=code) for code in ("USA", "SUN", "RUS"))
    ended = Event.objects.create(measure=inf, kind="terminated", date=D(2019, 8, 2))
    rows = assert_no_drift()
    assert (rows[("inf", "USA")], rows[("inf", "SUN")]) == ("ended", "ended")
    ended.delete()
    sun.successor = rus
    sun.save()
    assert assert_no_drift()[("inf", "RUS")] == "party"
    inf.parties.add(ActorFactory(code="GBR"))
    assert assert_no_drift()[("inf", "GBR")] == "party"
    inf.parties.clear()
    assert ("inf", "GBR") not in assert_no_drift()
    moved = Event.objects.get(actor=usa)
    moved.measure = Measure.objects.create(slug="other", title="Other", scope="plurilateral")
    moved.save()
    rows = assert_no_drift()
    assert (("inf", "USA") in rows, rows[("other", "USA")]) == (False, "party")
    inf.delete()
    assert set(assert_no_drift()) == {("other", "USA")}


# --- what the hooks cannot see, and the days that pass ------------------------------------------


@pytest.mark.makes_drift
def test_the_check_reports_drift_made_by_raw_sql_and_the_daily_job_repairs_it(
    inf: Measure,
) -> None:
    call_command("recompute_statuses", "--check", stdout=io.StringIO())  # clean: no error
    usa, sun = Actor.objects.get(code="USA").pk, Actor.objects.get(code="SUN").pk
    with connection.cursor() as cursor:  # raw SQL is the one writer no hook can see
        cursor.execute(
            "UPDATE proposals_measureparticipation SET participation = 'withdrawn' "
            "WHERE actor_id = %s",
            [usa],
        )
        cursor.execute("DELETE FROM proposals_measureparticipation WHERE actor_id = %s", [sun])
    errors = io.StringIO()

    with pytest.raises(CommandError, match="2 participations differ"):
        call_command("recompute_statuses", "--check", stdout=io.StringIO(), stderr=errors)

    assert errors.getvalue().splitlines() == [
        "inf, participation of SUN: stored (no participation), derived party",
        "inf, participation of USA: stored withdrawn, derived party",
    ]
    assert recompute_all_statuses() == 1  # the daily job: one measure changed
    assert_no_drift()
    call_command("recompute_statuses", "--check", stdout=io.StringIO())


def test_the_daily_job_lets_dated_events_take_effect() -> None:
    with time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC)):
        usa = ActorFactory(code="USA")
        measure = MeasureFactory(slug="talks", scope="plurilateral")
        EventFactory(measure=measure, kind="ratified", actor=usa, date=D(2020, 1, 1))
        EventFactory(measure=measure, kind="withdrew", actor=usa, date=D(2026, 3, 11))
        EventFactory(
            measure=measure,
            kind="ratified",
            actor=ActorFactory(code="GBR"),
            date=D(2026, 3, 1),
            date_precision="month",  # some day in March
        )
        assert assert_no_drift() == {("talks", "USA"): "party", ("talks", "GBR"): "none|party"}
    with time_machine.travel(datetime.datetime(2026, 4, 1, 0, 5, tzinfo=datetime.UTC)):
        assert derived.drift().participations != []  # the days have come; the copy is stale
        assert recompute_all_statuses() == 1
        assert assert_no_drift() == {("talks", "USA"): "withdrawn", ("talks", "GBR"): "party"}
    derived.rederive_all()
