"""Planner goldens: cut lists with the plans the planner makes of them, kept in
``tests/goldens/plan-*.json`` (PySceneDetect's pattern for its detectors).

Each case has two goldens: ``plan-NAME.json``, the default sync planner's
plan, and ``plan-NAME-exact.json``, the exact planner's (``--exact``, the
planner before the sync mode, whose plans these were). A change to the
planner that moves a beat shows up as a golden that no longer matches. When the change is meant, write the goldens again and read the diff::

    .venv/bin/python -m tests.plan_goldens        # rewrites tests/goldens/plan-*.json

Each case is a cut list made here (no media, no ../shared), so the goldens
hold on every machine that runs the suite.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vidmusician.core.model import Anchor
from vidmusician.core.rhythm.planner import plan
from vidmusician.core.rhythm.planning import plan_json

GOLDENS = Path(__file__).resolve().parent / "goldens"


def _cuts(times: Any, kind: str = "cut", strength: float = 1.0) -> list[Anchor]:
    return [Anchor(float(t), kind, strength) for t in times]


def _frames(times: Any, rate: float = 24.0) -> np.ndarray:
    return np.round(np.asarray(times, float) * rate) / rate


def _irregular(seed: int, n: int, lo: float, hi: float) -> np.ndarray:
    return _frames(np.cumsum(np.random.default_rng(seed).uniform(lo, hi, n)))


def _montage() -> list[Anchor]:
    """A fast montage: 25 cuts 0.5-1.2 s apart (the rhythm issue's hard case)."""
    return _cuts(_irregular(21, 25, 0.5, 1.2))


def _mixed() -> list[Anchor]:
    """Cuts, a dissolve, a marker, a through edit and visual beats together."""
    times = _irregular(5, 9, 1.5, 4.0)
    out = _cuts(times)
    out += [Anchor(float(times[3] + 0.9), "transition", 0.6, "dissolve", 0.5)]
    out += [Anchor(float(times[5] + 1.1), "marker", 0.8, "hit")]
    out += [Anchor(float(times[6] + 0.7), "cut", 0.25, "through edit")]
    out += [Anchor(float(t), "motion", 0.5, "visual beat") for t in times[:-1] + 0.6]
    return sorted(out, key=lambda a: a.time_s)


#: name -> (anchors, duration_s, keyword arguments of :func:`~vidmusician.core.rhythm.planner.plan`)
CASES: dict[str, Callable[[], tuple[list[Anchor], float, dict[str, Any]]]] = {
    "regular-120": lambda: (_cuts(np.arange(2, 30, 2.0)), 30.0, {"bpm_range": (90, 130)}),
    "irregular": lambda: (_cuts(_irregular(3, 15, 1.5, 4.0)), float(_irregular(3, 15, 1.5, 4.0)[-1] + 3), {}),
    "slow-long-shot": lambda: (_cuts(_frames([4.2, 9.7, 40.9, 46.3, 52.0])), 58.0, {"bpm_range": (70, 110)}),
    "montage": lambda: (_montage(), float(_irregular(21, 25, 0.5, 1.2)[-1] + 2), {"bpm_range": (110, 160)}),
    "mixed-kinds": lambda: (_mixed(), float(_irregular(5, 9, 1.5, 4.0)[-1] + 4), {}),
    "waltz": lambda: (
        _cuts(_irregular(8, 10, 2.0, 3.5)),
        float(_irregular(8, 10, 2.0, 3.5)[-1] + 3),
        {"meter": "3/4"},
    ),
    "six-eight": lambda: (
        _cuts(_irregular(9, 8, 2.0, 4.0)),
        float(_irregular(9, 8, 2.0, 4.0)[-1] + 3),
        {"meter": "6/8"},
    ),
    "no-cuts": lambda: ([], 12.0, {}),
}


def make(name: str, exact: bool = False) -> dict[str, Any]:
    """The ``plan --json`` record of case ``name`` (``exact``: with ``--exact``)."""
    anchors, duration, kw = CASES[name]()
    return plan_json(plan(anchors, duration, exact=exact, **kw), "golden")


def path(name: str, exact: bool = False) -> Path:
    return GOLDENS / f"plan-{name}{'-exact' if exact else ''}.json"


def main() -> int:
    GOLDENS.mkdir(exist_ok=True)
    for name in CASES:
        for exact in (False, True):
            path(name, exact).write_text(json.dumps(make(name, exact), indent=1) + "\n")
            print(f"wrote {path(name, exact)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
