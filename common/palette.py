"""The colours every picture and badge uses: the Okabe-Ito palette, safe for the common forms
of colour blindness, so the admin's badges and the SVG pictures say the same thing the same way.

Colour is never the only carrier of meaning: every badge also prints its label and every picture
has a legend and a text alternative.
"""

from __future__ import annotations

from typing import Final

# Okabe & Ito, "Color Universal Design" (2008).
BLACK: Final = "#000000"
ORANGE: Final = "#E69F00"
SKY_BLUE: Final = "#56B4E9"
BLUISH_GREEN: Final = "#009E73"
YELLOW: Final = "#F0E442"
BLUE: Final = "#0072B2"
VERMILLION: Final = "#D55E00"
REDDISH_PURPLE: Final = "#CC79A7"
GREY: Final = "#999999"
LIGHT_GREY: Final = "#E5E5E5"

# A stance: support in blues and greens, opposition in vermillion, neither in grey.
STANCE: Final[dict[str, str]] = {
    "proposes": BLUE,
    "endorses": BLUISH_GREEN,
    "conditional": SKY_BLUE,
    "neutral": GREY,
    "opposes": VERMILLION,
}

# A source's health (tracker.models.Source.Health).
HEALTH: Final[dict[str, str]] = {
    "unchecked": LIGHT_GREY,
    "ok": BLUISH_GREEN,
    "redirected": SKY_BLUE,
    "changed": YELLOW,
    "broken": VERMILLION,
    "unreachable": ORANGE,
    "blocked": REDDISH_PURPLE,
}

# One check's outcome (tracker.models.SourceCheck.Outcome), grouped as health groups them.
OUTCOME: Final[dict[str, str]] = {
    "ok": BLUISH_GREEN,
    "not_modified": BLUISH_GREEN,
    "changed": YELLOW,
    "redirected": SKY_BLUE,
    "gone": VERMILLION,
    "http_error": ORANGE,
    "network_error": ORANGE,
    "blocked": REDDISH_PURPLE,
    "too_large": GREY,
    "failed": LIGHT_GREY,
}

# An actor's participation in a measure (proposals.status.Participation).
PARTICIPATION: Final[dict[str, str]] = {
    "signatory": SKY_BLUE,
    "party": BLUE,
    "suspended": ORANGE,
    "withdrawn": VERMILLION,
    "ended": GREY,
}


def text_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (a ``#RRGGBB`` colour)."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    # Relative luminance by the sRGB weights, without gamma: enough to pick between two inks.
    return BLACK if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140 else "#FFFFFF"
