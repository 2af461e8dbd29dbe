"""The curation dashboard: sources by health, the latest failed checks, facts at risk and the
top of the data-quality queue, on one admin page (``/admin/dashboard/``, linked first from the
admin's index and from every page's header).

A fixed number of queries whatever the size of the data: one for the health counts, one for the
failures, and the data-quality queue's own (``proposals.quality``, read in ``_quality`` only).

Beside it, the stance matrix as a heatmap (``/admin/matrix/``): the API's picture, filtered by
what the curator picks, with the same matrix as CSV for its text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import SafeString

from proposals import quality
from proposals.admin_quality import PERMISSION as QUALITY_PERMISSION
from proposals.admin_quality import URL_NAME as QUALITY_URL_NAME
from proposals.api import params
from proposals.models import Category
from tracker.badges import health_badge, outcome_badge
from tracker.models import Source, SourceCheck

FAILURES_SHOWN = 15
AT_RISK_SHOWN = 15
QUALITY_SHOWN = 5
# Outcomes that say the page could not be read as cited (the rest found it, moved or not).
FAILING_OUTCOMES = (
    SourceCheck.Outcome.GONE,
    SourceCheck.Outcome.HTTP_ERROR,
    SourceCheck.Outcome.NETWORK_ERROR,
    SourceCheck.Outcome.BLOCKED,
    SourceCheck.Outcome.TOO_LARGE,
    SourceCheck.Outcome.FAILED,
)
# "At risk" is the data-quality rule's: every source a fact cites is broken or unreachable.
AT_RISK_RULE = "all_sources_down"
HEALTH_CHART_URL = "/api/v1/sources/health.svg"
MATRIX_PICTURE_URL = "/api/v1/matrix.svg"
MATRIX_URL = "/api/v1/matrix/"


@dataclass(frozen=True)
class HealthRow:
    health: str
    badge: SafeString
    count: int
    url: str


@dataclass(frozen=True)
class QualitySummary:
    rules: list[tuple[str, str, int]]  # (rule id, title, findings), rules with findings only
    total: int
    top: list[tuple[quality.Finding, str]]  # (finding, admin link)
    at_risk: list[tuple[quality.Finding, str]]
    at_risk_total: int


def _quality() -> QualitySummary:
    """The one place the dashboard reads the data-quality queue: a count per rule, the queue's
    first findings and the first facts at risk, each read as a page of the queue."""
    tally = quality.rule_counts()
    found = [rule for rule, count in tally.items() if count]
    top = quality.page(offset=0, limit=QUALITY_SHOWN, rules=found) if found else []
    at_risk = (
        quality.page(offset=0, limit=AT_RISK_SHOWN, rules=[AT_RISK_RULE])
        if tally[AT_RISK_RULE]
        else []
    )
    return QualitySummary(
        rules=[(rule.id, rule.title, tally[rule.id]) for rule in quality.RULES if tally[rule.id]],
        total=sum(tally.values()),
        top=[(finding, quality.admin_path(finding)) for finding in top],
        at_risk=[(finding, quality.admin_path(finding)) for finding in at_risk],
        at_risk_total=tally[AT_RISK_RULE],
    )


def _sources_by_health() -> list[HealthRow]:
    counts = dict(
        Source.objects.order_by()
        .values_list("health")
        .annotate(n=Count("id"))
        .values_list("health", "n")
    )
    changelist = reverse("admin:tracker_source_changelist")
    return [
        HealthRow(
            value, health_badge(value), counts.get(value, 0), f"{changelist}?health__exact={value}"
        )
        for value in Source.Health.values
    ]


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("tracker.view_source"):
        raise PermissionDenied
    failures = [
        (check, outcome_badge(check.outcome))
        for check in SourceCheck.objects.filter(outcome__in=FAILING_OUTCOMES)
        .select_related("source")
        .order_by("-checked_at", "-id")[:FAILURES_SHOWN]
    ]
    shows_quality = request.user.has_perm(QUALITY_PERMISSION)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Curation dashboard",
        "health": _sources_by_health(),
        "failures": failures,
        "quality": _quality() if shows_quality else None,
        "quality_url": reverse(f"admin:{QUALITY_URL_NAME}"),
        "health_chart_url": HEALTH_CHART_URL,
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


class MatrixForm(forms.Form):
    """The stance matrix's filters as a curator picks them; the picture applies them."""

    as_of = forms.DateField(
        required=False,
        label="As of",
        help_text="Stances as they stood at the end of that day (YYYY-MM-DD); empty: today.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    category = forms.MultipleChoiceField(
        choices=Category.Code.choices,
        required=False,
        help_text="Only measures of these categories.",
    )
    actor = forms.CharField(
        required=False,
        max_length=200,
        help_text="Only these actors: codes separated by commas (USA, RUS, NATO).",
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=params.INT64_MAX)

    def clean_actor(self) -> list[str]:
        codes = [code.strip().upper() for code in self.cleaned_data["actor"].split(",")]
        return [code for code in codes if code]

    def query(self) -> str:
        """The API's query string for what the curator picked."""
        data = self.cleaned_data
        pairs: list[tuple[str, str]] = []
        if data["as_of"]:
            pairs.append(("as_of", data["as_of"].isoformat()))
        pairs += [("category", category) for category in data["category"]]
        pairs += [("actor", code) for code in data["actor"]]
        if data["page"]:
            pairs.append(("page", str(data["page"])))
        return urlencode(pairs)


def matrix(request: HttpRequest) -> HttpResponse:
    """The stance matrix as a heatmap, filtered as the curator asks; the picture and its text
    alternative (the same matrix as CSV) are the API's, so they say the same thing."""
    if not request.user.has_perm("proposals.view_position"):
        raise PermissionDenied
    form = MatrixForm(request.GET)
    # Nothing picked yet is today's matrix; a bad pick shows the form's errors and no picture.
    query = form.query() if form.is_valid() else None
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Stance matrix",
        "form": form,
        "picture_url": None if query is None else _with_query(MATRIX_PICTURE_URL, query),
        "csv_url": None if query is None else _with_query(MATRIX_URL, query, "format=csv"),
    }
    return TemplateResponse(request, "admin/stance_matrix.html", context)


def _with_query(url: str, *parts: str) -> str:
    query = "&".join(part for part in parts if part)
    return f"{url}?{query}" if query else url
