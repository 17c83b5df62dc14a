"""The planner against its goldens (``tests/goldens/plan-*.json``, written by
``python -m tests.plan_goldens``): a change that moves a beat must be meant."""

from __future__ import annotations

import json
import math

import pytest

from . import plan_goldens


def _close(a, b, where="plan") -> list[str]:
    """Differences between two JSON values, floats to 1e-6 (the goldens' rounding)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _close(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items, golden {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{where}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        return [] if math.isclose(a, b, abs_tol=2e-6) else [f"{where}: {a} != golden {b}"]
    return [] if a == b else [f"{where}: {a!r} != golden {b!r}"]


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("name", sorted(plan_goldens.CASES))
def test_the_plan_matches_its_golden(name, exact):
    golden = json.loads(plan_goldens.path(name, exact).read_text())
    diffs = _close(plan_goldens.make(name, exact), golden)
    assert not diffs, f"{len(diffs)} differences (python -m tests.plan_goldens rewrites them):\n" + "\n".join(
        diffs[:20]
    )


def test_every_golden_has_a_case_and_the_comparison_sees_a_moved_beat():
    assert {p.stem.removeprefix("plan-") for p in plan_goldens.GOLDENS.glob("plan-*.json")} == set(
        plan_goldens.CASES
    ) | {f"{name}-exact" for name in plan_goldens.CASES}
    golden = json.loads(plan_goldens.path("irregular").read_text())
    moved = json.loads(json.dumps(golden))
    moved["beats_s"][3] += 0.001
    assert _close(moved, golden) == [
        f"plan.beats_s[3]: {moved['beats_s'][3]} != golden {golden['beats_s'][3]}"
    ]
