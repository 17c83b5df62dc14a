"""Rendering: the score through a SoundFont, effects, and one mix bus.

Each part is rendered alone with tinysoundfont (General MIDI SoundFont that
pretty_midi ships, or the user's SF2/SF3) at 48 kHz, gets its own effects
(pedalboard reverb on pad, harmony and lead; a compressor on drums), and
then the bus: one gain for the loudness target (-14 LUFS, pyloudnorm) and a
smooth limiter gain that keeps the true peak (4x oversampled) under -1 dBFS.
Both gains are applied to every stem, so the stems sum to the mix exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import OptionError
from .compose import PARTS, Note, Score
from .styles import Style

SR = 48000
TARGET_LUFS = -14.0
CEILING_DBTP = -1.0


def default_soundfont() -> str:
    import pretty_midi

    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


def _program(style: Style, part: str) -> tuple[int, bool]:
    if part == "drums":
        return int(style.drums or 0), True
    return int(getattr(style, part)), False


def render_part(notes: list[Note], program: int, drums: bool, n: int, soundfont: str) -> np.ndarray:
    """(2, n) float32 of ``notes`` played by one GM program (bank 128 for drums)."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SR)
    try:
        sfid = synth.sfload(soundfont)
    except Exception as e:
        raise OptionError(f"{soundfont}: not a readable SoundFont ({e}); give an SF2/SF3 file.") from e
    try:
        synth.program_select(0, sfid, 128 if drums else 0, program, is_drums=drums)
    except Exception:
        synth.program_select(0, sfid, 128 if drums else 0, 0, is_drums=drums)  # the font lacks it
    events = []
    for note in notes:
        events.append((int(note.start * SR), 1, note.pitch, note.velocity))
        events.append((int(note.end * SR), 0, note.pitch, 0))
    events.sort()
    out = np.zeros((n, 2), np.float32)
    pos = 0
    for when, on, pitch, vel in events:
        when = min(when, n)
        if when > pos:
            out[pos:when] = np.frombuffer(synth.generate(when - pos), dtype=np.float32).reshape(-1, 2)
            pos = when
        if on:
            synth.noteon(0, pitch, vel)
        else:
            synth.noteoff(0, pitch)
    if pos < n:
        out[pos:n] = np.frombuffer(synth.generate(n - pos), dtype=np.float32).reshape(-1, 2)
    return out.T.copy()


def _effects(part: str, audio: np.ndarray) -> np.ndarray:
    import pedalboard

    if part in ("pad", "harmony", "lead"):
        board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=0.6, wet_level=0.22, dry_level=0.8)])
    elif part == "drums":
        board = pedalboard.Pedalboard(
            [pedalboard.Compressor(threshold_db=-14, ratio=3, attack_ms=5, release_ms=80)]
        )
    else:
        return audio
    return board(audio, SR).astype(np.float32)


def _true_peak_envelope(mix: np.ndarray) -> np.ndarray:
    """Per-sample peak of the 4x oversampled signal (max over channels), shape (n,)."""
    from scipy.signal import resample_poly

    up = resample_poly(mix, 4, 1, axis=1)
    peak = np.abs(up).max(axis=0)
    return peak.reshape(-1, 4).max(axis=1)[: mix.shape[1]]


def bus_gain(mix: np.ndarray) -> tuple[np.ndarray, float]:
    """Gain per sample (n,) for the loudness target and the true-peak ceiling,
    and the loudness (LUFS) the mix had before."""
    import pyloudnorm
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    meter = pyloudnorm.Meter(SR)
    loud = float(meter.integrated_loudness(mix.T)) if mix.shape[1] > SR // 2 else -70.0
    if not np.isfinite(loud):
        loud = -70.0
    g0 = 10 ** ((TARGET_LUFS - loud) / 20)
    ceiling = 10 ** (CEILING_DBTP / 20) * 0.98
    gain = np.full(mix.shape[1], g0, np.float64)
    win = int(0.010 * SR)
    for _ in range(4):  # look-ahead limiter: smooth gain, checked until it holds
        peak = _true_peak_envelope(mix * gain[None, :].astype(np.float32))
        need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
        if need.min() >= 0.999:
            break
        need = minimum_filter1d(need, size=4 * win)
        need = np.minimum(need, uniform_filter1d(need, size=win))
        gain *= need
    return gain.astype(np.float32), loud


def render(
    score: Score, style: Style, duration_s: float, soundfont: str | None = None
) -> dict[str, np.ndarray]:
    """Stems (2, n) float32 at 48 kHz, all the same length, already through the bus."""
    sf = soundfont or default_soundfont()
    if not Path(sf).is_file():
        raise OptionError(f"{sf}: SoundFont not found; give an SF2/SF3 file with --soundfont.")
    n = int(round(duration_s * SR))
    stems = {}
    for part in PARTS:
        program, drums = _program(style, part)
        if drums and style.drums is None:
            stems[part] = np.zeros((2, n), np.float32)
            continue
        stems[part] = _effects(part, render_part(score.parts[part], program, drums, n, sf))[:, :n]
    mix = np.sum(list(stems.values()), axis=0)
    gain, _ = bus_gain(mix)
    return {k: (v * gain[None, :]).astype(np.float32) for k, v in stems.items()}


def to_midi(score: Score, style: Style) -> object:
    """The score as a pretty_midi.PrettyMIDI (one instrument per part)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    for part in PARTS:
        program, drums = _program(style, part)
        inst = pretty_midi.Instrument(program=program, is_drum=drums, name=part)
        inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in score.parts[part]]
        pm.instruments.append(inst)
    return pm
