"""``vidmusician panel``: added to core's command line through the
``vidmusician.commands`` entry point (core never imports ui)."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from vidmusician.core import OptionError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "panel",
        parents=[common],
        help="open the panel: see the cut, shape the music, listen, regenerate a shot",
        description="Open the VidMusician panel (PyQt6) on INPUT (a timeline, a video, or a session folder "
        "to reopen). It runs the same pipeline as score, regenerate and takes.",
    )
    p.add_argument("input", nargs="?", metavar="INPUT", help="timeline file, video or session folder")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="session folder (default: a new NAME-music folder beside INPUT; one holding a session is reopened)",
    )
    p.add_argument(
        "--screenshot", metavar="FILE.png", help="draw the window offscreen into FILE.png and exit"
    )
    p.add_argument(
        "--force", action="store_true", help="with --screenshot: replace FILE.png if it exists (atomically)"
    )
    p.add_argument(
        "--after",
        choices=("open", "generate", "regenerate"),
        default="open",
        help="with --screenshot: take it after opening INPUT, after generating, or after regenerating shot 1",
    )
    p.add_argument(
        "--handoff", metavar="FILE.json", help="(the Resolve menu script's) where Send to Resolve writes"
    )
    p.set_defaults(func=cmd_panel)


def cmd_panel(args: argparse.Namespace, console: Any, cancel: threading.Event) -> int:
    try:
        import PyQt6.QtWidgets  # noqa: F401
    except ImportError as e:
        raise OptionError(
            f"the panel needs PyQt6 ({e}). Install it with: make setup, or pip install 'vidmusician[ui]' "
            "(on Linux, QtMultimedia also needs the system library libpulse0)."
        ) from None
    if args.after != "open" and not args.screenshot:
        raise OptionError("--after goes with --screenshot.")
    if args.after != "open" and not args.input:
        raise OptionError(f"--after {args.after} needs an INPUT to open.")
    if args.force and not args.screenshot:
        raise OptionError("--force goes with --screenshot.")
    from .app import run

    console.close()
    return run(
        args.input,
        args.output,
        args.screenshot,
        args.after,
        args.handoff,
        force=args.force,
        debug=bool(getattr(args, "debug", False)),
    )
