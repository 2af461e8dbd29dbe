"""The stored status never drifts from the derived one, whatever writes the rows: the API, the
admin (forms, inlines, bulk delete, history revert), the import, management commands and plain
ORM writes in a shell. After each write, every measure's stored status is compared with what
the rules derive, and the status change is recorded under the writer's name."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from proposals.dataset import FORMAT, dataset_import
from proposals.models import Event, Measure, MeasureParty
from tests.factories import ActorFactory, EventFactory, MeasureFactory
from tests.proposals.drift import assert_no_drift, event_form

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def two_measures() -> tuple[Measure, Measure]:
    """One in force by its only event, one with nothing yet."""
    in_force = MeasureFactory(slug="in-force", categories=["hotline"])
    empty = MeasureFactory(slug="empty", categories=["hotline"])
    EventFactory(measure=in_force, kind="entered_into_force", date=D(1990, 1, 1))
    return in_force, empty


def status(slug: str) -> str:
    return Measure.objects.get(slug=slug).status


def last_author(slug: str) -> str | None:
    record = Measure.objects.get(slug=slug).history.order_by("-history_id").first()
    return record.history_user.username if record and record.history_user else None


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def curator_client() -> APIClient:
    user = User.objects.create_user("curator", password="a long curator passphrase")
    user.groups.add(Group.objects.get(name="curators"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_moving_an_event_recomputes_both_measures(
    two_measures: tuple[Measure, Measure], curator_client: APIClient
) -> None:
    event = Event.objects.get(measure__slug="in-force")

    response = curator_client.patch(
        f"/api/v1/events/{event.pk}/", {"measure": "empty"}, format="json", HTTP_IF_MATCH="*"
    )

    assert response.status_code == 200, response.content
    assert (status("in-force"), status("empty")) == ("", "in_force")
    assert last_author("in-force") == last_author("empty") == "curator"
    assert_no_drift()


def test_the_api_creating_and_deleting_events(
    two_measures: tuple[Measure, Measure], curator_client: APIClient
) -> None:
    created = curator_client.post(
        "/api/v1/events/",
        {"measure": "empty", "kind": "signed", "date": "2001-01-01"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert status("empty") == "signed"
    assert (
        curator_client.delete(
            f"/api/v1/events/{created.json()['id']}/", HTTP_IF_MATCH="*"
        ).status_code
        == 204
    )
    assert status("empty") == ""
    assert_no_drift()


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_moving_an_event_recomputes_the_measure_it_left(
    two_measures: tuple[Measure, Measure], admin_client: Client, admin_user: User
) -> None:
    in_force, empty = two_measures
    event = Event.objects.get(measure=in_force)

    response = admin_client.post(
        reverse("admin:proposals_event_change", args=[event.pk]),
        event_form(event, measure=empty.pk),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert (status("in-force"), status("empty")) == ("", "in_force")
    assert last_author("in-force") == admin_user.username
    assert_no_drift()


def test_the_admin_bulk_delete_recomputes(
    two_measures: tuple[Measure, Measure], admin_client: Client
) -> None:
    event = Event.objects.get(measure__slug="in-force")

    response = admin_client.post(
        reverse("admin:proposals_event_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Event.objects.exists()
    assert status("in-force") == ""
    assert_no_drift()


def test_reverting_an_event_from_its_admin_history_recomputes(
    two_measures: tuple[Measure, Measure], admin_client: Client
) -> None:
    in_force, empty = two_measures
    event = Event.objects.get(measure=in_force)
    original = event.history.earliest()
    event.measure = empty
    event.save()  # moved away (a shell write)
    assert (status("in-force"), status("empty")) == ("", "in_force")

    url = reverse("admin:proposals_event_simple_history", args=[event.pk, original.history_id])
    response = admin_client.post(url, event_form(original.instance))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert (status("in-force"), status("empty")) == ("in_force", "")
    assert_no_drift()


def test_the_admin_inline_on_the_measure_page_and_a_changed_scope(
    admin_client: Client,
) -> None:
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    measure = MeasureFactory(slug="talks", categories=["hotline"], scope="plurilateral")
    measure.parties.set([usa, rus])
    EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 1, 1))
    form = {
        "title": measure.title,
        "slug": measure.slug,
        "summary": "",
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",  # now a party's withdrawal ends it
        "party_rows-TOTAL_FORMS": "2",
        "party_rows-INITIAL_FORMS": "2",
        **{
            f"party_rows-{i}-{name}": value
            for i, row in enumerate(MeasureParty.objects.filter(measure=measure).order_by("pk"))
            for name, value in (("id", row.pk), ("measure", measure.pk), ("actor", row.actor_id))
        },
        "venue": "",
        "parameters": "{}",
        "events-TOTAL_FORMS": "2",
        "events-INITIAL_FORMS": "1",
        "events-0-id": measure.events.get().pk,
        "events-0-measure": measure.pk,
        "events-0-date": "2000-01-01",
        "events-0-date_precision": "day",
        "events-0-kind": "entered_into_force",
        "events-0-certainty": "confirmed",
        "events-1-measure": measure.pk,
        "events-1-date": "2019-08-02",
        "events-1-date_precision": "day",
        "events-1-kind": "withdrew",
        "events-1-actor": usa.pk,
        "events-1-certainty": "confirmed",
        "positions-TOTAL_FORMS": "0",
        "positions-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }

    response = admin_client.post(reverse("admin:proposals_measure_change", args=[measure.pk]), form)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert status("talks") == "terminated"
    assert_no_drift()


# --- the import and management commands ---------------------------------------------------------


def test_the_dataset_import_derives_each_measure(two_measures: tuple[Measure, Measure]) -> None:
    report = dataset_import(
        data={
            "format": FORMAT,
            "measures": [
                {
                    "slug": "empty",
                    "title": "Now signed",
                    "categories": ["hotline"],
                    "form": "agreement",
                    "scope": "bilateral",
                    "events": [{"kind": "signed", "date": "2005-05-05"}],
                }
            ],
        }
    )

    assert report.applied, report.as_dict()
    assert status("empty") == "signed"
    assert_no_drift()


def test_the_import_command_and_the_demo_loader(
    two_measures: tuple[Measure, Measure], tmp_path: Path
) -> None:
    document = tmp_path / "doc.json"
    document.write_text(
        json.dumps(
            {
                "format": FORMAT,
                "measures": [
                    {
                        "slug": "in-force",
                        "title": "Ended",
                        "categories": ["hotline"],
                        "form": "agreement",
                        "scope": "bilateral",
                        "events": [{"kind": "terminated", "date": "2010-01-01"}],
                    }
                ],
            }
        )
    )

    call_command("import_dataset", str(document), stdout=io.StringIO(), stderr=io.StringIO())
    assert status("in-force") == "terminated"
    call_command("load_demo", stdout=io.StringIO())
    assert Measure.objects.count() > 2
    assert_no_drift()


# --- plain ORM writes in a shell ----------------------------------------------------------------


def test_plain_saves_and_deletes(two_measures: tuple[Measure, Measure]) -> None:
    in_force, empty = two_measures
    event = Event.objects.create(measure=empty, kind="signed", date=D(2001, 1, 1))
    assert status("empty") == "signed"
    event.measure = in_force
    event.save()
    assert status("empty") == ""
    event.delete()
    in_force.events.all().delete()
    assert status("in-force") == ""
    assert_no_drift()


def test_bulk_writes_that_send_no_signal(two_measures: tuple[Measure, Measure]) -> None:
    in_force, empty = two_measures
    Event.objects.filter(measure=in_force).update(measure=empty)
    assert (status("in-force"), status("empty")) == ("", "in_force")
    [created] = Event.objects.bulk_create(
        [Event(measure=in_force, kind="signed", date=D(1999, 1, 1))]
    )
    assert status("in-force") == "signed"
    created.kind = "rejected"
    Event.objects.bulk_update([created], ["kind"])
    assert status("in-force") == "rejected"
    assert_no_drift()


def test_a_typed_status_is_put_back(two_measures: tuple[Measure, Measure]) -> None:
    in_force, _ = two_measures
    in_force.status = "rejected"
    in_force.save()
    assert status("in-force") == "in_force"
    Measure.objects.filter(slug="in-force").update(status="expired")
    assert status("in-force") == "in_force"
    assert_no_drift()


def test_parties_scope_and_successors_reach_the_status() -> None:
    usa, sun = ActorFactory(code="USA"), ActorFactory(code="SUN")
    inf = MeasureFactory(slug="inf", categories=["arms_limit"], scope="plurilateral")
    EventFactory(measure=inf, kind="entered_into_force", date=D(1988, 6, 1))
    EventFactory(measure=inf, kind="withdrew", actor=usa, date=D(2019, 8, 2))
    assert status("inf") == "in_force"  # plurilateral: it goes on

    Measure.objects.filter(pk=inf.pk).update(scope="bilateral")
    assert status("inf") == "in_force"  # bilateral, but the US is not a named party yet
    inf.parties.add(usa)
    assert status("inf") == "terminated"
    inf.parties.remove(usa)
    assert status("inf") == "in_force"
    MeasureParty.objects.create(measure=inf, actor=sun)
    rus = ActorFactory(code="RUS")
    EventFactory(measure=inf, kind="suspended", actor=rus, date=D(2019, 2, 2))
    assert status("inf") == "in_force"  # Russia is not yet the Soviet Union's successor
    sun.successor = rus
    sun.save()
    assert status("inf") == "suspended"
    MeasureParty.objects.filter(measure=inf).delete()
    assert status("inf") == "in_force"
    assert_no_drift()


def test_deleting_a_measure_writes_no_status_change_first(
    two_measures: tuple[Measure, Measure],
) -> None:
    in_force, _ = two_measures
    versions = in_force.history.count()

    in_force.delete()

    assert Measure.history.filter(slug="in-force").count() == versions + 1  # the deletion only
    assert_no_drift()


# --- the check for operators --------------------------------------------------------------------


@pytest.mark.makes_drift
def test_the_check_names_each_drifted_measure_and_fails(
    two_measures: tuple[Measure, Measure],
) -> None:
    call_command("recompute_statuses", "--check", stdout=io.StringIO())  # clean: no error
    with connection.cursor() as cursor:  # raw SQL is the one writer no hook can see
        cursor.execute("UPDATE proposals_measure SET status = 'expired' WHERE slug = 'in-force'")
    errors = io.StringIO()

    with pytest.raises(CommandError, match="1 measure statuses differ"):
        call_command("recompute_statuses", "--check", stdout=io.StringIO(), stderr=errors)

    assert "in-force: stored expired, derived in_force" in errors.getvalue()
    call_command("recompute_statuses", stdout=io.StringIO())
    assert_no_drift()


@time_machine.travel(datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC))
def test_an_uncertain_status_is_stored_as_its_possible_values() -> None:
    measure = MeasureFactory(slug="coarse", categories=["hotline"])
    EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 1, 1))
    EventFactory(measure=measure, kind="suspended", date=D(2026, 1, 1), date_precision="year")

    measure.refresh_from_db()

    assert (measure.status, measure.status_possible) == ("", ",in_force,suspended,")
    assert list(Measure.objects.with_stored_status(statuses=["suspended"])) == [measure]
    assert not Measure.objects.with_stored_status(statuses=["suspended"], certain_only=True)
    assert_no_drift()
