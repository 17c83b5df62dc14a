"""Synthesis: each part of the score through a SoundFont.

Each part is rendered alone with tinysoundfont (the General MIDI SoundFont
:mod:`.soundfont` finds, decoded once per process, each part on a clone of
it) at 48 kHz, in one piece (:func:`_synth`) or a block at a time
(:func:`_synth_blocks`, the same samples), with the kick drum tuned to the
key's tonic. The channel strips that follow are :mod:`.mixing`'s, the mix
bus :mod:`.master`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ... import units
from ...errors import OptionError
from .compose import EXPRESSION, Note, Score
from .styles import Style

SR = units.OUTPUT_SR
KICK_NOTE, KICKS = 36, (35, 36)  # GM bass drums


def default_soundfont() -> str:
    """The font a render uses when the user names none: the search's (:func:`.soundfont.find`)."""
    from .soundfont import find

    return find().path


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
    if n == 0:
        return np.empty((0, 2), np.float32)
    return next(_synth_blocks(notes, program, drums, n, soundfont, controls, tonic))


def _synth_setup(
    notes: list[Note],
    program: int,
    drums: bool,
    font: Any,
    controls: list[tuple[float, int, int]] | None,
    tonic: int | None,
) -> tuple[Any, list[tuple[int, int, int, int, int]]]:
    """A synthesiser on the loaded ``font`` with the part's programs selected
    (the kick tuned), and its events in time order: (sample, kind: 0 off,
    1 on, 2 control, channel, pitch or controller, velocity or value)."""
    from .soundfont import synth_on

    synth, sfid = synth_on(font)
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
    return synth, events


def _synth_blocks(
    notes: list[Note],
    program: int,
    drums: bool,
    n: int,
    soundfont: str,
    controls: list[tuple[float, int, int]] | None = None,
    tonic: int | None = None,
    block: int | None = None,
) -> Iterator[np.ndarray]:
    """:func:`_synth` a block of ``block`` frames at a time: (m, 2) float32
    arrays for consecutive blocks (one block of ``n`` when ``block`` is None,
    which is :func:`_synth`'s output exactly). The synthesiser is fed its
    events in order and renders up to each one, or up to the block's end; a
    block is a fresh array (the caller keeps it or lets it go). The part
    plays a clone of the process's decoded font (:func:`.soundfont.take`:
    decoded once, shared by every part), given back when the part is done
    (or the generator is closed)."""
    from ...io.guard import check_soundfont
    from .soundfont import give, take

    check_soundfont(soundfont)  # structure first: a damaged font crashes the loader (remembered per file)
    try:
        font = take(soundfont)
    except Exception as e:
        raise OptionError(f"{soundfont}: not a readable SoundFont ({e}); give an SF2/SF3 file.") from e
    try:
        yield from _play(*_synth_setup(notes, program, drums, font, controls, tonic), n, block)
    finally:
        give(font)


def _play(
    synth: Any, events: list[tuple[int, int, int, int, int]], n: int, block: int | None
) -> Iterator[np.ndarray]:
    """:func:`_synth_blocks` once the synthesiser is set up."""
    size = n if block is None else max(1, int(block))
    ev = iter(events)
    pending = next(ev, None)
    # tinysoundfont renders a call in 64-sample steps from the call's first
    # sample (its envelopes and filters update per step): a block boundary
    # between two events must not restart those steps, so each block is
    # rendered on to the next step boundary of the run that began at the last
    # event, and the overshoot (under 64 samples) begins the next block
    step = 64
    start, pos, run = 0, 0, 0  # the block's first sample; rendered up to; the current run's first sample
    buf = np.empty((size + step, 2), np.float32)

    def play(kind: int, chan: int, a: int, b: int) -> None:
        if kind == 1:
            synth.noteon(chan, a, b)
        elif kind == 0:
            synth.noteoff(chan, a)
        else:
            synth.control_change(chan, a, b)

    while start < n:
        stop = min(n, start + size)
        while pending is not None and min(pending[0], n) < stop:
            when, kind, chan, a, b = pending
            when = min(when, n)
            if when > pos:
                synth.generate(when - pos, buffer=buf[pos - start : when - start].data.cast("B"))
                pos = when
            run = pos
            play(kind, chan, a, b)
            pending = next(ev, None)
        if pos < stop:
            target = run + -(-(stop - run) // step) * step
            target = min(target, n if pending is None else max(stop, min(pending[0], n)))
            synth.generate(target - pos, buffer=buf[pos - start : target - start].data.cast("B"))
            pos = target
        yield buf[: stop - start].copy() if block is not None else buf[: stop - start]
        over = pos - stop
        if over:
            buf[:over] = buf[stop - start : pos - start]
        if block is None:
            break
        start = stop


def _controls(score: Score) -> list[tuple[float, int, int]]:
    """The pitched parts' control changes: the final chord's diminuendo."""
    return [(t, EXPRESSION, v) for t, v in score.expression]
