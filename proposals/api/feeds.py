"""Read-only views over the whole dataset rather than one resource: the stance matrix and the
change feed. Both answer a bad parameter with a 400 whose body names the parameter.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django import forms
from django.db.models import Exists, F, OuterRef, Value
from django.http import HttpResponse
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
from proposals.api.renderers import CSVRenderer
from proposals.api.serializers import current_positions
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


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def csv_response(content: str, *, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


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


# --- the matrix ---------------------------------------------------------------------------------

STANCES = ", ".join(
    f"`{value}`" if label.lower() == value else f"`{value}` ({label.lower()})"
    for value, label in Position.Stance.choices
)


class MatrixParameters(params.ParameterForm):
    as_of = params.DateParam(help_text="Stances as they stood at the end of that day.")
    category = params.ListParam(
        choices=Category.Code.choices, help_text="Only measures in any of these categories."
    )
    measure = params.ListParam(child=params.SlugParam(), help_text="Only these measures.")
    actor = params.ListParam(child=params.ActorCodeParam(), help_text="Only these actors.")


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
    measures = MatrixMeasureSerializer(many=True, help_text="The columns, by slug.")
    rows = MatrixRowSerializer(many=True, help_text="One row per actor, by code.")


def stance_matrix(
    *,
    as_of: datetime.date | None,
    categories: list[str],
    slugs: list[str],
    codes: list[str],
) -> dict[str, Any]:
    """Each actor's latest position on each measure (on ``as_of`` when given).

    Two queries whatever the size — the measures, then the positions with their actors — and
    a third to check the actor codes when some are asked for. Raises ``ValidationError`` keyed
    by parameter for slugs or codes that name nothing.
    """
    measures = Measure.objects.all()
    if slugs:
        measures = measures.filter(slug__in=slugs)
    found = measures
    if categories:
        # EXISTS rather than a join, so a measure in two of the categories is one column.
        through = Measure.categories.through.objects.filter(
            measure_id=OuterRef("pk"), category_id__in=categories
        )
        found = found.annotate(in_categories=Exists(through))
        measures = measures.filter(Exists(through))
    else:
        found = found.annotate(in_categories=Value(True))
    # One query tells both the columns and which asked-for slugs name nothing at all (a slug
    # outside the categories is not "unknown", just not in this grid).
    rows_found = list(found.order_by("slug").values_list("id", "slug", "title", "in_categories"))
    columns = [(pk, slug, title) for pk, slug, title, wanted in rows_found if wanted]
    unknown = sorted(set(slugs) - {slug for _, slug, _, _ in rows_found})
    if unknown:
        raise serializers.ValidationError({"measure": [f"Unknown measure: {', '.join(unknown)}."]})

    rows: dict[str, dict[str, Any]] = {}
    if codes:
        named = dict(Actor.objects.filter(code__in=codes).values_list("code", "name"))
        unknown = sorted(set(codes) - set(named))
        if unknown:
            raise serializers.ValidationError({"actor": [f"Unknown actor: {', '.join(unknown)}."]})
        rows = {code: {"actor": code, "name": name, "cells": {}} for code, name in named.items()}

    on = as_of or timezone.localdate()
    positions = Position.objects.filter(measure__in=measures.values("pk"), date__lte=on)
    if codes:
        positions = positions.filter(actor__code__in=codes)
    slug_of = {pk: slug for pk, slug, _ in columns}
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
        if position["measure_id"] in slug_of:  # a measure added since the first query: no column
            by_measure[position["measure_id"]].append(dict(position))
    for measure_id, history in by_measure.items():
        for current in current_positions(history, on=on):
            code, answer = current["actor_code"], current["answer"]
            row = rows.setdefault(code, {"actor": code, "name": current["actor_name"], "cells": {}})
            row["cells"][slug_of[measure_id]] = {
                "stance": answer.value,
                "certain": answer.certain,
                "stance_possible": list(answer.possible),
                "basis": answer.basis,
                "date": current["date"],
                "date_precision": current["date_precision"],
                "position": current["id"],
            }
    slug_list = [slug for _, slug, _ in columns]
    return {
        "as_of": as_of,
        "measures": [{"slug": slug, "title": title} for _, slug, title in columns],
        "rows": [
            {**row, "cells": {slug: row["cells"].get(slug) for slug in slug_list}}
            for _, row in sorted(rows.items())
        ],
    }


def matrix_csv(matrix: dict[str, Any]) -> Iterator[list[str]]:
    slugs = [measure["slug"] for measure in matrix["measures"]]
    yield ["actor", *slugs]
    for row in matrix["rows"]:
        yield [row["actor"], *(_csv_cell(row["cells"][slug]) for slug in slugs)]


def _csv_cell(cell: dict[str, Any] | None) -> str:
    """The stance; when uncertain, every possible one joined by ``|`` (``none``: no position)."""
    if cell is None:
        return ""
    return "|".join(stance or "none" for stance in cell["stance_possible"])


class MatrixView(CSVOrJSONView):
    @extend_schema(
        summary="Actors by measures: who stands where",
        description=(
            "A grid of stances: one row per actor, one column per measure, each cell the "
            "actor's *current* position on the measure — its latest by date (on the same date, "
            "the one recorded last) — or, with `as_of`, the latest dated on or before that "
            f"day. Stances: {STANCES}. Rows list only actors with at least one stance in the "
            "grid, plus every actor named in `actor`; columns list every measure matching the "
            "filters, in slug order.\n\n"
            "CSV (`?format=csv` or `Accept: text/csv`): the first column is the actor code, "
            "then one column per measure slug; a cell holds the stance or is empty."
        ),
        parameters=[
            *MatrixParameters.openapi(),
            format_parameter("`csv` for the grid as CSV; JSON otherwise."),
            IF_NONE_MATCH,
        ],
        responses={
            (200, "application/json"): MatrixSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="The grid as CSV."
            ),
            **NOT_MODIFIED,
            (400, "application/json"): PARAMETER_ERRORS,
            (400, "text/csv"): CSV_PARAMETER_ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Like the lists: an ETag from the data version, so a current copy costs one query.
        return conditional_list(request, functools.partial(self.grid, request))

    def grid(self, request: Request) -> HttpResponseBase:
        given = MatrixParameters.parse(request)
        matrix = stance_matrix(
            as_of=given["as_of"],
            categories=given["category"],
            slugs=given["measure"],
            codes=given["actor"],
        )
        if self.wants_csv(request):
            when = matrix["as_of"].isoformat() if matrix["as_of"] else "current"
            return csv_response(csv_text(matrix_csv(matrix)), filename=f"matrix-{when}.csv")
        return Response(matrix)


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
            raise forms.ValidationError(self.error_messages["cursor"], code="cursor") from None
        if not all(0 <= number <= params.INT64_MAX for number in cursor.numbers):
            raise forms.ValidationError(self.error_messages["cursor"], code="cursor")
        return cursor

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 4000}


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
        responses={200: ChangePageSerializer, 400: PARAMETER_ERRORS},
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
