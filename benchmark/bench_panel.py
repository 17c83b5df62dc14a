"""Panel responsiveness: one repaint of the timeline view, against a 60 fps frame (16.7 ms).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmark/bench_panel.py [--shots 1000] [--minutes 30]

A made-up timeline of ``--shots`` shots over ``--minutes`` minutes, with a cut
anchor per shot, motion at 25 Hz, a beat grid at 120 BPM, a waveform of the
whole length and a thumbnail per shot, drawn into a 1500x420 view: the whole
timeline (fit), 60 s on screen and 5 s on screen. Best of 10 paints each;
the ratio to the frame budget is printed (below 1: a repaint fits in a frame).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from common import best
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtWidgets import QApplication

from vidmusician.ui.timeline_view import ENVELOPE_RATE, TimelineView, ViewData

FRAME_S = 1 / 60


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()
    app = QApplication([])
    duration = args.minutes * 60
    rng = np.random.default_rng(0)
    edges = np.sort(rng.uniform(0, duration, args.shots - 1))
    starts = np.concatenate([[0.0], edges])
    ends = np.concatenate([edges, [duration]])
    styles = ("cinematic", "rock", "ambient", "lo-fi")
    thumb = QImage(160, 90, QImage.Format.Format_RGB888)
    thumb.fill(QColor("#446688"))
    bins = int(duration * ENVELOPE_RATE)
    level = np.abs(np.sin(np.arange(bins) / 300.0)).astype(np.float32)
    data = ViewData(
        duration_s=duration,
        shots=[
            (i, float(a), float(b), "clip", styles[i % 4], f"s{i}")
            for i, (a, b) in enumerate(zip(starts, ends))
        ],
        anchors=[(float(t), "cut", 1.0) for t in edges],
        motion_hop_s=0.04,
        motion=rng.random(int(duration * 25)).astype(np.float32),
        beats=np.arange(0, duration, 0.5),
        downbeats=np.arange(0, duration, 2.0),
        envelope=np.stack([-level, level]),
        pieces=[(0.0, duration / 2, 1), (duration / 2, None, 2)],
        thumbnails={i: thumb for i in range(args.shots)},
    )
    view = TimelineView()
    view.resize(1500, 420)
    view.set_data(data)
    image = QImage(view.size(), QImage.Format.Format_ARGB32)

    def paint() -> None:
        p = QPainter(image)
        view.render(p)
        p.end()

    print(f"{args.shots} shots over {args.minutes:g} min, a 1500x420 view; one repaint, best of 10:")
    for label, span in (("whole timeline", duration), ("60 s on screen", 60.0), ("5 s on screen", 5.0)):
        view.pps = (view.width() - 8) / span
        view.t0 = duration / 2 - span / 2 if span < duration else 0.0
        t = best(paint, 10)
        print(
            f"  {label:16s} {t * 1000:6.1f} ms   / 60 fps frame ({FRAME_S * 1000:.1f} ms) = {t / FRAME_S:.2f}"
        )
    del app


if __name__ == "__main__":
    main()
