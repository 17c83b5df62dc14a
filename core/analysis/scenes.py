"""PySceneDetect's detectors, by the names the options use.

The analysis pass (:mod:`.scan`) runs one on every decoded frame; a plain
video's cuts (:mod:`.video`) and the cuts found inside a timeline's media
(:mod:`.features`) both come from it.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

#: PySceneDetect detectors by the name used in options.
DETECTORS = ("adaptive", "content", "threshold", "histogram", "hash")

STRENGTH_SCENE = 0.9  # a detected cut is a little less certain than an editor's


#: The keyword that sets each detector's threshold.
THRESHOLD_ARG = {
    "adaptive": "adaptive_threshold",
    "content": "threshold",
    "threshold": "threshold",
    "histogram": "threshold",
    "hash": "threshold",
}


def make_detector(name: str, threshold: float | None = None) -> Any:
    """A fresh PySceneDetect detector: its defaults, or the given threshold."""
    import scenedetect

    classes = {
        "adaptive": scenedetect.AdaptiveDetector,
        "content": scenedetect.ContentDetector,
        "threshold": scenedetect.ThresholdDetector,
        "histogram": scenedetect.HistogramDetector,
        "hash": scenedetect.HashDetector,
    }
    if name not in classes:
        raise InputError(f"unknown scene detector '{name}': choose one of {', '.join(DETECTORS)}.")
    kwargs = {} if threshold is None else {THRESHOLD_ARG[name]: threshold}
    return classes[name](**kwargs)
