"""One entry point for every kind of input: timeline files and plain videos."""

from __future__ import annotations

import os
from pathlib import Path

from .model import Timeline
from .progress import CancelToken, ProgressFn
from .timeline import check_readable, input_kind, read_timeline
from .video import read_video


def read_input(
    path: str | os.PathLike[str],
    rate: float | None = None,
    detector: str = "adaptive",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    use_cache: bool = True,
) -> Timeline:
    """Read a timeline file or a plain video into a :class:`Timeline`.

    Parameters
    ----------
    path : path-like
        Timeline (.otio, .otioz, FCP 7 .xml, .edl, ...) or video (.mp4, .mov, ...).
        Never modified.
    rate : float, optional
        Frames per second for EDLs (which carry none).
    detector : str
        PySceneDetect detector for plain videos (see ``video.DETECTORS``).
    use_cache : bool
        Reuse a plain video's cached analysis pass.

    Raises
    ------
    InputError and subclasses, with a message saying what to do.
    """
    p = Path(path)
    check_readable(p)
    if input_kind(p) == "video":
        return read_video(p, detector, progress, cancel, use_cache)
    return read_timeline(p, rate)
