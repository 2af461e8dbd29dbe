"""An unknown address under /api/ answers JSON like the rest of the API; the admin keeps HTML."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/nonexistent/", "/api/v2/", "/api/v1/measures/a/b/c/"])
def test_an_unknown_api_address_is_a_json_404(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Nothing here: ")


def test_outside_the_api_the_404_page_stays_html(client: Client) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_server_error_under_the_api_is_json_and_points_at_the_request_id(
    rf: RequestFactory,
) -> None:
    from config.errors import server_error

    response = server_error(rf.get("/api/v1/measures/"))
    assert response.status_code == 500
    assert b"X-Request-ID" in response.content
    assert response["Content-Type"] == "application/json"
