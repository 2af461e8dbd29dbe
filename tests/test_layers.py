"""Which package may import which: ``tracker`` (sources and their refresh) and ``common`` (the
shared write steps) stand on their own; ``proposals`` builds on both, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"tracker": {"proposals"}, "common": {"proposals", "tracker"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_never_imports_the_ones_built_on_it(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in modules
        if imported_packages(path) & FORBIDDEN[package]
    }
    assert offending == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from proposals.models import Measure\n    import tracker\n")
    assert imported_packages(module) == {"proposals", "tracker"}
