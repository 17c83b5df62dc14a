"""Fit existing music to a cut: its beats moved onto the plan's, cuts on beats.

1. The music is beat-tracked (librosa); its tempo ``T`` sets the plan's
   tempo range to ``T`` +- the stretch bound (8% by default), so no part of
   it is stretched further than that, and consecutive beats may differ by
   the bound's full width.
2. Music beats are mapped onto plan beats from the first downbeat on (the
   first tracked beat is taken as a downbeat). When the music has more bars
   than the cut needs, whole bars are dropped from its middle; when fewer,
   bars from its middle are repeated; either way its own ending lands on the
   timeline's last frame. Jumps are at bar lines with a short crossfade.
3. Each stretch of music between two consecutive anchor points of the plan
   (cuts, jumps) is time-stretched as one piece with pedalboard's Rubber
   Band stretch, to exactly its length on the plan, so every cut lands on
   the music's beat; pieces join with 10 ms crossfades. Music before its
   first beat fills the pickup, and what follows its last downbeat rings
   out after the last frame.

Times are seconds; audio arrays are (channels, samples) float32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import units
from ..errors import InputError
from ..model import VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report
from .planner import RhythmPlan, plan

OUT_SR = units.OUTPUT_SR
CROSSFADE_S = 0.010
BAR_CROSSFADE_S = 0.030


@dataclass(frozen=True)
class FitResult:
    """The fitted music and how it was made.

    Attributes
    ----------
    audio : ndarray [shape=(channels, n)]
        At :data:`OUT_SR`, starting at the timeline's first frame.
    plan : RhythmPlan
    music_tempo_bpm : float
    stretch_range : (float, float)
        Smallest and largest ratio of output to source length used.
    bars_dropped, bars_repeated : int
    warnings : tuple of str
    """

    audio: np.ndarray
    plan: RhythmPlan
    music_tempo_bpm: float
    stretch_range: tuple[float, float]
    bars_dropped: int
    bars_repeated: int
    warnings: tuple[str, ...]


def load_music(path: str | os.PathLike[str]) -> np.ndarray:
    """(channels, n) float32 at :data:`OUT_SR`."""
    from ..io.audio import load

    y = load(path, OUT_SR)
    if y.shape[1] < OUT_SR:
        raise InputError(f"{path}: shorter than a second; nothing to fit.")
    return y


def track_beats(y: np.ndarray) -> tuple[float, np.ndarray]:
    """(tempo BPM, beat times in seconds) of (channels, n) audio at :data:`OUT_SR`."""
    import librosa

    mono = librosa.resample(y.mean(axis=0), orig_sr=OUT_SR, target_sr=22050)
    _, beats = librosa.beat.beat_track(y=mono, sr=22050, units="time")
    beats = np.asarray(beats, float)
    if len(beats) < 8:
        raise InputError("the music has too few clear beats to fit (fewer than 8 found).")
    # the tempo the beats themselves keep (more robust than the global estimate)
    return 60.0 / float(np.median(np.diff(beats))), beats


def _beat_sequence(need: int, j_end: int, bar: int) -> tuple[list[int], int, int]:
    """Music beat indices for ``need`` plan beats (first downbeat .. end), so that
    the last one is ``j_end`` (the music's last downbeat), dropping or repeating
    whole bars in the middle. Returns (sequence, bars dropped, bars repeated)."""
    diff = (need - 1) - j_end  # > 0: repeat that many beats, < 0: drop
    split = max(bar, (j_end // 2) // bar * bar)
    if diff == 0:
        return list(range(j_end + 1)), 0, 0
    if diff < 0:
        drop = -diff
        split = max(0, min(split, j_end - drop))
        split -= split % bar
        return list(range(split)) + list(range(split + drop, j_end + 1)), drop // bar, 0
    seq = list(range(split))
    remaining = diff
    while remaining > 0:
        length = min(remaining, split)
        seq += list(range(split - length, split))
        remaining -= length
    return seq + list(range(split, j_end + 1)), 0, diff // bar


def fit(
    y: np.ndarray,
    features: VideoFeatures,
    stretch_bound: float = 0.08,
    meter: str = "4/4",
    ring_out_s: float = 2.0,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> FitResult:
    """Fit music ``y`` (channels, n) at :data:`OUT_SR` to the analysed cut."""
    report(progress, 0.0, "tracking beats")
    tempo, beats = track_beats(y)
    p = _fit_plan(features, tempo, stretch_bound, meter, ring_out_s)
    bar = p.meter.beats
    first_down = int(np.searchsorted(p.beats_s, p.downbeats_s[0] - 1e-9))
    plan_beats = p.beats_s[first_down:]
    j_end = (len(beats) - 1) // bar * bar
    seq, dropped, repeated = _beat_sequence(len(plan_beats), j_end, bar)

    duration = features.timeline.duration_s
    total = int(round((duration + ring_out_s) * OUT_SR))
    out = np.zeros((y.shape[0], total + OUT_SR), np.float32)
    warnings: list[str] = list(p.warnings)

    # pickup: the music before its first beat fills the time before the first downbeat
    pick = int(round(plan_beats[0] * OUT_SR))
    src_end = int(round(beats[0] * OUT_SR))
    if pick > 0:
        src = y[:, max(0, src_end - pick) : src_end]
        _place(out, src, pick - src.shape[1], 0)

    pieces = _pieces(y, beats, plan_beats, seq, _breaks(p, plan_beats, seq))
    ratios = [r for *_, r, _ in pieces]
    _stretch_all(out, pieces, progress, cancel)

    # ring-out: what follows the music's last downbeat, unstretched, faded
    end = int(round(duration * OUT_SR))
    tail = y[:, int(round(beats[j_end] * OUT_SR)) : int(round(beats[j_end] * OUT_SR)) + (total - end)]
    if tail.shape[1]:
        tail = tail * np.linspace(1.0, 0.0, tail.shape[1], dtype=np.float32) ** 2
        _place(out, tail, end, int(CROSSFADE_S * OUT_SR))
    audio = out[:, :total]
    if ratios and (min(ratios) < 1 - stretch_bound - 1e-3 or max(ratios) > 1 + stretch_bound + 1e-3):
        warnings.append(
            f"some passages needed stretching by {min(ratios):.3f}-{max(ratios):.3f}, beyond the "
            f"{stretch_bound:.0%} bound: the cuts fall where the music's tempo cannot follow."
        )
    report(progress, 1.0, "fitted")
    return FitResult(
        audio=audio,
        plan=p,
        music_tempo_bpm=tempo,
        stretch_range=(min(ratios, default=1.0), max(ratios, default=1.0)),
        bars_dropped=dropped,
        bars_repeated=repeated,
        warnings=tuple(warnings),
    )


def _fit_plan(
    features: VideoFeatures, tempo: float, stretch_bound: float, meter: str, ring_out_s: float
) -> RhythmPlan:
    """A plan near the music's tempo (BPM): within ``stretch_bound`` either side of it.
    The exact planner (every cut on the grid within 1 ms): the fit cuts the
    music into pieces at the plan's beats that carry cuts."""
    lo, hi = tempo * (1 - stretch_bound), tempo * (1 + stretch_bound)
    change = (1 + stretch_bound) / (1 - stretch_bound) - 1
    return plan(
        features.anchors,
        features.timeline.duration_s,
        (lo, hi),
        target_bpm=tempo,
        meter=meter,
        flex=1.0,
        max_change=change,
        motion=features.motion,
        ring_out_s=ring_out_s,
        exact=True,
    )


def _breaks(p: RhythmPlan, plan_beats: np.ndarray, seq: list[int]) -> list[int]:
    """Anchor points: the plan beats (indices) where a piece must start (cuts, jumps, the ends)."""
    hard = {round(a.time_s, 6) for a in p.anchors if a.hard and a.on != "missed"}
    breaks = [0]
    for k in range(1, len(plan_beats)):
        if seq[k] != seq[k - 1] + 1 or round(plan_beats[k], 6) in hard:
            breaks.append(k)
    breaks.append(len(plan_beats) - 1)
    return sorted(set(breaks))


def _place(out: np.ndarray, audio: np.ndarray, start: int, fade_in: int) -> None:
    """Write ``audio`` into ``out`` from sample ``start``, crossfading its first ``fade_in`` samples."""
    n = min(audio.shape[1], out.shape[1] - start)
    if n <= 0:
        return
    seg = audio[:, :n].copy()
    if fade_in and start > 0:
        f = min(fade_in, n)
        ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
        seg[:, :f] *= ramp
        out[:, start : start + f] *= 1.0 - ramp
        out[:, start : start + f] += seg[:, :f]
        out[:, start + f : start + n] = seg[:, f:]
    else:
        out[:, start : start + n] = seg


#: a piece of music to stretch: (start sample, wanted length, source audio, ratio, after a jump)
_Piece = tuple[int, int, np.ndarray, float, bool]


def _pieces(
    y: np.ndarray, beats: np.ndarray, plan_beats: np.ndarray, seq: list[int], breaks: list[int]
) -> list[_Piece]:
    """The music between consecutive anchor points, each with its stretch ratio."""
    xf = int(CROSSFADE_S * OUT_SR)
    pieces: list[_Piece] = []
    for k0, k1 in zip(breaks, breaks[1:]):
        j0, j1 = seq[k0], seq[k1 - 1] + 1  # music beats j0 .. j1 play over plan beats k0 .. k1
        s0, s1 = beats[j0], beats[min(j1, len(beats) - 1)]
        t0, t1 = plan_beats[k0], plan_beats[k1]
        src_len, dst_len = s1 - s0, t1 - t0
        if src_len <= 0 or dst_len <= 0:
            continue
        ratio = dst_len / src_len
        a = int(round(s0 * OUT_SR))
        b = int(round(s1 * OUT_SR)) + int(round(xf / ratio))  # a little more, for the crossfade
        want = int(round(t1 * OUT_SR)) - int(round(t0 * OUT_SR)) + xf
        jump = k0 > 0 and seq[k0] != seq[k0 - 1] + 1
        pieces.append((int(round(t0 * OUT_SR)), want, y[:, a : min(b, y.shape[1])], ratio, jump))
    return pieces


def _stretch_all(
    out: np.ndarray, pieces: list[_Piece], progress: ProgressFn | None, cancel: CancelToken | None
) -> None:
    """Each piece stretched to its length (Rubber Band) and placed in ``out``."""
    import pedalboard

    xf = int(CROSSFADE_S * OUT_SR)

    def stretch(piece: _Piece) -> np.ndarray:
        _, want, src, ratio, _ = piece
        check(cancel)
        out_audio = pedalboard.time_stretch(src, OUT_SR, stretch_factor=1.0 / ratio, high_quality=True)
        if out_audio.shape[1] < want:
            out_audio = np.pad(out_audio, ((0, 0), (0, want - out_audio.shape[1])))
        return out_audio[:, :want]

    # Rubber Band releases the GIL: pieces stretch on every core at once
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for n, (piece, stretched) in enumerate(zip(pieces, pool.map(stretch, pieces))):
            if n % 8 == 0:
                report(progress, 0.1 + 0.85 * n / max(1, len(pieces)), "stretching")
            start, _, _, _, jump = piece
            _place(out, stretched, start, int(BAR_CROSSFADE_S * OUT_SR) if jump else xf)
