"""Pagination of every list: numbered pages by default, a keyset cursor on request.

- **Pages** (default): ``?page=N&page_size=K``. ``page_size`` defaults to 50; the maximum is 200,
  and a larger or non-numeric value is a 400 (never silently capped). Deep pages cost the
  database an ``OFFSET``. The response carries ``count`` and ``count_at_least`` (below).
- **Counts are bounded.** A page counts the matching rows no further than one past
  ``TRACKER_API_EXACT_COUNT_LIMIT`` (``SELECT COUNT(*) FROM (… LIMIT limit + 1)``), so the count
  costs at most that many rows however many match. ``count`` is the exact number of matches or
  null, never an estimate: exact when there are at most ``limit`` of them, or when the page
  itself reaches the end of the list (its rows are read with one row of look-ahead, so a page
  knows whether another follows). ``count_at_least`` is always a true lower bound: ``count``
  when that is known, else ``limit + 1`` or what the page has seen beyond it. Pages past the
  limit are served while they have rows; an empty page past the first is a 404. There is no
  "last page" to ask for: the end of a long list is the start of its reverse ``ordering``, or
  a cursor walk's end.
- **Cursor** (for walking large lists): add ``cursor=`` (empty) to the first request and follow
  ``next``. The cursor encodes the last row's sort key and id, so each page is an indexed range
  scan however deep it is (no ``OFFSET``, no ``COUNT``), and rows added or removed meanwhile never
  shift the walk. It works with any ``ordering`` the list allows; a cursor used with a different
  ``ordering`` than it was made for is a 400.

Both modes also set an RFC 8288 ``Link`` header (``rel="next"`` / ``rel="prev"``), which is how a
CSV client finds the next page.

``fields=`` (a list of the item's top-level field names) is applied here too, to every list alike:
each item keeps only those fields (and ``id`` and ``url``), and CSV only those columns. It is
checked before any query and applied to the page already built, so it adds no query. A list
declares its items with ``item_serializer`` (the serializer that documents them).

The paging parameters are parsed and documented by ``proposals.api.params``.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections import OrderedDict
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.encoding import force_str
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from proposals.api import params

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


PAGE = params.page_number()
PAGE_SIZE = params.page_size(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
CURSOR = params.cursor()
QUERY_PARAMETERS = ("page", "page_size", "cursor", "fields")
LIST_PARAMETERS = ("fields",)


def exact_count_limit() -> int:
    """The most matching rows a numbered page counts exactly (``TRACKER_API_EXACT_COUNT_LIMIT``)."""
    return int(settings.TRACKER_API_EXACT_COUNT_LIMIT)


def bounded_count(queryset: QuerySet[Any]) -> int:
    """The rows of ``queryset``, counted no further than one past ``exact_count_limit()``: the
    count reads at most that many rows, however many match. Without its ordering, which would
    make the database sort every match to find the first ones."""
    return queryset.order_by().values("pk")[: exact_count_limit() + 1].count()


def count_schema() -> dict[str, Any]:
    """The OpenAPI properties ``count`` and ``count_at_least`` of a numbered page."""
    limit = exact_count_limit()
    return {
        "count": {
            "type": "integer",
            "nullable": True,
            "description": f"The exact number of rows matching the filters, or null when it is "
            f"not known — never an estimate. A page counts the matches no further than "
            f"{limit:,}: with more, `count` is null, except on the page that reaches the end of "
            "the list, which knows how many there are. Numbered pages only; a cursor walk "
            "leaves it out.",
        },
        "count_at_least": {
            "type": "integer",
            "description": f"A lower bound on the rows matching the filters, always true: "
            f"`count` when that is known, else {limit + 1:,} or, on a later page, the rows up "
            "to this page's end plus one (a next page exists). Numbered pages only.",
        },
    }


def item_fields(view: Any) -> list[str]:
    """The top-level fields of the list's items, from the serializer that documents them."""
    serializer = getattr(view, "item_serializer", None)
    return list(_field_names(serializer)) if serializer is not None else []


@functools.cache
def _field_names(serializer: type[Any]) -> tuple[str, ...]:
    # The same on every request, and close to a millisecond to build: DRF deep-copies every
    # declared field (benchmarks/README.md).
    return tuple(serializer().fields)


class FieldSelection:
    """``fields=``: which of the items' top-level fields to keep (None: all)."""

    def __init__(self, request: Request, view: Any) -> None:
        self.known: list[str] = []
        self.kept: set[str] | None = None
        if "fields" in request.query_params:
            # Built only when asked for: it instantiates the item serializer, which costs close
            # to a millisecond on every list request (benchmarks/README.md).
            self.known = item_fields(view)
            asked = params.value(request, "fields", params.fields_param(self.known), [])
            self.kept = {*asked, *(name for name in params.ALWAYS_KEPT if name in self.known)}

    def apply(self, rows: list[Any], view: Any) -> list[Any]:
        if self.kept is None:
            return rows
        dropped = set(self.known) - self.kept
        columns = getattr(view, "csv_columns", ())
        column_fields = getattr(view, "csv_column_fields", {})
        # Only this request's view instance: the class keeps every column.
        view.csv_columns = tuple(
            column for column in columns if column_fields.get(column, column) not in dropped
        )
        return [
            {key: value for key, value in row.items() if key not in dropped}
            if isinstance(row, dict)
            else row
            for row in rows
        ]


class TrackerPagination(BasePagination):
    """Numbered pages unless the request carries ``cursor``; see the module docstring."""

    page_query_param = "page"
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"

    def __init__(self) -> None:
        self.mode = "page"
        self.view: Any = None
        self.selection: FieldSelection | None = None
        self.count: int | None = None
        self.count_at_least: int | None = None
        self.next_url: str | None = None
        self.previous_url: str | None = None

    # -- paginating ---------------------------------------------------------------------------

    def paginate_queryset(
        self,
        queryset: Any,
        request: Request,
        view: Any = None,
        *,
        counted: QuerySet[Any] | None = None,
    ) -> list[Any]:
        """The page of ``queryset``. ``counted``, when given, holds the same rows without the
        joins and annotations ``queryset`` adds for display, and is what ``count`` counts."""
        self.start(request, view)
        if self.cursor_query_param in request.query_params:
            self.mode = "cursor"
            return self._cursor_page(queryset, request)
        return self._numbered_page(queryset, request, counted)

    def _numbered_page(
        self, queryset: QuerySet[Any], request: Request, counted: QuerySet[Any] | None = None
    ) -> list[Any]:
        number = params.value(request, self.page_query_param, PAGE, 1)
        size = self.page_size
        start = (number - 1) * size
        if isinstance(queryset, QuerySet):
            known = bounded_count(counted if counted is not None else queryset)
            exact = known if known <= exact_count_limit() else None
        else:  # rows already in memory: counting them costs nothing
            known = len(queryset)
            exact = known
        if exact is not None:
            rows = _page_rows(queryset, start, min(start + size, exact)) if start < exact else []
            more = start + size < exact
        else:
            # One row of look-ahead says whether another page follows, which the count cannot.
            rows = _page_rows(queryset, start, start + size + 1)
            more = len(rows) > size
            rows = rows[:size]
            if not more and (rows or number == 1):
                exact = start + len(rows)  # this page reaches the end of the list
        if not rows and number > 1:
            raise NotFound(f"Page {number} is past the last page.")
        self.count = exact
        self.count_at_least = exact if exact is not None else max(known, start + size + 1)
        url = request.build_absolute_uri()
        if more:
            self.next_url = replace_query_param(url, self.page_query_param, number + 1)
        if number > 1:
            self.previous_url = (
                replace_query_param(url, self.page_query_param, number - 1)
                if number > 2
                else remove_query_param(url, self.page_query_param)
            )
        return rows

    def _cursor_page(self, queryset: QuerySet[Any], request: Request) -> list[Any]:
        ordering = _total_ordering(queryset)
        position = self._decode(
            request.query_params.get(self.cursor_query_param, ""), ordering, queryset.model
        )
        if position is not None:
            queryset = queryset.filter(_after(ordering, position))
        rows = list(queryset.order_by(*ordering)[: self.page_size + 1])
        page = rows[: self.page_size]
        if len(rows) > self.page_size:
            last = page[-1]
            cursor = self._encode(ordering, [_value(last, name) for name in _names(ordering)])
            self.next_url = replace_query_param(
                request.build_absolute_uri(), self.cursor_query_param, cursor
            )
        return page

    def start(self, request: Request, view: Any) -> None:
        """Parse the paging and ``fields`` parameters, before any query."""
        self.request, self.view = request, view
        self.page_size = params.value(
            request, self.page_size_query_param, PAGE_SIZE, DEFAULT_PAGE_SIZE
        )
        params.value(request, self.cursor_query_param, CURSOR)
        self.selection = FieldSelection(request, view)

    # -- cursors -------------------------------------------------------------------------------

    @staticmethod
    def _encode(ordering: list[str], values: list[Any]) -> str:
        payload = orjson.dumps({"o": ordering, "v": values}, default=str)
        return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")

    def _decode(
        self, raw: str, ordering: list[str], model: type[models.Model] | None = None
    ) -> list[Any] | None:
        if raw == "":
            return None
        try:
            payload = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            made_for, values = payload["o"], payload["v"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        "Not a cursor this API made; start again with an empty cursor."
                    ]
                },
                code="unknown",  # names no page: 404
            ) from None
        if made_for != ordering or not isinstance(values, list) or len(values) != len(ordering):
            raise ValidationError(
                {self.cursor_query_param: ["This cursor was made for another ordering."]},
                code="unknown",
            )
        if model is not None:
            # An edited cursor must not reach the database with values it cannot compare.
            try:
                values = [
                    _column_value(model, name, v)
                    for name, v in zip(_names(ordering), values, strict=True)
                ]
            except (DjangoValidationError, FieldDoesNotExist, TypeError, ValueError):
                raise ValidationError(
                    {
                        self.cursor_query_param: [
                            "Not a cursor this API made; start again with an empty cursor."
                        ]
                    },
                    code="unknown",
                ) from None
        return values

    # -- response ------------------------------------------------------------------------------

    def count_fields(self) -> dict[str, int | None]:
        """``count`` and ``count_at_least`` of a numbered page; nothing for a cursor's page."""
        if self.count_at_least is None:
            return {}
        return {"count": self.count, "count_at_least": self.count_at_least}

    def get_paginated_response(self, data: Any) -> Response:
        if self.selection is not None:
            data = self.selection.apply(data, self.view)
        body: OrderedDict[str, Any] = OrderedDict()
        body.update(self.count_fields())
        body["next"] = self.next_url
        body["previous"] = self.previous_url
        body["results"] = data
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.next_url), ("prev", self.previous_url))
            if url
        ]
        headers = {"Link": ", ".join(links)} if links else None
        return Response(body, headers=headers)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                **count_schema(),
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "Numbered pages only; a cursor walk goes forward.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            params.parameter_object(self.page_query_param, PAGE),
            params.parameter_object(self.page_size_query_param, PAGE_SIZE),
            params.parameter_object(self.cursor_query_param, CURSOR),
            params.parameter_object("fields", params.fields_param(item_fields(view))),
        ]

    def get_results(self, data: dict[str, Any]) -> Any:
        return data["results"]


class CheckHistoryPagination(TrackerPagination):
    """The check history of a source is only ever walked newest first, by cursor."""

    def paginate_queryset(
        self,
        queryset: Any,
        request: Request,
        view: Any = None,
        *,
        counted: QuerySet[Any] | None = None,
    ) -> list[Any]:
        self.start(request, view)
        self.mode = "cursor"
        return self._cursor_page(queryset, request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            parameter
            for parameter in super().get_schema_operation_parameters(view)
            if parameter["name"] != self.page_query_param
        ]


# -- deep pages ----------------------------------------------------------------------------------


def _page_rows(queryset: Any, start: int, stop: int) -> list[Any]:
    """Rows ``start`` to ``stop`` of a numbered list. Past the first page, a deferred join: the
    ``OFFSET`` walks only the ids, in the order of the list (an index-only scan where an index
    holds the ordering and the id, e.g. ``(slug, id)`` for measures), and the rows are read for
    the page's ids alone — not read, joined and thrown away for every row skipped."""
    # A ranked search finds its page's ids group by group (MeasureQuerySet.ranked_page_ids).
    ranked = getattr(queryset, "ranked_page_ids", None)
    ids = ranked(start, stop) if ranked is not None else None
    if ids is not None:
        return list(queryset.filter(pk__in=ids)) if ids else []
    if start == 0 or not isinstance(queryset, QuerySet):
        return list(queryset[start:stop])
    ids = queryset.values("pk")[start:stop]
    return list(queryset.filter(pk__in=ids))


# -- keyset helpers ------------------------------------------------------------------------------


def _total_ordering(queryset: QuerySet[Any]) -> list[str]:
    """The queryset's ordering, made total with the primary key as the last tie-break."""
    ordering = [
        force_str(term)
        for term in (queryset.query.order_by or queryset.model._meta.ordering or [])
        if isinstance(term, str)
    ]
    if not any(term.lstrip("-") in ("pk", "id") for term in ordering):
        last_descending = bool(ordering) and ordering[-1].startswith("-")
        ordering.append("-pk" if last_descending else "pk")
    return ordering


def _names(ordering: list[str]) -> list[str]:
    return [term.lstrip("-") for term in ordering]


def _value(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row["id"] if name == "pk" else row[name]
    return getattr(row, name)


def _column_value(model: type[models.Model], name: str, value: Any) -> Any:
    """``value`` as the column ``name`` holds it; integers within the database's range."""
    if isinstance(value, dict | list):
        raise TypeError(name)
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    converted = field.to_python(value)  # type: ignore[union-attr]
    if isinstance(converted, int) and not -params.INT64_MAX <= converted <= params.INT64_MAX:
        raise ValueError(name)
    return converted


def _after(ordering: list[str], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in ``ordering``: (a > x) or (a = x and b > y) or …"""
    condition = Q()
    equal_so_far = Q()
    for term, value in zip(ordering, values, strict=True):
        name = term.lstrip("-")
        lookup = "lt" if term.startswith("-") else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    return condition
