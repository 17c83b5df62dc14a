"""What a valid ``session.json`` is, and the check that refuses any other.

Holds the file's name, format tag and version (``SESSION_FILE``, ``FORMAT``,
``VERSION``), the limits it is read under (``MAX_SESSION_BYTES``,
``AUDIO_RATE``, ``TAKE_KINDS``), :class:`SessionDamaged`, and ``_Checker``,
which :meth:`~.store.Session.load` runs over a loaded ``session.json``: every
field of every record and every file it names, the first problem raising
:class:`SessionDamaged` naming the field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NoReturn

from .. import units
from ..errors import InputError

SESSION_FILE = "session.json"
FORMAT = "vidmusician-session"
VERSION = 1

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
                opt = BY_NAME[name]
                if opt.type in (int, float) and v is not None and isinstance(v, (str, bool)):
                    # the command line's text is converted; a record holds the number itself
                    kind = "a boolean" if isinstance(v, bool) else f"text ({v[:40]!r})"
                    self.fail(f"{w}.options.{k}", f"is {kind}, expected a number")
                self.option(opt, v, f"{w}.options.{k}")
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
