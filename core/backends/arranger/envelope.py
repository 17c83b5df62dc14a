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
        """The linear gain (float32) on samples ``[a, b)``."""
        m = max(0, b - a)
        if len(self.times_s) == 0:
            return np.ones(m, np.float32)
        t = (a + np.arange(m, dtype=np.float64)) / self.sr
        return np.power(10.0, np.interp(t, self.times_s, self.db) / 20.0).astype(np.float32)


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
