"""What every picture shares with the other read endpoints: anonymous readers, the throttles,
content negotiation, and its place in the API root and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from proposals.api.throttling import AnonymousThrottle
from tests.factories import MeasureFactory, SourceFactory

pytestmark = pytest.mark.django_db
PATHS = {
    "/api/v1/measures/{slug}/timeline.svg": "/api/v1/measures/inf/timeline.svg",
    "/api/v1/matrix.svg": "/api/v1/matrix.svg",
    "/api/v1/sources/health.svg": "/api/v1/sources/health.svg",
    "/api/v1/sources/{id}/health.svg": "/api/v1/sources/{source}/health.svg",
}


@pytest.fixture
def urls() -> list[str]:
    MeasureFactory.create(slug="inf")
    source = SourceFactory.create()
    return [url.format(source=source.pk) for url in PATHS.values()]


def test_each_picture_is_svg_for_anyone_and_for_an_image_tag(
    anonymous: APIClient, urls: list[str]
) -> None:
    # What a browser sends for <img src="…">.
    accept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    for url in urls:
        response = anonymous.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
        assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
        assert response["ETag"].startswith('"')
        assert response["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"HTTP_ACCEPT": "application/json"}, {}), ({}, {"format": "json"})],
)
def test_no_other_format_is_offered(
    anonymous: APIClient, urls: list[str], headers: dict[str, str], query: dict[str, str]
) -> None:
    for url in urls:
        response = anonymous.get(url, query, **headers)
        assert response.status_code == 406, url
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()


def test_pictures_are_throttled_like_every_anonymous_read(
    anonymous: APIClient, urls: list[str], monkeypatch: Any
) -> None:
    monkeypatch.setitem(AnonymousThrottle.THROTTLE_RATES, "anon", f"{len(urls)}/minute")

    assert [anonymous.get(url).status_code for url in urls] == [200] * len(urls)
    refused = anonymous.get(urls[0])
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert int(refused["Retry-After"]) > 0


def test_the_root_links_the_pictures_without_a_parameter(anonymous: APIClient) -> None:
    links = anonymous.get("/api/v1/").json()

    assert links["matrix_svg"] == "http://testserver/api/v1/matrix.svg"
    assert links["sources_health_svg"] == "http://testserver/api/v1/sources/health.svg"


def test_the_schema_documents_each_picture_as_svg(anonymous: APIClient) -> None:
    schema = anonymous.get("/api/schema/", {"format": "json"}).json()

    for path in PATHS:
        operation = schema["paths"][path]["get"]
        assert list(operation["responses"]["200"]["content"]) == ["image/svg+xml"], path
        assert list(operation["responses"]["400"]["content"]) == ["application/json"], path
        assert "304" in operation["responses"]
        assert {} in operation["security"]  # anonymous readers are welcome
    matrix = schema["paths"]["/api/v1/matrix.svg"]["get"]
    names = {parameter["name"] for parameter in matrix["parameters"]}
    assert names == {
        "as_of", "actor", "category", "measure", "page", "page_size", "cursor", "If-None-Match"
    }  # fmt: skip
