"""The answers over time (``proposals.spans``): stored status and participation spans, and the
``status`` filter for a day other than today, which reads them. On every day, whatever the
history, the filter must select exactly the measures whose status the rules of
``proposals.status`` derive from the events — certain or not — and the stored spans must be
the rules' answers. (The ``party`` filter for another day reads the participation spans:
``test_party_filter``.)"""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from proposals import derived
from proposals import status as rules
from proposals.models import Actor, Event, Measure, StatusSpan, rule_inputs
from tests.factories import ActorFactory, MeasureFactory
from tests.proposals.test_party_filter import days  # noqa: F401 - the random histories

pytestmark = pytest.mark.django_db
D = datetime.date
ASKED = [("in_force",), ("signed", "suspended"), ("proposed", "expired", "terminated")]


def statuses_on(on: datetime.date) -> dict[str, rules.Answer[rules.MeasureStatus]]:
    """``{slug: status answer}`` by the rules, from the events."""
    slugs = dict(Measure.objects.values_list("pk", "slug"))
    successor_of = Actor.objects.successor_map()
    return {
        slugs[pk]: rules.status_on(facts, on=on, measure=measure, successor_of=successor_of)
        for pk, (facts, measure) in rule_inputs().items()
    }


def test_the_status_filter_on_any_day_selects_what_the_rules_select(
    days: list[datetime.date],  # noqa: F811 - the fixture imported above
) -> None:
    assert derived.drift().spans == []
    uncertain = 0
    for on in [D(2019, 6, 1), *days, D(2030, 1, 1)]:
        answers = statuses_on(on)
        uncertain += sum(not answer.certain for answer in answers.values())
        for wanted in ASKED:
            for certain_only in (False, True):
                expected = {
                    slug
                    for slug, answer in answers.items()
                    if (answer.is_certainly(wanted) if certain_only else answer.may_be(wanted))
                }
                found = Measure.objects.with_status_on(
                    statuses=wanted, on=on, certain_only=certain_only
                )
                assert set(found.values_list("slug", flat=True)) == expected, (on, wanted)
    assert uncertain > 0  # the draw holds days on which a coarse date makes a status uncertain


def test_a_month_event_is_uncertain_inside_its_month_and_certain_on_its_last_day() -> None:
    measure = MeasureFactory(slug="coarse", scope="plurilateral")
    Event.objects.create(measure=measure, kind="signed", date=D(2020, 1, 10))
    Event.objects.create(
        measure=measure, kind="entered_into_force", date=D(2020, 6, 1), date_precision="month"
    )
    spans = list(
        StatusSpan.objects.order_by("starts").values_list("starts", "ends", "status", "possible")
    )
    assert spans == [
        (D(2020, 1, 10), D(2020, 6, 1), "signed", ""),
        (D(2020, 6, 1), D(2020, 6, 30), "", ",in_force,signed,"),
        (D(2020, 6, 30), None, "in_force", ""),
    ]

    def found(on: datetime.date, certain_only: bool = False) -> bool:
        chosen = Measure.objects.with_status_on(
            statuses=["in_force"], on=on, certain_only=certain_only
        )
        return chosen.exists()

    assert not found(D(2020, 5, 31))
    assert found(D(2020, 6, 15))
    assert not found(D(2020, 6, 15), certain_only=True)
    assert found(D(2020, 6, 30), certain_only=True)


def test_spans_follow_an_edit_and_a_delete() -> None:
    usa = ActorFactory(code="USA")
    measure = MeasureFactory(slug="edited", scope="bilateral")
    signed = Event.objects.create(measure=measure, kind="signed", date=D(2001, 1, 1))
    Event.objects.create(measure=measure, kind="ratified", actor=usa, date=D(2002, 1, 1))
    assert Measure.objects.with_status_on(statuses=["signed"], on=D(2001, 6, 1)).exists()
    signed.date = D(2003, 1, 1)
    signed.save()
    assert not Measure.objects.with_status_on(statuses=["signed"], on=D(2001, 6, 1)).exists()
    assert Measure.objects.with_status_on(statuses=["signed"], on=D(2003, 6, 1)).exists()
    signed.delete()
    assert not StatusSpan.objects.filter(measure=measure).exists()
    assert derived.drift().spans == []


@pytest.mark.makes_drift
def test_spans_written_behind_the_door_are_reported_and_repaired() -> None:
    measure = MeasureFactory(slug="tampered")
    Event.objects.create(measure=measure, kind="signed", date=D(2001, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE proposals_statusspan SET status = 'in_force'")
    ((label, stored, want),) = derived.drift().spans
    assert label == "tampered, answers over time"
    assert "in_force" in stored.value
    assert "signed" in want.value
    with pytest.raises(CommandError, match="answers over time"):
        call_command("recompute_statuses", "--check")
    call_command("recompute_statuses")
    assert derived.drift().spans == []
    assert Measure.objects.with_status_on(statuses=["signed"], on=D(2002, 1, 1)).exists()
