"""Sessions: every result of ``score`` kept as takes in one folder.

A session folder ``OUT`` holds::

    session.json              the index (versioned); replaced atomically, it is the commit point
    plan.json, analysis.png   the plan and the picture of the first take
    mix.wav, stems/, music.mid, report.json
                              take 1
    timeline.otio (.xml, .edl)
                              the timeline with the music, version 1
    takes/take-002/...        every later take: its own new files
    timeline-v2.otio ...      every later version of the timeline

Nothing in ``OUT`` is ever overwritten except ``session.json``, which is
replaced in one step after everything it names is on disk: a process killed
at any moment leaves the previous session readable and complete (at worst an
unreferenced take folder, whose number is then skipped). A second process
waits for, or fails on, the session's lock (``.lock``, an OS file lock that
dies with its holder).

The selection says which take plays where: frame ranges of the music track
(music starts at the timeline's first frame), each naming a take.

This module holds the folder's side: the input's identity, the lock, the
:class:`Session` and the selection's edit (:func:`set_range`); the typed
records are in :mod:`.records`, the check of a loaded ``session.json`` in
:mod:`.validate`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, fsutil
from ..errors import InputError, OutputError
from .records import Piece, Selection, Take, TimelineVersion
from .validate import FORMAT, MAX_SESSION_BYTES, SESSION_FILE, VERSION, SessionDamaged, _Checker

LOCK_FILE = ".lock"
TAKES_DIR = "takes"

_TAKE_DIR = re.compile(r"^take-(\d{3,})$")
_TIMELINE_V = re.compile(r"^timeline-v(\d+)\.")


class SessionBusy(OutputError):
    """Another process holds the session's lock."""


# --------------------------------------------------------------------------- identity


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Size, modification time and a content hash of ``path``.

    Files up to 64 MiB are hashed whole; larger ones (videos) by their first
    and last 4 MiB and their size, which is enough to notice a re-export.
    """
    p = Path(path)
    st = p.stat()
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        if st.st_size <= 64 << 20:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(fh.read(4 << 20))
            fh.seek(-(4 << 20), os.SEEK_END)
            h.update(fh.read(4 << 20))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": h.hexdigest()}


def check_identity(path: str, recorded: dict[str, Any]) -> None:
    """Raise ``InputError`` when the input is gone or its contents changed."""
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"{path}: the input this session was scored from is not there any more. "
            "Put it back, or score the cut into a new folder."
        )
    now = file_identity(p)
    if now["size"] != recorded.get("size") or now["sha256"] != recorded.get("sha256"):
        raise InputError(
            f"{path}: the input changed since this session was scored; its takes no longer fit it. "
            "Score the new cut into a new folder (vidmusician score INPUT -o NEW_OUT)."
        )


# --------------------------------------------------------------------------- lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    except OSError:
        return False


@contextlib.contextmanager
def locked(folder: str | os.PathLike[str], wait_s: float = 0.0) -> Iterator[None]:
    """Hold the session's lock for the block.

    The lock is an OS file lock on ``folder/.lock``: it is released when the
    holder exits, however it exits (a killed process leaves no stale lock).

    Raises
    ------
    SessionBusy
        Another process still holds it after ``wait_s`` seconds.
    """
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OutputError(f"{folder}: cannot lock the session ({e.strerror}).") from e
    try:
        deadline = time.monotonic() + wait_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise SessionBusy(
                    f"{folder}: {fsutil.holder_words(path)} is working on this session. "
                    "Wait for it to finish (--wait S), or cancel it, and run again."
                )
            time.sleep(0.1)
        fsutil.write_holder(fd)  # for the message another process shows
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --------------------------------------------------------------------------- the session


@dataclass
class Session:
    """A session folder and its ``session.json``.

    Attributes
    ----------
    out : Path
    data : dict
        The contents of ``session.json``.
    made : int, optional
        The take (or timeline version, for ``use``) the call that returned
        this session made.
    warnings : tuple of str
        What the call that returned this session wants the user to know.
    """

    out: Path
    data: dict[str, Any]
    made: int | None = None
    warnings: tuple[str, ...] = field(default=())

    # ---- reading

    @classmethod
    def load(cls, out: str | os.PathLike[str]) -> Session:
        """Read and check ``out/session.json``: every field of every record
        (types, ranges, take ids, a selection that covers the timeline, plans
        that parse) and every file it names (relative, inside ``out``, no
        ``..``, no link out). A damaged session raises :class:`SessionDamaged`
        naming the field (``takes[2].files.mix points outside the session
        folder``)."""
        out = Path(out)
        path = out / SESSION_FILE
        if not path.is_file():
            hint = (
                " It holds results of an older VidMusician without a session."
                if (out / "mix.wav").is_file()
                else ""
            )
            raise InputError(
                f"{out}: not a VidMusician session folder (no {SESSION_FILE}).{hint} "
                "Score a cut into it first: vidmusician score INPUT -o OUT."
            )
        try:
            size = path.stat().st_size
            if size > MAX_SESSION_BYTES:
                raise SessionDamaged(
                    f"{path} is damaged: {size} bytes is larger than any session file "
                    f"({MAX_SESSION_BYTES >> 20} MiB at most). Restore it from a backup."
                )
            data = json.loads(path.read_text(encoding="utf-8"))
        except (
            OSError,
            UnicodeDecodeError,
            ValueError,
        ) as e:  # ValueError: JSON's, and ints over 4300 digits
            raise InputError(f"{path}: not readable as a session ({' '.join(str(e).split())[:200]}).") from e
        except RecursionError:
            raise SessionDamaged(f"{path} is damaged: its JSON is nested too deeply.") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: not a VidMusician session file.")
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            raise InputError(
                f"{path}: written by a newer VidMusician (session version {version}, this one "
                f"reads up to {VERSION}). Update VidMusician."
            )
        _Checker(out).session(data)
        return cls(out, data)

    @property
    def takes(self) -> list[dict[str, Any]]:
        return list(self.data["takes"])

    def take(self, take_id: int) -> dict[str, Any]:
        for t in self.data["takes"]:
            if t["id"] == take_id:
                return dict(t)
        ids = ", ".join(str(t["id"]) for t in self.data["takes"])
        raise InputError(f"{self.out}: no take {take_id} in this session (takes: {ids}).")

    def take_folder(self, take_id: int) -> Path:
        return self.out / self.take(take_id)["folder"]

    def report(self, take_id: int) -> dict[str, Any]:
        t = self.take(take_id)
        return dict(json.loads((self.out / t["folder"] / "report.json").read_text(encoding="utf-8")))

    @property
    def selection(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.data["selection"]]

    def take_at(self, frame: int) -> int:
        """The take the selection plays at ``frame``."""
        return self.selection_record.take_at(frame)

    # ---- the records

    @property
    def take_records(self) -> tuple[Take, ...]:
        """Every take, as :class:`Take` records (in ``session.json``'s order)."""
        return tuple(Take.from_json(t) for t in self.data["takes"])

    def take_record(self, take_id: int) -> Take:
        """Take ``take_id`` (``InputError`` naming the takes there are when there is none)."""
        return Take.from_json(self.take(take_id))

    @property
    def selection_record(self) -> Selection:
        """What the music track plays now."""
        return Selection.from_json(self.data["selection"])

    @property
    def timeline_versions(self) -> tuple[TimelineVersion, ...]:
        """Every timeline version, the newest last."""
        return tuple(TimelineVersion.from_json(v) for v in self.data["timelines"])

    def piece_under(self, shot: int) -> Piece:
        """The piece of the selection that plays under shot ``shot`` (the one
        at the shot's middle frame)."""
        sh = self.shot(shot)
        return self.selection_record.piece_at((sh["start_frame"] + sh["end_frame"]) // 2)

    def take_under(self, shot: int) -> Take:
        """The take that plays under shot ``shot`` now: the one the selection
        plays at the shot's middle frame (what ``regenerate`` replaces there,
        what the panel's take list shows as playing)."""
        return self.take_record(self.piece_under(shot).take)

    @property
    def timeline(self) -> dict[str, Any]:
        """The newest timeline version: ``{"version", "files": {format: relative path}, ...}``."""
        return dict(self.data["timelines"][-1])

    def shot(self, index: int) -> dict[str, Any]:
        shots = self.data["timeline"]["shots"]
        for s in shots:
            if s["index"] == index:
                return dict(s)
        which = "only shot 0" if len(shots) == 1 else f"shots 0-{len(shots) - 1}"
        raise InputError(
            f"shot {index}: this session's timeline has {which} (the index that vidmusician analyze prints)."
        )

    def check_cut(self, timeline: Any) -> None:
        """Refuse to work on a cut (a :class:`~.model.Timeline` read now from
        the session's input) whose rate or shots are not the ones the session
        recorded: its takes and shot numbers would not fit it."""
        rec = self.data["timeline"]
        was = [(int(s["start_frame"]), int(s["end_frame"])) for s in rec["shots"]]
        now = [(s.start_frame, s.end_frame) for s in timeline.shots]
        if was != now or not math.isclose(float(rec["rate"]), float(timeline.rate), rel_tol=1e-9):
            raise InputError(
                f"{self.out / SESSION_FILE}: its timeline record ({len(was)} shots at {float(rec['rate']):g} fps) "
                f"is not the cut in {self.data['input']['path']} ({len(now)} shots at {timeline.rate:g} fps): "
                "session.json was changed, or another VidMusician version reads the cut otherwise. "
                "Score the cut into a new folder."
            )

    # ---- writing (under the lock)

    def next_take_id(self) -> int:
        used = {t["id"] for t in self.data["takes"]}
        takes_dir = self.out / TAKES_DIR
        if takes_dir.is_dir():
            for p in takes_dir.iterdir():
                m = _TAKE_DIR.match(p.name)
                if m:
                    used.add(int(m.group(1)))  # an unreferenced take left by a killed run
        return max(used, default=0) + 1

    def next_timeline_version(self) -> int:
        used = {v["version"] for v in self.data["timelines"]}
        for p in self.out.iterdir():
            m = _TIMELINE_V.match(p.name)
            if m:
                used.add(int(m.group(1)))
        return max(used, default=0) + 1

    def save(self) -> None:
        """Replace ``session.json`` in one step (the commit point)."""
        self.data["updated"] = now()
        self.data["written_by"] = __version__
        fsutil.write_text(self.out / SESSION_FILE, json.dumps(self.data, indent=2) + "\n", overwrite=True)

    def sweep(self) -> None:
        """Remove what killed runs left half-written (under the lock, nobody else writes)."""
        for folder in (self.out, self.out / TAKES_DIR, self.out / "stems"):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.name.startswith(".") and (p.name.endswith(".partial") or p.name.endswith(".part")):
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def set_range(
    selection: list[dict[str, Any]], start: int, end: int | None, take: int
) -> list[dict[str, Any]]:
    """``selection`` with frames ``[start, end)`` (None = to the end) played by ``take``.

    Neighbouring ranges of the same take are merged; the ranges keep tiling
    the track from frame 0.
    """
    out: list[dict[str, Any]] = []
    big = 1 << 62

    def add(s: int, e: int | None, t: int) -> None:
        if e is not None and e <= s:
            return
        if out and out[-1]["take"] == t and out[-1]["end_frame"] == s:
            out[-1]["end_frame"] = e
        else:
            out.append({"start_frame": s, "end_frame": e, "take": t})

    inserted = False
    for seg in selection:
        s, e, t = seg["start_frame"], seg["end_frame"], seg["take"]
        e_num = big if e is None else e
        end_num = big if end is None else end
        if s < start:
            add(s, e if e_num <= start else start, t)
        if not inserted and e_num > start:
            add(start, end, take)
            inserted = True
        if e_num > end_num:
            add(max(s, end_num), e, t)
    if not inserted:
        add(start, end, take)
    return out
