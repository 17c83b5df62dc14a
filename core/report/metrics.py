"""How well music fits a cut: the ``eval`` command's figures.

Every figure is measured on the audio as it is (librosa's beat tracker and
onset strength, 22,050 Hz mono), against the cut's edit points in seconds
from the first frame; the audio is taken to start at the first frame.

cut_beat_hit
    Share of cuts within +-70 ms of a tracked beat.
cut_beat_hit_chance
    The same for the cuts each moved by a random offset (uniform in +-1 s,
    kept inside the timeline), averaged over 200 draws: what chance gives.
cut_sync_hit, cut_sync_hit_chance
    The same within +-40 ms (the sync window: a cut and a beat heard as together).
beat_cv
    Tempo steadiness as heard: the coefficient of variation (std / mean) of
    the tracked beat intervals (production music measures about 0.013).
cut_accent, cut_accent_chance
    Mean onset strength at the cuts (the peak within +-50 ms) over the mean
    onset strength of the whole audio; and its chance level, as above.
energy_corr
    Spearman correlation, over 1-second windows, between the picture's motion
    intensity and the music's loudness (RMS in dB). None when either is flat.
tempo_bpm
    librosa's global tempo estimate.
bcs, bhs (with a reference audio)
    D2M-GAN's Beats Coverage and Beats Hit Scores, in the 1-second-bin
    variant: onsets (librosa) of both audios are binned into 1-second
    windows; B_t = bins with a reference onset, B_g = bins with a generated
    onset, B_a = bins with both; BCS = B_g / B_t, BHS = B_a / B_t.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..model import MotionCurve
from ..rhythm.records import nearest_distance

SR = 22050
HOP = 512
HIT_WINDOW_S = 0.07
SYNC_WINDOW_S = 0.04
ACCENT_WINDOW_S = 0.05
CHANCE_DRAWS = 200
CHANCE_SHIFT_S = 1.0
BIN_S = 1.0


@dataclass(frozen=True)
class Metrics:
    tempo_bpm: float
    n_cuts: int
    n_beats: int
    cut_beat_hit: float | None
    cut_beat_hit_chance: float | None
    cut_accent: float | None
    cut_accent_chance: float | None
    energy_corr: float | None
    bcs: float | None = None
    bhs: float | None = None
    bcs_bhs_variant: str = "D2M-GAN, onsets in 1-second bins"
    cut_sync_hit: float | None = None
    cut_sync_hit_chance: float | None = None
    beat_cv: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """float32 mono audio [shape=(n,)] at :data:`SR`, as every figure here measures it
    (:func:`vidmusician.core.io.audio.load`); a clear error for what cannot be read."""
    from ..io.audio import load

    return load(path, SR, channels=1)[0]


def _accent(cuts: np.ndarray, env: np.ndarray, env_t: np.ndarray) -> float:
    w = max(1, int(round(ACCENT_WINDOW_S * SR / HOP)))
    idx = np.searchsorted(env_t, cuts)
    peaks = [env[max(0, i - w) : i + w + 1].max() for i in idx if i < len(env)]
    mean = float(env.mean())
    return float(np.mean(peaks)) / mean if peaks and mean > 0 else 0.0


def evaluate(
    y: np.ndarray,
    cuts_s: list[float] | np.ndarray,
    duration_s: float,
    motion: MotionCurve | None = None,
    reference: np.ndarray | None = None,
    seed: int = 0,
) -> Metrics:
    """Measure audio ``y`` (mono, :data:`SR`) against cuts at ``cuts_s`` seconds."""
    import librosa

    cuts = np.sort(np.asarray(cuts_s, float))
    tempo, beats = librosa.beat.beat_track(y=y, sr=SR, hop_length=HOP, units="time")
    beats = np.asarray(beats, float)
    env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    env_t = librosa.times_like(env, sr=SR, hop_length=HOP)
    rng = np.random.default_rng(seed)

    hit = hit_chance = accent = accent_chance = sync = sync_chance = None
    if len(cuts):
        dist = nearest_distance(cuts, beats)
        hit, sync = float(np.mean(dist <= HIT_WINDOW_S)), float(np.mean(dist <= SYNC_WINDOW_S))
        accent = _accent(cuts, env, env_t)
        hits, syncs, accents = [], [], []
        for _ in range(CHANCE_DRAWS):
            moved = np.clip(cuts + rng.uniform(-CHANCE_SHIFT_S, CHANCE_SHIFT_S, len(cuts)), 0, duration_s)
            d = nearest_distance(moved, beats)
            hits.append(np.mean(d <= HIT_WINDOW_S))
            syncs.append(np.mean(d <= SYNC_WINDOW_S))
            accents.append(_accent(np.sort(moved), env, env_t))
        hit_chance, accent_chance = float(np.mean(hits)), float(np.mean(accents))
        sync_chance = float(np.mean(syncs))
    iv = np.diff(beats)
    cv = float(iv.std() / iv.mean()) if len(iv) > 1 and iv.mean() > 0 else None

    corr = None
    if motion is not None and len(motion.values):
        n = int(min(duration_s, len(y) / SR) // BIN_S)
        corr = energy_corr(loudness_bins(y, n), motion)

    bcs = bhs = None
    if reference is not None:
        bcs, bhs = beat_scores(y, reference)
    return Metrics(
        tempo_bpm=float(np.atleast_1d(tempo)[0]),
        n_cuts=len(cuts),
        n_beats=len(beats),
        cut_beat_hit=hit,
        cut_beat_hit_chance=hit_chance,
        cut_accent=accent,
        cut_accent_chance=accent_chance,
        energy_corr=corr,
        bcs=bcs,
        bhs=bhs,
        cut_sync_hit=sync,
        cut_sync_hit_chance=sync_chance,
        beat_cv=cv,
    )


def loudness_bins(y: np.ndarray, n: int) -> np.ndarray:
    """RMS (dB) of the first ``n`` :data:`BIN_S` windows of ``y`` (mono, :data:`SR`)."""
    seg = int(BIN_S * SR)
    return np.array(
        [20 * math.log10(float(np.sqrt(np.mean(y[i * seg : (i + 1) * seg] ** 2))) + 1e-9) for i in range(n)]
    )


def energy_corr(loud: np.ndarray, motion: MotionCurve) -> float | None:
    """``energy_corr``: Spearman correlation of the music's loudness per
    :data:`BIN_S` window (:func:`loudness_bins`) with the picture's motion
    over the same windows; None under 3 windows or when either is flat."""
    n = len(loud)
    if n < 3 or not len(motion.values):
        return None
    per = max(1, int(round(BIN_S / motion.hop_s)))
    pic = np.array([motion.values[i * per : (i + 1) * per].mean() for i in range(n)])
    if np.ptp(pic) > 1e-9 and np.ptp(loud) > 1e-9:
        from scipy.stats import spearmanr

        return float(spearmanr(pic, loud).statistic)
    return None


def beat_scores(generated: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(BCS, BHS), D2M-GAN's definitions on 1-second onset bins (module docstring)."""
    import librosa

    def bins(y: np.ndarray, n: int) -> np.ndarray:
        on = librosa.onset.onset_detect(y=y, sr=SR, hop_length=HOP, units="time")
        b = np.zeros(n, bool)
        b[np.minimum((np.asarray(on) // BIN_S).astype(int), n - 1)] = True
        return b

    n = max(1, int(math.ceil(max(len(generated), len(reference)) / SR / BIN_S)))
    g, r = bins(generated, n), bins(reference, n)
    total = int(r.sum())
    if total == 0:
        return 0.0, 0.0
    return float(g.sum()) / total, float((g & r).sum()) / total
