"""Conditional requests: ``ETag`` / ``If-None-Match`` on reads, ``If-Match`` on writes.

**Lists** get a cheap, strong ETag that needs no serialization: a hash of the *data version*
(one query reading the newest audit-history ids of every tracked table and the newest source
check, each a short index scan), today's date (statuses and participations are derived for today),
the path, the sorted query string, the negotiated media type and ``REPRESENTATION_VERSION``. So an
``If-None-Match`` hit answers 304 after that one query, and any write anywhere (deletions
included: they write history rows too) changes every list's ETag. Writes that bypass the ORM's
signals (``QuerySet.update()``, raw SQL) are not seen, which is why services never use them on
tracked rows.

**Details** get the hash of the representation itself (built from the rows already loaded, not
rendered), so the ETag changes exactly when what the client sees changes. ``Last-Modified`` is the
newest ``updated_at`` among the rows shown; it is informational, and only the ETag is honoured
for revalidation (an ``If-Modified-Since`` date cannot see a deleted nested row).

**Writes** to an existing object (PUT, PATCH, DELETE) must say which version they change:

- no ``If-Match`` → 428 Precondition Required: a curator cannot overwrite by accident;
- ``If-Match`` that is not the current ETag → 412 Precondition Failed: someone else changed it
  since you read it; read it again;
- ``If-Match: *`` means "whatever is there now" (RFC 9110) and is accepted, as an explicit choice;
  ``*`` counts only when it is the whole header;
- ``If-Match`` that is neither ``*`` nor a comma-separated list of entity tags (``"…"`` or
  ``W/"…"``) → 400 Bad Request with the expected form: a malformed header is a client bug,
  never read as ``*``. A weak tag is well-formed but never matches (writes compare strongly).

The check and the write happen in one transaction with the row locked, so two curators holding
the same ETag cannot both succeed. The browsable API cannot send ``If-Match``; it can create rows,
and updates go through a client that sends the header (or the admin site).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from django.db import connection
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from proposals.api.listcache import ListCache
from proposals.models import Actor, Citation, Event, Measure, Position
from tracker.models import Source, SourceCheck

HttpResponseT = TypeVar("HttpResponseT", bound=HttpResponseBase)

# How the reads that answer 304 document it.
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The `ETag` of your copy: 304 Not Modified without a body if it is current.",
)
NOT_MODIFIED = {304: OpenApiResponse(description="Your copy (`If-None-Match`) is current.")}

# Bump when the shape of any response changes, so ETags handed out before stop matching.
REPRESENTATION_VERSION = "2"

# On PostgreSQL ids are handed out before commit, so a transaction holding a lower id can commit
# after a higher one was already seen; the sum of the newest ids notices it.
_LATE_COMMIT_WINDOW = 1000


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "If-Match does not match the current ETag: the object changed since you read it. "
        "Read it again, reapply your change, and send the new ETag."
    )
    default_code = "precondition_failed"


class MalformedPrecondition(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = (
        "If-Match must be * alone or a comma-separated list of entity tags in double quotes, "
        'as the ETag header gives them (for example If-Match: "0123abcd"); send the ETag of '
        "your last read of this object."
    )
    default_code = "malformed_if_match"


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = (
        "Send If-Match with the ETag from your last read of this object (or If-Match: * to "
        "overwrite whatever is there)."
    )
    default_code = "precondition_required"


@functools.cache
def _tracked_tables() -> list[tuple[str, str]]:
    tables = [
        (model.history.model._meta.db_table, "history_id")
        for model in (Actor, Measure, Event, Position, Citation, Source)
    ]
    # A refresh may write a source's state without a history row; it always adds a check.
    tables.append((SourceCheck._meta.db_table, "id"))
    return tables


def data_version() -> str:
    """A string that changes whenever any row an API response shows is written or deleted.

    Per tracked table: the newest id, which moves with every new row, and the sum of the newest
    ``_LATE_COMMIT_WINDOW`` ids, which also moves when a row with a lower id commits late.
    """
    # Identifiers come from the models' metadata, quoted; no value from a request is involved.
    # One arm per table, each one relation to plan: planning the query is most of its cost.
    quote = connection.ops.quote_name
    arms = []
    for index, (table, column) in enumerate(_tracked_tables()):
        t, c = quote(table), quote(column)
        arms.append(
            f"SELECT {index}, MAX({c}), SUM({c}) "  # noqa: S608
            f"FROM (SELECT {c} FROM {t} ORDER BY {c} DESC LIMIT %s) AS newest"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(arms), [_LATE_COMMIT_WINDOW] * len(arms))
        rows = sorted(cursor.fetchall())
    return ".".join(f"{newest or 0}:{total or 0}" for _, newest, total in rows)


def _etag(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return f'"{digest.hexdigest()[:32]}"'


def list_etag(request: Request) -> str:
    query = sorted(
        (name, value) for name, values in request.query_params.lists() for value in values
    )
    return _etag(
        REPRESENTATION_VERSION,
        data_version(),
        timezone.localdate().isoformat(),
        request.path,
        repr(query),
        request.accepted_media_type or "",
    )


def representation_etag(data: Any) -> str:
    return _etag(
        REPRESENTATION_VERSION, orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str)
    )


# RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc is any visible
# character but DQUOTE (a comma included), and list elements are separated by commas with
# optional whitespace; empty elements are allowed and ignored.
_ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')
_LIST_ELEMENT = re.compile(rf"[ \t]*(?P<tag>{_ENTITY_TAG.pattern})?[ \t]*(?:,|\Z)")


def parse_entity_tags(header: str) -> list[str] | None:
    """The entity tags of an ``If-Match`` / ``If-None-Match`` value, ``["*"]`` for ``*`` alone,
    or ``None`` if the value is not such a list or names no tag at all."""
    if header.strip(" \t") == "*":
        return ["*"]
    tags: list[str] = []
    position = 0
    while position < len(header):
        match = _LIST_ELEMENT.match(header, position)
        if match is None or match.end() == position:
            return None
        if match["tag"]:
            tags.append(match["tag"])
        position = match.end()
    return tags or None


def none_match(request: Request, etag: str) -> bool:
    """``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 says for GET). A malformed
    header names nothing: the read answers in full."""
    header = request.headers.get("If-None-Match")
    tags = parse_entity_tags(header) if header else None
    if not tags:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


def _if_match_tags(request: Request) -> list[str]:
    """The tags ``If-Match`` names: 428 without the header, 400 when it is malformed."""
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired()
    tags = parse_entity_tags(header)
    if tags is None:
        raise MalformedPrecondition()
    return tags


def require_if_match(request: Request, current: str) -> None:
    """Raise 428 without ``If-Match``, 400 when it is malformed, 412 when it names another
    version (strong comparison: a weak tag never matches)."""
    tags = _if_match_tags(request)
    if tags != ["*"] and current not in tags:
        raise PreconditionFailed()


def conditional_headers(
    etag: str, last_modified: datetime.datetime | None = None
) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified.timestamp())
    return headers


def not_modified(etag: str, last_modified: datetime.datetime | None = None) -> Response:
    return Response(
        status=status.HTTP_304_NOT_MODIFIED, headers=conditional_headers(etag, last_modified)
    )


def wants_validators(request: Request) -> bool:
    """The browsable API's HTML page shows the user and forms: never validate or cache it."""
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", None) != "api"


def conditional_list(
    request: Request, build: Callable[[], HttpResponseT], *, pages: ListCache | None = None
) -> HttpResponseT | Response:
    """Answer a list read: 304 after one query if ``If-None-Match`` is current, else ``build()``
    with its ``ETag``; with ``pages``, a page rendered before under the same ``ETag`` is answered
    from there (``proposals.api.listcache``)."""
    if not wants_validators(request):
        return build()
    etag = list_etag(request)
    # A tag this list gave out was given for this very query, which was valid then; ``*`` names
    # no query, so the parameters are checked (by building the answer) before a 304.
    if none_match(request, etag) and request.headers.get("If-None-Match", "").strip() != "*":
        return not_modified(etag)
    # Only a valid query was ever rendered and kept, for the same reason.
    if pages is not None and (kept := pages.get(request, etag)) is not None:
        return kept
    response = build()
    if response.status_code == status.HTTP_200_OK:
        if none_match(request, etag):
            return not_modified(etag)
        for name, value in conditional_headers(etag).items():
            response[name] = value
        if pages is not None and isinstance(response, Response):
            pages.keep(request, etag, response)
    return response


def detail_response(
    request: Request,
    data: dict[str, Any],
    *,
    last_modified: datetime.datetime | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """Answer a detail read (or the result of a write) with its validators."""
    if not wants_validators(request):
        return Response(data, status=status_code)
    etag = representation_etag(data)
    if (
        status_code == status.HTTP_200_OK
        and request.method in ("GET", "HEAD")
        and none_match(request, etag)
    ):
        return not_modified(etag, last_modified)
    return Response(data, status=status_code, headers=conditional_headers(etag, last_modified))


def check_write_precondition(request: Request, current: Callable[[], dict[str, Any]]) -> None:
    """428/400/412 unless ``If-Match`` names the current representation (built only when
    needed)."""
    if _if_match_tags(request) == ["*"]:
        return
    require_if_match(request, representation_etag(current()))
