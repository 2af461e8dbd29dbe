"""Source health over time: the check outcomes of each day, as bars of stacked counts in the
colours of ``common.palette.OUTCOME`` (outcomes the palette colours alike share a legend entry).

The counts come from one aggregate query over the checks (``proposals.api.pictures``); this
module only draws them. A day without a check has no bar.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from common import palette
from proposals.pictures.svg import Drawing, Key, counted, element, legend
from tracker.models import SourceCheck

WIDTH = 960
PLOT_LEFT = 56
PLOT_RIGHT = WIDTH - 24
PLOT_TOP = 64
PLOT_HEIGHT = 180
MAX_DAY_LABELS = 10

# Bottom to top in each bar: the order of SourceCheck.Outcome, from fine to failing.
OUTCOMES = [value for value, _ in SourceCheck.Outcome.choices]
OUTCOME_LABELS = dict(SourceCheck.Outcome.choices)
# The legend's words for each outcome, short enough to share an entry with its colour-mates.
SHORT_LABELS = {
    "ok": "OK",
    "not_modified": "not modified",
    "changed": "content changed",
    "redirected": "redirected",
    "gone": "gone (404/410)",
    "http_error": "HTTP error",
    "network_error": "network error",
    "blocked": "blocked",
    "too_large": "too large",
    "failed": "checker failed",
}


@dataclass(frozen=True)
class HealthChart:
    """Check counts by day and outcome, for ``days`` days from ``first``, of ``subject`` (one
    source, or every source)."""

    subject: str
    first: datetime.date
    days: int
    counts: Mapping[datetime.date, Mapping[str, int]]

    @property
    def last(self) -> datetime.date:
        return self.first + datetime.timedelta(days=self.days - 1)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 … at least ``value``: the top of the count axis."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def health_svg(chart: HealthChart) -> str:
    totals = {day: sum(by_outcome.values()) for day, by_outcome in chart.counts.items()}
    top = nice_ceiling(max(totals.values(), default=0) or 1)
    per_count = PLOT_HEIGHT / top
    slot = (PLOT_RIGHT - PLOT_LEFT) / chart.days
    bar = slot - 1 if slot > 4 else slot
    bottom = PLOT_TOP + PLOT_HEIGHT
    title = f"Check outcomes of {chart.subject} by day, {chart.first} to {chart.last}"
    drawing = Drawing(name="health", title=title, description=_description(chart, totals))
    drawing.heading(title)
    axis = element(drawing.root, "g", class_="axis", fill=palette.BLACK)
    for count in sorted({0, top // 2, top} if top > 1 else {0, 1}):
        y = bottom - count * per_count
        element(axis, "line", x1=PLOT_LEFT, x2=PLOT_RIGHT, y1=y, y2=y, stroke=palette.LIGHT_GREY)
        element(axis, "text", str(count), x=PLOT_LEFT - 6, y=y + 4, text_anchor="end")
    element(
        axis,
        "text",
        "checks",
        x=14,
        y=PLOT_TOP + PLOT_HEIGHT / 2,
        transform=f"rotate(-90 14 {PLOT_TOP + PLOT_HEIGHT / 2})",
        text_anchor="middle",
    )
    step = -(-chart.days // MAX_DAY_LABELS)
    for index in range(chart.days):
        day = chart.first + datetime.timedelta(days=index)
        x = PLOT_LEFT + index * slot
        if index % step == 0:
            new_year = index == 0 or (day.month == 1 and day.day <= step)
            label = f"{day.day} {day:%b}" + (f" {day.year}" if new_year else "")
            element(axis, "line", x1=x, x2=x, y1=bottom, y2=bottom + 5, stroke=palette.BLACK)
            element(axis, "text", label, x=x, y=bottom + 18, class_="day")
        by_outcome = chart.counts.get(day)
        if not by_outcome:
            continue
        column = element(
            drawing.root,
            "g",
            class_="day",
            data_day=day.isoformat(),
            data_total=totals[day],
        )
        # The whole column carries the day's summary as its tooltip.
        element(
            column,
            "rect",
            tip=f"{day.isoformat()}: {totals[day]} checks ({_summary(by_outcome)})",
            x=x,
            y=PLOT_TOP,
            width=bar,
            height=PLOT_HEIGHT,
            fill=palette.LIGHT_GREY,
            fill_opacity=0.2,
        )
        height_so_far = 0.0
        for outcome in OUTCOMES:
            count = by_outcome.get(outcome, 0)
            if not count:
                continue
            height = count * per_count
            height_so_far += height
            element(
                column,
                "rect",
                tip=f"{day.isoformat()}: {count} checks {OUTCOME_LABELS[outcome]}",
                class_="outcome",
                data_outcome=outcome,
                data_count=count,
                x=x,
                y=bottom - height_so_far,
                width=bar,
                height=height,
                fill=palette.OUTCOME[outcome],
            )
    element(axis, "line", x1=PLOT_LEFT, x2=PLOT_RIGHT, y1=bottom, y2=bottom, stroke=palette.BLACK)
    y = bottom + 36
    if not totals:
        drawing.note("No checks in these days.", x=PLOT_LEFT + 8, y=PLOT_TOP + 20)
    y += legend(drawing.root, _keys(), x=16, y=y, width=WIDTH - 32, title="Outcome:")
    return drawing.svg(width=WIDTH, height=y + 8)


def _keys() -> list[Key]:
    by_colour: dict[str, list[str]] = {}
    for outcome in OUTCOMES:
        by_colour.setdefault(palette.OUTCOME[outcome], []).append(SHORT_LABELS[outcome])
    return [Key(" / ".join(labels), colour) for colour, labels in by_colour.items()]


def _summary(by_outcome: Mapping[str, int]) -> str:
    return counted((SHORT_LABELS[o], by_outcome.get(o, 0)) for o in OUTCOMES)


def _description(chart: HealthChart, totals: Mapping[datetime.date, int]) -> str:
    overall = {
        outcome: sum(by.get(outcome, 0) for by in chart.counts.values()) for outcome in OUTCOMES
    }
    checks = sum(totals.values())
    text = (
        f"Check outcomes of {chart.subject}, one bar per day from {chart.first} to "
        f"{chart.last}: {checks} checks"
    )
    if checks:
        text += f" ({_summary(overall)})"
    quiet = chart.days - sum(1 for total in totals.values() if total)
    return text + f"; {quiet} of {chart.days} days without a check."
