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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NoReturn

from .. import __version__, fsutil, units
from ..errors import InputError, OutputError

SESSION_FILE = "session.json"
FORMAT = "vidmusician-session"
VERSION = 1
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


# --------------------------------------------------------------------------- validation

#: ``session.json`` and the plans it names are refused above this size (bytes).
MAX_SESSION_BYTES = 64 << 20

#: The sample rate of every take's sound files (Hz; ``splice.SR``).
AUDIO_RATE = units.OUTPUT_SR

#: What a take's ``kind`` may be.
TAKE_KINDS = ("score", "regenerate")


class SessionDamaged(InputError):
    """``session.json`` (or a file it names) is not what VidMusician wrote."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", int: "a whole number", float: "a number", str: "text"}.get(
        type(value), type(value).__name__
    )


class _Checker:
    """Checks ``session.json``'s contents field by field; the first problem
    raises :class:`SessionDamaged` naming the field (``takes[2].files.mix``)."""

    def __init__(self, out: Path):
        self.out = out
        self.file = out / SESSION_FILE
        self.root = out.resolve()
        self.plans: dict[str, dict[str, Any]] = {}

    def fail(self, where: str, problem: str) -> NoReturn:
        raise SessionDamaged(
            f"{self.file} is damaged: {where} {problem}. Restore the session folder from a backup, "
            "or score the cut into a new folder."
        )

    # ---- values

    def obj(self, d: dict[str, Any], key: str, where: str, optional: bool = False) -> Any:
        """``d[key]``; a missing key fails unless ``optional`` (then None)."""
        if key not in d:
            if optional:
                return None
            self.fail(f"{where}.{key}" if where else key, "is missing")
        return d[key]

    def dict_(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            self.fail(where, f"is {_kind(v)}, expected an object")
        return v

    def list_(self, v: Any, where: str, nonempty: bool = False) -> list[Any]:
        if not isinstance(v, list):
            self.fail(where, f"is {_kind(v)}, expected an array")
        if nonempty and not v:
            self.fail(where, "is empty")
        return v

    def str_(self, v: Any, where: str, nonempty: bool = False, none: bool = False) -> str | None:
        if v is None and none:
            return None
        if not isinstance(v, str):
            self.fail(where, f"is {_kind(v)}, expected text")
        if nonempty and not v:
            self.fail(where, "is empty")
        return v

    def int_(
        self, v: Any, where: str, lo: int | None = None, hi: int | None = None, none: bool = False
    ) -> int | None:
        if v is None and none:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(where, f"is {_kind(v)}, expected a whole number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            span = (
                f"at least {lo}"
                if hi is None
                else str(lo)
                if lo == hi
                else f"between {lo} and {hi}"
                if lo is not None
                else f"at most {hi}"
            )
            shown = (
                str(v)
                if v.bit_length() <= 64
                else f"a number of about {int(v.bit_length() * 0.30103) + 1} digits"
            )
            self.fail(where, f"is {shown}, must be {span}")
        return v

    def num(
        self, v: Any, where: str, lo: float | None = None, hi: float | None = None, none: bool = False
    ) -> float | None:
        if v is None and none:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(where, f"is {_kind(v)}, expected a number")
        if isinstance(v, int) and v.bit_length() > 1000:  # float(v) would overflow
            self.fail(where, "is too large a number")
        if not math.isfinite(v):
            self.fail(where, f"is {v}, not a finite number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            span = (
                f"at least {lo:g}"
                if hi is None
                else f"between {lo:g} and {hi:g}"
                if lo is not None
                else f"at most {hi:g}"
            )
            self.fail(where, f"is {v:g}, must be {span}")
        return float(v)

    def path(self, v: Any, where: str, exists: bool = False, folder: bool = False) -> str:
        """A path relative to the session folder that stays inside it."""
        rel = self.str_(v, where, nonempty=True)
        assert rel is not None
        if "\x00" in rel:
            self.fail(where, "holds a NUL character")
        pure_posix, pure_win = PurePosixPath(rel), PureWindowsPath(rel)
        if (
            pure_posix.is_absolute()
            or pure_win.is_absolute()
            or pure_win.drive
            or rel.startswith(("/", "\\"))
        ):
            self.fail(
                where, f"is an absolute path ({rel}); session files are named relative to the session folder"
            )
        if ".." in pure_posix.parts or ".." in pure_win.parts:
            self.fail(where, f"points outside the session folder ({rel})")
        target = self.out / rel
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            self.fail(where, f"cannot be resolved ({rel})")
        if resolved != self.root and self.root not in resolved.parents:
            self.fail(where, f"points outside the session folder ({rel}, a link to {resolved})")
        if exists:
            ok = target.is_dir() if folder else target.is_file()
            if not ok:
                self.fail(where, f"names {rel}, which is not in the session folder")
        return rel

    def audio(self, rel: str, where: str) -> None:
        """A take's sound file: a WAV header that says 48 kHz and some samples
        (the samples themselves are read only by the command that needs them)."""
        import soundfile

        try:
            info = soundfile.info(str(self.out / rel))
        except Exception as e:  # libsndfile's own errors say little more than "not recognised"
            reason = " ".join(str(e).split()).replace(str(self.out / rel), rel).rstrip(".")
            self.fail(where, f"names {rel}, which is not a readable sound file ({reason[:160]})")
        if int(info.samplerate) != AUDIO_RATE or info.frames <= 0:
            self.fail(
                where,
                f"names {rel}, which holds {info.frames} samples at {info.samplerate} Hz "
                f"(takes are {AUDIO_RATE // 1000} kHz)",
            )

    def json_file(self, rel: str, where: str) -> Any:
        p = self.out / rel
        try:
            if p.stat().st_size > MAX_SESSION_BYTES:
                self.fail(where, f"names {rel}, larger than {MAX_SESSION_BYTES >> 20} MiB")
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            reason = "nested too deeply" if isinstance(e, RecursionError) else " ".join(str(e).split())
            self.fail(where, f"names {rel}, which is not readable JSON ({reason})")

    # ---- records

    def session(self, d: dict[str, Any]) -> None:
        version = self.obj(d, "version", "")
        self.int_(version, "version", 1, VERSION)
        for key in ("created", "updated", "written_by"):
            if key in d:
                self.str_(d[key], key)
        self.input(self.dict_(self.obj(d, "input", ""), "input"))
        tl = self.timeline(self.dict_(self.obj(d, "timeline", ""), "timeline"))
        if "analysis" in d:
            self.dict_(d["analysis"], "analysis")
        takes = self.list_(self.obj(d, "takes", ""), "takes", nonempty=True)
        ids: dict[int, int] = {}
        for i, t in enumerate(takes):
            tid = self.take(self.dict_(t, f"takes[{i}]"), f"takes[{i}]", tl)
            if tid in ids:
                self.fail(f"takes[{i}].id", f"is {tid}, the same as takes[{ids[tid]}].id")
            ids[tid] = i
        for i, t in enumerate(takes):
            parent = t.get("parent")
            if parent is not None and parent not in ids:
                self.fail(f"takes[{i}].parent", f"is {parent}, which is no take of this session")
        self.selection(self.obj(d, "selection", ""), "selection", tl, ids)
        versions = self.list_(self.obj(d, "timelines", ""), "timelines", nonempty=True)
        seen: set[int] = set()
        for i, v in enumerate(versions):
            w = f"timelines[{i}]"
            v = self.dict_(v, w)
            n = self.int_(self.obj(v, "version", w), f"{w}.version", 1)
            if n in seen:
                self.fail(f"{w}.version", f"is {n}, listed twice")
            seen.add(int(n or 0))
            files = self.dict_(self.obj(v, "files", w), f"{w}.files")
            for fmt, name in files.items():
                self.path(name, f"{w}.files.{fmt}")
            if "selection" in v:
                self.selection(v["selection"], f"{w}.selection", tl, ids)
            for j, note in enumerate(self.list_(v.get("notes", []), f"{w}.notes")):
                self.str_(note, f"{w}.notes[{j}]")

    def input(self, d: dict[str, Any]) -> None:
        path = self.str_(self.obj(d, "path", "input"), "input.path", nonempty=True)
        if "\x00" in str(path):
            self.fail("input.path", "holds a NUL character")
        self.str_(self.obj(d, "format", "input"), "input.format", nonempty=True)
        ident = self.dict_(d.get("identity") or {}, "input.identity")
        if ident:
            self.int_(self.obj(ident, "size", "input.identity"), "input.identity.size", 0)
            sha = self.str_(self.obj(ident, "sha256", "input.identity"), "input.identity.sha256")
            if not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
                self.fail("input.identity.sha256", "is not a SHA-256 digest")
            if "mtime_ns" in ident:
                self.int_(ident["mtime_ns"], "input.identity.mtime_ns")

    def timeline(self, d: dict[str, Any]) -> dict[str, Any]:
        from .. import units

        w = "timeline"
        self.str_(self.obj(d, "name", w), f"{w}.name")
        rate = self.num(self.obj(d, "rate", w), f"{w}.rate", units.MIN_RATE, units.MAX_RATE)
        assert rate is not None
        most = int(units.MAX_TIME_S * rate)
        n = self.int_(self.obj(d, "duration_frames", w), f"{w}.duration_frames", 1, most)
        if "start_timecode" in d:
            self.str_(d["start_timecode"], f"{w}.start_timecode")
        shots = self.list_(self.obj(d, "shots", w), f"{w}.shots", nonempty=True)
        end = 0
        for i, s in enumerate(shots):
            ws = f"{w}.shots[{i}]"
            s = self.dict_(s, ws)
            self.int_(self.obj(s, "index", ws), f"{ws}.index", i, i)
            a = self.int_(self.obj(s, "start_frame", ws), f"{ws}.start_frame", end, n)
            self.int_(self.obj(s, "end_frame", ws), f"{ws}.end_frame", (a or 0) + 1, n)
            end = int(s["end_frame"])
            for key in ("name", "style"):
                if key in s:
                    self.str_(s[key], f"{ws}.{key}")
            for key in ("valence", "arousal"):
                if key in s:
                    self.num(s[key], f"{ws}.{key}")
        return d

    def take(self, t: dict[str, Any], w: str, tl: dict[str, Any]) -> int:
        from ..options import BY_NAME

        tid = self.int_(self.obj(t, "id", w), f"{w}.id", 1)
        kind = self.str_(self.obj(t, "kind", w), f"{w}.kind")
        if kind not in TAKE_KINDS:
            self.fail(f"{w}.kind", f"is '{kind}', expected one of {', '.join(TAKE_KINDS)}")
        self.str_(self.obj(t, "backend", w), f"{w}.backend", nonempty=True)
        self.str_(self.obj(t, "style", w), f"{w}.style")
        self.str_(self.obj(t, "key", w), f"{w}.key")
        if t.get("key"):
            self.option(BY_NAME["key"], t["key"], f"{w}.key")
        self.int_(t.get("key_number"), f"{w}.key_number", 0, 23, none=True)
        seed_hi = int(BY_NAME["seed"].max or 2**31 - 1)
        self.int_(self.obj(t, "seed", w), f"{w}.seed", 0, seed_hi)
        for key in ("new_seed",):
            if key in t:
                self.int_(t[key], f"{w}.{key}", 0, seed_hi)
        for k, v in self.dict_(t.get("bar_seeds", {}), f"{w}.bar_seeds").items():
            if not re.fullmatch(r"\d{1,9}", k):
                self.fail(f"{w}.bar_seeds", f"has the key '{k[:40]}', expected a bar number")
            self.int_(v, f"{w}.bar_seeds.{k}", 0, seed_hi)
        for key in ("prompt", "model", "adapters", "text", "soundfont", "created", "version"):
            if key in t:
                self.str_(t[key], f"{w}.{key}", none=True)
        for k, v in self.dict_(self.obj(t, "options", w), f"{w}.options").items():
            name = "format" if k == "fmt" else k
            if name in BY_NAME:
                self.option(BY_NAME[name], v, f"{w}.options.{k}")
        plan = self.path(self.obj(t, "plan", w), f"{w}.plan", exists=True)
        self.plan(plan, f"{w}.plan")
        self.path(self.obj(t, "folder", w), f"{w}.folder", exists=True, folder=True)
        bpm = self.list_(self.obj(t, "bpm", w), f"{w}.bpm", nonempty=True)
        for j, b in enumerate(bpm):
            self.num(b, f"{w}.bpm[{j}]", 1.0, 1000.0)
        files = self.dict_(self.obj(t, "files", w), f"{w}.files")
        mix = self.path(self.obj(files, "mix", f"{w}.files"), f"{w}.files.mix", exists=True)
        self.audio(mix, f"{w}.files.mix")
        for name, rel in self.dict_(self.obj(files, "stems", f"{w}.files"), f"{w}.files.stems").items():
            self.path(rel, f"{w}.files.stems.{name}", exists=True)
            self.audio(rel, f"{w}.files.stems.{name}")
        if files.get("midi") is not None:
            self.path(files["midi"], f"{w}.files.midi", exists=True)
        if "report" in files:
            self.path(files["report"], f"{w}.files.report")
        metrics = self.dict_(self.obj(t, "metrics", w), f"{w}.metrics")
        self.obj(metrics, "tempo_bpm", f"{w}.metrics")
        for k, v in metrics.items():
            if not (v is None or isinstance(v, (bool, str))):
                self.num(v, f"{w}.metrics.{k}")
        n = int(tl["duration_frames"])
        if kind == "regenerate" or "shot" in t:
            self.int_(self.obj(t, "shot", w), f"{w}.shot", 0, len(tl["shots"]) - 1)
            self.int_(self.obj(t, "parent", w), f"{w}.parent", 1)
        if "range_frames" in t:
            rf = self.list_(t["range_frames"], f"{w}.range_frames")
            if len(rf) != 2:
                self.fail(f"{w}.range_frames", f"has {len(rf)} numbers, expected 2")
            a = self.int_(rf[0], f"{w}.range_frames[0]", 0, n)
            self.int_(rf[1], f"{w}.range_frames[1]", (a or 0) + 1, None, none=True)
        if "range_s" in t:
            rs = self.list_(t["range_s"], f"{w}.range_s")
            if len(rs) != 2:
                self.fail(f"{w}.range_s", f"has {len(rs)} numbers, expected 2")
            self.num(rs[0], f"{w}.range_s[0]", 0.0)
            self.num(rs[1], f"{w}.range_s[1]", 0.0, none=True)
        for key in ("fade_s", "gain"):
            if key in t:
                self.num(t[key], f"{w}.{key}", 0.0)
        return int(tid or 0)

    def option(self, opt: Any, value: Any, where: str) -> None:
        from ..errors import OptionError

        try:
            opt.check(value, where)
        except OptionError as e:
            raise SessionDamaged(f"{self.file} is damaged: {e}") from None

    def plan(self, rel: str, where: str) -> None:
        key = str((self.out / rel).resolve())
        if key in self.plans:
            return
        data = self.json_file(rel, where)
        w = f"{where} ({rel})"
        plan = self.dict_(data, w)
        downs = self.list_(self.obj(plan, "downbeats_s", w), f"{w} downbeats_s")
        if len(downs) < 2:
            self.fail(f"{w} downbeats_s", f"has {len(downs)} bar lines, at least 2 are needed")
        last = -math.inf
        for j, x in enumerate(downs):
            v = self.num(x, f"{w} downbeats_s[{j}]", 0.0)
            if v is not None and v < last:
                self.fail(f"{w} downbeats_s[{j}]", "is earlier than the bar line before it")
            last = v if v is not None else last
        for j, x in enumerate(self.list_(plan.get("beats_s", []), f"{w} beats_s")):
            self.num(x, f"{w} beats_s[{j}]", 0.0)
        for j, x in enumerate(self.list_(self.obj(plan, "bpm", w), f"{w} bpm", nonempty=True)):
            self.num(x, f"{w} bpm[{j}]", 1.0, 1000.0)
        for j, a in enumerate(self.list_(plan.get("anchors", []), f"{w} anchors")):
            a = self.dict_(a, f"{w} anchors[{j}]")
            self.num(self.obj(a, "time_s", f"{w} anchors[{j}]"), f"{w} anchors[{j}].time_s")
            if not isinstance(a.get("hard"), bool):
                self.fail(f"{w} anchors[{j}].hard", f"is {_kind(a.get('hard'))}, expected true or false")
            self.str_(self.obj(a, "on", f"{w} anchors[{j}]"), f"{w} anchors[{j}].on")
        if "meter" in plan:
            self.str_(plan["meter"], f"{w} meter")
        self.plans[key] = plan

    def selection(self, sel: Any, w: str, tl: dict[str, Any], ids: dict[int, int]) -> None:
        sel = self.list_(sel, w, nonempty=True)
        at = 0
        for i, s in enumerate(sel):
            ws = f"{w}[{i}]"
            s = self.dict_(s, ws)
            self.int_(self.obj(s, "start_frame", ws), f"{ws}.start_frame", at, at)
            last = i == len(sel) - 1
            end = self.obj(s, "end_frame", ws)
            if last:
                if end is not None:
                    self.int_(end, f"{ws}.end_frame", int(tl["duration_frames"]))
            else:
                end = self.int_(end, f"{ws}.end_frame", at + 1)
            take = self.int_(self.obj(s, "take", ws), f"{ws}.take")
            if take not in ids:
                self.fail(f"{ws}.take", f"is {take}, which is no take of this session")
            at = int(end) if end is not None else at


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


# --------------------------------------------------------------------------- typed records


@dataclass(frozen=True)
class Piece:
    """One range of the selection: frames ``[start_frame, end_frame)`` of the
    music track (``end_frame`` None: to the end) play take ``take``."""

    start_frame: int
    end_frame: int | None
    take: int

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Piece:
        return cls(
            int(d["start_frame"]), None if d["end_frame"] is None else int(d["end_frame"]), int(d["take"])
        )

    def to_json(self) -> dict[str, Any]:
        return {"start_frame": self.start_frame, "end_frame": self.end_frame, "take": self.take}

    def covers(self, frame: int) -> bool:
        return self.start_frame <= frame and (self.end_frame is None or frame < self.end_frame)

    def frames(self, duration_frames: int) -> tuple[int, int]:
        """``(start, end)`` with the open end made ``duration_frames``."""
        return self.start_frame, duration_frames if self.end_frame is None else self.end_frame


@dataclass(frozen=True)
class Selection:
    """Which take plays where: pieces that tile the music track from frame 0."""

    pieces: tuple[Piece, ...]

    @classmethod
    def from_json(cls, items: Sequence[Mapping[str, Any]]) -> Selection:
        return cls(tuple(Piece.from_json(s) for s in items))

    def to_json(self) -> list[dict[str, Any]]:
        return [p.to_json() for p in self.pieces]

    def piece_at(self, frame: int) -> Piece:
        """The piece that plays at ``frame`` (the last one past the end)."""
        return next((p for p in self.pieces if p.covers(frame)), self.pieces[-1])

    def take_at(self, frame: int) -> int:
        return self.piece_at(frame).take

    def takes(self) -> list[int]:
        """The takes the selection plays, in the order they first play."""
        return list(dict.fromkeys(p.take for p in self.pieces))

    def used(self, take: int) -> list[list[int | None]]:
        """The frame ranges ``[start, end]`` that play ``take`` (``takes``'s ``used``)."""
        return [[p.start_frame, p.end_frame] for p in self.pieces if p.take == take]


#: A take's fields kept typed; the rest of its JSON object rides along in ``extra``.
_TAKE_FIELDS = (
    "id",
    "kind",
    "backend",
    "style",
    "key",
    "seed",
    "plan",
    "folder",
    "bpm",
    "files",
    "metrics",
    "options",
    "model",
    "shot",
    "parent",
    "new_seed",
    "range_frames",
)
_REQUIRED = _TAKE_FIELDS[:12]


@dataclass(frozen=True)
class Take:
    """One take of ``session.json`` (``takes[i]``), read from the validated
    JSON object: :meth:`to_json` gives back the same object, key for key and
    in the same order (``session.json`` stays byte-identical).

    Attributes
    ----------
    id : int
    kind : "score" | "regenerate"
    backend, style, key : str
        ``key`` is empty for MusicGen's takes.
    seed : int
    plan, folder : str
        Relative to the session folder.
    bpm : tuple of float
        The tempo range (BPM), lowest and highest.
    files : dict
        ``{"mix": path, "stems": {name: path}, "midi": path or None, ...}``.
    metrics, options : dict
    model : str, optional
        The MusicGen model (None for the arranger).
    shot, parent, new_seed : int, optional
        A regenerated take: its shot, the take it replaced there, the seed it used.
    range_frames : (int, int or None), optional
        The frames of the music track a regenerated take was made for.
    extra : dict
        Every other key of the JSON object, as read.
    """

    id: int
    kind: str
    backend: str
    style: str
    key: str
    seed: int
    plan: str
    folder: str
    bpm: tuple[float, ...]
    files: Mapping[str, Any]
    metrics: Mapping[str, Any]
    options: Mapping[str, Any]
    model: str | None = None
    shot: int | None = None
    parent: int | None = None
    new_seed: int | None = None
    range_frames: tuple[int, int | None] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Take:
        """The record of a take's JSON object (one that :meth:`Session.load` checked)."""
        rf = d.get("range_frames")
        return cls(
            id=d["id"],
            kind=d["kind"],
            backend=d["backend"],
            style=d["style"],
            key=d["key"],
            seed=d["seed"],
            plan=d["plan"],
            folder=d["folder"],
            bpm=tuple(d["bpm"]),
            files=d["files"],
            metrics=d["metrics"],
            options=d["options"],
            model=d.get("model"),
            shot=d.get("shot"),
            parent=d.get("parent"),
            new_seed=d.get("new_seed"),
            range_frames=None if rf is None else (rf[0], rf[1]),
            extra={k: v for k, v in d.items() if k not in _TAKE_FIELDS},
            keys=tuple(d),
        )

    def to_json(self) -> dict[str, Any]:
        """The take's JSON object (the keys it was read with, in their order;
        for a record made in code, its fields that are set, then ``extra``)."""
        order = self.keys or tuple(
            [k for k in _TAKE_FIELDS if k in _REQUIRED or getattr(self, k) is not None] + list(self.extra)
        )
        out: dict[str, Any] = {}
        for k in order:
            if k not in _TAKE_FIELDS:
                out[k] = self.extra[k]
            elif k == "bpm":
                out[k] = list(self.bpm)
            elif k == "range_frames":
                out[k] = None if self.range_frames is None else list(self.range_frames)
            else:
                out[k] = getattr(self, k)
        return out

    @property
    def seed_used(self) -> int:
        """The seed the take's music was made with (a regenerated take's own)."""
        return self.seed if self.new_seed is None else self.new_seed

    def music(self) -> str:
        """``cinematic in D minor at 93.8 BPM`` (:func:`~.wording.take_music`)."""
        from ..wording import take_music

        return take_music(self.to_json())

    def summary(self) -> str:
        """One line on the take, for the panel's status bar and the console:
        ``take 2: cinematic in D minor at 90-102.9 BPM; 4 of 5 cuts on a beat
        (chance 25%)`` (:func:`~.wording.take_summary`)."""
        from ..wording import take_summary

        return take_summary(self.to_json())


@dataclass(frozen=True)
class TimelineVersion:
    """One version of the timeline with the music (``timelines[i]``).

    Attributes
    ----------
    version : int
    files : dict
        ``{format: path relative to the session folder}``, the first one OTIO.
    selection : Selection, optional
        What it plays (a version written before selections were kept: None).
    notes : tuple of str
    extra : dict
        Every other key, as read.
    """

    version: int
    files: Mapping[str, str]
    selection: Selection | None = None
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TimelineVersion:
        sel = d.get("selection")
        return cls(
            version=d["version"],
            files=d["files"],
            selection=None if sel is None else Selection.from_json(sel),
            notes=tuple(d.get("notes", ())),
            extra={k: v for k, v in d.items() if k not in ("version", "files", "selection", "notes")},
            keys=tuple(d),
        )

    def to_json(self) -> dict[str, Any]:
        order = self.keys or ("version", "files", *self.extra, "selection", "notes")
        out: dict[str, Any] = {}
        for k in order:
            if k == "version":
                out[k] = self.version
            elif k == "files":
                out[k] = self.files
            elif k == "selection":
                out[k] = None if self.selection is None else self.selection.to_json()
            elif k == "notes":
                out[k] = list(self.notes)
            else:
                out[k] = self.extra[k]
        return out


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
