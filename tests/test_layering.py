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


# --------------------------------------------------------------------------- the data flow

#: The stages in data-flow order: a module may import its own stage and those
#: before it, never one after it (function-level imports included). ``neural``
#: is the one torch seam and serves two stages: CLIP for the analysis, MusicGen
#: for the backends; training is a pipeline of its own, beside the session's.
STAGES: tuple[tuple[str, ...], ...] = (
    ("errors", "units", "progress", "fsutil", "wording", "model"),
    ("styles", "style_types", "style_builtin"),
    ("io",),
    ("neural", "neural.status", "neural.clip", "neural.clip_convert"),
    ("analysis",),
    ("rhythm",),
    ("backends", "neural.backend", "neural.conditioning", "neural.adapters", "neural.musicgen"),
    ("writeback",),
    ("report",),
    ("options", "session", "neural.train"),
    ("demo", "doctor", "cli"),
)


def _core_graph(with_function_level: bool) -> dict[str, set[str]]:
    """core module (dotted, relative to core; '' is the package) -> the core modules it imports.

    Imports under ``if TYPE_CHECKING:`` are left out (they never run)."""
    root = REPO / "core"
    mods = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)

    def typing_only(tree):
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                out.update(id(n) for b in node.body for n in ast.walk(b))
        return out

    graph = {}
    for name, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text())
        skip = typing_only(tree)
        nodes = ast.walk(tree) if with_function_level else iter(tree.body)
        deps = set()
        for node in nodes:
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    if not (node.module or "").startswith("vidmusician.core"):
                        continue
                    base = node.module[len("vidmusician.core") :].lstrip(".")
                else:
                    pkg = name.split(".") if name else []
                    if not is_pkg:
                        pkg = pkg[:-1]
                    pkg = pkg[: len(pkg) - (node.level - 1)]
                    base = ".".join(pkg + ([node.module] if node.module else []))
                for a in node.names:
                    sub = f"{base}.{a.name}".lstrip(".")
                    deps.add(sub if sub in mods else base)
            elif isinstance(node, ast.Import):
                deps.update(
                    a.name[len("vidmusician.core.") :]
                    for a in node.names
                    if a.name.startswith("vidmusician.core.")
                )
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _stage(module: str) -> int:
    best, rank = "", -1
    for i, names in enumerate(STAGES):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > len(best):
                best, rank = n, i
    assert rank >= 0, f"core.{module} belongs to no stage: add it to STAGES"
    return rank


def test_no_core_module_imports_a_later_stage():
    offenders = []
    for mod, deps in _core_graph(with_function_level=True).items():
        if not mod:
            continue  # the facade imports every stage, lazily
        for dep in deps:
            if dep and _stage(dep) > _stage(mod):
                offenders.append(f"core.{mod} imports core.{dep}, a later stage")
    assert offenders == []


def test_only_the_version_comes_from_the_facade():
    """Modules inside core import nothing from the facade but ``__version__``
    (its own submodules, ``from .. import units``, are not the facade)."""
    core = REPO / "core"
    subs = {p.stem for p in core.glob("*.py")} | {
        p.name for p in core.iterdir() if (p / "__init__.py").exists()
    }
    offenders = []
    for path in (REPO / "core").rglob("*.py"):
        if path == REPO / "core" / "__init__.py":
            continue
        depth = len(path.relative_to(REPO / "core").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == depth and not node.module:
                offenders += [
                    f"{path.relative_to(REPO)}: {a.name}"
                    for a in node.names
                    if a.name not in subs | {"__version__"}
                ]
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "vidmusician.core":
                offenders += [f"{path.relative_to(REPO)}: {a.name}" for a in node.names if a.name not in subs]
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_core_modules():
    graph = {m: {d for d in deps if d} for m, deps in _core_graph(with_function_level=True).items() if m}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_600_lines_and_no_function_over_80():
    """The redesign's size rule (issue 16), for core, the panel and the Resolve bridge."""
    too_long = []
    for folder in ("core", "ui", "resolve_plugin"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            if text.count("\n") > 600:
                too_long.append(f"{path.relative_to(REPO)}: {text.count(chr(10))} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > 80:
                        too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {n} lines")
    assert too_long == []
