"""The stored status is a cache of the derived one: it never disagrees."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from proposals import derived
from proposals.services import measure_recompute_status, measures_recompute_statuses
from proposals.tasks import recompute_all_statuses
from tests.factories import EventFactory, MeasureFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def stored_equals_derived() -> bool:
    return derived.drifted() == []


def test_a_scheduled_expiry_takes_effect_when_the_daily_job_runs_on_its_day() -> None:
    with time_machine.travel(datetime.datetime(2026, 2, 4, 12, tzinfo=datetime.UTC)):
        measure = MeasureFactory()
        EventFactory(measure=measure, kind="entered_into_force", date=D(2011, 2, 5))
        EventFactory(measure=measure, kind="expired", date=D(2026, 2, 5))
        measure_recompute_status(measure=measure)
        measure.refresh_from_db()
        assert measure.status == "in_force"
    with time_machine.travel(datetime.datetime(2026, 2, 5, 0, 5, tzinfo=datetime.UTC)):
        assert not stored_equals_derived()  # the day has come; the cache is now stale
        assert recompute_all_statuses() == 1  # the daily task, run as beat runs it
        measure.refresh_from_db()
        assert measure.status == "expired"
        assert measure.status_computed_on == D(2026, 2, 5)
        assert stored_equals_derived()


def test_an_unchanged_status_is_not_a_content_change() -> None:
    measure = MeasureFactory()
    EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
    measure_recompute_status(measure=measure)
    measure.refresh_from_db()
    updated_at, versions = measure.updated_at, measure.history.count()
    assert measures_recompute_statuses() == 0
    measure.refresh_from_db()
    assert (measure.updated_at, measure.history.count()) == (updated_at, versions)


@pytest.mark.parametrize(
    "kinds",
    [
        ["proposed"],
        ["signed", "entered_into_force"],
        ["entered_into_force", "suspended"],
        ["entered_into_force", "suspended", "resumed", "terminated"],
        ["proposed", "rejected"],
    ],
)
def test_recomputing_after_any_event_history_matches_the_rules(kinds: list[str]) -> None:
    measure = MeasureFactory()
    for year, kind in enumerate(kinds, start=2000):
        EventFactory(measure=measure, kind=kind, date=D(year, 1, 1))
        measure_recompute_status(measure=measure)
        assert stored_equals_derived()
