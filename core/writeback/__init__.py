"""Put music back onto the editor's timeline, touching nothing else.

The input is read again from its file (read-only), music goes on *new* audio
tracks (:mod:`.tracks`), and the result is written as OTIO and in the
input's own format, atomically, by the writers of one registry
(:mod:`.registry`: ``--format`` name -> extension, writer), one module per
format: :mod:`.otio` (always), :mod:`.fcp7` (FCP 7 XML, written by adding
to the editor's own document, never by re-serialising it through OTIO) and
:mod:`.edl` (an audio EDL of the music track).

Adding a format is one :func:`register` call; ``--format``, ``same``,
:func:`write_timelines` and ``score.export`` read the registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import fsutil
from ..model import Timeline
from . import edl, fcp7
from . import otio as otio_json
from .edl import EDL_IS_AUDIO_ONLY, audio_edl
from .fcp7 import fcp_xml
from .registry import (
    FORMATS,
    SAME,
    NotWritten,
    WriteJob,
    Writer,
    extension,
    formats_for,
    get,
    register,
    unregister,
    writers,
)
from .tracks import (
    METADATA_KEY,
    MIX_TRACK_NAME,
    STEM_TRACK_PREFIX,
    MusicFile,
    Piece,
    TimelineMarker,
    music_clips,
    source_otio,
    with_music,
)

for _module in (otio_json, fcp7, edl):  # the built-in formats, in --format's order
    register(_module.WRITER)

__all__ = [
    "EDL_IS_AUDIO_ONLY",
    "FORMATS",
    "METADATA_KEY",
    "MIX_TRACK_NAME",
    "SAME",
    "STEM_TRACK_PREFIX",
    "MusicFile",
    "NotWritten",
    "Piece",
    "TimelineMarker",
    "WriteJob",
    "WriteResult",
    "Writer",
    "audio_edl",
    "extension",
    "fcp_xml",
    "formats_for",
    "get",
    "music_clips",
    "register",
    "source_otio",
    "unregister",
    "with_music",
    "write_timelines",
    "writers",
]


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_timelines` wrote, and what it could not write and why."""

    paths: dict[str, str] = field(default_factory=dict)  # format -> path
    notes: tuple[str, ...] = ()


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
    fmt : str
        ``same`` or a registered writer's name (:data:`FORMATS`: ``otio``,
        ``fcp7``, ``edl``). ``same`` writes the input's own format beside the
        OTIO (FCP 7 XML for Premiere/FCP XML input and for plain videos; for
        an EDL input an audio EDL of the music track and the FCP 7 XML: see
        ``notes``). The FCP 7 XML is the editor's document with the music
        added (see :func:`fcp_xml`), for the first take and every later
        version alike.
    basename : str
        File stem: ``timeline.otio``, ``timeline.xml``, ``timeline.edl``.
    markers : tuple of TimelineMarker
        Timeline markers to add (downbeats, or the cuts the music hit).

    Files are written atomically and never overwrite (``OutputError``); a
    format that cannot be written (:class:`NotWritten`) is said in ``notes``.
    """
    out = Path(out_dir)
    names = formats_for(timeline, fmt)
    base = source_otio(timeline)
    result = with_music(timeline, music, provenance, source=base, markers=markers)
    job = WriteJob(timeline, base, result, markers, basename)
    paths: dict[str, str] = {}
    notes: list[str] = []
    for name in names:
        w = get(name)
        p = out / f"{basename}{w.extension}"
        try:
            data = w.write(job)
        except NotWritten as e:
            notes.append(str(e))
            continue
        if isinstance(data, bytes):
            fsutil.write_with(p, _bytes_writer(data))
        else:
            fsutil.write_text(p, data)
        paths[name] = str(p)
        if w.note:
            notes.append(w.note.format(name=p.name, basename=basename))
    return WriteResult(paths, tuple(notes))


def _bytes_writer(data: bytes) -> Any:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write
