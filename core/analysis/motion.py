"""Visual beats: where the picture's movement changes, as rhythm anchors.

Following the Controllable Music Transformer (Di et al., 2021), which takes
visual beats from changes in optical flow, a beat is a local peak of

    novelty(t) = max(0, s(t) - s(t - hop))                       # motion rising
               + 0.5 * (1 - cos(angle change)) / 2 * min(|v_t|, |v_t-1|) / 0.25
                                                                # direction turning

where ``s`` is the motion intensity smoothed over three hops and ``v`` the
mean motion vector (frame widths per second). Peaks closer than
``min_gap_s`` are thinned, peaks under ``min_novelty`` are ignored, and none
is kept within ``guard_s`` of an edit point (a cut is already an anchor, and
flow across it measures nothing real). Strength is ``0.7 * novelty / largest
novelty``: motion beats never outrank cuts.
"""

from __future__ import annotations

import numpy as np

from ..model import Anchor, MotionCurve

MIN_NOVELTY = 0.04
MIN_GAP_S = 0.3
GUARD_S = 0.12
MAX_STRENGTH = 0.7


def novelty(curve: MotionCurve, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """The novelty function above, one value per hop."""
    values = np.asarray(curve.values, float)
    n = len(values)
    if n == 0:
        return np.zeros(0)
    # the centred three-hop mean ("same" for n >= 3; numpy's "same" would give
    # three values for a one- or two-frame video, which match nothing else)
    s = np.convolve(values, np.ones(3) / 3.0, mode="full")[1 : 1 + n]
    rise = np.maximum(0.0, np.diff(s, prepend=s[:1]))
    mag = np.hypot(vx, vy)
    px, py, pm = np.roll(vx, 1), np.roll(vy, 1), np.roll(mag, 1)
    pm[0] = 0.0
    cos = (vx * px + vy * py) / np.maximum(mag * pm, 1e-9)
    turn = (1.0 - np.clip(cos, -1.0, 1.0)) / 2.0 * np.minimum(mag, pm) / 0.25
    turn[(mag < 1e-3) | (pm < 1e-3)] = 0.0
    return rise + 0.5 * np.minimum(turn, 1.0)


def visual_beats(
    curve: MotionCurve,
    vx: np.ndarray,
    vy: np.ndarray,
    edits_s: list[float],
    min_novelty: float = MIN_NOVELTY,
    min_gap_s: float = MIN_GAP_S,
    guard_s: float = GUARD_S,
) -> list[Anchor]:
    """Anchors of kind ``motion`` at the peaks of :func:`novelty`.

    Parameters
    ----------
    curve : MotionCurve
    vx, vy : ndarray [shape=(n,)]
        Mean motion vector per hop, frame widths per second.
    edits_s : list of float
        Times (seconds) of cuts, transitions and scene cuts to keep clear of.
    """
    from scipy.signal import find_peaks

    nov = novelty(curve, vx, vy)
    if not len(nov) or float(nov.max()) < min_novelty:
        return []
    hop = curve.hop_s
    peaks, _ = find_peaks(nov, height=min_novelty, distance=max(1, round(min_gap_s / hop)))
    edits = np.asarray(sorted(edits_s), float)
    out: list[Anchor] = []
    top = float(nov[peaks].max()) if len(peaks) else 1.0
    # distance from each peak to its nearest edit: a bisection, not a scan of every edit
    times = peaks * hop
    if len(edits):
        j = np.searchsorted(edits, times)
        before = np.abs(times - edits[np.clip(j - 1, 0, len(edits) - 1)])
        after = np.abs(edits[np.clip(j, 0, len(edits) - 1)] - times)
        clear = np.minimum(before, after) > guard_s
    else:
        clear = np.ones(len(peaks), bool)
    for p, ok in zip(peaks, clear):
        t = p * hop
        if not ok:
            continue
        out.append(Anchor(round(t, 6), "motion", round(MAX_STRENGTH * float(nov[p]) / top, 4), "visual beat"))
    return out
