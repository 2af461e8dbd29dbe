"""Today's participations are stored (``MeasureParticipation``) and the ``party`` filter reads
them; on every day, whatever the history, it must select exactly the measures that the
participation rules of ``proposals.status`` select from the events — and that the filter for
another day (``with_participation``, which applies those rules) selects — certain or not."""

from __future__ import annotations

import datetime
import random

import pytest
import time_machine

from proposals import derived
from proposals import status as rules
from proposals.models import Actor, Event, Measure, MeasureParticipation, rule_inputs
from tests.factories import ActorFactory, MeasureFactory
from tests.proposals.histories import CODES, EDGES, measure_history

pytestmark = pytest.mark.django_db
D = datetime.date
ASKED = [("party",), ("signatory", "suspended"), ("withdrawn", "ended")]


def at_noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.UTC)


@pytest.fixture
def days() -> list[datetime.date]:
    """Forty measures with one to six events each in 2020-2022, by the five actors (the Soviet
    Union succeeded by Russia) or measure-wide, a third of them dated only to the month or year,
    bilateral or plurilateral, with zero to two named parties; returns days worth asking about,
    drawn from each period's first and last day and the day after it."""
    chooser = random.Random(7)  # noqa: S311  # a fixed draw, so a failure replays
    rus = ActorFactory(code="RUS")
    actors = {code: ActorFactory(code=code) for code in CODES if code != "RUS"} | {"RUS": rus}
    Actor.objects.filter(code="SUN").update(successor=rus)
    boundaries = set(EDGES)
    with derived.deferred():  # each measure derived once, when its history is complete
        for number in range(40):
            measure_history(number, chooser, actors, boundaries)
    return sorted(chooser.sample(sorted(boundaries), 24))


def answers_on(on: datetime.date) -> dict[str, dict[str, rules.Answer[rules.Participation]]]:
    """``{slug: {actor code: participation answer}}`` by the rules, from the events."""
    slugs = dict(Measure.objects.values_list("pk", "slug"))
    successor_of = Actor.objects.successor_map()
    return {
        slugs[pk]: rules.participations_on(facts, on=on, successor_of=successor_of, measure=measure)
        for pk, (facts, measure) in rule_inputs().items()
    }


def by_the_rules(
    answers: dict[str, dict[str, rules.Answer[rules.Participation]]],
    code: str,
    wanted: set[str],
    *,
    certain_only: bool,
) -> set[str]:
    chosen = set()
    for slug, found in answers.items():
        answer = found.get(code)
        if answer is None:
            continue
        if answer.is_certainly(wanted) if certain_only else answer.may_be(wanted):
            chosen.add(slug)
    return chosen


def slugs_of(measures: object) -> set[str]:
    return set(measures.values_list("slug", flat=True))  # type: ignore[attr-defined]


def stored_answers() -> dict[tuple[str, str], rules.Answer[str]]:
    rows = MeasureParticipation.objects.values_list(
        "measure__slug", "actor__code", "participation", "possible", "basis"
    )
    return {(slug, code): derived.Stored(*values).answer() for slug, code, *values in rows}


def test_the_stored_participations_select_what_the_rules_select(days: list[datetime.date]) -> None:
    uncertain_days = 0
    for on in days:
        with time_machine.travel(at_noon(on), tick=False):
            derived.rederive_all()  # the daily job, on that day
            answers = answers_on(on)
            assert stored_answers() == {
                (slug, code): answer
                for slug, found in answers.items()
                for code, answer in found.items()
            }, on
            uncertain_days += MeasureParticipation.objects.filter(participation="").exists()
            for code in CODES:
                for wanted in ASKED:
                    for certain_only in (False, True):
                        where = (on, code, wanted, certain_only)
                        expected = by_the_rules(
                            answers, code, set(wanted), certain_only=certain_only
                        )
                        stored = Measure.objects.with_stored_participation(
                            code=code, participations=wanted, certain_only=certain_only
                        )
                        assert slugs_of(stored) == expected, where
                        if wanted == ("party",):  # the filter's question, as it was answered
                            on_read = Measure.objects.with_participation(
                                code=code, participations=wanted, on=on, certain_only=certain_only
                            )
                            assert slugs_of(on_read) == expected, where
    # The draw holds days on which a coarse date makes some participation uncertain.
    assert uncertain_days > 0
    derived.rederive_all()  # back to the real today, as the daily job would


def test_an_uncertain_participation_is_never_stored_as_certain() -> None:
    usa = ActorFactory(code="USA")
    measure = MeasureFactory(slug="coarse", scope="plurilateral")
    Event.objects.create(measure=measure, actor=usa, kind="ratified", date=D(2020, 1, 1))
    Event.objects.create(
        measure=measure,
        actor=usa,
        kind="withdrew",
        date=D(2021, 3, 1),
        date_precision="month",
        certainty="reported",
    )
    with time_machine.travel(at_noon(D(2021, 3, 15)), tick=False):
        derived.rederive_all()
        row = MeasureParticipation.objects.get(measure=measure, actor=usa)
        assert (row.participation, row.possible, row.basis) == ("", ",party,withdrawn,", "reported")
        assert slugs_of(
            Measure.objects.with_stored_participation(code="USA", participations=["party"])
        ) == {"coarse"}
        assert not Measure.objects.with_stored_participation(
            code="USA", participations=["party"], certain_only=True
        ).exists()
    with time_machine.travel(at_noon(D(2021, 4, 1)), tick=False):
        derived.rederive_all()  # the month has ended: the withdrawal has certainly happened
        row.refresh_from_db()
        assert (row.participation, row.possible) == ("withdrawn", "")
    derived.rederive_all()


def test_the_choices_are_the_rules_values() -> None:
    assert set(MeasureParticipation.Participation.values) == {p.value for p in rules.Participation}
