"""The mix bus: compression, loudness and a true-peak limiter, as gains.

A glue bus compressor (3:1 over the mix's own loud passages: 1-3 dB on the
peaks), one gain for the loudness target (``--loudness``, default -23 LUFS,
pyloudnorm) and a smooth look-ahead limiter that keeps the true peak under
:data:`CEILING_DBTP`, low enough that an AAC 128k encode stays under -1 dBTP
(:func:`bus_gain`). The gains are applied to every stem, so the
stems sum to the mix exactly.

The bus works on whole 48 kHz signals (minutes long) and is written for
speed: one pass for the channels' peak, the loudness measured as pyloudnorm
measures it but vectorised (:func:`integrated_loudness`), the true peak
estimated only where it could reach the ceiling, and the limiter filtered
only around the samples it turns down. :func:`bus_long` is the same bus on
stems on disk, in blocks (for :func:`.render.render_long`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ... import units
from .compose import Score

if TYPE_CHECKING:
    from ...io.blockaudio import DiskAudio, TempFolder

SR = units.OUTPUT_SR
#: The mix's loudness when none is asked for (the options table's ``--loudness`` default).
TARGET_LUFS = -23.0
#: The limiter's true-peak ceiling: lossy encoders overshoot (AAC 128k by up to about
#: 1.3 dB on these mixes), so -1 dBTP after encoding needs this much room before it.
CEILING_DBTP = -2.5
#: The limiter holds its parabolic true-peak estimate this far under the ceiling
#: (0.26 dB): the estimate misses some of what 4x oversampling finds.
LIMIT_MARGIN = 0.97
#: The bus compressor: ratio, and its threshold as a percentile of the mix's own 50 ms
#: levels (the non-silent ones) plus a margin, so it engages on the peaks of any mix.
COMP_RATIO, COMP_PERCENTILE, COMP_ABOVE_DB = 3.0, 80.0, 0.0
#: Its level detector's window (s): the level of passages, not of single drum hits
#: (a 50 ms detector turned every hit down and sank the drums 2 LU under their balance).
COMP_WINDOW_S = 0.3


def _parabolic_peak(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """|peak| of the parabola through each sample ``b`` and its neighbours
    ``a`` and ``c``, where ``b`` is a local extremum; ``|b|`` elsewhere."""
    curv = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        top = b - (a - c) ** 2 / (8 * curv)
    # only where b is a local extremum does the parabola's vertex lie between a and c
    extreme = ((b >= a) & (b >= c)) | ((b <= a) & (b <= c))
    est = np.where(extreme & (np.abs(curv) > 1e-12), np.abs(top), np.abs(b))
    return np.maximum(est, np.abs(b))


def _true_peak_envelope(mix: np.ndarray) -> np.ndarray:
    """Per-sample true-peak estimate (max over channels), shape (n,).

    Inter-sample peaks are estimated by fitting a parabola through every
    sample and its neighbours (exact for a sampled sine's peak to within
    0.1 dB up to 8 kHz at 48 kHz), at a small fraction of the cost of 4x
    oversampling; ``tests/test_arranger.py`` checks it against 4x oversampling.
    The estimate is never above 1.25 times the largest of the three samples'
    magnitudes (for an extremum b, ``|a - c| <= |a - 2b + c|``), which lets
    :func:`bus_gain` evaluate it only where that can reach the ceiling
    (:func:`_true_peak_at`).
    """
    peak = np.zeros(mix.shape[1], np.float32)
    for ch in mix:
        x = ch.astype(np.float32)
        peak[1:-1] = np.maximum(peak[1:-1], _parabolic_peak(x[:-2], x[1:-1], x[2:]))
        peak[[0, -1]] = np.maximum(peak[[0, -1]], np.abs(x[[0, -1]]))
    return peak


def _true_peak_at(mix: np.ndarray, idx: np.ndarray, comp: np.ndarray | None = None) -> np.ndarray:
    """:func:`_true_peak_envelope` at the sample indices ``idx`` only, of
    ``mix * comp`` when ``comp`` (n,) is given (the product taken only at the
    samples read)."""
    n = mix.shape[1]
    inner = idx[(idx > 0) & (idx < n - 1)]
    peak = np.zeros(len(idx), np.float32)
    at_inner = np.isin(idx, inner, assume_unique=True)
    for ch in mix:

        def x(p: np.ndarray, ch: np.ndarray = ch) -> np.ndarray:
            v = ch[p] if comp is None else ch[p] * comp[p]
            return v.astype(np.float32, copy=False)

        est = _parabolic_peak(x(inner - 1), x(inner), x(inner + 1))
        peak[at_inner] = np.maximum(peak[at_inner], est)
        peak[~at_inner] = np.maximum(peak[~at_inner], np.abs(x(idx[~at_inner])))
    return peak


def _abs_peak(mix: np.ndarray) -> np.ndarray:
    """max over channels of |sample|, shape (n,) float32."""
    out = np.abs(mix[0]).astype(np.float32, copy=False)
    for ch in mix[1:]:
        np.maximum(out, np.abs(ch), out=out)
    return out


def compressor_gain(
    mix: np.ndarray,
    above_db: float = COMP_ABOVE_DB,
    ratio: float = COMP_RATIO,
    peak: np.ndarray | None = None,
) -> np.ndarray:
    """Bus compression as a gain per sample (n,): ``ratio`` on the 50 ms RMS
    level where it rises more than ``above_db`` over the :data:`COMP_PERCENTILE`
    th percentile of the mix's own non-silent levels (so it engages on the
    peaks of any mix, 1-3 dB), with a ~200 ms release. Glue, not a squash.
    ``peak``: :func:`_abs_peak` of ``mix`` when the caller has it."""
    hop = _HOP
    n = mix.shape[1]
    a = _abs_peak(mix) if peak is None else peak
    size = 1 << 18  # a multiple of the hop: the hops' means as the whole signal's
    # the louder channel's power: max(|l|, |r|)^2 == max(l^2, r^2), a piece at a time
    hops = np.concatenate([_hop_power(a[i : i + size] * a[i : i + size], hop) for i in range(0, n, size)])
    g = _compressor_hops(hops, 0.0, above_db, ratio)  # (the mean power is no longer used)
    if g is None:
        return np.ones(n, np.float32)
    return _hop_gain_samples(g, n, 0, n)


_HOP = 64  # the compressor follows the level at 750 Hz: plenty for 50 ms windows, 64x cheaper


def _hop_power(power: np.ndarray, hop: int = _HOP) -> np.ndarray:
    """Mean power per ``hop`` samples; a last, short block is averaged as if
    padded with silence. Blocks of a signal split at multiples of ``hop``
    give the whole signal's numbers, concatenated."""
    n = len(power)
    full = n - n % hop
    blocks = power[:full].reshape(-1, hop).mean(axis=1)
    if full < n:
        blocks = np.append(blocks, np.float32(power[full:].sum() / hop))
    return blocks


def _compressor_hops(
    blocks: np.ndarray, mean_power: float, above_db: float = COMP_ABOVE_DB, ratio: float = COMP_RATIO
) -> np.ndarray | None:
    """The compressor's gain at every hop's centre (float32), from the hops'
    mean power (:func:`_hop_power`; ``mean_power``, the whole mix's, is no
    longer used: the threshold is a percentile of the hops' levels); None
    when it never turns anything down."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    rate = SR / _HOP
    rms_db = 10 * np.log10(uniform_filter1d(blocks, size=max(1, int(COMP_WINDOW_S * rate))) + 1e-12)
    heard = rms_db[rms_db > rms_db.max() - 40.0]  # the threshold follows the mix's own level
    threshold = float(np.percentile(heard, COMP_PERCENTILE)) + above_db if len(heard) else 0.0
    over = np.maximum(0.0, rms_db - threshold)
    reduce_db = over * (1 - 1 / ratio)
    reduce_db = uniform_filter1d(
        maximum_filter1d(reduce_db, size=max(1, int(0.02 * rate))), size=int(0.2 * rate)
    )
    if not reduce_db.any():
        return None
    return (10 ** (-reduce_db / 20)).astype(np.float32)


def _hop_gain_samples(g: np.ndarray, n: int, a: int, b: int) -> np.ndarray:
    """Samples ``[a, b)`` of the per-sample compressor gain of an ``n``-sample
    signal whose hop gains are ``g``: interpolated linearly between the hops'
    centres (over 64 samples the gain changes by a small fraction of a dB,
    so interpolating it rather than its decibels differs by under 0.001 dB),
    held before the first centre and after the last."""
    hop, half = _HOP, _HOP // 2
    b = min(b, n)
    out = np.full(max(0, b - a), g[-1], np.float32)  # after the last centre: held
    out[: max(0, min(b, half) - a)] = g[0]  # before the first centre: held
    # hop j's ramp runs from g[j] at sample half + j * hop towards g[j + 1]
    j0 = max(0, (a - half) // hop)
    j1 = min(len(g) - 1, -(-(b - half) // hop))
    if j1 > j0:
        w = ((np.arange(hop) + 0.5) / hop).astype(np.float32)
        r0 = half + j0 * hop  # the sample hop j0's ramp starts on
        # the hops whose ramps lie whole in [a, b), written in place: g[j] + (g[j + 1] - g[j]) * w
        f, last = max(0, -(-(a - r0) // hop)), min(j1 - j0, (b - r0) // hop)
        if last > f:
            rows = out[r0 + f * hop - a : r0 + last * hop - a].reshape(-1, hop)
            np.multiply(
                (g[j0 + f + 1 : j0 + last + 1] - g[j0 + f : j0 + last])[:, None], w[None, :], out=rows
            )
            rows += g[j0 + f : j0 + last, None]
        for j in sorted({f - 1, last}):  # the ramps cut by the block's ends
            if 0 <= j < j1 - j0:
                r = r0 + j * hop
                lo, hi = max(a, r), min(b, r + hop)
                if hi > lo:
                    ramp = g[j0 + j] + (g[j0 + j + 1] - g[j0 + j]) * w
                    out[lo - a : hi - a] = ramp[lo - r : hi - r]
    return out


def sosfilt_inplace(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """``scipy.signal.sosfilt`` along the last axis of ``x`` (signals, m), C-contiguous
    float64, filtered in place (no copy), ``zi`` (signals, sections, 2) float64 the
    filters' state, updated in place: the numbers ``sosfilt(sos, x, axis=-1,
    zi=...)`` gives, as it computes them (its own kernel, without its copies)."""
    try:
        from scipy.signal._sosfilt import _sosfilt
    except ImportError:  # another SciPy: the public function, and the result copied back
        from scipy.signal import sosfilt

        y, z = sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 0, 1))
        x[...], zi[...] = y, np.moveaxis(z, 1, 0)
        return
    _sosfilt(sos, x, zi)


# ITU-R BS.1770-4 as pyloudnorm 0.2 implements it (Meter(48000), K-weighting)
_BLOCK_S, _OVERLAP, _ABS_GATE = 0.4, 0.75, -70.0


def integrated_loudness(audio: np.ndarray, sr: int = SR) -> float:
    """Integrated loudness (LUFS) of ``audio`` (channels, n), as
    ``pyloudnorm.Meter(sr).integrated_loudness(audio.T)`` measures it, at
    every sample and with the same filters, blocks and gates, but vectorised:
    the two K-weighting biquads run as one ``sosfilt`` in float64 and the
    400 ms blocks' energies come from a cumulative sum rather than a Python
    loop over blocks, and the channels are filtered side by side. Agrees with pyloudnorm to well under 0.001 LU
    (``tests/test_arranger.py``); -inf for silence, like pyloudnorm."""
    meter = LoudnessMeter(audio.shape[1], audio.shape[0], sr)
    meter.feed(audio)
    return meter.result()


class LoudnessMeter:
    """:func:`integrated_loudness` of an ``n``-sample signal fed in
    consecutive blocks (:meth:`feed`), the K-weighting filters' state and
    the 400 ms blocks' running energies carried across: the same number as
    the whole signal gives, whatever the blocks (those that are multiples of
    65,536 samples give it to the last bit).

    ``step`` > 1: the meter of every ``step``-th sample (0, step, 2 step, ...
    of the whole signal, whatever the blocks), at ``sr / step`` with that
    rate's K-weighting, for ``step`` times less work: the stems' calibration
    (:class:`.mixing.Strip`). The samples left out alias into the band they
    keep, their energy counted as well: on rendered stems the reading moves
    by a few thousandths of a LU (0.023 on drums with much above 12 kHz)."""

    _CHUNK = 1 << 16  # filtered in pieces that stay in the cache

    def __init__(self, n: int, channels: int, sr: int = SR, step: int = 1) -> None:
        import pyloudnorm

        if sr % step:
            raise ValueError(f"step {step} does not divide the rate {sr}")
        rate, n_kept = sr // step, -(-n // step)
        meter = pyloudnorm.Meter(rate)
        self.sos = np.array([np.concatenate([f.b, f.a]) for f in meter._filters.values()], np.float64)
        self.gain = float(np.prod([f.passband_gain for f in meter._filters.values()]))
        if channels > 5:
            raise ValueError("at most 5 channels (L, R, C, Ls, Rs)")
        self.n, self.channels, self.sr, self.step = n_kept, channels, rate, step
        hop = 1.0 - _OVERLAP
        self.num_blocks = int(np.round((n_kept / rate - _BLOCK_S) / (_BLOCK_S * hop))) + 1
        j = np.arange(self.num_blocks)
        # the block bounds computed exactly as pyloudnorm computes them
        lo = np.minimum((_BLOCK_S * (j * hop) * rate).astype(np.int64), n_kept)
        hi = np.minimum((_BLOCK_S * (j * hop + 1) * rate).astype(np.int64), n_kept)
        self.bounds, self.where = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        self.cum = np.zeros((channels, len(self.bounds)))  # sum of the squares before each bound
        self.state = np.zeros((channels, len(self.sos), 2))
        self.total = np.zeros(channels)
        self.pos = 0  # samples kept so far
        self.fed = 0  # samples fed so far

    def _channel(self, c: int, x: np.ndarray) -> None:
        """The next kept samples ``x`` of channel ``c``."""
        bounds, cum = self.bounds, self.cum[c]
        state, total = self.state[c][None], float(self.total[c])  # state: a view, filtered in place
        for off in range(0, len(x), self._CHUNK):
            start = self.pos + off
            y = x[None, off : off + self._CHUNK].astype(np.float64)
            sosfilt_inplace(self.sos, y, state)
            y = y[0]
            np.square(y, out=y)
            np.cumsum(y, out=y)  # the running sum is the chunk's plus what came before, where it is read
            a, b = np.searchsorted(bounds, [start + 1, start + len(y) + 1])
            cum[a:b] = y[bounds[a:b] - start - 1] + total
            total = float(y[-1]) + total
        self.total[c] = total

    def _kept(self, block: np.ndarray) -> np.ndarray:
        """The samples of the next ``block`` (..., m) that the meter keeps (a view)."""
        first = (-self.fed) % self.step
        self.fed += block.shape[-1]
        return block[..., first :: self.step]

    def feed(self, block: np.ndarray) -> None:
        """The next (channels, m) samples."""
        from concurrent.futures import ThreadPoolExecutor

        kept = self._kept(block)
        if self.channels > 1:
            with ThreadPoolExecutor(max_workers=self.channels) as pool:  # sosfilt releases the GIL
                list(pool.map(self._channel, range(self.channels), kept))
        else:
            self._channel(0, kept[0])
        self.pos += kept.shape[1]

    def feed_mono(self, x: np.ndarray) -> None:
        """The next (m,) samples, the same on every channel: filtered once, the
        same numbers as :meth:`feed` of them stacked."""
        kept = self._kept(x)
        self._channel(0, kept)
        self.cum[1:], self.state[1:], self.total[1:] = self.cum[0], self.state[0], self.total[0]
        self.pos += len(kept)

    def result(self) -> float:
        """The integrated loudness (LUFS) of what was fed; -inf for silence."""
        nb, where, g_ch = self.num_blocks, self.where, (1.0, 1.0, 1.0, 1.41, 1.41)[: self.channels]
        cum = self.cum * (self.gain * self.gain)
        z = (cum[:, where[nb:]] - cum[:, where[:nb]]) / (_BLOCK_S * self.sr)
        weighted = np.asarray(g_ch) @ z
        with np.errstate(divide="ignore", invalid="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(weighted)
            gated = block_lufs >= _ABS_GATE
            z_avg = z[:, gated].mean(axis=1) if gated.any() else np.full(self.channels, np.nan)
            rel_gate = -0.691 + 10.0 * np.log10(float(np.dot(g_ch, z_avg))) - 10.0
            gated = (block_lufs > rel_gate) & (block_lufs > _ABS_GATE)
            z_avg = np.nan_to_num(z[:, gated].mean(axis=1) if gated.any() else np.full(self.channels, np.nan))
            return float(-0.691 + 10.0 * np.log10(float(np.dot(g_ch, z_avg))))


def _squeezed_loudness(mix: np.ndarray, comp: np.ndarray) -> float:
    """:func:`integrated_loudness` of ``mix * comp`` (the compressed mix), the
    product made a few chunks of the meter at a time (the same number)."""
    meter = LoudnessMeter(mix.shape[1], mix.shape[0], SR)
    size = 8 * LoudnessMeter._CHUNK
    for a in range(0, mix.shape[1], size):
        meter.feed(mix[:, a : a + size] * comp[None, a : a + size])
    return meter.result()


def bus_gain(mix: np.ndarray, target: float | None = None) -> tuple[np.ndarray, float]:
    """Gain per sample (n,): bus compression, the loudness target (``target``
    LUFS; None: :data:`TARGET_LUFS`) and the true-peak ceiling; and the
    loudness (LUFS) after compression.

    The peak of ``g * mix`` is ``g`` times the peak of ``mix``, so the peak
    envelope is measured once. The limiter's gain is the needed gain passed
    through a 40 ms minimum filter (look-ahead and hold) and a 10 ms mean:
    never above what any sample within 20 ms needs, and smooth.

    The true-peak estimate is at most 1.25x the largest nearby sample, so it
    is evaluated only where 1.3x that reaches the ceiling (elsewhere the
    needed gain is exactly 1), and the limiter's filters run only on the
    stretches around the samples that need turning down (with a margin of
    twice their reach, so the result is the one the whole signal gives).
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    n = mix.shape[1]
    level = _abs_peak(mix)
    comp = compressor_gain(mix, peak=level)
    loud = _squeezed_loudness(mix, comp) if n > SR // 2 else -70.0
    if not np.isfinite(loud):
        loud = -70.0
    g0 = 10 ** (((TARGET_LUFS if target is None else target) - loud) / 20)
    ceiling = 10 ** (CEILING_DBTP / 20) * LIMIT_MARGIN
    gain = comp * np.float32(g0)

    # |mix * comp| = level * comp; a sample is a candidate when it or a neighbour could reach the ceiling
    hot = np.multiply(level, comp, out=level) > ceiling / (1.3 * g0)  # level is not needed after this
    near = hot.copy()
    near[1:] |= hot[:-1]
    near[:-1] |= hot[1:]
    idx = np.flatnonzero(near)
    if len(idx) == 0:
        return gain, loud
    need_at = np.minimum(1.0, ceiling / np.maximum(_true_peak_at(mix, idx, comp) * g0, 1e-9))
    low = need_at < 1.0
    if not low.any():
        return gain, loud
    where, need_low = idx[low], need_at[low]
    win = int(0.010 * SR)
    size_min, size_mean = 4 * win, win
    margin = 2 * (size_min // 2 + size_mean // 2 + 2)  # twice the filters' joint reach
    # stretches [first - margin, last + margin) around runs of samples that need turning down
    breaks = np.flatnonzero(np.diff(where) > 2 * margin)
    firsts = where[np.concatenate([[0], breaks + 1])]
    lasts = where[np.concatenate([breaks, [len(where) - 1]])]
    starts = np.maximum(firsts - margin, 0)
    stops = np.minimum(lasts + margin + 1, n)
    lengths = stops - starts
    # the stretches side by side: between two of them lie 2 * margin samples needing 1,
    # as in the whole signal, so filtering them together gives the whole signal's result
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    pos = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    need = np.ones(offsets[-1])
    need[np.searchsorted(pos, where)] = need_low
    need = uniform_filter1d(minimum_filter1d(need, size=size_min), size=size_mean)
    gain[pos] *= need.astype(np.float32)
    return gain, loud


#: How far the limiter's filters reach (samples): the look-ahead minimum and the
#: mean, and one for the true peak's neighbours.
_LIMIT_WIN = int(0.010 * SR)
_LIMIT_REACH = 2 * ((4 * _LIMIT_WIN) // 2 + _LIMIT_WIN // 2 + 2) + 1


def bus_long(
    stems: dict[str, DiskAudio],
    score: Score,
    folder: TempFolder,
    size: int,
    tick: Callable[[str], None] = lambda label: None,
    pre: Callable[[str, int, np.ndarray], np.ndarray] | None = None,
    target: float | None = None,
) -> DiskAudio:
    """The bus of :func:`.render.render_long` on stems already on disk (changed in
    place: the gain applied); returns their mix. What :func:`bus_gain` and
    :func:`.render.ending` do to the whole signal, in blocks of ``size`` (a multiple
    of 64); ``tick`` is called after each block of each pass. ``pre(part, start,
    block)``: what the mix does to a stem's block first (in place, written back:
    :meth:`.mixing.StemGains.apply`); ``target``: the loudness (LUFS)."""
    n = next(iter(stems.values())).n
    raw_mix, g_comp = _raw_mix(stems, folder, size, tick, pre)

    def comp_at(a: int, b: int) -> np.ndarray:
        return (
            np.ones(max(0, min(b, n) - a), np.float32)
            if g_comp is None
            else _hop_gain_samples(g_comp, n, a, b)
        )

    g0 = _loudness_gain(raw_mix, comp_at, size, tick, target)
    mix_out = _apply_bus(stems, score, folder, size, tick, (raw_mix, comp_at, g0))
    raw_mix.path.unlink(missing_ok=True)
    return mix_out


def _raw_mix(
    stems: dict[str, DiskAudio],
    folder: TempFolder,
    size: int,
    tick: Callable[[str], None],
    pre: Callable[[str, int, np.ndarray], np.ndarray] | None = None,
) -> tuple[DiskAudio, np.ndarray | None]:
    """Pass 1b: the mix before the bus (on disk), and the compressor's gain
    per 64-sample hop (None: no compression)."""
    from ...io.blockaudio import DiskAudio

    n = next(iter(stems.values())).n
    names = list(stems)  # added in this order, as render.mix_of adds them
    raw_mix = DiskAudio.create(folder, "mix-raw", 2, n)
    hops, power_sum = [], 0.0
    for start in range(0, n, size):
        parts = [stems[p].read(start, start + size) for p in names]
        if pre is not None:  # the mix's own gains on each stem first, written back
            parts = [pre(p, start, v) for p, v in zip(names, parts, strict=True)]
            for p, v in zip(names, parts, strict=True):
                stems[p].write(start, v)
        mix = parts[0].copy()
        for v in parts[1:]:
            mix += v
        raw_mix.write(start, mix)
        level = _abs_peak(mix)
        power = level * level
        hops.append(_hop_power(power))
        power_sum += float(np.sum(power, dtype=np.float64))
        tick("mixing")
    g_comp = _compressor_hops(np.concatenate(hops), power_sum / max(1, n))
    return raw_mix, g_comp


def _loudness_gain(
    raw_mix: DiskAudio,
    comp_at: Callable[[int, int], np.ndarray],
    size: int,
    tick: Callable[[str], None],
    target: float | None = None,
) -> float:
    """Pass 2: the gain that brings the compressed mix to ``target`` (None: :data:`TARGET_LUFS`)."""
    n = raw_mix.n
    meter = LoudnessMeter(n, 2, SR) if n > SR // 2 else None
    for start, mix in raw_mix.blocks(size):
        if meter is not None:
            meter.feed(mix * comp_at(start, start + mix.shape[1])[None, :])
        tick("measuring the loudness")
    loud = meter.result() if meter is not None else -70.0
    if not np.isfinite(loud):
        loud = -70.0
    g0 = 10 ** (((TARGET_LUFS if target is None else target) - loud) / 20)
    return g0


def _apply_bus(
    stems: dict[str, DiskAudio],
    score: Score,
    folder: TempFolder,
    size: int,
    tick: Callable[[str], None],
    before: tuple[DiskAudio, Callable[[int, int], np.ndarray], float],
) -> DiskAudio:
    """Pass 3: the limiter, the ending and the gain on every stem (in place,
    their peaks set); returns their sum, the mix. ``before``: the mix before
    the bus, the compressor's gain per sample and the loudness gain."""
    from ...io.blockaudio import DiskAudio

    raw_mix, comp_at, g0 = before
    n = raw_mix.n
    names = list(stems)
    ceiling = 10 ** (CEILING_DBTP / 20) * LIMIT_MARGIN
    since = score.final_s if score.final_s is not None else score.release_s
    hold_from = min(n, int(round(since * SR))) if since > 0 else n
    held = np.float32(np.inf)
    k_fade = min(n, int(round(score.fade_s * SR)))
    fade = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k_fade))).astype(np.float32) if k_fade > 1 else None
    mix_out = DiskAudio.create(folder, "mix", 2, n)
    peaks = dict.fromkeys(names, 0.0)
    mix_peak = 0.0
    for start in range(0, n, size):
        stop = min(n, start + size)
        c0, c1 = max(0, start - _LIMIT_REACH), min(n, stop + _LIMIT_REACH)
        ctx = raw_mix.read(c0, c1)
        comp = comp_at(c0, c1)
        gain = comp[start - c0 : stop - c0] * np.float32(g0)
        need = _limiter_need(ctx, comp, g0, ceiling)
        if need is not None:
            gain *= need[start - c0 : stop - c0].astype(np.float32)
        # the ending: from the strike on the gain never rises, then the fade to 0
        if stop > hold_from:
            i = max(hold_from, start) - start
            seg = gain[i:]
            seg[0] = min(seg[0], held)
            np.minimum.accumulate(seg, out=seg)
            held = seg[-1]
        if fade is not None and stop > n - k_fade:
            i = max(n - k_fade, start)
            gain[i - start :] *= fade[i - (n - k_fade) : stop - (n - k_fade)]
        elif fade is None and stop == n and n:
            gain[-1] = 0.0
        summed: np.ndarray | None = None
        for p in names:
            v = stems[p].read(start, stop)
            np.multiply(v, gain[None, :], out=v)
            stems[p].write(start, v)
            peaks[p] = max(peaks[p], float(np.abs(v).max()) if v.size else 0.0)
            if summed is None:
                summed = v.copy()
            else:
                summed += v
        assert summed is not None
        mix_out.write(start, summed)
        mix_peak = max(mix_peak, float(np.abs(summed).max()) if summed.size else 0.0)
        tick("applying the bus")
    for p in names:
        stems[p].set_peak(peaks[p])
    mix_out.set_peak(mix_peak)
    return mix_out


def _limiter_need(mix: np.ndarray, comp: np.ndarray, g0: float, ceiling: float) -> np.ndarray | None:
    """The limiter's gain (float64, filtered) over a stretch ``mix`` of the raw
    mix with its compressor gain ``comp``, as :func:`bus_gain` computes it on
    the whole signal; exact at least :data:`_LIMIT_REACH` samples in from a
    side that is not the signal's own start or end. None: 1 throughout."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    level = _abs_peak(mix)
    hot = level * comp > ceiling / (1.3 * g0)
    if not hot.any():
        return None
    near = hot.copy()
    near[1:] |= hot[:-1]
    near[:-1] |= hot[1:]
    idx = np.flatnonzero(near)
    squeezed = mix * comp[None, :]
    need_at = np.minimum(1.0, ceiling / np.maximum(_true_peak_at(squeezed, idx) * g0, 1e-9))
    if not (need_at < 1.0).any():
        return None
    need = np.ones(mix.shape[1])
    need[idx] = need_at
    return uniform_filter1d(minimum_filter1d(need, size=4 * _LIMIT_WIN), size=_LIMIT_WIN)
