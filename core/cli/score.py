"""The session commands: ``score`` (a new session, or a new take of one),
``regenerate`` (new music under one shot) and ``takes`` (list the takes;
play another under a shot)."""

from __future__ import annotations

import argparse
import json
import threading
from typing import TYPE_CHECKING, Any

from .. import options
from ..errors import OptionError
from .common import add_force, add_options, add_result_args, add_wait, check_outputs, emit_json, settings

if TYPE_CHECKING:
    from .console import Console


def add_score(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "score",
        parents=[common],
        help="score a cut with the embedded arranger (no model weights)",
        description="Analyse INPUT, plan beats on its cuts and write music on them: stems, mix, MIDI, "
        "the timeline with the music on new audio tracks, plan.json, report.json. OUT must be new.",
    )
    p.add_argument("input", metavar="INPUT", help="timeline file or video")
    add_result_args(p)
    p.add_argument(
        "--new-take",
        action="store_true",
        help="OUT holds a session of this cut: add a whole new take to it (and a new timeline version)",
    )
    add_wait(p, "with --new-take: wait up to S seconds for a busy session")
    add_options(p, "score")
    p.set_defaults(func=cmd_score)


def add_regenerate(sub: Any, common: argparse.ArgumentParser) -> None:
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
    add_wait(p)
    p.set_defaults(func=cmd_regenerate)


def add_takes(sub: Any, common: argparse.ArgumentParser) -> None:
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
    add_wait(p)
    add_force(p)
    p.set_defaults(func=cmd_takes)


def cmd_score(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..session.pipeline import score
    from ..session.settings import options_from

    opts = options_from(settings(args, "score"))
    if opts.soundfont:  # before any work: a damaged font would crash the renderer
        from ..io.guard import check_soundfont

        check_soundfont(opts.soundfont)
    session = score(
        args.input, args.output, opts, console.progress, cancel, new_take=args.new_take, wait_s=args.wait
    )
    _done(session, console)
    return 0


def _done(session: Any, console: Console) -> None:
    """What a command that made a take or a timeline version prints."""
    from ..wording import RecordClock, heard, landings, sync_figures, sync_heard

    console.close()
    for note in session.warnings:
        console.warn(note)
    tl = session.timeline_versions[-1]
    files = list(tl.files.values())
    made_take = any(t.id == session.made for t in session.take_records)
    if session.made is not None and made_take and tl.selection is not None and tl.selection.pieces:
        t = session.take_record(session.made)
        under = ""
        if t.shot is not None:
            rc = RecordClock.of(session.data["timeline"])
            f0, f1 = t.range_frames or (None, None)
            end = session.data["timeline"]["duration_frames"] if f1 is None else f1
            under = f" under shot {t.shot}" + (f" ({rc.range(f0, end)})" if f0 is not None else "")
        written = ["mix.wav"] + (["stems/"] if t.files["stems"] else [])
        written += (["music.mid"] if t.files.get("midi") else []) + ["report.json"]
        plan = json.loads((session.out / t.plan).read_text(encoding="utf-8"))
        planned = sync_figures(plan)
        heard_sync = sync_heard(t.metrics)
        print(
            f"take {t.id}{under}: {t.music()}, seed {t.seed_used}; {landings(plan)}\n"
            + (f"planned: {planned}\n" if planned else "")
            + f"heard: {heard(t.metrics)}"
            + (f"; {heard_sync}" if heard_sync else "")
            + "\n"
            f"wrote {session.out / t.folder}: {', '.join(written)}",
            file=console.out,
        )
    print(
        f"timeline version {tl.version}: {', '.join([str(session.out / files[0]), *files[1:]])}",
        file=console.out,
    )


def cmd_regenerate(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..session.retake import regenerate

    seed = options.BY_NAME["seed"].check(args.seed) if args.seed is not None else None
    session = regenerate(args.out, args.shot, seed, console.progress, cancel, wait_s=args.wait)
    _done(session, console)
    return 0


def cmd_takes(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..session.retake import list_takes

    if (args.use is None) != (args.shot is None):
        raise OptionError("--use TAKE and --shot N go together: vidmusician takes OUT --use 1 --shot 3.")
    check_outputs(args, "json", "plot")
    if args.use is not None:
        _use(args, console, cancel)
    rows = list_takes(args.out)
    if args.plot:
        from ..report.plot import plot_takes
        from ..session.store import Session

        plot_takes(Session.load(args.out), args.plot, overwrite=args.force)
        console.note(f"wrote {args.plot}")
    if args.json is not None:
        emit_json(rows, args.json, console, args.force)
        return 0
    _print_takes(args.out, console)
    return 0


def _use(args: argparse.Namespace, console: Console, cancel: threading.Event) -> None:
    """``takes --use TAKE --shot N``: play the take under the shot; say where it plays."""
    from ..session.retake import use
    from ..wording import RecordClock

    session = use(args.out, args.use, args.shot, console.progress, cancel, wait_s=args.wait)
    console.close()
    for note in session.warnings:
        console.warn(note)
    if session.made is None:
        return
    rec = session.data["timeline"]
    rc, end = RecordClock.of(rec), rec["duration_frames"]
    here = session.piece_under(args.shot).frames(end)
    print(
        f"take {args.use} now plays under shot {args.shot}, {rc.range(*here)}; "
        f"timeline version {session.timeline_versions[-1].version}",
        file=console.out,
    )


def _print_takes(out: str, console: Console) -> None:
    """The takes, one a line: kind, shot, seed, style, key and where each plays
    (the rows of ``list_takes``, from the session's typed records)."""
    from ..session.store import Session
    from ..wording import RecordClock

    session = Session.load(out)
    rec = session.data["timeline"]
    rc = RecordClock.of(rec)
    end = rec["duration_frames"]
    print(
        f"{'take':>4}  {'kind':<10}  {'shot':>4}  {'seed':>10}  {'style':<17} {'key':<10} plays (record)",
        file=console.out,
    )
    selection = session.selection_record
    for t in session.take_records:
        used = [p.frames(end) for p in selection.pieces if p.take == t.id]  # list_takes' "used"
        plays = ", ".join(rc.range(a, b) for a, b in used) or "not on the timeline"
        shot = str(t.shot) if t.shot is not None else "all"
        key = t.key or "unknown"
        print(
            f"{t.id:>4}  {t.kind:<10}  {shot:>4}  {t.seed_used:>10}  {t.style:<17} {key:<10} {plays}",
            file=console.out,
        )
    tl = session.timeline_versions[-1]
    print(f"timeline version {tl.version}: {', '.join(tl.files.values())}", file=console.out)
