"""The hand-off file between the panel and the program that started it (Resolve's menu script).

When the editor clicks "Send to Resolve", the panel writes ``HANDOFF.json``
in one step::

    {"format": "vidmusician-handoff", "version": 1, "status": "ok",
     "session": "/abs/path/SESSION_FOLDER", "markers": "none" | "downbeats" | "cuts"}

and when it is closed without sending::

    {"format": "vidmusician-handoff", "version": 1, "status": "cancelled"}

The program that waits reads it with :func:`read` (which validates it) or
polls with :func:`wait_for_handoff`. Plain Python: no Qt, no Resolve.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .. import fsutil
from ..errors import Cancelled, InputError, OptionError, VidMusicianError

FORMAT = "vidmusician-handoff"
VERSION = 1
STATUSES = ("ok", "cancelled")
MARKERS = ("none", "downbeats", "cuts")


class HandoffTimeout(VidMusicianError):
    """Nobody wrote the hand-off file in time."""


class PanelExited(VidMusicianError):
    """The panel process ended without writing the hand-off file."""


class _Process(Protocol):
    def poll(self) -> int | None: ...


def make(status: str, session: str | os.PathLike[str] | None = None, markers: str = "none") -> dict[str, Any]:
    """A valid hand-off record.

    Parameters
    ----------
    status : "ok" | "cancelled"
    session : path-like
        The session folder (required for ``"ok"``; made absolute).
    markers : "none" | "downbeats" | "cuts"
        Which timeline markers the receiver should add (``"ok"`` only).
    """
    if status == "cancelled":
        return {"format": FORMAT, "version": VERSION, "status": "cancelled"}
    data = {
        "format": FORMAT,
        "version": VERSION,
        "status": status,
        "session": str(Path(session).resolve()) if session is not None else None,
        "markers": markers,
    }
    return validate(data)


def validate(data: Any, where: str = "hand-off") -> dict[str, Any]:
    """``data`` if it is a valid hand-off record; else ``InputError`` saying what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'{where}: not a VidMusician hand-off file (no "format": "{FORMAT}").')
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"{where}: the hand-off has no valid version number.")
    if version > VERSION:
        raise InputError(
            f"{where}: written by a newer VidMusician (hand-off version {version}, this one reads up to "
            f"{VERSION}). Install the same VidMusician for the panel and for Resolve."
        )
    status = data.get("status")
    if status not in STATUSES:
        raise InputError(f"{where}: status {status!r} is not one of {', '.join(STATUSES)}.")
    if status == "ok":
        session = data.get("session")
        if not isinstance(session, str) or not session or not Path(session).is_absolute():
            raise InputError(f'{where}: status ok needs "session", the session folder\'s absolute path.')
        markers = data.get("markers", "none")
        if markers not in MARKERS:
            raise OptionError(f"{where}: markers {markers!r}: choose one of {', '.join(MARKERS)}.")
        data = {**data, "markers": markers}
    return dict(data)


def write_handoff(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Validate ``data`` and write it to ``path`` atomically (a reader never sees half a file).

    An existing hand-off file at ``path`` is replaced: the file is a message,
    not a result the user keeps.
    """
    data = validate(data, str(path))
    return fsutil.write_text(path, json.dumps(data, indent=2) + "\n", overwrite=True)


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated record in ``path``.

    Raises
    ------
    InputError
        Missing, unreadable, not JSON, or not a valid hand-off.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InputError(f"{p}: no hand-off file.") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read the hand-off file ({e}).") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{p}: the hand-off file is not JSON ({e}).") from e
    return validate(data, str(p))


def wait_for_handoff(
    path: str | os.PathLike[str],
    process: _Process | None = None,
    timeout_s: float | None = None,
    cancel: Any = None,
    poll_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Wait until ``path`` holds a hand-off record and return it (validated).

    Parameters
    ----------
    path : path-like
        The file the panel writes (atomically, so it is whole once it exists).
    process : object with ``poll()``, optional
        The panel process (``subprocess.Popen``). When it has exited and the
        file is still not there, waiting stops with :class:`PanelExited`.
    timeout_s : float, optional
        Seconds to wait at most; None waits as long as the process lives.
    cancel : object with ``is_set()``, optional
        Stops waiting with :class:`~vidmusician.core.errors.Cancelled`.
    poll_s : float
        Seconds between looks at the file.

    Raises
    ------
    HandoffTimeout, PanelExited, Cancelled, InputError
    """
    p = Path(path)
    deadline = None if timeout_s is None else clock() + timeout_s
    while True:
        if p.is_file():
            return read(p)
        if process is not None:
            code = process.poll()
            if code is not None:
                if p.is_file():  # written just before exiting
                    return read(p)
                raise PanelExited(
                    f"the VidMusician panel closed (exit status {code}) without sending music. "
                    "Nothing was changed in the timeline; run VidMusician again."
                )
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled while waiting for the panel.")
        if deadline is not None and clock() >= deadline:
            raise HandoffTimeout(
                f"no answer from the VidMusician panel after {timeout_s:g} s ({p} was not written). "
                "Nothing was changed in the timeline; run VidMusician again."
            )
        time.sleep(poll_s)
