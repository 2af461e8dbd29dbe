"""Reading back the SVG pictures the service draws."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse(response: Any) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    return ET.fromstring(response.content)  # noqa: S314  # the service's own output


def tooltip(node: ET.Element) -> str:
    title = node.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def grid(svg: ET.Element) -> dict[tuple[str, str], tuple[str, str]]:
    """(actor, measure) → (stance, fill) of every cell."""
    return {
        (row.get("data-actor", ""), cell.get("data-measure", "")): (
            cell.get("data-stance", ""),
            cell.get("fill", ""),
        )
        for row in svg.iter(f"{SVG}g")
        if row.get("class") == "row"
        for cell in row.iter(f"{SVG}rect")
    }
