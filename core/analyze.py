"""The ``analyze`` stage: what the picture offers the music.

For now this is the timeline reading (shots, cuts, transitions, markers, and
scene cuts for a plain video); motion, visual beats and shot semantics join
it with the analysis issue.
"""

from __future__ import annotations

import os
from typing import Any

from . import __version__
from .inputs import read_input
from .model import Timeline
from .progress import CancelToken, ProgressFn


def analyze(
    path: str | os.PathLike[str],
    rate: float | None = None,
    scene_detector: str = "adaptive",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Timeline:
    """Read and analyse ``path`` (timeline or video); see :func:`read_input`."""
    return read_input(path, rate=rate, detector=scene_detector, progress=progress, cancel=cancel)


def _r(x: float) -> float:
    return round(float(x), 6)


def to_json(tl: Timeline) -> dict[str, Any]:
    """The ``analyze --json`` contract: plain JSON types, seconds from the first frame."""
    return {
        "vidmusician": __version__,
        "input": tl.source.path,
        "format": tl.source.format,
        "name": tl.name,
        "rate": tl.rate,
        "duration_s": _r(tl.duration_s),
        "duration_frames": tl.duration_frames,
        "start_timecode": tl.start_timecode,
        "shots": [
            {
                "index": s.index,
                "start_s": _r(s.start_s),
                "end_s": _r(s.end_s),
                "start_frame": s.start_frame,
                "end_frame": s.end_frame,
                "name": s.name,
                "kind": s.kind,
                "media": s.media,
                "media_found": s.media_found,
                "source_start_s": None if s.source_start_s is None else _r(s.source_start_s),
                "source_end_s": None if s.source_end_s is None else _r(s.source_end_s),
                "track": s.track,
            }
            for s in tl.shots
        ],
        "anchors": [
            {
                "time_s": _r(a.time_s),
                "kind": a.kind,
                "strength": _r(a.strength),
                "label": a.label,
                **({"duration_s": _r(a.duration_s)} if a.duration_s else {}),
            }
            for a in tl.anchors
        ],
        "markers": [
            {"time_s": _r(m.time_s), "name": m.name, "color": m.color, "scope": m.scope} for m in tl.markers
        ],
        "missing_media": list(tl.missing_media),
        "warnings": list(tl.warnings),
    }
