"""Long timelines: is reading, analysis and planning linear in the clips?

Run: .venv/bin/python benchmark/bench_long.py [--clips 10000 100000] [--runs 1]

Builds (once per size, in a temporary folder) an OTIO timeline of N clips
on one video track, each 0.5-2 s long (100,000 clips: 35 hours) and pointing at media that is offline
(the cuts still come from the timeline: the case of an editor's long cut
scored on a machine without the media), then times, best of ``--runs``:

  peer       otio.adapters.read_from_file of the same file (OTIO's own read)
  read       vidmusician.core.io.timeline.read_timeline (read, composite, media lookup, anchors)
  analysis   read + analyze_timeline (anchors, motion curve, per-shot descriptors)
  plan       the rhythm plan on the analysis (planning.plan_for, flexible tempo)

and prints each against the peer. ``make_long_timeline`` is also what
``tests/test_long_timelines.py`` scores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def make_long_timeline(path: Path, clips: int, seconds: float | None = None, rate: int = 24) -> Path:
    """An OTIO file of ``clips`` clips on V1 with offline media; lengths
    0.5-2 s drawn from a fixed seed, or all equal so that the cut is ``seconds`` long."""
    rng = np.random.default_rng(0)
    if seconds is None:
        frames = rng.integers(rate // 2, 2 * rate, clips)
    else:
        bounds = np.round(np.linspace(0, seconds * rate, clips + 1)).astype(int)
        frames = np.maximum(1, np.diff(bounds))
    t = otio.schema.Timeline(name=f"long {clips}", global_start_time=RT(86400 * rate, rate))
    tr = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, f in enumerate(frames):
        ref = otio.schema.ExternalReference(
            target_url=f"/offline/media/reel{i % 40:02d}.mov",
            available_range=TR(RT(0, rate), RT(100_000, rate)),
        )
        tr.append(
            otio.schema.Clip(
                name=f"shot{i}",
                media_reference=ref,
                source_range=TR(RT(10 * i % 50_000, rate), RT(int(f), rate)),
            )
        )
    t.tracks.append(tr)
    otio.adapters.write_to_file(t, str(path))
    return path


def timed(fn, runs: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()

    from vidmusician.core.analysis.features import AnalysisOptions, analyze_timeline
    from vidmusician.core.io.timeline import read_timeline
    from vidmusician.core.rhythm.planning import plan_for

    opts = AnalysisOptions(use_cache=False)
    print(
        f"{'clips':>8} {'length':>8} {'peer s':>8} {'read s':>8} {'analysis s':>11} {'plan s':>8}   ratios to the peer"
    )
    with tempfile.TemporaryDirectory() as d:
        for n in args.clips:
            path = make_long_timeline(Path(d) / f"long{n}.otio", n)
            peer, _ = timed(lambda p=path: otio.adapters.read_from_file(str(p)), args.runs)
            read, tl = timed(lambda p=path: read_timeline(str(p)), args.runs)
            ana, feats = timed(lambda p=path: analyze_timeline(read_timeline(str(p)), opts), args.runs)
            ana_only = max(0.0, ana - read)
            plan, _ = timed(lambda f=feats: plan_for(f), args.runs)
            hours = tl.duration_s / 3600
            print(
                f"{n:>8} {hours:>7.2f}h {peer:>8.2f} {read:>8.2f} {ana:>11.2f} {plan:>8.2f}   "
                f"read {read / peer:.2f}x, read+analysis {ana / peer:.2f}x "
                f"(analysis alone {ana_only / peer:.2f}x), plan {plan / peer:.2f}x"
            )
            sys.stdout.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
