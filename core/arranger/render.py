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
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import OptionError
from .compose import EXPRESSION, PARTS, Note, Score
from .styles import Style

SR = 48000
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
    import tinysoundfont

    from ..guard import check_soundfont

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
    out = np.empty((n, 2), np.float32)
    pos = 0
    for when, kind, chan, a, b in events:
        when = min(when, n)
        if when > pos:
            synth.generate(when - pos, buffer=out[pos:when].data.cast("B"))
            pos = when
        if kind == 1:
            synth.noteon(chan, a, b)
        elif kind == 0:
            synth.noteoff(chan, a)
        else:
            synth.control_change(chan, a, b)
    if pos < n:
        synth.generate(n - pos, buffer=out[pos:n].data.cast("B"))
    return out


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
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    hop = 64  # the level is followed at 750 Hz: plenty for 50 ms windows, 64x cheaper
    n = mix.shape[1]
    a = _abs_peak(mix) if peak is None else peak
    power = a * a  # the louder channel's power: max(|l|, |r|)^2 == max(l^2, r^2)
    full = n - n % hop
    blocks = power[:full].reshape(-1, hop).mean(axis=1)
    if full < n:  # the last, short block is averaged as if padded with silence
        blocks = np.append(blocks, np.float32(power[full:].sum() / hop))
    rate = SR / hop
    rms_db = 10 * np.log10(uniform_filter1d(blocks, size=max(1, int(0.05 * rate))) + 1e-12)
    mean_db = 10 * np.log10(float(power.mean()) + 1e-12)
    over = np.maximum(0.0, rms_db - (mean_db + above_db))
    reduce_db = over * (1 - 1 / ratio)
    reduce_db = uniform_filter1d(
        maximum_filter1d(reduce_db, size=max(1, int(0.02 * rate))), size=int(0.2 * rate)
    )
    if not reduce_db.any():
        return np.ones(n, np.float32)
    # the gain is interpolated linearly between the blocks' centres: over 64
    # samples it changes by a small fraction of a dB, so interpolating it
    # rather than its decibels differs by under 0.001 dB
    g = (10 ** (-reduce_db / 20)).astype(np.float32)
    half = hop // 2
    out = np.empty(n, np.float32)
    out[: min(half, n)] = g[0]
    if len(g) > 1:
        w = ((np.arange(hop) + 0.5) / hop).astype(np.float32)
        ramp = (g[:-1, None] + (g[1:] - g[:-1])[:, None] * w[None, :]).ravel()[: max(0, n - half)]
        out[half : half + len(ramp)] = ramp
        out[half + len(ramp) :] = g[-1]
    else:
        out[half:] = g[0]
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
    import pyloudnorm
    from scipy.signal import sosfilt

    meter = pyloudnorm.Meter(sr)
    sos = np.array([np.concatenate([f.b, f.a]) for f in meter._filters.values()], np.float64)
    gain = float(np.prod([f.passband_gain for f in meter._filters.values()]))
    channels, n = audio.shape
    if channels > 5:
        raise ValueError("at most 5 channels (L, R, C, Ls, Rs)")
    g_ch = (1.0, 1.0, 1.0, 1.41, 1.41)[:channels]
    step = 1.0 - _OVERLAP
    num_blocks = int(np.round((n / sr - _BLOCK_S) / (_BLOCK_S * step))) + 1
    j = np.arange(num_blocks)
    # the block bounds computed exactly as pyloudnorm computes them
    lo = np.minimum((_BLOCK_S * (j * step) * sr).astype(np.int64), n)
    hi = np.minimum((_BLOCK_S * (j * step + 1) * sr).astype(np.int64), n)

    bounds, where = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    chunk = 1 << 16  # filtered in pieces that stay in the cache, the filter's state carried across

    def energies(ch: np.ndarray) -> np.ndarray:  # mean square of the K-weighted channel per block
        cum = np.zeros(len(bounds))  # sum of the squares before each bound
        state = np.zeros((len(sos), 2))
        total = 0.0
        for start in range(0, n, chunk):
            y, state = sosfilt(sos, ch[start : start + chunk].astype(np.float64), zi=state)
            np.square(y, out=y)
            np.cumsum(y, out=y)
            y += total
            a, b = np.searchsorted(bounds, [start + 1, start + len(y) + 1])
            cum[a:b] = y[bounds[a:b] - start - 1]
            total = float(y[-1])
        cum *= gain * gain
        return (cum[where[num_blocks:]] - cum[where[:num_blocks]]) / (_BLOCK_S * sr)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=channels) as pool:  # sosfilt releases the GIL
        z = np.array(list(pool.map(energies, audio))).reshape(channels, num_blocks)
    weighted = np.asarray(g_ch) @ z
    with np.errstate(divide="ignore", invalid="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(weighted)
        gated = block_lufs >= _ABS_GATE
        z_avg = z[:, gated].mean(axis=1) if gated.any() else np.full(channels, np.nan)
        rel_gate = -0.691 + 10.0 * np.log10(float(np.dot(g_ch, z_avg))) - 10.0
        gated = (block_lufs > rel_gate) & (block_lufs > _ABS_GATE)
        z_avg = np.nan_to_num(z[:, gated].mean(axis=1) if gated.any() else np.full(channels, np.nan))
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
