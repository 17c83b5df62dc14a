"""The ``vidmusician`` command line: a thin wrapper around ``core``.

Errors that VidMusician raises on purpose print one clear message and exit
with status 2; ``--debug`` (or ``VIDMUSICIAN_DEBUG=1``) shows the traceback.
Progress bars appear on work that takes over a second; ``--quiet`` silences
them and the notes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import __version__, options
from ..errors import Cancelled, OptionError, VidMusicianError

#: Plain progress lines (stderr not a terminal): none before this many seconds,
#: and a label that only counts on at most once in PLAIN_REPEAT_S.
PLAIN_DELAY_S = 1.0
PLAIN_REPEAT_S = 30.0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Console:
    """Where a command writes: notes and bars to stderr, results to stdout."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._bar: Any = None
        self.tty = _isatty(self.err)
        self._started: float | None = None
        self._said: tuple[str, str, float] | None = None  # plain lines: label, its shape, when

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.err)  # above the bar, not through it
        else:
            print(text, file=self.err)

    def note(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def warn(self, text: str) -> None:
        """Warnings show even with --quiet: they are about the user's files."""
        self._print(f"warning: {text}")

    def progress(self, fraction: float, label: str = "") -> None:
        """A ``core`` progress callback: a tqdm bar after one second on a
        terminal; elsewhere (a log, a pipe) a plain line as each stage starts."""
        if self.quiet:
            return
        if not self.tty:
            self._plain(fraction, label or "working")
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=1000,
                delay=1.0,
                file=self.err,
                leave=False,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
            )
        bar, label = self._bar, label or "working"
        changed = label != bar.desc
        bar.set_description_str(label, refresh=False)
        bar.update(int(fraction * 1000) - bar.n)
        if changed and time.time() - bar.start_t >= bar.delay:
            bar.refresh()  # a new stage shows at once, however small its step

    def _plain(self, fraction: float, label: str) -> None:
        """One line per stage (the label up to a colon: ``measuring the music:
        tracking beats`` is a step of ``measuring the music``), none in the
        first second and none for the end; a label that only counts on
        (``step 12, 40 s left``) at most every 30 s."""
        now = time.monotonic()
        if self._started is None:
            self._started = now
        if fraction >= 1.0 or now - self._started < PLAIN_DELAY_S:
            return
        label = label.split(":")[0].strip() or label
        shape = re.sub(r"\d+(\.\d+)?", "#", label)
        if self._said is not None:
            said, said_shape, when = self._said
            if label == said or (shape == said_shape and now - when < PLAIN_REPEAT_S):
                return
        self._said = (label, shape, now)
        print(f"{label} ({int(fraction * 100)}%, {int(now - self._started)} s)", file=self.err, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# --------------------------------------------------------------------------- commands


def _add_options(p: argparse.ArgumentParser, command: str) -> None:
    """Flags from the one options table (``core.options``)."""
    for opt in options.for_command(command):
        kwargs: dict[str, Any] = {"dest": opt.name, "default": None}
        default = f" (default: {opt.default})" if opt.default is not None else ""
        if opt.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = str  # checked by the table, with its message
            kwargs["metavar"] = opt.metavar or opt.name.upper()
            if opt.choices:
                kwargs["metavar"] = "{" + ",".join(map(str, opt.choices)) + "}"
        p.add_argument(opt.flag, help=opt.help + default, **kwargs)


def _settings(args: argparse.Namespace, command: str) -> dict[str, Any]:
    config = options.load_config(args.config or os.environ.get("VIDMUSICIAN_CONFIG"))
    names = [o.name for o in options.for_command(command)]
    explicit = {n: getattr(args, n, None) for n in names}
    return options.resolve(explicit, config, names)


def _check_outputs(args: argparse.Namespace, *names: str) -> None:
    """Before any work: every report or picture the command will write
    (``--json FILE``, ``--plot FILE``) can be written (``--force`` replaces)."""
    from .. import fsutil

    force = bool(getattr(args, "force", False))
    given = [(n, getattr(args, n, None)) for n in names]
    files = [(n, p) for n, p in given if p is not None and p != "-"]
    for i, (n, p) in enumerate(files):
        for m, q in files[:i]:
            if Path(p).absolute() == Path(q).absolute():
                raise OptionError(f"--{m} and --{n} both name {p}; give each its own file.")
    for _, p in files:
        fsutil.check_output(p, force)


def _add_force(p: argparse.ArgumentParser, what: str = "a --json or --plot file") -> None:
    p.add_argument("--force", action="store_true", help=f"replace {what} that exists already (atomically)")


def _emit_json(data: Any, dest: str, console: Console, force: bool = False) -> None:
    from .. import fsutil

    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8: JSON's own escapes keep it
        text = json.dumps(data, indent=2) + "\n"
    if dest == "-":
        console.out.write(text)
        console.out.flush()
    else:
        fsutil.write_text(dest, text, overwrite=force)
        console.note(f"wrote {dest}")


def _analyze(args: argparse.Namespace, console: Console, cancel: threading.Event, command: str) -> Any:
    from ..analyze import analyze

    s = _settings(args, command)
    feats = analyze(
        args.input,
        rate=s["rate"],
        scene_detector=s["scene_detector"],
        scene_threshold=s["scene_threshold"],
        cache=s["cache"],
        clip=s["clip"],
        progress=console.progress,
        cancel=cancel,
    )
    console.close()
    for w in feats.timeline.warnings + feats.warnings:
        console.warn(w)
    return feats, s


def cmd_analyze(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..analyze import to_json

    _check_outputs(args, "json", "plot")
    feats, _ = _analyze(args, console, cancel, "analyze")
    if args.plot:
        from ..analysis.plot import plot

        plot(feats, args.plot, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        _emit_json(to_json(feats), args.json, console, args.force)
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
    from ..planning import plan_for, plan_json

    _check_outputs(args, "json", "plot")
    feats, s = _analyze(args, console, cancel, "plan")
    p, style = plan_for(feats, s["style"], s["bpm"], s["meter"], s["flex"], s["max_change"], s["ring_out"])
    for note in p.warnings:
        console.warn(note)
    if args.plot:
        from ..analysis.plot import plot

        plot(feats, args.plot, p, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    data = plan_json(p, style)
    if args.json is not None:
        _emit_json(data, args.json, console, args.force)
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


def cmd_eval(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..metrics import evaluate, load_audio
    from ..rhythm import hard_cut_times

    _check_outputs(args, "json")
    y = load_audio(args.audio)
    ref = load_audio(args.reference) if args.reference else None
    feats, _ = _analyze(args, console, cancel, "eval")
    cuts = hard_cut_times(feats.anchors)
    m = evaluate(y, cuts, feats.timeline.duration_s, feats.motion, ref)
    data = {"audio": str(args.audio), "input": feats.timeline.source.path, **m.to_json()}
    if args.json is not None:
        _emit_json(data, args.json, console, args.force)
        return 0
    _print_eval(data, console)
    return 0


def _print_eval(m: dict[str, Any], console: Console) -> None:
    from ..wording import accent, beat_hits, bpm, plural

    corr = m.get("energy_corr")
    both = m.get("bcs") is not None and m.get("bhs") is not None
    rows = [
        (f"tempo {bpm(m['tempo_bpm'])} ({plural(m['n_beats'], 'beat')} tracked)", "tempo_bpm"),
        (beat_hits(m), "cut_beat_hit"),
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
    from ..fit import fit, load_music
    from ..progress import scaled
    from ..results import output_folder, write_result
    from ..wording import bpm, heard, plural, span

    out = Path(args.output)
    with output_folder(out) as folder:
        y = load_music(args.music)
        feats, s = _analyze(args, console, cancel, "fit")
        result = fit(
            y, feats, s["stretch"], s["meter"], s["ring_out"], scaled(console.progress, 0.0, 0.6), cancel
        )
        for note in result.warnings:
            console.warn(note)
        provenance = {
            "backend": "fit",
            "music": str(Path(args.music).resolve()),
            "music_tempo_bpm": round(result.music_tempo_bpm, 3),
        }
        extra = {
            "stretch_range": [round(x, 4) for x in result.stretch_range],
            "bars_dropped": result.bars_dropped,
            "bars_repeated": result.bars_repeated,
        }
        from .. import fsutil

        seconds = result.audio.shape[-1] / 48000
        fsutil.ensure_space(folder, fsutil.audio_bytes(seconds), out)  # a full disk said before writing
        report = write_result(
            folder,
            out,
            feats,
            result.plan,
            "fit",
            result.audio,
            provenance,
            fmt=s["format"],
            extra=extra,
            progress=scaled(console.progress, 0.6, 1.0),
        )
    console.close()
    _finish(report, console)
    m = report["metrics"]
    lo, hi = result.stretch_range
    print(
        f"fitted {args.music} ({bpm(result.music_tempo_bpm)}) to the cut: stretched "
        f"{span(lo, hi, 3)}x, {plural(result.bars_dropped, 'bar')} dropped, "
        f"{plural(result.bars_repeated, 'bar')} repeated\n"
        f"heard: {heard(m)}\n"
        f"wrote {out}",
        file=console.out,
    )
    return 0


def _finish(report: dict[str, Any], console: Console) -> None:
    for note in report.get("notes", []):
        console.warn(note)


def cmd_score(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..score import options_from, score

    opts = options_from(_settings(args, "score"))
    if opts.soundfont:  # before any work: a damaged font would crash the renderer
        from ..guard import check_soundfont

        check_soundfont(opts.soundfont)
    session = score(
        args.input, args.output, opts, console.progress, cancel, new_take=args.new_take, wait_s=args.wait
    )
    _done(session, console)
    return 0


def _done(session: Any, console: Console) -> None:
    """What a command that made a take or a timeline version prints."""
    from ..wording import RecordClock, bpm_range, heard, landings

    console.close()
    for note in session.warnings:
        console.warn(note)
    tl = session.timeline
    files = list(tl["files"].values())
    if session.made is not None and any(t["id"] == session.made for t in session.takes) and tl["selection"]:
        t = session.take(session.made)
        m = t["metrics"]
        under = ""
        if t.get("shot") is not None:
            rc = RecordClock.of(session.data["timeline"])
            f0, f1 = t.get("range_frames") or (None, None)
            end = session.data["timeline"]["duration_frames"] if f1 is None else f1
            under = f" under shot {t['shot']}" + (f" ({rc.range(f0, end)})" if f0 is not None else "")
        seed = t.get("new_seed", t["seed"])
        what = f"{t['style']} in {t['key']}" if t["key"] else f"{t['style']} ({t.get('model')})"
        written = ["mix.wav"] + (["stems/"] if t["files"]["stems"] else [])
        written += (["music.mid"] if t["files"].get("midi") else []) + ["report.json"]
        plan = json.loads((session.out / t["plan"]).read_text(encoding="utf-8"))
        print(
            f"take {t['id']}{under}: {what} at {bpm_range(*t['bpm'])}, seed {seed}; {landings(plan)}\n"
            f"heard: {heard(m)}\n"
            f"wrote {session.out / t['folder']}: {', '.join(written)}",
            file=console.out,
        )
    print(
        f"timeline version {tl['version']}: {', '.join([str(session.out / files[0]), *files[1:]])}",
        file=console.out,
    )


def cmd_regenerate(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..score import regenerate

    seed = options.BY_NAME["seed"].check(args.seed) if args.seed is not None else None
    session = regenerate(args.out, args.shot, seed, console.progress, cancel, wait_s=args.wait)
    _done(session, console)
    return 0


def cmd_takes(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..score import list_takes, use
    from ..session import Session
    from ..wording import RecordClock

    if (args.use is None) != (args.shot is None):
        raise OptionError("--use TAKE and --shot N go together: vidmusician takes OUT --use 1 --shot 3.")
    _check_outputs(args, "json", "plot")
    if args.use is not None:
        session = use(args.out, args.use, args.shot, console.progress, cancel, wait_s=args.wait)
        console.close()
        for note in session.warnings:
            console.warn(note)
        if session.made is not None:
            rec = session.data["timeline"]
            rc, end = RecordClock.of(rec), rec["duration_frames"]
            sh = session.shot(args.shot)
            middle = (sh["start_frame"] + sh["end_frame"]) // 2
            here = next(
                (s["start_frame"], end if s["end_frame"] is None else s["end_frame"])
                for s in session.selection
                if s["start_frame"] <= middle and (s["end_frame"] is None or middle < s["end_frame"])
            )
            print(
                f"take {args.use} now plays under shot {args.shot}, {rc.range(*here)}; "
                f"timeline version {session.timeline['version']}",
                file=console.out,
            )
    rows = list_takes(args.out)
    if args.plot:
        from ..analysis.plot import plot_takes

        plot_takes(Session.load(args.out), args.plot, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        _emit_json(rows, args.json, console, args.force)
        return 0
    session = Session.load(args.out)
    rec = session.data["timeline"]
    rc = RecordClock.of(rec)
    end = rec["duration_frames"]
    print(
        f"{'take':>4}  {'kind':<10}  {'shot':>4}  {'seed':>10}  {'style':<17} {'key':<10} plays (record)",
        file=console.out,
    )
    for r in rows:
        plays = ", ".join(rc.range(a, end if b is None else b) for a, b in r["used"]) or "not on the timeline"
        shot = str(r["shot"]) if r.get("shot") is not None else "all"
        seed = r.get("new_seed", r["seed"])
        key = r["key"] or "unknown"
        print(
            f"{r['id']:>4}  {r['kind']:<10}  {shot:>4}  {seed:>10}  {r['style']:<17} {key:<10} {plays}",
            file=console.out,
        )
    tl = session.timeline
    print(f"timeline version {tl['version']}: {', '.join(tl['files'].values())}", file=console.out)
    return 0


def cmd_cache(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .. import cache

    if args.clear:
        print(cache.clear_line(), file=console.out)
    else:
        print("\n".join(cache.info_lines()), file=console.out)
    return 0


def cmd_doctor(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..doctor import checks

    ok = True
    for row in checks():
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


def cmd_train(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..neural.train import train

    names = (
        "stage",
        "base",
        "init",
        "steps",
        "batch",
        "accumulate",
        "lr",
        "seconds",
        "seed",
        "clip",
        "precision",
    )
    settings = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.every is not None:
        settings["checkpoint_every"] = args.every
    if args.music_only:
        settings["music_only"] = True
    result = train(
        args.data,
        args.output,
        resume=args.resume,
        progress=console.progress,
        cancel=cancel,
        note=console.warn,
        **settings,
    )
    console.close()
    what = {1: "semantic path and LoRA", 2: "semantic path, LoRA and rhythm path"}[result.stage]
    if result.music_only:
        what = "rhythm path, from the music's onsets"
    fmt = lambda x: "not measured" if x is None else f"{x:.4f}"  # noqa: E731
    held = f"{result.val_items} held out" if result.val_items else "measured on the training item"
    print(
        f"trainable parameters: {result.trainable:,} (stage {result.stage}: {what})\n"
        f"step {result.step}: train loss {fmt(result.train_loss)}, validation loss {fmt(result.val_loss)} "
        f"(items: {result.train_items} trained on, {held}; nats per token)\n"
        f"adapters: {result.adapters} (vidmusician score INPUT -o OUT --backend musicgen "
        f"--model {result.base} --adapters {result.adapters})",
        file=console.out,
    )
    return 0


# --------------------------------------------------------------------------- parser


def _wait_seconds(text: str) -> float:
    """``--wait S``: seconds, 0 to a day (not negative, not nan, which would wait forever)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text}: give seconds from 0 to 86400 (a day)")
    return value


def _add_result_args(p: argparse.ArgumentParser) -> None:
    """What every command that writes a result folder takes."""
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="a new folder for the result")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars or notes")
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    common.add_argument("--config", metavar="FILE", help="TOML file of settings (see README)")

    parser = argparse.ArgumentParser(
        prog="vidmusician",
        description="Score a cut video: music whose beats land on the cuts.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"vidmusician {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    _add_options(p, "analyze")
    _add_force(p)
    p.set_defaults(func=cmd_analyze)

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
    _add_options(p, "plan")
    _add_force(p)
    p.set_defaults(func=cmd_plan)

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
    _add_options(p, "eval")
    _add_force(p, "a --json file")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "score",
        parents=[common],
        help="score a cut with the embedded arranger (no model weights)",
        description="Analyse INPUT, plan beats on its cuts and write music on them: stems, mix, MIDI, "
        "the timeline with the music on new audio tracks, plan.json, report.json. OUT must be new.",
    )
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    _add_result_args(p)
    p.add_argument(
        "--new-take",
        action="store_true",
        help="OUT holds a session of this cut: add a whole new take to it (and a new timeline version)",
    )
    p.add_argument(
        "--wait",
        type=_wait_seconds,
        default=0.0,
        metavar="S",
        help="with --new-take: wait up to S seconds for a busy session",
    )
    _add_options(p, "score")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "regenerate",
        parents=[common],
        help="new music under one shot: a new take, everything else kept",
        description="Write a new take of the bars under shot N (the index analyze prints) with a new "
        "seed, joined to the take it replaces with crossfades ending on the bar lines and identical to "
        "it everywhere else, and a new timeline version that plays it under the shot.",
    )
    p.add_argument("out", metavar="OUT", help="a session folder that score wrote")
    p.add_argument("--shot", type=int, required=True, metavar="N", help="the shot (index from analyze)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the new bars (default: a new one)")
    p.add_argument(
        "--wait", type=_wait_seconds, default=0.0, metavar="S", help="wait up to S seconds for a busy session"
    )
    p.set_defaults(func=cmd_regenerate)

    p = sub.add_parser(
        "takes",
        parents=[common],
        help="list a session's takes; --use TAKE --shot N plays another take under a shot",
        description="List the takes of session OUT and where each plays. With --use TAKE --shot N, "
        "play TAKE under shot N again (a new timeline version).",
    )
    p.add_argument("out", metavar="OUT", help="a session folder that score wrote")
    p.add_argument("--use", type=int, metavar="TAKE", help="the take to play under --shot")
    p.add_argument("--shot", type=int, metavar="N", help="the shot (index from analyze)")
    p.add_argument("--json", metavar="FILE|-", help="write the takes as JSON ('-' = stdout)")
    p.add_argument(
        "--plot", metavar="FILE.png", help="draw the shots, which take plays where, and the music's level"
    )
    p.add_argument(
        "--wait", type=_wait_seconds, default=0.0, metavar="S", help="wait up to S seconds for a busy session"
    )
    _add_force(p)
    p.set_defaults(func=cmd_takes)

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
    _add_result_args(p)
    _add_options(p, "fit")
    p.set_defaults(func=cmd_fit)

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

    p = sub.add_parser(
        "doctor", parents=[common], help="what is installed and usable (backends, weights, Qt, GPU)"
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="make a demo cut (video + timeline) and score it",
        description="Write a demo cut (media made with OpenCV, an OTIO and an FCP 7 XML "
        "timeline) into OUT, then run the pipeline on it.",
    )
    p.add_argument("out", metavar="OUT", help="a new folder for the demo")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "train",
        parents=[common],
        help="train the neural backend's adapters on videos with their music (two stages)",
        description="Train VidMusician's modules on a frozen MusicGen. DATA is a folder of videos with their "
        "music (each video's own audio track, or an audio file of the same name beside it); with --music-only, "
        "a folder of music alone (the rhythm path learns from the music's onsets). Stage 1 trains the semantic "
        "path, stage 2 the rhythm path as well. Features and EnCodec tokens are cached; RUN gets checkpoints, "
        "train.json and adapters/ (for score --adapters).",
    )
    p.add_argument(
        "data", metavar="DATA", help="folder of videos with their music (or of music: --music-only)"
    )
    p.add_argument("-o", "--output", metavar="RUN", required=True, help="a new folder for the run")
    p.add_argument(
        "--stage", type=int, choices=(1, 2), help="1: semantic path; 2: rhythm path too (default: 1)"
    )
    p.add_argument(
        "--base",
        metavar="MODEL",
        help="MusicGen: debug, a checkpoint folder or a cached name (default: debug)",
    )
    p.add_argument(
        "--init", metavar="ADAPTERS", help="start from these adapters (a stage 1 run's RUN/adapters)"
    )
    p.add_argument(
        "--music-only", action="store_true", help="DATA is music alone: train the rhythm path on its onsets"
    )
    p.add_argument("--steps", type=int, metavar="N", help="optimizer steps in all (default: 1000)")
    p.add_argument("--batch", type=int, metavar="N", help="windows per micro-batch (default: 4)")
    p.add_argument("--accumulate", type=int, metavar="N", help="micro-batches per step (default: 1)")
    p.add_argument("--lr", type=float, metavar="LR", help="peak learning rate (default: 3e-4)")
    p.add_argument("--seconds", type=float, metavar="S", help="length of a training window (default: 10)")
    p.add_argument(
        "--seed", type=int, metavar="N", help="seed of the split, windows and dropout (default: 0)"
    )
    p.add_argument(
        "--every",
        type=int,
        metavar="N",
        help="steps between checkpoints and validation losses (default: 200)",
    )
    p.add_argument(
        "--clip", metavar="PATH", help="local CLIP checkpoint: the semantic path reads CLIP embeddings"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="forward-pass arithmetic: auto = bf16 (or fp16 with loss scaling) on a GPU, fp32 on CPU "
        "(default: auto)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN from its newest checkpoint (only --steps may change)",
    )
    p.set_defaults(func=cmd_train)
    _add_plugin_commands(sub, common)
    return parser


#: Entry-point group through which the packages around core (the panel, the
#: Resolve bridge) add their commands: core finds them by metadata and never
#: names them. An entry point is ``register(subparsers, common_parser)``; the
#: command it adds sets ``func(args, console, cancel) -> int`` like the ones above.
PLUGIN_GROUP = "vidmusician.commands"


def _add_plugin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name in sub.choices:
            continue
        try:
            register = ep.load()
        except Exception as e:  # a broken add-on must not take the built-in commands with it
            why = f"the {ep.name} command did not load ({type(e).__name__}: {e}). Reinstall VidMusician."

            def broken(
                args: argparse.Namespace, console: Console, cancel: threading.Event, why: str = why
            ) -> int:
                raise OptionError(why)

            sub.add_parser(ep.name, parents=[common], help="(did not load)").set_defaults(func=broken)
            continue
        register(sub, common)


def _quiet_libraries() -> None:
    """Keep FFmpeg's own chatter out of the user's terminal: our errors say
    what went wrong; --debug shows everything."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


class _Signals:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP while a command runs: each cancels it
    the same way. The handler sets the command's cancel token and raises
    KeyboardInterrupt, so the work stops where it is and every ``finally``
    removes what it half wrote; the exit status is 128 + the signal (130, 143).

    A library can swallow the KeyboardInterrupt (raised inside a ctypes
    callback while numba compiles, it is only printed): the token stays set,
    so the next :func:`~.progress.check` cancels, and :func:`main` exits with
    the signal's status whatever the library did.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, cancel: threading.Event, install: bool = True):
        self.cancel = cancel
        self.install = install
        self.received: int | None = None
        self._old: dict[int, Any] = {}
        self._old_hook: Any = None

    def __enter__(self) -> _Signals:
        from ..progress import INTERRUPTED

        INTERRUPTED.clear()
        if not self.install or threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        for name in self.NAMES:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):
                continue
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        from ..progress import INTERRUPTED

        if self.received is None:
            self.received = signum
        self.cancel.set()
        INTERRUPTED.set()
        raise KeyboardInterrupt

    def _unraisable(self, info: Any) -> None:
        """A KeyboardInterrupt a library could not raise (a ctypes callback):
        noted, not printed; anything else as Python prints it."""
        if isinstance(info.exc_value, KeyboardInterrupt):
            from ..progress import INTERRUPTED

            self.cancel.set()
            INTERRUPTED.set()
            if self.received is None:
                self.received = signal.SIGINT
            return
        (self._old_hook or sys.__unraisablehook__)(info)

    def __exit__(self, *exc: Any) -> None:
        from ..progress import INTERRUPTED

        INTERRUPTED.clear()
        for sig, old in self._old.items():
            with _suppress():
                signal.signal(sig, old)
        if self._old_hook is not None:
            sys.unraisablehook = self._old_hook

    @property
    def exit_code(self) -> int:
        return 128 + int(self.received) if self.received is not None else Cancelled.exit_code

    def message(self) -> str:
        if self.received in (None, signal.SIGINT):
            return "vidmusician: cancelled."
        name = signal.Signals(self.received).name
        return f"vidmusician: cancelled ({name}); nothing half-written was left."


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError, ValueError, TypeError)


def _safe_text(text: str) -> str:
    """``text`` printable on any stream: a file name that is not UTF-8 (held
    as surrogates) is shown with backslash escapes instead of failing."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _tolerant(stream: Any) -> None:
    """Let a real stdout/stderr print file names that are not UTF-8."""
    with _suppress():
        if getattr(stream, "errors", "strict") == "strict":
            stream.reconfigure(errors="backslashreplace")


def _environment(e: BaseException) -> VidMusicianError | None:
    """An error of the user's disk or file system that reached ``main``
    unconverted (an ``OSError``, soundfile's ``System error``): as what it is."""
    from .. import fsutil

    return fsutil.environment_error(e, writing=None)


def _built_in(func: Any) -> bool:
    """A command of this package (not an add-on's)."""
    module = getattr(func, "__module__", None) or ""
    return module == __name__ or module.startswith(__name__ + ".")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input or the
    environment, 1 a bug, 128 + the signal when cancelled: 130 Ctrl-C, 143 SIGTERM)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if out is None:
        _tolerant(sys.stdout)
    if err is None:
        _tolerant(sys.stderr)
    err_stream = err or sys.stderr
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed usage; keep its status (2)
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(out or sys.stdout)
        return 2
    debug = args.debug or os.environ.get("VIDMUSICIAN_DEBUG", "") not in ("", "0")
    if not debug:
        _quiet_libraries()
    console = Console(args.quiet, out, err)
    cancel = threading.Event()
    func: Callable[[argparse.Namespace, Console, threading.Event], int] = args.func
    # the built-in commands; an add-on's (the panel runs a Qt event loop, where
    # a Python handler would hold SIGTERM back until Qt calls into Python) keeps
    # Python's defaults
    signals = _Signals(cancel, install=_built_in(func))

    def say(text: str) -> None:
        with _suppress():
            print(_safe_text(text), file=err_stream, flush=True)

    def cancelled() -> int:
        cancel.set()
        console.close()
        say(signals.message())
        return signals.exit_code

    try:
        with signals:
            try:
                code = func(args, console, cancel)
            except KeyboardInterrupt:
                return cancelled()
            except Cancelled:
                if signals.received is None:
                    signals.received = signal.SIGINT  # the panel's or a caller's cancel: as Ctrl-C
                return cancelled()
            except VidMusicianError as e:
                if signals.received is not None:  # a library turned the interrupt into an error
                    return cancelled()
                console.close()
                if debug:
                    traceback.print_exc(file=err_stream)
                say(f"vidmusician: error: {e}")
                return e.exit_code
            except BrokenPipeError:
                return 0
            except Exception as e:
                if signals.received is not None:
                    return cancelled()
                console.close()
                if debug:
                    traceback.print_exc(file=err_stream)
                env = _environment(e)
                if env is not None:  # the user's disk or file system: not a bug
                    say(f"vidmusician: error: {env}")
                    return env.exit_code
                say(
                    f"vidmusician: internal error: {type(e).__name__}: {e}\n"
                    "This is a bug. Run again with --debug for the traceback and report it."
                )
                return 1
            if signals.received is not None:  # interrupted, and a library swallowed it
                return cancelled()
            return code
    except KeyboardInterrupt:  # a signal while reporting another outcome
        return cancelled()
    finally:
        console.close()


def entry() -> None:  # console script
    sys.exit(main())
