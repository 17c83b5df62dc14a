"""The music as a CMX 3600 audio EDL (``--format edl``).

A CMX 3600 EDL carries one track: the file holds the ``VidMusician Mix``
track alone, its events on channels ``AA`` (the stereo pair), its record
times counted as the editor's picture EDL counts them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import opentimelineio as otio

from .. import units
from ..model import Timeline
from .registry import NotWritten, WriteJob, Writer
from .tracks import MIX_TRACK_NAME

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

EDL_IS_AUDIO_ONLY = (
    "{name} holds the music track only, as an audio EDL (one event per take, the stereo mix on "
    "channels AA, audio 1 and 2): "
    "a CMX 3600 EDL carries one track, so import it beside your picture EDL, or import "
    "{basename}.xml / {basename}.otio, which hold the cut and the music together."
)


def _picture_fcm(timeline: Timeline) -> str | None:
    """The ``FCM:`` line of the editor's own EDL, None for other inputs or none."""
    if timeline.source.format != "cmx_3600":
        return None
    from ..io.numbers import edl_frame_mode

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


def write(job: WriteJob) -> str:
    """The EDL's text; :class:`NotWritten` when the CMX 3600 writer fails."""
    t = job.timeline
    try:
        return audio_edl(job.result, t.rate, t.start_timecode, _picture_fcm(t))
    except Exception as e:
        raise NotWritten(
            f"EDL not written: the CMX 3600 writer failed on the music track "
            f"({type(e).__name__}: {e}). Use {job.basename}.otio."
        ) from e


WRITER = Writer(
    "edl", ".edl", write, same_for=("cmx_3600",), same_rank=1, note=EDL_IS_AUDIO_ONLY
)  # for an EDL input, beside the FCP 7 XML (which holds the cut and the music together)
