"""Source curation, with the refresh state and check history visible read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from tracker.models import REFRESH_FIELDS, Source, SourceCheck, fresh_refresh_state
from tracker.services import sources_request_refresh
from tracker.urlnorm import url_match_key

RECENT_CHECKS = 20


@admin.register(Source)
class SourceAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "kind", "health", "http_status", "last_checked_at", "is_primary"]
    list_filter = ["health", "kind", "is_primary"]
    search_fields = ["url", "title", "fetched_title", "publisher"]
    actions = ["check_now"]
    # A URL typed without a scheme is taken as https, the web's default today.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = [*REFRESH_FIELDS, "recent_checks", "created_at", "updated_at"]
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
        (
            "Found by the last refresh (never overwrites the fields above)",
            {
                "fields": [
                    "health",
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
                    "recent_checks",
                ]
            },
        ),
    ]

    def save_model(
        self, request: HttpRequest, obj: Source, form: ModelForm[Source], change: bool
    ) -> None:
        # clean() has set the new key by now: another spelling of the same address keeps the
        # refresh state, a new address is checked anew, as through the API.
        if change and obj.url_key != url_match_key(form.initial["url"]):
            for name, value in fresh_refresh_state().items():
                setattr(obj, name, value)
        super().save_model(request, obj, form, change)

    @admin.action(description="Check now", permissions=["change"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        count = len(sources_request_refresh(sources=queryset))
        self.message_user(
            request,
            f"Queued {count} source{'s' if count != 1 else ''} for a check; the results appear "
            "in each source's history within a minute or so.",
            messages.SUCCESS,
        )

    @admin.display(description=f"last {RECENT_CHECKS} checks")
    def recent_checks(self, obj: Source) -> str:
        # A fixed-size slice, not an inline: a source checked for years has thousands of rows.
        checks = SourceCheck.objects.filter(source=obj).order_by("-checked_at", "-id")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    check.checked_at.strftime("%Y-%m-%d %H:%M"),
                    check.get_outcome_display(),
                    check.http_status or "",
                    check.duration_ms,
                    check.error,
                )
                for check in checks[:RECENT_CHECKS]
            ),
        )
        if not rows:
            return "Not checked yet."
        return format_html(
            "<table><tr><th>when</th><th>outcome</th><th>HTTP</th><th>took</th><th>error</th>"
            "</tr>{}</table>",
            rows,
        )
