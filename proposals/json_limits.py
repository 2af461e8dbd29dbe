"""What a JSON value may hold before the service stores it or reads it from a request.

Two limits, each with a reason:

- **Depth.** Rendering walks a value recursively and gives up at a fixed depth (orjson at 254
  levels), so a deeply nested value, once stored, makes every list and export that shows it fail.
  A stored JSON field (a measure's ``parameters``, an actor's ``aliases``) nests at most
  ``MAX_STORED_DEPTH`` levels; a whole request body at most ``MAX_BODY_DEPTH``, which leaves room
  for the body's own nesting around such a field.
- **NUL characters.** PostgreSQL text and ``jsonb`` cannot hold ``\\u0000`` anywhere, keys
  included; refused on every database so that SQLite and PostgreSQL answer alike.

The check walks the value with an explicit stack, so a value nested deeper than Python's
recursion limit is measured, not crashed on.
"""

from __future__ import annotations

import json
from typing import Any

MAX_STORED_DEPTH = 32
MAX_BODY_DEPTH = 64


def json_problem(value: Any, *, max_depth: int = MAX_STORED_DEPTH) -> str | None:
    """Why ``value`` (parsed JSON) may not be stored, in words for the client; ``None`` if fine.

    Depth counts containers: ``1`` and ``"a"`` have depth 0, ``{}`` and ``[1]`` depth 1,
    ``{"a": [1]}`` depth 2.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "Text may not contain the NUL character (\\u0000)."
            continue
        if not isinstance(item, dict | list):
            continue
        if depth + 1 > max_depth:
            return f"JSON may be nested at most {max_depth} levels deep."
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return "Keys may not contain the NUL character (\\u0000)."
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)
    return None


def _integer(text: str) -> int | float:
    value = int(text)
    return value if -NUMBER_LIMIT <= value < NUMBER_LIMIT else float(value)


NUMBER_LIMIT = 2**63


class StoredJSONDecoder(json.JSONDecoder):
    """Reads a stored JSON field back as it was written.

    PostgreSQL's ``jsonb`` keeps a number as the exact decimal it stands for: ``-2.8e23`` comes
    back as ``-280592306851442240000000``, which Python reads as an integer beyond 64 bits that
    no JSON renderer here can write (orjson stops at 64 bits). An integer outside 64 bits is read
    as the float it was written as; every other value is read as usual."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_int", _integer)
        super().__init__(*args, **kwargs)
