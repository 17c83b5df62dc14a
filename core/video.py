"""A plain video file as input: a timeline of one clip cut where the picture cuts.

This is the first version (DESIGN.md): PySceneDetect finds the cuts; the
analysis stage refines them with its single decode pass.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from . import units
from .errors import InputError
from .model import Anchor, InputSource, Shot, Timeline
from .progress import CancelToken, ProgressFn, check, report

#: PySceneDetect detectors by the name used in options.
DETECTORS = ("adaptive", "content", "threshold", "histogram", "hash")

STRENGTH_SCENE = 0.9  # a detected cut is a little less certain than an editor's


def _detector(name: str) -> Any:
    import scenedetect

    classes = {
        "adaptive": scenedetect.AdaptiveDetector,
        "content": scenedetect.ContentDetector,
        "threshold": scenedetect.ThresholdDetector,
        "histogram": scenedetect.HistogramDetector,
        "hash": scenedetect.HashDetector,
    }
    return classes[name]()


def open_video(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` with PySceneDetect's OpenCV backend, with a clear error."""
    import scenedetect

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file. Check the path.")
    log = logging.getLogger("pyscenedetect")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its "Failed to open" warning repeats our error below
    try:
        video = scenedetect.open_video(str(p), backend="opencv")
    except Exception as e:  # OpenCV says little: "could not open", "unknown fps"
        why = " ".join(str(e).split()) or type(e).__name__
        raise InputError(
            f"{p}: cannot be decoded as video ({why}). The file may be corrupt or use a codec "
            "OpenCV cannot read; re-encode it to H.264 MP4."
        ) from e
    finally:
        log.setLevel(level)
    fps = float(video.frame_rate)
    if not units.valid_rate(fps):
        raise InputError(
            f"{p}: reports a frame rate of {fps:g} fps, which is not usable. Re-encode it with a "
            "constant frame rate (for example ffmpeg -r 25)."
        )
    if video.duration is None or video.duration.frame_num <= 0:
        raise InputError(f"{p}: holds no video frames.")
    return video


def detect_cuts(
    path: str | os.PathLike[str],
    detector: str = "adaptive",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[float, int, list[int]]:
    """Find cuts in a video with PySceneDetect.

    Parameters
    ----------
    path : path-like
    detector : one of :data:`DETECTORS`
    progress, cancel : see :mod:`vidmusician.core.progress`

    Returns
    -------
    (rate, n_frames, cut_frames)
        Frame rate (fps), number of frames, and the frame numbers (from 0)
        where a new scene starts, ascending, excluding 0.
    """
    from scenedetect import SceneManager

    video = open_video(path)
    rate = float(video.frame_rate)
    n_frames = int(video.duration.frame_num)
    sm = SceneManager()
    sm.auto_downscale = True
    sm.add_detector(_detector(detector))
    chunk = max(1.0, 2.0)  # seconds per call: progress and cancel between calls
    while True:
        check(cancel)
        if sm.detect_scenes(video, duration=chunk) == 0:
            break
        report(progress, video.frame_number / max(1, n_frames), "finding cuts")
    cuts = sorted({int(start.frame_num) for start, _ in sm.get_scene_list()[1:]})
    # the decoder's count can differ from the container's; trust what was read
    n_frames = max(int(video.frame_number), 1)
    return rate, n_frames, [c for c in cuts if 0 < c < n_frames]


def read_video(
    path: str | os.PathLike[str],
    detector: str = "adaptive",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Timeline:
    """A plain video as a :class:`Timeline`: one shot per detected scene.

    Every shot references ``path`` with its own source range; the edit points
    are anchors of kind ``scene``.
    """
    p = Path(path).resolve()
    rate, n_frames, cuts = detect_cuts(p, detector, progress, cancel)
    bounds = [0, *cuts, n_frames]
    shots = tuple(
        Shot(
            index=i,
            start_frame=a,
            end_frame=b,
            start_s=a / rate,
            end_s=b / rate,
            name=f"{p.stem} scene {i + 1}",
            kind="clip",
            media=str(p),
            media_found=True,
            source_start_s=a / rate,
            source_end_s=b / rate,
            media_start_s=0.0,
            track="video",
        )
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
    )
    anchors = tuple(Anchor(c / rate, "scene", STRENGTH_SCENE, f"scene {i + 2}") for i, c in enumerate(cuts))
    return Timeline(
        name=p.stem,
        rate=rate,
        duration_frames=n_frames,
        start_timecode=units.timecode(0, rate),
        shots=shots,
        markers=(),
        anchors=anchors,
        source=InputSource(str(p), "video"),
    )
