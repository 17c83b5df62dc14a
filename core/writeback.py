"""Put music back onto the editor's timeline, touching nothing else.

The input is read again from its file (read-only), music goes on *new* audio
tracks (``VidMusician Mix``, optionally one per stem, those disabled: the
stems sum to the mix) that start at the timeline's first frame, every clip
carries ``metadata["vidmusician"]``, and the result is written as OTIO and in
the input's own format, atomically. FCP 7 XML is written by adding to the
editor's own document (:mod:`vidmusician.core.fcpxml`), never by
re-serialising it through OTIO.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile

from . import fsutil, units
from .errors import InputError, OptionError, OutputError
from .model import Timeline
from .options import BY_NAME
from .timeline import read_otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

MIX_TRACK_NAME = "VidMusician Mix"
STEM_TRACK_PREFIX = "VidMusician Stem"
METADATA_KEY = "vidmusician"

#: ``--format`` values.
FORMATS: tuple[str, ...] = tuple(BY_NAME["format"].choices or ())  # the options table is the one list

EDL_IS_AUDIO_ONLY = (
    "{name} holds the music track only, as an audio EDL (one event per take, the stereo mix on "
    "channels AA, audio 1 and 2): "
    "a CMX 3600 EDL carries one track, so import it beside your picture EDL, or import "
    "{basename}.xml / {basename}.otio, which hold the cut and the music together."
)


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
        As read by :func:`vidmusician.core.inputs.read_input`.
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


def _formats_for(timeline: Timeline, fmt: str) -> list[str]:
    if fmt not in FORMATS:
        raise OptionError(f"--format {fmt}: choose one of {', '.join(FORMATS)}.")
    if fmt != "same":
        return ["otio", fmt] if fmt != "otio" else ["otio"]
    native = timeline.source.format
    if native == "fcp_xml":
        return ["otio", "fcp7"]
    if native == "cmx_3600":
        return ["otio", "edl", "fcp7"]  # the music as an audio EDL, and the XML with both
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
    markers: tuple[TimelineMarker, ...] = (),
) -> WriteResult:
    """Write the timeline with music as OTIO and in the requested format.

    Parameters
    ----------
    fmt : "same" | "otio" | "fcp7" | "edl"
        ``same`` writes the input's own format beside the OTIO (FCP 7 XML for
        Premiere/FCP XML input and for plain videos; for an EDL input an
        audio EDL of the music track and the FCP 7 XML: see ``notes``). The
        FCP 7 XML is the editor's document with the music added (see
        :func:`fcp_xml`), for the first take and every later version alike.
    basename : str
        File stem: ``timeline.otio``, ``timeline.xml``, ``timeline.edl``.
    markers : tuple of TimelineMarker
        Timeline markers to add (downbeats, or the cuts the music hit).

    Files are written atomically and never overwrite (``OutputError``).
    """
    out = Path(out_dir)
    base = source_otio(timeline)
    result = with_music(timeline, music, provenance, source=base, markers=markers)
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
                data = fcp_xml(timeline, base, result, markers)
            except InputError as e:  # the editor's document refused (entities, encoding)
                notes.append(f"FCP 7 XML not written: {e} Use {basename}.otio.")
                continue
            except Exception as e:  # the adapter's own limits; the OTIO is still there
                notes.append(
                    f"FCP 7 XML not written: the FCP XML adapter failed on this timeline "
                    f"({type(e).__name__}: {e}). Use {basename}.otio."
                )
                continue
            fsutil.write_with(p, _bytes_writer(data))
            paths["fcp7"] = str(p)
        elif f == "edl":
            p = out / f"{basename}.edl"
            try:
                text = audio_edl(result, timeline.rate, timeline.start_timecode, _picture_fcm(timeline))
            except Exception as e:
                notes.append(
                    f"EDL not written: the CMX 3600 writer failed on the music track "
                    f"({type(e).__name__}: {e}). Use {basename}.otio."
                )
                continue
            fsutil.write_text(p, text)
            paths["edl"] = str(p)
            notes.append(EDL_IS_AUDIO_ONLY.format(name=p.name, basename=basename))
    return WriteResult(paths, tuple(notes))


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write


def _picture_fcm(timeline: Timeline) -> str | None:
    """The ``FCM:`` line of the editor's own EDL, None for other inputs or none."""
    if timeline.source.format != "cmx_3600":
        return None
    from .timeline import edl_frame_mode

    return edl_frame_mode(timeline.source.path).header


def audio_edl(
    with_music_timeline: Any, rate: float, start_timecode: str = "00:00:00:00", fcm: str | None = None
) -> str:
    """The ``VidMusician Mix`` track as a CMX 3600 audio EDL (events on channels AA).

    The adapter's writer handles one track of a stack, so the music track is
    written alone, after a gap as long as the timeline's start timecode so
    that its record times match the editor's EDL; each take's file gets its
    own reel name (``MIX001``...). The record timecodes count as the
    picture's start timecode does (``;`` drop frame, ``:`` non-drop) and
    ``fcm``, the picture EDL's own ``FCM:`` line, is repeated as it is, so a
    reader counts the music's record times exactly as the picture's, even
    where that line and the picture's timecodes disagree.
    """
    from otio_cmx3600_adapter.cmx_3600 import EDLWriter

    (mix,) = [t for t in with_music_timeline.audio_tracks() if t.name == MIX_TRACK_NAME]
    start_frames = int(round(otio.opentime.from_timecode(start_timecode, rate).value))
    track = otio.schema.Track(name=MIX_TRACK_NAME, kind=otio.schema.TrackKind.Audio)
    if start_frames > 0:
        track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(start_frames, rate))))
    reels: dict[str, str] = {}
    for clip in mix.find_clips(shallow_search=True):
        c = copy.deepcopy(clip)
        url = c.media_reference.target_url
        reels.setdefault(url, f"MIX{len(reels) + 1:03d}")
        c.metadata["cmx_3600"] = {"reel": reels[url]}
        track.append(c)
    title = f"{with_music_timeline.name or 'timeline'} - VidMusician music"
    text = str(
        EDLWriter(
            tracks=otio.schema.Stack(children=[track]), rate=rate, style="avid"
        ).get_content_for_track_at_index(0, title=title)
    )
    return _frame_count_mode(_both_channels(text), rate, units.is_drop_frame(start_timecode), fcm)


_AUDIO_EVENT = re.compile(r"^(\d{3,}\s+\S+\s+)A( ?)(?=\s)", re.M)


def _both_channels(edl: str) -> str:
    """Events on channel ``AA`` (audio 1 and 2: the stereo mix) instead of the
    writer's ``A`` (audio 1 only, which an NLE takes as one mono channel).

    ``AA`` is CMX 3600's own code for the pair: one event per piece, read by
    Avid, Resolve, Premiere and OTIO's reader as A1 + A2; ``A12`` is not
    CMX 3600, and two events (``A`` and ``A2``) double every piece."""
    return _AUDIO_EVENT.sub(lambda m: m.group(1) + "AA", edl)


_TIMECODE = re.compile(r"\b\d\d:\d\d:\d\d[:;]\d\d\b")


def _frame_count_mode(edl: str, rate: float, drop: bool, header: str | None = None) -> str:
    """The adapter's EDL in the editor's counting mode, said on an ``FCM:`` line.

    The writer counts 29.97 and 59.94 drop-frame always (and writes no FCM
    line): for a non-drop edit its timecodes are rewritten non-drop (the same
    frames), so they read like the editor's picture EDL. Rates without drop
    frame (24, 25, 23.976, ...) say ``FCM: NON-DROP FRAME``. ``header`` (the
    picture EDL's ``FCM:`` line) is written instead of the line that ``drop``
    implies, at the rates that have drop frame.
    """
    exact = units.snap_rate(rate)
    if not units.has_drop_frame(exact):  # no drop-frame at 24, 25, 23.976, ...
        drop = False
        header = None
    elif not drop:

        def ndf(m: re.Match[str]) -> str:
            frames = otio.opentime.from_timecode(m.group(0), exact)
            return str(otio.opentime.to_timecode(frames, exact, False))

        edl = "\n".join(_TIMECODE.sub(ndf, line) if line[:3].isdigit() else line for line in edl.split("\n"))
    lines = edl.split("\n")
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    lines.insert(at, header or ("FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME"))
    return "\n".join(lines)


def fcp_xml(timeline: Timeline, source: Any, result: Any, markers: tuple[TimelineMarker, ...] = ()) -> bytes:
    """The timeline with music as FCP 7 XML, written by *adding* to a document.

    For an FCP 7 XML input the document is the editor's own file, read again:
    every byte of it stays (tracks, clips, links, files, Premiere's
    attributes), the music tracks and markers are spliced in
    (:func:`vidmusician.core.fcpxml.add_music`). For any other input it is the
    FCP XML adapter's rendering of the editor's timeline (``source``), with the
    music added the same way. ``result`` is :func:`with_music` of ``source``:
    its tracks after ``source``'s are the music.
    """
    from .fcpxml import SAMPLE_RATE, XmlClip, XmlMarker, XmlTrack, add_music

    rate = timeline.rate
    if timeline.source.format == "fcp_xml":
        document = Path(timeline.source.path).read_bytes()
    else:
        document = otio.adapters.write_to_string(_fcp_ready(source), "fcp_xml").encode("utf-8")
    tracks = []
    for track in list(result.tracks)[len(source.tracks) :]:
        clips = []
        for c in track.find_clips(shallow_search=True):
            r = c.range_in_parent()
            a = units.frames(r.start_time, rate)
            ref = c.media_reference
            fmt = ref.metadata.get(METADATA_KEY, {})
            clips.append(
                XmlClip(
                    name=c.name,
                    start=a,
                    end=a + units.frames(r.duration, rate),
                    source_in=units.frames(c.source_range.start_time, rate),
                    path=_url_to_path(ref.target_url),
                    file_frames=units.frames(ref.available_range.duration, rate),
                    sample_rate=int(fmt.get("sample_rate", SAMPLE_RATE)),
                    channels=int(fmt.get("channels", 2)),
                    bit_depth=int(fmt.get("bit_depth", 24)),
                )
            )
        tracks.append(XmlTrack(track.name, tuple(clips), enabled=bool(track.enabled)))
    return add_music(document, tracks, rate, [XmlMarker(m.frame, m.name) for m in markers])


def _url_to_path(url: str) -> str:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    return url2pathname(urlparse(url).path) if url.startswith("file:") else url


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
