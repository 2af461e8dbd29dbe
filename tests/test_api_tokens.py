"""The token page: a curator makes an API token, sees it once, lists and revokes their own."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

TOKENS = "/admin/tokens/"


def curator(name: str) -> tuple[User, Client]:
    user = User.objects.create_user(name, password="pw-for-tests-only", is_staff=True)
    client = Client()
    client.force_login(user)
    return user, client


def stamp(client: Client) -> str:
    html = client.get(TOKENS).content.decode()
    match = re.search(r'name="stamp" value="([^"]+)"', html)
    assert match
    return match.group(1)


def shown_token(html: str) -> str | None:
    match = re.search(r'<code id="new-token-value">([^<]+)</code>', html)
    return match.group(1) if match else None


def test_the_page_is_linked_from_every_admin_page(admin_client: Client) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert f'<a href="{reverse("api-tokens")}">API tokens</a>' in html


def test_a_new_token_is_shown_once_and_works(caplog: pytest.LogCaptureFixture) -> None:
    user, client = curator("alice")
    form = {"action": "create", "stamp": stamp(client)}

    with caplog.at_level(logging.DEBUG):
        response = client.post(TOKENS, form)

    html = response.content.decode()
    token = shown_token(html)
    assert response.status_code == 201
    assert token is not None
    assert "no-store" in response["Cache-Control"]
    assert "It expires " in html
    stored = AuthToken.objects.get(user=user)
    assert stored.digest == hash_token(token)  # only the hash is kept
    assert stored.expiry is not None
    assert stored.expiry.strftime("%Y-%m-%d %H:%M") in html
    assert token not in caplog.text
    assert not any(token in session.session_data for session in Session.objects.all())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/sources/").status_code == 200

    # Never again: not on the page, not on a second send of the same form (a reload).
    assert token not in client.get(TOKENS).content.decode()
    again = client.post(TOKENS, form, follow=True)
    assert again.redirect_chain == [(TOKENS, 303)]
    assert shown_token(again.content.decode()) is None
    assert "no second token was made" in again.content.decode()
    assert AuthToken.objects.filter(user=user).count() == 1


def test_a_form_that_was_altered_makes_nothing() -> None:
    user, client = curator("alice")

    response = client.post(TOKENS, {"action": "create", "stamp": "forged"})

    assert response.status_code == 400
    assert "too old or was altered" in response.content.decode()
    assert not AuthToken.objects.filter(user=user).exists()


def test_the_list_shows_only_my_tokens() -> None:
    alice, alice_client = curator("alice")
    bob, _ = curator("bob")
    mine, _ = AuthToken.objects.create(user=alice)
    theirs, _ = AuthToken.objects.create(user=bob)

    html = alice_client.get(TOKENS).content.decode()

    assert f'value="{mine.digest}"' in html
    assert f'value="{theirs.digest}"' not in html
    assert f"<code>{mine.token_key[:8]}…</code>" in html


def test_a_curator_revokes_their_own_token() -> None:
    alice, client = curator("alice")
    token, secret = AuthToken.objects.create(user=alice)

    response = client.post(TOKENS, {"action": "revoke", "digest": token.digest}, follow=True)

    assert response.redirect_chain == [(TOKENS, 303)]
    assert "Token revoked" in response.content.decode()
    assert not AuthToken.objects.filter(digest=token.digest).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/sources/").status_code == 401


def test_nobody_revokes_another_curators_token() -> None:
    _, alice_client = curator("alice")
    bob, _ = curator("bob")
    theirs, _ = AuthToken.objects.create(user=bob)

    response = alice_client.post(TOKENS, {"action": "revoke", "digest": theirs.digest})

    assert response.status_code == 404
    assert "Nothing was revoked" in response.content.decode()
    assert AuthToken.objects.filter(digest=theirs.digest).exists()


def test_an_unknown_action_is_refused(admin_client: Client) -> None:
    response = admin_client.post(TOKENS, {"action": "print"})

    assert response.status_code == 400
    assert "Choose to create or to revoke" in response.content.decode()


def test_the_page_needs_a_staff_login(client: Client) -> None:
    client.force_login(User.objects.create_user("reader", password="pw-for-tests-only"))

    response = client.post(TOKENS, {"action": "create"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not AuthToken.objects.exists()


def test_the_token_admin_cannot_make_tokens(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:knox_authtoken_add"))

    assert response.status_code == 403
