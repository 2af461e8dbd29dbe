"""Source URLs through the API: stored exactly as cited, found by ``?url=`` in any spelling."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db
URL = "/api/v1/sources/"
ABM = "http://www.nti.org/db/nisprofs/russia/treaties/index.pl?ABM_treaty"


@pytest.mark.parametrize(
    "cited",
    [
        ABM,
        "https://example.org/%7Euser/inf%2fa?id=%7e3#article-2",
        "HTTPS://WWW.UN.ORG:443/inf/",
    ],
)
def test_a_source_keeps_the_url_as_cited(curator: APIClient, cited: str) -> None:
    response = curator.post(URL, {"url": f" {cited} ", "kind": "news"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["url"] == cited
    assert Source.objects.get().url == cited
    assert curator.get(f"{URL}{response.json()['id']}/").json()["url"] == cited


@pytest.mark.parametrize(
    "spelling",
    [
        "https://example.org/~user/inf?id=3",  # as stored
        "https://EXAMPLE.org/~user/inf?id=3",  # host case
        "https://example.org:443/~user/inf?id=3",  # default port
        "https://example.org/%7Euser/inf?id=3",  # %7E for ~
        "https://example.org/~user/inf?id=3#top",  # fragment
        "https://example.org/~user/inf?utm_source=feed&id=3",  # tracking parameter
    ],
)
def test_a_second_source_for_the_same_address_is_refused(curator: APIClient, spelling: str) -> None:
    first = SourceFactory(url="https://example.org/~user/inf?id=3")

    response = curator.post(URL, {"url": spelling, "kind": "news"}, format="json")

    # A repeat, not a mistake: 409 naming the source that already cites it.
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Source {first.pk} already cites this address as "
        "https://example.org/~user/inf?id=3; cite that source instead.",
        "existing": f"http://testserver/api/v1/sources/{first.pk}/",
    }
    assert list(Source.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.parametrize(
    "other",
    [
        ABM + "=",  # a parameter with "=" is another request to a CGI script
        "http://www.nti.org/db/nisprofs/russia/treaties/index.pl/?ABM_treaty",
        "http://www.nti.org/db/nisprofs/russia/treaties/INDEX.pl?ABM_treaty",
    ],
)
def test_another_address_is_another_source(curator: APIClient, other: str) -> None:
    SourceFactory(url=ABM)
    response = curator.post(URL, {"url": other, "kind": "news"}, format="json")
    assert response.status_code == 201, response.json()
    assert Source.objects.filter(url=other).exists()


@pytest.mark.parametrize(
    ("stored", "asked", "found"),
    [
        (ABM, ABM, True),
        (ABM, ABM + "=", False),
        (ABM, "HTTP://WWW.NTI.ORG:80/db/nisprofs/russia/treaties/index.pl?ABM_treaty#x", True),
        ("https://example.org/%7Euser/", "https://example.org/~user/", True),
        ("https://example.org/~user/", "https://example.org/%7euser/", True),
        ("https://example.org", "https://example.org/", True),
        ("https://example.org/inf", "https://example.org/inf/", False),
        ("https://example.org/inf/", "https://example.org/inf", False),
        ("https://example.org/inf?id=3", "https://example.org/inf?utm_source=x&id=3", True),
        ("https://example.org/inf", "http://example.org/inf", False),
    ],
)
def test_url_finds_the_source_in_any_spelling_of_its_address(
    anonymous: APIClient, stored: str, asked: str, found: bool
) -> None:
    source = SourceFactory(url=stored)
    SourceFactory(url="https://example.org/another")

    response = anonymous.get(URL, {"url": asked})

    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == ([source.pk] if found else [])


@pytest.mark.parametrize("asked", ["www.un.org/inf", " https://www.un.org/", "ftp://un.org/"])
def test_url_must_be_an_http_url(anonymous: APIClient, asked: str) -> None:
    response = anonymous.get(URL, {"url": asked})
    assert response.status_code == 400
    assert response.json() == {"url": ["Enter an http or https URL."]}


@pytest.mark.parametrize(
    ("asked", "reason"),
    [
        ("https://user:pw@www.un.org/", "URLs with a user name or password cannot be sources."),
        ("https://www.un.org:0/", "The URL's port must be between 1 and 65535."),
    ],
)
def test_a_url_no_source_can_have_is_a_404_saying_why(
    anonymous: APIClient, asked: str, reason: str
) -> None:
    response = anonymous.get(URL, {"url": asked})
    assert response.status_code == 404
    assert response.json() == {"url": [f"No source can have this URL: {reason}"]}


@pytest.mark.parametrize("n", [3, 12])
def test_url_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    SourceFactory.create_batch(n)
    wanted = SourceFactory(url=ABM)
    # 1 data version, 2 COUNT, 3 the page.
    with django_assert_num_queries(3):
        response = anonymous.get(URL, {"url": ABM})
    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_url_is_documented() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    [parameter] = [p for p in schema["paths"][URL]["get"]["parameters"] if p["name"] == "url"]
    assert "any spelling of the same address" in parameter["description"]
