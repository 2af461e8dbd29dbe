"""The status rules walked through real treaties, date by date."""

from __future__ import annotations

import datetime

import pytest

from proposals.status import EventFact, MeasureStatus, Participation, measure_status, participations

D = datetime.date

INF = [
    EventFact("signed", D(1987, 12, 8)),
    EventFact("signed", D(1987, 12, 8), "USA", 1),
    EventFact("signed", D(1987, 12, 8), "SUN", 2),
    EventFact("ratified", D(1988, 5, 27), "USA", 3),
    EventFact("ratified", D(1988, 5, 28), "SUN", 4),
    EventFact("entered_into_force", D(1988, 6, 1), None, 5),
    EventFact("suspended", D(2019, 2, 2), "RUS", 6),
    EventFact("withdrawal_notified", D(2019, 2, 2), "USA", 7),
    EventFact("withdrew", D(2019, 8, 2), "USA", 8),
    EventFact("terminated", D(2019, 8, 2), None, 9),
]
NEW_START = [
    EventFact("signed", D(2010, 4, 8), None, 1),
    EventFact("ratified", D(2010, 12, 1), "USA", 2),
    EventFact("ratified", D(2011, 1, 1), "RUS", 3),
    EventFact("entered_into_force", D(2011, 2, 5), None, 4),
    EventFact("extended", D(2021, 2, 3), None, 5),
    EventFact("suspended", D(2023, 2, 21), "RUS", 6),
    EventFact("expired", D(2026, 2, 5), None, 7),
]
OPEN_SKIES = [
    EventFact("signed", D(1992, 3, 24), None, 1),
    EventFact("ratified", D(1993, 1, 1), "USA", 2),
    EventFact("ratified", D(2001, 1, 1), "RUS", 3),
    EventFact("ratified", D(1993, 1, 1), "DEU", 4),
    EventFact("entered_into_force", D(2002, 1, 1), None, 5),
    EventFact("withdrew", D(2020, 11, 22), "USA", 6),
    EventFact("withdrew", D(2021, 12, 18), "RUS", 7),
]
SUCCESSORS = {"SUN": "RUS"}


@pytest.mark.parametrize(
    ("events", "on", "expected"),
    [
        (INF, D(1987, 12, 7), None),
        (INF, D(1987, 12, 8), MeasureStatus.SIGNED),
        (INF, D(1988, 5, 31), MeasureStatus.SIGNED),
        (INF, D(1988, 6, 1), MeasureStatus.IN_FORCE),
        (INF, D(2019, 2, 2), MeasureStatus.IN_FORCE),  # one party's suspension is not the treaty's
        (INF, D(2019, 8, 1), MeasureStatus.IN_FORCE),
        (INF, D(2019, 8, 2), MeasureStatus.TERMINATED),
        (INF, D(2019, 9, 1), MeasureStatus.TERMINATED),
        (NEW_START, D(2010, 4, 8), MeasureStatus.SIGNED),
        (NEW_START, D(2011, 2, 5), MeasureStatus.IN_FORCE),
        (NEW_START, D(2024, 1, 1), MeasureStatus.IN_FORCE),
        (NEW_START, D(2026, 2, 4), MeasureStatus.IN_FORCE),
        (NEW_START, D(2026, 2, 5), MeasureStatus.EXPIRED),
        (OPEN_SKIES, D(2001, 12, 31), MeasureStatus.SIGNED),
        (OPEN_SKIES, D(2022, 1, 1), MeasureStatus.IN_FORCE),  # in force for the others
    ],
)
def test_measure_status_on_a_date(
    events: list[EventFact], on: datetime.date, expected: MeasureStatus | None
) -> None:
    assert measure_status(events, on=on) == expected


@pytest.mark.parametrize(
    ("events", "on", "expected"),
    [
        (INF, D(1987, 12, 8), {"USA": "signatory", "SUN": "signatory", "RUS": "signatory"}),
        (INF, D(1988, 6, 1), {"USA": "party", "SUN": "party", "RUS": "party"}),
        (INF, D(2019, 2, 2), {"USA": "party", "SUN": "party", "RUS": "suspended"}),
        (INF, D(2019, 8, 2), {"USA": "withdrawn", "SUN": "ended", "RUS": "ended"}),
        (NEW_START, D(2022, 1, 1), {"USA": "party", "RUS": "party"}),
        (NEW_START, D(2024, 1, 1), {"USA": "party", "RUS": "suspended"}),
        (NEW_START, D(2026, 2, 5), {"USA": "ended", "RUS": "ended"}),
        (OPEN_SKIES, D(2020, 11, 21), {"USA": "party", "RUS": "party", "DEU": "party"}),
        (OPEN_SKIES, D(2020, 11, 22), {"USA": "withdrawn", "RUS": "party", "DEU": "party"}),
        (OPEN_SKIES, D(2021, 12, 18), {"USA": "withdrawn", "RUS": "withdrawn", "DEU": "party"}),
    ],
)
def test_participation_on_a_date(
    events: list[EventFact], on: datetime.date, expected: dict[str, str]
) -> None:
    result = participations(events, on=on, successor_of=SUCCESSORS)
    assert {code: str(state) for code, state in result.items()} == expected


def test_a_future_event_takes_effect_only_when_its_date_arrives() -> None:
    scheduled = [
        EventFact("entered_into_force", D(2020, 1, 1), None, 1),
        EventFact("expired", D(2030, 1, 1), None, 2),
    ]
    assert measure_status(scheduled, on=D(2029, 12, 31)) == MeasureStatus.IN_FORCE
    assert measure_status(scheduled, on=D(2030, 1, 1)) == MeasureStatus.EXPIRED


def test_same_day_events_apply_in_the_life_order_not_the_entry_order() -> None:
    entered_backwards = [
        EventFact("terminated", D(2019, 8, 2), None, 1),
        EventFact("entered_into_force", D(2019, 8, 2), None, 2),
    ]
    assert measure_status(entered_backwards, on=D(2019, 8, 2)) == MeasureStatus.TERMINATED


def test_a_later_proposal_does_not_undo_entry_into_force() -> None:
    events = [
        EventFact("entered_into_force", D(2000, 1, 1), None, 1),
        EventFact("proposed", D(2005, 1, 1), "CHN", 2),
    ]
    assert measure_status(events, on=D(2006, 1, 1)) == MeasureStatus.IN_FORCE


def test_an_actors_proposal_makes_a_proposal_proposed() -> None:
    assert measure_status([EventFact("proposed", D(2019, 5, 1), "USA")], on=D(2020, 1, 1)) == (
        MeasureStatus.PROPOSED
    )


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["entered_into_force", "suspended"], MeasureStatus.SUSPENDED),
        (["entered_into_force", "suspended", "resumed"], MeasureStatus.IN_FORCE),
        (["proposed", "rejected"], MeasureStatus.REJECTED),
        (["subscribed"], MeasureStatus.IN_FORCE),
        (["entered_into_force", "signed"], MeasureStatus.IN_FORCE),
    ],
)
def test_measure_wide_transitions(kinds: list[str], expected: MeasureStatus) -> None:
    events = [EventFact(kind, D(2000 + i, 1, 1), None, i) for i, kind in enumerate(kinds)]
    assert measure_status(events, on=D(2100, 1, 1)) == expected


def test_a_notice_of_withdrawal_changes_nothing_until_it_takes_effect() -> None:
    events = [
        EventFact("ratified", D(2000, 1, 1), "USA", 1),
        EventFact("withdrawal_notified", D(2001, 1, 1), "USA", 2),
    ]
    assert participations(events, on=D(2001, 6, 1)) == {"USA": Participation.PARTY}


def test_the_stored_status_choices_are_exactly_the_derived_statuses() -> None:
    from proposals.models import Measure

    assert set(Measure.Status.values) == {status.value for status in MeasureStatus}
