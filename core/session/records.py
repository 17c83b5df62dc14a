"""The typed records of ``session.json``: :class:`Piece` and :class:`Selection`
(which take plays where), :class:`Take` (``takes[i]``) and
:class:`TimelineVersion` (``timelines[i]``).

Each is frozen, built from the validated JSON object by ``from_json``, and
gives the same object back, key for key and in the same order, with ``to_json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


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
