"""A measure's timeline: one lane for the measure, then one per actor, each coloured by what the
rules derive over time (``proposals.status``), with a marker per event.

- **The measure's lane** is coloured by its status, **an actor's lane** by its participation, in
  the participation colours of ``common.palette`` (a signed measure in the signatory colour, one
  in force in the party colour …); a period in which the answer is uncertain (inside the month
  or year of an event known only to that precision) is hatched.
- **An event known to the day** is a dot at that day; **one known to the month or year** is a box
  spanning its whole month or year, never drawn as a day. Reported or disputed events are drawn
  hollow (dots) or dashed (boxes). Each marker's tooltip names the event: its kind, its actor,
  its date as precisely as it is known.
- **Bounded**: at most ``MAX_LANES`` actor lanes, and the events read are bounded by the caller
  (the earliest ``MAX_EVENTS``, so what is drawn is derived from every event up to where the
  picture stops); what is left out is said in a note under the picture.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET  # builds and serializes; never parses

from common import palette
from proposals import status as rules
from proposals.models import DatePrecision, Event, Measure
from proposals.pictures.svg import (
    CHARACTER_WIDTH,
    WHITE,
    Drawing,
    Key,
    TimeScale,
    counted,
    element,
    legend,
    shorten,
    year_axis,
)

MAX_EVENTS = 300
MAX_LANES = 60

WIDTH = 960
LABEL_LEFT = 16
PLOT_LEFT = 230
PLOT_RIGHT = WIDTH - 24
LANE_HEIGHT = 28
BAR_HEIGHT = 12
TOP = 62
LABEL_CHARACTERS = int((PLOT_LEFT - LABEL_LEFT - 12) / CHARACTER_WIDTH)

# The measure's status in the colours of the participation it gives its parties.
STATUS_COLOURS = {
    "proposed": palette.YELLOW,
    "signed": palette.PARTICIPATION["signatory"],
    "in_force": palette.PARTICIPATION["party"],
    "suspended": palette.PARTICIPATION["suspended"],
    "rejected": palette.PARTICIPATION["withdrawn"],
    "expired": palette.PARTICIPATION["ended"],
    "terminated": palette.PARTICIPATION["ended"],
}
STATUS_LABELS = dict(Measure.Status.choices)
KIND_LABELS = dict(Event.Kind.choices)

_DAY = datetime.timedelta(days=1)


def next_day(day: datetime.date) -> datetime.date:
    """The day after ``day``; the last day there is stays itself."""
    return day if day == datetime.date.max else day + _DAY


def new_year_after(day: datetime.date) -> datetime.date:
    """1 January of the year after ``day`` (the last day there is, in year 9999)."""
    return datetime.date.max if day.year == datetime.MAXYEAR else datetime.date(day.year + 1, 1, 1)


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    kind: str
    date: datetime.date
    precision: str
    certainty: str
    actor: str | None  # the actor's code; None for the measure as a whole
    scope_note: str = ""

    @property
    def period_end(self) -> datetime.date:
        return rules.period_end(self.date, self.precision)


@dataclass(frozen=True)
class Timeline:
    """What a timeline shows: the measure, its events oldest first (the earliest ``MAX_EVENTS``
    when there are more: ``later`` counts the others, from the day ``cut`` on), the names of the
    actors, and what the rules need besides the events."""

    slug: str
    title: str
    scope: str
    parties: frozenset[str]
    events: Sequence[TimelineEvent]
    names: dict[str, str]
    successor_of: dict[str, str]
    today: datetime.date
    later: int = 0
    cut: datetime.date | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of a lane with one answer, from ``start`` up to (not including) ``end``;
    ``possible`` holds every value the answer may have (one: certain)."""

    start: datetime.date
    end: datetime.date
    possible: tuple[str | None, ...]


@dataclass
class Lane:
    code: str | None  # None: the measure's own lane
    label: str
    segments: list[Segment] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)


def date_text(day: datetime.date, precision: str) -> str:
    """A date as precisely as it is known: ``1987-12-08``, ``June 1988``, ``1988``."""
    if precision == DatePrecision.YEAR:
        return str(day.year)
    if precision == DatePrecision.MONTH:
        return f"{day:%B} {day.year}"
    return day.isoformat()


def time_span(timeline: Timeline) -> tuple[datetime.date, datetime.date]:
    """The days the picture covers: whole years from the first event's to the year of today or
    of the last event's period, whichever is later; up to ``cut`` when events were left out."""
    if not timeline.events:
        return datetime.date(timeline.today.year, 1, 1), new_year_after(timeline.today)
    start = datetime.date(timeline.events[0].date.year, 1, 1)
    if timeline.cut is not None:
        return start, max(timeline.cut, next_day(start))
    last = max(timeline.today, *(event.period_end for event in timeline.events))
    return start, new_year_after(last)


def lanes(timeline: Timeline, end: datetime.date) -> list[Lane]:
    """The measure's lane, then one per actor (by name, then code) with its events and its
    participation over time, until ``end``."""
    facts = [
        rules.EventFact(e.kind, e.date, e.actor, e.id, e.precision, e.certainty)
        for e in timeline.events
    ]
    dates = [fact.date for fact in facts]  # in order: the events come oldest first
    measure = rules.MeasureFacts(timeline.scope, timeline.parties)
    # Answers change only where an event's period begins, and on its last day, from which on it
    # has certainly happened (``proposals.status``: a fact counts as certain on ``on`` once its
    # period has ended by the end of that day).
    boundaries = sorted(
        {e.date for e in timeline.events}
        | {e.period_end for e in timeline.events if e.precision != DatePrecision.DAY}
    )
    boundaries = [day for day in boundaries if day < end]
    measure_lane = Lane(None, "The measure as a whole")
    by_code: dict[str, Lane] = {}

    def lane_of(code: str) -> Lane:
        if code not in by_code:
            by_code[code] = Lane(code, timeline.names.get(code, code))
        return by_code[code]

    for code in timeline.parties:
        lane_of(code)
    for event in timeline.events:
        (measure_lane if event.actor is None else lane_of(event.actor)).events.append(event)
    for index, day in enumerate(boundaries):
        until = boundaries[index + 1] if index + 1 < len(boundaries) else end
        known = facts[: bisect.bisect_right(dates, day)]
        status = rules.status_on(known, on=day, measure=measure, successor_of=timeline.successor_of)
        _extend(measure_lane, Segment(day, until, tuple(status.possible)))
        participations = rules.participations_on(
            known, on=day, measure=measure, successor_of=timeline.successor_of
        )
        for code, answer in participations.items():
            _extend(lane_of(code), Segment(day, until, tuple(answer.possible)))
    actors = sorted(by_code.values(), key=lambda lane: (lane.label.casefold(), lane.code or ""))
    return [measure_lane, *actors]


def _extend(lane: Lane, segment: Segment) -> None:
    last = lane.segments[-1] if lane.segments else None
    if last is not None and last.end == segment.start and last.possible == segment.possible:
        lane.segments[-1] = Segment(last.start, segment.end, last.possible)
    else:
        lane.segments.append(segment)


# --- drawing -------------------------------------------------------------------------------------


def timeline_svg(timeline: Timeline) -> str:
    start, end = time_span(timeline)
    every = lanes(timeline, end)
    shown = every[: MAX_LANES + 1]
    hidden = every[MAX_LANES + 1 :]
    scale = TimeScale(start, end, PLOT_LEFT, PLOT_RIGHT)
    drawing = Drawing(
        name="timeline",
        title=f"Timeline of {timeline.title}",
        description=_description(timeline, every, start, end),
    )
    drawing.heading(f"Timeline of {timeline.title}")
    # The days the axis covers, for whoever reads the picture as data.
    drawing.root.set("data-start", start.isoformat())
    drawing.root.set("data-end", end.isoformat())
    element(
        drawing.root,
        "text",
        "Events by date; each lane coloured by the measure's status or the actor's participation.",
        x=LABEL_LEFT,
        y=44,
        fill=palette.BLACK,
    )
    bottom = TOP + len(shown) * LANE_HEIGHT
    year_axis(drawing.root, scale, top=TOP, bottom=bottom)
    for index, lane in enumerate(shown):
        _lane(drawing, lane, scale, timeline, y=TOP + index * LANE_HEIGHT)
    if scale.start <= timeline.today < scale.end:
        x = scale.x(timeline.today)
        today = element(drawing.root, "g", class_="today")
        element(
            today,
            "line",
            x1=x,
            x2=x,
            y1=TOP - 6,
            y2=bottom,
            stroke=palette.BLACK,
            stroke_dasharray="3 3",
        )
        element(today, "text", "today", x=x, y=TOP - 9, text_anchor="middle", font_size=10)
    y: float = bottom + 40
    if not timeline.events:
        drawing.note("No events recorded yet.", x=PLOT_LEFT, y=TOP - 20)
    if timeline.later:
        drawing.note(
            f"{timeline.later} later events, from {timeline.cut} on, are not drawn (at most "
            f"{MAX_EVENTS} per picture); the events list has them all.",
            x=LABEL_LEFT,
            y=y,
        )
        y += 20
    if hidden:
        drawing.note(
            f"{len(hidden)} more actors are not drawn (at most {MAX_LANES} lanes per picture): "
            + shorten(", ".join(lane.label for lane in hidden), 90),
            x=LABEL_LEFT,
            y=y,
        )
        y += 20
    y += legend(drawing.root, _state_keys(drawing), x=LABEL_LEFT, y=y, width=WIDTH - 32)
    y += 4 + legend(drawing.root, _event_keys(), x=LABEL_LEFT, y=y + 4, width=WIDTH - 32)
    return drawing.svg(width=WIDTH, height=y + 12)


def _lane(drawing: Drawing, lane: Lane, scale: TimeScale, timeline: Timeline, *, y: float) -> None:
    middle = y + LANE_HEIGHT / 2
    group = element(
        drawing.root,
        "g",
        class_="lane",
        data_lane="measure" if lane.code is None else "actor",
        data_actor=lane.code,
    )
    full = lane.label if lane.code is None else f"{lane.label} ({lane.code})"
    element(
        group,
        "text",
        shorten(lane.label, LABEL_CHARACTERS),
        tip=full,
        x=LABEL_LEFT,
        y=middle + 4,
        class_="label",
        font_weight="bold" if lane.code is None else None,
    )
    element(
        group,
        "line",
        x1=scale.left,
        x2=scale.right,
        y1=middle,
        y2=middle,
        stroke=palette.LIGHT_GREY,
        stroke_width=2,
    )
    for segment in lane.segments:
        if segment.possible == (None,):
            continue  # nothing yet: the bare line
        certain = len(segment.possible) == 1
        state = segment.possible[0] if certain else "uncertain"
        colours = STATUS_COLOURS if lane.code is None else palette.PARTICIPATION
        element(
            group,
            "rect",
            tip=_segment_tip(lane, segment, full),
            class_="segment",
            data_state=state,
            data_start=segment.start.isoformat(),
            data_end=segment.end.isoformat(),
            x=scale.x(segment.start),
            y=middle - BAR_HEIGHT / 2,
            width=max(scale.x(segment.end) - scale.x(segment.start), 0.5),
            height=BAR_HEIGHT,
            fill=colours[str(state)] if certain else drawing.hatch(),
        )
    for event in lane.events:
        _marker(group, event, scale, middle, who=full if lane.code else "the measure")


def _segment_tip(lane: Lane, segment: Segment, who: str) -> str:
    labels = STATUS_LABELS if lane.code is None else {}
    values = " or ".join(
        "none yet" if value is None else labels.get(value, value) for value in segment.possible
    )
    what = values if len(segment.possible) == 1 else f"uncertain: {values}"
    last = segment.end - _DAY
    return f"{who}: {what}, {segment.start.isoformat()} to {last.isoformat()}"


def _marker(
    parent: ET.Element, event: TimelineEvent, scale: TimeScale, middle: float, *, who: str
) -> None:
    kind = KIND_LABELS.get(event.kind, event.kind)
    tip = f"{kind}, {who}, {date_text(event.date, event.precision)}"
    if event.certainty != "confirmed":
        tip += f" ({event.certainty})"
    if event.scope_note:
        tip += f": {event.scope_note}"
    confirmed = event.certainty == "confirmed"
    common: dict[str, Any] = {
        "tip": tip,
        "class_": "event",
        "data_event": event.id,
        "data_kind": event.kind,
        "data_precision": event.precision,
        "data_date": event.date.isoformat(),
    }
    if event.precision == DatePrecision.DAY:
        element(
            parent,
            "circle",
            cx=scale.x(event.date),
            cy=middle,
            r=5 if confirmed else 4,
            fill=palette.BLACK if confirmed else WHITE,
            stroke=WHITE if confirmed else palette.BLACK,
            stroke_width=1 if confirmed else 2,
            **common,
        )
        return
    left = scale.x(event.date)
    element(
        parent,
        "rect",
        x=left,
        y=middle - BAR_HEIGHT / 2 - 3,
        width=scale.x(min(next_day(event.period_end), scale.end)) - left,
        height=BAR_HEIGHT + 6,
        fill=WHITE,
        fill_opacity=0.3,
        stroke=palette.BLACK,
        stroke_width=1.5,
        stroke_dasharray=None if confirmed else "3 2",
        **common,
    )


def _state_keys(drawing: Drawing) -> list[Key]:
    return [
        Key("proposed (the measure)", STATUS_COLOURS["proposed"]),
        Key("signed / signatory", palette.PARTICIPATION["signatory"]),
        Key("in force / party", palette.PARTICIPATION["party"]),
        Key("suspended", palette.PARTICIPATION["suspended"]),
        Key("rejected / withdrawn", palette.PARTICIPATION["withdrawn"]),
        Key("expired or terminated / ended", palette.PARTICIPATION["ended"]),
        Key("uncertain (a date known to the month or year)", drawing.hatch()),
    ]


def _event_keys() -> list[Key]:
    return [
        Key("event on a known day", palette.BLACK, "dot"),
        Key("event known to the month or year: its whole period", palette.BLACK, "span"),
        Key("reported or disputed", palette.BLACK, "hollow"),
    ]


def _description(
    timeline: Timeline, every: list[Lane], start: datetime.date, end: datetime.date
) -> str:
    events = timeline.events
    if not events:
        return f"Timeline of {timeline.title}: no events recorded yet."
    measure_lane = every[0]
    now = next(
        (s for s in measure_lane.segments if s.start <= timeline.today < s.end),
        None,
    )
    kinds: dict[str, int] = {}
    for event in events:
        label = KIND_LABELS.get(event.kind, event.kind).lower()
        kinds[label] = kinds.get(label, 0) + 1
    actors = ", ".join(lane.label for lane in every[1:]) or "none"
    text = (
        f"Timeline of {timeline.title} from {start.year} to {(end - _DAY).year}: "
        f"{len(events)} events ({counted(kinds.items())}); lanes: the measure, then {actors}."
    )
    if now is not None and now.possible != (None,):
        text += " Status today: " + " or ".join(
            STATUS_LABELS.get(value, "none") if value else "none" for value in now.possible
        )
        text += "."
    if timeline.later:
        text += f" {timeline.later} later events are not drawn."
    return text
