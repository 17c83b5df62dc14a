"""The facade (``vidmusician.core``): every name it lists resolves, importing
it costs nothing heavy, and ``score``/``analyze``/``fit`` are both the modules
and the functions."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import REPO

HEAVY = ("cv2", "librosa", "torch", "audiocraft", "numba", "scipy", "PyQt6")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_facade_imports_nothing_heavy():
    out = _run(
        "import sys\nimport vidmusician.core\n"
        f"print(sorted(n for n in {HEAVY!r} + ('numpy', 'opentimelineio') if n in sys.modules))"
    )
    assert out == "[]"


def test_session_records_and_errors_come_without_the_analysis_stack():
    out = _run(
        "import sys\nfrom vidmusician.core import Session, Take, VidMusicianError, plural, options\n"
        f"print(sorted(n for n in {HEAVY!r} if n in sys.modules))"
    )
    assert out == "[]"


def test_the_pipeline_names_import_and_work():
    from vidmusician.core import AVAILABLE_BACKENDS, Session, analyze, plan, regenerate, score
    from vidmusician.core.session.retake import regenerate as regenerate_fn

    assert callable(score) and callable(analyze) and callable(plan)
    assert regenerate is regenerate_fn
    assert Session.load.__qualname__ == "Session.load"
    assert "arranger" in AVAILABLE_BACKENDS


def test_every_listed_name_resolves_and_mypy_sees_it():
    import vidmusician.core as core

    lazy = set(core._LAZY)
    assert set(core.__all__) == lazy | {"__version__"}
    for name in core.__all__:
        assert getattr(core, name) is not None, name
    assert set(core.__all__) <= set(dir(core))
    # the TYPE_CHECKING block names every lazy name (mypy and editors see them all)
    tree = ast.parse((REPO / "core" / "__init__.py").read_text())
    (block,) = [
        n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    ]
    seen = set()
    for node in ast.walk(block):
        if isinstance(node, ast.ImportFrom):
            seen.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.AnnAssign):
            seen.add(node.target.id)  # type: ignore[attr-defined]
    assert seen == lazy


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    import vidmusician.core as core

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        core.nothing_here  # noqa: B018
    with pytest.raises(ImportError):
        exec("from vidmusician.core import nothing_here", {})


def test_score_analyze_and_fit_are_the_pipeline_functions():
    from vidmusician.core import analyze, fit, score
    from vidmusician.core.analysis.analyze import analyze as analyze_fn
    from vidmusician.core.rhythm.fit import fit as fit_fn
    from vidmusician.core.session.pipeline import score as score_fn

    assert (score, analyze, fit) == (score_fn, analyze_fn, fit_fn)


def test_no_module_shadows_a_facade_function():
    """No module of the package itself is named like a facade function, so
    importing a module never replaces the function on the package."""
    out = _run(
        "import vidmusician.core.rhythm.fit, vidmusician.core.analysis.analyze, vidmusician.core.session.pipeline\n"
        "import pkgutil, vidmusician.core as c\n"
        "subs = {m.name for m in pkgutil.iter_modules(c.__path__)}\n"
        "from vidmusician.core import fit, analyze, score, plan, regenerate, evaluate, export\n"
        "fns = [fit, analyze, score, plan, regenerate, evaluate, export]\n"
        "print(all(callable(f) and type(f).__name__ == 'function' for f in fns), sorted(subs & {f.__name__ for f in fns}))"
    )
    assert out == "True []"
