"""Every kind of page answers with one Content-Security-Policy, and none needs inline script.

The docs page (/api/docs/) is built from the service's own static files only.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from tests.factories import ActorFactory, MeasureFactory, SourceFactory

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """What a page loads (tag, URL) and the script or style it carries inline."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []
        self.inline: list[str] = []
        self.nonces: list[str] = []
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.inline += [f"{tag} {name}" for name in values if name.startswith("on")]
        for name in ("src", "href"):
            if values.get(name) and tag in {"script", "link", "img", "iframe"}:
                self.assets.append((tag, values[name]))
        executable = values.get("type", "text/javascript") in {"text/javascript", "module"}
        inline_script = tag == "script" and "src" not in values and executable
        if (inline_script or tag == "style") and "nonce" not in values:
            self._open = tag
        if "nonce" in values:
            self.nonces.append(values["nonce"])

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}> {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


@pytest.fixture
def admin_client(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


def pages() -> dict[str, tuple[bool, str]]:
    """Page kind: (signed in as a superuser, path)."""
    measure, actor, source = MeasureFactory(), ActorFactory(), SourceFactory()
    return {
        "admin login": (False, "/admin/login/"),
        "admin index": (True, "/admin/"),
        "admin change list": (True, "/admin/proposals/measure/"),
        "admin add form with inlines": (True, "/admin/proposals/measure/add/"),
        "admin change form": (True, f"/admin/proposals/measure/{measure.pk}/change/"),
        "admin popup": (True, "/admin/proposals/actor/add/?_to_field=id&_popup=1"),
        "admin history": (True, f"/admin/proposals/actor/{actor.pk}/history/"),
        "admin source form": (True, f"/admin/tracker/source/{source.pk}/change/"),
        "browsable API root": (False, "/api/v1/"),
        "browsable API list": (False, "/api/v1/measures/"),
        "browsable API login": (False, "/api-auth/login/"),
        "docs": (False, "/api/docs/"),
        "not found": (False, "/nowhere/"),
    }


PAGE_KINDS = [
    "admin login",
    "admin index",
    "admin change list",
    "admin add form with inlines",
    "admin change form",
    "admin popup",
    "admin history",
    "admin source form",
    "browsable API root",
    "browsable API list",
    "browsable API login",
    "docs",
    "not found",
]


def policy_of(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values for name, *values in (directive.split() for directive in header.split(";"))
    }


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_every_page_kind_has_the_policy_and_no_inline_script(
    client: Client, admin_user: User, kind: str
) -> None:
    signed_in, path = pages()[kind]
    if signed_in:
        client.force_login(admin_user)

    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == (404 if kind == "not found" else 200)
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    page = Page(response.content.decode())
    assert page.inline == []
    if kind in {"browsable API root", "browsable API list"}:
        assert len(page.nonces) == 1  # the code-highlighting style
    # An inline element runs only with this response's nonce.
    assert all(f"'nonce-{nonce}'" in policy["style-src"] for nonce in page.nonces)


@pytest.mark.parametrize(
    "path", ["/api/v1/measures/", "/api/schema/", "/api/docs/?script", "/health/"]
)
def test_other_responses_carry_the_policy_too(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert policy_of(response)["script-src"] == ["'self'"]


def test_the_docs_page_loads_only_the_services_own_files(client: Client) -> None:
    page = Page(client.get("/api/docs/").content.decode())

    assert {tag for tag, _ in page.assets} == {"script", "link"}
    for tag, url in page.assets:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{tag} from elsewhere: {url}"
        if parts.path == "/api/docs/":
            continue  # the start-up script, from the view itself
        assert parts.path.startswith("/static/"), url
        assert finders.find(parts.path.removeprefix("/static/")), f"no static file {url}"
    scripts = [url for tag, url in page.assets if tag == "script"]
    assert any("swagger-ui-bundle.js" in url for url in scripts)
    assert urlsplit(scripts[-1]).path == "/api/docs/"


def test_the_docs_start_up_script_reads_the_schema_from_this_service(client: Client) -> None:
    response = client.get("/api/docs/?script")

    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    script = response.content.decode()
    assert 'url: "/api/schema/"' in script
    assert "http://" not in script
    assert "https://" not in script
