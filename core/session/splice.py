"""Putting newly generated bars into a take, bit for bit everywhere else.

A take's WAV files are 24-bit PCM. They are read as integers, the new audio
is converted to the same integer steps only inside the regenerated range, and
the two are joined with equal-power crossfades (corrected for the two
takes' correlation, see :func:`_fade_gains`) that *end on* the range's bar
lines, so that every downbeat is played by one take only. Outside the range
and its lead-in crossfade the samples are copied, so the new file is
bit-identical there to the take it replaces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import fsutil, units
from ..io.audio import wav_file
from ..io.blockaudio import BLOCK, Audio, DiskAudio

SR = units.OUTPUT_SR
#: Length of each crossfade; it ends on the bar line.
XFADE_S = 0.05
_FULL = units.PCM_FULL  # soundfile's int32 scale (24-bit samples sit in the top 24 bits)


@dataclass(frozen=True)
class SpliceRange:
    """Where a new take differs from the one it replaces.

    Attributes
    ----------
    start_s, end_s : float
        The bar lines of the regenerated bars (``end_s`` None = to the end of
        the music, its tail included).
    fade_s : float
        The crossfade before each bar line.
    """

    start_s: float
    end_s: float | None
    fade_s: float = XFADE_S

    def samples(self, sr: int = SR) -> tuple[int, int, int | None]:
        """``(a0, a, b)``: the new take differs from sample ``a0`` (the lead-in
        crossfade starts), plays alone from ``a`` and has faded back by ``b``
        (None = to the end)."""
        a = units.samples(self.start_s, sr)
        a0 = max(0, a - max(1, units.samples(self.fade_s, sr)))
        b = None if self.end_s is None else units.samples(self.end_s, sr)
        return a0, a, b

    def frames(self, rate: float, sr: int = SR) -> tuple[int, int | None]:
        """The timeline frames ``[f0, f1)`` that hold every sample that differs
        (``f1`` None = to the end): where the music track is split."""
        a0, _, b = self.samples(sr)
        f0 = int(np.floor(a0 * rate / sr + 1e-9))
        f1 = None if b is None else int(np.ceil(b * rate / sr - 1e-9))
        return f0, f1


def read_pcm(path: str | os.PathLike[str]) -> np.ndarray:
    """A WAV file as int32 [shape=(n, channels)], exactly as stored."""
    import soundfile

    data, _ = soundfile.read(str(path), dtype="int32", always_2d=True)
    return np.asarray(data)


def splice(old: np.ndarray, new: np.ndarray, rng: SpliceRange, gain: float = 1.0, sr: int = SR) -> np.ndarray:
    """``old`` (int32, (n, ch)) with ``rng`` taken from ``new`` (float, (ch, n)).

    ``new`` is scaled by ``gain``. In ``[start - fade, start)`` the old take
    fades out and the new one in (cos/sin, equal power); in ``[end - fade, end)``
    the other way round.
    """
    n = old.shape[0]
    a0, a, b = _bounds(rng, n, sr)
    out = old.copy()
    out[a0:b] = _spliced(old[a0:b], _new_segment(new, a0, b, gain), a - a0, n - b, rng, sr)
    return out


def _bounds(rng: SpliceRange, n: int, sr: int) -> tuple[int, int, int]:
    """``rng``'s samples ``(a0, a, b)`` inside a take of ``n`` samples."""
    a0, a, b_ = rng.samples(sr)
    return min(a0, n), min(a, n), n if b_ is None else min(n, b_)


def _new_segment(new: Audio, a0: int, b: int, gain: float) -> np.ndarray:
    """Samples ``[a0, b)`` of ``new`` ((ch, n), in memory or on disk) as
    float64 (b - a0, ch) times ``gain``, silence past its end."""
    if isinstance(new, DiskAudio):
        seg = new.read(a0, b).astype(np.float64).T * gain
    else:
        seg = np.asarray(new, np.float64).T[a0:b] * gain
    if seg.shape[0] < b - a0:
        seg = np.pad(seg, ((0, b - a0 - seg.shape[0]), (0, 0)))
    return seg


def _spliced(old: np.ndarray, new: np.ndarray, k: int, after: int, rng: SpliceRange, sr: int) -> np.ndarray:
    """The spliced samples of a window ``[a0, b)``: ``old`` (int32) and ``new``
    (float64, scaled) of that window, the lead-in crossfade its first ``k``
    samples, and (when ``after`` samples of the take follow the window) the
    fade back over its last ones."""
    fade = max(1, units.samples(rng.fade_s, sr))
    oldf = old.astype(np.float64) / _FULL
    seg = new.copy()
    m = len(seg)
    if k > 0:  # old -> new, ending on the first bar line
        fo, fi = _fade_gains(oldf[:k], new[:k])
        seg[:k] = fo[:, None] * oldf[:k] + fi[:, None] * new[:k]
    if after > 0:  # new -> old, ending on the bar line after the range
        j = min(fade, m - k)
        fo, fi = _fade_gains(new[m - j : m], oldf[m - j : m])
        seg[m - j : m] = fo[:, None] * new[m - j : m] + fi[:, None] * oldf[m - j : m]
    return units.float_to_pcm(seg)


def wav_frames(path: str | os.PathLike[str]) -> int:
    """How many frames a WAV file holds (from its header)."""
    import soundfile

    return int(soundfile.info(str(path)).frames)


@dataclass(frozen=True)
class SplicedFile:
    """A take's file with ``rng`` taken from ``new``, made a block at a time
    (:meth:`write`): what :func:`splice` gives, for files too long to hold
    in memory. Only the range (a few bars) is in memory at once."""

    old: Path
    new: Audio
    rng: SpliceRange
    gain: float = 1.0

    def write(self, path: str | os.PathLike[str], sr: int = SR) -> Path:
        """Write the spliced take as a 24-bit WAV at ``path``, atomically:
        bit-identical to ``save_wav(path, splice(read_pcm(old), ...))``."""
        import soundfile

        def write(tmp: Path) -> None:
            with soundfile.SoundFile(str(self.old)) as src:
                n, ch = src.frames, src.channels
                a0, a, b = _bounds(self.rng, n, sr)
                with wav_file(tmp, ch, sr) as dst:
                    for lo, hi in ((0, a0), (a0, b), (b, n)):
                        src.seek(lo)
                        if (lo, hi) == (a0, b):
                            old = src.read(b - a0, dtype="int32", always_2d=True)
                            new = _new_segment(self.new, a0, b, self.gain)
                            dst.write(_spliced(old, new, a - a0, n - b, self.rng, sr))
                            continue
                        for start in range(lo, hi, BLOCK):
                            dst.write(src.read(min(BLOCK, hi - start), dtype="int32", always_2d=True))

        return fsutil.write_with(path, write)


def matching_gain_file(
    old_mix: str | os.PathLike[str], new_mix: Audio, rng: SpliceRange, sr: int = SR, ceiling_db: float = -1.0
) -> float:
    """:func:`matching_gain` with the old mix a WAV file and the new one in
    memory or on disk, read a block at a time."""
    import soundfile

    with soundfile.SoundFile(str(old_mix)) as src:
        n = src.frames
        a, _, b_ = rng.samples(sr)
        b = n if b_ is None else b_
        keep_n = n - max(0, min(b, n) - min(a, n))
        so = sn = 0.0
        for start in range(0, n, BLOCK):
            o = src.read(min(BLOCK, n - start), dtype="int32", always_2d=True).astype(np.float64) / _FULL
            m = _new_segment(new_mix, start, start + len(o), 1.0)
            keep = np.ones(len(o), bool)
            keep[max(0, a - start) : max(0, min(len(o), b - start))] = False
            so += float(np.sum(o[keep] ** 2))
            sn += float(np.sum(m[keep] ** 2))
    g = 1.0
    if keep_n >= sr // 2 and so > 0 and sn > 0:
        g = float(np.clip(np.sqrt(so / keep_n) / np.sqrt(sn / keep_n), 0.5, 2.0))
    b_new = new_mix.shape[1] if b_ is None else b_
    peak = 0.0
    for start in range(a, b_new, BLOCK):
        seg = _new_segment(new_mix, start, min(b_new, start + BLOCK), 1.0)
        peak = max(peak, float(np.abs(seg).max()) if seg.size else 0.0)
    peak *= g
    ceiling = 10 ** (ceiling_db / 20) * 0.98
    return g * min(1.0, ceiling / peak) if peak > 0 else g


def _fade_gains(out_part: np.ndarray, in_part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over a window (sin/cos shapes).

    Equal power (cos² + sin² = 1) is right for unrelated signals; two takes
    that play the same notes in the window (they usually do just before a
    bar line) would swell by up to 3 dB under it. So the gains are scaled by
    the signals' correlation ρ (clipped to [0, 1]) to keep the power of the
    sum constant: ``g_out² + g_in² + 2ρ g_out g_in = 1`` — equal power at
    ρ = 0, equal gain at ρ = 1.
    """
    k = len(out_part)
    w = (np.arange(k) + 0.5) / k * np.pi / 2
    c, s = np.cos(w), np.sin(w)
    den = float(np.sqrt(np.sum(out_part**2) * np.sum(in_part**2)))
    rho = float(np.clip(np.sum(out_part * in_part) / den, 0.0, 1.0)) if den > 0 else 0.0
    norm = 1.0 / np.sqrt(c**2 + s**2 + 2 * rho * c * s)
    return c * norm, s * norm


def matching_gain(
    old_mix: np.ndarray, new_mix: np.ndarray, rng: SpliceRange, sr: int = SR, ceiling_db: float = -1.0
) -> float:
    """The gain that brings ``new_mix`` (float (ch, n)) to the level of
    ``old_mix`` (int32 (n, ch)) where both play the same bars (outside the
    range): each render is normalised on its own, so loudness can differ
    by a fraction of a dB. Lowered if the range would then peak over
    ``ceiling_db``."""
    g = _level_ratio(old_mix, new_mix, rng, sr)
    a, _, b_ = rng.samples(sr)
    b = new_mix.shape[1] if b_ is None else b_
    peak = float(np.abs(new_mix[:, a:b]).max()) * g if b > a else 0.0
    ceiling = 10 ** (ceiling_db / 20) * 0.98
    return g * min(1.0, ceiling / peak) if peak > 0 else g


def _level_ratio(old_mix: np.ndarray, new_mix: np.ndarray, rng: SpliceRange, sr: int) -> float:
    n = old_mix.shape[0]
    keep = np.ones(n, bool)
    a, _, b_ = rng.samples(sr)
    keep[a : n if b_ is None else b_] = False
    if keep.sum() < sr // 2:
        return 1.0
    o = old_mix[keep].astype(np.float64) / _FULL
    m = np.asarray(new_mix, np.float64).T[:n]
    m = np.pad(m, ((0, n - m.shape[0]), (0, 0)))[keep]
    ro, rn = float(np.sqrt(np.mean(o**2))), float(np.sqrt(np.mean(m**2)))
    if ro <= 0 or rn <= 0:
        return 1.0
    return float(np.clip(ro / rn, 0.5, 2.0))
