"""CSV output for list endpoints (``?format=csv`` or ``Accept: text/csv``).

A small renderer of our own: the maintained choices are either abandoned or young single-author
packages, and what we need fits on one screen. Each list view names its flat columns
(``csv_columns``); a cell holding a list is written ``a; b``, a mapping ``key: value; …``. Nested
rows (events, citations) stay in the JSON; CSV users fetch those lists as their own tables. The
pages are linked with the same ``Link`` header as JSON.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with an apostrophe, as OWASP advises: quotes come from the web.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping) and {"certain", "possible"} <= value.keys():
        # A derived answer: its value, or every possible one while uncertain.
        if value["certain"]:
            return _cell(value["possible"][0])
        return (
            " or ".join(str(_cell(item) or "none") for item in value["possible"]) + " (uncertain)"
        )
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_cell(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(str(_cell(item)) for item in value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        if data is None:
            return b""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if response is not None and response.status_code >= 400:
            # An error keeps its meaning in CSV: which parameter or field, and why.
            writer.writerow(["field", "message"])
            for field, messages in _errors(data):
                writer.writerow([field, _cell(messages)])
            return buffer.getvalue().encode()
        rows = data["results"] if isinstance(data, Mapping) and "results" in data else data
        columns: Sequence[str] = getattr(context.get("view"), "csv_columns", ())
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
        return buffer.getvalue().encode()


def _errors(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, Mapping):
        return [(str(field), messages) for field, messages in data.items()]
    return [("", data)]


class ContentNegotiation(DefaultContentNegotiation):
    """A ``?format=`` the endpoint does not offer is 406 Not Acceptable, not 404.

    ``OPTIONS`` describes the endpoint (its parameters, what it renders) as JSON; CSV, a table
    of rows, has no place for that description, so ``OPTIONS`` with ``format=csv`` or
    ``Accept: text/csv`` is a 406 that says so.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        self.options = request.method == "OPTIONS"
        if self.options:
            renderers = [
                renderer for renderer in renderers if not isinstance(renderer, CSVRenderer)
            ]
        return super().select_renderer(request, renderers, format_suffix)

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            offered = ", ".join(sorted({str(renderer.format) for renderer in renderers}))
            if getattr(self, "options", False):
                raise NotAcceptable(
                    f"OPTIONS describes this endpoint in one of {offered}, not "
                    f"format={format!r}; leave format out (CSV is for reading the rows)."
                )
            raise NotAcceptable(f"format={format!r} is not offered here; choose one of {offered}.")
        return matching
