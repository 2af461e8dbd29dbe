"""The ``actor`` filter (``Measure.objects.involving``) reads the stored involvement rows; over
random histories, and after random writes to them by every path that sends a signal or not, it
must select exactly the measures on which the actor acted (an event), took a position or is a
named party — the definition it had before the rows were stored, kept here as the reference."""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Iterator

import pytest
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from proposals import derived
from proposals.models import Actor, Event, Measure, MeasureParty, Position
from tests.factories import ActorFactory
from tests.proposals.drift import assert_no_drift
from tests.proposals.histories import CODES, STANCES, measure_history

pytestmark = pytest.mark.django_db
# Every actor of the draws, one on nothing, and a code no actor has.
ASKED = [*CODES, "JPN", "ZZZ"]


def by_definition(code: str) -> QuerySet[Measure]:
    """The three checks on events, positions and party rows, as ``involving`` read them."""
    actor_id = Subquery(Actor.objects.filter(code=code).values("pk"))
    return Measure.objects.filter(
        Exists(Event.objects.filter(measure=OuterRef("pk"), actor_id=actor_id))
        | Exists(Position.objects.filter(measure=OuterRef("pk"), actor_id=actor_id))
        | Exists(MeasureParty.objects.filter(measure_id=OuterRef("pk"), actor_id=actor_id))
    )


def slugs(measures: QuerySet[Measure]) -> list[str]:
    return list(measures.order_by("slug").values_list("slug", flat=True))


def assert_it_selects_by_definition() -> int:
    """Returns how many (actor, measure) pairs were selected, so a draw shows it asked much."""
    selected = 0
    ids = dict(Actor.objects.values_list("code", "pk"))
    for code in ASKED:
        expected = slugs(by_definition(code))
        assert slugs(Measure.objects.involving(code)) == expected, code
        if code in ids:  # the API's way: the id its validation read
            assert slugs(Measure.objects.involving(code, actor_id=ids[code])) == expected, code
        selected += len(expected)
    assert_no_drift()
    return selected


def random_writes(
    chooser: random.Random, actors: dict[str, Actor], fresh: Iterator[datetime.date]
) -> None:
    """A round of writes of each kind to random rows, by saves and by bulk paths: positions
    moved to another actor or measure, restated, deleted and created; an event's actor gone or
    changed, an event deleted; a party named or no longer named. ``fresh``: days no row has."""
    measures = list(Measure.objects.order_by("pk"))
    positions = list(Position.objects.order_by("pk"))
    events = list(Event.objects.order_by("pk"))

    def someone() -> Actor:
        return actors[chooser.choice(list(actors))]

    moved, deleted, *in_bulk = chooser.sample(positions, 5)
    moved.actor, moved.date, moved.date_precision = someone(), next(fresh), "day"
    moved.save()
    deleted.delete()
    for position in in_bulk:
        Position.objects.filter(pk=position.pk).update(
            measure=chooser.choice(measures), date=next(fresh), date_precision="day"
        )
    Position.objects.filter(actor=someone()).update(stance=chooser.choice(STANCES))
    Position.objects.bulk_create(
        [
            Position(
                measure=chooser.choice(measures),
                actor=someone(),
                stance=chooser.choice(STANCES),
                date=next(fresh),
            )
        ]
    )
    changed, gone = chooser.sample(events, 2)
    changed.actor = chooser.choice([None, someone()])
    changed.date, changed.date_precision = next(fresh), "day"
    changed.save()
    Event.objects.filter(pk=gone.pk).delete()
    measure = chooser.choice(measures)
    if named := list(measure.parties.all()):
        measure.parties.remove(chooser.choice(named))
    else:
        measure.parties.add(someone())


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_it_selects_the_measures_the_actor_is_involved_in(seed: int) -> None:
    chooser = random.Random(seed)  # noqa: S311  # a fixed draw, so a failure replays
    rus = ActorFactory(code="RUS")
    actors = {code: ActorFactory(code=code) for code in CODES if code != "RUS"} | {"RUS": rus}
    ActorFactory(code="JPN")  # on nothing
    with derived.deferred():
        for number in range(40):
            measure_history(number, chooser, actors, set(), positions=4)

    assert assert_it_selects_by_definition() > 40
    fresh = (datetime.date(2030, 1, 1) + datetime.timedelta(days=n) for n in itertools.count())
    for _ in range(5):
        random_writes(chooser, actors, fresh)
        assert_it_selects_by_definition()
