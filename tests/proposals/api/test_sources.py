"""GET/POST/PUT/PATCH/DELETE /api/v1/sources/ and GET /api/v1/sources/{id}/checks/."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import CitationFactory, SourceCheckFactory, SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db
URL = "/api/v1/sources/"


@pytest.mark.parametrize("n", [3, 12])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    SourceFactory.create_batch(n)
    # 1 data version, 2 COUNT, 3 the page.
    with django_assert_num_queries(3):
        response = anonymous.get(URL)
    assert response.json()["count"] == n


@pytest.mark.parametrize("n", [3, 12])
def test_the_check_history_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    source = SourceFactory()
    SourceCheckFactory.create_batch(n, source=source)
    # 1 the source, 2 data version, 3 the page (keyset: no COUNT).
    with django_assert_num_queries(3):
        response = anonymous.get(f"{URL}{source.pk}/checks/", {"page_size": 2})
    assert len(response.json()["results"]) == 2


def test_the_check_history_is_walked_newest_first_by_cursor(anonymous: APIClient) -> None:
    source = SourceFactory()
    checks = SourceCheckFactory.create_batch(5, source=source)
    SourceCheckFactory(source=source, checked_at=checks[2].checked_at)  # a tie on the time
    SourceCheckFactory()  # another source's
    seen: list[int] = []
    url: str | None = f"{URL}{source.pk}/checks/?page_size=2"
    while url:
        body = anonymous.get(url).json()
        assert "count" not in body
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    expected = list(source.checks.order_by("-checked_at", "-id").values_list("id", flat=True))
    assert seen == expected
    assert anonymous.get(f"{URL}{source.pk}/checks/", {"outcome": "gone"}).json()["results"] == []
    assert anonymous.get(f"{URL}{source.pk}/checks/", {"outcome": "bad"}).status_code == 400
    assert anonymous.get(f"{URL}{source.pk}/checks/", {"page": "2"}).status_code == 400
    assert anonymous.get(f"{URL}999999/checks/").status_code == 404


def test_the_check_history_in_csv(anonymous: APIClient) -> None:
    check = SourceCheckFactory(
        outcome="gone",
        http_status=404,
        error="Not Found",
        checked_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    lines = anonymous.get(f"{URL}{check.source_id}/checks/", {"format": "csv"}).content
    header, row = lines.decode().splitlines()
    assert header == (
        "id,checked_at,outcome,http_status,final_url,duration_ms,bytes_read,content_hash,error"
    )
    assert row == f"{check.pk},2024-01-01T00:00:00Z,gone,404,,0,0,,Not Found"


def test_filters_over_http(anonymous: APIClient) -> None:
    SourceFactory(url="https://www.un.org/a", health="broken", kind="treaty_text")
    SourceFactory(url="https://news.example.org/b", health="ok")

    def urls(**params: str) -> list[str]:
        return [s["url"] for s in anonymous.get(URL, params).json()["results"]]

    assert urls(host="un.org") == ["https://www.un.org/a"]
    assert urls(health="ok") == ["https://news.example.org/b"]
    assert urls(kind="treaty_text") == ["https://www.un.org/a"]
    assert anonymous.get(URL, {"host": "un.org/a"}).status_code == 400


def test_what_changed_or_broke_since_a_moment(anonymous: APIClient) -> None:
    monday = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
    day = datetime.timedelta(days=1)
    SourceFactory(
        url="https://www.un.org/rewritten",
        health="changed",
        content_changed_at=monday + day,
        last_checked_at=monday + day,
    )
    SourceFactory(
        url="https://www.un.org/rewritten-long-ago",
        health="ok",
        content_changed_at=monday - 30 * day,
        last_checked_at=monday + day,
    )
    SourceFactory(url="https://www.un.org/gone", health="broken", last_checked_at=monday + day)
    SourceFactory(
        url="https://www.un.org/gone-before", health="broken", last_checked_at=monday - day
    )

    def urls(**params: str) -> list[str]:
        response = anonymous.get(URL, params)
        assert response.status_code == 200, response.json()
        return [s["url"] for s in response.json()["results"]]

    since = "2026-11-23T00:00:00Z"
    assert urls(content_changed_since=since) == ["https://www.un.org/rewritten"]
    assert urls(health="broken", checked_since=since) == ["https://www.un.org/gone"]
    assert urls(ordering="-content_changed_at", content_changed_since="2026-01-01T00:00:00Z") == [
        "https://www.un.org/rewritten",
        "https://www.un.org/rewritten-long-ago",
    ]
    refused = anonymous.get(URL, {"checked_since": "last monday"})
    assert refused.status_code == 400
    assert "checked_since" in refused.json()


def test_the_check_history_since_a_moment(anonymous: APIClient) -> None:
    source = SourceFactory()
    for day in (20, 24, 26):
        SourceCheckFactory(
            source=source, checked_at=datetime.datetime(2026, 11, day, tzinfo=datetime.UTC)
        )

    response = anonymous.get(f"{URL}{source.pk}/checks/", {"since": "2026-11-23T00:00:00Z"})

    assert response.status_code == 200
    assert [c["checked_at"][:10] for c in response.json()["results"]] == [
        "2026-11-26",
        "2026-11-24",
    ]


def test_curators_write_their_fields_and_never_the_refresh_fields(
    curator: APIClient,
) -> None:
    response = curator.post(
        URL,
        {
            "url": "HTTPS://WWW.UN.ORG:443/inf?utm_source=x",
            "title": "INF text",
            "kind": "treaty_text",
            "health": "ok",
            "fetched_title": "Injected",
            "last_checked_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    source = Source.objects.get()
    assert source.url == "HTTPS://WWW.UN.ORG:443/inf?utm_source=x"  # as cited
    assert (source.health, source.fetched_title, source.last_checked_at) == (
        "unchecked",
        "",
        None,
    )
    # Retyping the very same URL is not a change.
    before = source.updated_at
    again = curator.patch(
        f"{URL}{source.pk}/",
        {"url": "HTTPS://WWW.UN.ORG:443/inf?utm_source=x"},
        format="json",
        HTTP_IF_MATCH=response["ETag"],
    )
    assert again.status_code == 200
    assert Source.objects.get().updated_at == before


def checked_source(url: str) -> Source:
    """A source as a few refreshes left it: validators, a hash, a health, a next check."""
    return SourceFactory.create(
        url=url,
        title="INF text",
        etag='"v1"',
        last_modified="Tue, 01 Sep 2026 10:00:00 GMT",
        content_hash="a" * 64,
        content_hash_version="trafilatura-old",
        health=Source.Health.CHANGED,
        consecutive_failures=2,
        fetched_title="Fetched",
        last_checked_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
        next_check_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
    )


def test_a_new_url_is_checked_anew_and_the_old_findings_are_dropped(curator: APIClient) -> None:
    source = checked_source("https://www.un.org/inf")
    etag = curator.get(f"{URL}{source.pk}/")["ETag"]

    response = curator.patch(
        f"{URL}{source.pk}/",
        {"url": "https://treaties.un.org/inf"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert (source.url, source.title) == ("https://treaties.un.org/inf", "INF text")
    # Validators, hash and health belonged to the old address; due at the next tick.
    assert (source.etag, source.last_modified, source.content_hash) == ("", "", "")
    assert (source.health, source.consecutive_failures) == (Source.Health.UNCHECKED, 0)
    assert (source.fetched_title, source.last_checked_at, source.next_check_at) == ("", None, None)


def test_an_edit_that_keeps_the_url_keeps_the_refresh_state(curator: APIClient) -> None:
    source = checked_source("https://www.un.org/inf")
    etag = curator.get(f"{URL}{source.pk}/")["ETag"]

    response = curator.patch(
        f"{URL}{source.pk}/",
        {"url": "https://WWW.UN.ORG/inf#text", "title": "INF Treaty text"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert (source.title, source.etag, source.health) == (
        "INF Treaty text",
        '"v1"',
        Source.Health.CHANGED,
    )


def test_a_cited_source_cannot_be_deleted(curator: APIClient) -> None:
    source = CitationFactory().source
    etag = curator.get(f"{URL}{source.pk}/")["ETag"]
    response = curator.delete(f"{URL}{source.pk}/", HTTP_IF_MATCH=etag)
    assert response.status_code == 409
    assert "citations" in response.json()["detail"]


def test_a_bad_url_is_refused(curator: APIClient) -> None:
    response = curator.post(URL, {"url": "ftp://example.org/x"}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()


def test_checked_at_is_rfc3339_utc(anonymous: APIClient) -> None:
    check = SourceCheckFactory(
        checked_at=datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.UTC)
    )
    body = anonymous.get(f"{URL}{check.source_id}/checks/").json()
    assert body["results"][0]["checked_at"] == "2024-03-01T12:30:00Z"


@pytest.mark.parametrize(
    "instant",
    ["0515-04-21T09:25:38.1-19:38", "2024-05-01T00:00:00+23:59", "0001-01-01T00:00+01:00"],
)
def test_a_date_time_with_any_offset_filters_without_error(
    anonymous: APIClient, instant: str
) -> None:
    SourceFactory(last_checked_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    response = anonymous.get(URL, {"checked_since": instant})
    assert response.status_code == 200
    assert response.json()["count"] == 1  # each instant is before the check
