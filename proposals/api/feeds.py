"""Read-only views over the whole dataset rather than one resource: the stance matrix and the
change feed. Both answer a bad parameter with a 400 whose body names the parameter.
"""

from __future__ import annotations

import csv
import datetime
import functools
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, cast

from django import forms
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from proposals.api import params
from proposals.api.conditional import IF_NONE_MATCH, NOT_MODIFIED, conditional_list
from proposals.api.pagination import CURSOR, PAGE, PAGE_SIZE, TrackerPagination
from proposals.api.renderers import CSVRenderer
from proposals.api.serializers import current_positions
from proposals.api.streaming import streamed
from proposals.changefeed import (
    ACTIONS,
    CURSOR_PREFIXES,
    TABLES,
    Cursor,
    InvalidCursor,
    changes_since,
)
from proposals.models import Actor, Category, Certainty, DatePrecision, Measure, Position

# --- shared by the bulk views -------------------------------------------------------------------


def default_renderers() -> list[type[BaseRenderer]]:
    return list(cast("list[type[BaseRenderer]]", api_settings.DEFAULT_RENDERER_CLASSES))


class CSVOrJSONView(APIView):
    """JSON by default; CSV on ``?format=csv`` or ``Accept: text/csv``, written by the view
    itself (errors keep the API's CSV error form: ``field,message``)."""

    renderer_classes = [*default_renderers(), CSVRenderer]
    permission_classes = [AllowAny]

    def wants_csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", None) == "csv"


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one CSV line, produced lazily so a large table streams."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def format_parameter(description: str) -> OpenApiParameter:
    return OpenApiParameter(
        "format", OpenApiTypes.STR, enum=["json", "csv"], description=description
    )


CSV_PARAMETER_ERRORS = OpenApiResponse(
    response=OpenApiTypes.STR,
    description="A parameter is invalid: a `field,message` header, then one row per parameter.",
)
PARAMETER_ERRORS = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description="A parameter is invalid. Each key is a parameter name, each value the problems "
    'with it, e.g. `{"as_of": ["Enter a date as YYYY-MM-DD."]}`.',
)


NO_SUCH_ROWS = OpenApiResponse(
    response=PARAMETER_ERRORS.response,
    description="A parameter is well formed but names nothing that exists (a measure, an actor, "
    "a position in the feed): the body names each such parameter, as a 400's does.",
)


# --- the matrix ---------------------------------------------------------------------------------

STANCES = ", ".join(
    f"`{value}`" if label.lower() == value else f"`{value}` ({label.lower()})"
    for value, label in Position.Stance.choices
)
# Measures per batch of the CSV: two queries each (the measures, their positions).
MATRIX_BATCH = 500
PAGING = ("page", "page_size", "cursor")


class MatrixParameters(params.ParameterForm):
    as_of = params.DateParam(help_text="Stances as they stood at the end of that day.")
    category = params.ListParam(
        choices=Category.Code.choices, help_text="Only measures in any of these categories."
    )
    measure = params.ListParam(child=params.SlugParam(), help_text="Only these measures.")
    actor = params.ListParam(child=params.ActorCodeParam(), help_text="Only these actors.")
    extra = PAGING  # read by the pagination


class MatrixCellSerializer(serializers.Serializer[Any]):
    stance = serializers.ChoiceField(
        choices=Position.Stance.choices,
        allow_null=True,
        help_text="The stance that day; null when uncertain (see `stance_possible`).",
    )
    certain = serializers.BooleanField(
        help_text="False on a day inside the period of a position dated only to the month or "
        "year, when it may or may not have been taken yet and the stances differ."
    )
    stance_possible = serializers.ListField(
        child=serializers.ChoiceField(choices=Position.Stance.choices, allow_null=True),
        help_text="Every stance the actor may have held that day (null: no position yet); one "
        "value when certain.",
    )
    basis = serializers.ChoiceField(
        choices=Certainty.choices,
        allow_null=True,
        help_text="The weakest certainty among the positions the answer rests on.",
    )
    date = serializers.DateField(help_text="Date of the latest position that may count.")
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    position = serializers.IntegerField(help_text="The id of that position.")


class MatrixMeasureSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()


class MatrixRowSerializer(serializers.Serializer[Any]):
    actor = serializers.CharField(help_text="The actor's code.")
    name = serializers.CharField()
    cells = serializers.DictField(
        child=MatrixCellSerializer(allow_null=True),
        help_text="One entry per measure of `measures`, keyed by slug; null where the actor "
        "had taken no position on that measure.",
    )


class MatrixSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField(allow_null=True)
    count = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Measures matching the filters, exact, or null when more than the service "
        "counts (as on every list: see `count_at_least`). Numbered pages only; a cursor walk "
        "leaves it out.",
    )
    count_at_least = serializers.IntegerField(
        required=False,
        help_text="A lower bound on the measures matching the filters, always true; `count` "
        "when that is known. Numbered pages only.",
    )
    next = serializers.URLField(allow_null=True, help_text="The next page of measures.")
    previous = serializers.URLField(
        allow_null=True, help_text="The previous page (numbered pages only)."
    )
    measures = MatrixMeasureSerializer(
        many=True, help_text="The columns: this page's measures, by slug."
    )
    rows = MatrixRowSerializer(many=True, help_text="One row per actor, by code.")


def matrix_measures(*, categories: list[str], slugs: list[str]) -> QuerySet[Measure, Any]:
    """The grid's measures in slug order, as ``id``/``slug``/``title`` rows; a query to check
    ``slugs`` when some are given. Raises ``ValidationError`` for slugs that name nothing (a
    slug outside the categories is not unknown, just not in this grid)."""
    measures = Measure.objects.all()
    if slugs:
        unknown = set(slugs) - set(measures.filter(slug__in=slugs).values_list("slug", flat=True))
        if unknown:
            raise serializers.ValidationError(
                {"measure": [f"Unknown measure: {', '.join(sorted(unknown))}."]}, code="unknown"
            )
        measures = measures.filter(slug__in=slugs)
    if categories:
        # EXISTS rather than a join, so a measure in two of the categories is one column.
        through = Measure.categories.through.objects.filter(
            measure_id=OuterRef("pk"), category_id__in=categories
        )
        measures = measures.filter(Exists(through))
    return measures.order_by("slug").values("id", "slug", "title")


def matrix_actors(codes: list[str]) -> dict[str, str]:
    """The actors asked for, code to name (one query). Raises ``ValidationError`` for codes that
    name nothing."""
    named = dict(Actor.objects.filter(code__in=codes).values_list("code", "name"))
    unknown = sorted(set(codes) - set(named))
    if unknown:
        raise serializers.ValidationError(
            {"actor": [f"Unknown actor: {', '.join(unknown)}."]}, code="unknown"
        )
    return named


def matrix_cells(
    measure_ids: Collection[int], *, on: datetime.date, codes: Collection[str]
) -> tuple[dict[int, dict[str, dict[str, Any]]], dict[str, str]]:
    """Each actor's current position on ``on`` for each of the measures (only the actors
    ``codes`` when some are given), as cells by measure id then actor code; and the name of
    every actor with a cell. One query."""
    positions = Position.objects.filter(measure_id__in=measure_ids, date__lte=on)
    if codes:
        positions = positions.filter(actor__code__in=codes)
    by_measure: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for position in positions.order_by("date", "pk").values(
        "id",
        "measure_id",
        "stance",
        "date",
        "date_precision",
        "certainty",
        actor_code=F("actor__code"),
        actor_name=F("actor__name"),
    ):
        by_measure[position["measure_id"]].append(dict(position))
    cells: dict[int, dict[str, dict[str, Any]]] = {}
    names: dict[str, str] = {}
    for measure_id, history in by_measure.items():
        row = cells[measure_id] = {}
        for current in current_positions(history, on=on):
            code, answer = current["actor_code"], current["answer"]
            names[code] = current["actor_name"]
            row[code] = {
                "stance": answer.value,
                "certain": answer.certain,
                "stance_possible": list(answer.possible),
                "basis": answer.basis,
                "date": current["date"],
                "date_precision": current["date_precision"],
                "position": current["id"],
            }
    return cells, names


def stance_matrix(
    measures: Sequence[dict[str, Any]],
    *,
    as_of: datetime.date | None,
    named: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The grid of ``measures`` (rows of ``matrix_measures``): each actor's latest position on
    each (on ``as_of`` when given). One query, the positions with their actors, whatever the
    number of measures. With ``named`` (``matrix_actors``), only those actors, each with a row
    even without a stance; otherwise every actor with a stance on one of the measures."""
    on = as_of or timezone.localdate()
    slug_of = {measure["id"]: measure["slug"] for measure in measures}
    cells, names = matrix_cells(list(slug_of), on=on, codes=list(named or ()))
    if named:
        names = named
    return {
        "as_of": as_of,
        "measures": [{"slug": m["slug"], "title": m["title"]} for m in measures],
        "rows": [
            {
                "actor": code,
                "name": names[code],
                "cells": {slug: cells.get(pk, {}).get(code) for pk, slug in slug_of.items()},
            }
            for code in sorted(names)
        ],
    }


def matrix_csv(
    measures: QuerySet[Measure, Any],
    *,
    as_of: datetime.date | None,
    named: dict[str, str] | None = None,
    batch_size: int = MATRIX_BATCH,
) -> Iterator[list[str]]:
    """The whole grid of ``measures`` (``matrix_measures``) as CSV rows, one per measure: a
    header (``measure``, then the actor codes), then the rows, computed ``batch_size`` measures
    at a time. Queries: the actors with a stance in the grid (none when ``named``), then two
    per batch (one more when the measures fill the last batch exactly)."""
    on = as_of or timezone.localdate()
    if named:
        codes = sorted(named)
    else:
        stance_in_grid = Position.objects.filter(
            actor=OuterRef("pk"), date__lte=on, measure__in=measures.values("id")
        )
        codes = list(
            Actor.objects.filter(Exists(stance_in_grid))
            .order_by("code")
            .values_list("code", flat=True)
        )
    yield ["measure", *codes]
    last: str | None = None
    while True:
        batch = list((measures if last is None else measures.filter(slug__gt=last))[:batch_size])
        if batch:
            cells, _ = matrix_cells([m["id"] for m in batch], on=on, codes=list(named or ()))
            for measure in batch:
                row = cells.get(measure["id"], {})
                yield [measure["slug"], *(_csv_cell(row.get(code)) for code in codes)]
        if len(batch) < batch_size:
            return
        last = batch[-1]["slug"]


def _csv_cell(cell: dict[str, Any] | None) -> str:
    """The stance; when uncertain, every possible one joined by ``|`` (``none``: no position)."""
    if cell is None:
        return ""
    return "|".join(stance or "none" for stance in cell["stance_possible"])


class MatrixView(CSVOrJSONView):
    @extend_schema(
        summary="Actors by measures: who stands where",
        description=(
            "A grid of stances: each actor's *current* position on each measure — its latest "
            "by date (on the same date, the one recorded last) — or, with `as_of`, the latest "
            f"dated on or before that day. Stances: {STANCES}. Measures are those matching the "
            "filters, in slug order; actors are those with at least one stance in the grid, "
            "plus every actor named in `actor` (and only those when `actor` is given).\n\n"
            "**JSON: a page of measures.** The columns are one page of the measures (50 by "
            "default, at most 200: `page_size`), with the paging of every list: numbered "
            "`page`s with `count`, or a keyset `cursor` (send it empty to start); follow `next` "
            "(also in the `Link` header) for the next page. `rows` has one row per actor with a "
            "stance on one of *this page's* measures, keyed by their slugs. Without paging "
            "parameters the answer is the first page: the whole grid comes in the CSV.\n\n"
            "**CSV** (`?format=csv` or `Accept: text/csv`): the whole grid matching the "
            "filters, one row per measure — the first column the measure's slug, then one "
            "column per actor code; a cell holds the stance, or every possible stance joined "
            "by `|` when uncertain (`none`: no position yet), or is empty. It is streamed, "
            "computed a batch of measures at a time from one snapshot of the database. With "
            "paging parameters, the CSV of that page of measures alone (the `Link` header "
            "leads on)."
        ),
        parameters=[
            *MatrixParameters.openapi(),
            params.openapi_parameter("page", PAGE),
            params.openapi_parameter("page_size", PAGE_SIZE),
            params.openapi_parameter("cursor", CURSOR),
            format_parameter(
                "`csv` for the whole grid as CSV (a page of it with paging parameters); a page "
                "of it as JSON otherwise."
            ),
            IF_NONE_MATCH,
        ],
        responses={
            (200, "application/json"): MatrixSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="The whole grid as CSV."
            ),
            **NOT_MODIFIED,
            (400, "application/json"): PARAMETER_ERRORS,
            (400, "text/csv"): CSV_PARAMETER_ERRORS,
            404: OpenApiResponse(
                description="A page past the last, or a parameter that names nothing that "
                "exists (a measure, an actor, a cursor's page): the body then names each such "
                "parameter, as a 400's does."
            ),
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Like the lists: an ETag from the data version, so a current copy costs one query.
        return conditional_list(request, functools.partial(self.grid, request))

    def grid(self, request: Request) -> HttpResponseBase:
        given = MatrixParameters.parse(request)
        csv = self.wants_csv(request)
        paged = any(name in request.query_params for name in PAGING)
        paginator = TrackerPagination()
        if paged or not csv:
            paginator.start(request, self)  # paging refused before any query
        named = matrix_actors(given["actor"]) if given["actor"] else None
        measures = matrix_measures(categories=given["category"], slugs=given["measure"])
        when = given["as_of"].isoformat() if given["as_of"] else "current"
        if csv and not paged:
            return streamed(
                csv_lines(matrix_csv(measures, as_of=given["as_of"], named=named)),
                content_type="text/csv; charset=utf-8",
                filename=f"matrix-{when}.csv",
            )
        page = paginator.paginate_queryset(measures, request, self)
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", paginator.next_url), ("prev", paginator.previous_url))
            if url
        ]
        if csv:  # the page's measures, as the whole grid's CSV has them
            response = streamed(
                csv_lines(
                    matrix_csv(
                        measures.filter(pk__in=[m["id"] for m in page]),
                        as_of=given["as_of"],
                        named=named,
                    )
                ),
                content_type="text/csv; charset=utf-8",
                filename=f"matrix-{when}.csv",
            )
            if links:
                response["Link"] = ", ".join(links)
            return response
        matrix = stance_matrix(page, as_of=given["as_of"], named=named)
        body: dict[str, Any] = {"as_of": matrix["as_of"]}
        body |= paginator.count_fields()
        body |= {
            "next": paginator.next_url,
            "previous": paginator.previous_url,
            "measures": matrix["measures"],
            "rows": matrix["rows"],
        }
        return Response(body, headers={"Link": ", ".join(links)} if links else None)


# --- the change feed ----------------------------------------------------------------------------

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class FeedPositionParam(params.InstantParam):
    """A ``next_cursor`` of this feed, or a date-time to start from."""

    grammar = (
        "A `next_cursor` from an earlier page, or an ISO 8601 date-time (a date alone means its "
        "midnight UTC; no offset means UTC)."
    )
    default_error_messages = {
        "invalid": "Give a `next_cursor` from an earlier page or an ISO 8601 date-time "
        "(e.g. 2024-01-31T12:00:00Z).",
        "cursor": "Not a cursor from this feed: pass back a `next_cursor` unchanged.",
    }

    def to_python(self, value: Any) -> Cursor | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        if len(str(value)) > 4000:
            raise forms.ValidationError(self.error_messages["cursor"], code="cursor")
        if not str(value).startswith(CURSOR_PREFIXES):
            since = super().to_python(value)
            return None if since is None else Cursor(since=since)
        try:
            cursor = Cursor.decode(str(value))
        except InvalidCursor:
            raise forms.ValidationError(self.error_messages["cursor"], code="unknown") from None
        if not all(0 <= number <= params.INT64_MAX for number in cursor.numbers):
            raise forms.ValidationError(self.error_messages["cursor"], code="unknown")
        return cursor

    def schema(self) -> dict[str, Any]:
        # A cursor this feed did not make (its prefix, then anything) is a 404: it names no
        # position in the feed.
        prefixes = "|".join(re.escape(prefix) for prefix in CURSOR_PREFIXES)
        cursor = {"type": "string", "pattern": f"^({prefixes})", "maxLength": 4000}
        return {"anyOf": [super().schema(), cursor]}


class ChangesParameters(params.ParameterForm):
    since = FeedPositionParam(help_text="Only changes recorded at or after it.")
    page_size = params.page_size(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, what="Changes")


class FieldChangeSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ChangeSerializer(serializers.Serializer[Any]):
    table = serializers.ChoiceField(choices=list(TABLES))
    id = serializers.IntegerField()
    key = serializers.CharField(
        allow_null=True,
        help_text="The natural key: a measure's slug, an actor's code, a source's URL; "
        "`<measure>/<kind>/<date>/<actor or ->` for an event, `<measure>/<actor>/<date>` for "
        "a position; null for a citation.",
    )
    action = serializers.ChoiceField(choices=list(ACTIONS.values()))
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True, help_text="The author's username, if known.")
    changes = FieldChangeSerializer(
        many=True,
        allow_null=True,
        help_text="Updates only: each changed field with its value before and after. Foreign "
        "keys are ids; a measure's categories are lists of codes.",
    )


class ChangePageSerializer(serializers.Serializer[Any]):
    results = ChangeSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text="Store it and pass it as `since` next time: the feed resumes exactly after "
        "the last change this page covered."
    )
    has_more = serializers.BooleanField(
        help_text="More changes are ready now: ask again with `next_cursor` at once."
    )


class ChangesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="What changed: creations, updates and deletions, in commit order",
        description=(
            "Every create, update and delete of measures, actors, events, positions, citations "
            "and sources, from the audit history, oldest first, in the order they were written "
            "(whatever wrote them: the API, the admin, an import, a script).\n\n"
            "**Keeping in sync.** Start with `since` = an ISO 8601 date-time (or nothing, for "
            "the whole history). Each page returns `next_cursor`: **store it** and pass it as "
            "`since` on the next call. Following the cursors delivers every change exactly "
            "once — none skipped, none repeated — even when writes commit concurrently or share "
            "a timestamp: a change is served only after every transaction that began before "
            "it has finished, so the feed may lag a running write by its duration. While "
            "`has_more` is true, ask again at once; otherwise poll later with the same cursor: "
            "a poll costs what it returns, however long the history. Cursors issued before "
            "the change log existed (`c1.`) keep working.\n\n"
            "A page covers at most `page_size` changes but may list fewer, since saves that "
            "changed nothing are skipped; an empty page with `has_more` true is possible."
        ),
        parameters=ChangesParameters.openapi(),
        responses={200: ChangePageSerializer, 400: PARAMETER_ERRORS, 404: NO_SUCH_ROWS},
    )
    def get(self, request: Request) -> Response:
        given = ChangesParameters.parse(request)
        cursor = given["since"] or Cursor()
        page = changes_since(cursor, limit=given["page_size"] or DEFAULT_PAGE_SIZE)
        return Response(
            {
                "results": [
                    {
                        "table": change.table,
                        "id": change.id,
                        "key": change.key,
                        "action": change.action,
                        "at": change.at,
                        "by": change.by,
                        "changes": None
                        if change.changes is None
                        else [
                            {"field": c.field, "before": c.before, "after": c.after}
                            for c in change.changes
                        ],
                    }
                    for change in page.changes
                ],
                "next_cursor": page.next_cursor.encode(),
                "has_more": page.has_more,
            }
        )
