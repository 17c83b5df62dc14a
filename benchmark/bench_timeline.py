"""How fast is timeline reading, against OpenTimelineIO's own read + flatten?

Run: .venv/bin/python benchmark/bench_timeline.py [--clips N]

Builds a long made-up edit (N clips on V1, an insert on V2 over every third
clip, a title on V3 over every tenth, markers on every clip) and the shared
real timelines, then times
  peer: otio.adapters.read_from_file + otio.algorithms.flatten_stack
  ours: vidmusician.core.io.timeline.read_timeline (read, composite, media lookup, anchors)
and prints the ratio ours/peer. Both read the file from disk, best of 3 runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import opentimelineio as otio
from common import best

from vidmusician.core.io.timeline import read_timeline

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "timelines"


def long_edit(n: int) -> otio.schema.Timeline:
    t = otio.schema.Timeline(name=f"long {n}", global_start_time=RT(86400, 24))
    v1, v2, v3 = (otio.schema.Track(name=f"V{i}", kind="Video") for i in (1, 2, 3))
    for i in range(n):
        c = otio.schema.Clip(
            name=f"shot{i}",
            media_reference=otio.schema.ExternalReference(f"/media/shot{i % 50}.mov"),
            source_range=TR(RT(100 + i, 24), RT(24 + i % 13, 24)),
        )
        c.markers.append(otio.schema.Marker(name="m", marked_range=TR(RT(101 + i, 24), RT(0, 24))))
        v1.append(c)
        d = c.source_range.duration
        if i % 3 == 0:
            v2.append(otio.schema.Clip(name=f"ins{i}", source_range=TR(RT(0, 24), RT(8, 24))))
            v2.append(otio.schema.Gap(source_range=TR(RT(0, 24), d - RT(8, 24))))
        else:
            v2.append(otio.schema.Gap(source_range=TR(RT(0, 24), d)))
        if i % 10 == 0:
            v3.append(otio.schema.Clip(name=f"title{i}", source_range=TR(RT(0, 24), d)))
        else:
            v3.append(otio.schema.Gap(source_range=TR(RT(0, 24), d)))
    for tr in (v1, v2, v3):
        t.tracks.append(tr)
    return t


def peer(path: Path, kw: dict) -> None:
    t = otio.adapters.read_from_file(str(path), **kw)
    flat = otio.algorithms.flatten_stack(t.video_tracks())
    list(flat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cases = []
        p = Path(d) / "long.otio"
        otio.adapters.write_to_file(long_edit(args.clips), str(p))
        cases.append((p, None))
        if SHARED.is_dir():
            for f in ("multitrack.otio", "nested_example.otio", "hiero_xml_export.xml", "25fps.edl"):
                cases.append((SHARED / f, 25 if f == "25fps.edl" else None))
        print(f"{'timeline':<28} {'shots':>6} {'peer ms':>9} {'ours ms':>9} {'ours/peer':>10}")
        for path, rate in cases:
            kw = {"rate": rate} if rate else {}
            tl = read_timeline(path, rate)
            t_peer = best(lambda: peer(path, kw), 3)  # noqa: B023
            t_ours = best(lambda: read_timeline(path, rate), 3)  # noqa: B023
            print(
                f"{path.name:<28} {len(tl.shots):>6} {t_peer * 1e3:>9.1f} {t_ours * 1e3:>9.1f} "
                f"{t_ours / t_peer:>9.2f}x"
            )


if __name__ == "__main__":
    main()
