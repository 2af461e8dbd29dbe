"""Source curation: the list with health badges and what cites each source; a source's page with
its health, check history, what changed between the last two checks, the facts that cite it and
a "Check now" button. The refresh state is read-only; concurrent edits are refused
(``common.admin_concurrency``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from common.admin_concurrency import OptimisticLockAdmin
from tracker.badges import health_badge, outcome_badge
from tracker.models import REFRESH_FIELDS, Source, SourceCheck, fresh_refresh_state, host_of
from tracker.services import source_request_refresh, sources_request_refresh
from tracker.urlnorm import url_match_key

RECENT_CHECKS = 20
# Facts listed on a source's page; the count above the list says how many there are in all.
CITED_BY_SHOWN = 50
TITLE_CHARS = 70


def checks_api_url(source_id: int) -> str:
    return f"/api/v1/sources/{source_id}/checks/"


def health_chart_url(source_id: int) -> str:
    return f"/api/v1/sources/{source_id}/health.svg"


@dataclass(frozen=True)
class CitingFact:
    kind: str  # "measure", "event" or "position"
    admin_url: str
    label: str
    measure: str
    locator: str


# The columns of one query that name whatever a citation of the source supports.
CITATION_COLUMNS = (
    "locator",
    "measure_id",
    "measure__title",
    "event_id",
    "event__kind",
    "event__date",
    "event__actor__code",
    "event__measure__title",
    "position_id",
    "position__stance",
    "position__date",
    "position__actor__code",
    "position__measure__title",
)


def _citing_fact(row: dict[str, Any]) -> CitingFact:
    if row["event_id"]:
        who = f"{row['event__actor__code']} " if row["event__actor__code"] else ""
        kind = row["event__kind"].replace("_", " ")
        return CitingFact(
            "event",
            reverse("admin:proposals_event_change", args=[row["event_id"]]),
            f"{who}{kind} {row['event__date'].isoformat()}",
            row["event__measure__title"],
            row["locator"],
        )
    if row["position_id"]:
        return CitingFact(
            "position",
            reverse("admin:proposals_position_change", args=[row["position_id"]]),
            f"{row['position__actor__code']} {row['position__stance']} "
            f"{row['position__date'].isoformat()}",
            row["position__measure__title"],
            row["locator"],
        )
    return CitingFact(
        "measure",
        reverse("admin:proposals_measure_change", args=[row["measure_id"]]),
        row["measure__title"],
        row["measure__title"],
        row["locator"],
    )


@admin.register(Source)
class SourceAdmin(OptimisticLockAdmin, SimpleHistoryAdmin):
    change_form_template = "admin/tracker/source/change_form.html"
    list_display = [
        "source",
        "host",
        "health_status",
        "kind",
        "http_status",
        "cited_by",
        "last_checked_at",
    ]
    list_display_links = ["source"]
    list_filter = ["health", "kind", "is_primary"]
    search_fields = ["url", "title", "fetched_title", "publisher"]
    actions = ["check_now"]
    # A URL typed without a scheme is taken as https, the web's default today.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = [
        *REFRESH_FIELDS,
        "health_status",
        "health_chart",
        "recent_checks",
        "latest_change",
        "citing_facts",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            "Entered by curators",
            {
                "fields": [
                    "url",
                    "title",
                    "publisher",
                    "kind",
                    "is_primary",
                    "published_on",
                    "archived_url",
                ]
            },
        ),
        ("Cited by", {"fields": ["citing_facts"]}),
        ("Health", {"fields": ["health_status", "health_chart", "recent_checks"]}),
        (
            "Found by the last refresh (never overwrites the fields above)",
            {
                "fields": [
                    "latest_change",
                    "http_status",
                    "final_url",
                    "fetched_title",
                    "fetched_published_on",
                    "fetched_canonical_url",
                    "fetched_language",
                    "last_checked_at",
                    "next_check_at",
                    "content_changed_at",
                    "consecutive_failures",
                    "last_error",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        # One count per row, in the list's own query (a join, not a query per source).
        return super().get_queryset(request).annotate(citation_count=Count("citations"))

    def get_urls(self) -> list[URLPattern]:
        check = path(
            "<int:object_id>/check-now/",
            self.admin_site.admin_view(require_POST(self.check_now_view)),
            name="tracker_source_check_now",
        )
        return [check, *super().get_urls()]

    def save_model(
        self, request: HttpRequest, obj: Source, form: ModelForm[Source], change: bool
    ) -> None:
        # clean() has set the new key by now: another spelling of the same address keeps the
        # refresh state, a new address is checked anew, as through the API.
        if change and obj.url_key != url_match_key(form.initial["url"]):
            for name, value in fresh_refresh_state().items():
                setattr(obj, name, value)
        super().save_model(request, obj, form, change)

    # --- check now --------------------------------------------------------------------------

    @admin.action(description="Check now", permissions=["change"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        count = len(sources_request_refresh(sources=queryset))
        self.message_user(
            request,
            f"Queued {count} source{'s' if count != 1 else ''} for a check; the results appear "
            "in each source's history within a minute or so.",
            messages.SUCCESS,
        )

    def check_now_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The button on a source's page: queue a check of this source, then come back."""
        source = get_object_or_404(Source, pk=object_id)
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        source_request_refresh(source=source)
        self.message_user(
            request,
            "Queued this source for a check; reload this page in a minute or so to see the "
            "result in its check history.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:tracker_source_change", args=[source.pk]))

    # --- the list's columns -------------------------------------------------------------------

    @admin.display(description="source", ordering="title")
    def source(self, obj: Source) -> SafeString:
        text = str(obj)
        return format_html(
            '<span title="{}">{}</span>', obj.url, Truncator(text).chars(TITLE_CHARS)
        )

    @admin.display(description="host")
    def host(self, obj: Source) -> str:
        return host_of(obj.url)

    @admin.display(description="health", ordering="health")
    def health_status(self, obj: Source) -> SafeString:
        return health_badge(obj.health)

    @admin.display(description="cited by", ordering="citation_count")
    def cited_by(self, obj: Source) -> int:
        return int(getattr(obj, "citation_count", 0))

    # --- the page's read-only parts -------------------------------------------------------------

    def _checks(self, obj: Source) -> list[SourceCheck]:
        # Read once per page: the history table and the latest change both show them.
        cached: list[SourceCheck] | None = getattr(obj, "_recent_checks", None)
        if cached is None:
            cached = list(
                SourceCheck.objects.filter(source=obj).order_by("-checked_at", "-id")[
                    :RECENT_CHECKS
                ]
            )
            obj._recent_checks = cached  # type: ignore[attr-defined]
        return cached

    @admin.display(description="health over time")
    def health_chart(self, obj: Source) -> SafeString:
        return format_html(
            '<img class="health-chart" src="{}" alt="Outcomes of the checks of this source, by '
            'day" width="640" height="160"><br>As text: <a href="{}">every check of this source'
            "</a> (JSON or CSV), newest first.",
            health_chart_url(obj.pk),
            checks_api_url(obj.pk),
        )

    @admin.display(description=f"last {RECENT_CHECKS} checks")
    def recent_checks(self, obj: Source) -> SafeString | str:
        # A fixed-size slice, not an inline: a source checked for years has thousands of rows.
        checks = self._checks(obj)
        if not checks:
            return "Not checked yet."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td class="number">{} ms</td><td>{}</td></tr>',
            (
                (
                    check.checked_at.strftime("%Y-%m-%d %H:%M"),
                    outcome_badge(check.outcome),
                    check.http_status or "",
                    check.duration_ms,
                    check.error,
                )
                for check in checks
            ),
        )
        return format_html(
            '<table class="source-checks"><thead><tr><th scope="col">when</th>'
            '<th scope="col">outcome</th><th scope="col">HTTP</th><th scope="col">took</th>'
            '<th scope="col">error</th></tr></thead><tbody>{}</tbody></table>'
            '<p>Older checks: <a href="{}">the full check history</a>.</p>',
            rows,
            checks_api_url(obj.pk),
        )

    @admin.display(description="latest change")
    def latest_change(self, obj: Source) -> SafeString | str:
        """What differs between the last two checks.

        The refresh keeps no copy of a page's text, only a hash of its main text and what the
        page said about itself, so this compares those rather than showing a text diff.
        """
        checks = self._checks(obj)
        if len(checks) < 2:
            return "Fewer than two checks so far: nothing to compare."
        newer, older = checks[0], checks[1]
        compared = [
            ("outcome", outcome_badge(older.outcome), outcome_badge(newer.outcome)),
            ("HTTP status", older.http_status or "", newer.http_status or ""),
            ("final URL", older.final_url, newer.final_url),
            ("content hash", older.content_hash[:16], newer.content_hash[:16]),
            ("bytes read", older.bytes_read, newer.bytes_read),
        ]
        rows = format_html_join(
            "",
            '<tr class="{}"><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    "differs" if str(before) != str(after) else "same",
                    name,
                    before,
                    after,
                    "changed" if str(before) != str(after) else "same",
                )
                for name, before, after in compared
            ),
        )
        return format_html(
            '<table class="source-diff"><thead><tr><th scope="col"></th>'
            '<th scope="col">check of {}</th><th scope="col">check of {}</th>'
            '<th scope="col"></th></tr></thead><tbody>{}</tbody></table>'
            "<p>The page's text is not kept, only a hash of it: a changed hash says the main "
            "text changed, not how. Title the last refresh found: {}.</p>",
            older.checked_at.strftime("%Y-%m-%d %H:%M"),
            newer.checked_at.strftime("%Y-%m-%d %H:%M"),
            rows,
            obj.fetched_title or "none",
        )

    @admin.display(description="facts citing it")
    def citing_facts(self, obj: Source) -> SafeString | str:
        rows = list(obj.citations.order_by("id").values(*CITATION_COLUMNS)[:CITED_BY_SHOWN])
        if not rows:
            return "Nothing cites this source."
        # Counted in the query that read the source (get_queryset).
        total = int(getattr(obj, "citation_count", len(rows)))
        facts = [_citing_fact(row) for row in rows]
        items = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            ((f.kind, f.admin_url, f.label, f.measure, f.locator) for f in facts),
        )
        more = (
            format_html("<p>Showing {} of {}.</p>", CITED_BY_SHOWN, total)
            if total > CITED_BY_SHOWN
            else ""
        )
        return format_html(
            '<p>{} citation{}.</p><table class="source-cited-by"><thead><tr>'
            '<th scope="col">cites</th><th scope="col">fact</th><th scope="col">measure</th>'
            '<th scope="col">where in the source</th></tr></thead><tbody>{}</tbody></table>{}',
            total,
            "" if total == 1 else "s",
            items,
            more,
        )
