"""The ``analyze`` and ``plan`` commands: what the picture offers the music,
and the tempo map planned on it."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

from .common import add_force, add_options, analyzed, check_outputs, emit_json, settings, warn_analysis

if TYPE_CHECKING:
    from .console import Console


def add_analyze(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "analyze",
        parents=[common],
        help="read a timeline or video: shots, cuts, markers",
        description="Read a timeline (.otio, .otioz, FCP 7 .xml, .edl) or a video and list its "
        "shots and the anchors the music will follow.",
    )
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    p.add_argument("--json", metavar="FILE|-", help="write the analysis as JSON ('-' = stdout)")
    p.add_argument("--plot", metavar="FILE.png", help="draw the shots, motion curve and anchors")
    add_options(p, "analyze")
    add_force(p)
    p.set_defaults(func=cmd_analyze)


def add_plan(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plan",
        parents=[common],
        help="plan a tempo map whose beats land on the cuts",
        description="Analyse INPUT and plan beats, bars and sections so that every cut falls on "
        "the grid (on a beat where the tempo limits allow).",
    )
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    p.add_argument("--json", metavar="FILE|-", help="write the plan as JSON ('-' = stdout)")
    p.add_argument(
        "--plot", metavar="FILE.png", help="draw the shots, the beat grid and where the cuts landed"
    )
    add_options(p, "plan")
    add_force(p)
    p.set_defaults(func=cmd_plan)


def cmd_analyze(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..analysis.analyze import to_json

    check_outputs(args, "json", "plot")
    feats, _ = analyzed(args, console, cancel, "analyze")
    if args.plot:
        from ..report.plot import plot

        plot(feats, args.plot, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        emit_json(to_json(feats), args.json, console, args.force)
        return 0
    _print_summary(feats, console)
    return 0


def _headline(tl: Any) -> str:
    """``NAME: 10 shots, 30 s (750 frames at 25 fps), record 01:00:00:00-01:00:30:00``."""
    from ..wording import RecordClock, duration, number, plural

    rc = RecordClock.of(tl)
    return (
        f"{tl.name}: {plural(len(tl.shots), 'shot')}, {duration(tl.duration_s)} "
        f"({plural(tl.duration_frames, 'frame')} at {number(tl.rate, 3)} fps), "
        f"record {rc.range(0, tl.duration_frames)}"
    )


def _print_summary(feats: Any, console: Console) -> None:
    from ..wording import RecordClock, anchor_counts, duration, plural

    tl = feats.timeline
    rc = RecordClock.of(tl)
    w = console.out
    print(_headline(tl), file=w)
    print(
        f"{'shot':>4}  {'record in':<11}  {'record out':<11}  {'length':>7}  {'kind':<9} {'mood (v, a)':<13} "
        f"{'style':<17} name",
        file=w,
    )
    for s, f in zip(tl.shots, feats.shots):
        flag = "" if s.media_found or not s.media else "  [media missing]"
        mood = f"{f.valence:+.2f} {f.arousal:+.2f}" if f.analysed else "-"
        print(
            f"{s.index:>4}  {rc.tc(s.start_frame):<11}  {rc.tc(s.end_frame):<11}  "
            f"{duration(s.end_s - s.start_s):>7}  {s.kind:<9} {mood:<13} {f.style:<17} {s.name}{flag}",
            file=w,
        )
    if not feats.anchors:
        print("no anchors: no cuts, markers or visual beats for the music to follow", file=w)
        return
    kinds = {a.kind for a in feats.anchors}
    counts = anchor_counts(a.kind for a in feats.anchors)
    print(counts + ":" if len(kinds) == 1 else f"{plural(len(feats.anchors), 'anchor')}: {counts}", file=w)
    print(f"  {'record':<11}  {'seconds':>8}  {'kind':<10} {'strength':<8}  label", file=w)
    for a in feats.anchors:
        print(f"  {rc.at(a.time_s):<11}  {a.time_s:8.2f}  {a.kind:<10} {a.strength:<8.2f}  {a.label}", file=w)


def cmd_plan(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..rhythm.planning import plan_input, plan_json

    check_outputs(args, "json", "plot")
    p, style, feats = plan_input(args.input, settings(args, "plan"), console.progress, cancel)
    warn_analysis(feats, console)
    for note in p.warnings:
        console.warn(note)
    if args.plot:
        from ..report.plot import plot

        plot(feats, args.plot, p, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    data = plan_json(p, style)
    if args.json is not None:
        emit_json(data, args.json, console, args.force)
        return 0
    _print_plan(data, feats.timeline, console)
    return 0


def _print_plan(data: dict[str, Any], tl: Any, console: Console) -> None:
    from ..wording import (
        LANDING_WORDS,
        RecordClock,
        bar_beat,
        bpm_range,
        hard_cuts,
        landing,
        landings,
        plural,
        sync_figures,
    )

    w = console.out
    rc = RecordClock.of(tl)
    tempi = data["bpm"] or [0.0]
    bars = len(data["downbeats_s"]) - 1
    print(
        f"{data['style']} in {data['meter']} at {bpm_range(min(tempi), max(tempi))} ({data['mode']} tempo): "
        f"{plural(len(data['beats_s']), 'beat')}, {plural(bars, 'bar') if bars else 'under one bar'}, "
        f"{plural(len(data['sections']), 'section')}",
        file=w,
    )
    cuts = hard_cuts(data)
    print(landings(data), file=w)
    if sync_figures(data):
        print(sync_figures(data), file=w)
    if cuts:
        print(f"  {'record':<11}  {'seconds':>8}  {'lands':<16} where", file=w)
    for a in cuts:
        on = landing(a, data)
        pos = bar_beat(float(a["time_s"]), data)
        where = ""
        if pos is not None:
            after = "after " if on in ("eighth", "sixteenth") else ""
            where = f"{f'bar {pos[0]}' if pos[0] else 'pickup'}, {after}beat {pos[1]}"
        if on == "missed":
            where = f"by {abs(float(a['offset_s'])) * 1000:.0f} ms"
        print(
            f"  {rc.at(a['time_s']):<11}  {float(a['time_s']):8.2f}  {LANDING_WORDS[on]:<16} {where}", file=w
        )
    print(f"{'section':>7}  {'record':<23}  {'bars':<11} intensity", file=w)
    for i, sec in enumerate(data["sections"]):
        first, n = sec["start_bar"] + 1, sec["bars"]
        span = f"bar {first}" if n == 1 else f"bars {first}-{first + n - 1}"
        rng = f"{rc.at(sec['start_s'])}-{rc.at(min(sec['end_s'], data['duration_s']))}"
        print(f"{i + 1:>7}  {rng:<23}  {span:<11} {sec['intensity']:.2f}", file=w)
