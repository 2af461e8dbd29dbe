"""Copy the screenshots of an end-to-end run into the docs, made small.

    python -m tests.e2e.screenshots ARTIFACTS DOCS_IMAGES

Every ``<flow>-<step>.png`` of ARTIFACTS (not the ``failure-*`` ones) is written to
DOCS_IMAGES at its 1366x768 size, as an optimised palette PNG: exactly, when the page shows at
most 256 colours; otherwise reduced to 256 without dithering, which keeps text and flat
colours sharp. ``python3 dev.py screenshots`` runs the flows and then this.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

COLOURS = 256


def small(image: Image.Image) -> Image.Image:
    rgb = image.convert("RGB")
    colours = rgb.getcolors(COLOURS)  # None: more colours than that
    if colours is not None:
        palette = Image.new("P", (1, 1))
        palette.putpalette([channel for _, colour in colours for channel in colour])
        return rgb.quantize(palette=palette, dither=Image.Dither.NONE)
    return rgb.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def copy_screenshots(source: Path, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("*.png")):
        if path.name.startswith("failure-"):
            continue
        with Image.open(path) as image:
            small(image).save(target / path.name, optimize=True)
        written.append(target / path.name)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    written = copy_screenshots(Path(argv[0]), Path(argv[1]))
    if not written:
        print(f"no screenshots in {argv[0]}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in written)
    print(f"{len(written)} screenshots, {size // 1024} KiB, in {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
