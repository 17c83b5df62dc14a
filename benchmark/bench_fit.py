"""Fitting speed: a 3-minute track onto a cut, against the 20x-real-time target.

Run: .venv/bin/python benchmark/bench_fit.py [--minutes 3]

Makes a stereo 48 kHz track (a 100 BPM beat of kicks and hats over chords)
and a cut with a shot change every 2 to 8 beats at 97 BPM, then times
``fit`` (beat tracking, planning, Rubber Band stretching, assembly), best
of 2, and prints the real-time factor and its ratio to the target.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import best

from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
from vidmusician.core.rhythm.fit import OUT_SR, fit

TARGET_X = 20.0


def track(seconds: float, bpm: float = 100.0) -> np.ndarray:
    n = int(seconds * OUT_SR)
    t = np.arange(n) / OUT_SR
    chords = sum(0.05 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    y = chords.astype(np.float32)
    beat = 60.0 / bpm
    k = int(0.08 * OUT_SR)
    kick = (np.sin(2 * np.pi * 60 * np.arange(k) / OUT_SR) * np.exp(-np.arange(k) / (0.02 * OUT_SR))).astype(
        np.float32
    )
    for b in np.arange(0.25, seconds - 0.1, beat):
        i = int(b * OUT_SR)
        y[i : i + k] += 0.8 * kick[: len(y) - i]
    return np.stack([y, y * 0.98])


def features(duration: float) -> VideoFeatures:
    rng = np.random.default_rng(0)
    beat = 60 / 97
    times, t = [], 0.0
    while True:
        t += int(rng.integers(2, 9)) * beat
        if t > duration - 4:
            break
        times.append(round(t * 24) / 24)
    anchors = tuple(Anchor(x, "cut", 1.0) for x in times)
    tl = Timeline(
        "bench", 24.0, int(duration * 24), "00:00:00:00", (), (), anchors, InputSource("-", "otio_json")
    )
    n = int(duration * 25)
    curve = MotionCurve(0.04, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    return VideoFeatures(tl, curve, (), anchors)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    args = ap.parse_args()
    seconds = args.minutes * 60
    y = track(seconds)
    f = features(seconds)
    t = best(lambda: fit(y, f), 2)
    x = seconds / t
    print(
        f"fit of a {seconds:.0f} s track onto {len(f.anchors)} cuts: {t:.2f} s, {x:.1f}x real time "
        f"({x / TARGET_X:.2f}x the {TARGET_X:g}x target)"
    )


if __name__ == "__main__":
    main()
