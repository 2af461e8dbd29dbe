"""Read-only browser clients on the origins TRACKER_CORS_ALLOWED_ORIGINS lists: reads allowed,
writes and other origins not, nothing outside the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
ORIGIN = "https://analysis.example.org"


@pytest.fixture
def allowed(settings: Any) -> Any:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    return settings


def test_an_allowed_origin_reads_the_api_and_sees_the_etag(client: Client, allowed: Any) -> None:
    response = client.get("/api/v1/measures/", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in response["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_a_preflight_allows_reads_only(client: Client, allowed: Any) -> None:
    def preflight(method: str) -> Any:
        return client.options(
            "/api/v1/measures/",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": method},
        )

    methods = preflight("GET")["Access-Control-Allow-Methods"]
    assert set(methods.replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert "POST" not in preflight("POST")["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("origin", "path"),
    [("https://elsewhere.example.com", "/api/v1/measures/"), (ORIGIN, "/admin/login/")],
)
def test_other_origins_and_pages_outside_the_api_get_no_grant(
    client: Client, allowed: Any, origin: str, path: str
) -> None:
    response = client.get(path, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response


def test_by_default_no_origin_is_granted(client: Client) -> None:
    response = client.get("/api/v1/measures/", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response
