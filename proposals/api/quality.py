"""``GET /api/v1/quality/``: the data-quality queue (``proposals.quality``) as a paged list,
JSON or CSV; with ``counts=true``, also the number of findings of every rule.

A page is read rule by rule with ``LIMIT``, so it costs what the page holds. Counting every rule
costs what the whole data costs, so the counts are given only when asked for."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from proposals import quality
from proposals.api import params
from proposals.api.conditional import IF_NONE_MATCH, NOT_MODIFIED, conditional_list
from proposals.api.feeds import (
    CSV_PARAMETER_ERRORS,
    PARAMETER_ERRORS,
    CSVOrJSONView,
    format_parameter,
)
from proposals.api.pagination import PAGE, PAGE_SIZE, TrackerPagination

OBJECT_TYPES = ["event", "position", "measure", "source"]
CSV_COLUMNS = (
    "rule",
    "object_type",
    "object_id",
    "label",
    "measure",
    "actor",
    "reason",
    "api_url",
    "admin_url",
)
RULE_LIST = "\n".join(f"- `{rule.id}` — {rule.title}" for rule in quality.RULES)


PAGE_PARAMETERS = ("page", "page_size", "fields")


class QualityParameters(params.ParameterForm):
    rule = params.ListParam(choices=quality.RULE_IDS, help_text="Only these rules.")
    measure = params.SlugParam(must_exist=True, help_text="Only findings about this measure.")
    actor = params.ActorCodeParam(must_exist=True, help_text="Only findings about this actor.")
    counts = params.BooleanParam(
        help_text="Also give `count` and `counts` (null otherwise). Counting evaluates every "
        "rule over all the data, which a page does not, so it is slower on a large database."
    )
    extra = PAGE_PARAMETERS
    extra_lists = ("fields",)


class QualityObjectSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=OBJECT_TYPES)
    id = serializers.IntegerField()
    # Declared fields leave the class namespace, so this does not shadow ``Field.label``.
    label = serializers.CharField(help_text="What a curator recognizes it by.")  # type: ignore[assignment]
    url = serializers.URLField(help_text="The object in this API.")
    admin_url = serializers.URLField(help_text="Where a curator fixes it.")


class FindingSerializer(serializers.Serializer[Any]):
    rule = serializers.ChoiceField(choices=list(quality.RULE_IDS))
    object = QualityObjectSerializer()
    measure = serializers.SlugField(
        allow_null=True, help_text="The slug of the measure concerned; null for a source."
    )
    actor = serializers.CharField(
        allow_null=True, help_text="The code of the actor concerned, when one is."
    )
    reason = serializers.CharField(help_text="What is wrong, in one line.")


class RuleCountsSerializer(serializers.Serializer[Any]):
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {rule: serializers.IntegerField(min_value=0) for rule in quality.RULE_IDS}


FINDING_FIELDS = list(FindingSerializer().fields)


class QualityPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(
        allow_null=True,
        help_text="Findings matching all the filters; null unless `counts=true`.",
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    counts = RuleCountsSerializer(
        allow_null=True,
        help_text="Findings of every rule under the `measure` and `actor` filters (the "
        "`rule` filter aside), zeros included; null unless `counts=true`.",
    )
    results = FindingSerializer(many=True)


class QualityPagination(TrackerPagination):
    """Numbered pages over the rules' queries (no cursor), without a count: ``next`` is given
    when a finding follows the page, found by reading one more than the page holds."""

    def paginate_findings(
        self, request: Request, *, rules: Iterable[str], scope: quality.Scope
    ) -> list[quality.Finding]:
        """The page, after ``start()`` has parsed the paging parameters."""
        number = params.value(request, self.page_query_param, PAGE, 1)
        offset = (number - 1) * self.page_size
        found = (
            quality.page(offset=offset, limit=self.page_size + 1, rules=rules, scope=scope)
            if offset <= params.INT64_MAX  # beyond, no database could hold as many rows
            else []
        )
        if number > 1 and not found:
            raise NotFound(f"Page {number} is past the last page.")
        url = request.build_absolute_uri()
        if len(found) > self.page_size:
            self.next_url = replace_query_param(url, self.page_query_param, number + 1)
        if number > 1:
            self.previous_url = (
                replace_query_param(url, self.page_query_param, number - 1)
                if number > 2
                else remove_query_param(url, self.page_query_param)
            )
        return found[: self.page_size]


def finding_representation(finding: quality.Finding, request: Request) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "object": {
            "type": finding.object_type,
            "id": finding.object_id,
            "label": finding.label,
            "url": request.build_absolute_uri(quality.api_path(finding)),
            "admin_url": request.build_absolute_uri(quality.admin_path(finding)),
        },
        "measure": finding.measure,
        "actor": finding.actor,
        "reason": finding.reason,
    }


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    shown = row["object"]
    return {
        **{name: row[name] for name in ("rule", "measure", "actor", "reason")},
        "object_type": shown["type"],
        "object_id": shown["id"],
        "label": shown["label"],
        "api_url": shown["url"],
        "admin_url": shown["admin_url"],
    }


class QualityView(CSVOrJSONView):
    csv_columns = CSV_COLUMNS
    item_serializer = FindingSerializer
    # `fields=object` keeps these CSV columns, which spell out the finding's object.
    csv_column_fields = {
        "object_type": "object",
        "object_id": "object",
        "label": "object",
        "api_url": "object",
        "admin_url": "object",
    }

    @extend_schema(
        summary="The data-quality queue: what curators should fix",
        description=(
            "Findings of the data-quality rules, rule by rule in the order below, each rule's "
            "by object id. Each names the object (with its API and admin links), the measure "
            "and actor it concerns when any, and why it is listed.\n\n"
            "A page is read rule by rule and stops once full, so it costs what it holds; "
            "`next` is null on the last page. With `counts=true`, `counts` gives every rule's "
            "number of findings under the `measure` and `actor` filters and `count` their sum "
            "under the `rule` filter too; counting reads all the data, so both are null "
            "unless asked for.\n\n"
            f"Rules:\n\n{RULE_LIST}\n\n"
            '"Official" means a source marked `is_primary`: the government, organization, '
            "depositary or archive itself. Facts marked `reported` or `disputed` are listed "
            "too, their reason saying so.\n\n"
            f"CSV (`?format=csv` or `Accept: text/csv`): one row per finding, columns "
            f"{', '.join(f'`{c}`' for c in CSV_COLUMNS)}; pages linked by the `Link` header."
        ),
        parameters=[
            *QualityParameters.openapi(),
            params.openapi_parameter("page", PAGE),
            params.openapi_parameter("page_size", PAGE_SIZE),
            params.openapi_parameter(
                "fields", params.fields_param(list(FindingSerializer().fields))
            ),
            format_parameter("`csv` for the findings as CSV; JSON otherwise."),
            IF_NONE_MATCH,
        ],
        responses={
            (200, "application/json"): QualityPageSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="The page of findings as CSV."
            ),
            **NOT_MODIFIED,
            (400, "application/json"): PARAMETER_ERRORS,
            (400, "text/csv"): CSV_PARAMETER_ERRORS,
            404: OpenApiResponse(description="A page past the last."),
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        return conditional_list(request, functools.partial(self.queue, request))

    def queue(self, request: Request) -> Response:
        given = QualityParameters.parse(request)
        paginator = QualityPagination()
        paginator.start(request, self)  # paging and `fields` are refused before any query
        scope = quality.Scope(measure=given["measure"], actor=given["actor"])
        rules = given["rule"] or ()
        page = paginator.paginate_findings(request, rules=rules, scope=scope)
        rows = [finding_representation(finding, request) for finding in page]
        if self.wants_csv(request):
            rows = [csv_row(row) for row in rows]
        counts = quality.rule_counts(scope=scope) if given["counts"] else None
        response = paginator.get_paginated_response(rows)
        body = response.data
        response.data = {
            "count": (
                sum(n for rule, n in counts.items() if not rules or rule in rules)
                if counts is not None
                else None
            ),
            "next": body["next"],
            "previous": body["previous"],
            "counts": counts,
            "results": body["results"],
        }
        return response
