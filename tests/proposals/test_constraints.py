"""Invariants hold in the database itself, and full_clean explains them in words."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from proposals.models import Actor, Citation, Event, Position
from tests.factories import (
    ActorFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db


def violates_database(save: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        save()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("precision", "date"),
    [("month", datetime.date(2019, 2, 2)), ("year", datetime.date(2019, 2, 1))],
)
def test_a_coarse_date_must_fall_on_the_first(precision: str, date: datetime.date) -> None:
    event = EventFactory.build(measure=MeasureFactory(), date=date, date_precision=precision)
    with pytest.raises(ValidationError, match=r"first day|1 January"):
        event.full_clean()
    violates_database(event.save)


def test_the_same_measure_wide_event_cannot_be_recorded_twice() -> None:
    first = EventFactory(kind="entered_into_force")
    duplicate = Event(measure=first.measure, kind=first.kind, date=first.date)
    with pytest.raises(ValidationError, match="already has this event"):
        duplicate.full_clean()
    violates_database(duplicate.save)


def test_the_same_actor_event_cannot_be_recorded_twice_but_another_actor_can() -> None:
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    first = EventFactory(kind="ratified", actor=usa)
    Event.objects.create(measure=first.measure, kind="ratified", date=first.date, actor=rus)
    duplicate = Event(measure=first.measure, kind="ratified", date=first.date, actor=usa)
    with pytest.raises(ValidationError, match="actor already has this event"):
        duplicate.full_clean()
    violates_database(duplicate.save)


def test_one_position_per_actor_measure_and_day() -> None:
    first = PositionFactory()
    duplicate = Position(
        measure=first.measure, actor=first.actor, date=first.date, stance="opposes"
    )
    with pytest.raises(ValidationError, match="edit that one instead"):
        duplicate.full_clean()
    violates_database(duplicate.save)


def test_a_citation_supports_exactly_one_thing() -> None:
    measure = MeasureFactory()
    event = EventFactory(measure=measure)
    source = SourceFactory()
    for bad in (
        Citation(source=source),
        Citation(source=source, measure=measure, event=event),
    ):
        with pytest.raises(ValidationError, match="exactly one"):
            bad.full_clean()
        violates_database(bad.save)


def test_a_source_is_cited_once_per_locator() -> None:
    measure = MeasureFactory()
    source = SourceFactory()
    Citation.objects.create(source=source, measure=measure, locator="art. 1")
    Citation.objects.create(source=source, measure=measure, locator="art. 2")
    duplicate = Citation(source=source, measure=measure, locator="art. 1")
    with pytest.raises(ValidationError, match="already cited"):
        duplicate.full_clean()
    violates_database(duplicate.save)


@pytest.mark.parametrize("code", ["USA", "SUN", "PRK"])
def test_known_state_codes_are_accepted(code: str) -> None:
    Actor(code=code, name=code, kind="state").full_clean()


@pytest.mark.parametrize("code", ["XYZ", "US", "URS"])
def test_unknown_state_codes_are_refused_with_a_reason(code: str) -> None:
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-3"):
        Actor(code=code, name="Nowhere", kind="state").full_clean()


def test_organizations_take_their_own_codes() -> None:
    Actor(code="NATO", name="North Atlantic Treaty Organization", kind="organization").full_clean()


def test_a_lower_case_code_never_reaches_the_table() -> None:
    violates_database(Actor(code="usa", name="United States", kind="state").save)


def test_full_clean_upper_cases_a_typed_code() -> None:
    actor = Actor(code=" jpn ", name="Japan", kind="state")
    actor.full_clean()
    assert actor.code == "JPN"


def test_a_measure_cannot_descend_from_itself() -> None:
    grandparent = MeasureFactory()
    parent = MeasureFactory(parent=grandparent)
    grandparent.parent = parent
    with pytest.raises(ValidationError, match="its own ancestor"):
        grandparent.full_clean()


def test_source_urls_are_kept_as_cited_and_unique_by_address() -> None:
    source = Source(url=" HTTPS://Example.ORG:443/a/b?utm_source=feed&id=3#top\n")
    source.full_clean()
    assert source.url == "HTTPS://Example.ORG:443/a/b?utm_source=feed&id=3#top"
    assert source.url_key == "https://example.org/a/b?id=3"
    source.save()
    again = Source(url="https://example.org/a/b?id=3&utm_medium=x")
    with pytest.raises(ValidationError, match=f"Source {source.pk} already cites this address"):
        again.full_clean()


@pytest.mark.parametrize(
    "url", ["ftp://example.org/file", "https://user:pw@example.org/", "javascript:alert(1)"]
)
def test_only_plain_http_urls_can_be_sources(url: str) -> None:
    with pytest.raises(ValidationError):
        Source(url=url).full_clean()
