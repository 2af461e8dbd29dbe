"""The rules on messy records (possible values are listed "did not exist" first, then in
alphabetical order): coarse dates give uncertain answers, named parties take part
through the measure's own events, and a party's exit reaches a bilateral measure."""

from __future__ import annotations

import datetime

import pytest

from proposals.status import (
    EventFact,
    MeasureFacts,
    MeasureStatus,
    Participation,
    PositionFact,
    participations_on,
    period_end,
    stance_on,
    status_on,
)

D = datetime.date
SUN_TO_RUS = {"SUN": "RUS"}

# The inter-Korean Comprehensive Military Agreement; North Korea's declaration that it was no
# longer bound is recorded only to the month (November 2023).
KOREAS = MeasureFacts(scope="bilateral", parties=frozenset({"KOR", "PRK"}))
CMA = [
    EventFact("signed", D(2018, 9, 19), None, 1),
    EventFact("entered_into_force", D(2018, 11, 1), None, 2),
    EventFact("declared_not_bound", D(2023, 11, 1), "PRK", 3, precision="month"),
]


@pytest.mark.parametrize(
    ("on", "possible"),
    [
        (D(2023, 10, 31), (MeasureStatus.IN_FORCE,)),
        (D(2023, 11, 1), (MeasureStatus.IN_FORCE, MeasureStatus.TERMINATED)),
        (D(2023, 11, 10), (MeasureStatus.IN_FORCE, MeasureStatus.TERMINATED)),
        (D(2023, 11, 29), (MeasureStatus.IN_FORCE, MeasureStatus.TERMINATED)),
        (D(2023, 11, 30), (MeasureStatus.TERMINATED,)),
    ],
)
def test_a_month_precision_exit_is_uncertain_inside_its_month(
    on: datetime.date, possible: tuple[MeasureStatus, ...]
) -> None:
    answer = status_on(CMA, on=on, measure=KOREAS)

    assert answer.possible == possible
    assert answer.certain is (len(possible) == 1)
    assert answer.value == (possible[0] if len(possible) == 1 else None)


def test_inside_the_month_north_koreas_participation_is_given_as_both_values() -> None:
    inside = participations_on(CMA, on=D(2023, 11, 10), measure=KOREAS)
    after = participations_on(CMA, on=D(2023, 12, 1), measure=KOREAS)

    assert inside["PRK"].possible == (Participation.PARTY, Participation.WITHDRAWN)
    assert inside["PRK"].value is None
    # South Korea's participation ends with the agreement if North Korea's exit has happened.
    assert inside["KOR"].possible == (Participation.ENDED, Participation.PARTY)
    assert after["PRK"].value is Participation.WITHDRAWN
    assert after["KOR"].value is Participation.ENDED


@pytest.mark.parametrize(
    ("on", "possible"),
    [
        (D(2018, 12, 31), (None,)),
        (D(2019, 1, 1), (None, MeasureStatus.PROPOSED)),
        (D(2019, 7, 1), (None, MeasureStatus.PROPOSED)),
        (D(2019, 12, 31), (MeasureStatus.PROPOSED,)),
    ],
)
def test_a_year_precision_proposal_may_not_exist_yet_during_its_year(
    on: datetime.date, possible: tuple[MeasureStatus | None, ...]
) -> None:
    proposal = [EventFact("proposed", D(2019, 1, 1), "RUS", 1, precision="year")]

    assert status_on(proposal, on=on).possible == possible


def test_a_month_precision_suspension_is_uncertain_and_says_so_for_parties_too() -> None:
    events = [
        EventFact("entered_into_force", D(2015, 5, 4), None, 1),
        EventFact("suspended", D(2020, 3, 1), None, 2, precision="month"),
    ]
    plurilateral = MeasureFacts(scope="plurilateral", parties=frozenset({"USA", "JPN"}))

    inside = status_on(events, on=D(2020, 3, 15), measure=plurilateral)
    after = status_on(events, on=D(2020, 4, 1), measure=plurilateral)

    assert inside.possible == (MeasureStatus.IN_FORCE, MeasureStatus.SUSPENDED)
    assert after.value is MeasureStatus.SUSPENDED
    assert (
        participations_on(events, on=D(2020, 3, 15), measure=plurilateral)["JPN"].value
        is Participation.PARTY
    )


def test_an_answer_resting_on_a_reported_event_says_so() -> None:
    events = [
        EventFact("signed", D(2014, 11, 12), None, 1),
        EventFact("entered_into_force", D(2014, 11, 12), None, 2, certainty="reported"),
    ]
    us_china = MeasureFacts(scope="bilateral", parties=frozenset({"USA", "CHN"}))

    assert status_on(events, on=D(2020, 1, 1), measure=us_china).basis == "reported"
    assert participations_on(events, on=D(2020, 1, 1), measure=us_china)["CHN"].basis == (
        "reported"
    )
    assert status_on(events, on=D(2014, 11, 11), measure=us_china).basis is None


def test_a_disputed_event_in_any_combination_makes_the_answer_disputed() -> None:
    events = [
        EventFact("entered_into_force", D(2000, 1, 1), None, 1),
        EventFact("suspended", D(2010, 1, 1), None, 2, precision="year", certainty="disputed"),
    ]

    answer = status_on(events, on=D(2010, 6, 1))

    assert answer.possible == (MeasureStatus.IN_FORCE, MeasureStatus.SUSPENDED)
    assert answer.basis == "disputed"


# --- parties ------------------------------------------------------------------------------------

INF_PARTIES = MeasureFacts(scope="bilateral", parties=frozenset({"USA", "SUN"}))
INF = [
    EventFact("signed", D(1987, 12, 8), None, 1),
    EventFact("entered_into_force", D(1988, 6, 1), None, 2),
    EventFact("suspended", D(2019, 2, 2), "RUS", 3),
    EventFact("withdrawal_notified", D(2019, 2, 2), "USA", 4),
    EventFact("withdrew", D(2019, 8, 2), "USA", 5),
]


@pytest.mark.parametrize(
    ("on", "status", "usa", "rus"),
    [
        (D(1987, 12, 8), MeasureStatus.SIGNED, Participation.SIGNATORY, Participation.SIGNATORY),
        (D(1988, 6, 1), MeasureStatus.IN_FORCE, Participation.PARTY, Participation.PARTY),
        (D(2019, 2, 2), MeasureStatus.SUSPENDED, Participation.PARTY, Participation.SUSPENDED),
        (D(2019, 8, 2), MeasureStatus.TERMINATED, Participation.WITHDRAWN, Participation.ENDED),
    ],
)
def test_inf_ends_with_the_us_withdrawal_without_a_termination_event(
    on: datetime.date, status: MeasureStatus, usa: Participation, rus: Participation
) -> None:
    result = participations_on(INF, on=on, measure=INF_PARTIES, successor_of=SUN_TO_RUS)

    answer = status_on(INF, on=on, measure=INF_PARTIES, successor_of=SUN_TO_RUS)
    assert answer.value is status
    assert result["USA"].value is usa
    assert result["RUS"].value is rus  # the Soviet Union's successor carries on its part


def test_a_partys_suspension_of_bilateral_talks_suspends_the_proposal() -> None:
    talks = [
        EventFact("proposed", D(1998, 4, 18), "JPN", 1),
        EventFact("suspended", D(2022, 3, 21), "RUS", 2),
    ]
    japan_russia = MeasureFacts(scope="bilateral", parties=frozenset({"JPN", "RUS"}))

    assert status_on(talks, on=D(2022, 3, 20), measure=japan_russia).value == "proposed"
    assert status_on(talks, on=D(2022, 3, 21), measure=japan_russia).value == "suspended"
    # Resumed talks are proposed again, not in force.
    resumed = [*talks, EventFact("resumed", D(2024, 1, 1), "RUS", 3)]
    assert status_on(resumed, on=D(2024, 1, 1), measure=japan_russia).value == "proposed"


def test_a_later_event_of_the_measure_overrides_a_partys_exit() -> None:
    events = [
        *INF,
        EventFact("entered_into_force", D(2030, 1, 1), None, 6),
    ]

    answer = status_on(events, on=D(2030, 1, 1), measure=INF_PARTIES, successor_of=SUN_TO_RUS)

    assert answer.value is MeasureStatus.IN_FORCE


def test_a_non_party_acting_on_a_bilateral_measure_does_not_end_it() -> None:
    events = [
        EventFact("entered_into_force", D(1988, 6, 1), None, 1),
        EventFact("withdrew", D(2019, 8, 2), "GBR", 2),
    ]

    assert status_on(events, on=D(2020, 1, 1), measure=INF_PARTIES).value == "in_force"


def test_open_skies_continues_after_two_parties_leave() -> None:
    open_skies = MeasureFacts(scope="plurilateral", parties=frozenset({"USA", "RUS", "DEU"}))
    events = [
        EventFact("signed", D(1992, 3, 24), None, 1),
        EventFact("entered_into_force", D(2002, 1, 1), None, 2),
        EventFact("withdrew", D(2020, 11, 22), "USA", 3),
        EventFact("withdrew", D(2021, 12, 18), "RUS", 4),
    ]

    on = D(2022, 1, 1)
    result = participations_on(events, on=on, measure=open_skies)

    assert status_on(events, on=on, measure=open_skies).value is MeasureStatus.IN_FORCE
    assert {code: a.value for code, a in result.items()} == {
        "DEU": Participation.PARTY,
        "RUS": Participation.WITHDRAWN,
        "USA": Participation.WITHDRAWN,
    }


def test_a_named_partys_own_ratification_is_not_undone_by_the_measures_signature() -> None:
    events = [
        EventFact("ratified", D(1990, 1, 1), "USA", 1),
        EventFact("signed", D(1990, 6, 1), None, 2),
    ]
    measure = MeasureFacts(scope="bilateral", parties=frozenset({"USA", "CAN"}))

    result = participations_on(events, on=D(1991, 1, 1), measure=measure)

    assert result["USA"].value is Participation.PARTY
    assert result["CAN"].value is Participation.SIGNATORY


# --- stances ------------------------------------------------------------------------------------


def test_a_month_precision_position_makes_the_stance_uncertain_inside_its_month() -> None:
    positions = [
        PositionFact("endorses", D(2019, 5, 6), 1),
        PositionFact("opposes", D(2020, 2, 1), 2, precision="month", certainty="reported"),
    ]

    inside = stance_on(positions, on=D(2020, 2, 10))

    assert inside.possible == ("endorses", "opposes")
    assert inside.value is None
    assert inside.basis == "reported"
    assert stance_on(positions, on=D(2020, 3, 1)).value == "opposes"
    assert stance_on(positions, on=D(2020, 1, 31)).value == "endorses"
    assert stance_on(positions, on=D(2019, 1, 1)).possible == (None,)


@pytest.mark.parametrize(
    ("date", "precision", "end"),
    [
        (D(2024, 2, 1), "month", D(2024, 2, 29)),
        (D(2023, 2, 1), "month", D(2023, 2, 28)),
        (D(2019, 1, 1), "year", D(2019, 12, 31)),
        (D(2019, 5, 6), "day", D(2019, 5, 6)),
    ],
)
def test_a_coarse_date_stands_for_every_day_of_its_period(
    date: datetime.date, precision: str, end: datetime.date
) -> None:
    assert period_end(date, precision) == end
