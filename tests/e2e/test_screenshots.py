"""The screenshots copied into the docs: palette PNGs, exact when the page has few colours."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .screenshots import copy_screenshots


def test_a_page_of_few_colours_is_copied_exactly_and_failures_are_left_out(
    tmp_path: Path,
) -> None:
    page = Image.new("RGB", (1366, 768), (255, 255, 255))
    page.paste((65, 118, 144), (0, 0, 1366, 48))  # a header
    page.paste((0, 114, 178), (300, 200, 400, 220))  # a badge
    (tmp_path / "run").mkdir()
    page.save(tmp_path / "run" / "login-1-form.png")
    page.save(tmp_path / "run" / "failure-test_login-0.png")

    written = copy_screenshots(tmp_path / "run", tmp_path / "docs")

    assert [path.name for path in written] == ["login-1-form.png"]
    with Image.open(written[0]) as copied:
        assert (copied.mode, copied.size) == ("P", (1366, 768))
        assert copied.convert("RGB").tobytes() == page.tobytes()


def test_a_page_of_many_colours_is_reduced_to_a_palette(tmp_path: Path) -> None:
    page = Image.new("RGB", (512, 512))
    page.frombytes(
        bytes(c for y in range(512) for x in range(512) for c in (x % 256, y % 256, (x + y) % 256))
    )
    page.save(tmp_path / "docs-1-gradient.png")

    (written,) = copy_screenshots(tmp_path, tmp_path / "docs")

    with Image.open(written) as copied:
        assert copied.mode == "P"
        assert len(copied.convert("RGB").getcolors(256) or []) > 1
