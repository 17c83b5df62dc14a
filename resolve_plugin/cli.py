"""``vidmusician resolve``: the Resolve bridge on the command line, added to
core's command line through the ``vidmusician.commands`` entry point.

These connect to a running DaVinci Resolve from outside (Resolve Studio,
or the free version with Preferences > System > General > External scripting
using: Local)::

    vidmusician resolve export FILE.otio             the current timeline, as OTIO
    vidmusician resolve apply OUT [--markers KIND]   put session OUT's music on the current timeline
    vidmusician resolve score                        the menu's round trip: export, panel, apply
"""

from __future__ import annotations

import argparse
import threading
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "resolve",
        parents=[common],
        help="talk to a running DaVinci Resolve: export its timeline, put a session's music on it",
        description="Connect to the DaVinci Resolve that is running (external scripting: Local) and export "
        "the current timeline, or apply a session's music to it on new audio tracks (your tracks and clips "
        "are never changed), or run the whole round trip with the panel.",
    )
    rsub = p.add_subparsers(dest="resolve_command", metavar="ACTION", required=True)
    e = rsub.add_parser("export", parents=[common], help="write the current timeline as OTIO")
    e.add_argument("dest", metavar="FILE.otio", help="a new file")
    e.set_defaults(func=cmd_export)
    a = rsub.add_parser("apply", parents=[common], help="put session OUT's music on the current timeline")
    a.add_argument("out", metavar="OUT", help="a session folder scored from this timeline")
    a.add_argument(
        "--markers", choices=("none", "downbeats", "cuts"), default="none", help="timeline markers to add"
    )
    a.set_defaults(func=cmd_apply)
    s = rsub.add_parser("score", parents=[common], help="export, open the panel, put the music back")
    s.add_argument("--sessions", metavar="DIR", help="where work folders go (default: ~/VidMusician)")
    s.set_defaults(func=cmd_score)


def cmd_export(args: argparse.Namespace, console: Any, cancel: threading.Event) -> int:
    from . import bridge

    path = bridge.export_timeline(bridge.connect(), args.dest, note=console.note)
    print(f"wrote {path}", file=console.out)
    return 0


def cmd_apply(args: argparse.Namespace, console: Any, cancel: threading.Event) -> int:
    from . import apply, bridge

    rep = apply.apply_session(bridge.connect(), args.out, markers=args.markers, progress=console.progress)
    console.close()
    print(rep.summary(), file=console.out)
    return 0


def cmd_score(args: argparse.Namespace, console: Any, cancel: threading.Event) -> int:
    import sys
    from pathlib import Path

    from . import bridge
    from .run import run, vidmusician_exe

    exe = vidmusician_exe(Path(sys.executable).parent.parent)
    sessions = args.sessions or str(Path.home() / "VidMusician")
    return run(bridge.connect(), exe, sessions, say=lambda m: print(m, file=console.out), cancel=cancel)
