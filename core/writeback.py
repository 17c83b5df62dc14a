"""Put music back onto the editor's timeline, touching nothing else.

The input is read again from its file (read-only), music goes on *new* audio
tracks (``VidMusician Mix``, optionally one per stem) that start at the
timeline's first frame, every clip carries ``metadata["vidmusician"]``, and
the result is written as OTIO and in the input's own format, atomically.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile

from . import fsutil, units
from .errors import InputError, OptionError
from .model import Timeline
from .timeline import read_otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

MIX_TRACK_NAME = "VidMusician Mix"
STEM_TRACK_PREFIX = "VidMusician Stem"
METADATA_KEY = "vidmusician"

#: ``--format`` values.
FORMATS = ("same", "otio", "fcp7", "edl")

EDL_CANNOT_CARRY_AUDIO = (
    "EDL not written: the CMX 3600 EDL writer (otio-cmx3600-adapter) writes one video track "
    "only, so an EDL cannot carry the music track. Import {alternative} instead (it holds the "
    "cut and the music), or place mix.wav at the timeline's first frame by hand."
)


@dataclass(frozen=True)
class MusicFile:
    """One audio file to place on its own new track.

    Attributes
    ----------
    role : str
        ``"mix"`` or a stem name (``"drums"``, ``"bass"``, ...).
    path : str
        The WAV file (absolute paths are written into the timeline).
    """

    role: str
    path: str
    final_path: str | None = None  # where the file will live, when written elsewhere first

    @property
    def track_name(self) -> str:
        return MIX_TRACK_NAME if self.role == "mix" else f"{STEM_TRACK_PREFIX} {self.role}"


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_timelines` wrote, and what it could not write and why."""

    paths: dict[str, str] = field(default_factory=dict)  # format -> path
    notes: tuple[str, ...] = ()


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
        track.append(otio.schema.Clip(name=Path(src.path).name, media_reference=ref, source_range=rng))
        t.tracks.append(track)
        return t
    t, _ = read_otio(src.path, src.rate_override)
    return t


def _audio_frames(path: Path, rate: float) -> int:
    try:
        info = soundfile.info(str(path))
    except Exception as e:
        raise InputError(f"{path}: not a readable audio file ({e}).") from e
    n = int(info.frames * rate // info.samplerate)  # whole frames only
    if n <= 0:
        raise InputError(f"{path}: shorter than one frame at {rate:g} fps.")
    return n


def with_music(
    timeline: Timeline,
    music: list[MusicFile],
    provenance: dict[str, Any] | None = None,
    source: Any = None,
) -> Any:
    """A copy of the editor's OTIO timeline with the music on new audio tracks.

    Parameters
    ----------
    timeline : Timeline
        As read by :func:`vidmusician.core.inputs.read_input`.
    music : list of MusicFile
        The mix first, then any stems; each gets its own new track.
    provenance : dict, optional
        Stored under ``metadata["vidmusician"]`` on each new track and clip
        (take, seed, backend, ...), with the file's role added.
    source : otio.schema.Timeline, optional
        The editor's timeline if already in memory (it is deep-copied, never changed).

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
        path = Path(m.path).resolve()
        n = _audio_frames(path, rate)
        rng = TR(RT(0, rate), RT(n, rate))
        where = Path(m.final_path).resolve() if m.final_path else path
        meta = {**(provenance or {}), "role": m.role, "file": where.name}
        ref = otio.schema.ExternalReference(target_url=where.as_uri(), available_range=rng)
        clip = otio.schema.Clip(
            name=f"{m.track_name} ({where.name})",
            media_reference=ref,
            source_range=rng,
            metadata={METADATA_KEY: meta},
        )
        name = m.track_name
        k = 2
        while name in names:  # an earlier take on the same timeline keeps its track
            name = f"{m.track_name} {k}"
            k += 1
        names.add(name)
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio, metadata={METADATA_KEY: meta})
        track.append(clip)
        out.tracks.append(track)
    return out


def _formats_for(timeline: Timeline, fmt: str) -> list[str]:
    if fmt not in FORMATS:
        raise OptionError(f"--format {fmt}: choose one of {', '.join(FORMATS)}.")
    if fmt != "same":
        return ["otio", fmt] if fmt != "otio" else ["otio"]
    native = timeline.source.format
    if native == "fcp_xml":
        return ["otio", "fcp7"]
    if native == "cmx_3600":
        return ["otio", "edl", "fcp7"]  # the EDL note points to the XML
    if native == "video":
        return ["otio", "fcp7"]  # a plain video is usually imported into an NLE next
    return ["otio"]


def write_timelines(
    timeline: Timeline,
    music: list[MusicFile],
    out_dir: str | os.PathLike[str],
    fmt: str = "same",
    provenance: dict[str, Any] | None = None,
    basename: str = "timeline",
) -> WriteResult:
    """Write the timeline with music as OTIO and in the requested format.

    Parameters
    ----------
    fmt : "same" | "otio" | "fcp7" | "edl"
        ``same`` writes the input's own format beside the OTIO (FCP 7 XML for
        Premiere/FCP XML input and for plain videos; for an EDL input the
        FCP 7 XML, since an EDL cannot carry the music: see ``notes``).
    basename : str
        File stem: ``timeline.otio``, ``timeline.xml``.

    Files are written atomically and never overwrite (``OutputError``).
    """
    out = Path(out_dir)
    result = with_music(timeline, music, provenance)
    paths: dict[str, str] = {}
    notes: list[str] = []
    for f in _formats_for(timeline, fmt):
        if f == "otio":
            p = out / f"{basename}.otio"
            fsutil.write_text(p, otio.adapters.write_to_string(result, "otio_json"))
            paths["otio"] = str(p)
        elif f == "fcp7":
            p = out / f"{basename}.xml"
            try:
                text = otio.adapters.write_to_string(_fcp_ready(result), "fcp_xml")
            except Exception as e:  # the adapter's own limits; the OTIO is still there
                notes.append(
                    f"FCP 7 XML not written: the FCP XML adapter failed on this timeline "
                    f"({type(e).__name__}: {e}). Use {basename}.otio."
                )
                continue
            fsutil.write_text(p, text)
            paths["fcp7"] = str(p)
        elif f == "edl":
            alt = f"{basename}.xml (FCP 7 XML) or {basename}.otio"
            notes.append(EDL_CANNOT_CARRY_AUDIO.format(alternative=alt))
    return WriteResult(paths, tuple(notes))


def _fcp_ready(t: Any) -> Any:
    """A copy the FCP XML writer accepts: it crashes on an ExternalReference
    without ``available_range``, so such references get the clip's own source
    range (the least the media must hold). The OTIO output keeps them as read."""
    out = copy.deepcopy(t)
    for c in out.find_clips():
        ref = c.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is None and c.source_range:
            ref.available_range = c.source_range
    return out


def music_clips(otio_timeline: Any) -> list[tuple[str, Any, float]]:
    """(track name, clip, record start in seconds) of every VidMusician clip."""
    out = []
    for track in otio_timeline.audio_tracks():
        for clip in track.find_clips(shallow_search=True):
            # FCP 7 XML keeps neither track names nor metadata: the clip name tells
            if METADATA_KEY in clip.metadata or clip.name.startswith("VidMusician "):
                out.append((track.name, clip, units.seconds(clip.range_in_parent().start_time)))
    return out
