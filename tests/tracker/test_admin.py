"""The source admin: what a curator's edit does to what the refreshes found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db


def checked_source() -> Source:
    return SourceFactory.create(
        url="https://www.un.org/inf",
        title="INF text",
        kind=Source.Kind.TREATY_TEXT,
        etag='"v1"',
        content_hash="a" * 64,
        health=Source.Health.OK,
        fetched_title="Fetched",
        last_checked_at=datetime(2026, 11, 1, tzinfo=UTC),
        next_check_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def save_in_admin(client: Client, source: Source, url: str) -> None:
    response = client.post(
        reverse("admin:tracker_source_change", args=[source.pk]),
        {
            "url": url,
            "title": source.title,
            "publisher": source.publisher,
            "kind": source.kind,
            "published_on": "",
            "archived_url": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_new_url_saved_in_the_admin_is_checked_anew(client: Client, admin_user: User) -> None:
    source = checked_source()
    client.force_login(admin_user)

    save_in_admin(client, source, "https://treaties.un.org/inf")

    source.refresh_from_db()
    assert source.url == "https://treaties.un.org/inf"
    assert (source.etag, source.content_hash, source.fetched_title) == ("", "", "")
    assert (source.health, source.last_checked_at, source.next_check_at) == (
        Source.Health.UNCHECKED,
        None,
        None,
    )
    assert source.history.count() == 2  # The edit is in the audit history.


def test_the_same_url_in_another_spelling_keeps_the_refresh_state(
    client: Client, admin_user: User
) -> None:
    source = checked_source()
    client.force_login(admin_user)

    save_in_admin(client, source, "HTTPS://WWW.UN.ORG:443/inf?utm_source=feed")

    source.refresh_from_db()
    assert source.url == "HTTPS://WWW.UN.ORG:443/inf?utm_source=feed"  # as cited
    assert (source.etag, source.health) == ('"v1"', Source.Health.OK)
