"""The session's music as Resolve will place it: the pieces of its newest timeline version.

Frames count from the timeline's first frame (0), at the timeline rate, as
:mod:`.bridge` describes; nothing here talks to Resolve.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from vidmusician.core import (
    METADATA_KEY,
    InputError,
    Session,
    VidMusicianError,
    guard,
    units,
)


@dataclass(frozen=True)
class MusicPiece:
    """A stretch of a session's audio file on one music track.

    Attributes
    ----------
    track : str
        The music track's name (``VidMusician Mix``, ``VidMusician Stem drums``).
    path : str
        The WAV file (absolute).
    start, end : int
        Record frames ``[start, end)`` from the timeline's first frame (0).
    source_start : int
        The first frame of the file it plays (frames at the timeline rate;
        every take's files start at the timeline's first frame, so it equals
        ``start``).
    take : int or None
    """

    track: str
    path: str
    start: int
    end: int
    source_start: int
    take: int | None = None


@dataclass(frozen=True)
class SessionMusic:
    """What a session puts on a timeline: its newest timeline version's music tracks."""

    session: Session
    rate: float
    duration_frames: int
    version: int
    tracks: tuple[str, ...]
    pieces: tuple[MusicPiece, ...]
    disabled: tuple[str, ...] = ()  # tracks that go in disabled: the stems (the mix plays them already)


def _url_path(url: str, base: Path) -> str:
    if urllib.parse.urlparse(url).scheme == "file":
        return str(Path(units.url_to_path(url) or url))  # drive letters, UNC hosts, percent-encoding
    p = Path(url)
    return str(p if p.is_absolute() else (base / p).resolve())


def _in_session(file: str, meta: Any, out: Path) -> str:
    """``file`` in the session folder as it is now: the timeline names files by the
    absolute path the session had when written (``metadata["vidmusician"]["session"]``);
    a session folder moved or copied since keeps them at the same place inside it."""
    was = meta.get("session") if hasattr(meta, "get") else None
    if was:
        try:
            rel = Path(file).relative_to(Path(str(was)))
        except ValueError:
            return file
        return str((out / rel).resolve())
    return file


def session_music(session_folder: str | os.PathLike[str]) -> SessionMusic:
    """The music the session's newest timeline version plays, as pieces.

    The pieces are read from that version's ``timeline.otio`` (what the
    command line wrote): every audio track whose metadata carries
    ``vidmusician`` (the mix, and stems when scored with stem tracks), each
    clip's record range and file.
    """
    session = Session.load(session_folder)
    latest = session.timeline
    name = latest.get("files", {}).get("otio")
    if not name:
        raise InputError(
            f"{session.out}: the session's newest timeline has no OTIO file; score the cut again."
        )
    path = session.out / name
    try:
        guard.check_json_file(path)
        t = otio.adapters.read_from_file(str(path), adapter_name="otio_json")
    except VidMusicianError:
        raise
    except Exception as e:
        raise InputError(f"{path}: the session's timeline does not read ({e}). Score the cut again.") from e
    rate = float(session.data["timeline"]["rate"])
    tracks: list[str] = []
    disabled: list[str] = []
    pieces: list[MusicPiece] = []
    for tr in t.audio_tracks():
        if METADATA_KEY not in tr.metadata:
            continue
        tracks.append(tr.name)
        if not tr.enabled or tr.metadata[METADATA_KEY].get("role", "mix") != "mix":
            disabled.append(tr.name)  # a stem (sessions written before stems went in disabled too)
        for c in tr.find_clips(shallow_search=True):
            r = c.range_in_parent()
            a = int(round(r.start_time.rescaled_to(rate).value))
            b = int(round(r.end_time_exclusive().rescaled_to(rate).value))
            src = int(round(c.source_range.start_time.rescaled_to(rate).value))
            meta = c.metadata.get(METADATA_KEY, {})
            file = _in_session(_url_path(c.media_reference.target_url, session.out), meta, session.out)
            pieces.append(MusicPiece(tr.name, file, a, b, src, meta.get("take")))
    if not pieces:
        raise InputError(f"{path}: holds no VidMusician music track. Score the cut again.")
    for p in pieces:
        if not Path(p.path).is_file():
            raise InputError(
                f"{p.path}: a music file of this session is missing. Put it back, or score again."
            )
    return SessionMusic(
        session,
        rate,
        int(session.data["timeline"]["duration_frames"]),
        int(latest["version"]),
        tuple(tracks),
        tuple(pieces),
        tuple(disabled),
    )
