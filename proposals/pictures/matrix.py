"""The stance matrix as a heatmap: one row per actor, one column per measure, each cell in the
colour of the actor's stance (``common.palette.STANCE``).

It draws exactly the page the matrix endpoint answers (``proposals.api.feeds.MatrixView``: the
same parameters, the same paging, the same data function), so the picture and the JSON never
disagree. A cell without a position is white with a grey outline, unlike ``neutral`` (a grey
fill); an uncertain stance (a position dated only to a month or year, on a day inside it) is
hatched. Long titles and names are cut, and given whole in each label's and cell's tooltip.
"""

from __future__ import annotations

import datetime
from typing import Any

from common import palette
from proposals.models import Position
from proposals.pictures.svg import (
    CHARACTER_WIDTH,
    WHITE,
    Drawing,
    Key,
    counted,
    element,
    legend,
    shorten,
)
from proposals.pictures.timeline import date_text

CELL = 22
LEFT = 16
GRID_LEFT = 230
HEADER = 180  # the column labels, turned 45 degrees
TOP = 56
TITLE_CHARACTERS = 32
NAME_CHARACTERS = int((GRID_LEFT - LEFT - 12) / CHARACTER_WIDTH)
MIN_WIDTH = 720
STANCE_LABELS = {value: label.lower() for value, label in Position.Stance.choices}


def matrix_svg(page: dict[str, Any], *, today: datetime.date) -> str:
    """The heatmap of one page of the matrix (the JSON body of ``/api/v1/matrix/``)."""
    measures: list[dict[str, Any]] = page["measures"]
    rows: list[dict[str, Any]] = page["rows"]
    as_of: datetime.date | None = page["as_of"]
    day = f"on {as_of.isoformat()}" if as_of else f"today ({today.isoformat()})"
    drawing = Drawing(
        name="matrix",
        title=f"Stances of actors on measures {day}",
        description=_description(measures, rows, day),
    )
    drawing.heading(f"Stances of actors on measures {day}")
    grid_top = TOP + HEADER
    for column, measure in enumerate(measures):
        x = GRID_LEFT + column * CELL + CELL / 2
        element(
            drawing.root,
            "text",
            shorten(measure["title"], TITLE_CHARACTERS),
            tip=f"{measure['title']} ({measure['slug']})",
            class_="measure",
            data_measure=measure["slug"],
            x=x,
            y=grid_top - 6,
            transform=f"rotate(-45 {x:.2f} {grid_top - 6})",
        )
    for index, row in enumerate(rows):
        top = grid_top + index * CELL
        group = element(drawing.root, "g", class_="row", data_actor=row["actor"])
        element(
            group,
            "text",
            shorten(row["name"], NAME_CHARACTERS),
            tip=f"{row['name']} ({row['actor']})",
            class_="label",
            x=LEFT,
            y=top + CELL / 2 + 4,
        )
        for column, measure in enumerate(measures):
            cell = row["cells"].get(measure["slug"])
            stance, fill, tip = _cell(drawing, cell)
            element(
                group,
                "rect",
                tip=f"{row['name']} ({row['actor']}) on {measure['title']}: {tip}",
                class_="cell",
                data_measure=measure["slug"],
                data_stance=stance,
                x=GRID_LEFT + column * CELL + 1,
                y=top + 1,
                width=CELL - 2,
                height=CELL - 2,
                fill=fill,
                stroke=palette.LIGHT_GREY if cell is None else None,
            )
    width = max(GRID_LEFT + len(measures) * CELL + HEADER * 0.8, MIN_WIDTH)
    y: float = grid_top + len(rows) * CELL + 24
    if not measures:
        drawing.note("No measure matches these filters.", x=LEFT, y=y)
        y += 20
    elif not rows:
        drawing.note(f"No actor had taken a position on these measures {day}.", x=LEFT, y=y)
        y += 20
    y += _paging(drawing, page, y)
    keys = [Key(STANCE_LABELS[value], colour) for value, colour in palette.STANCE.items()]
    keys += [
        Key("uncertain (a position dated to the month or year)", drawing.hatch()),
        Key("no position", WHITE, "empty"),
    ]
    y += legend(drawing.root, keys, x=LEFT, y=y, width=width - 2 * LEFT)
    return drawing.svg(width=width, height=y + 8)


def _cell(drawing: Drawing, cell: dict[str, Any] | None) -> tuple[str, str, str]:
    """The cell's stance (``none``, ``uncertain`` or a stance), its fill and its tooltip."""
    if cell is None:
        return "none", WHITE, "no position"
    when = f"position of {date_text(_day(cell['date']), cell['date_precision'])}"
    basis = f", {cell['basis']}" if cell.get("basis") not in (None, "confirmed") else ""
    if cell["certain"]:
        stance = cell["stance"]
        return stance, palette.STANCE[stance], f"{STANCE_LABELS[stance]} ({when}{basis})"
    possible = " or ".join(
        "no position yet" if value is None else STANCE_LABELS[value]
        for value in cell["stance_possible"]
    )
    return "uncertain", drawing.hatch(), f"uncertain: {possible} ({when}{basis})"


def _day(value: Any) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def _paging(drawing: Drawing, page: dict[str, Any], y: float) -> float:
    """Which measures of how many the picture shows, with a link to the next page; the height
    used."""
    shown = len(page["measures"])
    used = 0.0
    if page.get("count") is not None and page["count"] > shown:
        drawing.note(f"{shown} of {page['count']} measures, in slug order.", x=LEFT, y=y)
        used += 20
    if page.get("next"):
        link = element(drawing.root, "a", href=page["next"], class_="next")
        element(link, "text", "Next page of measures", x=LEFT, y=y + used, fill=palette.BLUE)
        used += 20
    return used + (4 if used else 0)


def _description(measures: list[dict[str, Any]], rows: list[dict[str, Any]], day: str) -> str:
    stances = dict.fromkeys(STANCE_LABELS, 0)
    uncertain = empty = 0
    for row in rows:
        for measure in measures:
            cell = row["cells"].get(measure["slug"])
            if cell is None:
                empty += 1
            elif cell["certain"]:
                stances[cell["stance"]] += 1
            else:
                uncertain += 1
    total = len(rows) * len(measures)
    parts = [
        f"Stances {day} of {len(rows)} actors on {len(measures)} measures, one row per actor "
        f"and one column per measure."
    ]
    if total:
        found = counted((STANCE_LABELS[value], count) for value, count in stances.items())
        parts.append(
            f"Cells with a stance: {total - empty - uncertain}"
            + (f" ({found})" if found else "")
            + f"; uncertain: {uncertain}; no position: {empty}."
        )
    return " ".join(parts)
