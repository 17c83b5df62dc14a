"""The exact planner (``--exact``, ``mode: "flex"``) and the constant tempo (``--flex 0``).

Between two consecutive hard anchors the tempo is constant and the gap
holds a whole number of subdivisions, so every hard anchor lands exactly on
the grid; a dynamic programme over the gaps picks every count (the costs:
:mod:`.planner`'s docstring). Split out of :mod:`.planner` unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from ..model import Meter

W_TARGET = 0.5
W_CHANGE = 2.0
CHANGE_LIMIT_PENALTY = 200.0  # any step past the limit, plus 1000 per unit of log excess
RANGE_PENALTY = 200.0  # any tempo outside the range, plus 1000 per unit of log excess
COST_BEAT = 0.3
COST_EIGHTH = 8.0  # off the beat but on an eighth note (4/4, 3/4)
COST_SUBDIVISION = 25.0
COST_PICKUP = 0.2
END_PENALTY = 5000.0
CONSTANT_HIT_TOLERANCE_S = 0.02


def _flex(
    hard: list[tuple[float, float]],
    duration: float,
    lo: float,
    hi: float,
    target: float,
    m: Meter,
    flex: float,
    max_change: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dynamic programme; returns (grid times, grid phases, grid tempos)."""
    sub, steps = m.subdivision, m.steps
    points = [0.0] + [t for t, _ in hard] + [float(duration)]
    strengths = [0.0] + [s for _, s in hard] + [1.0]
    if len(points) > 2 and points[1] < 60.0 / (hi * sub):
        points.pop(0)  # a cut in the first frames: the grid starts at it
        strengths.pop(0)
    w_target = W_TARGET * (1.1 - flex)
    limit = math.log1p(max_change)
    phase_idx = np.arange(steps)

    def anchor_cost(j: int) -> np.ndarray:
        """Cost of each phase for point j."""
        if j == len(points) - 1:  # the end: a downbeat, or (if impossible) rings out
            return np.where(phase_idx == 0, 0.0, END_PENALTY)
        s = strengths[j]
        off = np.where(
            (sub % 2 == 0) & (phase_idx % max(1, sub // 2) == 0), COST_EIGHTH * s, COST_SUBDIVISION * s
        )
        return np.where(phase_idx == 0, 0.0, np.where(phase_idx % sub == 0, COST_BEAT * s, off))

    ms, tempos, costs, backs = [], [], [], []
    prev_cost: np.ndarray | None = None
    prev_log: np.ndarray | None = None
    for j in range(len(points) - 1):
        g = points[j + 1] - points[j]
        lo_m = max(1, math.floor(g * sub * lo / 60.0 * 0.9))
        hi_m = max(lo_m, math.ceil(g * sub * hi / 60.0 * 1.1))
        mm = np.arange(lo_m, hi_m + 1)
        t = 60.0 * mm / (sub * g)
        logt = np.log(t)
        tc = w_target * np.abs(logt - math.log(target))
        outside = np.maximum(0.0, math.log(lo) - logt) + np.maximum(0.0, logt - math.log(hi))
        tc += np.where(outside > 1e-12, RANGE_PENALTY + 1000.0 * outside, 0.0)
        ac = anchor_cost(j + 1)
        if prev_cost is None:
            start = np.where(phase_idx == 0, 0.0, COST_PICKUP)  # a pickup costs a little
            best = np.broadcast_to(start[:, None], (steps, len(mm)))  # [phase, q]
            back = np.full((steps, len(mm)), -1)
        else:
            assert prev_log is not None
            d = np.abs(logt[None, :] - prev_log[:, None])  # [p, q]
            excess = np.maximum(0.0, d - limit)
            change = W_CHANGE * d + np.where(excess > 0, CHANGE_LIMIT_PENALTY + 1000.0 * excess, 0.0)
            total = prev_cost[:, :, None] + change[:, None, :]  # [p, phase, q]
            back = np.argmin(total, axis=0)  # [phase, q]
            best = np.take_along_axis(total, back[None], axis=0)[0]
        new = np.full((len(mm), steps), np.inf)
        cols = (phase_idx[:, None] + mm[None, :]) % steps  # [phase, q] -> phase after the gap
        rows = np.broadcast_to(np.arange(len(mm))[None, :], cols.shape)
        new[rows, cols] = best + tc[None, :] + ac[cols]
        ms.append(mm)
        tempos.append(t)
        costs.append(new)
        backs.append(back)
        prev_cost, prev_log = new, logt

    assert prev_cost is not None
    choice = _backtrack(ms, backs, prev_cost, steps)
    return _flex_grid(points, ms, tempos, choice, steps, duration)


def _backtrack(
    ms: list[np.ndarray], backs: list[np.ndarray], last_cost: np.ndarray, steps: int
) -> list[tuple[int, int]]:
    """The cheapest path back from the cheapest final state: per gap, the
    chosen subdivision count's index and the phase at the gap's start."""
    prev_cost = last_cost
    q0, ph0 = np.unravel_index(int(np.argmin(prev_cost)), prev_cost.shape)
    q, ph = int(q0), int(ph0)
    choice: list[tuple[int, int]] = []  # (m, phase at the start of the gap)
    for j in range(len(ms) - 1, -1, -1):
        mq = int(ms[j][q])
        start_phase = (ph - mq) % steps
        choice.append((q, start_phase))
        if j > 0:
            q, ph = int(backs[j][start_phase, q]), start_phase
    choice.reverse()
    return choice


def _flex_grid(
    points: list[float],
    ms: list[np.ndarray],
    tempos: list[np.ndarray],
    choice: list[tuple[int, int]],
    steps: int,
    duration: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid of the chosen path: (grid times, grid phases, grid tempos)."""
    times, phases, tempo = [], [], []
    for j, (qj, start_phase) in enumerate(choice):
        mq = int(ms[j][qj])
        g0, g1 = points[j], points[j + 1]
        k = np.arange(mq)
        times.append(g0 + k * (g1 - g0) / mq)
        phases.append((start_phase + k) % steps)
        tempo.append(np.full(mq, tempos[j][qj]))
    end_phase = (choice[-1][1] + int(ms[-1][choice[-1][0]])) % steps
    times.append(np.array([float(duration)]))
    phases.append(np.array([end_phase]))
    tempo.append(np.array([tempo[-1][-1]]))
    return np.concatenate(times), np.concatenate(phases).astype(int), np.concatenate(tempo)


def _constant(
    hard: list[tuple[float, float]], duration: float, lo: float, hi: float, target: float, m: Meter
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tempo and phase for the whole timeline, hitting the most cuts."""
    sub, steps = m.subdivision, m.steps
    cuts = np.array([t for t, _ in hard])
    best = (-1.0, 0.0, target, 0.0)  # (score, -distance from target, tempo, phase)
    tol = CONSTANT_HIT_TOLERANCE_S
    for bpm in np.arange(lo, hi + 1e-9, 0.05):
        period = 60.0 / bpm
        if not len(cuts):
            score, phase = 0.0, 0.0
        else:
            r = np.sort(np.mod(cuts, period))
            ext = np.concatenate([r - period, r, r + period])
            counts = np.searchsorted(ext, r + tol, side="right") - np.searchsorted(ext, r - tol, side="left")
            i = int(np.argmax(counts))
            score, phase = float(counts[i]), float(r[i])
        key = (score, -abs(math.log(bpm / target)))
        if key > best[:2]:
            best = (score, key[1], float(bpm), phase)
    _, _, bpm, phase = best
    period = 60.0 / bpm
    step = period / sub
    # grid over [0, duration]: the subdivision through `phase`
    first = phase - math.floor(phase / step) * step
    grid = np.arange(first, duration + 1e-9, step)
    beat_no = np.round((grid - phase) / period * sub).astype(int)  # steps from the phase beat
    # which beat of the bar is the downbeat: the one most strong cuts fall on
    offsets = np.zeros(m.beats)
    for t, s in hard:
        k = int(round((t - phase) / period))
        if abs(phase + k * period - t) <= CONSTANT_HIT_TOLERANCE_S:
            offsets[k % m.beats] += s
    down = int(np.argmax(offsets)) if len(hard) else 0
    phases = np.mod(beat_no - down * sub, steps)
    return grid, phases.astype(int), np.full(len(grid), bpm)
