"""The music tracks: the editor's timeline with music on new audio tracks.

The input is read again from its file (read-only), music goes on *new* audio
tracks (``VidMusician Mix``, optionally one per stem, those disabled: the
stems sum to the mix) that start at the timeline's first frame, and every
clip carries ``metadata["vidmusician"]``. The writers
(:mod:`vidmusician.core.writeback`) turn the result into files.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio

from .. import units
from ..errors import InputError, OptionError, OutputError
from ..io.timeline import read_otio
from ..model import Timeline

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

MIX_TRACK_NAME = "VidMusician Mix"
STEM_TRACK_PREFIX = "VidMusician Stem"
METADATA_KEY = "vidmusician"


@dataclass(frozen=True)
class Piece:
    """A stretch of one audio file on a music track.

    Every music file starts at the timeline's first frame, so a piece's
    record frames are also its source frames.

    Attributes
    ----------
    path : str
        The WAV file as it is now (its length is read from it).
    start_frame, end_frame : int
        Record frames ``[start, end)``; ``end_frame`` None = to the end of the file.
    final_path : str, optional
        Where the file will live, when it is written elsewhere first.
    meta : dict
        Added to the clip's ``metadata["vidmusician"]`` (take, seed, ...).
    """

    path: str
    start_frame: int = 0
    end_frame: int | None = None
    final_path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MusicFile:
    """One music track: an audio file from the first frame, or ``pieces`` of
    several files (a take regenerated under one shot sits between the pieces
    of the take it replaced).

    Attributes
    ----------
    role : str
        ``"mix"`` or a stem name (``"drums"``, ``"bass"``, ...).
    path : str
        The WAV file (absolute paths are written into the timeline); unused
        when ``pieces`` are given.
    """

    role: str
    path: str = ""
    final_path: str | None = None  # where the file will live, when written elsewhere first
    pieces: tuple[Piece, ...] = ()

    @property
    def track_name(self) -> str:
        return MIX_TRACK_NAME if self.role == "mix" else f"{STEM_TRACK_PREFIX} {self.role}"

    def all_pieces(self) -> tuple[Piece, ...]:
        return self.pieces or (Piece(self.path, 0, None, self.final_path),)


@dataclass(frozen=True)
class TimelineMarker:
    """A marker that write-back adds to the timeline (on its top stack)."""

    frame: int
    name: str
    color: str = "GREEN"


def source_otio(timeline: Timeline) -> Any:
    """The editor's timeline as OTIO, read again from its (unchanged) file.

    A plain video becomes a one-clip OTIO timeline referencing it.
    """
    src = timeline.source
    if src.format == "video":
        t = otio.schema.Timeline(name=timeline.name, global_start_time=RT(0, timeline.rate))
        track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        rng = TR(RT(0, timeline.rate), RT(timeline.duration_frames, timeline.rate))
        ref = otio.schema.ExternalReference(target_url=Path(src.path).as_uri(), available_range=rng)
        name = Path(src.path).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=rng))  # any file name
        t.tracks.append(track)
        return t
    t, _ = read_otio(src.path, src.rate_override)
    return t


_DEPTHS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}


def _audio_frames(path: Path, rate: float) -> tuple[int, dict[str, int]]:
    """Whole frames of the file at ``rate``, and its format (``sample_rate``,
    ``channels``, ``bit_depth``: what an FCP XML ``<file>`` says of it)."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as e:
        raise InputError(f"{path}: not a readable audio file ({e}).") from e
    n = int(info.frames * rate // info.samplerate)  # whole frames only
    if n <= 0:
        raise InputError(f"{path}: shorter than one frame at {rate:g} fps.")
    fmt = {
        "sample_rate": int(info.samplerate),
        "channels": int(info.channels),
        "bit_depth": _DEPTHS.get(info.subtype, 24),
    }
    return n, fmt


def with_music(
    timeline: Timeline,
    music: list[MusicFile],
    provenance: dict[str, Any] | None = None,
    source: Any = None,
    markers: tuple[TimelineMarker, ...] = (),
) -> Any:
    """A copy of the editor's OTIO timeline with the music on new audio tracks.

    Parameters
    ----------
    timeline : Timeline
        As read by :func:`vidmusician.core.analysis.inputs.read_input`.
    music : list of MusicFile
        The mix first, then any stems; each gets its own new track.
    provenance : dict, optional
        Stored under ``metadata["vidmusician"]`` on each new track and clip
        (take, seed, backend, ...), with the file's role added.
    source : otio.schema.Timeline, optional
        The editor's timeline if already in memory (it is deep-copied, never changed).
    markers : tuple of TimelineMarker
        Added to the timeline's top stack (sequence markers in FCP 7 XML);
        the original tracks are not touched.

    Returns
    -------
    otio.schema.Timeline
        Original tracks unchanged, new tracks appended after them.
    """
    if not music:
        raise OptionError("no music files to place on the timeline.")
    base = source if source is not None else source_otio(timeline)
    out = copy.deepcopy(base)
    rate = timeline.rate
    names = {t.name for t in out.tracks}
    for m in music:
        meta = {**(provenance or {}), "role": m.role}
        name = m.track_name
        k = 2
        while name in names:  # an earlier take on the same timeline keeps its track
            name = f"{m.track_name} {k}"
            k += 1
        names.add(name)
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio, metadata={METADATA_KEY: meta})
        # the stems are the mix in parts: played with it they would double it (+6 dB), so
        # they go in disabled, for the editor to switch on instead of the mix
        track.enabled = m.role == "mix"
        for clip in _clips(m, meta, rate, timeline.duration_frames):
            track.append(clip)
        out.tracks.append(track)
    for mk in markers:
        out.tracks.markers.append(
            otio.schema.Marker(
                name=mk.name,
                marked_range=TR(RT(mk.frame, rate), RT(0, rate)),
                color=mk.color,
                metadata={METADATA_KEY: {"marker": mk.name}},
            )
        )
    return out


def _clips(m: MusicFile, meta: dict[str, Any], rate: float, length: int) -> list[Any]:
    """The clips of one music track: its pieces, one after another from frame 0
    to the timeline's last frame (``length``); the music's tail stays in the
    file (``available_range``) for the editor to extend the clip over."""
    clips = []
    at = 0
    pieces = m.all_pieces()
    for i, piece in enumerate(pieces):
        path = Path(piece.path).resolve()
        n, fmt = _audio_frames(path, rate)
        end = min(n, length if piece.end_frame is None else min(piece.end_frame, length))
        if at >= length:
            break
        if piece.start_frame != at or end <= at:
            raise OutputError(
                f"{m.role} track: pieces must follow one another from frame 0 "
                f"(piece {i + 1} covers frames {piece.start_frame}-{end}, expected to start at {at})."
            )
        where = Path(piece.final_path).resolve() if piece.final_path else path
        clip_meta = {**meta, **piece.meta, "file": where.name}
        ref = otio.schema.ExternalReference(
            target_url=where.as_uri(),
            available_range=TR(RT(0, rate), RT(n, rate)),
            metadata={METADATA_KEY: fmt},
        )
        label = f" take {piece.meta['take']}" if "take" in piece.meta else ""
        clips.append(
            otio.schema.Clip(
                name=f"{m.track_name}{label} ({where.name})",
                media_reference=ref,
                source_range=TR(RT(at, rate), RT(end - at, rate)),
                metadata={METADATA_KEY: clip_meta},
            )
        )
        at = end
    return clips


def music_clips(otio_timeline: Any) -> list[tuple[str, Any, float]]:
    """(track name, clip, record start in seconds) of every VidMusician clip."""
    out = []
    for track in otio_timeline.audio_tracks():
        for clip in track.find_clips(shallow_search=True):
            # FCP 7 XML keeps neither track names nor metadata: the clip name tells
            if METADATA_KEY in clip.metadata or clip.name.startswith("VidMusician "):
                out.append((track.name, clip, units.seconds(clip.range_in_parent().start_time)))
    return out
