"""The layer rule of the brief: core, store and net import neither Qt nor VTK (nor each other
upwards), render has no Qt, and only ui imports PySide6. Checked on the source (every import
statement, including ones inside functions) so a lazy import cannot sneak past."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VIEWER = Path(__file__).resolve().parent.parent / "viewer"

FORBIDDEN = {
    "core": ("PySide6", "vtk", "vtkmodules", "sqlite3", "pynetdicom", "viewer.store", "viewer.net",
             "viewer.render", "viewer.ui", "viewer.app", "viewer.services"),
    "store": ("PySide6", "vtk", "vtkmodules", "viewer.net", "viewer.render", "viewer.ui", "viewer.app"),
    "net": ("PySide6", "vtk", "vtkmodules", "sqlite3", "viewer.store", "viewer.render", "viewer.ui",
            "viewer.app"),
    "render": ("PySide6", "sqlite3", "pynetdicom", "viewer.store", "viewer.net", "viewer.ui", "viewer.app"),
}


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    files = sorted((VIEWER / layer).rglob("*.py"))
    assert files, f"viewer/{layer} has no modules"
    offences = [
        f"{f.relative_to(VIEWER.parent)} imports {name}"
        for f in files
        for name in imported_modules(f)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert not offences, "\n".join(offences)


def test_only_ui_imports_pyside6() -> None:
    offences = [
        str(f.relative_to(VIEWER.parent))
        for f in VIEWER.rglob("*.py")
        if "ui" not in f.relative_to(VIEWER).parts[:1]
        and any(n.startswith("PySide6") for n in imported_modules(f))
    ]
    assert not offences, f"PySide6 imported outside viewer/ui: {offences}"


def test_the_rule_catches_an_offender(tmp_path: Path) -> None:
    """The checker itself must be able to fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6 import QtCore\n")
    assert "PySide6" in imported_modules(bad)
