"""The curation dashboard: sources by health, the latest failures, facts at risk and the
data-quality queue, with a fixed number of queries."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from common.palette import HEALTH, OUTCOME
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    SourceCheckFactory,
    SourceFactory,
)
from tracker.models import Source, SourceCheck

pytestmark = pytest.mark.django_db

NumQueries = Callable[..., AbstractContextManager[object]]
DASHBOARD = "/admin/dashboard/"


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    end = html.find('<div class="module"', start)
    return html[start : end if end > 0 else len(html)]


def test_the_index_links_to_the_dashboard_and_view_site_to_the_docs(admin_client: Client) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert f'<a href="{reverse("admin-dashboard")}">Curation dashboard</a>' in html
    assert '<a href="/api/docs/">View site</a>' in html
    assert "Arms-control proposal tracker" in html


def test_sources_are_counted_by_health_with_badges_and_links(admin_client: Client) -> None:
    SourceFactory.create_batch(2, health=Source.Health.BROKEN)
    SourceFactory(health=Source.Health.OK)

    html = section(admin_client.get(DASHBOARD).content.decode(), "sources-by-health")

    changelist = reverse("admin:tracker_source_changelist")
    rows = dict(
        re.findall(
            rf'<a href="{changelist}\?health__exact=(\w+)">(\d+)</a>',
            html,
        )
    )
    assert rows == dict.fromkeys(Source.Health.values, "0") | {"broken": "2", "ok": "1"}
    assert f'data-health="broken" style="background-color: {HEALTH["broken"]}' in html
    assert "Broken (repeatedly gone)" in html


def test_the_latest_failures_are_listed_newest_first(admin_client: Client) -> None:
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    for day, (title, outcome) in enumerate(
        [
            ("Old gone page", SourceCheck.Outcome.GONE),
            ("Fine page", SourceCheck.Outcome.OK),
            ("New timeout", SourceCheck.Outcome.NETWORK_ERROR),
        ]
    ):
        SourceCheckFactory(
            source=SourceFactory(title=title),
            outcome=outcome,
            checked_at=start + datetime.timedelta(days=day),
        )

    html = section(admin_client.get(DASHBOARD).content.decode(), "latest-failures")

    assert "Fine page" not in html
    assert html.index("New timeout") < html.index("Old gone page")
    assert f'data-outcome="gone" style="background-color: {OUTCOME["gone"]}' in html


def test_facts_whose_every_source_is_down_are_at_risk(admin_client: Client) -> None:
    down = EventFactory(actor=ActorFactory(code="USA"), date=datetime.date(1987, 12, 8))
    CitationFactory(source=SourceFactory(health=Source.Health.BROKEN), measure=None, event=down)
    safe = EventFactory(actor=ActorFactory(code="RUS"), date=datetime.date(1988, 6, 1))
    CitationFactory(source=SourceFactory(health=Source.Health.BROKEN), measure=None, event=safe)
    CitationFactory(source=SourceFactory(health=Source.Health.OK), measure=None, event=safe)

    html = section(admin_client.get(DASHBOARD).content.decode(), "facts-at-risk")

    assert "Facts at risk (1)" in html
    assert reverse("admin:proposals_event_change", args=[down.pk]) in html
    assert reverse("admin:proposals_event_change", args=[safe.pk]) not in html


def test_the_quality_queue_is_summarised_with_a_link(admin_client: Client) -> None:
    EventFactory.create_batch(3)  # uncited facts

    html = section(admin_client.get(DASHBOARD).content.decode(), "quality-queue")

    quality = reverse("admin:proposals_quality")
    assert f'<a href="{quality}?rule=uncited">Fact with no citation</a>' in html
    assert '<td class="number">3</td>' in html
    assert html.count("cites no source at all") == 3
    assert f'<a href="{quality}">The whole data-quality queue</a>' in html


def test_the_dashboard_shows_the_health_picture_with_a_text_alternative(
    admin_client: Client,
) -> None:
    html = admin_client.get(DASHBOARD).content.decode()

    assert '<img class="health-chart" src="/api/v1/sources/health.svg"' in html
    assert 'alt="Outcomes of the checks of all sources, by day"' in html


def test_the_dashboard_needs_a_staff_login(client: Client) -> None:
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_curator_who_cannot_read_facts_sees_no_quality_sections(client: Client) -> None:
    viewer = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_source"))
    client.force_login(viewer)

    html = client.get(DASHBOARD).content.decode()

    assert 'id="sources-by-health"' in html
    assert 'id="quality-queue"' not in html


@pytest.mark.parametrize("size", [6, 30])
def test_the_dashboard_runs_a_fixed_number_of_queries(
    admin_client: Client, django_assert_num_queries: NumQueries, size: int
) -> None:
    for n in range(size):
        # The same mix at both sizes: which rules find something decides which are read.
        source = SourceFactory(health=Source.Health.values[n % 6 + 1])
        SourceCheckFactory(source=source, outcome=SourceCheck.Outcome.GONE)
        CitationFactory(source=source, measure=None, event=EventFactory())
    ContentType.objects.clear_cache()

    # session, user, the health counts, the latest failures with their sources (4); a count
    # per branch of the data-quality queue (proposals/quality.py: 15 today); its first five
    # findings, which this mix finds in two branches, and the first facts at risk (3).
    with django_assert_num_queries(4 + 15 + 3):
        response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
