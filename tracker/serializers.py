"""How the API reads and writes a source: one description for both.

Curators write the fields of ``tracker.writes.SOURCE_CURATOR_FIELDS``; every refresh field is
read-only (a value sent for one is ignored). Writes go through ``tracker.writes``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from tracker.models import REFRESH_FIELDS, Source


class SourceSerializer(serializers.ModelSerializer[Source]):
    api_url = serializers.HyperlinkedIdentityField(view_name="source-detail")
    host = serializers.CharField(read_only=True)
    display_title = serializers.CharField(
        read_only=True, help_text="`title`, else `fetched_title`."
    )

    class Meta:
        model = Source
        fields = (
            "id",
            "url",
            "api_url",
            "host",
            "title",
            "publisher",
            "kind",
            "is_primary",
            "published_on",
            "archived_url",
            "display_title",
            "fetched_title",
            "fetched_published_on",
            "fetched_canonical_url",
            "fetched_language",
            "health",
            "http_status",
            "final_url",
            "content_hash",
            "content_changed_at",
            "last_checked_at",
            "next_check_at",
            "consecutive_failures",
            "last_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = tuple(REFRESH_FIELDS)
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            # Uniqueness is decided on the normalized URL by the write (409 naming the source).
            "url": {"validators": [], "help_text": "Normalized on save."},
            "title": {"default": ""},
            "publisher": {"default": ""},
            "kind": {"default": Source.Kind.OTHER},
            "is_primary": {"default": False},
            "published_on": {"default": None},
            "archived_url": {"default": ""},
            "fetched_title": {"help_text": "Set by the refresh, like every field below."},
        }


class SourceSummarySerializer(serializers.ModelSerializer[Source]):
    """A source as a citation shows it."""

    title = serializers.CharField(
        source="display_title",
        read_only=True,
        help_text="The curator's title, else the fetched one.",
    )

    class Meta:
        model = Source
        fields = ("id", "url", "title", "publisher", "kind", "is_primary", "health", "archived_url")
        read_only_fields = fields
