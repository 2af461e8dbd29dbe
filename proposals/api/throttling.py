"""Throttles of the API, and the defence of password logins against guessing.

**Throttles** keep their request history in the ``throttle`` cache (see settings): on the
database cache every request would cost queries. They spread load; they are not a security
boundary (the check and the write of the history are not atomic). When that cache cannot be
reached (Redis down), they *fail open*: the request is allowed and one warning is logged per
outage, because refusing every anonymous read, or every login, for want of a counter would turn
a cache outage into an API outage.

**Logins** (the API's ``POST /api/v1/auth/login/`` with HTTP Basic, the admin's and the browsable
API's login forms) are guarded by django-axes with its database handler: every failed password
is recorded in the database, against the client's address and against the account, and after
``TRACKER_LOGIN_FAILURE_LIMIT`` failures of either within ``TRACKER_LOGIN_LOCKOUT_MINUTES`` both
are locked out until that long after the last failure. The database, not the cache, holds the
count so that it survives a Redis outage and is shared by every web process.

A locked-out or throttled login is refused *before* the password is checked, with 429 and
``Retry-After``, so the answer is the same whatever the password: a guesser learns nothing from
it. ``LoginAuthentication`` does this for the API (DRF authenticates with its own request object,
which axes' middleware cannot see); ``axes.middleware.AxesMiddleware`` with ``lockout_response``
does it for the forms.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.core.cache import caches
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView

log = logging.getLogger(__name__)

# What a cache client raises when its server is unreachable or fails mid-request.
CACHE_ERRORS = (RedisError, OSError)


class _CacheOutage:
    """Whether the throttle cache is known to be down, so an outage is logged once."""

    down = False

    @classmethod
    def failed(cls, error: Exception) -> None:
        if not cls.down:
            cls.down = True
            log.warning(
                "Throttle cache unreachable (%s); requests are let through unthrottled until it "
                "answers again.",
                error,
            )

    @classmethod
    def answered(cls) -> None:
        if cls.down:
            cls.down = False
            log.warning("Throttle cache answers again; throttling resumed.")


class FailOpenThrottle(SimpleRateThrottle):
    """A cache-backed throttle that allows the request when its cache cannot be reached."""

    def __init__(self) -> None:
        self.cache = caches["throttle"]
        super().__init__()

    def allow_request(self, request: Request, view: APIView | None) -> bool:
        if self.rate is None or self.get_cache_key(request, view) is None:  # type: ignore[arg-type]
            # Nothing to count (e.g. an authenticated read under the anonymous throttle): the
            # cache is not asked, so this says nothing of whether it answers.
            return True
        try:
            allowed = super().allow_request(request, view)  # type: ignore[arg-type]
        except CACHE_ERRORS as error:
            _CacheOutage.failed(error)
            return True
        _CacheOutage.answered()
        return allowed


def client_address(request: HttpRequest | Request) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRACKER_TRUSTED_PROXIES`` proxies the
    address the outermost of them saw (DRF's ``NUM_PROXIES`` rule). Throttles and login lockouts
    count against this one address."""
    return BaseThrottle().get_ident(request) or ""  # type: ignore[arg-type]


class AnonymousThrottle(FailOpenThrottle, AnonRateThrottle):
    """Per-address limit for anonymous clients (rate: ``TRACKER_API_ANON_RATE``)."""


class LoginThrottle(FailOpenThrottle):
    """Per-address limit on login attempts, right or wrong (rate: ``TRACKER_API_LOGIN_RATE``)."""

    scope = "login"

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


# --- password logins --------------------------------------------------------------------------

LOCKED_OUT = (
    "Too many failed logins from this address or for this account. Try again in {wait} "
    "seconds; every attempt until then is refused, whatever the password."
)


class LockedOut(Throttled):
    def __init__(self, wait: int) -> None:
        super().__init__(wait=wait, detail=LOCKED_OUT.format(wait=wait))


def lockout_remaining(request: HttpRequest | Request, username: str | None) -> int:
    """Seconds until the lockout that holds ``request``'s address or ``username`` ends (at
    least 1): the cool-off after the last failure that counted, for whichever is locked."""
    credentials = {"username": username}
    handler = AxesDatabaseHandler()
    cool_off = get_cool_off(request)
    limit = get_failure_limit(request, credentials)
    if cool_off is None:
        return 1
    now = timezone.now()
    remaining = 0.0
    for attempts in handler.get_user_attempts(request, credentials):
        totals = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (totals["failures"] or 0) >= limit and totals["last"] is not None:
            remaining = max(remaining, (totals["last"] + cool_off - now).total_seconds())
    return max(1, math.ceil(remaining))


def check_login_allowed(request: Request, username: str) -> None:
    """Refuse a login attempt before its password is looked at: 429 while the address is
    throttled or the address or the account is locked out."""
    throttle = LoginThrottle()
    if not throttle.allow_request(request, None):
        raise Throttled(wait=throttle.wait())
    if not AxesProxyHandler.is_allowed(request, {"username": username}):
        raise LockedOut(lockout_remaining(request, username))


class LoginAuthentication(BasicAuthentication):
    """HTTP Basic for the login endpoint, refusing throttled and locked-out clients first."""

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, None]:
        assert request is not None  # DRF always passes the request here
        check_login_allowed(request, userid)
        try:
            return super().authenticate_credentials(userid, password, request)
        except AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):  # this failure reached the limit
                raise LockedOut(lockout_remaining(request, userid)) from None
            raise


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any]
) -> HttpResponse:
    """Axes' answer to a locked-out login form (the admin's, the browsable API's)."""
    username = (credentials or {}).get("username")
    wait = lockout_remaining(request, username)
    response = HttpResponse(
        LOCKED_OUT.format(wait=wait), status=429, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(wait)
    return response


def _login_limits() -> str:
    minutes = int((get_cool_off() or timedelta(0)).total_seconds() // 60)
    rate = LoginThrottle.THROTTLE_RATES.get("login")
    text = (
        f"**Limits.** After {settings.AXES_FAILURE_LIMIT} failed logins from one address, or "
        f"for one account, within {minutes} minutes, both are locked out until {minutes} "
        "minutes after the last failure: every attempt then gets 429 with `Retry-After`, "
        "whatever the password."
    )
    if rate:
        text += f" Attempts of any kind are also limited to {rate} per address."
    return text


LOGIN_LIMITS = _login_limits()
