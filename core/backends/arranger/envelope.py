"""The form's level envelope: the music's loudness follows the picture.

The form (:mod:`.form`) gives every beat an energy (0..1, normalised per
video: ``Form.levels``) and every bar one; the bars' change the velocities
and what plays, but the stems' calibration
(:mod:`.mixing`), the bus compressor and the loudness normalisation
(:mod:`.master`) flatten most of that again. This module turns the bars'
beats' energies into one smooth gain per sample, applied to EVERY stem alike before
the bus (:meth:`.mixing.StemGains.apply`), so the stems still sum to the mix
and the bus's loudness target still holds for the whole cue.

A step (a beat, or a bar) of energy ``e`` sits ``range_db * (e - 1)`` dB
from the busiest (``MixSpec.energy_db``: 0 dB at energy 1, ``-range_db`` at
energy 0). Between two steps the gain ramps (linearly in dB) over
:data:`RAMP_S` (at most half the shorter step): a rise ends on the step's
start (a drop lands on its downbeat), a fall starts on it. No steps, no state: a block ``[a, b)`` of samples is
computed from the knots alone (``render_long``'s bounded memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Seconds a change of level between two bars takes.
RAMP_S = 0.75


@dataclass(frozen=True)
class LevelEnvelope:
    """Knots (seconds, dB) of a piecewise-linear gain in dB; flat before the first and after the last."""

    times_s: np.ndarray
    db: np.ndarray
    sr: int

    def gain(self, a: int, b: int) -> np.ndarray:
        """The linear gain (float32) on samples ``[a, b)``: ``10 ** (dB / 20)``
        of the knots' interpolation (``np.interp``) at each sample's time.
        Where two neighbouring knots (or the ends) hold the same level, that
        is one number, computed once; only the ramps are interpolated sample
        by sample. The same numbers either way."""
        m = max(0, b - a)
        if len(self.times_s) == 0:
            return np.ones(m, np.float32)
        t = (a + np.arange(m, dtype=np.float64)) / self.sr
        out = np.empty(m, np.float32)
        times, db = self.times_s, self.db
        # the samples before knot j: [0, cut[j]); segment j + 1 runs from knot j to knot j + 1
        cut = np.searchsorted(t, times, side="left").tolist()
        edges = [0, *cut, m]
        levels = [db[0], *(db[j] if db[j] == db[j + 1] else None for j in range(len(db) - 1)), db[-1]]
        for lo, hi, level in zip(edges[:-1], edges[1:], levels, strict=True):
            if hi <= lo:
                continue
            if level is None:  # a ramp
                out[lo:hi] = np.power(10.0, np.interp(t[lo:hi], times, db) / 20.0)
            else:  # np.interp gives the knots' level itself on every sample past the first
                out[lo:hi] = np.power(10.0, np.full(1, level) / 20.0)[0]
                out[lo] = np.power(10.0, np.interp(t[lo : lo + 1], times, db) / 20.0)[0]
        return out


def level_envelope(bars: Sequence[tuple[float, float]], range_db: float, sr: int) -> LevelEnvelope | None:
    """The envelope of ``bars`` (steps: (start s, energy 0..1) in time order, a
    step ending where the next starts: the form's beats, or bars); None without
    steps or range."""
    if not bars or range_db <= 0:
        return None
    starts = np.array([s for s, _ in bars], np.float64)
    g = range_db * (np.clip(np.array([e for _, e in bars], np.float64), 0.0, 1.0) - 1.0)
    lengths = np.diff(starts)
    times, db = [starts[0]], [g[0]]
    for i in range(1, len(starts)):
        if g[i] == g[i - 1]:
            continue
        r = min(RAMP_S, 0.5 * lengths[i - 1], 0.5 * lengths[i] if i < len(lengths) else RAMP_S)
        t = starts[i]
        times += [t - r, t] if g[i] > g[i - 1] else [t, t + r]
        db += [g[i - 1], g[i]]
    return LevelEnvelope(np.array(times), np.array(db), sr)
