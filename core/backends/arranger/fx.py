"""Sounds General MIDI lacks, synthesised with numpy: the low boom of an
impact and the riser into it (:class:`.form.Fx` events).

- **boom**: a sine sweeping down from :data:`BOOM_HZ` (60 -> 30 Hz,
  exponentially), a 4 ms attack and an exponential decay reaching -60 dB at
  the event's end (1.6 s), lightly saturated so that its second harmonic
  carries it on small speakers;
- **riser**: noise through a band-pass whose centre rises exponentially from
  :data:`RISER_HZ` (250 Hz to 7 kHz; short-time FFT filtering) under a
  sine an octave-and-a-fifth sweep, swelling from -30 dB to full and ending
  exactly on the cut: its last sample is the one before the cut's (a 3 ms
  fade, so no click), nothing after it.

Each event is synthesised whole from its own fields (its noise from
``(seed, start in ms)``), so any block of samples can be rendered on its own
(:func:`add_fx`): ``render_long`` adds each block's share, the samples are
those of the whole-signal render. The events are short (seconds), so the
memory is bounded whatever the cue's length.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ... import units
from .form import Fx

SR = units.OUTPUT_SR
BOOM_HZ = (60.0, 30.0)
RISER_HZ = (250.0, 7000.0)
BOOM_PEAK, RISER_PEAK = 0.45, 0.12  # linear peak at gain 1, as the drums stem's level


def add_fx(audio: np.ndarray, events: list[Fx] | tuple[Fx, ...], start: int = 0) -> np.ndarray:
    """Add ``events`` into ``audio`` (2, m) float32, whose first sample is
    sample ``start`` of the cue (in place; returned)."""
    m = audio.shape[1]
    for ev in events:
        a, b = int(round(ev.start * SR)), int(round(ev.end * SR))
        lo, hi = max(a, start), min(b, start + m)
        if hi <= lo:
            continue
        sound = _event(ev.kind, a, b, ev.gain, ev.seed)
        audio[:, lo - start : hi - start] += sound[:, lo - a : hi - a]
    return audio


@lru_cache(maxsize=8)
def _event(kind: str, a: int, b: int, gain: float, seed: int) -> np.ndarray:
    n = max(0, b - a)
    if kind == "boom":
        out = boom(n, gain)
    elif kind == "riser":
        out = riser(n, gain, np.random.default_rng([int(seed) & 0xFFFFFFFF, a // (SR // 1000)]))
    else:
        raise ValueError(f"unknown fx {kind!r}")
    out.setflags(write=False)
    return out


def boom(n: int, gain: float = 1.0) -> np.ndarray:
    """(2, n) float32: the sub drop (see the module docstring)."""
    t = np.arange(n) / SR
    dur = max(n / SR, 1e-3)
    f0, f1 = BOOM_HZ
    freq = f1 + (f0 - f1) * np.exp(-t / (0.18 * dur))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    env = np.exp(-t * np.log(1000.0) / dur) * np.minimum(1.0, t / 0.004)
    x = np.tanh(1.6 * np.sin(phase)) / np.tanh(1.6) * env
    mono = (BOOM_PEAK * gain * x).astype(np.float32)
    return np.stack([mono, mono])


def riser(n: int, gain: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """(2, n) float32: the noise riser (see the module docstring), ending at sample n."""
    rng = rng or np.random.default_rng(0)
    if n == 0:
        return np.zeros((2, 0), np.float32)
    frame, hop = 2048, 512
    pad = frame
    total = n + 2 * pad
    noise = rng.standard_normal((2, total))
    noise[1] = 0.8 * noise[0] + 0.6 * noise[1]  # mostly centred, a little wide
    window = np.hanning(frame)
    freqs = np.fft.rfftfreq(frame, 1 / SR)
    out = np.zeros((2, total))
    norm = np.zeros(total)
    lo, hi = RISER_HZ
    for s in range(0, total - frame + 1, hop):
        frac = float(np.clip((s + frame / 2 - pad) / n, 0.0, 1.0))
        centre = lo * (hi / lo) ** (frac**1.5)
        band = np.exp(-0.5 * (np.log2(np.maximum(freqs, 1.0) / centre) / 0.5) ** 2)
        spec = np.fft.rfft(noise[:, s : s + frame] * window, axis=1) * band
        out[:, s : s + frame] += np.fft.irfft(spec, frame, axis=1) * window
        norm[s : s + frame] += window**2
    out = out[:, pad : pad + n] / np.maximum(norm[pad : pad + n], 1e-3)
    out /= max(float(np.max(np.abs(out))), 1e-9)
    t = np.arange(n) / n
    sweep = np.sin(2 * np.pi * np.cumsum(220.0 * 3.0**t) / SR)  # 220 -> 660 Hz under the noise
    env = 10 ** ((-30.0 + 30.0 * t**2) / 20)
    k = min(n, int(0.003 * SR))
    if k > 1:
        env[n - k :] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k))
    x = (0.85 * out + 0.25 * sweep[None, :]) * env[None, :]
    return (RISER_PEAK * gain * x).astype(np.float32)
