"""Attack compensation: each note sounds where the score puts it.

A SoundFont's samples take time to speak: a bass patch reaches half its
level some 13 ms after its note-on, a flute or a string section 30-100 ms,
a hi-hat under a millisecond. Played as written, a chord and a bass note on
a cut are heard after it, and behind the drums. Producers move such tracks
earlier by their attack ("negative track delay"); this module does it per
instrument and pitch, measured on the font the render uses: the time from
the note-on to the moment a lone note (velocity 100) first reaches half its
peak within :data:`WINDOW_S`, at most :data:`MAX_LEAD_S` (a slow swell is
not a rhythmic onset, and no note may start long before its beat).

Only the rendering plays the moved notes (:func:`played`); the score, its
MIDI file, the form's hits and every record keep the written times. The
measure is a pure function of the font file, the program and the pitch,
remembered per process, so a take renders the same samples every time.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from .compose import Note, Score
from .styles import Style

#: the longest compensation (s): a note never starts more than this before its place
MAX_LEAD_S = 0.04
#: the stretch of a lone note in which its peak is looked for (s)
WINDOW_S = 0.1
#: the share of the peak that counts as the note's onset
ONSET_SHARE = 0.5
VELOCITY = 100

_lock = threading.Lock()
_leads: dict[tuple[object, ...], float] = {}


def lead_s(soundfont: str, program: int, drums: bool, pitch: int) -> float:
    """How much earlier (s, 0..:data:`MAX_LEAD_S`) a note of ``pitch`` on GM
    ``program`` (drum kit ``program`` when ``drums``) must start for its onset
    to fall on its place, on ``soundfont``."""
    from .soundfont import _key

    key = (_key(soundfont), int(program), bool(drums), int(pitch))
    with _lock:
        known = _leads.get(key)
    if known is None:
        known = onset_s(_lone_note(soundfont, program, drums, pitch))
        with _lock:
            _leads[key] = known
    return known


def onset_s(audio: np.ndarray, sr: int | None = None) -> float:
    """The onset (s, capped at :data:`MAX_LEAD_S`) of a lone note ``audio``
    ((n, 2) or (2, n) or (n,), its note-on at sample 0): the first time its
    1-ms envelope reaches :data:`ONSET_SHARE` of its peak within :data:`WINDOW_S`."""
    from .synth import SR

    rate = int(sr or SR)
    x = np.asarray(audio, np.float64)
    if x.ndim == 2:
        x = np.abs(x).max(axis=0 if x.shape[0] == 2 and x.shape[1] != 2 else 1)
    x = np.abs(x[: int(WINDOW_S * rate)])
    w = max(1, rate // 1000)
    env = np.sqrt(np.convolve(x * x, np.ones(w) / w, "full")[: len(x)])
    if not len(env) or env.max() <= 0:
        return 0.0
    first = int(np.argmax(env >= ONSET_SHARE * env.max()))
    return float(min(MAX_LEAD_S, max(0.0, (first - (w - 1) / 2) / rate)))


def _lone_note(soundfont: str, program: int, drums: bool, pitch: int) -> np.ndarray:
    """(n, 2) float32: one note of ``pitch`` on a fresh synthesiser, :data:`WINDOW_S` long."""
    from .soundfont import borrow, synth_on
    from .synth import SR

    n = int(WINDOW_S * SR)
    buf = np.zeros((n, 2), np.float32)
    with borrow(soundfont) as font:
        synth, sfid = synth_on(font)
        try:
            synth.program_select(0, sfid, 128 if drums else 0, program, is_drums=drums)
        except Exception:
            synth.program_select(0, sfid, 128 if drums else 0, 0, is_drums=drums)  # the font lacks it
        synth.noteon(0, pitch, VELOCITY)
        synth.generate(n, buffer=buf.data.cast("B"))
    return buf


def played(score: Score, style: Style, soundfont: str) -> Score:
    """``score`` as the synthesiser plays it on ``soundfont``: every note
    (its note-off too) earlier by :func:`lead_s` of its instrument and pitch,
    never before 0. The score itself is left as it is."""
    from ...io.guard import check_soundfont
    from .synth import _program

    check_soundfont(soundfont)  # a damaged font crashes the loader: a clear message first
    parts: dict[str, list[Note]] = {}
    for part, notes in score.parts.items():
        program, drums = _program(style, part)
        moved = []
        for n in notes:
            lead = lead_s(soundfont, n.program if n.program >= 0 and not drums else program, drums, n.pitch)
            start = max(0.0, n.start - lead)
            moved.append(replace(n, start=start, end=max(start, n.end - lead)) if lead > 0 else n)
        parts[part] = moved
    return replace(score, parts=parts)


def clear() -> None:
    """Forget the measured leads (a test that swaps fonts under one name)."""
    with _lock:
        _leads.clear()
