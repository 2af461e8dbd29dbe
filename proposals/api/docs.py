"""Prose of the API documentation, built from the code that it describes."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from proposals import status as rules
from proposals.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from proposals.models import Position

STANCE_MEANINGS = {
    Position.Stance.PROPOSES: "the actor put the measure forward",
    Position.Stance.ENDORSES: "supports it as it stands",
    Position.Stance.CONDITIONAL: "supports it on stated conditions",
    Position.Stance.NEUTRAL: "has stated no preference, or abstains",
    Position.Stance.OPPOSES: "rejects it",
}


def _rst_to_markdown(text: str) -> str:
    """The status module's docstring is reStructuredText; OpenAPI renders CommonMark."""
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    out: list[str] = []
    starts: list[int] = []  # column offsets of the simple table being read, if any
    borders = 0
    for line in text.splitlines():
        if re.fullmatch(r"=+( +=+)+", line):
            starts = starts or [match.start() for match in re.finditer(r"=+", line)]
            borders += 1
            if borders == 2:
                out.append("|" + "---|" * len(starts))
            if borders == 3:
                starts, borders = [], 0
            continue
        if starts:
            bounds = [*starts[1:], None]
            cells = [line[start:end].strip() for start, end in zip(starts, bounds, strict=True)]
            out.append("| " + " | ".join(cells) + " |")
            continue
        out.append(line)
    return "\n".join(out)


STATUS_RULES = _rst_to_markdown(rules.__doc__ or "")

STANCES = "\n".join(f"- `{stance.value}` — {STANCE_MEANINGS[stance]}" for stance in Position.Stance)

API_DESCRIPTION = f"""
Dated, cited records of arms-control and confidence-building measures: who proposed, signed,
ratified, suspended or left each one, and what every state said about it, with a source for
every fact.

## Reading

Anyone may read. Lists are paginated ({DEFAULT_PAGE_SIZE} rows by default, `page_size` up to
{MAX_PAGE_SIZE}); add `cursor=` to walk a long list by keyset instead of page numbers. Lists
answer in JSON or CSV (`?format=csv` or `Accept: text/csv`). Every read carries an `ETag`: send
it back as `If-None-Match` and an unchanged answer is a bodiless `304`.

A bad parameter — a malformed date, a value outside a vocabulary, an unknown actor code or slug,
an ordering the list does not offer, a parameter the endpoint does not take — is a `400` whose
body names it: `{{"status": ["Select a valid choice. …"]}}`. Other errors are
`{{"detail": "…"}}` with the usual status: 401 (no or bad credentials), 403 (no permission), 404,
405, 406 (a format the endpoint does not offer), 409 (the row is still referred to), 412, 428,
429 (throttled; see `Retry-After`).

## Writing

Curators write with a token: `POST /api/v1/auth/login/` with HTTP Basic credentials returns
`{{"token": …, "expiry": …}}`; send `Authorization: Token <token>`. Tokens are stored hashed and
expire. A write needs the model's add/change/delete permission (the `curators` group has them).

`PUT`, `PATCH` and `DELETE` of an existing object need `If-Match` with the `ETag` of your last
read: no header is `428`, a stale one is `412` (someone changed it since; read it again).
`If-Match: *` overwrites deliberately. Every write is kept in the audit history with its author.

## Status rules

{STATUS_RULES}

## Stances

A position records what an actor said about a measure on a date. The current stance is the
latest position. Vocabulary:

{STANCES}

`endorsed_by` matches `proposes` and `endorses`; `opposed_by` matches `opposes`.
"""


def describe_api(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the introduction above."""
    result["info"]["description"] = API_DESCRIPTION
    return result


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI for the schema, from the service's own static files.

    The split view serves the start-up script from its own URL (``?script``) instead of inline,
    and the template keeps its styles in a static file: the page runs under the
    Content-Security-Policy of every other page, with nothing inline and nothing from elsewhere.
    """

    url_name = "schema"
    template_name = "api/docs.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        # The script carries a CSRF token: no other origin may include it in its own pages.
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response
