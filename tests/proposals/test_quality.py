"""Each rule of the data-quality queue finds what it should and nothing else, in a fixed number
of queries."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from proposals import quality
from proposals.models import Citation, Event, Measure, Position
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


def found(rule: str) -> dict[tuple[str, int], quality.Finding]:
    return {(f.object_type, f.object_id): f for f in quality.findings(rules=[rule])}


def cite(fact: Event | Position, source: Source | None = None, locator: str = "") -> Citation:
    target = {"event": fact} if isinstance(fact, Event) else {"position": fact}
    return CitationFactory(
        measure=None, source=source or SourceFactory(), locator=locator, **target
    )


def official() -> Source:
    return SourceFactory(kind=Source.Kind.TREATY_TEXT, is_primary=True)


def test_official_means_marked_primary_by_a_curator() -> None:
    assert quality.is_official(official())
    # An analysis of a treaty text is not the text itself, whatever its kind says.
    assert not quality.is_official(SourceFactory(kind=Source.Kind.TREATY_TEXT, is_primary=False))


def test_uncited_lists_facts_without_any_citation() -> None:
    bare_event = EventFactory(actor=ActorFactory(code="RUS"))
    bare_position = PositionFactory()
    cite(EventFactory(kind="ratified"))
    cite(PositionFactory())

    result = found("uncited")

    assert set(result) == {("event", bare_event.pk), ("position", bare_position.pk)}
    finding = result[("event", bare_event.pk)]
    assert (finding.measure, finding.actor) == (bare_event.measure.slug, "RUS")
    assert finding.reason == "This event cites no source at all."


def test_no_official_source_lists_cited_facts_without_an_official_one() -> None:
    reported = EventFactory(certainty="reported")
    cite(reported)
    unofficial_position = PositionFactory()
    cite(unofficial_position)
    backed = EventFactory(kind="ratified")
    cite(backed)
    cite(backed, official())
    EventFactory(kind="withdrew")  # uncited: the `uncited` rule's, not this one's

    result = found("no_official_source")

    assert set(result) == {("event", reported.pk), ("position", unofficial_position.pk)}
    assert "(marked reported)" in result[("event", reported.pk)].reason
    assert "marked" not in result[("position", unofficial_position.pk)].reason


def test_all_sources_down_lists_facts_with_no_live_source() -> None:
    stranded = EventFactory()
    cite(stranded, SourceFactory(health=Source.Health.BROKEN))
    cite(stranded, SourceFactory(health=Source.Health.UNREACHABLE))
    stranded_position = PositionFactory()
    cite(stranded_position, SourceFactory(health=Source.Health.BROKEN))
    survives = EventFactory(kind="ratified")
    cite(survives, SourceFactory(health=Source.Health.BROKEN))
    cite(survives, SourceFactory(health=Source.Health.OK))
    EventFactory(kind="withdrew")  # uncited

    assert set(found("all_sources_down")) == {
        ("event", stranded.pk),
        ("position", stranded_position.pk),
    }


def test_confirmed_single_source_lists_confirmed_facts_on_one_unofficial_source() -> None:
    lone = EventFactory()
    cite(lone)
    # One source cited at two places is still one source.
    same_source_twice = PositionFactory()
    news = SourceFactory()
    cite(same_source_twice, news, locator="p. 1")
    cite(same_source_twice, news, locator="p. 2")
    cite(EventFactory(kind="ratified"), official())
    two_sources = EventFactory(kind="withdrew")
    cite(two_sources)
    cite(two_sources)
    cite(EventFactory(kind="acceded", certainty="reported"))

    assert set(found("confirmed_single_source")) == {
        ("event", lone.pk),
        ("position", same_source_twice.pk),
    }


def test_conflicting_dates_lists_each_pair_of_dates_of_a_once_only_event() -> None:
    inf = MeasureFactory(slug="inf")
    rus, usa = ActorFactory(code="RUS"), ActorFactory(code="USA")
    EventFactory(measure=inf, kind="signed", actor=rus, date=D(1987, 12, 8))
    later = EventFactory(measure=inf, kind="signed", actor=rus, date=D(1987, 12, 9))
    EventFactory(measure=inf, kind="entered_into_force", date=D(1988, 6, 1))
    wide = EventFactory(measure=inf, kind="entered_into_force", date=D(1988, 7, 1))
    # Different actors, different kinds, repeatable kinds: no disagreement.
    EventFactory(measure=inf, kind="signed", actor=usa, date=D(1987, 12, 10))
    EventFactory(measure=inf, kind="suspended", actor=rus, date=D(2019, 2, 2))
    EventFactory(measure=inf, kind="suspended", actor=rus, date=D(2020, 2, 2))

    result = found("conflicting_dates")

    assert set(result) == {("event", later.pk), ("event", wide.pk)}
    reason = result[("event", later.pk)].reason
    assert "1987-12-08" in reason
    assert "1987-12-09" in reason
    assert result[("event", later.pk)].actor == "RUS"
    assert result[("event", wide.pk)].actor is None


def test_conflicting_dates_lists_three_dates_as_three_pairs() -> None:
    measure = MeasureFactory()
    for day in (1, 2, 3):
        EventFactory(measure=measure, kind="expired", date=D(2000, 1, day))

    assert len(quality.findings(rules=["conflicting_dates"])) == 3


def test_position_without_quote_lists_empty_and_blank_quotes() -> None:
    empty = PositionFactory(quote="")
    blank = PositionFactory(quote="  \n")
    PositionFactory(quote="We oppose it.")

    assert set(found("position_without_quote")) == {
        ("position", empty.pk),
        ("position", blank.pk),
    }


@pytest.mark.makes_drift
def test_in_force_without_basis_lists_in_force_measures_without_such_an_event() -> None:
    groundless = MeasureFactory()
    grounded = MeasureFactory()
    EventFactory(measure=grounded, kind="implemented")
    signed_only = MeasureFactory()
    EventFactory(measure=signed_only, kind="signed")
    MeasureFactory()  # not in force at all
    # A stored status gone stale: raw SQL is the one writer the derived-state hooks cannot see.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE proposals_measure SET status = 'in_force' WHERE id IN (%s, %s, %s)",
            [groundless.pk, grounded.pk, signed_only.pk],
        )

    result = found("in_force_without_basis")

    assert set(result) == {("measure", groundless.pk), ("measure", signed_only.pk)}
    assert result[("measure", groundless.pk)].measure == groundless.slug


def test_agreement_without_parties_lists_shared_agreements_naming_nobody() -> None:
    nameless = MeasureFactory(form="treaty", scope="plurilateral")
    EventFactory(measure=nameless, kind="entered_into_force")  # measure-wide: names nobody
    with_parties = MeasureFactory(form="agreement", scope="bilateral")
    with_parties.parties.add(ActorFactory(code="USA"))
    EventFactory(measure=MeasureFactory(form="memorandum"), actor=ActorFactory(code="RUS"))
    MeasureFactory(form="agreement", scope="multilateral")
    MeasureFactory(form="political_commitment", scope="bilateral")

    assert set(found("agreement_without_parties")) == {("measure", nameless.pk)}


def test_uncited_source_lists_sources_nothing_cites() -> None:
    orphan = SourceFactory()
    CitationFactory()

    assert set(found("uncited_source")) == {("source", orphan.pk)}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://example.org/a", "https://example.org/a"),
        ("https://www.example.org/a", "https://example.org/a"),
        ("https://example.org/a/", "https://example.org/a"),
        # Host case alone makes one address, so one source (tracker.urlnorm); with www. it
        # is two sources, and the same page.
        ("https://WWW.Example.ORG/a", "https://example.org/a"),
    ],
)
def test_duplicate_url_lists_the_same_page_spelled_twice(first: str, second: str) -> None:
    a = SourceFactory(url=first)
    b = SourceFactory(url=second)
    SourceFactory(url="https://example.org/A")  # the path's case matters to a server
    SourceFactory(url="https://example.org/a?page=2")

    result = found("duplicate_url")

    assert set(result) == {("source", b.pk)}
    assert f"source {a.pk}" in result[("source", b.pk)].reason


def test_duplicate_url_lists_a_source_whose_fetched_address_is_another_source() -> None:
    target = SourceFactory(url="https://treaties.example.org/inf")
    moved = SourceFactory(
        url="https://old.example.org/inf", final_url="https://treaties.example.org/inf/"
    )
    named = SourceFactory(
        url="https://mirror.example.org/inf",
        fetched_canonical_url="http://treaties.example.org/inf",
    )
    SourceFactory(url="https://other.example.org/", final_url="https://elsewhere.example.org/")

    result = found("duplicate_url")

    assert set(result) == {("source", moved.pk), ("source", named.pk)}
    assert "redirects to" in result[("source", moved.pk)].reason
    assert f"source {target.pk}" in result[("source", named.pk)].reason


def test_source_date_mismatch_lists_sources_whose_page_gives_another_date() -> None:
    differs = SourceFactory(published_on=D(2019, 2, 1), fetched_published_on=D(2019, 2, 2))
    SourceFactory(published_on=D(2019, 2, 1), fetched_published_on=D(2019, 2, 1))
    SourceFactory(published_on=D(2019, 2, 1))

    result = found("source_date_mismatch")

    assert set(result) == {("source", differs.pk)}
    assert "2019-02-01" in result[("source", differs.pk)].reason


def test_findings_can_be_limited_to_a_measure_and_an_actor() -> None:
    rus = ActorFactory(code="RUS")
    inf = MeasureFactory(slug="inf")
    mine = EventFactory(measure=inf, actor=rus)
    EventFactory(measure=inf, kind="ratified", actor=ActorFactory(code="USA"))
    EventFactory(actor=rus)

    result = quality.findings(rules=["uncited"], measure="inf", actor="RUS")

    assert [(f.object_type, f.object_id) for f in result] == [("event", mine.pk)]


def populate(size: int) -> None:
    """``size`` of every kind of finding, and as many clean rows."""
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    primary = official()
    for i in range(size):
        measure = MeasureFactory(form="treaty", scope="bilateral")
        EventFactory(measure=measure, kind="signed", actor=rus, date=D(2000, 1, 1))
        EventFactory(measure=measure, kind="signed", actor=rus, date=D(2000, 1, 2))
        cite(EventFactory(measure=measure, kind="ratified", actor=usa), primary)
        cite(PositionFactory(measure=measure, actor=usa, quote=""), SourceFactory(health="broken"))
        cite(PositionFactory(measure=measure, actor=rus, quote="Yes."), primary)
        with connection.cursor() as cursor:  # drift only raw SQL can cause
            cursor.execute(
                "UPDATE proposals_measure SET status = 'in_force' WHERE id = %s", [measure.pk]
            )
        MeasureFactory(form="agreement", scope="bilateral")
        SourceFactory(url=f"http://dup.example.org/{i}/")
        SourceFactory(url=f"https://www.dup.example.org/{i}")
        SourceFactory(published_on=D(2020, 1, 1), fetched_published_on=D(2020, 1, 2))


@pytest.mark.makes_drift
@pytest.mark.parametrize("size", [2, 7])
def test_the_queue_runs_a_fixed_number_of_queries(
    django_assert_num_queries: Callable[..., AbstractContextManager[object]], size: int
) -> None:
    populate(size)
    # Two per fact rule (events, then positions): uncited, no_official_source,
    # all_sources_down, confirmed_single_source; one for each other rule.
    with django_assert_num_queries(15):
        result = quality.findings()
    tally = quality.counts(result)
    assert set(tally) == set(quality.RULE_IDS)
    assert all(tally[rule] >= size for rule in quality.RULE_IDS), tally


def test_the_report_command_prints_counts_per_rule_and_the_findings() -> None:
    position = PositionFactory(quote="")
    out = io.StringIO()

    call_command("quality_report", "--rule", "position_without_quote", "--findings", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split()[:2] == ["position_without_quote", "1"]
    assert lines[1].split() == ["total", "1"]
    assert lines[2].startswith(f"position_without_quote\tposition {position.pk}\t")


def test_the_report_command_refuses_an_unknown_actor() -> None:
    with pytest.raises(CommandError, match="XYZ"):
        call_command("quality_report", "--actor", "xyz", stdout=io.StringIO())


@pytest.mark.makes_drift
@pytest.mark.parametrize("size", [2, 7])
def test_one_measure_s_findings_run_the_same_queries_at_any_size(
    django_assert_num_queries: Callable[..., AbstractContextManager[object]], size: int
) -> None:
    populate(size)
    measure = Measure.objects.filter(form="treaty").order_by("pk").first()
    # 1-8 the four fact rules' events and positions, 9 conflicting dates, 10 quoteless
    # positions, 11 in force without basis, 12 agreement without parties — each of this
    # measure's rows only; the source rules concern no measure.
    with django_assert_num_queries(12):
        result = quality.findings_for_measure(measure)

    assert {f.measure for f in result} == {measure.slug}
    assert {f.rule for f in result} == {
        "uncited",  # the two signatures
        "no_official_source",  # the position cited by a broken news page
        "all_sources_down",
        "confirmed_single_source",
        "conflicting_dates",
        "position_without_quote",
        "in_force_without_basis",
    }
