"""The layout stays honest: core never imports its interfaces or the heavy stacks."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import REPO

FORBIDDEN_IN_CORE = (
    "vidmusician.ui",
    "vidmusician.resolve_plugin",
    "PyQt6",
    "PyQt5",
    "PySide6",
    "DaVinciResolveScript",
    "torch",
    "audiocraft",
    "torchaudio",
    "transformers",
)
NEURAL_MODULES = {"neural"}  # the one place allowed to import torch/audiocraft


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 1 and node.module:
            # relative: from ..ui import x inside core would climb out of core
            out.add("vidmusician." + node.module)
    return out


def test_core_source_imports_no_interface_and_no_heavy_stack():
    offenders = []
    for path in (REPO / "core").rglob("*.py"):
        if set(path.relative_to(REPO / "core").parts[:1]) & NEURAL_MODULES:
            continue
        for mod in imported_modules(path):
            if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                offenders.append(f"{path.relative_to(REPO)} imports {mod}")
    assert offenders == []


def test_core_imports_with_torch_and_qt_hidden():
    code = r"""
import sys, pkgutil, importlib
for name in ("torch", "audiocraft", "PyQt6", "PyQt6.QtWidgets", "torchaudio"):
    sys.modules[name] = None  # any import of these now fails
import vidmusician.core as core
for m in pkgutil.walk_packages(core.__path__, "vidmusician.core."):
    if m.name.endswith(".__main__"):  # python -m's entry: importing it runs the command
        continue
    try:
        importlib.import_module(m.name)
    except ImportError as e:  # the neural backend's torch modules need torch; nothing else may
        if not (m.name.startswith("vidmusician.core.neural.") and "torch" in str(e)):
            raise
from vidmusician.core.cli import main
assert main(["doctor", "--quiet"]) in (0, 1)
heavy = [n for n in ("torch", "PyQt6", "librosa") if sys.modules.get(n) is not None]
assert not heavy, heavy
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_package_layout_maps_top_level_folders():
    import vidmusician.core
    import vidmusician.resolve_plugin
    import vidmusician.ui

    assert vidmusician.core.__file__.startswith(str(REPO / "core"))
    assert vidmusician.ui.__file__.startswith(str(REPO / "ui"))
    assert vidmusician.resolve_plugin.__file__.startswith(str(REPO / "resolve_plugin"))


def test_ui_depends_on_core_only():
    offenders = []
    for path in (REPO / "ui").rglob("*.py"):
        for mod in imported_modules(path):
            bad = ("vidmusician.resolve_plugin", "torch", "audiocraft", "DaVinciResolveScript")
            if any(mod == f or mod.startswith(f + ".") for f in bad):
                offenders.append(f"{path.relative_to(REPO)} imports {mod}")
    assert offenders == []


def test_panel_command_comes_through_the_entry_point_and_says_when_qt_is_missing():
    code = r"""
import sys
for name in ("PyQt6", "PyQt6.QtWidgets"):
    sys.modules[name] = None
import io
from vidmusician.core.cli import main
err = io.StringIO()
print(main(["panel", "x.otio"], err=err), err.getvalue())
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("2 vidmusician: error: the panel needs PyQt6"), proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def _core_imports(path) -> list[tuple[int, str, list[str]]]:
    """Every ``vidmusician.core...`` import in ``path``: (line, module, names)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("vidmusician.core")]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("vidmusician.core")
        ):
            out.append((node.lineno, str(node.module), [a.name for a in node.names]))
    return out


def test_ui_and_resolve_plugin_import_the_facade_only():
    import vidmusician.core as core

    offenders = []
    for folder in ("ui", "resolve_plugin"):
        for path in (REPO / folder).rglob("*.py"):
            for line, mod, names in _core_imports(path):
                where = f"{path.relative_to(REPO)}:{line}"
                if mod != "vidmusician.core":
                    offenders.append(f"{where} imports {mod} (import it from vidmusician.core)")
                offenders += [f"{where}: vidmusician.core has no {n}" for n in names if n not in core.__all__]
    assert offenders == []
