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
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__, options
from .errors import Cancelled, OptionError, VidMusicianError


class Console:
    """Where a command writes: notes and bars to stderr, results to stdout."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._bar: Any = None

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
        """A ``core`` progress callback drawing a tqdm bar after one second."""
        if self.quiet:
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
        self._bar.set_description_str(label or "working", refresh=False)
        self._bar.update(int(fraction * 1000) - self._bar.n)

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


def _emit_json(data: Any, dest: str, console: Console) -> None:
    from . import fsutil

    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if dest == "-":
        console.out.write(text)
        console.out.flush()
    else:
        fsutil.write_text(dest, text)
        console.note(f"wrote {dest}")


def _analyze(args: argparse.Namespace, console: Console, cancel: threading.Event, command: str) -> Any:
    from .analyze import analyze

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
    from .analyze import to_json

    feats, _ = _analyze(args, console, cancel, "analyze")
    if args.plot:
        from .analysis.plot import plot

        plot(feats, args.plot)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        _emit_json(to_json(feats), args.json, console)
        return 0
    _print_summary(feats, console)
    return 0


def _print_summary(feats: Any, console: Console) -> None:
    from .units import clock

    tl = feats.timeline
    w = console.out
    print(
        f"{tl.name}: {tl.rate:g} fps, {clock(tl.duration_s)} ({tl.duration_frames} frames), "
        f"starts at {tl.start_timecode}, {len(tl.shots)} shots",
        file=w,
    )
    print(
        f"{'shot':>4}  {'start':>12}  {'end':>12}  {'kind':<9} {'mood (v, a)':<13} {'style':<17} name", file=w
    )
    for s, f in zip(tl.shots, feats.shots):
        flag = "" if s.media_found or not s.media else "  [media missing]"
        mood = f"{f.valence:+.2f} {f.arousal:+.2f}" if f.analysed else "-"
        print(
            f"{s.index:>4}  {clock(s.start_s):>12}  {clock(s.end_s):>12}  {s.kind:<9} {mood:<13} "
            f"{f.style:<17} {s.name}{flag}",
            file=w,
        )
    print(f"{len(feats.anchors)} anchors:", file=w)
    for a in feats.anchors:
        print(f"  {clock(a.time_s):>12}  {a.kind:<10} {a.strength:.2f}  {a.label}", file=w)


def cmd_plan(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .planning import plan_for, plan_json

    feats, s = _analyze(args, console, cancel, "plan")
    p, style = plan_for(feats, s["style"], s["bpm"], s["meter"], s["flex"], s["max_change"], s["ring_out"])
    for note in p.warnings:
        console.warn(note)
    if args.plot:
        from .analysis.plot import plot

        plot(feats, args.plot, p)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        _emit_json(plan_json(p, style), args.json, console)
        return 0
    w = console.out
    hard = [a for a in p.anchors if a.hard]
    print(
        f"{style}, {p.meter.name}, {p.mode} tempo {p.bpm.min():.1f}-{p.bpm.max():.1f} BPM, "
        f"{len(p.beats_s)} beats, {len(p.downbeats_s) - 1} bars, {len(p.sections)} sections",
        file=w,
    )
    counts = {k: sum(a.on == k for a in hard) for k in ("downbeat", "beat", "subdivision", "missed")}
    print(
        f"{len(hard)} cuts: "
        + ", ".join(f"{n} on a {k}" if k != "missed" else f"{n} missed" for k, n in counts.items()),
        file=w,
    )
    return 0


def cmd_eval(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .metrics import evaluate, load_audio
    from .rhythm import hard_cut_times

    y = load_audio(args.audio)
    ref = load_audio(args.reference) if args.reference else None
    feats, _ = _analyze(args, console, cancel, "eval")
    cuts = hard_cut_times(feats.anchors)
    m = evaluate(y, cuts, feats.timeline.duration_s, feats.motion, ref)
    data = {"audio": str(args.audio), "input": feats.timeline.source.path, **m.to_json()}
    if args.json is not None:
        _emit_json(data, args.json, console)
        return 0
    for k, v in data.items():
        print(f"{k:<22} {v}", file=console.out)
    return 0


def cmd_fit(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .fit import fit, load_music
    from .results import output_folder, write_result

    out = Path(args.output)
    with output_folder(out) as folder:
        y = load_music(args.music)
        feats, s = _analyze(args, console, cancel, "fit")
        result = fit(y, feats, s["stretch"], s["meter"], s["ring_out"], console.progress, cancel)
        console.close()
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
        report = write_result(
            folder, out, feats, result.plan, "fit", result.audio, provenance, fmt=s["format"], extra=extra
        )
    _finish(report, console)
    m = report["metrics"]
    print(
        f"fitted {args.music} ({result.music_tempo_bpm:.1f} BPM): stretch "
        f"{result.stretch_range[0]:.3f}-{result.stretch_range[1]:.3f}, {result.bars_dropped} bars dropped, "
        f"{result.bars_repeated} repeated; cut_beat_hit {m['cut_beat_hit']} (chance {m['cut_beat_hit_chance']})\n"
        f"wrote {out}",
        file=console.out,
    )
    return 0


def _finish(report: dict[str, Any], console: Console) -> None:
    for note in report.get("notes", []):
        console.warn(note)


def cmd_score(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .score import options_from, score

    opts = options_from(_settings(args, "score"))
    session = score(args.input, args.output, opts, console.progress, cancel, new_take=args.new_take)
    _done(session, console)
    return 0


def _done(session: Any, console: Console) -> None:
    """What a command that made a take or a timeline version prints."""
    console.close()
    for note in session.warnings:
        console.warn(note)
    tl = session.timeline
    files = ", ".join(tl["files"].values())
    if session.made is not None and any(t["id"] == session.made for t in session.takes) and tl["selection"]:
        t = session.take(session.made)
        m = t["metrics"]
        under = f" under shot {t['shot']}" if t.get("shot") is not None else ""
        seed = t.get("new_seed", t["seed"])
        what = f"{t['style']} in {t['key']}" if t["key"] else f"{t['style']} ({t.get('model')})"
        written = ["mix.wav"] + (["stems/"] if t["files"]["stems"] else [])
        written += (["music.mid"] if t["files"].get("midi") else []) + ["report.json"]
        print(
            f"take {t['id']}{under}: {what}, {t['bpm'][0]:.0f}-{t['bpm'][1]:.0f} BPM, "
            f"seed {seed}: cut_beat_hit {m['cut_beat_hit']} (chance {m['cut_beat_hit_chance']}), "
            f"tempo heard {m['tempo_bpm']} BPM\n"
            f"wrote {session.out / t['folder']}: {', '.join(written)}",
            file=console.out,
        )
    print(
        f"timeline version {tl['version']}: {session.out / files.split(', ')[0]} ({files})", file=console.out
    )


def cmd_regenerate(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .score import regenerate

    seed = options.BY_NAME["seed"].check(args.seed) if args.seed is not None else None
    session = regenerate(args.out, args.shot, seed, console.progress, cancel, wait_s=args.wait)
    _done(session, console)
    return 0


def cmd_takes(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .score import list_takes, use
    from .session import Session

    if (args.use is None) != (args.shot is None):
        from .errors import OptionError

        raise OptionError("--use TAKE and --shot N go together: vidmusician takes OUT --use 1 --shot 3.")
    if args.use is not None:
        session = use(args.out, args.use, args.shot, console.progress, cancel, wait_s=args.wait)
        console.close()
        for note in session.warnings:
            console.warn(note)
        print(f"take {args.use} now plays under shot {args.shot}", file=console.out)
    rows = list_takes(args.out)
    if args.plot:
        from .analysis.plot import plot_takes

        plot_takes(Session.load(args.out), args.plot)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        _emit_json(rows, args.json, console)
        return 0
    session = Session.load(args.out)
    rate = session.data["timeline"]["rate"]
    from .units import clock

    print(
        f"{'take':>4}  {'kind':<10} {'shot':>4}  {'seed':>10}  {'style':<17} {'key':<10} plays",
        file=console.out,
    )
    for r in rows:
        plays = (
            ", ".join(
                f"{clock(a / rate)}-{clock(b / rate) if b is not None else 'end'}" for a, b in r["used"]
            )
            or "-"
        )
        shot = str(r["shot"]) if r.get("shot") is not None else "-"
        seed = r.get("new_seed", r["seed"])
        print(
            f"{r['id']:>4}  {r['kind']:<10} {shot:>4}  {seed:>10}  {r['style']:<17} {r['key']:<10} {plays}",
            file=console.out,
        )
    tl = session.timeline
    print(f"timeline version {tl['version']}: {', '.join(tl['files'].values())}", file=console.out)
    return 0


def cmd_doctor(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .doctor import checks

    ok = True
    for row in checks():
        mark = {"ok": "ok  ", "missing": "--  ", "error": "FAIL"}[row.status]
        ok &= row.status != "error"
        print(f"{mark} {row.name:<26} {row.detail}", file=console.out)
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .demo import run_demo

    summary = run_demo(args.out, progress=console.progress, cancel=cancel, note=console.note)
    console.close()
    print(summary, file=console.out)
    return 0


def cmd_train(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from .neural.train import train

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
    fmt = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
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
        "--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for a busy session"
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
        "--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for a busy session"
    )
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


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 cancelled)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
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
    try:
        return func(args, console, cancel)
    except KeyboardInterrupt:
        cancel.set()
        console.close()
        print("vidmusician: cancelled.", file=err_stream)
        return Cancelled.exit_code
    except VidMusicianError as e:
        console.close()
        if debug:
            traceback.print_exc(file=err_stream)
        print(f"vidmusician: error: {e}", file=err_stream)
        return e.exit_code
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug: say so, briefly, unless debugging
        console.close()
        if debug:
            traceback.print_exc(file=err_stream)
        print(
            f"vidmusician: internal error: {type(e).__name__}: {e}\n"
            "This is a bug. Run again with --debug for the traceback and report it.",
            file=err_stream,
        )
        return 1
    finally:
        console.close()


def entry() -> None:  # console script
    sys.exit(main())


if __name__ == "__main__":
    entry()
