"""Sources that back the tracker's facts, and the history of every check of them.

A source has two kinds of field that never mix: what a curator typed (``title``, ``publisher``,
``published_on`` …) and what the last refresh fetched (``fetched_*`` and the check state). A
refresh writes only the second kind, so nothing a curator entered is ever overwritten.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from tracker.urlnorm import InvalidSourceURL, url_match_key, validate_source_url

# Refresh state changes on every check; SourceCheck rows are its history, so the audit history
# of curator edits leaves these fields out.
REFRESH_FIELDS = [
    "last_checked_at",
    "next_check_at",
    "http_status",
    "final_url",
    "etag",
    "last_modified",
    "content_hash",
    "content_hash_version",
    "content_changed_at",
    "consecutive_failures",
    "health",
    "fetched_title",
    "fetched_published_on",
    "fetched_canonical_url",
    "fetched_language",
    "last_error",
]


def fresh_refresh_state() -> dict[str, Any]:
    """Every refresh field at its default: never checked, due now.

    What the refreshes of one address found says nothing about another, so a source whose URL
    a curator changes starts again from here: the old validators would ask the new page for a
    ``304``, the old hash would report its text as a change, and the old health would stand
    for a page nobody has checked.
    """
    fields = {field.name: field for field in Source._meta.concrete_fields}
    return {name: fields[name].get_default() for name in REFRESH_FIELDS}


URL_KEY_MAX_LENGTH = 2000


class SourceQuerySet(models.QuerySet["Source"]):
    def due(self, *, now: datetime | None = None) -> SourceQuerySet:
        """Sources whose next check is at or before ``now``, and new ones never scheduled."""
        return self.filter(
            models.Q(next_check_at__lte=now or timezone.now()) | models.Q(next_check_at=None)
        )

    def on_host(self, host: str) -> SourceQuerySet:
        """Sources whose URL is on ``host`` (any scheme or port)."""
        name = host.strip().lower().rstrip(".")
        # The key spells the host in lower case without a trailing dot, and always has a path.
        return self.filter(url_key__regex=rf"^https?://{re.escape(name)}(:[0-9]+)?/")


def host_of(url: str) -> str:
    """The host name of a source URL, lower-cased ("" if it has none): what politeness counts."""
    return urlsplit(url).hostname or ""


class Source(models.Model):
    class Kind(models.TextChoices):
        TREATY_TEXT = "treaty_text", "Treaty text"
        OFFICIAL_STATEMENT = "official_statement", "Official statement"
        NEWS = "news", "News"
        ANALYSIS = "analysis", "Analysis"
        OTHER = "other", "Other"

    class Health(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        OK = "ok", "OK"
        REDIRECTED = "redirected", "Redirected"
        CHANGED = "changed", "Content changed"
        BROKEN = "broken", "Broken (repeatedly gone)"
        UNREACHABLE = "unreachable", "Unreachable (will retry)"
        BLOCKED = "blocked", "Blocked (address or robots.txt)"

    # --- what a curator enters -----------------------------------------------------------------
    url = models.URLField(
        max_length=2000,
        help_text="The address as cited; stored and fetched exactly as given.",
    )
    # What duplicates are matched on (tracker.urlnorm): set by clean() from ``url``.
    url_key = models.CharField(max_length=URL_KEY_MAX_LENGTH, unique=True, editable=False)
    title = models.CharField(max_length=500, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.OTHER)
    is_primary = models.BooleanField(
        default=False, help_text="A primary source: the text or statement itself."
    )
    published_on = models.DateField(null=True, blank=True)
    archived_url = models.URLField(max_length=2000, blank=True)

    # --- what the refresh fetched ---------------------------------------------------------------
    fetched_title = models.CharField(max_length=500, blank=True)
    fetched_published_on = models.DateField(null=True, blank=True)
    fetched_canonical_url = models.URLField(max_length=2000, blank=True)
    fetched_language = models.CharField(max_length=16, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    final_url = models.URLField(max_length=2000, blank=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    # What computed content_hash (extractor and normalisation): after an upgrade the first
    # hash is a new baseline, not a change of the page.
    content_hash_version = models.CharField(max_length=64, blank=True)
    content_changed_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    health = models.CharField(
        max_length=16, choices=Health.choices, default=Health.UNCHECKED, db_index=True
    )
    last_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # url_key follows url, so its history would say nothing new.
    history = HistoricalRecords(excluded_fields=[*REFRESH_FIELDS, "url_key"])
    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["url"]
        indexes = [models.Index(fields=["updated_at", "id"])]
        constraints = [
            # A writer that skipped clean() would otherwise store a blank key, unmatched.
            models.CheckConstraint(condition=~models.Q(url_key=""), name="source_url_key_set"),
        ]

    def __str__(self) -> str:
        return self.title or self.fetched_title or self.url

    @property
    def host(self) -> str:
        return host_of(self.url)

    @property
    def display_title(self) -> str:
        """The curator's title when there is one, else the title the refresh found."""
        return self.title or self.fetched_title

    def clean_fields(self, exclude: Any = None) -> None:
        # Surrounding whitespace is the one thing not kept of a cited URL; the URL validator
        # runs here, before clean().
        self.url = self.url.strip()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        """Trim the URL (nothing else), set its key, and refuse a second source for it."""
        super().clean()
        self.clean_url()
        duplicate = Source.objects.filter(url_key=self.url_key).exclude(pk=self.pk).first()
        if duplicate is not None:
            raise ValidationError(
                {
                    "url": ValidationError(
                        "Source %(id)s already cites this address as %(url)s; "
                        "cite that source instead.",
                        code="unique",
                        params={"id": duplicate.pk, "url": duplicate.url},
                    )
                }
            )

    def clean_url(self) -> None:
        """Check the URL and set its key, without looking for other sources (for a writer that
        has matched keys itself)."""
        try:
            self.url = validate_source_url(self.url)
            key = url_match_key(self.url)
        except InvalidSourceURL as error:
            raise ValidationError({"url": str(error)}) from None
        if len(key) > URL_KEY_MAX_LENGTH:
            raise ValidationError(
                {"url": "The URL is too long once its non-ASCII characters are escaped."}
            )
        self.url_key = key

    def validate_unique(self, exclude: Any = None) -> None:
        # A duplicate key is reported by clean(), on the field the curator typed.
        super().validate_unique(exclude={*(exclude or ()), "url_key"})

    def validate_constraints(self, exclude: Any = None) -> None:
        # clean() sets url_key, or has already reported the URL that has none.
        super().validate_constraints(exclude={*(exclude or ()), "url_key"})


class SourceCheck(models.Model):
    """One refresh attempt. Append-only: the history of a source's health."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK (text as before, or read for the first time)"
        NOT_MODIFIED = "not_modified", "Not modified (304)"
        CHANGED = "changed", "Content changed"
        REDIRECTED = "redirected", "Redirected"
        GONE = "gone", "Gone (404/410)"
        HTTP_ERROR = "http_error", "HTTP error (retry later)"
        NETWORK_ERROR = "network_error", "Network error or timeout"
        BLOCKED = "blocked", "Blocked (address or robots.txt)"
        TOO_LARGE = "too_large", "Body over the size cap"
        FAILED = "failed", "The checker failed (retried later)"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="checks")
    checked_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    final_url = models.URLField(max_length=2000, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    bytes_read = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(fields=["source", "-checked_at", "-id"]),
            # The checks of the last hour, by outcome (the metrics), without a scan.
            models.Index(fields=["checked_at"], name="sourcecheck_checked_at"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.outcome} at {self.checked_at:%Y-%m-%d %H:%M}"
