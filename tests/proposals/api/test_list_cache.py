"""Rendered list pages kept under their ETag (proposals/api/listcache.py): answered again after
the one query that computes the ETag, with the same bytes and headers, until a write changes the
data; never for the browsable API, an invalid query or a request that asks for a fresh page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient

from proposals.api.listcache import ListCache
from tests.factories import ActorFactory, EventFactory, MeasureFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/measures/"


def same_headers(a: Any, b: Any) -> bool:
    def kept(response: Any) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}

    return kept(a) == kept(b)


@pytest.fixture
def measures() -> None:
    usa = ActorFactory(code="USA")
    for _ in range(3):
        EventFactory(measure=MeasureFactory(), kind="ratified", actor=usa)


@pytest.mark.usefixtures("measures")
@pytest.mark.parametrize(
    "query", [{}, {"format": "csv"}, {"fields": "slug,title"}, {"page_size": 2, "page": 2}]
)
def test_a_repeated_read_is_answered_after_one_query_with_the_same_bytes(
    anonymous: APIClient, django_assert_num_queries: Any, query: dict[str, Any]
) -> None:
    first = anonymous.get(URL, query)
    # 1 the data version (the ETag): the page itself is not built again.
    with django_assert_num_queries(1):
        again = anonymous.get(URL, query)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert same_headers(first, again)


@pytest.mark.usefixtures("measures")
def test_a_write_changes_the_answer(anonymous: APIClient, curator: APIClient) -> None:
    before = anonymous.get(URL).json()
    created = curator.post(
        URL,
        {
            "slug": "new-one",
            "title": "New",
            "categories": ["hotline"],
            "form": "proposal",
            "scope": "bilateral",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    after = anonymous.get(URL).json()
    assert after["count"] == before["count"] + 1
    assert "new-one" in [item["slug"] for item in after["results"]]


@pytest.mark.usefixtures("measures")
def test_another_day_is_another_page(anonymous: APIClient) -> None:
    with time_machine.travel(datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.UTC)):
        first = anonymous.get(URL).json()["results"][0]["status_on"]
    with time_machine.travel(datetime.datetime(2030, 1, 2, 12, tzinfo=datetime.UTC)):
        second = anonymous.get(URL).json()["results"][0]["status_on"]
    assert (first, second) == ("2030-01-01", "2030-01-02")


@pytest.mark.usefixtures("measures")
@pytest.mark.parametrize("directive", ["no-cache", "max-age=0, no-store"])
def test_a_request_may_ask_for_a_fresh_page(
    anonymous: APIClient, django_assert_num_queries: Any, directive: str
) -> None:
    first = anonymous.get(URL)
    # data version, COUNT, page, categories, events, positions, named parties, successor map
    with django_assert_num_queries(8):
        fresh = anonymous.get(URL, HTTP_CACHE_CONTROL=directive)
    assert fresh.content == first.content


@pytest.mark.usefixtures("measures")
def test_another_host_gets_its_own_addresses(anonymous: APIClient) -> None:
    with override_settings(ALLOWED_HOSTS=["testserver", "mirror.example.org"]):
        anonymous.get(URL)
        other = anonymous.get(URL, HTTP_HOST="mirror.example.org").json()
    assert other["results"][0]["url"].startswith("http://mirror.example.org/api/v1/measures/")


@pytest.mark.usefixtures("measures")
def test_the_browsable_api_is_never_kept(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    anonymous.get(URL, HTTP_ACCEPT="text/html")
    with django_assert_num_queries(7):  # the page as built, without the data version
        page = anonymous.get(URL, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.usefixtures("measures")
def test_an_invalid_query_is_refused_every_time(anonymous: APIClient) -> None:
    answers = [anonymous.get(URL, {"fields": "nope"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [400, 400]
    assert "fields" in answers[1].json()


@pytest.mark.usefixtures("measures")
@override_settings(TRACKER_API_LIST_CACHE_BYTES=0)
def test_it_can_be_turned_off(anonymous: APIClient, django_assert_num_queries: Any) -> None:
    anonymous.get(URL)
    with django_assert_num_queries(8):
        anonymous.get(URL)


@pytest.mark.usefixtures("measures")
def test_it_keeps_no_more_bytes_than_allowed(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    one_page = len(anonymous.get(URL, {"page_size": 1}).content)
    # Room for one page of one measure: reading another page pushes the first one out.
    with override_settings(TRACKER_API_LIST_CACHE_BYTES=one_page + 100):
        anonymous.get(URL, {"page_size": 1})
        anonymous.get(URL, {"page_size": 1, "page": 2})
        with django_assert_num_queries(1):
            anonymous.get(URL, {"page_size": 1, "page": 2})
        with django_assert_num_queries(8):
            anonymous.get(URL, {"page_size": 1})


def test_a_page_larger_than_the_whole_cache_is_not_kept(rf: Any) -> None:
    cache = ListCache(max_bytes=10)
    request = Request(rf.get(URL))
    response = Response()
    response.content = b"x" * 11
    cache.keep(request, '"tag"', response)
    assert cache.get(request, '"tag"') is None
    small = Response()
    small.content = b"x" * 10
    cache.keep(request, '"tag"', small)
    kept = cache.get(request, '"tag"')
    assert kept is not None
    assert kept.content == b"x" * 10
