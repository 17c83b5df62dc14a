"""A plain video file as input: a timeline of one clip, cut where the picture cuts.

The cuts come from PySceneDetect, run inside the analysis' single decode pass
(:mod:`vidmusician.core.analysis.scan`), whose result is cached: analysing
the same video afterwards decodes nothing again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import units
from ..errors import InputError
from ..model import Anchor, InputSource, Shot, Timeline
from ..progress import CancelToken, ProgressFn
from .scenes import DETECTORS, STRENGTH_SCENE, make_detector  # noqa: F401  (DETECTORS: named here too)

if TYPE_CHECKING:
    from .features import AnalysisOptions


def detect_cuts(
    path: str | os.PathLike[str],
    opts: AnalysisOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[float, int, list[int]]:
    """Find cuts in a video (through the cached analysis pass; ``opts`` picks
    the detector, its threshold and whether the cache is used).

    Returns
    -------
    (rate, n_frames, cut_frames)
        Nominal frame rate (fps), number of frames, and the frames (from 0)
        where a new scene starts, ascending, excluding 0. For constant frame
        rate media the frames are the decoded ones; for variable frame rate
        media (a screen recording: 25 fps nominal, 8.07 on average) the
        timeline runs at the stream's nominal rate, which editors and the FCP 7
        XML writer need, and frames count on that rate's grid from the
        frames' own timestamps.
    """
    from .decode import MediaError
    from .features import AnalysisOptions, whole_file_scan

    p = Path(path)
    try:
        info, sc = whole_file_scan(p, opts or AnalysisOptions(), progress, cancel)
    except MediaError as e:
        hint = (
            "Give a video file, or export the cut again."
            if "holds no" in str(e)
            else "The file may be corrupt or use a codec FFmpeg cannot read; re-encode it to H.264 MP4."
        )
        raise InputError(f"{e}. {hint}") from e
    if not units.valid_rate(info.rate):
        raise InputError(f"{p}: reports a frame rate of {info.rate:g} fps, which is not usable.")
    if len(sc.t) == 0:
        raise InputError(f"{p}: holds no decodable video frames.")
    if info.variable_rate and info.nominal_rate is not None:
        rate = info.nominal_rate
        end_s = max(float(info.duration_s), float(sc.t[-1]) + 1.0 / info.rate)
        n = max(1, int(round(end_s * rate)))
        cuts = sorted({int(round(float(t) * rate)) for t in sc.cuts})
        return rate, n, [c for c in cuts if 0 < c < n]
    cuts = sorted({int(i) for i in np.searchsorted(sc.t, sc.cuts - 1e-6)})
    return info.rate, len(sc.t), [c for c in cuts if 0 < c < len(sc.t)]


def _text(name: str) -> str:
    """A file name as text a timeline can hold: bytes that are not UTF-8
    (kept by Python as surrogates) become U+FFFD. The path itself stays as it
    is, to open the file."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_video(
    path: str | os.PathLike[str],
    opts: AnalysisOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Timeline:
    """A plain video as a :class:`Timeline`: one shot per detected scene.

    Every shot references ``path`` with its own source range; the edit points
    are anchors of kind ``scene``.
    """
    p = Path(path).resolve()
    rate, n_frames, cuts = detect_cuts(p, opts, progress, cancel)
    bounds = [0, *cuts, n_frames]
    shots = tuple(
        Shot(
            index=i,
            start_frame=a,
            end_frame=b,
            start_s=a / rate,
            end_s=b / rate,
            name=f"{_text(p.stem)} scene {i + 1}",
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
        name=_text(p.stem),
        rate=rate,
        duration_frames=n_frames,
        start_timecode=units.timecode(0, rate),
        shots=shots,
        markers=(),
        anchors=anchors,
        source=InputSource(str(p), "video"),
    )
