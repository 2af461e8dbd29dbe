"""Each FilterSet on its own, without HTTP: what every parameter selects, and that a bad value
is rejected with the parameter named."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.http import QueryDict
from django.utils import timezone

from proposals.api.filtersets import (
    CitationFilterSet,
    EventFilterSet,
    MeasureFilterSet,
    PositionFilterSet,
    SourceFilterSet,
)
from proposals.models import Actor, Citation, Event, Measure, Position
from proposals.services import measure_recompute_status
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db
D = datetime.date


def query(**params: Any) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(item))
    return data


def measures(**params: Any) -> set[str]:
    filterset = MeasureFilterSet(query(**params), queryset=Measure.objects.all())
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("slug", flat=True))


def errors(filterset_class: type, queryset: Any, **params: Any) -> dict[str, Any]:
    filterset = filterset_class(query(**params), queryset=queryset)
    assert not filterset.is_valid()
    return dict(filterset.errors)


@pytest.fixture
def world() -> None:
    """An INF-like treaty, a New START-like one with a successor state, and a proposal."""
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    sun = ActorFactory(code="SUN", name="USSR", successor=rus)
    chn = ActorFactory(code="CHN")
    inf = MeasureFactory(
        slug="inf",
        title="INF Treaty",
        summary="Eliminates intermediate-range missiles",
        categories=["arms_limit"],
        form=Measure.Form.TREATY,
        venue="Bilateral talks",
    )
    for kind, date, actor in [
        ("signed", D(1987, 12, 8), None),
        ("ratified", D(1988, 5, 27), usa),
        ("ratified", D(1988, 5, 28), sun),
        ("entered_into_force", D(1988, 6, 1), None),
        ("suspended", D(2019, 2, 2), rus),
        ("withdrew", D(2019, 8, 2), usa),
        ("terminated", D(2019, 8, 2), None),
    ]:
        EventFactory(measure=inf, kind=kind, date=date, actor=actor)
    start = MeasureFactory(
        slug="new-start",
        title="New START",
        categories=["arms_limit", "transparency"],
        form=Measure.Form.TREATY,
    )
    for kind, date, actor in [
        ("signed", D(2010, 4, 8), None),
        ("ratified", D(2010, 12, 22), usa),
        ("ratified", D(2011, 1, 26), rus),
        ("entered_into_force", D(2011, 2, 5), None),
        ("suspended", D(2023, 2, 21), rus),
    ]:
        EventFactory(measure=start, kind=kind, date=date, actor=actor)
    trilateral = MeasureFactory(
        slug="trilateral",
        title="Trilateral arms-control framework",
        summary="A US proposal for crisis hotline talks",
        categories=["hotline"],
        form=Measure.Form.PROPOSAL,
        scope=Measure.Scope.PLURILATERAL,
        venue="Conference on Disarmament",
    )
    EventFactory(measure=trilateral, kind="proposed", date=D(2019, 5, 1), actor=usa)
    PositionFactory(measure=trilateral, actor=usa, stance="proposes", date=D(2019, 5, 1))
    PositionFactory(measure=trilateral, actor=chn, stance="endorses", date=D(2018, 1, 1))
    PositionFactory(measure=trilateral, actor=chn, stance="opposes", date=D(2019, 5, 6))
    for measure in Measure.objects.all():
        measure_recompute_status(measure=measure)


@pytest.mark.usefixtures("world")
class TestMeasureFilterSet:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({}, {"inf", "new-start", "trilateral"}),
            ({"category": "arms_limit"}, {"inf", "new-start"}),
            ({"category": ["transparency", "hotline"]}, {"new-start", "trilateral"}),
            ({"status": "terminated"}, {"inf"}),
            ({"status": ["in_force", "proposed"]}, {"new-start", "trilateral"}),
            ({"status": "in_force", "as_of": "2019-01-01"}, {"inf", "new-start"}),
            ({"status": "terminated", "as_of": "2019-09-01"}, {"inf"}),
            ({"status": "signed", "as_of": "2010-05-01"}, {"new-start"}),
            ({"status": "proposed", "as_of": "2019-04-30"}, set()),
            ({"form": "proposal"}, {"trilateral"}),
            ({"scope": "plurilateral"}, {"trilateral"}),
            ({"venue": "disarmament"}, {"trilateral"}),
            ({"actor": "chn"}, {"trilateral"}),
            ({"actor": "RUS"}, {"inf", "new-start"}),
            ({"party": "USA", "as_of": "2019-01-01"}, {"inf", "new-start"}),
            ({"party": "USA", "as_of": "2019-09-01"}, {"new-start"}),
            # Russia is party to the INF Treaty through the Soviet Union's ratification.
            ({"party": "RUS", "as_of": "2015-01-01"}, {"inf", "new-start"}),
            ({"party": "RUS", "as_of": "2024-01-01"}, set()),  # New START: suspended
            ({"party": "SUN", "as_of": "2015-01-01"}, {"inf"}),
            ({"endorsed_by": "USA"}, {"trilateral"}),  # proposing is endorsing
            ({"endorsed_by": "CHN"}, set()),
            ({"opposed_by": "CHN"}, {"trilateral"}),
            ({"endorsed_by": "CHN", "as_of": "2019-01-01"}, {"trilateral"}),
            ({"opposed_by": "CHN", "as_of": "2019-01-01"}, set()),
            ({"q": "intermediate-range"}, {"inf"}),
            ({"q": "crisis hotline"}, {"trilateral"}),
            ({"q": "treaty"}, {"inf"}),
        ],
    )
    def test_it_selects(self, params: dict[str, Any], expected: set[str]) -> None:
        assert measures(**params) == expected

    def test_changed_since_compares_updated_at(self) -> None:
        Measure.objects.filter(slug="inf").update(
            updated_at=timezone.now() + datetime.timedelta(days=1)
        )
        since = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
        assert measures(changed_since=since) == {"inf"}

    @pytest.mark.parametrize(
        ("ordering", "expected"),
        [
            ("slug", ["inf", "new-start", "trilateral"]),
            ("-title", ["trilateral", "new-start", "inf"]),
            ("status,-slug", ["new-start", "trilateral", "inf"]),
        ],
    )
    def test_ordering(self, ordering: str, expected: list[str]) -> None:
        filterset = MeasureFilterSet(query(ordering=ordering), queryset=Measure.objects.all())
        assert filterset.is_valid()
        assert list(filterset.qs.values_list("slug", flat=True)) == expected

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"category": "missiles"}, "category"),
            ({"status": "active"}, "status"),
            ({"form": "pact"}, "form"),
            ({"scope": "global"}, "scope"),
            ({"actor": "XYZ"}, "actor"),
            ({"party": "ATLANTIS"}, "party"),
            ({"endorsed_by": "ZZZ"}, "endorsed_by"),
            ({"opposed_by": "ZZZ"}, "opposed_by"),
            ({"as_of": "2019-13-01"}, "as_of"),
            ({"as_of": "01/02/2019"}, "as_of"),
            ({"as_of": "2019-1-1"}, "as_of"),
            ({"changed_since": "last monday"}, "changed_since"),
            ({"ordering": "popularity"}, "ordering"),
            ({"ordering": "slug,parent__slug"}, "ordering"),
            ({"venue": ["a", "b"]}, "venue"),
        ],
    )
    def test_it_rejects_a_bad_value_naming_the_parameter(
        self, params: dict[str, Any], named: str
    ) -> None:
        assert set(errors(MeasureFilterSet, Measure.objects.all(), **params)) == {named}


@pytest.fixture
def positions() -> dict[str, Any]:
    usa, chn = ActorFactory(code="USA"), ActorFactory(code="CHN")
    talks, ban = MeasureFactory(slug="talks"), MeasureFactory(slug="ban")
    return {
        "chn-old": PositionFactory(measure=talks, actor=chn, stance="endorses", date=D(2018, 1, 1)),
        "chn-new": PositionFactory(measure=talks, actor=chn, stance="opposes", date=D(2019, 5, 6)),
        "usa": PositionFactory(measure=talks, actor=usa, stance="proposes", date=D(2019, 5, 1)),
        "ban": PositionFactory(measure=ban, actor=chn, stance="neutral", date=D(2020, 2, 12)),
    }


class TestPositionFilterSet:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"measure": "talks"}, {"chn-old", "chn-new", "usa"}),
            ({"actor": "chn"}, {"chn-old", "chn-new", "ban"}),
            ({"stance": ["opposes", "neutral"]}, {"chn-new", "ban"}),
            ({"date_after": "2019-05-01"}, {"chn-new", "usa", "ban"}),
            ({"date_before": "2019-05-01"}, {"chn-old", "usa"}),
            ({"current": "true"}, {"chn-new", "usa", "ban"}),
            ({"current": "false"}, {"chn-old"}),
            # The stance that held on a day: current as of date_before.
            ({"current": "true", "date_before": "2019-01-01"}, {"chn-old"}),
        ],
    )
    def test_it_selects(
        self, positions: dict[str, Any], params: dict[str, Any], expected: set[str]
    ) -> None:
        filterset = PositionFilterSet(query(**params), queryset=Position.objects.all())
        assert filterset.is_valid(), filterset.errors
        names = {name for name, p in positions.items() if p in filterset.qs}
        assert names == expected

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"measure": "no-such-measure"}, "measure"),
            ({"actor": "XYZ"}, "actor"),
            ({"stance": "loves"}, "stance"),
            ({"date_after": "yesterday"}, "date_after"),
            ({"date_before": "2019-02-30"}, "date_before"),
            ({"current": "maybe"}, "current"),
            ({"ordering": "actor"}, "ordering"),
        ],
    )
    def test_it_rejects(self, params: dict[str, Any], named: str) -> None:
        assert set(errors(PositionFilterSet, Position.objects.all(), **params)) == {named}


class TestEventFilterSet:
    @pytest.fixture
    def events(self) -> dict[str, Any]:
        usa = ActorFactory(code="USA")
        inf, other = MeasureFactory(slug="inf"), MeasureFactory(slug="other")
        return {
            "signed": EventFactory(measure=inf, kind="signed", date=D(1987, 12, 8)),
            "withdrew": EventFactory(measure=inf, kind="withdrew", date=D(2019, 8, 2), actor=usa),
            "other": EventFactory(measure=other, kind="proposed", date=D(2020, 1, 1)),
        }

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"measure": "inf"}, {"signed", "withdrew"}),
            ({"actor": "USA"}, {"withdrew"}),
            ({"kind": ["signed", "proposed"]}, {"signed", "other"}),
            ({"date_after": "2019-08-02"}, {"withdrew", "other"}),
            ({"date_before": "2019-08-01"}, {"signed"}),
        ],
    )
    def test_it_selects(
        self, events: dict[str, Any], params: dict[str, Any], expected: set[str]
    ) -> None:
        filterset = EventFilterSet(query(**params), queryset=Event.objects.all())
        assert filterset.is_valid(), filterset.errors
        assert {name for name, e in events.items() if e in filterset.qs} == expected

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"kind": "exploded"}, "kind"),
            ({"actor": "NOPE"}, "actor"),
            ({"measure": "nope"}, "measure"),
            ({"date_after": "2019"}, "date_after"),
        ],
    )
    def test_it_rejects(self, params: dict[str, Any], named: str) -> None:
        assert set(errors(EventFilterSet, Event.objects.all(), **params)) == {named}


class TestSourceFilterSet:
    @pytest.fixture
    def sources(self) -> dict[str, Any]:
        return {
            "un": SourceFactory(
                url="https://www.un.org/disarmament/",
                kind="official_statement",
                health="ok",
                is_primary=True,
            ),
            "un-root": SourceFactory(url="https://un.org/", kind="treaty_text", health="broken"),
            "lookalike": SourceFactory(url="https://notun.org/un.org/", health="ok"),
            "port": SourceFactory(url="http://un.org:8080/x", health="unreachable"),
        }

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"host": "un.org"}, {"un", "un-root", "port"}),
            ({"host": "WWW.UN.ORG"}, {"un"}),
            ({"health": "ok"}, {"un", "lookalike"}),
            ({"health": ["broken", "unreachable"]}, {"un-root", "port"}),
            ({"kind": "treaty_text"}, {"un-root"}),
            ({"is_primary": "true"}, {"un"}),
        ],
    )
    def test_it_selects(
        self, sources: dict[str, Any], params: dict[str, Any], expected: set[str]
    ) -> None:
        filterset = SourceFilterSet(query(**params), queryset=Source.objects.all())
        assert filterset.is_valid(), filterset.errors
        assert {name for name, s in sources.items() if s in filterset.qs} == expected

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"health": "dead"}, "health"),
            ({"kind": "blog"}, "kind"),
            ({"host": "un.org/path"}, "host"),
            ({"ordering": "title"}, "ordering"),
        ],
    )
    def test_it_rejects(self, params: dict[str, Any], named: str) -> None:
        assert set(errors(SourceFilterSet, Source.objects.all(), **params)) == {named}


def test_citation_filterset_finds_a_measures_citations_at_every_level() -> None:
    measure = MeasureFactory(slug="inf")
    event = EventFactory(measure=measure)
    position = PositionFactory(measure=measure)
    cited = {
        CitationFactory(measure=measure),
        CitationFactory(measure=None, event=event),
        CitationFactory(measure=None, position=position),
    }
    CitationFactory()  # another measure's
    filterset = CitationFilterSet(query(measure="inf"), queryset=Citation.objects.all())
    assert filterset.is_valid()
    assert set(filterset.qs) == cited
    assert set(errors(CitationFilterSet, Citation.objects.all(), measure="nope")) == {"measure"}


def test_unknown_actor_codes_are_checked_case_insensitively() -> None:
    ActorFactory(code="USA")
    assert Actor.objects.count() == 1
    assert measures(actor="usa") == set()
