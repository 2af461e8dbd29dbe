"""The parts every picture is drawn with: the document and its text alternative, escaping, a
time scale with its year axis, and a legend.

The document is built as an ``xml.etree`` tree and serialized by it, so every text and attribute
is escaped by the standard library's serializer; ``clean`` first replaces the characters XML 1.0
cannot hold at all (control characters), which would otherwise make the picture unreadable.
Colours come from ``common.palette`` only. No ``<style>`` or script: presentation attributes
draw everything, so the pictures render under the site's Content-Security-Policy, inline or as
``<img>``.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET  # builds and serializes; never parses

from common import palette

NAMESPACE = "http://www.w3.org/2000/svg"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
FONT_SIZE = 12
# The average advance of a character at FONT_SIZE, to size boxes around labels: a server cannot
# measure text, so labels are cut to a number of characters that fits.
CHARACTER_WIDTH = 6.4
WHITE = "#FFFFFF"

# Everything XML 1.0 cannot carry (C0 controls but tab and newlines, surrogates, U+FFFE/FFFF),
# and the C1 and DEL controls it allows but no reader wants to see.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """``text`` with every character an SVG document cannot show replaced by U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut; whitespace runs
    (a newline in a title) become one space."""
    text = " ".join(clean(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return clean(str(value))


def element(
    parent: ET.Element, tag: str, text: str | None = None, *, tip: str | None = None, **attrs: Any
) -> ET.Element:
    """A child of ``parent``: ``font_size=`` is written ``font-size``, ``class_`` ``class``,
    ``None`` values are left out; ``tip`` adds a ``<title>`` child (the tooltip)."""
    node = ET.SubElement(
        parent,
        tag,
        {
            name.rstrip("_").replace("_", "-"): _value(value)
            for name, value in attrs.items()
            if value is not None
        },
    )
    if tip is not None:
        ET.SubElement(node, "title").text = clean(tip)
    if text is not None:
        title = node.find("title")
        if title is None:
            node.text = clean(text)
        else:  # a tooltip on text: the title first, then the text itself
            title.tail = clean(text)
    return node


class Drawing:
    """An SVG document with its text alternative: ``role="img"``, labelled by its ``<title>``
    and described by its ``<desc>``."""

    def __init__(self, *, name: str, title: str, description: str) -> None:
        self.name = name
        self.root = ET.Element(
            "svg",
            {
                "xmlns": NAMESPACE,
                "role": "img",
                "aria-labelledby": f"{name}-title {name}-desc",
                "font-family": FONT,
                "font-size": str(FONT_SIZE),
            },
        )
        element(self.root, "title", title, id=f"{name}-title")
        element(self.root, "desc", description, id=f"{name}-desc")
        self.defs = element(self.root, "defs")
        element(self.root, "rect", class_="background", width="100%", height="100%", fill=WHITE)

    def hatch(self) -> str:
        """The fill of something uncertain: grey stripes (defined once per document)."""
        pattern_id = f"{self.name}-hatch"
        if self.defs.find("pattern") is None:
            pattern = element(
                self.defs,
                "pattern",
                id=pattern_id,
                width=6,
                height=6,
                patternUnits="userSpaceOnUse",
                patternTransform="rotate(45)",
            )
            element(pattern, "rect", width=6, height=6, fill=palette.LIGHT_GREY)
            element(pattern, "line", x1=0, y1=0, x2=0, y2=6, stroke=palette.GREY, stroke_width=3)
        return f"url(#{pattern_id})"

    def heading(self, text: str, *, x: float = 16, y: float = 24) -> None:
        element(self.root, "text", shorten(text, 120), x=x, y=y, font_size=15, font_weight="bold")

    def note(self, text: str, *, x: float, y: float) -> None:
        element(self.root, "text", text, x=x, y=y, fill=palette.BLACK, class_="note")

    def svg(self, *, width: float, height: float) -> str:
        self.root.set("width", _value(float(math.ceil(width))))
        self.root.set("height", _value(float(math.ceil(height))))
        self.root.set("viewBox", f"0 0 {math.ceil(width)} {math.ceil(height)}")
        return ET.tostring(self.root, encoding="unicode", xml_declaration=False) + "\n"


# --- time ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeScale:
    """Days from ``start`` (inclusive) to ``end`` (exclusive), mapped from ``left`` to ``right``."""

    start: datetime.date
    end: datetime.date
    left: float
    right: float

    @property
    def per_day(self) -> float:
        return (self.right - self.left) / max((self.end - self.start).days, 1)

    def x(self, day: datetime.date) -> float:
        """Where ``day`` begins (its left edge)."""
        return self.left + (day - self.start).days * self.per_day


_YEAR_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)


def year_axis(parent: ET.Element, scale: TimeScale, *, top: float, bottom: float) -> None:
    """A tick and a label at 1 January of every year (or every 2, 5, 10 … years: labels stay at
    least 48 pixels apart), with a faint grid line from ``top`` to ``bottom``."""
    axis = element(parent, "g", class_="axis", fill=palette.BLACK)
    per_year = scale.per_day * 365.25
    step = next((s for s in _YEAR_STEPS if s * per_year >= 48), _YEAR_STEPS[-1])
    first = scale.start.year + (-scale.start.year % step)
    element(
        axis,
        "line",
        x1=scale.left,
        x2=scale.right,
        y1=bottom,
        y2=bottom,
        stroke=palette.BLACK,
        stroke_width=1,
    )
    for year in range(first, scale.end.year + 1, step):
        day = datetime.date(year, 1, 1)
        if not scale.start <= day < scale.end:
            continue
        x = scale.x(day)
        element(axis, "line", x1=x, x2=x, y1=top, y2=bottom, stroke=palette.LIGHT_GREY)
        element(axis, "line", x1=x, x2=x, y1=bottom, y2=bottom + 5, stroke=palette.BLACK)
        element(axis, "text", str(year), x=x, y=bottom + 18, text_anchor="middle", class_="year")


# --- legends -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One entry of a legend: a swatch of ``shape`` and its label. ``fill`` is a colour or a
    pattern (``Drawing.hatch``)."""

    label: str
    fill: str
    shape: str = "box"  # box, empty (an outlined box), dot, hollow (an outlined dot), span


def legend(
    parent: ET.Element, keys: Sequence[Key], *, x: float, y: float, width: float, title: str = ""
) -> float:
    """Draw ``keys`` in rows that fit ``width``, starting at (x, y); the height used."""
    group = element(parent, "g", class_="legend")
    row_height = 20
    cursor_x, cursor_y = x, y
    if title:
        element(group, "text", title, x=x, y=y + 10, font_weight="bold")
        cursor_x += len(title) * CHARACTER_WIDTH + 12
    for key in keys:
        needed = 18 + len(key.label) * CHARACTER_WIDTH + 18
        if cursor_x + needed > x + width and cursor_x > x:
            cursor_x, cursor_y = x, cursor_y + row_height
        item = element(group, "g", class_="key")
        _swatch(item, key, cursor_x, cursor_y)
        element(item, "text", key.label, x=cursor_x + 18, y=cursor_y + 10)
        cursor_x += needed
    return cursor_y + row_height - y


def _swatch(parent: ET.Element, key: Key, x: float, y: float) -> None:
    if key.shape == "dot":
        element(
            parent, "circle", cx=x + 6, cy=y + 6, r=5, fill=key.fill, stroke=WHITE, stroke_width=1
        )
    elif key.shape == "hollow":
        element(
            parent, "circle", cx=x + 6, cy=y + 6, r=4, fill=WHITE, stroke=key.fill, stroke_width=2
        )
    elif key.shape == "span":
        element(
            parent,
            "rect",
            x=x,
            y=y,
            width=14,
            height=12,
            fill=WHITE,
            fill_opacity=0.3,
            stroke=key.fill,
            stroke_width=1.5,
        )
    elif key.shape == "empty":
        element(parent, "rect", x=x, y=y, width=12, height=12, fill=WHITE, stroke=palette.GREY)
    else:
        element(parent, "rect", x=x, y=y, width=12, height=12, fill=key.fill)


def counted(items: Iterable[tuple[str, int]]) -> str:
    """``"opposes 3, endorses 1"``: the non-zero counts, in the order given."""
    return ", ".join(f"{label} {count}" for label, count in items if count)
