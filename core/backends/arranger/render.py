"""Rendering: the score through a SoundFont, effects, and one mix bus.

Each part is rendered alone with tinysoundfont (General MIDI SoundFont that
pretty_midi ships, or the user's SF2/SF3) at 48 kHz, gets its own effects
(pedalboard reverb on pad and lead; a compressor on drums), and then the
bus, computed as gains: a gentle 2:1 bus compressor, one gain for the
loudness target (-14 LUFS, pyloudnorm) and a smooth look-ahead limiter that
keeps the true peak under -1 dBFS. The gains are applied to every stem, so
the stems sum to the mix exactly.

The bus works on whole 48 kHz signals (minutes long) and is written for
speed: one pass for the channels' peak, the loudness measured as pyloudnorm
measures it but vectorised (:func:`integrated_loudness`), the true peak
estimated only where it could reach the ceiling, and the limiter filtered
only around the samples it turns down.

A cue longer than :data:`LONG_S` is rendered by :func:`render_long` instead:
the same computation in blocks, onto disk, with memory bounded whatever
the length (a 2-hour cue peaks under 700 MB for the whole ``score``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import fsutil, units
from ...errors import OptionError
from ...progress import CancelToken, ProgressFn
from .compose import EXPRESSION, PARTS, Note, Score
from .styles import Style

if TYPE_CHECKING:
    from ...io.blockaudio import DiskAudio, TempFolder

SR = units.OUTPUT_SR
KICK_NOTE, KICKS = 36, (35, 36)  # GM bass drums
TARGET_LUFS = -14.0
CEILING_DBTP = -1.0


def default_soundfont() -> str:
    import pretty_midi

    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


def _program(style: Style, part: str) -> tuple[int, bool]:
    if part == "drums":
        return int(style.drums or 0), True
    return int(getattr(style, part)), False


def render_part(
    notes: list[Note],
    program: int,
    drums: bool,
    n: int,
    soundfont: str,
    controls: list[tuple[float, int, int]] | None = None,
    tonic: int | None = None,
) -> np.ndarray:
    """(2, n) float32 of ``notes`` played by GM ``program`` (bank 128 for drums);
    notes that name another program play it on a second channel. ``controls``:
    (time, controller, value) sent to every channel. ``tonic`` (drums): the
    pitch class the kick drum is tuned to (:func:`kick_shift`)."""
    return _synth(notes, program, drums, n, soundfont, controls, tonic).T.copy()


def kick_shift(pitch: float, tonic: int) -> float:
    """Semitones (-6 to 6) that tune a kick drum sounding at ``pitch`` (MIDI
    number) to the key's tonic: a kick's boom is a low, pitched tone (an
    808's is a sine), heard as a bass note; off the key it is a wrong one,
    and on the fifth it pulls the key towards the dominant."""
    return float(((tonic % 12 - pitch + 6.0) % 12.0) - 6.0)


def _kick_pitch(synth: object, chan: int) -> float | None:
    """The pitch (MIDI number) of the kick drum on drum channel ``chan``: the
    strongest partial between 30 and 200 Hz of its first half second. The
    synthesiser is silent again afterwards."""
    n = SR // 2
    buf = np.zeros((n, 2), np.float32)
    synth.noteon(chan, KICK_NOTE, 100)  # type: ignore[attr-defined]
    synth.generate(n, buffer=buf.data.cast("B"))  # type: ignore[attr-defined]
    synth.sounds_off(chan)  # type: ignore[attr-defined]
    synth.generate(SR // 10, buffer=np.zeros((SR // 10, 2), np.float32).data.cast("B"))  # type: ignore[attr-defined]
    x = buf[:, 0] * np.hanning(n)
    if not np.any(x):
        return None
    spectrum = np.abs(np.fft.rfft(x, 8 * n))
    freqs = np.fft.rfftfreq(8 * n, 1 / SR)
    band = (freqs >= 30) & (freqs <= 200)
    f0 = float(freqs[band][np.argmax(spectrum[band])])
    return 69 + 12 * float(np.log2(f0 / 440.0))


def _synth(
    notes: list[Note],
    program: int,
    drums: bool,
    n: int,
    soundfont: str,
    controls: list[tuple[float, int, int]] | None = None,
    tonic: int | None = None,
) -> np.ndarray:
    """:func:`render_part` as the synthesiser writes it: (n, 2), interleaved.

    tinysoundfont holds the GIL while it renders, so this is the part of the
    rendering that cannot run beside itself; it writes straight into the
    output array and leaves every other step to the caller."""
    if n == 0:
        return np.empty((0, 2), np.float32)
    return next(_synth_blocks(notes, program, drums, n, soundfont, controls, tonic))


def _synth_setup(
    notes: list[Note],
    program: int,
    drums: bool,
    soundfont: str,
    controls: list[tuple[float, int, int]] | None,
    tonic: int | None,
) -> tuple[Any, list[tuple[int, int, int, int, int]]]:
    """A synthesiser with the part's programs selected (the kick tuned), and
    its events in time order: (sample, kind: 0 off, 1 on, 2 control,
    channel, pitch or controller, velocity or value)."""
    import tinysoundfont

    from ...io.guard import check_soundfont

    check_soundfont(soundfont)  # structure first: a damaged font crashes sfload (remembered per file)
    synth = tinysoundfont.Synth(samplerate=SR)
    try:
        sfid = synth.sfload(soundfont)
    except Exception as e:
        raise OptionError(f"{soundfont}: not a readable SoundFont ({e}); give an SF2/SF3 file.") from e
    channels = {program: 0}
    for note in notes:
        if note.program >= 0 and note.program not in channels and not drums:
            channels[note.program] = len(channels)
    for prog, chan in channels.items():
        try:
            synth.program_select(chan, sfid, 128 if drums else 0, prog, is_drums=drums)
        except Exception:
            synth.program_select(chan, sfid, 128 if drums else 0, 0, is_drums=drums)  # the font lacks it
    kick_chan = None
    if drums and tonic is not None:  # the kicks play on a channel of their own, tuned to the key
        kick_chan = 1
        synth.program_select(kick_chan, sfid, 128, program, is_drums=True)
        pitch = _kick_pitch(synth, kick_chan)
        if pitch is not None:
            synth.set_tuning(kick_chan, kick_shift(pitch, tonic))
    events = []  # (sample, kind: 0 off, 1 on, 2 control, channel, pitch or controller, velocity or value)
    for note in notes:
        chan = channels.get(note.program, 0) if note.program >= 0 else 0
        if kick_chan is not None and note.pitch in KICKS:
            chan = kick_chan
        events.append((int(note.start * SR), 1, chan, note.pitch, note.velocity))
        events.append((int(note.end * SR), 0, chan, note.pitch, 0))
    for t, controller, value in controls or ():
        events += [(int(t * SR), 2, chan, controller, value) for chan in channels.values()]
    events.sort()
    return synth, events


def _synth_blocks(
    notes: list[Note],
    program: int,
    drums: bool,
    n: int,
    soundfont: str,
    controls: list[tuple[float, int, int]] | None = None,
    tonic: int | None = None,
    block: int | None = None,
) -> Iterator[np.ndarray]:
    """:func:`_synth` a block of ``block`` frames at a time: (m, 2) float32
    arrays for consecutive blocks (one block of ``n`` when ``block`` is None,
    which is :func:`_synth`'s output exactly). The synthesiser is fed its
    events in order and renders up to each one, or up to the block's end; a
    block is a fresh array (the caller keeps it or lets it go)."""
    synth, events = _synth_setup(notes, program, drums, soundfont, controls, tonic)
    size = n if block is None else max(1, int(block))
    ev = iter(events)
    pending = next(ev, None)
    # tinysoundfont renders a call in 64-sample steps from the call's first
    # sample (its envelopes and filters update per step): a block boundary
    # between two events must not restart those steps, so each block is
    # rendered on to the next step boundary of the run that began at the last
    # event, and the overshoot (under 64 samples) begins the next block
    step = 64
    start, pos, run = 0, 0, 0  # the block's first sample; rendered up to; the current run's first sample
    buf = np.empty((size + step, 2), np.float32)

    def play(kind: int, chan: int, a: int, b: int) -> None:
        if kind == 1:
            synth.noteon(chan, a, b)
        elif kind == 0:
            synth.noteoff(chan, a)
        else:
            synth.control_change(chan, a, b)

    while start < n:
        stop = min(n, start + size)
        while pending is not None and min(pending[0], n) < stop:
            when, kind, chan, a, b = pending
            when = min(when, n)
            if when > pos:
                synth.generate(when - pos, buffer=buf[pos - start : when - start].data.cast("B"))
                pos = when
            run = pos
            play(kind, chan, a, b)
            pending = next(ev, None)
        if pos < stop:
            target = run + -(-(stop - run) // step) * step
            target = min(target, n if pending is None else max(stop, min(pending[0], n)))
            synth.generate(target - pos, buffer=buf[pos - start : target - start].data.cast("B"))
            pos = target
        yield buf[: stop - start].copy() if block is not None else buf[: stop - start]
        over = pos - stop
        if over:
            buf[:over] = buf[stop - start : pos - start]
        if block is None:
            break
        start = stop


def _controls(score: Score) -> list[tuple[float, int, int]]:
    """The pitched parts' control changes: the final chord's diminuendo."""
    return [(t, EXPRESSION, v) for t, v in score.expression]


def _effects(part: str, audio: np.ndarray) -> np.ndarray:
    import pedalboard

    if part in ("pad", "lead"):
        board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=0.6, wet_level=0.22, dry_level=0.8)])
    elif part == "drums":
        board = pedalboard.Pedalboard(
            [pedalboard.Compressor(threshold_db=-14, ratio=3, attack_ms=5, release_ms=80)]
        )
    else:
        return audio
    return board(audio, SR).astype(np.float32)


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


def _true_peak_at(mix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """:func:`_true_peak_envelope` at the sample indices ``idx`` only."""
    n = mix.shape[1]
    inner = idx[(idx > 0) & (idx < n - 1)]
    peak = np.zeros(len(idx), np.float32)
    at_inner = np.isin(idx, inner, assume_unique=True)
    for ch in mix:
        x = ch.astype(np.float32, copy=False)
        est = _parabolic_peak(x[inner - 1], x[inner], x[inner + 1])
        peak[at_inner] = np.maximum(peak[at_inner], est)
        peak[~at_inner] = np.maximum(peak[~at_inner], np.abs(x[idx[~at_inner]]))
    return peak


def _abs_peak(mix: np.ndarray) -> np.ndarray:
    """max over channels of |sample|, shape (n,) float32."""
    out = np.abs(mix[0]).astype(np.float32, copy=False)
    for ch in mix[1:]:
        np.maximum(out, np.abs(ch), out=out)
    return out


def compressor_gain(
    mix: np.ndarray, above_db: float = 6.0, ratio: float = 2.0, peak: np.ndarray | None = None
) -> np.ndarray:
    """Bus compression as a gain per sample (n,): 2:1 on the 50 ms RMS level
    where it rises more than ``above_db`` over the mix's mean level, with a
    ~200 ms release. Gentle glue, not a squash. ``peak``: :func:`_abs_peak`
    of ``mix`` when the caller has it."""
    hop = _HOP
    n = mix.shape[1]
    a = _abs_peak(mix) if peak is None else peak
    power = a * a  # the louder channel's power: max(|l|, |r|)^2 == max(l^2, r^2)
    mean_power = float(power.mean())
    g = _compressor_hops(_hop_power(power, hop), mean_power, above_db, ratio)
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
    blocks: np.ndarray, mean_power: float, above_db: float = 6.0, ratio: float = 2.0
) -> np.ndarray | None:
    """The compressor's gain at every hop's centre (float32), from the hops'
    mean power (:func:`_hop_power`) and the whole mix's mean power; None
    when it never turns anything down."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    rate = SR / _HOP
    rms_db = 10 * np.log10(uniform_filter1d(blocks, size=max(1, int(0.05 * rate))) + 1e-12)
    mean_db = 10 * np.log10(mean_power + 1e-12)
    over = np.maximum(0.0, rms_db - (mean_db + above_db))
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
        ramp = (g[j0:j1, None] + (g[j0 + 1 : j1 + 1] - g[j0:j1])[:, None] * w[None, :]).ravel()
        r0 = half + j0 * hop  # the sample ramp[0] belongs to
        lo, hi = max(a, r0), min(b, r0 + len(ramp))
        out[lo - a : hi - a] = ramp[lo - r0 : hi - r0]
    return out


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
    65,536 samples give it to the last bit)."""

    _CHUNK = 1 << 16  # filtered in pieces that stay in the cache

    def __init__(self, n: int, channels: int, sr: int = SR) -> None:
        import pyloudnorm

        meter = pyloudnorm.Meter(sr)
        self.sos = np.array([np.concatenate([f.b, f.a]) for f in meter._filters.values()], np.float64)
        self.gain = float(np.prod([f.passband_gain for f in meter._filters.values()]))
        if channels > 5:
            raise ValueError("at most 5 channels (L, R, C, Ls, Rs)")
        self.n, self.channels, self.sr = n, channels, sr
        step = 1.0 - _OVERLAP
        self.num_blocks = int(np.round((n / sr - _BLOCK_S) / (_BLOCK_S * step))) + 1
        j = np.arange(self.num_blocks)
        # the block bounds computed exactly as pyloudnorm computes them
        lo = np.minimum((_BLOCK_S * (j * step) * sr).astype(np.int64), n)
        hi = np.minimum((_BLOCK_S * (j * step + 1) * sr).astype(np.int64), n)
        self.bounds, self.where = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        self.cum = np.zeros((channels, len(self.bounds)))  # sum of the squares before each bound
        self.state = np.zeros((channels, len(self.sos), 2))
        self.total = np.zeros(channels)
        self.pos = 0

    def _channel(self, c: int, x: np.ndarray) -> None:
        from scipy.signal import sosfilt

        bounds, cum = self.bounds, self.cum[c]
        state, total = self.state[c], float(self.total[c])
        for off in range(0, len(x), self._CHUNK):
            start = self.pos + off
            y, state = sosfilt(self.sos, x[off : off + self._CHUNK].astype(np.float64), zi=state)
            np.square(y, out=y)
            np.cumsum(y, out=y)
            y += total
            a, b = np.searchsorted(bounds, [start + 1, start + len(y) + 1])
            cum[a:b] = y[bounds[a:b] - start - 1]
            total = float(y[-1])
        self.state[c], self.total[c] = state, total

    def feed(self, block: np.ndarray) -> None:
        """The next (channels, m) samples."""
        from concurrent.futures import ThreadPoolExecutor

        if self.channels > 1:
            with ThreadPoolExecutor(max_workers=self.channels) as pool:  # sosfilt releases the GIL
                list(pool.map(self._channel, range(self.channels), block))
        else:
            self._channel(0, block[0])
        self.pos += block.shape[1]

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


def bus_gain(mix: np.ndarray) -> tuple[np.ndarray, float]:
    """Gain per sample (n,): bus compression, the loudness target and the
    true-peak ceiling; and the loudness (LUFS) after compression.

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
    squeezed = mix * comp[None, :]
    loud = integrated_loudness(squeezed) if n > SR // 2 else -70.0
    if not np.isfinite(loud):
        loud = -70.0
    g0 = 10 ** ((TARGET_LUFS - loud) / 20)
    ceiling = 10 ** (CEILING_DBTP / 20) * 0.98
    gain = comp * np.float32(g0)

    # |squeezed| = level * comp; a sample is a candidate when it or a neighbour could reach the ceiling
    hot = level * comp > ceiling / (1.3 * g0)
    near = hot.copy()
    near[1:] |= hot[:-1]
    near[:-1] |= hot[1:]
    idx = np.flatnonzero(near)
    if len(idx) == 0:
        return gain, loud
    need_at = np.minimum(1.0, ceiling / np.maximum(_true_peak_at(squeezed, idx) * g0, 1e-9))
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


def render(
    score: Score, style: Style, duration_s: float, soundfont: str | None = None
) -> dict[str, np.ndarray]:
    """Stems (2, n) float32 at 48 kHz, all the same length, already through the bus."""
    sf = soundfont or default_soundfont()
    if not Path(sf).is_file():
        raise OptionError(f"{sf}: SoundFont not found; give an SF2/SF3 file with --soundfont.")
    n = int(round(duration_s * SR))

    def finish(part: str, interleaved: np.ndarray) -> np.ndarray:
        return _effects(part, np.ascontiguousarray(interleaved.T))[:, :n]

    # tinysoundfont holds the GIL while it renders, pedalboard and numpy release
    # it: so this thread synthesises the parts one after another, the parts with
    # effects first, and the pool puts each through its effects meanwhile, on
    # the other cores
    from concurrent.futures import Future, ThreadPoolExecutor

    stems: dict[str, np.ndarray] = {}
    pending: dict[str, Future[np.ndarray]] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for part in ("pad", "lead", "drums", "harmony", "bass"):
            program, drums = _program(style, part)
            if drums and style.drums is None:
                stems[part] = np.zeros((2, n), np.float32)
            else:
                controls, tonic = (None, score.tonic) if drums else (_controls(score), None)
                audio = _synth(score.parts[part], program, drums, n, sf, controls, tonic)
                pending[part] = pool.submit(finish, part, audio)
        stems.update((part, future.result()) for part, future in pending.items())
    stems = {part: stems[part] for part in PARTS}
    mix = mix_of(stems)
    gain, _ = bus_gain(mix)
    ending(gain, score)
    for v in stems.values():  # each stem is this function's own array
        np.multiply(v, gain[None, :], out=v)
    return stems


def ending(gain: np.ndarray, score: Score) -> np.ndarray:
    """The bus gain (in place) for the end of the music: from the final strike
    (or, without one, from the last chord's release) on it never rises (a
    compressor or limiter releasing after the strike would turn the decaying
    ring-out back up), and it falls to exactly 0 at the file's end along a
    raised cosine of ``score.fade_s``."""
    n = len(gain)
    since = score.final_s if score.final_s is not None else score.release_s
    if since > 0:
        i = min(n, int(round(since * SR)))
        np.minimum.accumulate(gain[i:], out=gain[i:])
    k = min(n, int(round(score.fade_s * SR)))
    if k > 1:
        gain[n - k :] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k))).astype(np.float32)
    elif n:
        gain[-1] = 0.0
    return gain


def mix_of(stems: dict[str, np.ndarray]) -> np.ndarray:
    """The sum of the stems (float32), added in order: the same numbers as
    ``np.sum(list(stems.values()), axis=0)`` without stacking the stems."""
    it = iter(stems.values())
    mix = np.array(next(it), np.float32)
    for v in it:
        mix += v
    return mix


def to_midi(score: Score, style: Style) -> object:
    """The score as a pretty_midi.PrettyMIDI (one instrument per part): the
    notes that were rendered, with their offs, the key signature (and the
    sections' changes of mode) and the final chord's diminuendo (CC 11)."""
    import pretty_midi

    from .keys import Key

    pm = pretty_midi.PrettyMIDI()
    pm.key_signature_changes = [pretty_midi.KeySignature(Key(score.tonic, score.mode).key_number, 0.0)] + [
        pretty_midi.KeySignature(Key(score.tonic, mode).key_number, t) for t, mode in score.modes
    ]
    controls = [pretty_midi.ControlChange(c, v, t) for t, c, v in _controls(score)]
    for part in PARTS:
        program, drums = _program(style, part)
        by_program: dict[int, list[Note]] = {}
        for n in score.parts[part]:
            by_program.setdefault(n.program if n.program >= 0 and not drums else program, []).append(n)
        for prog, notes in sorted(by_program.items(), key=lambda kv: kv[0] != program):
            name = part if prog == program else f"{part} (B sections)"
            inst = pretty_midi.Instrument(program=prog, is_drum=drums, name=name)
            inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
            if not drums:
                inst.control_changes = list(controls)
            pm.instruments.append(inst)
    return pm


# --------------------------------------------------------------------------- long cues, in blocks

#: Cues longer than this are rendered in blocks onto disk (:func:`render_long`);
#: shorter ones in memory (:func:`render`): about 1 GB of arrays at the bound.
LONG_S = 300.0
#: How far the limiter's filters reach (samples): the look-ahead minimum and the
#: mean, and one for the true peak's neighbours.
_LIMIT_WIN = int(0.010 * SR)
_LIMIT_REACH = 2 * ((4 * _LIMIT_WIN) // 2 + _LIMIT_WIN // 2 + 2) + 1


def render_long(
    score: Score,
    style: Style,
    duration_s: float,
    soundfont: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    block: int | None = None,
    scratch: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, DiskAudio], DiskAudio]:
    """:func:`render`, a block at a time, onto disk: the stems (in
    :data:`PARTS` order) and their mix as :class:`~..blockaudio.DiskAudio`
    in a temporary folder. Memory stays at a few blocks whatever the length.

    Three passes, as the bus needs the whole mix before it can turn a
    sample down: (1) each part through the synthesiser and its effects
    (pedalboard with ``reset=False``, its state carried from block to block),
    onto disk, and the mix of the parts with its level per 64-sample hop and
    mean power (the compressor's input); (2) the compressed mix through the
    loudness meter (:class:`LoudnessMeter`); (3) per block, the limiter on
    the block and a margin of the limiter's reach either side, the ending
    (a running minimum carried across blocks, the fade), and the gain
    applied to every stem, whose sum is the mix. Block by block this is the
    whole-signal computation: the same numbers to within float rounding of
    the mean power and the synthesiser's and effects' block boundaries
    (``tests/test_long_timelines.py`` compares it with :func:`render`).
    ``progress`` hears of every block; ``cancel`` is checked at each one.

    The files (seven of 4 bytes per sample and channel at most: 19 GB for
    two hours) go into a temporary folder in ``scratch`` (default: the
    system's, ``TMPDIR``), checked for room first; it goes when the last of
    the returned audio does.
    """
    from ...io.blockaudio import BLOCK, DiskAudio, TempFolder
    from ...progress import check, report

    size = int(block or BLOCK)
    sf = soundfont or default_soundfont()
    if not Path(sf).is_file():
        raise OptionError(f"{sf}: SoundFont not found; give an SF2/SF3 file with --soundfont.")
    n = int(round(duration_s * SR))
    nblocks = max(1, -(-n // size))
    folder = TempFolder("vidmusician-render-", scratch)
    try:
        fsutil.ensure_space(
            folder.path, 4 * 2 * n * (len(PARTS) + 2), f"{folder.path} (the render's scratch files)"
        )
    except BaseException:
        folder.remove()
        raise
    steps = [0]
    total_steps = len(PARTS) * nblocks + 3 * nblocks

    def tick(label: str) -> None:
        steps[0] += 1
        report(progress, steps[0] / total_steps, label)
        check(cancel)

    stems: dict[str, DiskAudio] = {part: DiskAudio.create(folder, part, 2, n) for part in PARTS}
    _render_parts(score, style, stems, sf, size, tick)
    return stems, bus_long(stems, score, folder, size, tick)


def _render_parts(
    score: Score,
    style: Style,
    stems: dict[str, DiskAudio],
    sf: str,
    size: int,
    tick: Callable[[str], None],
) -> None:
    """Pass 1 of :func:`render_long`: the parts into ``stems``, one after
    another, block by block."""
    # the effects of a part run on a thread of their own beside the synthesiser (which holds the GIL)
    from concurrent.futures import Future, ThreadPoolExecutor

    n = next(iter(stems.values())).n
    nblocks = max(1, -(-n // size))
    pools: list[ThreadPoolExecutor] = []
    in_flight: list[Future[None]] = []

    def finish(start: int, interleaved: np.ndarray, board: Any, out: DiskAudio) -> None:
        audio = np.ascontiguousarray(interleaved.T)
        if board is not None:
            audio = board.process(audio, SR, reset=False).astype(np.float32)
        out.write(start, audio)

    try:
        # the two reverbs are the slow effects: their parts are synthesised
        # block for block in turn, so that both reverbs run at once
        for group in (("pad", "lead"), ("drums",), ("harmony",), ("bass",)):
            lanes: list[tuple[str, Iterator[np.ndarray], ThreadPoolExecutor, Any, list[Future[None]]]] = []
            for part in group:
                program, drums = _program(style, part)
                if drums and style.drums is None:
                    for _ in range(nblocks):
                        tick(f"rendering {part}")
                    continue
                controls, tonic = (None, score.tonic) if drums else (_controls(score), None)
                pool = ThreadPoolExecutor(max_workers=1)  # one part's blocks in order; parts side by side
                pools.append(pool)
                blocks = _synth_blocks(score.parts[part], program, drums, n, sf, controls, tonic, size)
                lanes.append((part, blocks, pool, _board(part), []))
            label = f"rendering {' and '.join(lane[0] for lane in lanes)}"
            for k in range(nblocks):
                for part, blocks, pool, board, queue in lanes:
                    queue.append(pool.submit(finish, k * size, next(blocks), board, stems[part]))
                    if len(queue) > 2:  # at most a few blocks of a part in flight
                        queue.pop(0).result()
                    tick(label)
            for lane in lanes:
                in_flight += lane[4]
        for f in in_flight:
            f.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def bus_long(
    stems: dict[str, DiskAudio],
    score: Score,
    folder: TempFolder,
    size: int,
    tick: Callable[[str], None] = lambda label: None,
) -> DiskAudio:
    """The bus of :func:`render_long` on stems already on disk (changed in
    place: the gain applied); returns their mix. What :func:`bus_gain` and
    :func:`ending` do to the whole signal, in blocks of ``size`` (a multiple
    of 64); ``tick`` is called after each block of each pass."""
    n = next(iter(stems.values())).n
    raw_mix, g_comp = _raw_mix(stems, folder, size, tick)

    def comp_at(a: int, b: int) -> np.ndarray:
        return (
            np.ones(max(0, min(b, n) - a), np.float32)
            if g_comp is None
            else _hop_gain_samples(g_comp, n, a, b)
        )

    g0 = _loudness_gain(raw_mix, comp_at, size, tick)
    mix_out = _apply_bus(stems, score, folder, size, tick, (raw_mix, comp_at, g0))
    raw_mix.path.unlink(missing_ok=True)
    return mix_out


def _raw_mix(
    stems: dict[str, DiskAudio], folder: TempFolder, size: int, tick: Callable[[str], None]
) -> tuple[DiskAudio, np.ndarray | None]:
    """Pass 1b: the mix before the bus (on disk), and the compressor's gain
    per 64-sample hop (None: no compression)."""
    from ...io.blockaudio import DiskAudio

    n = next(iter(stems.values())).n
    names = list(stems)  # added in this order, as mix_of adds them
    raw_mix = DiskAudio.create(folder, "mix-raw", 2, n)
    hops, power_sum = [], 0.0
    for start in range(0, n, size):
        parts = [stems[p].read(start, start + size) for p in names]
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
    raw_mix: DiskAudio, comp_at: Callable[[int, int], np.ndarray], size: int, tick: Callable[[str], None]
) -> float:
    """Pass 2: the gain that brings the compressed mix to :data:`TARGET_LUFS`."""
    n = raw_mix.n
    meter = LoudnessMeter(n, 2, SR) if n > SR // 2 else None
    for start, mix in raw_mix.blocks(size):
        if meter is not None:
            meter.feed(mix * comp_at(start, start + mix.shape[1])[None, :])
        tick("measuring the loudness")
    loud = meter.result() if meter is not None else -70.0
    if not np.isfinite(loud):
        loud = -70.0
    g0 = 10 ** ((TARGET_LUFS - loud) / 20)
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
    ceiling = 10 ** (CEILING_DBTP / 20) * 0.98
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


def _board(part: str) -> Any:
    """The pedalboard of a part's effects (None: none), as :func:`_effects` uses."""
    import pedalboard

    if part in ("pad", "lead"):
        return pedalboard.Pedalboard([pedalboard.Reverb(room_size=0.6, wet_level=0.22, dry_level=0.8)])
    if part == "drums":
        return pedalboard.Pedalboard(
            [pedalboard.Compressor(threshold_db=-14, ratio=3, attack_ms=5, release_ms=80)]
        )
    return None


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
