"""The ``analyze`` stage: what the picture offers the music.

Reads the input (timeline or plain video), then analyses every shot's
picture in one decode pass per source range (:mod:`vidmusician.core.analysis`):
cuts inside media, motion and visual beats, and shot semantics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .. import __version__
from ..io.timeline import input_kind
from ..model import Timeline, VideoFeatures
from ..progress import CancelToken, ProgressFn, scaled
from .features import AnalysisOptions, analyze_timeline
from .inputs import read_input


def analyze(
    path: str | os.PathLike[str],
    rate: float | None = None,
    scene_detector: str = "adaptive",
    scene_threshold: float | None = None,
    cache: bool = True,
    clip: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> VideoFeatures:
    """Read and analyse ``path`` (timeline or video).

    Parameters
    ----------
    path : path-like
        Never modified.
    rate : float, optional
        Frames per second for EDLs.
    scene_detector : str
        PySceneDetect detector for cuts inside media.
    scene_threshold : float, optional
        Its threshold (None: the detector's default).
    cache : bool
        Reuse (and store) per-range results in the analysis cache.
    clip : str, optional
        A local CLIP checkpoint: adds per-second embeddings and zero-shot tags.
    progress, cancel : see :mod:`vidmusician.core.progress`
    """
    video = input_kind(path) == "video"
    split = 0.9 if video else 0.05  # a plain video's reading is its analysis pass
    opts = AnalysisOptions(detector=scene_detector, threshold=scene_threshold, use_cache=cache, clip=clip)
    tl = read_input(path, rate, opts, scaled(progress, 0.0, split), cancel)
    return analyze_timeline(tl, opts, scaled(progress, split, 1.0), cancel)


def analyze_with(
    path: str | os.PathLike[str],
    settings: Mapping[str, Any],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> VideoFeatures:
    """:func:`analyze` with its options from a table of settings (the options
    table's names: ``rate``, ``scene_detector``, ``scene_threshold``, ``cache``,
    ``clip``), as the command line and the panel resolve them."""
    return analyze(
        path,
        rate=settings["rate"],
        scene_detector=settings["scene_detector"],
        scene_threshold=settings["scene_threshold"],
        cache=settings["cache"],
        clip=settings["clip"],
        progress=progress,
        cancel=cancel,
    )


def _r(x: float, nd: int = 6) -> float:
    return round(float(x), nd)


def timeline_json(tl: Timeline) -> dict[str, Any]:
    """The timeline part of the ``analyze --json`` contract (seconds from the first frame)."""
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
        "anchors": _anchors_json(tl.anchors),
        "markers": [
            {"time_s": _r(m.time_s), "name": m.name, "color": m.color, "scope": m.scope} for m in tl.markers
        ],
        "missing_media": list(tl.missing_media),
        "warnings": list(tl.warnings),
    }


def _anchors_json(anchors: Any) -> list[dict[str, Any]]:
    return [
        {
            "time_s": _r(a.time_s),
            "kind": a.kind,
            "strength": _r(a.strength),
            "label": a.label,
            **({"duration_s": _r(a.duration_s)} if a.duration_s else {}),
        }
        for a in anchors
    ]


def to_json(f: VideoFeatures) -> dict[str, Any]:
    """The ``analyze --json`` contract: the timeline, plus per shot ``descriptors``,
    ``mood``, ``style`` and ``prompt``, the ``motion`` curve, and the ``scene``
    and ``motion`` anchors."""
    out = timeline_json(f.timeline)
    for shot, feat in zip(out["shots"], f.shots):
        shot["analysed"] = feat.analysed
        shot["descriptors"] = feat.descriptors
        shot["mood"] = {"valence": feat.valence, "arousal": feat.arousal}
        shot["style"] = feat.style
        shot["prompt"] = list(feat.prompt)
        if feat.tags:
            shot["tags"] = list(feat.tags)
    out["anchors"] = _anchors_json(f.anchors)
    out["motion"] = {
        "hop_s": f.motion.hop_s,
        "values": [round(float(v), 4) for v in f.motion.values],
        "camera": [round(float(v), 4) for v in f.motion.camera],
        "object": [round(float(v), 4) for v in f.motion.object],
    }
    if f.clip is not None:
        out["clip"] = {"model": f.clip.model, "dim": int(f.clip.cls.shape[1]), "count": len(f.clip.times_s)}
    out["warnings"] = list(f.timeline.warnings) + list(f.warnings)
    return out
