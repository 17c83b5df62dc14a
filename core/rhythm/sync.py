"""The sync planner (the default): a steady tempo that catches the cuts.

People hear a cut and a beat as together within about +-40 ms (the *sync
window*), so the plan need not put every cut on its grid to the millisecond:
it keeps the tempo steady and catches as many hard cuts as it can within the
window of a beat, then moves the beats onto those cuts' exact frames.

1. A dynamic programme over the hard cuts chooses the *anchored* ones: two
   consecutive anchored cuts hold a whole number ``k`` of beats, so the
   segment between them has the tempo ``60 k / gap``; consecutive segment
   tempos differ by at most ``steady`` (2%), except for a *jump* (at most
   ``max_change``) at a strong cut (strength >= 0.9) on a downbeat, which
   starts a section. The state keeps the anchored cut, its segment's tempo
   and the beat of the bar it falls on. It maximises

       sum of the strengths of the cuts within the window of a beat
         (anchored cuts, and the others that the implied grid passes within the window of)
       + 0.3 * strength for an anchored cut on a downbeat
       - 0.05 per beat * |ln(T / T_target)| - 5 * |ln(T_j / T_j-1)|
       - (6 + 60 * |ln(T_j / T_j-1)|) for a jump, (10 + 100 * |ln ...|) for a reset (any change, where nothing steady goes on)

   with a look-ahead bounded to :data:`LOOKAHEAD_CUTS` cuts and
   :data:`LOOKAHEAD_S` seconds. A *must-hit* cut (a marker) is always anchored.
   The end of the timeline is a downbeat, reached by a gentle ramp (every
   beat-to-beat change within ``steady``, all of it within ``max_change``)
   from the last anchored cut; where no ramp reaches it, the last tempo runs
   on and the music rings out (the arranger's ending).
2. The best constant tempo and phase (the most cuts within the window) is a
   candidate too and a floor: the plan never catches fewer cuts than it. So is
   the beat-level programme's grid (:mod:`.beatgrid`: beat by beat on a 1-ms
   grid, every beat-to-beat change within ``steady``, the intervals within 6%
   of the constant tempo; timelines up to 500 s), where it puts every must-hit
   cut on a beat.
3. The nudge (:mod:`.nudge`): every caught cut that is not anchored is put exactly on its
   frame by a displacement of the beats, a smoothstep between the needed
   displacements (zero at the anchored cuts and at the end), which spreads
   it over the beats up to the neighbouring caught cuts; a nudge that would make a
   beat-to-beat change exceed ``steady`` is given up (that cut stays within
   the window, at its offset, and is reported so).

Times are seconds from the first frame; tempos BPM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model import Meter
from .beatgrid import beat_grid
from .records import SyncGrid, caught, nearest_distance  # noqa: F401  (re-exported)

SYNC_WINDOW_S = 0.04
STEADY = 0.02
LOOKAHEAD_CUTS = 8
LOOKAHEAD_S = 8.0
ANCHOR_BONUS = 0.02  # an exact beat is worth a little more than a near one
DOWNBEAT_BONUS = 0.3
W_TARGET = 0.05  # per beat, per unit of |ln(T / target)|
W_CHANGE = 5.0
JUMP_COST = 6.0
W_JUMP = 60.0
JUMP_STRENGTH = 0.9
RESET_COST = 10.0  # a tempo change past every limit, only where nothing else goes on
W_RESET = 100.0
RING_OUT_COST = 1.5  # an ending off the downbeat
BAND = 0.04  # the tempo may wander this far (log) from the centre freely ...
W_BAND = 10.0  # ... and costs this much per beat per unit of log beyond
REACH = 0.15  # segment tempos are looked for within this (log) of the centre
BEAM = 16  # states kept per cut
END_STATES = 6  # per cut and bar position, the states the ending is tried from


def _near(dist_in_beats: np.ndarray, period: np.ndarray | float, window: float) -> np.ndarray:
    """Whether a position (in beats) lies within ``window`` seconds of a whole beat."""
    return np.abs(dist_in_beats - np.round(dist_in_beats)) * period <= window + 1e-9


def plan_sync(
    cuts: np.ndarray,
    strengths: np.ndarray,
    must: np.ndarray,
    duration: float,
    lo: float,
    hi: float,
    target: float,
    m: Meter,
    window: float = SYNC_WINDOW_S,
    steady: float = STEADY,
    max_change: float = 0.06,
) -> list[SyncGrid]:
    """The candidate beats of the sync plan for hard cuts ``cuts`` (seconds,
    ascending, inside (0, duration)) of ``strengths``; ``must`` marks the
    must-hit cuts: the DP's and the best constant tempo's (not with must-hit
    cuts, which only the DP keeps on beats)."""
    const = _constant(cuts, strengths, duration, lo, hi, target, m.beats, window)
    center = 60.0 / float(np.median(np.diff(const.beats))) if len(const.beats) > 1 else target
    dp = _dp(cuts, strengths, must, duration, lo, hi, target, m.beats, window, steady, max_change, center)
    out = [] if dp is None else [dp]
    beat = beat_grid(cuts, strengths, must, duration, lo, hi, center, m.beats, m.subdivision, window, steady)
    if beat is not None and (not must.any() or bool(np.all(nearest_distance(cuts[must], beat.beats) < 1e-3))):
        out.append(beat)
    if not must.any() or not out:
        out.append(const)
    return out


# --------------------------------------------------------------------------- the constant tempo


def _constant(
    cuts: np.ndarray,
    s: np.ndarray,
    duration: float,
    lo: float,
    hi: float,
    target: float,
    bpb: int,
    window: float,
) -> SyncGrid:
    """The constant tempo and phase with the most (strength-weighted) cuts within the window."""
    best = (-1.0, 0.0, target, 0.0)
    if len(cuts):
        n_tempi = int(min(1000, max(50, 60000 // max(len(cuts), 1))))
        tempi = np.linspace(lo, hi, n_tempi) if hi > lo else np.array([lo])
        for bpm in _refine(cuts, s, tempi, window, lo, hi):
            period = 60.0 / bpm
            r = np.mod(cuts, period)
            order = np.argsort(r)
            rs, ws = r[order], s[order]
            ext = np.concatenate([rs - period, rs, rs + period])
            cw = np.concatenate([[0.0], np.cumsum(np.concatenate([ws, ws, ws]))])
            # a window 2 * window wide starting at each residue: its centre is the phase
            hi_i = np.searchsorted(ext, rs + 2 * window, side="right")
            lo_i = np.searchsorted(ext, rs, side="left")
            score = cw[hi_i] - cw[lo_i]
            i = int(np.argmax(score))
            key = (float(score[i]), -abs(math.log(bpm / target)))
            if key > best[:2]:
                best = (key[0], key[1], float(bpm), float(rs[i] + window))
    _, _, bpm, phase = best
    period = 60.0 / bpm
    if len(cuts):  # centre the phase on the caught cuts
        k = np.round((cuts - phase) / period)
        near = np.abs(cuts - phase - k * period) <= window
        if near.any():
            phase += float(np.average(cuts[near] - phase - k[near] * period, weights=s[near]))
    first = phase - math.floor(phase / period + 1e-9) * period
    beats = np.arange(first, duration + 1e-9, period)
    beats = beats[beats <= duration + 1e-9]
    # the downbeat: the beat of the bar the most strength falls on
    weight = np.zeros(bpb)
    if len(cuts) and len(beats):
        idx = np.clip(np.round((cuts - first) / period).astype(int), 0, len(beats) - 1)
        ok = np.abs(beats[idx] - cuts) <= window
        np.add.at(weight, idx[ok] % bpb, s[ok])
    # with no preference, the end (or the last beat) is a downbeat
    down = int(np.argmax(weight)) if weight.max() > 0 else (len(beats) - 1) % bpb
    bars = (np.arange(len(beats)) - down) % bpb
    end_ok = bool(len(beats) and abs(beats[-1] - duration) < 1e-3 and bars[-1] == 0)
    return SyncGrid(beats, bars, (), (), end_ok, "constant")


def _refine(
    cuts: np.ndarray, s: np.ndarray, tempi: np.ndarray, window: float, lo: float, hi: float
) -> np.ndarray:
    """The coarse tempi and, around the ten best, a finer search."""
    step = float(tempi[1] - tempi[0]) if len(tempi) > 1 else 0.0
    if step <= 0.05 or len(cuts) > 400:  # a long cut holds no one tempo to the hundredth
        return tempi
    scores = []
    for bpm in tempi:
        period = 60.0 / bpm
        r = np.sort(np.mod(cuts, period))
        ext = np.concatenate([r - period, r, r + period])
        c = np.searchsorted(ext, r + 2 * window, side="right") - np.searchsorted(ext, r, side="left")
        scores.append(c.max())
    top = tempi[np.argsort(scores)[-10:]]
    fine = np.concatenate([np.arange(t - step, t + step, 0.05) for t in top])
    return np.concatenate([tempi, np.clip(fine, lo, hi)])


# --------------------------------------------------------------------------- the dynamic programme


@dataclass
class _States:
    """The DP states at one cut: the tempo of the beat arriving there (NaN: the
    first anchored cut, no tempo yet), the value per bar position, the way back
    (the previous anchored cut, -1 for none, and its state) and the segment
    from there: ``k`` beats, intervals ``d0 * exp(q * rho)`` for q = 1..k."""

    logt: np.ndarray  # [S]
    val: np.ndarray  # [S, bpb]
    src: np.ndarray  # [S]
    src_state: np.ndarray  # [S]
    k: np.ndarray  # [S]
    d0: np.ndarray  # [S]
    rho: np.ndarray  # [S]


def _ramp_rho(d_in: np.ndarray, k: np.ndarray, g: np.ndarray) -> np.ndarray:
    """ln r with ``d_in * (r + r^2 + ... + r^k) == g``: the sum is
    ``k exp(rho (k+1)/2) (1 + rho^2 (k^2-1)/24)`` to third order; one
    fixed-point step from the first-order answer (the segment is scaled to
    its gap exactly when the beats are built)."""
    x = np.log(g / (k * d_in))
    rho = 2.0 * x / (k + 1)
    return 2.0 * (x - np.log1p(rho * rho * (k * k - 1) / 24.0)) / (k + 1)


def _ramp_pos(x: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Beats from a segment's start of a time ``x`` (in units of ``d0``) on a ramp ``d0 * exp(q * rho)``."""
    small = np.abs(rho) < 1e-9
    r = np.where(small, 1.0, rho)
    return np.where(small, x, np.log1p(np.maximum(x * (1.0 - np.exp(-r)), -0.999999)) / r)


@dataclass(frozen=True)
class _Ctx:
    """What every step of the DP reads: the cuts, their strengths, the limits (log) and the tempo reach."""

    cuts: np.ndarray
    s: np.ndarray
    bpb: int
    window: float
    lim: float
    jump_lim: float
    ltarget: float
    lcenter: float
    t_lo: float
    t_hi: float
    lo: float
    hi: float


def _dp(
    cuts: np.ndarray,
    s: np.ndarray,
    must: np.ndarray,
    duration: float,
    lo: float,
    hi: float,
    target: float,
    bpb: int,
    window: float,
    steady: float,
    max_change: float,
    center: float | None = None,
) -> SyncGrid | None:
    n = len(cuts)
    if n == 0:
        return None
    lim = math.log1p(steady)
    jump_lim = math.log1p(max(max_change, steady))
    lcenter = math.log(center if center else target)
    # segment tempos: the range, within REACH of the centre (the band and a jump are far inside it)
    t_lo, t_hi = max(lo, math.exp(lcenter - REACH)), min(hi, math.exp(lcenter + REACH))
    if t_lo > t_hi:
        t_lo, t_hi = lo, hi
    ctx = _Ctx(cuts, s, bpb, window, lim, jump_lim, math.log(target), lcenter, t_lo, t_hi, lo, hi)
    must_idx = np.flatnonzero(must)
    pos = np.searchsorted(must_idx, np.arange(n), side="right")  # the first must-hit cut after i
    next_must = np.append(must_idx, n)[pos]
    states = _starts(ctx, int(must_idx[0]) if len(must_idx) else n)
    for i in range(n):
        if not states[i]:
            continue
        st = _merge(states[i])
        states[i] = [st]
        opts = _options(ctx, i, int(next_must[i]))
        if opts is None:
            continue
        parts = [_step_parts(ctx, i, st, opts)]
        ramp = _ramp_parts(ctx, i, st, opts)
        if ramp is not None:
            parts.append(ramp)
        _roll(ctx, i, opts, parts, states)
    return _finish(cuts, s, states, duration, lo, hi, target, bpb, window, lim, max_change, must_idx)


def _starts(ctx: _Ctx, first_must: int) -> list[list[_States]]:
    """The states per cut, with the starts: any early cut may be the first anchored one (not after a must-hit cut)."""
    cuts, s, bpb = ctx.cuts, ctx.s, ctx.bpb
    n = len(cuts)
    bars = np.arange(bpb)
    states: list[list[_States]] = [[] for _ in range(n)]
    for j in range(n):
        if j > first_must or (j >= LOOKAHEAD_CUTS and cuts[j] - cuts[0] > LOOKAHEAD_S):
            break
        val = np.full((1, bpb), s[j] + ANCHOR_BONUS) + DOWNBEAT_BONUS * s[j] * (bars == 0)[None, :]
        one = np.ones(1)
        states[j].append(
            _States(
                np.array([np.nan]), val, -one.astype(int), -one.astype(int), 0 * one.astype(int), one, 0 * one
            )
        )
    return states


@dataclass(frozen=True)
class _Options:
    """The outgoing options (j, k) from cut i: the cut ``oj`` reached in ``ok`` beats."""

    oj: np.ndarray
    ok: np.ndarray
    gap: np.ndarray
    period: np.ndarray
    logt_b: np.ndarray
    target_cost: np.ndarray
    mid: np.ndarray
    between: np.ndarray  # [O, M]
    sm: np.ndarray  # [1, M]


def _options(ctx: _Ctx, i: int, next_must: int) -> _Options | None:
    cuts, s, n = ctx.cuts, ctx.s, len(ctx.cuts)
    j_hi = min(n - 1, i + LOOKAHEAD_CUTS, next_must)
    js_a = np.arange(i + 1, j_hi + 1)
    js_a = js_a[(js_a == i + 1) | (cuts[js_a] - cuts[i] <= LOOKAHEAD_S)]
    if not len(js_a):
        return None
    g_j = cuts[js_a] - cuts[i]
    k0 = np.maximum(1, np.ceil(g_j * ctx.t_lo / 60.0 - 1e-9)).astype(int)
    k1 = np.floor(g_j * ctx.t_hi / 60.0 + 1e-9).astype(int)
    cnt = np.maximum(0, k1 - k0 + 1)
    if not cnt.sum():
        return None
    oj = np.repeat(js_a, cnt)
    ok = np.repeat(k0, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    gap = cuts[oj] - cuts[i]
    period = gap / ok
    logt_b = np.log(60.0 / period)
    target_cost = W_TARGET * ok * np.abs(logt_b - ctx.ltarget)
    mid = np.arange(i + 1, min(n, i + 1 + LOOKAHEAD_CUTS))
    between = mid[None, :] < oj[:, None]
    return _Options(oj, ok, gap, period, logt_b, target_cost, mid, between, s[mid][None, :])


_Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _step_parts(ctx: _Ctx, i: int, st: _States, o: _Options) -> _Part:
    """Variant B, a constant segment (a step at i): steady, a jump (strong cut, downbeat) or,
    from the best state only, a reset."""
    cuts, s, window = ctx.cuts, ctx.s, ctx.window
    bars = np.arange(ctx.bpb)
    n_o, n_s = len(o.oj), len(st.logt)
    rel = (cuts[o.mid][None, :] - cuts[i]) / o.period[:, None]
    gain_b = np.where(o.between & _near(rel, o.period[:, None], window), o.sm, 0.0).sum(1)
    gain_b += s[o.oj] + ANCHOR_BONUS - o.target_cost
    start = np.isnan(st.logt)
    pre = np.zeros(n_o)  # before the first anchored cut: the grid runs back at this tempo
    if i > 0 and start.any():
        back = np.arange(max(0, i - LOOKAHEAD_CUTS * 4), i)
        relb = (cuts[i] - cuts[back][None, :]) / o.period[:, None]
        pre = np.where(_near(relb, o.period[:, None], window), s[back][None, :], 0.0).sum(1)
    logt_in = np.where(start, 0.0, st.logt)
    d = np.where(start[:, None], 0.0, np.abs(logt_in[:, None] - o.logt_b[None, :]))  # [S, O]
    band_b = W_BAND * o.ok * np.maximum(0.0, np.abs(o.logt_b - ctx.lcenter) - BAND)
    best_s = int(np.argmax(st.val.max(1)))
    usable = (d <= ctx.jump_lim + 1e-12) | (np.arange(n_s) == best_s)[:, None]
    oi, si = np.nonzero(usable.T)  # ordered by option (so by cut j), as _roll needs
    dd = d[si, oi]
    steady_c = np.where(dd <= ctx.lim + 1e-12, W_CHANGE * dd, RESET_COST + W_RESET * dd)
    jump_c = np.where(s[i] >= JUMP_STRENGTH, W_CHANGE * dd + JUMP_COST + W_JUMP * dd, np.inf)
    cost = np.where((bars == 0)[None, :], np.minimum(steady_c, jump_c)[:, None], steady_c[:, None])
    extra = gain_b[oi] - band_b[oi] + np.where(start[si], pre[oi], 0.0)
    tot_b = st.val[si] - cost + extra[:, None]
    return (tot_b, si, oi, o.logt_b[oi], o.period[oi], np.zeros(len(si)))


def _ramp_parts(ctx: _Ctx, i: int, st: _States, o: _Options) -> _Part | None:
    """Variant A, a ramp from the arriving tempo (not from a start): only where it can be gentle."""
    cuts, s, lim, window = ctx.cuts, ctx.s, ctx.lim, ctx.window
    start = np.isnan(st.logt)
    logt_in = np.where(start, 0.0, st.logt)
    d_in = 60.0 / np.exp(logt_in)
    rho0 = 2.0 * np.log(o.gap[None, :] / (o.ok[None, :] * d_in[:, None])) / (o.ok[None, :] + 1)
    oi, si = np.nonzero(((np.abs(rho0) <= 1.2 * lim) & ~start[:, None]).T)  # ordered by option
    if not len(si):
        return None
    rho = _ramp_rho(d_in[si], o.ok[oi].astype(float), o.gap[oi])
    end_t = logt_in[si] - o.ok[oi] * rho  # the tempo the ramp ends on: inside the range
    good = (
        (np.abs(rho) <= lim + 1e-12) & (end_t >= math.log(ctx.lo) - 1e-9) & (end_t <= math.log(ctx.hi) + 1e-9)
    )
    si, oi, rho = si[good], oi[good], rho[good]
    if not len(si):
        return None
    x = (cuts[o.mid][None, :] - cuts[i]) / d_in[si][:, None]  # [P, M]
    q = _ramp_pos(x, rho[:, None])
    local = d_in[si][:, None] * np.exp(q * rho[:, None])
    hit = (np.abs(q - np.round(q)) * local <= window + 1e-9) & o.between[oi]
    gain_a = np.where(hit, o.sm, 0.0).sum(1) + s[o.oj[oi]] + ANCHOR_BONUS - o.target_cost[oi]
    logt_a = logt_in[si] - o.ok[oi] * rho
    far = np.maximum(np.abs(logt_a - ctx.lcenter), np.abs(o.logt_b[oi] - ctx.lcenter))
    band_a = W_BAND * o.ok[oi] * np.maximum(0.0, far - BAND)
    tot_a = st.val[si] - (W_CHANGE * o.ok[oi] * np.abs(rho) + band_a - gain_a)[:, None]
    return (tot_a, si, oi, logt_a, d_in[si], rho)


def _roll(ctx: _Ctx, i: int, o: _Options, parts: list[_Part], states: list[list[_States]]) -> None:
    """Both variants, as states at j: the value rolled to j's bar positions."""
    bpb, s = ctx.bpb, ctx.s
    bars = np.arange(bpb)
    for tot, si, oi, lg, d0, rh in parts:
        live = np.isfinite(tot).any(1)
        if not live.any():
            continue
        # the live ones, ordered by option already (so by cut j: the options are in j's order)
        if not live.all():
            sel = np.flatnonzero(live)
            tot, si, oi, lg, d0, rh = tot[sel], si[sel], oi[sel], lg[sel], d0[sel], rh[sel]
        kf, jf = o.ok[oi], o.oj[oi]
        nv = np.empty_like(tot)
        nv[np.arange(len(tot))[:, None], (bars[None, :] + kf[:, None]) % bpb] = tot
        nv[:, 0] += DOWNBEAT_BONUS * s[jf]
        src = np.full(len(tot), i)
        edges = np.flatnonzero(np.diff(jf)) + 1
        for a, b in zip([0, *edges.tolist()], [*edges.tolist(), len(jf)]):
            states[int(jf[a])].append(_States(lg[a:b], nv[a:b], src[a:b], si[a:b], kf[a:b], d0[a:b], rh[a:b]))


def _merge(parts: list[_States]) -> _States:
    """One state table from the parts arriving at a cut, the best :data:`BEAM` kept."""
    if len(parts) == 1:
        st = parts[0]
    else:
        st = _States(*(np.concatenate(x) for x in zip(*(astuple_(p) for p in parts))))
    if len(st.logt) > BEAM:
        top = np.argpartition(-st.val.max(1), BEAM)[:BEAM]
        st = _States(*(x[top] for x in astuple_(st)))
    return st


def astuple_(st: _States) -> tuple[np.ndarray, ...]:
    return (st.logt, st.val, st.src, st.src_state, st.k, st.d0, st.rho)


def _finish(
    cuts: np.ndarray,
    s: np.ndarray,
    states: list[list[_States]],
    duration: float,
    lo: float,
    hi: float,
    target: float,
    bpb: int,
    window: float,
    lim: float,
    max_change: float,
    must_idx: np.ndarray,
) -> SyncGrid | None:
    """The ending from every state near the end; the best whole path, as beats."""
    n = len(cuts)
    last_must = int(must_idx[-1]) if len(must_idx) else -1
    best: tuple[float, int, int, int, np.ndarray, bool] | None = (
        None  # value, cut, state, bar, tail beats, end_ok
    )
    for i in range(max(0, last_must), n):
        if not states[i] or (i < n - 1 and (i < n - LOOKAHEAD_CUTS or duration - cuts[i] > LOOKAHEAD_S)):
            continue
        if len(states[i]) > 1:
            states[i] = [_merge(states[i])]
        st = states[i][0]
        after = np.arange(i + 1, n)
        top = np.argsort(-st.val, axis=0)[:END_STATES]  # the best states per bar position
        for si, b in {(int(top[r, b]), b) for r in range(len(top)) for b in range(bpb)}:
            v = st.val[si, b]
            if not np.isfinite(v):
                continue
            period = 60.0 / math.exp(st.logt[si]) if np.isfinite(st.logt[si]) else None
            tail, ok, cost = _ending(cuts[i], duration, period, b, bpb, lo, hi, target, lim, max_change)
            if st.src[si] == -1 and len(tail) > 1 and i > 0:  # one anchored cut: the grid runs back too
                pk = tail[1] - tail[0]
                v += float((s[:i] * _near((cuts[i] - cuts[:i]) / pk, pk, window)).sum())
            gain = (
                float(s[after][nearest_distance(cuts[after], tail) <= window + 1e-9].sum())
                if len(after)
                else 0.0
            )
            total = v + gain - cost
            if best is None or total > best[0]:
                best = (total, i, si, b, tail, ok)
    if best is None:
        return None
    _, i, si, b, tail, end_ok = best
    chain: list[tuple[int, int, int]] = []  # (cut, bar, state), first to last
    cur, cs, cb = i, si, b
    while cur >= 0:
        st = states[cur][0]
        chain.append((cur, cb, cs))
        cur, cs, cb = int(st.src[cs]), int(st.src_state[cs]), int((cb - st.k[cs]) % bpb)
    chain.reverse()
    seg: list[np.ndarray] = []  # beat times from the first anchored cut on
    for a in range(1, len(chain)):
        ci, (cj, _, sj) = chain[a - 1][0], chain[a]
        st = states[cj][0]
        k, d0, rho = int(st.k[sj]), float(st.d0[sj]), float(st.rho[sj])
        iv = d0 * np.exp(rho * np.arange(1, k + 1))
        iv *= (cuts[cj] - cuts[ci]) / iv.sum()
        t = cuts[ci] + np.cumsum(iv)
        t[-1] = cuts[cj]
        seg.append(t)
    c0, b0, _ = chain[0]
    mid = np.concatenate([[cuts[c0]], *seg])
    after = np.asarray(tail[1:], float)
    allb = np.concatenate([mid, after])
    first_iv = float(allb[1] - allb[0]) if len(allb) > 1 else 60.0 / target
    q = int(math.floor(cuts[c0] / first_iv + 1e-9))
    before = cuts[c0] - first_iv * np.arange(q, 0, -1)
    beats = np.concatenate([before, allb])
    bars_out = (b0 + np.arange(len(beats)) - q) % bpb
    # jumps: where the interval changes past the steady limit at an anchored cut
    iv = np.diff(beats)
    step = np.abs(np.diff(np.log(iv))) if len(iv) > 1 else np.zeros(0)
    anchored_at = np.searchsorted(beats, cuts[[c for c, _, _ in chain]])
    jumps = tuple(float(beats[p]) for p in anchored_at if 1 <= p <= len(step) and step[p - 1] > lim + 1e-9)
    return SyncGrid(beats, bars_out.astype(int), tuple(c for c, _, _ in chain), jumps, bool(end_ok), "dp")


def _ending(
    c: float,
    duration: float,
    period: float | None,
    bar: int,
    bpb: int,
    lo: float,
    hi: float,
    target: float,
    lim: float,
    max_change: float,
) -> tuple[np.ndarray, bool, float]:
    """Beats from the last anchored cut ``c`` (its bar position ``bar``) to the
    end: (beats from ``c`` on, the end is a downbeat, cost). A ramp of
    geometric beat intervals reaches the end on a downbeat where it can; else
    the tempo runs on and the music rings out."""
    g = duration - c
    if period is None:  # one anchored cut: any tempo in the range, the nearest to the target
        ks = [
            k
            for k in range(max(1, math.ceil(g * lo / 60 - 1e-9)), math.floor(g * hi / 60 + 1e-9) + 1)
            if (bar + k) % bpb == 0
        ]
        if ks:
            k = min(ks, key=lambda k: abs(math.log(60 * k / g / target)))
            return c + np.arange(k + 1) * (g / k), True, W_TARGET * k * abs(math.log(60 * k / g / target))
        period = 60.0 / target
        n = int(math.floor(g / period + 1e-9))
        return c + np.arange(n + 1) * period, False, RING_OUT_COST
    best: tuple[float, float, int] | None = None
    k_est = g / period
    for k in range(max(1, int(k_est * 0.9) - bpb), int(k_est * 1.1) + bpb + 2):
        if (bar + k) % bpb:
            continue
        approx = 2.0 * math.log(g / (k * period)) / (k + 1)  # ln r, to first order
        if abs(approx) > 1.2 * lim or k * abs(approx) > 1.2 * math.log1p(max_change):
            continue
        r = _ratio(period, k, g, math.exp(approx))
        lr = abs(math.log(r))
        in_range = lo - 1e-6 <= 60.0 / (period * r**k) <= hi + 1e-6
        if lr <= lim + 1e-12 and k * lr <= math.log1p(max_change) + 1e-12 and in_range:
            cost = W_CHANGE * k * lr
            if best is None or cost < best[0]:
                best = (cost, r, k)
    if best is not None:
        cost, r, k = best
        steps = period * r ** np.arange(1, k + 1)
        t = c + np.concatenate([[0.0], np.cumsum(steps)])
        t[-1] = duration
        return t, True, cost
    n = int(math.floor(g / period + 1e-9))
    return c + np.arange(n + 1) * period, False, RING_OUT_COST


def _ratio(period: float, k: int, g: float, r: float = 1.0) -> float:
    """r with ``period * (r + r^2 + ... + r^k) == g`` (Newton's method from ``r``)."""
    q = np.arange(1, k + 1)
    for _ in range(8):
        f = period * float(np.sum(r**q)) - g
        df = period * float(np.sum(q * r ** (q - 1)))
        step = f / df
        r -= step
        if abs(step) < 1e-13:
            break
    return r
