"""GET /api/v1/: a link to every top-level endpoint, checked against the URL configuration."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _plain_paths(patterns: list[URLPattern | URLResolver], prefix: str = "") -> set[str]:
    """The paths of every route without a parameter (no id, no format suffix)."""
    paths = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern).removeprefix("^").removesuffix("$")
        if isinstance(pattern, URLResolver):
            paths |= _plain_paths(pattern.url_patterns, route)
        elif not getattr(pattern.pattern, "converters", None) and not (
            getattr(pattern.pattern, "regex", None) and pattern.pattern.regex.groups
        ):
            paths.add("/" + route)
    return paths


def test_the_root_links_every_endpoint_of_the_api(anonymous: APIClient) -> None:
    api = {path for path in _plain_paths(get_resolver().url_patterns) if path.startswith("/api/")}
    api.discard("/api/v1/")
    assert {"/api/v1/matrix/", "/api/v1/auth/login/", "/api/schema/"} <= api  # the walk works

    links = anonymous.get("/api/v1/").json()

    assert {urlsplit(url).path for url in links.values()} == api
    assert all(url.startswith("http://testserver/api/") for url in links.values())


def test_the_root_names_each_endpoint(anonymous: APIClient) -> None:
    links = anonymous.get("/api/v1/").json()
    assert list(links) == [
        "measures",
        "actors",
        "positions",
        "events",
        "sources",
        "citations",
        "matrix",
        "matrix_svg",
        "sources_health_svg",
        "changes",
        "export",
        "import",
        "quality",
        "login",
        "logout",
        "logoutall",
        "schema",
        "docs",
    ]
    assert links["logoutall"] == "http://testserver/api/v1/auth/logoutall/"
    assert links["docs"] == "http://testserver/api/docs/"
