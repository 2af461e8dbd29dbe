"""Who may write: anonymous clients never (401), signed-in users without the model permission
never (403), curators always — on every write route. And how curators get their tokens."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from proposals.models import Actor, Citation, Event, Measure, Position
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows() -> dict[str, Any]:
    usa = ActorFactory(code="USA")
    ActorFactory(code="FRA")  # an actor nothing refers to, so it can be deleted
    measure = MeasureFactory(slug="inf")
    source = SourceFactory(url="https://www.un.org/inf")
    return {
        "measure": measure,
        "actor": Actor.objects.get(code="FRA"),
        "event": EventFactory(measure=measure, actor=usa),
        "position": PositionFactory(measure=measure, actor=usa),
        "source": SourceFactory(url="https://example.org/uncited"),
        "citation": CitationFactory(measure=measure, source=source),
    }


# resource → (collection path, detail path from the rows, body of a create, a full replacement)
ROUTES: dict[str, tuple[str, Callable[[dict[str, Any]], str], dict[str, Any], dict[str, Any]]] = {
    "measure": (
        "/api/v1/measures/",
        lambda r: "/api/v1/measures/inf/",
        {
            "slug": "new",
            "title": "New",
            "categories": ["hotline"],
            "form": "proposal",
            "scope": "bilateral",
        },
        {
            "slug": "inf",
            "title": "INF",
            "categories": ["arms_limit"],
            "form": "treaty",
            "scope": "bilateral",
        },
    ),
    "actor": (
        "/api/v1/actors/",
        lambda r: "/api/v1/actors/FRA/",
        {"code": "GBR", "name": "United Kingdom"},
        {"code": "FRA", "name": "France", "aliases": ["French Republic"]},
    ),
    "event": (
        "/api/v1/events/",
        lambda r: f"/api/v1/events/{r['event'].pk}/",
        {"measure": "inf", "kind": "proposed", "date": "1986-01-01"},
        {"measure": "inf", "kind": "signed", "date": "1987-12-08", "actor": "USA"},
    ),
    "position": (
        "/api/v1/positions/",
        lambda r: f"/api/v1/positions/{r['position'].pk}/",
        {"measure": "inf", "actor": "FRA", "stance": "neutral", "date": "1987-01-01"},
        {"measure": "inf", "actor": "USA", "stance": "proposes", "date": "1987-01-01"},
    ),
    "source": (
        "/api/v1/sources/",
        lambda r: f"/api/v1/sources/{r['source'].pk}/",
        {"url": "https://www.state.gov/inf", "kind": "official_statement"},
        {"url": "https://example.org/uncited", "title": "Uncited", "kind": "analysis"},
    ),
    "citation": (
        "/api/v1/citations/",
        lambda r: f"/api/v1/citations/{r['citation'].pk}/",
        {"source": None, "measure": "inf", "locator": "art. 1"},
        {"source": None, "measure": "inf", "locator": "art. 2"},
    ),
}
MODELS = {
    "measure": Measure,
    "actor": Actor,
    "event": Event,
    "position": Position,
    "source": Source,
    "citation": Citation,
}


def _body(name: str, body: dict[str, Any], rows: dict[str, Any]) -> dict[str, Any]:
    if name == "citation":
        return {**body, "source": rows["citation"].source_id}
    return body


def _call(client: APIClient, method: str, name: str, rows: dict[str, Any]) -> Any:
    collection, detail, create, replace = ROUTES[name]
    if method == "post":
        return client.post(collection, _body(name, create, rows), format="json")
    path = detail(rows)
    etag = APIClient().get(path)["ETag"]
    # A PATCH that changes nothing writes nothing (and no history), so change one field.
    changed = {"measure": "title", "actor": "name", "source": "title"}.get(name, "quote")
    if name == "event":
        changed = "description"
    body = {"put": replace, "patch": {changed: "Changed"}, "delete": None}[method]
    if body is None:
        return client.delete(path, HTTP_IF_MATCH=etag)
    return getattr(client, method)(path, _body(name, body, rows), format="json", HTTP_IF_MATCH=etag)


WRITES = [(name, method) for name in ROUTES for method in ("post", "put", "patch", "delete")]


@pytest.mark.parametrize(("name", "method"), WRITES)
def test_anonymous_clients_cannot_write(
    anonymous: APIClient, rows: dict[str, Any], name: str, method: str
) -> None:
    before = MODELS[name].objects.count()
    response = _call(anonymous, method, name, rows)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()
    assert MODELS[name].objects.count() == before


@pytest.mark.parametrize(("name", "method"), WRITES)
def test_users_without_the_permission_cannot_write(
    reader: APIClient, rows: dict[str, Any], name: str, method: str
) -> None:
    response = _call(reader, method, name, rows)
    assert response.status_code == 403
    assert "detail" in response.json()


@pytest.mark.parametrize(("name", "method"), WRITES)
def test_curators_can_write(
    curator: APIClient, curator_user: User, rows: dict[str, Any], name: str, method: str
) -> None:
    response = _call(curator, method, name, rows)
    expected = {"post": 201, "put": 200, "patch": 200, "delete": 204}[method]
    assert response.status_code == expected, response.content
    history = MODELS[name].history.order_by("-history_id").first()
    assert history.history_user == curator_user


@pytest.mark.parametrize("path", ["/api/v1/measures/", "/api/v1/measures/inf/"])
def test_a_method_the_route_does_not_take_is_a_json_405(
    curator: APIClient, rows: dict[str, Any], path: str
) -> None:
    method = "put" if path.endswith("measures/") else "post"
    response = getattr(curator, method)(path, {}, format="json")
    assert response.status_code == 405
    assert "detail" in response.json()


def test_deleting_an_actor_still_referred_to_is_a_409(
    curator: APIClient, rows: dict[str, Any]
) -> None:
    etag = curator.get("/api/v1/actors/USA/")["ETag"]
    response = curator.delete("/api/v1/actors/USA/", HTTP_IF_MATCH=etag)
    assert response.status_code == 409
    assert "events" in response.json()["detail"]


def test_anonymous_clients_are_throttled(
    anonymous: APIClient, settings: Any, rows: dict[str, Any]
) -> None:
    from proposals.api.throttling import AnonymousThrottle

    AnonymousThrottle.THROTTLE_RATES = {**AnonymousThrottle.THROTTLE_RATES, "anon": "3/minute"}
    try:
        codes = [anonymous.get("/api/v1/measures/").status_code for _ in range(4)]
    finally:
        AnonymousThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert codes == [200, 200, 200, 429]


# --- tokens -------------------------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_curator_logs_in_and_writes_with_the_token(curator_user: User) -> None:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/login/",
        HTTP_AUTHORIZATION=_basic("curator", "a long curator passphrase"),
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["expiry"]
    stored = AuthToken.objects.get(user=curator_user)
    assert token not in (stored.digest, stored.token_key)  # stored hashed
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post("/api/v1/actors/", {"code": "GBR", "name": "UK"}, format="json")
    assert created.status_code == 201
    assert client.post("/api/v1/auth/logout/").status_code == 204
    again = client.post("/api/v1/actors/", {"code": "FRA", "name": "France"}, format="json")
    assert again.status_code == 401


def test_a_wrong_password_gets_no_token(curator_user: User) -> None:
    response = APIClient().post(
        "/api/v1/auth/login/", HTTP_AUTHORIZATION=_basic("curator", "guess")
    )
    assert response.status_code == 401
    assert not AuthToken.objects.exists()


def test_an_expired_token_is_refused(curator_user: User) -> None:
    instance, token = AuthToken.objects.create(user=curator_user)
    AuthToken.objects.filter(pk=instance.pk).update(
        expiry=timezone.now() - datetime.timedelta(minutes=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post("/api/v1/actors/", {"code": "GBR", "name": "UK"}, format="json")
    assert response.status_code == 401


def test_a_session_writes_through_the_browsable_api(curator_user: User) -> None:
    client = APIClient()
    client.force_login(curator_user)
    response = client.post("/api/v1/actors/", {"code": "GBR", "name": "UK"}, format="json")
    assert response.status_code == 201
    assert Actor.history.get(code="GBR").history_user == curator_user
