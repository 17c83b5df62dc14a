"""From a music file and a cut to a result folder: the ``fit`` command's pipeline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import VideoFeatures
from ..progress import CancelToken, ProgressFn, scaled
from ..rhythm.fit import FitResult


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit_input` made: the fit, the folder's report and the
    analysed cut (whose ``warnings`` and ``timeline.warnings``, like the fit's
    and the report's ``notes``, are the caller's to show)."""

    result: FitResult
    report: dict[str, Any]
    features: VideoFeatures
    out: Path


def fit_input(
    music: str | os.PathLike[str],
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    settings: Mapping[str, Any],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Fitted:
    """Warp ``music`` so its beats land on the cuts of ``path`` (timeline or
    video) and write it, with the timeline, into the new folder ``out``.

    ``settings`` holds the options table's values for ``fit`` (analysis:
    ``rate``, ``scene_detector``, ``scene_threshold``, ``cache``, ``clip``;
    ``stretch`` (the largest tempo change, a fraction), ``meter``,
    ``ring_out`` in seconds, ``format`` of the written timeline). ``out``
    must not exist or be empty; nothing is left there on failure.
    """
    from .. import fsutil, units
    from ..analysis.analyze import analyze_with
    from ..report.results import output_folder, write_result
    from ..rhythm.fit import fit, load_music

    out = Path(out)
    with output_folder(out) as folder:
        y = load_music(music)
        feats = analyze_with(path, settings, scaled(progress, 0.0, 0.3), cancel)
        s = settings
        result = fit(y, feats, s["stretch"], s["meter"], s["ring_out"], scaled(progress, 0.3, 0.7), cancel)
        seconds = result.audio.shape[-1] / units.OUTPUT_SR
        fsutil.ensure_space(folder, fsutil.audio_bytes(seconds), out)  # a full disk said before writing
        report = write_result(
            folder,
            out,
            feats,
            result.plan,
            "fit",
            result.audio,
            _provenance(music, result),
            fmt=s["format"],
            extra=_figures(result),
            progress=scaled(progress, 0.7, 1.0),
        )
    return Fitted(result, report, feats, out)


def _provenance(music: str | os.PathLike[str], result: FitResult) -> dict[str, Any]:
    return {
        "backend": "fit",
        "music": str(Path(music).resolve()),
        "music_tempo_bpm": round(result.music_tempo_bpm, 3),
    }


def _figures(result: FitResult) -> dict[str, Any]:
    """The report's fit figures: how far the music was stretched, bars dropped or repeated."""
    return {
        "stretch_range": [round(x, 4) for x in result.stretch_range],
        "bars_dropped": result.bars_dropped,
        "bars_repeated": result.bars_repeated,
    }
