"""A curator's own API tokens, in the admin site (``/admin/tokens/``): make one, list them, revoke
one.

Tokens are django-rest-knox's: stored as a hash, expiring after ``TRACKER_API_TOKEN_TTL_HOURS``.
A new token is shown exactly once, in the answer to the POST that made it (``Cache-Control:
no-store``); it is never put in a URL, a message, the session or a log line, so nothing can show
it again. Sending the same form twice (a reload of that answer) makes no second token: the form
carries, signed, which token was the newest when it was drawn, and a form drawn before the
newest token is refused.

knox's own admin page would put a new token in a flash message (stored in the session or a
cookie); ``install`` replaces it with a list that only views and deletes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

SALT = "api-tokens-form"
# A form older than this is refused: draw the page again.
FORM_MAX_AGE = 24 * 60 * 60
# How much of a token's start the list shows, to tell tokens apart (of 64 hex characters).
SHOWN_PREFIX = 8
URL_NAME = "api-tokens"


def _newest(user: Any) -> str:
    created = (
        AuthToken.objects.filter(user=user).order_by("-created").values_list("created", flat=True)
    ).first()
    return created.isoformat() if created else ""


def _form_stamp(user: Any) -> str:
    return signing.dumps({"user": user.pk, "newest": _newest(user)}, salt=SALT)


def _page(
    request: HttpRequest,
    *,
    new_token: str | None = None,
    new_expiry: Any = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    tokens = [
        {
            "digest": token.digest,
            "start": token.token_key[:SHOWN_PREFIX],
            "created": token.created,
            "expiry": token.expiry,
            "expired": token.expiry is not None and token.expiry <= timezone.now(),
        }
        for token in AuthToken.objects.filter(user=request.user).order_by("-created")
    ]
    ttl = knox_settings.TOKEN_TTL
    context = {
        **admin.site.each_context(request),
        "title": "Your API tokens",
        "tokens": tokens,
        "stamp": _form_stamp(request.user),
        "new_token": new_token,
        "new_expiry": new_expiry,
        "error": error,
        "ttl_hours": int(ttl.total_seconds() // 3600) if ttl else None,
        "api_root": "/api/v1/",
    }
    response = TemplateResponse(request, "admin/api_tokens.html", context, status=status)
    # The page may hold a secret: no copy in any cache, the browser's included.
    response["Cache-Control"] = "no-store"
    return response


def api_tokens(request: HttpRequest) -> HttpResponse:
    """GET: the curator's tokens. POST ``action=create`` or ``action=revoke`` (``digest``)."""
    if request.method != "POST":
        return _page(request)
    action = request.POST.get("action")
    if action == "create":
        return _create(request)
    if action == "revoke":
        return _revoke(request)
    return _page(request, error="Choose to create or to revoke a token.", status=400)


def _create(request: HttpRequest) -> HttpResponse:
    try:
        stamp = signing.loads(request.POST.get("stamp", ""), salt=SALT, max_age=FORM_MAX_AGE)
    except signing.BadSignature:
        return _page(
            request,
            error="This form is too old or was altered; nothing was made. Try again below.",
            status=400,
        )
    user = request.user
    with transaction.atomic():
        # One creation at a time per user, so two sends of one form cannot both pass the check.
        list(get_user_model().objects.select_for_update().filter(pk__in=[user.pk]))
        if stamp.get("user") != user.pk or stamp.get("newest") != _newest(user):
            messages.warning(
                request,
                "That form had already been sent, so no second token was made. The token it "
                "made is listed below; its secret is shown only once and cannot be shown again. "
                "Revoke it if you did not copy it, and make a new one.",
            )
            return HttpResponseRedirect(reverse(URL_NAME), status=303)
        token, secret = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
    return _page(request, new_token=secret, new_expiry=token.expiry, status=201)


def _revoke(request: HttpRequest) -> HttpResponse:
    digest = request.POST.get("digest", "")
    deleted, _ = AuthToken.objects.filter(user=request.user, digest=digest).delete()
    if not deleted:
        return _page(
            request,
            error="You have no such token: it has expired, was revoked already, or is not "
            "yours. Nothing was revoked.",
            status=404,
        )
    messages.success(request, "Token revoked: requests that use it are refused from now on.")
    return HttpResponseRedirect(reverse(URL_NAME), status=303)


class TokenAdmin(admin.ModelAdmin):
    """Every user's tokens, for an administrator to revoke; new ones come from the token page."""

    list_display = ["user", "start", "created", "expiry"]
    list_filter = ["expiry"]
    search_fields = [f"user__{get_user_model().USERNAME_FIELD}"]
    list_select_related = ["user"]
    fields = ["user", "created", "expiry"]
    readonly_fields = ["user", "created", "expiry"]

    @admin.display(description="starts with")
    def start(self, obj: AuthToken) -> str:
        return obj.token_key[:SHOWN_PREFIX]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def install(site: AdminSite) -> None:
    """Replace knox's token admin (whose add form shows a token in a flash message)."""
    if site.is_registered(AuthToken):
        site.unregister(AuthToken)
    site.register(AuthToken, TokenAdmin)
