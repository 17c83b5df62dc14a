"""One entry point for every kind of input: timeline files and plain videos."""

from __future__ import annotations

import os
from pathlib import Path

from ..io.timeline import check_readable, input_kind, read_timeline
from ..model import Timeline
from ..progress import CancelToken, ProgressFn
from .features import AnalysisOptions
from .video import read_video


def read_input(
    path: str | os.PathLike[str],
    rate: float | None = None,
    opts: AnalysisOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Timeline:
    """Read a timeline file or a plain video into a :class:`Timeline`.

    Parameters
    ----------
    path : path-like
        Timeline (.otio, .otioz, FCP 7 .xml, .edl, ...) or video (.mp4, .mov, ...).
        Never modified.
    rate : float, optional
        Frames per second for EDLs (which carry none).
    opts : AnalysisOptions, optional
        Scene detector, threshold and cache use for plain videos.

    Raises
    ------
    InputError and subclasses, with a message saying what to do.
    """
    p = Path(path)
    check_readable(p)
    if input_kind(p) == "video":
        return read_video(p, opts, progress, cancel)
    return read_timeline(p, rate)
