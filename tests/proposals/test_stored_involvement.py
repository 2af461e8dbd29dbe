"""Who is involved in each measure (``MeasureInvolvement``, read by the ``actor`` filter) never
drifts from its events, positions and named parties, whatever writes them: the admin (the
measure page's position inline, the position's own page, a history revert), the dataset import,
the votes import, ``QuerySet.update``, ``bulk_create``, ``bulk_update``, deletes and plain saves
in a shell. After each write the stored rows are compared with the facts themselves
(``tests.proposals.drift``); raw SQL, the one writer no hook sees, is found by
``recompute_statuses --check`` and repaired by the daily job. A position write that moves no
position to another measure or actor costs no query of the derived state."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from proposals.dataset import FORMAT, dataset_import
from proposals.models import Actor, Event, Measure, MeasureInvolvement, MeasureParty, Position
from proposals.tasks import recompute_all_statuses
from proposals.votes import Resolution, VoteRow, votes_import
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory
from tests.proposals.drift import assert_no_drift, involvement_by_the_facts, stored_involvement

pytestmark = pytest.mark.django_db
D = datetime.date
NumQueries = Callable[[int], AbstractContextManager[Any]]


@pytest.fixture
def talks() -> Measure:
    """USA ratified it, RUS is a named party, CHN took a position on it; GBR is on nothing, and
    another measure has nothing yet."""
    usa, rus, chn = (ActorFactory(code=code) for code in ("USA", "RUS", "CHN"))
    ActorFactory(code="GBR")
    measure = MeasureFactory(slug="talks", scope="plurilateral", categories=["hotline"])
    EventFactory(measure=measure, kind="ratified", actor=usa, date=D(2001, 1, 1))
    measure.parties.add(rus)
    PositionFactory(measure=measure, actor=chn, stance="endorses", date=D(2002, 2, 2))
    MeasureFactory(slug="other", scope="plurilateral", categories=["hotline"])
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("talks", "CHN")}
    return measure


def involved() -> set[tuple[str, str]]:
    """The stored involvement, checked against the facts (and every other stored answer)."""
    assert_no_drift()
    return stored_involvement()


def actor(code: str) -> Actor:
    return Actor.objects.get(code=code)


# --- the admin ----------------------------------------------------------------------------------


def measure_form(measure: Measure, **rows: object) -> dict[str, object]:
    """The measure page as the admin posts it, with no inline rows but ``rows``."""
    form: dict[str, object] = {
        "title": measure.title,
        "slug": measure.slug,
        "summary": "",
        "categories": ["hotline"],
        "form": measure.form,
        "scope": measure.scope,
        "venue": "",
        "parameters-rows": "0",
    }
    for prefix in ("party_rows", "events", "positions", "citations"):
        form[f"{prefix}-TOTAL_FORMS"] = "0"
        form[f"{prefix}-INITIAL_FORMS"] = "0"
    form.update(rows)
    return form


def position_form(position: Position, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "measure": position.measure_id,
        "actor": position.actor_id,
        "stance": position.stance,
        "date": position.date.isoformat(),
        "date_precision": position.date_precision,
        "quote": position.quote,
        "certainty": position.certainty,
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }
    form.update(changes)
    return form


def test_the_position_inline_on_the_measure_page(talks: Measure, admin_client: Client) -> None:
    chinese = Position.objects.get(measure=talks)
    form = measure_form(
        talks,
        **{
            "positions-TOTAL_FORMS": "2",
            "positions-INITIAL_FORMS": "1",
            "positions-0-id": chinese.pk,
            "positions-0-measure": talks.pk,
            "positions-0-date": "2002-02-02",
            "positions-0-date_precision": "day",
            "positions-0-actor": chinese.actor_id,
            "positions-0-stance": "endorses",
            "positions-0-DELETE": "on",
            "positions-1-measure": talks.pk,
            "positions-1-date": "2003-03-03",
            "positions-1-date_precision": "day",
            "positions-1-actor": actor("GBR").pk,
            "positions-1-stance": "opposes",
        },
    )

    response = admin_client.post(reverse("admin:proposals_measure_change", args=[talks.pk]), form)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("talks", "GBR")}


def test_the_position_page_moving_it_to_another_actor_and_measure(
    talks: Measure, admin_client: Client
) -> None:
    position = Position.objects.get(measure=talks)
    other = Measure.objects.get(slug="other")

    response = admin_client.post(
        reverse("admin:proposals_position_change", args=[position.pk]),
        position_form(position, actor=actor("GBR").pk, measure=other.pk),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("other", "GBR")}


def test_reverting_a_position_from_its_admin_history(talks: Measure, admin_client: Client) -> None:
    position = Position.objects.get(measure=talks)
    original = position.history.earliest()
    position.actor = actor("GBR")
    position.save()  # a shell write
    assert ("talks", "GBR") in involved()

    url = reverse(
        "admin:proposals_position_simple_history", args=[position.pk, original.history_id]
    )
    response = admin_client.post(url, position_form(original.instance))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("talks", "CHN")}


# --- the imports --------------------------------------------------------------------------------


def test_the_dataset_import(talks: Measure) -> None:
    report = dataset_import(
        data={
            "format": FORMAT,
            "measures": [
                {
                    "slug": "other",
                    "title": "Other",
                    "categories": ["hotline"],
                    "form": "agreement",
                    "scope": "plurilateral",
                    "parties": ["USA"],
                    "events": [{"kind": "signed", "date": "2005-05-05", "actor": "RUS"}],
                    "positions": [{"actor": "GBR", "stance": "opposes", "date": "2006-06-06"}],
                }
            ],
        }
    )

    assert report.applied, report.as_dict()
    assert {pair for pair in involved() if pair[0] == "other"} == {
        ("other", "USA"),
        ("other", "RUS"),
        ("other", "GBR"),
    }


def test_the_votes_import(talks: Measure, admin_user: User) -> None:
    vote = Resolution(
        symbol="A/RES/79/1",
        date=D(2024, 12, 2),
        url="https://digitallibrary.un.org/record/1",
        title="",
        rows=[
            VoteRow(line=1, code="GBR", name="", vote="Y"),
            VoteRow(line=2, code="CHN", name="", vote="N"),
        ],
    )
    Measure.objects.filter(slug="other").update(parameters={"un_resolutions": [vote.symbol]})

    report = votes_import(resolutions=[vote], user=admin_user)

    assert report.positions_created == 2
    assert {pair for pair in involved() if pair[0] == "other"} == {
        ("other", "GBR"),
        ("other", "CHN"),
    }


# --- plain ORM writes in a shell ----------------------------------------------------------------


def test_querysets_update(talks: Measure, django_assert_num_queries: NumQueries) -> None:
    other = Measure.objects.get(slug="other")
    Position.objects.filter(measure=talks).update(actor=actor("GBR"))
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("talks", "GBR")}
    Position.objects.filter(measure=talks).update(measure=other)
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("other", "GBR")}
    # A stance changes nobody's involvement: the update alone.
    with django_assert_num_queries(1):
        Position.objects.filter(measure=other).update(stance="opposes")
    assert ("other", "GBR") in involved()


def test_bulk_create_and_bulk_update(talks: Measure, django_assert_num_queries: NumQueries) -> None:
    other = Measure.objects.get(slug="other")
    [created] = Position.objects.bulk_create(
        [Position(measure=other, actor=actor("USA"), stance="endorses", date=D(2010, 1, 1))]
    )
    assert ("other", "USA") in involved()
    created.actor = actor("GBR")
    Position.objects.bulk_update([created], ["actor"])
    assert {pair for pair in involved() if pair[0] == "other"} == {("other", "GBR")}
    created.measure = talks
    Position.objects.bulk_update([created], ["measure"])
    assert involved() == {("talks", code) for code in ("USA", "RUS", "CHN", "GBR")}
    created.stance = "opposes"
    with django_assert_num_queries(1):  # the update alone
        Position.objects.bulk_update([created], ["stance"])


def test_plain_saves(talks: Measure, django_assert_num_queries: NumQueries) -> None:
    other = Measure.objects.get(slug="other")
    position = Position.objects.create(
        measure=other, actor=actor("GBR"), stance="endorses", date=D(2010, 1, 1)
    )
    assert ("other", "GBR") in involved()
    position.measure = talks
    position.save()
    assert ("other", "GBR") not in involved()
    assert ("talks", "GBR") in involved()
    position.stance = "opposes"
    # What the position was (nobody came or went: nothing more), the update, its history row.
    with django_assert_num_queries(3):
        position.save()


def test_deletes(talks: Measure) -> None:
    other = Measure.objects.get(slug="other")
    gbr = actor("GBR")
    one = PositionFactory(measure=other, actor=gbr, date=D(2010, 1, 1))
    PositionFactory(measure=other, actor=actor("USA"), date=D(2010, 1, 1))
    PositionFactory(measure=other, actor=actor("RUS"), date=D(2010, 1, 1))
    one.delete()
    assert {pair for pair in involved() if pair[0] == "other"} == {
        ("other", "USA"),
        ("other", "RUS"),
    }
    Position.objects.filter(measure=other, actor__code="USA").delete()
    assert {pair for pair in involved() if pair[0] == "other"} == {("other", "RUS")}
    # An actor with positions cannot go: nothing is deleted, nothing drifts.
    with pytest.raises(ProtectedError):
        actor("CHN").delete()
    assert ("talks", "CHN") in involved()
    talks.delete()  # its events, positions and parties go with it
    assert involved() == {("other", "RUS")}
    other.delete()
    assert not MeasureInvolvement.objects.exists()


def test_events_and_named_parties(talks: Measure) -> None:
    gbr = actor("GBR")
    event = EventFactory(measure=talks, kind="signed", actor=gbr, date=D(2004, 4, 4))
    assert ("talks", "GBR") in involved()
    Event.objects.filter(pk=event.pk).update(actor=None)  # now the measure's own event
    assert ("talks", "GBR") not in involved()
    talks.parties.add(gbr)
    assert ("talks", "GBR") in involved()
    MeasureParty.objects.filter(measure=talks, actor=gbr).delete()
    assert ("talks", "GBR") not in involved()
    Event.objects.filter(measure=talks, actor__code="USA").delete()
    assert involved() == {("talks", "RUS"), ("talks", "CHN")}


# --- what the hooks cannot see ------------------------------------------------------------------


@pytest.mark.makes_drift
def test_the_check_reports_drift_made_by_raw_sql_and_the_daily_job_repairs_it(
    talks: Measure,
) -> None:
    call_command("recompute_statuses", "--check", stdout=io.StringIO())  # clean: no error
    with connection.cursor() as cursor:  # raw SQL is the one writer no hook can see
        cursor.execute(
            "DELETE FROM proposals_measureinvolvement WHERE actor_id = %s", [actor("CHN").pk]
        )
        cursor.execute(
            "INSERT INTO proposals_measureinvolvement (measure_id, actor_id) VALUES (%s, %s)",
            [talks.pk, actor("GBR").pk],
        )
    errors = io.StringIO()

    with pytest.raises(CommandError, match="2 involvement rows differ"):
        call_command("recompute_statuses", "--check", stdout=io.StringIO(), stderr=errors)

    assert errors.getvalue().splitlines() == [
        "talks, involvement of CHN: stored (not involved), derived involved",
        "talks, involvement of GBR: stored involved, derived (not involved)",
    ]
    assert recompute_all_statuses() == 1  # the daily job: one measure changed
    assert involved() == {("talks", "USA"), ("talks", "RUS"), ("talks", "CHN")}
    call_command("recompute_statuses", "--check", stdout=io.StringIO())


# --- the migration ------------------------------------------------------------------------------


def migrate(executor: MigrationExecutor, targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh graph, as the next `migrate` would load


@pytest.mark.django_db(transaction=True)  # SQLite alters no schema inside a transaction
def test_the_migration_backfills_every_involvement() -> None:
    executor = MigrationExecutor(connection)
    executor = migrate(executor, [("proposals", "0012_derived_spans")])
    try:
        # Today's code stores involvement as it writes; its table is there only while the
        # facts are written, and gone (with its rows) when the migration runs.
        with connection.schema_editor() as editor:
            editor.create_model(MeasureInvolvement)
        usa, rus, chn, gbr = (ActorFactory(code=c) for c in ("USA", "RUS", "CHN", "GBR"))
        first, second = MeasureFactory(slug="first"), MeasureFactory(slug="second")
        EventFactory(measure=first, actor=usa, kind="signed", date=D(2001, 1, 1))
        EventFactory(measure=first, actor=usa, kind="ratified", date=D(2002, 1, 1))
        EventFactory(measure=first, kind="entered_into_force", date=D(2003, 1, 1))
        PositionFactory(measure=first, actor=usa, date=D(2001, 1, 1))  # USA once
        PositionFactory(measure=second, actor=chn, date=D(2001, 1, 1))
        second.parties.set([rus, gbr])
        with connection.schema_editor() as editor:
            editor.delete_model(MeasureInvolvement)
    finally:
        executor = migrate(executor, executor.loader.graph.leaf_nodes())

    assert (
        stored_involvement()
        == involvement_by_the_facts()
        == {
            ("first", "USA"),
            ("second", "CHN"),
            ("second", "RUS"),
            ("second", "GBR"),
        }
    )
    assert MeasureInvolvement.objects.count() == 4
