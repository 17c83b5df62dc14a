"""The tool commands: ``eval`` (how well a music file fits the cut), ``fit``
(warp a music file onto the cuts), ``cache``, ``doctor`` and ``demo``."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

from .common import add_force, add_options, add_result_args, analyzed, check_outputs, emit_json, settings

if TYPE_CHECKING:
    from .console import Console


def add_eval(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval",
        parents=[common],
        help="measure how well a music file fits the cut",
        description="Beat-track AUDIO (which starts at INPUT's first frame) and measure it against "
        "INPUT's cuts and motion: cut_beat_hit, cut_accent (with chance levels), energy_corr, tempo; "
        "BCS and BHS against --reference.",
    )
    p.add_argument("audio", metavar="AUDIO", help="the music (WAV, FLAC, MP3, ...)")
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    p.add_argument("--json", metavar="FILE|-", help="write the figures as JSON ('-' = stdout)")
    p.add_argument("--reference", metavar="AUDIO", help="reference music for BCS and BHS")
    add_options(p, "eval")
    add_force(p, "a --json file")
    p.set_defaults(func=cmd_eval)


def add_fit(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "fit",
        parents=[common],
        help="warp an existing music file so its beats land on the cuts",
        description="Beat-track MUSIC, plan a tempo map near its tempo, and time-stretch it piece by "
        "piece (within --stretch) so its beats land on INPUT's cuts; bars are dropped or repeated "
        "where it is too long or short. Writes a new folder OUT.",
    )
    p.add_argument("music", metavar="MUSIC", help="the music (WAV, FLAC, MP3, ...)")
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    add_result_args(p)
    add_options(p, "fit")
    p.set_defaults(func=cmd_fit)


def add_cache(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cache",
        parents=[common],
        help="where the cache is and what it holds (--info), or empty it (--clear)",
        description="VidMusician's cache: unpacked .otioz bundles, analysis results, prepared training "
        "items, under one size limit (VIDMUSICIAN_CACHE_LIMIT, default 5G; the bundles used longest ago go "
        "first). --clear removes what can be made again; trained adapters are kept.",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--info", action="store_true", help="where, how big, how many entries (the default)")
    what.add_argument("--clear", action="store_true", help="remove everything the cache can make again")
    p.set_defaults(func=cmd_cache)


def add_doctor(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "doctor", parents=[common], help="what is installed and usable (backends, weights, Qt, GPU)"
    )
    p.set_defaults(func=cmd_doctor)


def add_demo(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="make a demo cut (video + timeline) and score it",
        description="Write a demo cut (media made with OpenCV, an OTIO and an FCP 7 XML "
        "timeline) into OUT, then run the pipeline on it.",
    )
    p.add_argument("out", metavar="OUT", help="a new folder for the demo")
    p.set_defaults(func=cmd_demo)


def cmd_eval(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..report.metrics import evaluate, load_audio
    from ..rhythm.planner import hard_cut_times

    check_outputs(args, "json")
    y = load_audio(args.audio)
    ref = load_audio(args.reference) if args.reference else None
    feats, _ = analyzed(args, console, cancel, "eval")
    cuts = hard_cut_times(feats.anchors)
    m = evaluate(y, cuts, feats.timeline.duration_s, feats.motion, ref)
    data = {"audio": str(args.audio), "input": feats.timeline.source.path, **m.to_json()}
    if args.json is not None:
        emit_json(data, args.json, console, args.force)
        return 0
    _print_eval(data, console)
    return 0


def _print_eval(m: dict[str, Any], console: Console) -> None:
    from ..wording import accent, beat_hits, bpm, plural, sync_heard

    corr = m.get("energy_corr")
    both = m.get("bcs") is not None and m.get("bhs") is not None
    rows = [
        (f"tempo {bpm(m['tempo_bpm'])} ({plural(m['n_beats'], 'beat')} tracked)", "tempo_bpm"),
        (beat_hits(m), "cut_beat_hit"),
        (sync_heard(m) or "no cuts to follow", "cut_sync_hit, beat_cv"),
        (
            f"onsets at the cuts {accent(m)}" if m.get("cut_accent") is not None else "no cuts to accent",
            "cut_accent",
        ),
        (
            f"loudness follows the motion: {corr:+.2f} (Spearman, 1-second windows)"
            if corr is not None
            else "loudness against motion not measured: one of them is flat",
            "energy_corr",
        ),
        (
            f"BCS {m['bcs']:.2f}, BHS {m['bhs']:.2f} ({m['bcs_bhs_variant']})"
            if both
            else "no reference to compare with (--reference AUDIO)",
            "bcs, bhs",
        ),
    ]
    w = console.out
    width = max(len(text) for text, _ in rows)
    print(f"{m['audio']} against {m['input']}:", file=w)
    for text, key in rows:
        print(f"  {text:<{width}}  [{key}]", file=w)


def cmd_fit(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..session.fitting import fit_input
    from ..wording import bpm, heard, plural, span

    done = fit_input(args.music, args.input, args.output, settings(args, "fit"), console.progress, cancel)
    console.close()
    result, feats = done.result, done.features
    for note in [*feats.timeline.warnings, *feats.warnings, *result.warnings, *done.report.get("notes", [])]:
        console.warn(note)
    lo, hi = result.stretch_range
    print(
        f"fitted {args.music} ({bpm(result.music_tempo_bpm)}) to the cut: stretched "
        f"{span(lo, hi, 3)}x, {plural(result.bars_dropped, 'bar')} dropped, "
        f"{plural(result.bars_repeated, 'bar')} repeated\n"
        f"heard: {heard(done.report['metrics'])}\n"
        f"wrote {done.out}",
        file=console.out,
    )
    return 0


def cmd_cache(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..io import cache

    if args.clear:
        print(cache.clear_line(), file=console.out)
    else:
        print("\n".join(cache.info_lines()), file=console.out)
    return 0


def cmd_doctor(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..doctor import checks
    from ..session.settings import backend_settings, options_from
    from .common import settings

    # the config file's settings, as score would read them (no flags: doctor has none of score's)
    ok = True
    for row in checks(backend_settings(options_from(settings(args, "score")), None)):
        mark = {"ok": "ok  ", "missing": "--  ", "error": "FAIL"}[row.status]
        ok &= row.status != "error"
        print(f"{mark} {row.name:<26} {row.detail}", file=console.out)
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..demo import run_demo

    summary = run_demo(args.out, progress=console.progress, cancel=cancel, note=console.note)
    console.close()
    print(summary, file=console.out)
    return 0
