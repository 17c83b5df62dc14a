"""The sync plan's nudge and its grid (split out of :mod:`.sync`, unchanged).

:func:`nudge` puts every caught cut that is not anchored exactly on its
frame by a smooth displacement of the beats (step 3 of :mod:`.sync`'s
docstring); :func:`sync_grid` nudges each candidate of :func:`.sync.plan_sync`,
keeps the best and subdivides its beats into the plan's grid.
"""

from __future__ import annotations

import math

import numpy as np

from ..model import Meter
from .records import beat_cv
from .sync import STEADY, SYNC_WINDOW_S, SyncGrid, _ending, caught, plan_sync

# --------------------------------------------------------------------------- the nudge


def nudge(
    beats: np.ndarray,
    locked: np.ndarray,
    cuts: np.ndarray,
    strengths: np.ndarray,
    window: float,
    steady: float = STEADY,
    tempo_range: tuple[float, float] = (0.0, math.inf),
) -> tuple[np.ndarray, np.ndarray]:
    """Move the beats so that every cut within ``window`` of a beat is exactly
    on it, spreading each move over the neighbouring beats (:func:`_smooth`
    of the displacement over the beat index, zero at the ``locked`` beats); a move that would push a beat-to-beat tempo change past
    ``steady`` (and past what the grid had there already) is given up.
    Returns the beats and, for each cut, the beat it is exactly on (-1: none)."""
    beats = np.asarray(beats, float).copy()
    on = np.full(len(cuts), -1)
    if len(beats) < 3 or not len(cuts):
        return beats, on
    lock_beats = set(np.flatnonzero(locked).tolist())
    want = _wanted(beats, lock_beats, cuts, strengths, window, on)
    lim = math.log1p(steady)
    base_int = np.diff(beats)
    base = np.abs(np.diff(np.log(base_int)))
    pins: set[int] = set()  # the beats of cuts given up: held where they were (still within the window)

    def displacement() -> np.ndarray:
        pts = sorted(lock_beats | set(want) | pins)
        x = np.array(pts, float)
        y = np.array([cuts[want[p]] - beats[p] if p in want else 0.0 for p in pts])
        return _smooth(x, y, len(beats))

    for _ in range(256):
        if not want:
            break
        iv = np.diff(beats + displacement())
        if (iv <= 0).any():
            viol = np.flatnonzero(iv <= 0)
        else:
            step = np.abs(np.diff(np.log(iv)))
            viol = np.flatnonzero((step > lim + 1e-9) & (step > base + 1e-9))
            bpm = 60.0 / iv
            out = np.flatnonzero(
                (bpm < tempo_range[0] * (1 - steady)) | (bpm > tempo_range[1] * (1 + steady))
            )
            viol = np.union1d(viol, np.maximum(out - 1, 0))
        if not len(viol):
            break
        # near each violation, give up the weakest wanted cut among the nearest ones (it is pinned),
        # or, with none wanted there, the nearest pin
        drop, unpin = set(), set()
        for v in viol.tolist():
            cand = [p for p in want if v - 1 <= p <= v + 3]
            if cand:
                drop.add(min(cand, key=lambda p: (strengths[want[p]], -abs(cuts[want[p]] - beats[p]))))
            elif pins:
                unpin.add(min(pins, key=lambda p: abs(p - (v + 1))))
            else:
                drop.add(min(want, key=lambda p: abs(p - (v + 1))))
        for p in drop:
            del want[p]
            pins.add(p)
        pins -= unpin
    else:
        want, pins = {}, set()
    if want:
        beats = beats + displacement()
        for p, c in want.items():
            beats[p] = cuts[c]  # exactly its frame
            on[c] = p
    return beats, on


def _wanted(
    beats: np.ndarray,
    lock_beats: set[int],
    cuts: np.ndarray,
    strengths: np.ndarray,
    window: float,
    on: np.ndarray,
) -> dict[int, int]:
    """Beat -> the cut to put exactly on it: per beat the strongest cut within
    ``window``; a locked beat is no one's to move (``on`` notes the cut already on one)."""
    idx = np.clip(np.searchsorted(beats, cuts), 1, len(beats) - 1)
    idx = np.where(np.abs(beats[idx - 1] - cuts) <= np.abs(beats[idx] - cuts), idx - 1, idx)
    near = np.abs(beats[idx] - cuts) <= window + 1e-9
    # one cut per beat: the strongest
    want: dict[int, int] = {}
    for c in np.flatnonzero(near).tolist():
        bi = int(idx[c])
        if bi not in want or strengths[c] > strengths[want[bi]]:
            want[bi] = c
    for bi, c in list(want.items()):
        if bi in lock_beats:
            on[c] = bi if abs(beats[bi] - cuts[c]) < 1e-6 else -1
            del want[bi]
    return want


def _smooth(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """The displacement of beats ``0..n-1``: ``y`` at the beats ``x``
    (ascending), a smoothstep (cubic, flat at both ends) between, and held
    before the first and after the last: the tempo at a cut's beat is the
    grid's own, and the move is spread over the beats in between."""
    xi = np.arange(n, dtype=float)
    if len(x) == 1:
        return np.full(n, y[0])
    j = np.clip(np.searchsorted(x, xi, side="right") - 1, 0, len(x) - 2)
    u = np.clip((xi - x[j]) / (x[j + 1] - x[j]), 0.0, 1.0)
    return y[j] + (y[j + 1] - y[j]) * u * u * (3.0 - 2.0 * u)


# --------------------------------------------------------------------------- the plan's grid


def sync_grid(
    hard: list[tuple[float, float]],
    must: set[float] | frozenset[float],
    duration: float,
    lo: float,
    hi: float,
    target: float,
    m: Meter,
    window: float = SYNC_WINDOW_S,
    steady: float = STEADY,
    max_change: float = 0.06,
    rate: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """The sync plan's grid: (grid times, grid phases, grid tempos, tempo jump
    times), for :func:`~.planner.plan`. ``hard`` is (time, strength) of the
    hard cuts inside (0, duration), ascending; ``must`` the must-hit times.
    A beat carrying a cut is at the cut's own time (a frame of the picture;
    ``rate`` is not needed for that)."""
    cuts = np.array([t for t, _ in hard], float)
    s = np.array([x for _, x in hard], float)
    mu = np.array([t in must for t in cuts], bool)
    if not len(cuts):
        tail, ok, _ = _ending(0.0, duration, None, 0, m.beats, lo, hi, target, math.log1p(steady), max_change)
        candidates = [SyncGrid(tail, np.arange(len(tail)) % m.beats, (), (), ok, "dp")]
    else:
        candidates = plan_sync(cuts, s, mu, duration, lo, hi, target, m, window, steady, max_change)
    best: tuple[tuple[float, ...], SyncGrid, np.ndarray] | None = None
    for (
        g
    ) in candidates:  # each nudged; the most cuts caught, then exactly, an ending on a downbeat, steadiness
        locked = np.zeros(len(g.beats), bool)
        if g.anchored:
            locked[np.searchsorted(g.beats, cuts[list(g.anchored)])] = True
        if g.end_ok:
            locked[-1] = True
        moved, on = nudge(g.beats, locked, cuts, s, window, steady, (lo, hi))
        cv = beat_cv(moved)
        exact = int((on >= 0).sum())  # the anchored cuts among them
        key = (float(caught(cuts, moved, window)), float(exact), float(g.end_ok), -cv)
        if best is None or key > best[0]:
            best = (key, g, moved)
    assert best is not None
    _, g, beats = best
    bars = g.bars
    keep = beats >= -1e-9
    beats, bars = np.maximum(beats[keep], 0.0), bars[keep]
    return (*_subdivide(beats, bars, m, duration, g.end_ok), g.jumps_s)


def _subdivide(
    beats: np.ndarray, bars: np.ndarray, m: Meter, duration: float, end_ok: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid points (every subdivision, evenly inside each beat), their phases and tempos."""
    sub = m.subdivision
    if len(beats) < 2:
        period = 60.0 / 120.0
        beats = np.array([0.0, period]) if not len(beats) else np.array([beats[0], beats[0] + period])
        bars = np.array([0, 1 % m.beats]) if not len(bars) else np.array([bars[0], (bars[0] + 1) % m.beats])
    iv = np.diff(beats)
    # one virtual beat before and (ringing out) after, for the subdivisions there
    first_iv, last_iv = iv[0], iv[-1]
    ext = np.concatenate([[beats[0] - first_iv], beats, [beats[-1] + last_iv]])
    ext_bars = np.concatenate([[(bars[0] - 1) % m.beats], bars, [(bars[-1] + 1) % m.beats]])
    ext_iv = np.diff(ext)
    q = np.arange(sub)
    times = (ext[:-1, None] + ext_iv[:, None] * q[None, :] / sub).ravel()
    phases = (ext_bars[:-1, None] * sub + q[None, :]).ravel()
    tempo = np.repeat(60.0 / ext_iv, sub)
    times = np.append(times, ext[-1])
    phases = np.append(phases, ext_bars[-1] * sub)
    tempo = np.append(tempo, 60.0 / last_iv)
    end = beats[-1] + 1e-9 if end_ok else duration + 1e-9
    sel = (times >= -1e-9) & (times <= end)
    return times[sel], phases[sel].astype(int), tempo[sel]
