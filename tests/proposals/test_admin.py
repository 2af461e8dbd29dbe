"""Every changelist and change page runs the same number of queries at any data size."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from proposals.models import Citation, Event, Measure, Position
from tests.factories import (
    ActorFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source, SourceCheck

pytestmark = pytest.mark.django_db


def populate(size: int) -> Measure:
    """``size`` measures, each with events, positions and citations; returns the richest one."""
    actors = [ActorFactory(code=code) for code in ("USA", "RUS", "CHN", "JPN")]
    source = SourceFactory()
    measure = None
    for i in range(size):
        measure = MeasureFactory(categories=["hotline", "transparency"])
        for j in range(size):
            event = EventFactory(
                measure=measure,
                kind="ratified",
                actor=actors[j % 4],
                date=datetime.date(2000, 1, 1) + datetime.timedelta(days=j),
            )
            Citation.objects.create(source=source, event=event)
            position = PositionFactory(measure=measure, actor=actors[j % 4])
            Citation.objects.create(source=source, position=position)
        Citation.objects.create(source=source, measure=measure, locator=f"p. {i}")
        SourceCheck.objects.create(source=source, outcome="ok", http_status=200)
    assert measure is not None
    for n in range(size):  # a history as long as the data is large
        measure.summary = f"Revision {n}"
        measure.save()
    return measure


# Every page starts with the same two queries: the session, then the logged-in user.
# Changelists then run Django's two counts (all rows, filtered rows) and the rows themselves.
PAGES: list[tuple[str, Callable[[Measure], str], int]] = [
    # + category filter choices, the rows (with parent), their categories, venue choices
    ("measure changelist", lambda m: reverse("admin:proposals_measure_changelist"), 8),
    # The measure's page, the curation workspace:
    # + the measure, its categories, the parties, events (with actors) and their citations
    # (with sources), positions (with actors) and theirs, the measure's own citations (with
    # sources), the content type for the history link, the category choices (12)
    # + what the rules derive today: the parties, scope and events, the successor map (4);
    # the names of the actors taking part (1)
    # + the data-quality findings of this measure, one query per rule and kind of row (12)
    # + the cited sources with their health (1)
    ("measure change", lambda m: reverse("admin:proposals_measure_change", args=[m.pk]), 30),
    # + the date-hierarchy bounds and its day list
    ("event changelist", lambda m: reverse("admin:proposals_event_changelist"), 7),
    # + the event (its measure and actor joined), its citations (with sources), the content
    # type, then the measure and actor labels of the two autocomplete fields
    ("event change", lambda m: reverse("admin:proposals_event_change", args=[first_event(m)]), 7),
    ("position changelist", lambda m: reverse("admin:proposals_position_changelist"), 7),
    (
        "position change",
        lambda m: reverse("admin:proposals_position_change", args=[first_position(m)]),
        7,
    ),
    ("actor changelist", lambda m: reverse("admin:proposals_actor_changelist"), 5),
    # + the actor, the content type
    (
        "actor change",
        lambda m: reverse("admin:proposals_actor_change", args=[first_actor(m)]),
        4,
    ),
    ("citation changelist", lambda m: reverse("admin:proposals_citation_changelist"), 5),
    ("source changelist", lambda m: reverse("admin:tracker_source_changelist"), 5),
    # + the source (with its citation count), the content type, the first citations with what
    # they cite (one joined query), its last checks (one sliced query)
    (
        "source change",
        lambda m: reverse("admin:tracker_source_change", args=[Source.objects.first().pk]),
        6,
    ),
    # + the measure and its categories, the history count and page, the categories of every
    # version on the page (one query), their parties (one query), the content type
    ("measure history", lambda m: reverse("admin:proposals_measure_history", args=[m.pk]), 9),
]


def first_event(measure: Measure) -> int:
    return Event.objects.filter(measure=measure).values_list("pk", flat=True)[0]


def first_position(measure: Measure) -> int:
    return Position.objects.filter(measure=measure).values_list("pk", flat=True)[0]


def first_actor(measure: Measure) -> int:
    return Position.objects.filter(measure=measure).values_list("actor_id", flat=True)[0]


@pytest.mark.parametrize(("name", "url_of", "queries"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("size", [2, 6])
def test_admin_pages_run_a_constant_number_of_queries(
    admin_client: Client,
    django_assert_num_queries: Callable[..., AbstractContextManager[object]],
    name: str,
    url_of: Callable[[Measure], str],
    queries: int,
    size: int,
) -> None:
    url = url_of(populate(size))
    # The content-type cache is per process; clear it so every run pays the same lookups.
    ContentType.objects.clear_cache()
    with django_assert_num_queries(queries):
        response = admin_client.get(url)
    assert response.status_code == 200


def test_the_measure_page_shows_the_derived_status_read_only(admin_client: Client) -> None:
    measure = MeasureFactory()
    EventFactory(measure=measure, kind="entered_into_force", date=datetime.date(1988, 6, 1))
    from proposals.services import measure_recompute_status

    measure_recompute_status(measure=measure)
    page = admin_client.get(reverse("admin:proposals_measure_change", args=[measure.pk]))
    assert page.status_code == 200
    assert b'name="status"' not in page.content  # never an input: it is derived
    assert b"In force" in page.content


def test_saving_events_in_the_admin_recomputes_the_status(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"])
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    form = {
        "title": measure.title,
        "slug": measure.slug,
        "summary": "",
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        "venue": "",
        "parameters": "{}",
        "party_rows-TOTAL_FORMS": "0",
        "party_rows-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "1",
        "events-INITIAL_FORMS": "0",
        "events-0-date": "1963-06-20",
        "events-0-date_precision": "day",
        "events-0-kind": "entered_into_force",
        "events-0-certainty": "confirmed",
        "positions-TOTAL_FORMS": "0",
        "positions-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    measure.refresh_from_db()
    assert measure.status == "in_force"
    assert measure.history.count() >= 2  # creation, then the status change


def test_a_bad_event_in_the_admin_is_refused_and_nothing_is_saved(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"])
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    form = {
        "title": "Renamed",
        "slug": measure.slug,
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        "parameters": "{}",
        "party_rows-TOTAL_FORMS": "0",
        "party_rows-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "1",
        "events-INITIAL_FORMS": "0",
        "events-0-date": "1963-06-20",
        "events-0-date_precision": "month",
        "events-0-kind": "entered_into_force",
        "events-0-certainty": "confirmed",
        "positions-TOTAL_FORMS": "0",
        "positions-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert b"first day of the month" in response.content
    measure.refresh_from_db()
    assert measure.title != "Renamed"
    assert not measure.events.exists()


@pytest.mark.parametrize("depth", [100_000, 40])
def test_parameters_nested_too_deep_in_the_admin_are_a_form_error(
    admin_client: Client, depth: int
) -> None:
    measure = MeasureFactory(categories=["hotline"], parameters={"range_km": 500})
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    form = {
        "title": measure.title,
        "slug": measure.slug,
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        # Past Python's recursion limit, and past the stored limit only.
        "parameters-rows": "1",
        "parameters-0-key": "nested",
        "parameters-0-value": '{"a": ' * depth + "1" + "}" * depth,
        "party_rows-TOTAL_FORMS": "0",
        "party_rows-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "positions-TOTAL_FORMS": "0",
        "positions-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert b"nested at most 32 levels deep" in response.content
    measure.refresh_from_db()
    assert measure.parameters == {"range_km": 500}
