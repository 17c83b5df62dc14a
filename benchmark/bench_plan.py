"""Planning speed: a two-hour timeline with 3,000 cuts, against the 1-second limit.

Run: .venv/bin/python benchmark/bench_plan.py [--cuts 3000] [--hours 2]

Cuts are placed at random gaps (frame-accurate at 24 fps) filling the
duration; the three planner modes (sync, the default; --exact; --flex 0)
are timed, best of 3, and the share of cuts that landed on the grid (sync:
within the sync window of a grid point; within 40 ms of a beat in brackets)
is printed with the ratio to the limit.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from common import best

from vidmusician.core.model import Anchor
from vidmusician.core.rhythm.planner import plan

LIMIT_S = 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuts", type=int, default=3000)
    ap.add_argument("--hours", type=float, default=2.0)
    args = ap.parse_args()
    duration = args.hours * 3600
    rng = np.random.default_rng(0)
    gaps = rng.uniform(0.3, 1.7, args.cuts + 1)
    times = np.cumsum(gaps / gaps.sum() * duration)[:-1]
    times = np.round(times * 24) / 24
    anchors = [Anchor(float(t), "cut", 1.0) for t in times]
    print(f"{args.cuts} cuts over {duration / 3600:g} h")
    modes: tuple[tuple[str, dict[str, Any]], ...] = (
        ("sync (DP)", {}),
        ("exact (DP)", {"exact": True}),
        ("constant", {"flex": 0.0}),
    )
    for name, kw in modes:
        t = best(lambda kw=kw: plan(anchors, duration, (90, 130), **kw), 3)
        p = plan(anchors, duration, (90, 130), **kw)
        print(
            f"{name:<10} {t:6.3f} s  ({t / LIMIT_S:.2f}x the {LIMIT_S:g} s limit), "
            f"{len(p.beats_s)} beats, cuts on the grid: {p.hits():.3f} "
            f"(on a beat: {p.cut_landings()['beat']:.3f}, beat CV {p.beat_cv():.3f})"
        )


if __name__ == "__main__":
    main()
