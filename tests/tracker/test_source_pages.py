"""A source's admin page and the source list: health badges, hosts, what cites a source, its
check history and latest change, and the "Check now" button."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from celery import Celery
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common.palette import HEALTH, OUTCOME
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceCheckFactory,
    SourceFactory,
)
from tests.tracker.conftest import queued_sources
from tracker.badges import health_badge
from tracker.models import Source, SourceCheck

pytestmark = pytest.mark.django_db

NumQueries = Callable[..., AbstractContextManager[object]]


def change_url(source: Source) -> str:
    return reverse("admin:tracker_source_change", args=[source.pk])


def badge_colour(html: str, kind: str, value: str) -> str:
    match = re.search(rf'data-{kind}="{value}" style="background-color: (#[0-9A-Fa-f]{{6}})', html)
    assert match, f"no {kind} badge for {value}"
    return match.group(1)


@pytest.mark.parametrize("health", Source.Health.values)
def test_the_health_badge_prints_its_label_in_the_palette_colour(health: str) -> None:
    html = str(health_badge(health))

    assert Source.Health(health).label in html
    assert badge_colour(html, "health", health) == HEALTH[health]


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_badges_hosts_and_cited_by_counts(admin_client: Client) -> None:
    cited = SourceFactory(url="https://www.state.gov/inf-treaty", health=Source.Health.BROKEN)
    CitationFactory.create_batch(3, source=cited)
    SourceFactory(url="https://news.example.org/a", health=Source.Health.OK)

    response = admin_client.get(reverse("admin:tracker_source_changelist"))

    html = response.content.decode()
    assert response.status_code == 200
    assert badge_colour(html, "health", "broken") == HEALTH["broken"]
    assert "Broken (repeatedly gone)" in html
    assert badge_colour(html, "health", "ok") == HEALTH["ok"]
    assert '<td class="field-host">www.state.gov</td>' in html
    assert '<td class="field-cited_by">3</td>' in html
    assert '<td class="field-cited_by">0</td>' in html


def test_the_list_sorts_by_how_often_a_source_is_cited(admin_client: Client) -> None:
    for count in (0, 2, 1):
        CitationFactory.create_batch(count, source=SourceFactory(title=f"cited {count}"))

    response = admin_client.get(reverse("admin:tracker_source_changelist") + "?o=-6")

    html = response.content.decode()
    positions = [html.index(f"cited {count}") for count in (2, 1, 0)]
    assert positions == sorted(positions)


@pytest.mark.parametrize("size", [2, 6])
def test_the_list_runs_a_fixed_number_of_queries(
    admin_client: Client, django_assert_num_queries: NumQueries, size: int
) -> None:
    for _ in range(size):
        source = SourceFactory()
        CitationFactory.create_batch(2, source=source)
        SourceCheckFactory(source=source)
    ContentType.objects.clear_cache()

    # session, user, count of the filtered list, count of all sources, the page of sources with
    # their citation counts (one joined query), the health and kind filter choices are static.
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:tracker_source_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count('class="field-cited_by">2<') == size


# --- a source's page ----------------------------------------------------------------------------


def populated_source(checks: int = 2, citing: int = 1) -> Source:
    source = SourceFactory(
        url="https://www.un.org/disarmament/inf",
        health=Source.Health.CHANGED,
        fetched_title="INF Treaty text",
    )
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    for n in range(checks):
        SourceCheckFactory(
            source=source,
            checked_at=start + datetime.timedelta(days=n),
            outcome=SourceCheck.Outcome.CHANGED if n == checks - 1 else SourceCheck.Outcome.OK,
            http_status=200,
            final_url="https://www.un.org/disarmament/inf",
            content_hash=(f"{n:x}" * 64)[:64],
            bytes_read=1000 + n,
        )
    for n in range(citing):
        measure = MeasureFactory(title=f"Hotline {n}")
        CitationFactory(source=source, measure=measure, locator=f"art. {n}")
        event = EventFactory(
            measure=measure, actor=ActorFactory(code="USA"), date=datetime.date(1987, 12, 8)
        )
        CitationFactory(source=source, measure=None, event=event)
        position = PositionFactory(measure=measure, actor=ActorFactory(code="RUS"))
        CitationFactory(source=source, measure=None, position=position)
    return source


def test_the_page_shows_the_health_badge_and_the_pictures_text_alternative(
    admin_client: Client,
) -> None:
    source = populated_source()

    html = admin_client.get(change_url(source)).content.decode()

    assert badge_colour(html, "health", "changed") == HEALTH["changed"]
    assert "Content changed" in html
    assert f'src="/api/v1/sources/{source.pk}/health.svg"' in html
    assert 'alt="Outcomes of the checks of this source, by day"' in html
    assert f'href="/api/v1/sources/{source.pk}/checks/"' in html


def test_the_page_shows_the_check_history_newest_first_with_outcome_badges(
    admin_client: Client,
) -> None:
    source = populated_source(checks=3)

    html = admin_client.get(change_url(source)).content.decode()

    table = html[html.index('class="source-checks"') :]
    assert table.index("2026-11-03") < table.index("2026-11-02") < table.index("2026-11-01")
    assert badge_colour(table, "outcome", "changed") == OUTCOME["changed"]
    assert badge_colour(table, "outcome", "ok") == OUTCOME["ok"]


def test_the_history_is_bounded(admin_client: Client) -> None:
    source = populated_source(checks=25)

    html = admin_client.get(change_url(source)).content.decode()

    start = html.index('class="source-checks"')
    table = html[start : html.index("</table>", start)]
    assert table.count("<tr>") == 1 + 20  # the header and the newest 20
    assert "2026-11-25" in table
    assert "2026-11-05" not in table


def test_the_page_compares_the_last_two_checks(admin_client: Client) -> None:
    source = populated_source(checks=2)

    html = admin_client.get(change_url(source)).content.decode()

    diff = html[html.index('class="source-diff"') :]
    changed = re.findall(r'<tr class="differs"><th scope="row">([^<]+)</th>', diff)
    same = re.findall(r'<tr class="same"><th scope="row">([^<]+)</th>', diff)
    assert changed == ["outcome", "content hash", "bytes read"]
    assert same == ["HTTP status", "final URL"]
    assert "0" * 16 in diff
    assert "1" * 16 in diff
    assert "INF Treaty text" in diff  # the title the last refresh found


def test_a_page_checked_once_has_nothing_to_compare(admin_client: Client) -> None:
    source = populated_source(checks=1)

    html = admin_client.get(change_url(source)).content.decode()

    assert "Fewer than two checks so far" in html


def test_the_page_lists_the_facts_that_cite_it_with_links(admin_client: Client) -> None:
    source = populated_source()
    citations = {c.target.__class__.__name__: c.target for c in source.citations.all()}

    html = admin_client.get(change_url(source)).content.decode()

    cited_by = html[html.index('class="source-cited-by"') :]
    assert "3 citations." in html
    measure_url = reverse("admin:proposals_measure_change", args=[citations["Measure"].pk])
    event_url = reverse("admin:proposals_event_change", args=[citations["Event"].pk])
    position_url = reverse("admin:proposals_position_change", args=[citations["Position"].pk])
    assert f'<a href="{measure_url}">Hotline 0</a>' in cited_by
    assert f'<a href="{event_url}">USA signed 1987-12-08</a>' in cited_by
    assert f'<a href="{position_url}">RUS endorses ' in cited_by
    assert "art. 0" in cited_by


def test_the_cited_by_list_is_bounded_and_says_how_many_there_are(admin_client: Client) -> None:
    source = SourceFactory()
    CitationFactory.create_batch(52, source=source)

    html = admin_client.get(change_url(source)).content.decode()

    assert "52 citations." in html
    assert "Showing 50 of 52." in html


def test_a_source_nothing_cites_says_so(admin_client: Client) -> None:
    html = admin_client.get(change_url(SourceFactory())).content.decode()

    assert "Nothing cites this source." in html


@pytest.mark.parametrize(("checks", "citing"), [(2, 1), (25, 20)])
def test_the_page_runs_a_fixed_number_of_queries(
    admin_client: Client, django_assert_num_queries: NumQueries, checks: int, citing: int
) -> None:
    source = populated_source(checks=checks, citing=citing)
    ContentType.objects.clear_cache()

    # session, user, the source (with its citation count), the source's content type (the
    # admin's links), the first 50 citations with what they cite (one joined query), the newest
    # checks (one query for the history and the latest change).
    with django_assert_num_queries(6):
        response = admin_client.get(change_url(source))
    assert response.status_code == 200


# --- check now ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_app")
def test_check_now_on_the_page_queues_a_refresh_and_says_so(
    admin_client: Client, celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    source = SourceFactory(next_check_at=timezone.now() + datetime.timedelta(days=1))
    other = SourceFactory(next_check_at=timezone.now() + datetime.timedelta(days=1))
    page = admin_client.get(change_url(source)).content.decode()
    check_now = reverse("admin:tracker_source_check_now", args=[source.pk])
    assert f'action="{check_now}"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(check_now, follow=True)

    assert response.redirect_chain == [(change_url(source), 302)]
    assert "Queued this source for a check" in response.content.decode()
    assert queued_sources(celery_app) == [source.pk]
    other.refresh_from_db()
    assert other.next_check_at is not None
    assert other.next_check_at > timezone.now()


@pytest.mark.usefixtures("celery_app")
def test_check_now_is_a_post(admin_client: Client, celery_app: Celery) -> None:
    source = SourceFactory()

    response = admin_client.get(reverse("admin:tracker_source_check_now", args=[source.pk]))

    assert response.status_code == 405
    assert queued_sources(celery_app) == []


@pytest.mark.usefixtures("celery_app")
def test_check_now_needs_the_change_permission(client: Client, celery_app: Celery) -> None:
    viewer = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_source"))
    client.force_login(viewer)
    source = SourceFactory()

    page = client.get(change_url(source)).content.decode()
    response = client.post(reverse("admin:tracker_source_check_now", args=[source.pk]))

    assert "Check now" not in page
    assert response.status_code == 403
    assert queued_sources(celery_app) == []


def test_check_now_of_no_source_is_a_404(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:tracker_source_check_now", args=[999999]))

    assert response.status_code == 404
