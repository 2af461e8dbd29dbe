"""The JSON request parser: a bounded body, a bounded depth, no NUL characters.

DRF hands a parser the raw request stream, past Django's own body limit
(``DATA_UPLOAD_MAX_MEMORY_SIZE`` guards only ``request.body`` and forms), so the bounds are
enforced here, once for every JSON body:

- at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (``TRACKER_API_MAX_BODY_BYTES``) are read, or
  the view's own ``max_body_bytes`` (the dataset import); a longer body is a 413 whatever its
  ``Content-Length`` says (chunked bodies have none);
- the parsed value nests at most ``json_limits.MAX_BODY_DEPTH`` levels and holds no NUL
  character in any key or string (PostgreSQL cannot store one): otherwise a 400 naming the rule.

Nothing is written on either refusal: the view never sees the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from proposals.json_limits import MAX_BODY_DEPTH, MAX_STORED_DEPTH, json_problem


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A request body may be at most {limit} bytes.")


class JSONParser(BaseParser):
    media_type = "application/json"

    def max_bytes(self, parser_context: Mapping[str, Any]) -> int | None:
        view = parser_context.get("view")
        return getattr(view, "max_body_bytes", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = self.max_bytes(parser_context or {})
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise BodyTooLarge(limit)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ParseError(f"The body is not valid JSON: {error}") from None
        problem = json_problem(value, max_depth=MAX_BODY_DEPTH)
        if problem:
            raise ParseError(problem)
        return value


def body_limits() -> str:
    """The limits on a JSON request body, as the API documentation states them."""
    return (
        f"**Body limits.** A JSON body may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
        f"bytes (413 beyond) and nest at most {MAX_BODY_DEPTH} levels; a stored JSON field "
        f"(`parameters`, `aliases`) at most {MAX_STORED_DEPTH}. No key or string may contain "
        "the NUL character (`\\u0000`). A body breaking a limit is a 400 (413 for size) and "
        "nothing is written."
    )


def document_body_limits(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation that takes a JSON body states the
    limits above in its description and documents the 413."""
    limits = body_limits()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{limits}".strip()
            operation.setdefault("responses", {}).setdefault(
                "413", {"description": "The body is larger than the limit stated above."}
            )
    return result
