"""factory_boy factories for every model; defaults are valid and unique."""

from __future__ import annotations

import datetime
from typing import Any

import factory

from proposals.models import Actor, Category, Citation, Event, Measure, Position
from tracker.models import Source, SourceCheck
from tracker.urlnorm import url_match_key

STATE_CODES = ["USA", "RUS", "CHN", "JPN", "KOR", "PRK", "GBR", "FRA", "DEU", "IND", "PAK", "UKR"]


class ActorFactory(factory.django.DjangoModelFactory[Actor]):
    class Meta:
        model = Actor
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: STATE_CODES[n % len(STATE_CODES)])
    name = factory.LazyAttribute(lambda o: f"State {o.code}")
    kind = Actor.Kind.STATE


class OrganizationFactory(ActorFactory):
    code = factory.Sequence(lambda n: f"ORG{n}")
    kind = Actor.Kind.ORGANIZATION


class SourceFactory(factory.django.DjangoModelFactory[Source]):
    class Meta:
        model = Source

    url = factory.Sequence(lambda n: f"https://news.example.org/articles/{n}")
    url_key = factory.LazyAttribute(lambda source: url_match_key(source.url))
    title = factory.Sequence(lambda n: f"Article {n}")
    publisher = "Example News"
    kind = Source.Kind.NEWS


class MeasureFactory(factory.django.DjangoModelFactory[Measure]):
    class Meta:
        model = Measure
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"measure-{n}")
    title = factory.Sequence(lambda n: f"Measure {n}")
    summary = "A measure."
    form = Measure.Form.AGREEMENT
    scope = Measure.Scope.BILATERAL

    @factory.post_generation
    def categories(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        codes = extracted or ["hotline"]
        self.categories.set(Category.objects.filter(code__in=codes))


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    measure = factory.SubFactory(MeasureFactory)
    kind = Event.Kind.SIGNED
    date = datetime.date(2000, 1, 1)
    date_precision = "day"


class PositionFactory(factory.django.DjangoModelFactory[Position]):
    class Meta:
        model = Position

    measure = factory.SubFactory(MeasureFactory)
    actor = factory.SubFactory(ActorFactory)
    stance = Position.Stance.ENDORSES
    date = factory.Sequence(lambda n: datetime.date(2000, 1, 1) + datetime.timedelta(days=n))


class CitationFactory(factory.django.DjangoModelFactory[Citation]):
    class Meta:
        model = Citation

    source = factory.SubFactory(SourceFactory)
    measure = factory.SubFactory(MeasureFactory)


class SourceCheckFactory(factory.django.DjangoModelFactory[SourceCheck]):
    class Meta:
        model = SourceCheck

    source = factory.SubFactory(SourceFactory)
    checked_at = factory.Sequence(
        lambda n: datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(hours=n)
    )
    outcome = SourceCheck.Outcome.OK
    http_status = 200
