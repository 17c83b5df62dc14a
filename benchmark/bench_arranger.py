"""Arranger speed: a 3-minute timeline, all stems and the mix, against the 50x-real-time target.

Run: .venv/bin/python benchmark/bench_arranger.py [--minutes 3] [--style corporate-upbeat]

A cut every 2-6 s with motion rising and falling; the plan and the
arrangement (composition, SoundFont rendering of five stems, effects,
loudness and true-peak bus) are timed, best of 2.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import best

from vidmusician.core.backends.arranger import arrange
from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
from vidmusician.core.rhythm.planner import plan

TARGET_X = 50.0


def features(duration: float) -> VideoFeatures:
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(2, 6, int(duration / 2)))
    times = np.round(times[times < duration - 3] * 24) / 24
    anchors = tuple(Anchor(float(t), "cut", 1.0) for t in times)
    tl = Timeline(
        "bench", 24.0, int(duration * 24), "00:00:00:00", (), (), anchors, InputSource("-", "otio_json")
    )
    n = int(duration * 25)
    values = 0.5 + 0.45 * np.sin(np.arange(n) / n * 6 * np.pi)
    return VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), anchors)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--style", default="corporate-upbeat")
    args = ap.parse_args()
    seconds = args.minutes * 60
    f = features(seconds)
    p = plan(f.anchors, seconds, (100, 128), motion=f.motion)
    t = best(lambda: arrange(p, f, args.style, seed=1), 2)
    x = (seconds + p.ring_out_s) / t
    print(
        f"arranged {seconds:.0f} s ({args.style}, {len(f.anchors)} cuts, 5 stems + mix): {t:.2f} s, "
        f"{x:.1f}x real time ({x / TARGET_X:.2f}x the {TARGET_X:g}x target)"
    )


if __name__ == "__main__":
    main()
