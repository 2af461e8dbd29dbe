"""Badges for a source's health and a check's outcome, as the admin pages show them.

The colour comes from ``common.palette`` and the label is always printed inside it, so the badge
says the same thing to a reader who cannot tell the colours apart. The layout (padding, rounded
corners) is in ``tracker/static/tracker/admin.css``; only the colours are set per badge.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from common.palette import HEALTH, LIGHT_GREY, OUTCOME, text_on
from tracker.models import Source, SourceCheck


def _badge(label: str, colour: str, kind: str, value: str) -> SafeString:
    return format_html(
        '<span class="badge badge-{}" data-{}="{}" style="background-color: {}; color: {}">{}'
        "</span>",
        kind,
        kind,
        value,
        colour,
        text_on(colour),
        label,
    )


def health_badge(health: str) -> SafeString:
    """A source's health (``Source.Health``) as a coloured badge with its label."""
    try:
        label = Source.Health(health).label
    except ValueError:
        label = health
    return _badge(str(label), HEALTH.get(health, LIGHT_GREY), "health", health)


def outcome_badge(outcome: str) -> SafeString:
    """One check's outcome (``SourceCheck.Outcome``) as a coloured badge with its label."""
    try:
        label = SourceCheck.Outcome(outcome).label
    except ValueError:
        label = outcome
    return _badge(str(label), OUTCOME.get(outcome, LIGHT_GREY), "outcome", outcome)
