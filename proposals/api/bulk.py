"""The whole dataset in one request: export it (anyone), import it (curators).

Both speak the format of ``proposals.dataset``; the import is all-or-nothing and idempotent on
natural keys, so a client may re-send the same document safely.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from proposals.api import params
from proposals.api.conditional import IF_NONE_MATCH, NOT_MODIFIED, conditional_list
from proposals.api.feeds import (
    CSV_PARAMETER_ERRORS,
    PARAMETER_ERRORS,
    CSVOrJSONView,
    csv_lines,
    default_renderers,
    format_parameter,
)
from proposals.api.parsers import JSONParser
from proposals.api.renderers import CSVRenderer
from proposals.api.streaming import streamed
from proposals.dataset import (
    CSV_TABLES,
    FORMAT,
    dataset_csv_rows,
    dataset_export_json,
    dataset_import,
)
from proposals.models import Actor, Citation, Event, Measure, Position
from tracker.models import Source

# Generous for this dataset (the demo data is a few hundred kilobytes), small enough that one
# request cannot exhaust a web process's memory.
MAX_IMPORT_BYTES = 64 * 1024 * 1024

IMPORTED_MODELS = (Actor, Source, Measure, Event, Position, Citation)
IMPORT_PERMISSIONS = [
    f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    for model in IMPORTED_MODELS
    for action in ("add", "change")
]


# --- export -------------------------------------------------------------------------------------


class ExportParameters(params.ParameterForm):
    table = params.ChoiceParam(choices=CSV_TABLES, help_text="With `format=csv`: which table.")


# The document's envelope. What each row must hold, and that it must agree with the stored rows
# and the document's other rows, is checked on import and reported row by row (400).
IMPORT_DOCUMENT = {
    "type": "object",
    "required": ["format"],
    "properties": {
        "format": {"type": "string", "enum": [FORMAT]},
        **{
            table: {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {}},
                "description": f"The {table}, as the export writes them.",
            }
            for table in ("actors", "sources", "measures")
        },
    },
    "additionalProperties": {},
}


class ExportView(CSVOrJSONView):
    # No browsable page: a browser asking for the export gets the file.
    renderer_classes = [default_renderers()[0], CSVRenderer]

    @extend_schema(
        summary="The whole dataset in one download",
        description=(
            "**JSON** (default): one document in the import format "
            f'(`"format": "{FORMAT}"`): `actors`, `sources` and `measures`, each measure with '
            "its `categories`, `citations`, `events` and `positions`, each event and position "
            "with its `citations`. Rows are identified by natural keys (actor `code`, source "
            "`url`, measure `slug`), in a fixed order so two exports can be diffed. "
            "`POST /api/v1/import/` takes this document back.\n\n"
            "**CSV** (`?format=csv&table=…`): one table per request, with a header row. Every "
            "table has the database `id` and the natural keys of what a row points at "
            "(an event's `measure` slug and `actor` code, a citation's `source` URL, what it "
            "`cites` and the `measure` concerned). `aliases` and `parameters` are JSON text; "
            "a measure's `categories` are joined with `;`. A cell that a spreadsheet would run "
            "as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a "
            "leading apostrophe; the JSON export holds the exact text.\n\n"
            "Both are **streamed**: written while they are sent, a batch of rows at a time, all "
            "read from one snapshot of the database, so memory stays flat however large the "
            "dataset. There is no `Content-Length`; a body cut short by an error ends without "
            "the document's closing `}` (JSON), so a reader notices."
        ),
        parameters=[
            IF_NONE_MATCH,
            format_parameter("`csv` for one table as CSV (needs `table`); JSON otherwise."),
            *ExportParameters.openapi(),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                response=OpenApiTypes.OBJECT, description="The dataset document."
            ),
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="One table as CSV."
            ),
            **NOT_MODIFIED,
            (400, "application/json"): PARAMETER_ERRORS,
            (400, "text/csv"): CSV_PARAMETER_ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Like the lists: an ETag from the data version, so a current copy costs one query.
        return conditional_list(request, functools.partial(self.document, request))

    def document(self, request: Request) -> HttpResponseBase:
        given = ExportParameters.parse(request)
        today = timezone.localdate().isoformat()
        if self.wants_csv(request):
            table = given["table"]
            if table is None:
                raise serializers.ValidationError(
                    {"table": [f"Required with format=csv: one of {', '.join(CSV_TABLES)}."]}
                )
            return streamed(
                csv_lines(dataset_csv_rows(table)),
                content_type="text/csv; charset=utf-8",
                filename=f"{table}-{today}.csv",
            )
        return streamed(
            dataset_export_json(),
            content_type="application/json",
            filename=f"dataset-{today}.json",
        )


# --- import -------------------------------------------------------------------------------------


class CanImportDataset(BasePermission):
    message = (
        "Importing needs permission to add and change actors, sources, measures, events, "
        "positions and citations."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(IMPORT_PERMISSIONS))


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"An import may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."
    default_code = "too_large"


class ImportParameters(params.ParameterForm):
    keep_existing = params.BooleanParam(
        help_text="Leave rows that already exist exactly as they are (they count as "
        "`unchanged`); only add new ones."
    )


class RejectedRowSerializer(serializers.Serializer[Any]):
    table = serializers.CharField()
    key = serializers.CharField(help_text="The row's natural key, as in the document.")
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer[Any]):
    applied = serializers.BooleanField(help_text="Whether anything was written.")
    counts = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="Per table (actors, sources, measures, events, positions, citations): how "
        "many rows were `created`, `updated`, `unchanged` or `rejected`.",
    )
    rejected = RejectedRowSerializer(many=True)


# What a refused import answers: the report when rows were rejected, else the usual error shapes.
IMPORT_REFUSAL = {
    "anyOf": [
        {"$ref": "#/components/schemas/ImportReport"},
        {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
        {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    ]
}


class ImportView(APIView):
    permission_classes = [CanImportDataset]
    parser_classes = [JSONParser]
    max_body_bytes = MAX_IMPORT_BYTES

    @extend_schema(
        summary="Import a dataset document (curators)",
        description=(
            "Takes the document `GET /api/v1/export/` serves and applies it in one "
            "transaction: if any row is rejected, **nothing** is written and the answer is 400 "
            "with the same report, listing each rejected row and why. Rows are matched on "
            "natural keys (actor code, source URL, measure slug; an event on measure, kind, "
            "date and actor; a position on measure, actor and date), so sending the same "
            "document twice changes nothing the second time, and a row whose values are "
            "already stored is not written at all (no `updated_at` change, no history entry). "
            "Rows missing from the document are left alone: an import never deletes. A "
            "measure's `status` is ignored: it is derived from the events.\n\n"
            "Needs permission to add and change every imported model."
        ),
        parameters=ImportParameters.openapi(),
        request={"application/json": IMPORT_DOCUMENT},
        responses={
            200: OpenApiResponse(ImportReportSerializer, description="Applied."),
            400: OpenApiResponse(
                IMPORT_REFUSAL,
                description="Nothing written. Rows were rejected: the report, each rejected row "
                'in `rejected`. A body that is not JSON: `{"detail": …}`. A bad `keep_existing`: '
                '`{"keep_existing": [messages]}`.',
            ),
            401: OpenApiResponse(description="Not authenticated."),
            403: OpenApiResponse(description="Authenticated without the permissions needed."),
            413: OpenApiResponse(description=PayloadTooLarge.default_detail),
            415: OpenApiResponse(description="The body is not `application/json`."),
        },
    )
    def post(self, request: Request) -> Response:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge()
        given = ImportParameters.parse(request)
        report = dataset_import(data=request.data, update_existing=not given["keep_existing"])
        return Response(
            report.as_dict(),
            status=status.HTTP_200_OK if report.applied else status.HTTP_400_BAD_REQUEST,
        )
