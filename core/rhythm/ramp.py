"""The exact plan, ramped: its tempo steps at the cuts spread into per-beat ramps.

The exact planner (:mod:`.exact`) keeps the tempo constant between two hard
cuts and changes it at the cut, by up to 6% in one step. Between two cuts
a few beats apart a linear ramp of the subdivision intervals spreads that
step over the gap: the segment's intervals run ``d - s`` to ``d + s``
(``d`` the exact plan's interval, so they still sum to the gap and every
hard cut stays exactly on its grid point), and the slopes ``s`` are the
least-squares answer to "the smallest interval changes, step to step, over
the whole timeline" (a tridiagonal system: each slope meets its two
neighbours at the cuts).

The default mode (:func:`~.planner.plan`) plans both the sync grid and this
one and keeps the one with more hard cuts (strength-weighted) within the
sync window of a beat, ties to the one with more cuts exactly on a beat, then the steadier.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_banded

from ..model import Meter
from .records import beat_cv

JUMP_STRENGTH = 0.9  # as the sync planner's: a tempo jump only at a strong cut on a downbeat


def ramp_exact(
    grid: np.ndarray, phases: np.ndarray, points: list[float], sub: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact grid (times, phases, tempos of :func:`~.exact.flex`) with
    its constant segments between ``points`` (the hard cuts, 0 and the end,
    each a grid point) made linear ramps; the phases are unchanged
    (``sub`` grid steps to the beat, for the tempos in BPM)."""
    grid = np.asarray(grid, float)
    iv = np.diff(grid)
    if len(iv) < 2:
        return grid.copy(), phases, _tempo(iv * sub, grid)
    idx = np.searchsorted(grid, points)
    idx = np.clip(idx, 0, len(grid) - 1)
    b = np.unique(idx[np.abs(grid[idx] - np.asarray(points)) < 1e-9])
    b = np.union1d(b, [0, len(grid) - 1]).astype(int)
    m = np.diff(b)  # steps per segment
    keep = m > 0
    b0, m = b[:-1][keep], m[keep]
    d = iv[b0]  # each segment's (constant) interval
    s = _slopes(d, m)
    new_iv = np.empty_like(iv)
    times = grid.copy()
    for j in range(len(m)):
        q = np.arange(m[j])
        frac = (2.0 * q - (m[j] - 1)) / (m[j] - 1) if m[j] > 1 else np.zeros(1)
        seg = d[j] + s[j] * frac
        new_iv[b0[j] : b0[j] + m[j]] = seg
        end = b0[j] + m[j]
        times[b0[j] + 1 : end] = grid[b0[j]] + np.cumsum(seg)[:-1]
        times[end] = grid[end]  # the cut exactly where it was
    return times, phases, _tempo(new_iv * sub, times)


def _tempo(iv: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per grid point, the tempo (BPM; ``iv`` the beat lengths the steps run at) of the step after it (the last: the one before)."""
    if not len(iv):
        return np.full(len(grid), 120.0)
    return 60.0 / np.append(iv, iv[-1])


def _slopes(d: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per segment the half-range ``s`` of its linear intervals ``d - s .. d + s``
    minimising the sum of squared relative interval changes: at each cut
    ``(d[j+1] - s[j+1]) - (d[j] + s[j])``, inside ``m[j] - 1`` steps of ``2 s / (m - 1)``;
    a one-step segment keeps its interval (``s = 0``)."""
    n = len(d)
    if n < 2:
        return np.zeros(n)
    dm = 0.5 * (d[1:] + d[:-1])
    a = 1.0 / dm**2  # weight of each cut's jump
    c = np.where(m > 1, 4.0 / (np.maximum(m - 1, 1) * d**2), 1e12)
    delta = np.diff(d)
    diag = c.copy()
    diag[:-1] += a
    diag[1:] += a
    ab = np.zeros((3, n))
    ab[0, 1:] = a
    ab[1] = diag
    ab[2, :-1] = a
    rhs = np.zeros(n)
    rhs[:-1] += a * delta
    rhs[1:] += a * delta
    s = solve_banded((1, 1), ab, rhs)
    return np.clip(s, -0.45 * d, 0.45 * d)  # intervals stay positive


def steady_ok(
    grid: np.ndarray,
    phases: np.ndarray,
    m: Meter,
    hard: list[tuple[float, float]],
    steady: float,
    max_change: float,
) -> tuple[bool, tuple[float, ...]]:
    """Whether the grid's beats keep every beat-to-beat change within
    ``steady``, but for jumps (within ``max_change``) at strong hard cuts on
    downbeats; and the times of those jumps (section starts)."""
    on_beat = phases % m.subdivision == 0
    beats, bar = grid[on_beat], phases[on_beat]
    if len(beats) < 3:
        return True, ()
    step = np.abs(np.diff(np.log(np.diff(beats))))
    strong = {round(t, 9) for t, s in hard if s >= JUMP_STRENGTH}
    jumps = []
    for i in np.flatnonzero(step > math.log1p(steady) + 1e-9):
        at = i + 1
        t = float(beats[at])
        if bar[at] != 0 or round(t, 9) not in strong or step[i] > math.log1p(max_change) + 1e-9:
            return False, ()
        jumps.append(t)
    return True, tuple(jumps)


def caught_weight(cuts: np.ndarray, s: np.ndarray, beats: np.ndarray, window: float) -> float:
    """The strength of the cuts within ``window`` of a beat."""
    from .sync import nearest_distance

    if not len(cuts):
        return 0.0
    return float(s[nearest_distance(cuts, beats) <= window + 1e-9].sum())


def default_grid(
    hard: list[tuple[float, float]],
    must: set[float] | frozenset[float],
    duration: float,
    lo: float,
    hi: float,
    target: float,
    m: Meter,
    flex: float,
    max_change: float,
    window: float,
    steady: float,
    rate: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...], str]:
    """The default mode's grid: the sync grid or the ramped exact one,
    whichever has more hard cuts (strength-weighted) within ``window`` of a
    beat, ties to the one with more exactly on a beat, then to the lower beat-interval CV. The ramped exact grid runs only
    where it keeps the steadiness bound (jumps at strong cuts on downbeats
    aside) and puts every must-hit cut on a beat; so does the exact grid
    itself, unramped, a candidate too (where its steps are within the bound
    already, as on evenly spaced cuts, the ramps would only add variation).
    Returns (grid times, phases, tempos, tempo jump times, ``"sync"``,
    ``"exact-ramped"`` or ``"exact"``)."""
    from .exact import _flex
    from .nudge import sync_grid

    sync = sync_grid(hard, must, duration, lo, hi, target, m, window, steady, max_change, rate)
    if not hard:
        return (*sync, "sync")
    eg, ep, et = _flex(hard, duration, lo, hi, target, m, flex, max_change)
    points = [0.0] + [t for t, _ in hard] + [float(duration)]
    cuts = np.array([t for t, _ in hard], float)
    s = np.array([x for _, x in hard], float)

    def key(g: np.ndarray, ph: np.ndarray) -> tuple[float, float, float]:
        beats = g[ph % m.subdivision == 0]
        exact = caught_weight(
            cuts, s, beats, 1e-6
        )  # on their frames (librosa hears a cut off it later still)
        return (round(caught_weight(cuts, s, beats, window), 9), round(exact, 9), -beat_cv(beats))

    best = (key(sync[0], sync[1]), (*sync, "sync"))
    for g, ph, tempo, name in (
        (*ramp_exact(eg, ep, points, m.subdivision), "exact-ramped"),
        (eg, ep, et, "exact"),
    ):
        ok, jumps = steady_ok(g, ph, m, hard, steady, max_change)
        if ok and must:
            on_beat = {round(float(t), 9) for t in g[ph % m.subdivision == 0]}
            ok = all(round(t, 9) in on_beat for t in must)
        if ok and np.all(np.diff(g) > 0) and key(g, ph) > best[0]:
            best = (key(g, ph), (g, ph, tempo, jumps, name))
    return best[1]
