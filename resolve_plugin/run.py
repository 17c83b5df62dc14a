"""What Workspace > Scripts > VidMusician does, step by step (the menu script calls this).

1. export the current timeline (:func:`bridge.export_timeline`) into a new
   work folder, ``SESSIONS/<timeline>/<date-time>/cut.otio``;
2. start the panel as its own process:
   ``vidmusician panel cut.otio -o session --handoff handoff.json``;
3. wait for the panel's hand-off file (:func:`vidmusician.core.session.handoff.wait_for_handoff`):
   it says "ok" with the session folder and the markers to add, or "cancelled";
   a panel that exits without writing it ends the wait;
4. on "ok", :func:`apply.apply_session`.

Inside Resolve (``resolve`` given) or from a terminal / the menu script's
subprocess (``python -m vidmusician.resolve_plugin.run --config FILE``, which
connects to Resolve through its scripting module; Resolve's Preferences >
System > General > External scripting using must be "Local").

Exit statuses: 0 music applied, 1 nothing applied (cancelled, panel closed),
2 an error with a message saying what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidmusician.core import Cancelled, VidMusicianError

CONFIG_FORMAT = "vidmusician-resolve-config"
#: How long the menu script waits for the panel at most (seconds); the panel
#: closing ends the wait earlier.
DEFAULT_TIMEOUT_S = 12 * 3600.0


@dataclass(frozen=True)
class RunPaths:
    """The files of one run: the exported cut, the session folder, the hand-off file."""

    work: Path
    exported: Path
    session: Path
    handoff: Path


def safe_name(name: str) -> str:
    """A file-name-safe form of a timeline's name."""
    s = re.sub(r"[^\w.\- ]+", "_", name, flags=re.UNICODE).strip(" .")
    return s[:80] or "timeline"


def run_paths(sessions: str | os.PathLike[str], timeline_name: str, stamp: str | None = None) -> RunPaths:
    """A new work folder for one run under ``sessions`` (never one that exists)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    base = Path(sessions).expanduser() / safe_name(timeline_name)
    work = base / stamp
    k = 2
    while work.exists():
        work = base / f"{stamp}-{k}"
        k += 1
    return RunPaths(work, work / "cut.otio", work / "session", work / "handoff.json")


def vidmusician_exe(venv: str | os.PathLike[str], windows: bool | None = None) -> Path:
    """The ``vidmusician`` command of a virtual environment."""
    windows = os.name == "nt" if windows is None else windows
    v = Path(venv)
    return v / "Scripts" / "vidmusician.exe" if windows else v / "bin" / "vidmusician"


def panel_command(exe: str | os.PathLike[str], paths: RunPaths) -> list[str]:
    """The panel's command line (the interface the panel implements)."""
    return [str(exe), "panel", str(paths.exported), "-o", str(paths.session), "--handoff", str(paths.handoff)]


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The installer's ``VidMusician.json`` (see ``install/install.py``)."""
    from vidmusician.core import InputError

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(
            f"{p}: cannot read VidMusician's Resolve settings ({e}). Run install/install.py again."
        ) from e
    if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
        raise InputError(f"{p}: not VidMusician's Resolve settings file. Run install/install.py again.")
    return data


def run(
    resolve: Any,
    vidmusician: str | os.PathLike[str],
    sessions: str | os.PathLike[str],
    launch: Callable[[list[str]], Any] = subprocess.Popen,
    say: Callable[[str], None] = print,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cancel: Any = None,
) -> int:
    """Export, open the panel, wait for it, apply. Returns the exit status (0, 1 or 2).

    ``launch(argv)`` starts the panel and returns an object with ``poll()``
    (``subprocess.Popen``); ``say`` shows a line to the editor (Resolve's console).
    """
    from vidmusician.core import handoff

    from . import apply, bridge

    try:
        exe = Path(vidmusician)
        if not exe.is_file():
            say(
                f"VidMusician: the panel's command {exe} is not there. Run install/install.py again "
                "(it sets up VidMusician's environment)."
            )
            return 2
        _, timeline = bridge.current(resolve)
        paths = run_paths(sessions, str(timeline.GetName()))
        bridge.export_timeline(resolve, paths.exported, note=lambda m: say(f"VidMusician: {m}"))
        say(f"VidMusician: opening the panel (work folder {paths.work})")
        try:
            proc = launch(panel_command(exe, paths))
        except OSError as e:
            say(f"VidMusician: the panel did not start ({e}). Run install/install.py again.")
            return 2
        try:
            answer = handoff.wait_for_handoff(paths.handoff, proc, timeout_s, cancel)
        except (handoff.PanelExited, handoff.HandoffTimeout, Cancelled) as e:
            say(f"VidMusician: {e}")
            return 1
        if answer["status"] != "ok":
            say("VidMusician: the panel was closed without sending music; the timeline is unchanged.")
            return 1
        rep = apply.apply_session(resolve, answer["session"], markers=answer.get("markers", "none"))
        say(rep.summary())
        return 0
    except VidMusicianError as e:
        say(f"VidMusician: {e}")
        return e.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vidmusician.resolve_plugin.run``: the whole round trip from outside Resolve."""
    ap = argparse.ArgumentParser(
        prog="python -m vidmusician.resolve_plugin.run",
        description="Score the timeline open in DaVinci Resolve: export it, open the panel, put the music back.",
    )
    ap.add_argument("--config", help="the installer's VidMusician.json (gives the two below)")
    ap.add_argument("--vidmusician", help="the vidmusician command (default: beside this Python)")
    ap.add_argument("--sessions", help="where work folders go (default: ~/VidMusician)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the panel")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config) if args.config else {}
        exe = args.vidmusician or cfg.get("vidmusician") or str(Path(sys.executable).with_name("vidmusician"))
        sessions = args.sessions or cfg.get("sessions") or str(Path.home() / "VidMusician")
        from . import bridge

        resolve = bridge.connect()
    except VidMusicianError as e:
        print(f"VidMusician: {e}", file=sys.stderr)
        return e.exit_code
    return run(resolve, exe, sessions, timeout_s=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
