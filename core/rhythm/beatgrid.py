"""The sync planner's beat-level programme: the best steady beat grid, beat by beat.

The cut-level programme (:func:`.sync._dp`) anchors some cuts exactly and
joins them with constant or geometric segments; it cannot bend the tempo
between two cuts to catch a third, and its beam drops states. This one
works on the beats themselves: on a fine time grid (``res``: 1 ms on a
short timeline), a beat at step ``t`` reached by an interval ``d`` (steps)
may be followed by one at ``t + d'`` for every ``d'`` within ``steady`` of
``d`` (the beat-to-beat bound, exactly, on the grid), each interval inside
the tempo range and within ``band`` of the centre tempo (which bounds the
beat-interval CV by about ``band``). It maximises, exactly for that grid,

    sum of the strengths of the cuts within the window of a beat
      * (1 + EXACT_BONUS * (1 - |offset| / window)        a near beat is worth a little more
           + EXACT_SPIKE for the cut's own step)               and an exact one more still
    + SUB_WEIGHT * strength of a cut within the window of an eighth or sixteenth instead
    - W_CENTRE * |ln(d / centre)| per beat                  the tempo stays at the centre where nothing is at stake
    + END_BONUS for a last beat on the last frame (a downbeat there)

with a must-hit cut forced onto a beat (a bonus no other choice outweighs).
The work is one block of ``min(d)`` steps at a time (a beat's successors lie
at least that far ahead), every step of a block vectorised, and the maximum
over the allowed previous intervals by a sparse table; so the time grows
with the number of beats, the memory with the number of steps: past
:data:`STEPS` steps at :data:`MAX_RES_S` the programme declines
(``None``) and the cut-level one plans alone.

A caught cut within half a step of its beat is then put exactly on it (the
cut's own frame), unless that would push a beat-to-beat change past ``steady``.
"""

from __future__ import annotations

import math

import numpy as np

from .records import SyncGrid

EXACT_BONUS = 0.3
EXACT_SPIKE = 0.5  # a beat on the cut's own step (its frame, once snapped)
W_CENTRE = 1.0
END_BONUS = 1.5  # as the cut-level programme's ring-out cost
MUST_BONUS = 1e4
SUB_WEIGHT = 0.25  # a cut within the window of an eighth or a sixteenth (the accent's grid point)
BAND = 0.06  # the intervals stay within this (log) of the centre's
STEPS = 100_000  # time steps over the timeline, at 1 ms at least (the work grows as duration / res^2)
MAX_RES_S = 0.005  # the coarsest step it plans on (500 s); a longer timeline: the cut-level programme alone


def beat_grid(
    cuts: np.ndarray,
    s: np.ndarray,
    must: np.ndarray,
    duration: float,
    lo: float,
    hi: float,
    centre_bpm: float,
    bpb: int,
    sub: int,
    window: float,
    steady: float,
    band: float = BAND,
) -> SyncGrid | None:
    """The best grid of :mod:`this programme <.beatgrid>` for hard cuts ``cuts`` (seconds, ascending,
    inside (0, duration)) of strengths ``s``, must-hit ones ``must``; None where the timeline is too
    long for it or no interval fits the range and the band."""
    res = max(0.001, duration / STEPS)
    if res > MAX_RES_S or duration <= 0:
        return None
    n_rows = int(math.floor(duration / res + 1e-9))
    ds = _intervals(lo, hi, centre_bpm, band, res)
    if len(ds) < 1 or ds[0] <= 2 * window / res:
        return None
    gain = _gain(cuts, s, must, n_rows + int(ds[-1]) + 1, res, window)
    cost = W_CENTRE * np.abs(np.log(ds * res * centre_bpm / 60.0))
    on_grid = SUB_WEIGHT * _gain(cuts, s, np.zeros(len(cuts), bool), len(gain), res, window, 0.0, 0.0)
    val, ptr = _run(gain, on_grid, sub, cost, ds, n_rows, steady)
    r, j, end_ok = _best_end(val, n_rows, int(ds[-1]))
    if r < 0:
        return None
    rows = [r]
    while ptr[r, j] >= 0:
        r, j = r - int(ds[j]), int(ptr[r, j])
        rows.append(r)
    beats = np.array(rows[::-1], float) * res
    beats, anchored = _snap(beats, cuts, res, steady)
    if end_ok:
        beats[-1] = duration
    beats = _extend_back(beats)
    bars = _bars(beats, cuts, s, bpb, window, end_ok)
    return SyncGrid(beats, bars, anchored, (), end_ok, "beat-dp")


def _intervals(lo: float, hi: float, centre_bpm: float, band: float, res: float) -> np.ndarray:
    """The beat intervals (in steps) inside the tempo range and the band around the centre."""
    c = 60.0 / centre_bpm / res
    a = max(60.0 / hi / res, c * math.exp(-band))
    b = min(60.0 / lo / res, c * math.exp(band))
    return np.arange(int(math.ceil(a - 1e-9)), int(math.floor(b + 1e-9)) + 1)


def _gain(
    cuts: np.ndarray,
    s: np.ndarray,
    must: np.ndarray,
    n: int,
    res: float,
    window: float,
    exact_bonus: float | None = None,
    exact_spike: float | None = None,
) -> np.ndarray:
    """Per time step, what a beat there earns: the cuts within the window (a near one more), a must-hit cut's bonus."""
    exact_bonus = EXACT_BONUS if exact_bonus is None else exact_bonus
    exact_spike = EXACT_SPIKE if exact_spike is None else exact_spike
    g = np.zeros(n)
    w = int(math.floor(window / res + 1e-9))
    off = np.arange(-w, w + 1)
    near = 1.0 + exact_bonus * (1.0 - np.abs(off) * res / max(window, 1e-9))
    for c, st, mu in zip(cuts, s, must):
        r = int(round(c / res))
        a, b = max(0, r - w), min(n, r + w + 1)
        if a < b:
            g[a:b] += st * near[a - (r - w) : b - (r - w)]
        if 0 <= r < n:
            g[r] += MUST_BONUS if mu else st * exact_spike
    return g


def _run(
    gain: np.ndarray,
    on_grid: np.ndarray,
    sub: int,
    cost: np.ndarray,
    ds: np.ndarray,
    n_rows: int,
    steady: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The programme's values ``[step, interval]`` (-inf: no beat there) and the ways back (the previous
    interval's index, -1 for the first beat). A beat earns ``gain`` at its step and, from the beat
    before it, ``on_grid`` at each of the ``sub - 1`` grid points between them."""
    fracs = [np.round(ds * q / sub).astype(int) for q in range(1, sub)]
    nd = len(ds)
    size = n_rows + 1
    val = np.full((size, nd), -np.inf)
    ptr = np.full((size, nd), -1, np.int16)
    first = min(size, int(ds[-1]))
    val[:first] = gain[:first, None]
    # allowed previous intervals of each interval: a contiguous range
    lo_i = np.searchsorted(ds, ds / (1.0 + steady) - 1e-9, side="left")
    hi_i = np.searchsorted(ds, ds * (1.0 + steady) + 1e-9, side="right") - 1
    k_lev = np.floor(np.log2(hi_i - lo_i + 1)).astype(int)
    right = hi_i - (1 << k_lev) + 1
    block = int(ds[0])
    cols = np.arange(nd)
    for r0 in range(0, size, block):
        blk = val[r0 : r0 + block]
        if not np.isfinite(blk).any():
            continue
        best, arg = _range_max(blk, k_lev, lo_i, right)
        rows = np.arange(r0, r0 + len(blk))
        tgt = rows[:, None] + ds[None, :]
        cand = best + gain[tgt] - cost[None, :]
        for f in fracs:
            cand += on_grid[rows[:, None] + f[None, :]]
        ok = tgt < size
        ti, ci = tgt[ok], np.broadcast_to(cols, tgt.shape)[ok]
        cv = cand[ok]
        better = cv > val[ti, ci]
        val[ti[better], ci[better]] = cv[better]
        ptr[ti[better], ci[better]] = arg[ok][better]
    return val, ptr


def _range_max(
    blk: np.ndarray, k_lev: np.ndarray, lo_i: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row and each interval j, the maximum of ``blk[row, lo_i[j]:hi_i[j]+1]`` and where (a sparse table)."""
    vals = [blk]
    idx = [np.broadcast_to(np.arange(blk.shape[1]), blk.shape)]
    for k in range(1, int(k_lev.max()) + 1):
        w = 1 << (k - 1)
        pv, pi = vals[-1], idx[-1]
        nv, ni = pv.copy(), pi.copy()
        take = pv[:, w:] > pv[:, :-w]
        nv[:, :-w] = np.where(take, pv[:, w:], pv[:, :-w])
        ni[:, :-w] = np.where(take, pi[:, w:], pi[:, :-w])
        vals.append(nv)
        idx.append(ni)
    sv, si = np.stack(vals), np.stack(idx)
    rr = np.arange(blk.shape[0])[:, None]
    a_v, a_i = sv[k_lev[None, :], rr, lo_i[None, :]], si[k_lev[None, :], rr, lo_i[None, :]]
    b_v, b_i = sv[k_lev[None, :], rr, right[None, :]], si[k_lev[None, :], rr, right[None, :]]
    take = b_v > a_v
    return np.where(take, b_v, a_v), np.where(take, b_i, a_i)


def _best_end(val: np.ndarray, n_rows: int, d_max: int) -> tuple[int, int, bool]:
    """The last beat: on the last step (the end, a downbeat: :data:`END_BONUS`) or the best one within
    an interval of it; (step, interval index, ends on the last frame), step -1 for none."""
    tail = val[max(0, n_rows - d_max + 1) : n_rows + 1]
    if not np.isfinite(tail).any():
        return -1, -1, False
    r, j = np.unravel_index(int(np.argmax(tail)), tail.shape)
    r_best = int(r) + max(0, n_rows - d_max + 1)
    j_end = int(np.argmax(val[n_rows]))
    if np.isfinite(val[n_rows, j_end]) and val[n_rows, j_end] + END_BONUS >= val[r_best, int(j)]:
        return n_rows, j_end, True
    return r_best, int(j), False


def _snap(
    beats: np.ndarray, cuts: np.ndarray, res: float, steady: float
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Beats within half a step of a cut put exactly on it (unless a beat-to-beat change would pass
    ``steady``); the beats and the indices of the cuts now exactly on one."""
    if not len(cuts) or len(beats) < 2:
        return beats, ()
    idx = np.clip(np.searchsorted(beats, cuts), 1, len(beats) - 1)
    idx = np.where(np.abs(beats[idx - 1] - cuts) <= np.abs(beats[idx] - cuts), idx - 1, idx)
    close = np.flatnonzero(np.abs(beats[idx] - cuts) <= 0.5 * res + 1e-9)
    lim = math.log1p(steady) + 1e-9
    out = beats.copy()
    anchored = []
    for c in close.tolist():
        b = int(idx[c])
        trial = out.copy()
        trial[b] = cuts[c]
        lo, hi = max(0, b - 2), min(len(out), b + 3)
        iv = np.diff(trial[lo:hi])
        if np.all(iv > 0) and (len(iv) < 2 or np.abs(np.diff(np.log(iv))).max() <= lim):
            out = trial
            anchored.append(c)
    return out, tuple(anchored)


def _extend_back(beats: np.ndarray) -> np.ndarray:
    """The first interval run back to the timeline's start (beats at or after 0)."""
    if len(beats) < 2:
        return beats
    d = beats[1] - beats[0]
    q = int(math.floor(beats[0] / d + 1e-9))
    return np.concatenate([beats[0] - d * np.arange(q, 0, -1), beats])


def _bars(
    beats: np.ndarray, cuts: np.ndarray, s: np.ndarray, bpb: int, window: float, end_ok: bool
) -> np.ndarray:
    """The beat of the bar of every beat: the last one a downbeat where it is the end, else the downbeat
    where the most cut strength falls."""
    n = len(beats)
    if end_ok or not len(cuts):
        down = (n - 1) % bpb
    else:
        weight = np.zeros(bpb)
        idx = np.clip(np.searchsorted(beats, cuts), 1, max(1, n - 1))
        idx = np.where(
            np.abs(beats[idx - 1] - cuts) <= np.abs(beats[np.minimum(idx, n - 1)] - cuts), idx - 1, idx
        )
        idx = np.minimum(idx, n - 1)
        ok = np.abs(beats[idx] - cuts) <= window + 1e-9
        np.add.at(weight, idx[ok] % bpb, s[ok])
        down = int(np.argmax(weight)) if weight.max() > 0 else (n - 1) % bpb
    return ((np.arange(n) - down) % bpb).astype(int)
