"""The generated dataset the API benchmark reads: measures with lifelike histories.

Deterministic for a seed. Rows go in with ``bulk_create`` (no audit history, no per-row
validation: the values are built valid), then the status recompute service runs once so every
measure's stored status and participations are what its events say, as after real curator writes.

Per measure: one to three categories; a proposal by one state, and for most a signature,
ratifications by two to five parties and entry into force, some later suspended, left or ended
(1 to 15 events, 8 on average, a fifth of them measure-wide), the signing states named as its
parties; positions of two to six actors, some restated or changed later (7 on average); a
citation of the measure and of about a third of its events and positions. 21 actors, among them
the Soviet Union with Russia as its successor. About one date in seven is known only to the month
or year, and one event or position in five is ``reported`` or ``disputed`` rather than
``confirmed``, so that the rules' uncertain answers and bases are part of the work.

The positions' certainties come from a second random stream, so that everything else is what the
same seed generated before positions had a certainty.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from django.db import connection, transaction

from proposals.models import Actor, Category, Citation, Event, Measure, MeasureParty, Position
from proposals.services import measures_recompute_statuses
from tracker.models import Source
from tracker.urlnorm import url_match_key

STATES = [
    "USA", "RUS", "SUN", "CHN", "GBR", "FRA", "IND", "PAK", "ISR", "PRK",
    "KOR", "JPN", "DEU", "UKR", "BLR", "KAZ", "IRN", "TUR", "BRA",
]  # fmt: skip
ORGANIZATIONS = ["NATO", "OSCE"]
CATEGORIES = list(Category.Code.values)
FORMS = [choice for choice, _ in Measure.Form.choices]
SCOPES = [choice for choice, _ in Measure.Scope.choices]
STANCES = [choice for choice, _ in Position.Stance.choices]
CERTAINTIES = ["confirmed"] * 8 + ["reported", "disputed"]
VENUES = ["Conference on Disarmament", "UN General Assembly First Committee", "bilateral talks", ""]
WORDS = [
    "notification", "launch", "ballistic", "missile", "hotline", "verification", "inspection",
    "zone", "deployment", "limit", "transparency", "data", "exchange", "incident", "sea", "air",
    "ceiling", "warhead", "range", "reduction", "confidence", "security", "cooperation",
    "consultation", "commission", "protocol", "annex", "observation",
]  # fmt: skip
BATCH = 2000


@dataclass
class Counts:
    measures: int = 0
    events: int = 0
    events_with_actor: int = 0
    parties: int = 0
    positions: int = 0
    actors: int = 0
    sources: int = 0
    citations: int = 0
    categories: int = 0
    statuses_set: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def generate(*, measures: int, seed: int = 1) -> Counts:
    """Fill an empty, migrated database. Returns what was created."""
    rng = random.Random(seed)
    position_certainty = random.Random(seed + 1)
    counts = Counts()
    with transaction.atomic():
        actors = _actors()
        counts.actors = len(actors)
        sources = Source.objects.bulk_create(_source(rng, i) for i in range(max(50, measures // 5)))
        counts.sources = len(sources)

        through = Measure.categories.through
        created: list[Measure] = []
        for start in range(0, measures, BATCH):
            batch = [_measure(rng, i, created) for i in range(start, min(measures, start + BATCH))]
            created += Measure.objects.bulk_create(batch)
        counts.measures = len(created)
        links = [
            through(measure_id=m.pk, category_id=code)
            for m in created
            for code in rng.sample(CATEGORIES, rng.randint(1, 3))
        ]
        through.objects.bulk_create(links, batch_size=BATCH)
        counts.categories = len(links)

        events: list[Event] = []
        parties: list[MeasureParty] = []
        positions: list[Position] = []
        for m in created:
            measure_events, signers = _events(rng, m, actors)
            events += measure_events
            parties += [MeasureParty(measure=m, actor=actors[code]) for code in signers]
            positions += _positions(rng, m, actors)
        for position in positions:
            position.certainty = position_certainty.choice(CERTAINTIES)
        Event.objects.bulk_create(events, batch_size=BATCH)
        MeasureParty.objects.bulk_create(parties, batch_size=BATCH)
        Position.objects.bulk_create(positions, batch_size=BATCH)
        counts.events = len(events)
        counts.parties = len(parties)
        counts.events_with_actor = sum(1 for e in events if e.actor_id is not None)
        counts.positions = len(positions)

        citations = [Citation(measure=m, source=rng.choice(sources), locator="") for m in created]
        citations += [
            Citation(event=e, source=rng.choice(sources), locator=f"p. {rng.randint(1, 90)}")
            for e in events
            if rng.random() < 0.3
        ]
        citations += [
            Citation(position=p, source=rng.choice(sources), quote=p.quote[:40], locator="")
            for p in positions
            if rng.random() < 0.3
        ]
        Citation.objects.bulk_create(citations, batch_size=BATCH)
        counts.citations = len(citations)

    counts.statuses_set = measures_recompute_statuses()
    return counts


def vacuum() -> None:
    """What autovacuum would soon do on its own (and at a random moment of the timed runs):
    planner statistics, and the visibility map that index-only scans rely on. PostgreSQL only,
    outside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _actors() -> dict[str, Actor]:
    actors = Actor.objects.bulk_create(
        [Actor(code=code, name=f"State {code}", kind=Actor.Kind.STATE) for code in STATES]
        + [
            Actor(code=code, name=f"Organization {code}", kind=Actor.Kind.ORGANIZATION)
            for code in ORGANIZATIONS
        ]
    )
    by_code = {a.code: a for a in actors}
    by_code["SUN"].successor = by_code["RUS"]
    by_code["SUN"].save(update_fields=["successor"])
    return by_code


def _source(rng: random.Random, i: int) -> Source:
    kind = rng.choice([choice for choice, _ in Source.Kind.choices])
    url = f"https://records.example.org/{kind}/{i}"
    return Source(
        url=url,
        url_key=url_match_key(url),
        title=f"Record {i}" if i % 3 else "",
        fetched_title=f"Fetched record {i}",
        publisher=rng.choice(["Foreign ministry", "UN", "Press agency", ""]),
        kind=kind,
        is_primary=kind in ("treaty_text", "official_statement"),
        health=rng.choice(["ok", "ok", "ok", "changed", "unchecked"]),
    )


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def _measure(rng: random.Random, i: int, earlier: list[Measure]) -> Measure:
    return Measure(
        slug=f"measure-{i:05d}",
        title=f"{_text(rng, 4)} {i}",
        summary=_text(rng, rng.randint(20, 60)) + ".",
        form=rng.choice(FORMS),
        scope=rng.choice(SCOPES),
        venue=rng.choice(VENUES),
        parent=rng.choice(earlier) if earlier and rng.random() < 0.1 else None,
        parameters={"range_km": [500, 5500]} if rng.random() < 0.3 else {},
    )


def _dated(rng: random.Random, day: datetime.date) -> tuple[datetime.date, str]:
    """A date with its precision: mostly to the day, some to the month or year."""
    roll = rng.random()
    if roll < 0.1:
        return day.replace(day=1), "month"
    if roll < 0.15:
        return day.replace(month=1, day=1), "year"
    return day, "day"


def _after(rng: random.Random, day: datetime.date, low: int, high: int) -> datetime.date:
    return day + datetime.timedelta(days=rng.randint(low, high))


def _events(
    rng: random.Random, measure: Measure, actors: dict[str, Actor]
) -> tuple[list[Event], list[str]]:
    """The measure's events and its named parties (the states that sign it)."""
    events: list[Event] = []
    seen: set[tuple[str, datetime.date, str | None]] = set()

    def add(kind: str, day: datetime.date, actor: str | None = None) -> None:
        date, precision = _dated(rng, day)
        if (kind, date, actor) in seen:  # the unique constraints: one per kind, day and actor
            return
        seen.add((kind, date, actor))
        events.append(
            Event(
                measure=measure,
                kind=kind,
                date=date,
                date_precision=precision,
                actor=actors[actor] if actor else None,
                scope_note=_text(rng, 4) if rng.random() < 0.1 else "",
                certainty=rng.choice(CERTAINTIES),
                description=_text(rng, 15),
            )
        )

    start = datetime.date(rng.randint(1960, 2020), rng.randint(1, 12), rng.randint(1, 28))
    add("proposed", start, rng.choice(STATES))
    if measure.form == Measure.Form.PROPOSAL or rng.random() < 0.15:
        if rng.random() < 0.3:
            add("rejected", _after(rng, start, 60, 900))
        return events, []
    signed = _after(rng, start, 30, 900)
    parties = rng.sample(STATES, rng.randint(2, 5))
    add("signed", signed)
    for party in parties:
        add("signed", signed, party)
        add("ratified", _after(rng, signed, 10, 600), party)
    in_force = _after(rng, signed, 60, 700)
    add("entered_into_force", in_force)
    later = _after(rng, in_force, 200, 4000)
    roll = rng.random()
    if roll < 0.15:
        add("suspended", later, rng.choice(parties))
        add("suspended", later)
    elif roll < 0.3:
        add("withdrawal_notified", later, parties[0])
        add("withdrew", _after(rng, later, 180, 180), parties[0])
    elif roll < 0.45:
        add(rng.choice(["terminated", "expired"]), later)
    return events, parties


def _positions(
    rng: random.Random, measure: Measure, actors: dict[str, Actor]
) -> Iterator[Position]:
    codes = rng.sample(sorted(actors), rng.randint(2, 6))
    for code in codes:
        day = datetime.date(rng.randint(1975, 2024), rng.randint(1, 12), rng.randint(1, 28))
        stance = rng.choice(STANCES)
        for _ in range(rng.choice([1, 1, 2, 3])):
            date, precision = _dated(rng, day)
            yield Position(
                measure=measure,
                actor=actors[code],
                stance=stance,
                date=date,
                date_precision=precision,
                quote=_text(rng, rng.randint(8, 20)) + ".",
            )
            day = _after(rng, max(day, date), 400, 2000)
            if day > datetime.date(2025, 12, 31):
                break
            if rng.random() < 0.4:
                stance = rng.choice(STANCES)
