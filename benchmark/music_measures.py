"""Music-quality measures of a rendered cue (issue 17), for bench_music.py and anyone's own checks.

Audio measures take a (2, n) float array (channels first) and its sample rate:

- :func:`loudness` - integrated loudness (pyloudnorm, BS.1770), loudness range
  (LRA per EBU Tech 3342: short-term 3 s loudness every 0.1 s, absolute gate
  -70 LUFS, relative gate -20 LU, 95th - 10th percentile) and the spread (std)
  of the short-term loudness above the absolute gate;
- :func:`true_peak_dbtp` - the 4x-oversampled peak; :func:`aac_round_trip` -
  the audio encoded to AAC (default 128 kbit/s) in an .m4a and decoded (PyAV);
- :func:`low_share` - share of the energy below 60 Hz (FFT);
- :func:`lr_correlation` - Pearson correlation of the two channels;
- :func:`estimate_key` - Krumhansl-Schmuckler key of the audio's chroma
  (librosa chroma_cqt);
- :func:`tail` - level of the last 10 ms and the ring-out's fall.

Score measures take the arranger's ``Score`` (``parts``: part -> notes with
``start``, ``end``, ``pitch``, ``velocity``) and are exact:

- :func:`onset_deviation` - note starts against the nearest grid point;
- :func:`velocity_spread` - std of the velocities within each bar, per part;
- :func:`voice_motion` - semitones moved per chord change, minimal matching;
- :func:`lead_presence` - share of bars in which a lead note sounds.

Only numpy, scipy, pyloudnorm, librosa and av; nothing from vidmusician.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Krumhansl-Kessler key profiles (C major, C minor)
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E"}


def _db(x: float, floor: float = -200.0) -> float:
    return float(20 * np.log10(x)) if x > 0 else floor


# ------------------------------------------------------------------ loudness


def _k_weighted(audio: np.ndarray, sr: int) -> np.ndarray:
    """``audio`` (channels, n) through the BS.1770 K-weighting (pyloudnorm's two stages)."""
    from pyloudnorm.iirfilter import IIRfilter
    from scipy.signal import lfilter

    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf")
    hp = IIRfilter(0.0, 0.5, 38.0, sr, "high_pass")
    out = np.asarray(audio, np.float64)
    for f in (shelf, hp):
        out = lfilter(f.b, f.a, out, axis=-1)
    return out


def short_term_loudness(audio: np.ndarray, sr: int, window_s: float = 3.0, hop_s: float = 0.1) -> np.ndarray:
    """Short-term loudness (LUFS) of ``window_s`` windows every ``hop_s`` (EBU Tech 3341/3342).

    Channels weighted 1.0 (stereo). Empty when the audio is shorter than one window."""
    k = _k_weighted(audio, sr)
    power = np.sum(k * k, axis=0)  # G = 1 for L and R
    c = np.concatenate([[0.0], np.cumsum(power)])
    win, hop = int(round(window_s * sr)), int(round(hop_s * sr))
    if power.size < win:
        return np.zeros(0)
    starts = np.arange(0, power.size - win + 1, hop)
    ms = (c[starts + win] - c[starts]) / win
    return -0.691 + 10 * np.log10(np.maximum(ms, 1e-20))


def loudness_range(st: np.ndarray) -> float:
    """LRA (LU) of short-term loudness values: gates -70 LUFS and -20 LU, 95th - 10th percentile."""
    st = st[st > -70.0]
    if st.size == 0:
        return 0.0
    rel = 10 * np.log10(np.mean(10 ** (st / 10))) - 20.0
    st = st[st > rel]
    if st.size == 0:
        return 0.0
    return float(np.percentile(st, 95) - np.percentile(st, 10))


def loudness(audio: np.ndarray, sr: int, hop_s: float = 0.1) -> dict[str, float]:
    """``integrated_lufs`` (pyloudnorm), ``lra_lu`` and ``st_std_lu`` (std of the short-term
    loudness above -70 LUFS)."""
    import pyloudnorm

    a = np.asarray(audio, np.float64)
    integrated = float(pyloudnorm.Meter(sr).integrated_loudness(a.T))
    st = short_term_loudness(a, sr, hop_s=hop_s)
    gated = st[st > -70.0]
    return {
        "integrated_lufs": integrated,
        "lra_lu": loudness_range(st),
        "st_std_lu": float(np.std(gated)) if gated.size else 0.0,
    }


# ------------------------------------------------------------------ peaks, AAC


def true_peak_dbtp(audio: np.ndarray, oversample: int = 4) -> float:
    """The peak of ``audio`` oversampled ``oversample`` times (polyphase), dBTP."""
    from scipy.signal import resample_poly

    a = np.asarray(audio, np.float64)
    up = resample_poly(a, oversample, 1, axis=-1)
    return _db(float(np.max(np.abs(up))))


def sample_peak_dbfs(audio: np.ndarray) -> float:
    return _db(float(np.max(np.abs(audio))))


def aac_round_trip(audio: np.ndarray, sr: int, bitrate: int = 128_000) -> np.ndarray:
    """``audio`` (2, n) encoded to AAC at ``bitrate`` in an .m4a (temporary folder) and decoded,
    (2, m) float32. The encoder's priming samples stay in (they do not move the peak)."""
    import av

    a = np.ascontiguousarray(np.asarray(audio, np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mix.m4a")
        with av.open(path, "w") as out:
            stream = out.add_stream("aac", rate=sr)
            stream.bit_rate = bitrate
            stream.layout = "stereo"
            step = 1024 * 16
            for i in range(0, a.shape[1], step):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(a[:, i : i + step]), format="fltp", layout="stereo"
                )
                frame.sample_rate = sr
                frame.pts = i
                for pkt in stream.encode(frame):
                    out.mux(pkt)
            for pkt in stream.encode(None):
                out.mux(pkt)
        chunks = []
        with av.open(path) as inp:
            for frame in inp.decode(audio=0):
                x = frame.to_ndarray()
                if frame.format.is_packed:
                    x = x.reshape(-1, len(frame.layout.channels)).T
                chunks.append(x.astype(np.float32))
    return np.concatenate(chunks, axis=1)


# ------------------------------------------------------------------ spectrum, stereo


def low_share(audio: np.ndarray, sr: int, cutoff_hz: float = 60.0) -> float:
    """Share (0..1) of the energy (both channels, FFT power) below ``cutoff_hz``."""
    a = np.asarray(audio, np.float64)
    spec = np.fft.rfft(a, axis=-1)
    power = np.sum(np.abs(spec) ** 2, axis=0)
    freqs = np.fft.rfftfreq(a.shape[-1], 1 / sr)
    total = float(power[1:].sum())  # DC aside
    return float(power[1:][freqs[1:] < cutoff_hz].sum() / total) if total > 0 else 0.0


def lr_correlation(audio: np.ndarray) -> float:
    """Pearson correlation of the left and right channels (1: mono, 0: unrelated)."""
    a = np.asarray(audio, np.float64)
    if a.shape[0] < 2 or np.std(a[0]) == 0 or np.std(a[1]) == 0:
        return 1.0
    return float(np.corrcoef(a[0], a[1])[0, 1])


# ------------------------------------------------------------------ key


def normalise_key(name: str) -> str:
    """ "Db minor" / "c# Minor" -> "C# minor" (sharps, lower-case mode)."""
    parts = name.strip().split()
    if not parts:
        return ""
    tonic = parts[0][:1].upper() + parts[0][1:]
    tonic = _FLATS.get(tonic, tonic)
    mode = parts[1].lower() if len(parts) > 1 else "major"
    return f"{tonic} {mode}"


def key_of_chroma(chroma: np.ndarray) -> tuple[str, float]:
    """Krumhansl-Schmuckler: the key (``"C# minor"``) whose profile best correlates with the
    12-bin ``chroma`` profile, and that correlation."""
    best, best_r = "", -2.0
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for t in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile, t))[0, 1])
            if r > best_r:
                best, best_r = f"{NOTE_NAMES[t]} {mode}", r
    return best, best_r


def estimate_key(audio: np.ndarray, sr: int, analysis_sr: int = 22050) -> tuple[str, float]:
    """The key heard in ``audio`` (mono sum, resampled to ``analysis_sr``, chroma_cqt summed
    over time, Krumhansl-Schmuckler) and the profile's correlation."""
    import librosa

    mono = np.asarray(audio, np.float32).mean(axis=0)
    y = librosa.resample(mono, orig_sr=sr, target_sr=analysis_sr) if sr != analysis_sr else mono
    # tuning given: librosa's tuning estimate (a numba gufunc) crashes the process on this
    # machine's numba; the arranger's SoundFonts play at A440 anyway
    chroma = librosa.feature.chroma_cqt(y=y, sr=analysis_sr, tuning=0.0)
    return key_of_chroma(chroma.sum(axis=1))


def relative_key(name: str) -> str:
    """The relative major/minor of ``name`` ("A minor" -> "C major")."""
    tonic, mode = normalise_key(name).split()
    i = NOTE_NAMES.index(tonic)
    return f"{NOTE_NAMES[(i + 3) % 12]} major" if mode == "minor" else f"{NOTE_NAMES[(i - 3) % 12]} minor"


# ------------------------------------------------------------------ ending


def tail(audio: np.ndarray, sr: int, last_frame_s: float, window_s: float = 0.01) -> dict[str, float]:
    """``tail_dbfs``: peak level (dBFS) of the last ``window_s``; ``tail_rms_dbfs`` its RMS;
    ``ring_fall_db``: RMS level of the 100 ms before ``last_frame_s`` (the picture's end)
    minus the RMS of the last ``window_s`` (how far the ring-out falls)."""
    a = np.asarray(audio, np.float64)
    w = max(1, int(round(window_s * sr)))
    last = a[:, -w:]
    e = int(round(last_frame_s * sr))
    before = a[:, max(0, e - int(0.1 * sr)) : max(1, e)]
    rms_last = _db(float(np.sqrt(np.mean(last**2))))
    rms_before = _db(float(np.sqrt(np.mean(before**2)))) if before.size else -200.0
    return {
        "tail_dbfs": _db(float(np.max(np.abs(last)))),
        "tail_rms_dbfs": rms_last,
        "ring_fall_db": rms_before - rms_last,
    }


# ------------------------------------------------------------------ score measures


def _notes(score: Any, part: str) -> list[Any]:
    return list(getattr(score, "parts", {}).get(part, []))


def onset_deviation(
    starts: Sequence[float] | np.ndarray,
    grid_s: np.ndarray,
    subdivision: int = 4,
    beat0_s: float | None = None,
) -> dict[str, float]:
    """Note starts (s) against the nearest point of ``grid_s`` (the plan's grid, ``subdivision``
    steps per beat, a beat at ``beat0_s``: the grid may start before the first beat):
    ``median_abs_ms``, ``std_ms`` (spread of the signed deviation),
    ``p95_abs_ms``, ``n``; and, to tell swing from looseness, ``swing_ms`` (median deviation
    of the notes nearest the off-beat eighth, the grid phase ``subdivision // 2``) and
    ``jitter_ms`` (std of the deviation once each grid phase's median is taken off: the
    micro-timing alone; a note is then matched to the grid point whose phase's median it
    lies nearest, so a swung eighth that came closer to the next sixteenth still counts
    as the eighth)."""
    s = np.asarray(starts, np.float64)
    g = np.asarray(grid_s, np.float64)
    zero = {"median_abs_ms": 0.0, "std_ms": 0.0, "p95_abs_ms": 0.0, "swing_ms": 0.0, "jitter_ms": 0.0}
    if s.size == 0 or g.size < 2:
        return {**zero, "n": 0}
    sub = max(1, subdivision)
    first = int(np.argmin(np.abs(g - beat0_s))) if beat0_s is not None else 0
    i = np.clip(np.searchsorted(g, s), 1, len(g) - 1)
    pick = np.where(np.abs(s - g[i - 1]) <= np.abs(s - g[i]), i - 1, i)
    d = (s - g[pick]) * 1000.0
    phase = (pick - first) % sub
    med = np.zeros(sub)
    for ph in np.unique(phase):
        med[ph] = np.median(d[phase == ph])
    cand = np.clip(pick[:, None] + np.array([-1, 0, 1]), 0, len(g) - 1)
    resid = np.abs((s[:, None] - g[cand]) * 1000.0 - med[(cand - first) % sub])
    pick = cand[np.arange(s.size), np.argmin(resid, axis=1)]
    d = (s - g[pick]) * 1000.0
    phase = (pick - first) % sub
    centred = d.copy()
    for ph in np.unique(phase):
        centred[phase == ph] -= np.median(d[phase == ph])
    off = phase == subdivision // 2 if subdivision % 2 == 0 else np.zeros(s.size, bool)
    return {
        "median_abs_ms": float(np.median(np.abs(d))),
        "std_ms": float(np.std(d)),
        "p95_abs_ms": float(np.percentile(np.abs(d), 95)),
        "swing_ms": float(np.median(d[off])) if off.any() else 0.0,
        "jitter_ms": float(np.std(centred)),
        "n": int(s.size),
    }


def score_onset_deviation(
    score: Any,
    grid_s: np.ndarray,
    part: str = "drums",
    subdivision: int = 4,
    before_s: float | None = None,
    beat0_s: float | None = None,
) -> dict[str, float]:
    """:func:`onset_deviation` of the note starts of one of the score's parts (exact); notes
    starting at or after ``before_s`` are left out (pass the final strike's time: it lands on
    the last frame, off the grid by design)."""
    starts = [n.start for n in _notes(score, part) if before_s is None or n.start < before_s - 1e-6]
    return onset_deviation(starts, grid_s, subdivision, beat0_s)


def audio_onsets(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times (s) librosa detects in ``audio`` (mono sum): for a stem without a score."""
    import librosa

    mono = np.asarray(audio, np.float32).mean(axis=0)
    return np.asarray(librosa.onset.onset_detect(y=mono, sr=sr, units="time", backtrack=False))


def _bar_of(t: float, downbeats: np.ndarray) -> int:
    return int(np.searchsorted(downbeats, t + 1e-6, side="right") - 1)


def velocity_spread(
    score: Any, downbeats_s: np.ndarray, parts: Sequence[str] | None = None
) -> dict[str, float]:
    """Std of the note velocities within each bar (bars with 2+ notes), averaged over the
    bars, per part; ``"mean"``: the average over the parts that have such bars."""
    parts = list(parts or getattr(score, "parts", {}).keys())
    out: dict[str, float] = {}
    for part in parts:
        by_bar: dict[int, list[int]] = {}
        for n in _notes(score, part):
            by_bar.setdefault(_bar_of(n.start, downbeats_s), []).append(n.velocity)
        stds = [float(np.std(v)) for v in by_bar.values() if len(v) >= 2]
        if stds:
            out[part] = float(np.mean(stds))
    out["mean"] = float(np.mean(list(out.values()))) if out else 0.0
    return out


def chord_motion(a: Sequence[int], b: Sequence[int]) -> int:
    """Semitones the voices move from chord ``a`` to chord ``b`` (MIDI pitches): the minimal
    one-to-one matching (Hungarian) of min(len) voices, each extra voice of the larger chord
    counted to its nearest note of the other."""
    from scipy.optimize import linear_sum_assignment

    a_, b_ = np.asarray(sorted(set(a))), np.asarray(sorted(set(b)))
    if a_.size == 0 or b_.size == 0:
        return 0
    cost = np.abs(a_[:, None] - b_[None, :])
    rows, cols = linear_sum_assignment(cost)
    total = int(cost[rows, cols].sum())
    if a_.size > b_.size:
        total += int(cost[np.setdiff1d(np.arange(a_.size), rows)].min(axis=1).sum())
    elif b_.size > a_.size:
        total += int(cost[:, np.setdiff1d(np.arange(b_.size), cols)].min(axis=0).sum())
    return total


def chords_per_bar(score: Any, downbeats_s: np.ndarray, part: str = "harmony") -> list[tuple[int, ...]]:
    """The pitches (sorted, distinct) of ``part``'s notes starting in each bar, one tuple per
    bar that has notes, in bar order (the arranger holds one chord per bar)."""
    by_bar: dict[int, set[int]] = {}
    for n in _notes(score, part):
        by_bar.setdefault(_bar_of(n.start, downbeats_s), set()).add(int(n.pitch))
    return [tuple(sorted(by_bar[b])) for b in sorted(by_bar)]


def voice_motion(score: Any, downbeats_s: np.ndarray, part: str = "harmony") -> dict[str, float]:
    """Semitones moved per chord change of ``part`` (bars whose pitch set differs from the
    previous bar's): ``mean``, ``median``, ``max``, ``changes``. An arpeggio counts its whole
    figure as the bar's chord."""
    chords = chords_per_bar(score, downbeats_s, part)
    moves = [chord_motion(x, y) for x, y in zip(chords, chords[1:], strict=False) if x != y]
    if not moves:
        return {"mean": 0.0, "median": 0.0, "max": 0.0, "changes": 0}
    return {
        "mean": float(np.mean(moves)),
        "median": float(np.median(moves)),
        "max": float(np.max(moves)),
        "changes": len(moves),
    }


def lead_presence(
    score: Any, downbeats_s: np.ndarray, part: str = "lead", before_s: float | None = None
) -> float:
    """Share (0..1) of the bars in which a note of ``part`` sounds; notes starting at or after
    ``before_s`` are left out (pass the final strike's time so that the one closing note is not
    taken for a topline)."""
    d = np.asarray(downbeats_s, np.float64)
    bars = len(d) - 1
    if bars <= 0:
        return 0.0
    heard = np.zeros(bars, bool)
    for n in _notes(score, part):
        if before_s is not None and n.start >= before_s - 1e-6:
            continue
        b0 = max(0, _bar_of(n.start, d))
        b1 = min(bars - 1, _bar_of(max(n.start, n.end - 1e-6), d))
        if b0 < bars:
            heard[b0 : b1 + 1] = True
    return float(heard.mean())


# ------------------------------------------------------------------ energy follows the picture


def energy_follow(
    audio: np.ndarray, sr: int, motion: np.ndarray, hop_s: float, until_s: float, window_s: float = 1.0
) -> float:
    """Spearman correlation between the picture's motion (``motion``, one value
    every ``hop_s``) and the music's loudness (K-weighted, LUFS) over
    consecutive ``window_s`` windows up to ``until_s`` (the picture's end);
    silent windows (under -70 LUFS) left out. NaN with fewer than 3 windows."""
    from scipy.stats import spearmanr

    k = _k_weighted(audio, sr)
    power = np.sum(k * k, axis=0)
    win = int(round(window_s * sr))
    nwin = int(min(power.size // win, until_s // window_s))
    if nwin < 3:
        return float("nan")
    lufs = -0.691 + 10 * np.log10(np.maximum(power[: nwin * win].reshape(nwin, win).mean(axis=1), 1e-20))
    m = np.asarray(motion, np.float64)
    t = np.arange(len(m)) * hop_s
    pic = np.array(
        [np.mean(m[(t >= i * window_s) & (t < (i + 1) * window_s)]) if len(m) else 0.0 for i in range(nwin)]
    )
    keep = lufs > -70
    if keep.sum() < 3 or np.ptp(pic[keep]) == 0:
        return float("nan")
    return float(spearmanr(pic[keep], lufs[keep]).statistic)
