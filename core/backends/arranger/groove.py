"""Groove: how the drums (and the band) play the plan's grid.

Two steps per bar, both hooked into :func:`.compose.compose`:

- :func:`drums` writes the drum part on the grid: the style's patterns with
  a velocity map per instrument (``Style.groove.*_accent``), snare ghost notes
  (velocity 20-40), open hats on the last off-beat, the ride in B sections and
  intense bars (rock, cinematic), a percussion part (tambourine, shaker, clap),
  fills at phrase ends and section changes (tom runs, snare rolls, pickups),
  and, as before, the soft pulse of calm bars, the drop before big cuts, the
  fill into strong cuts and the crash on cut downbeats.
- :func:`perform` moves the bar's onsets off the grid: swing (the off-beat of
  each pair of eighths or sixteenths at ``swing`` of the pair; under 80 BPM
  the sixteenths, whatever the style says), each
  instrument's place against the beat (snare laid back, bass a touch behind)
  and a seeded random jitter (``jitter_ms`` for the drums, half for the
  pitched parts). Notes on a hard cut (the downbeat hit, the crash, the chord
  and bass struck with it) are never moved: the cut's accent stays on its
  frame; only the time-keepers (hats, ride, percussion, ghost notes) swing on. No onset leaves its bar, and a
  note on the bar's downbeat only moves later, so a bar's notes stay inside
  the bar (regeneration splices bars).

Every random choice comes from the bar's own generator: two streams derived
from its seed (:func:`bar_stream`), so a bar's groove depends only on (seed,
bar) and does not shift the draws of the bar's other parts. Timing and
velocity live in the score's notes, so the MIDI file carries the same
performance as the audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...styles import Groove

if TYPE_CHECKING:
    from .compose import Note, Score, _Bar, _Song

Hit = Callable[..., None]

# General MIDI percussion keys
KICK, SNARE, HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 46, 49, 51
TOMS = (50, 48, 47, 45, 43, 41)  # high to low
GHOST_VELOCITY = (20, 40)
GHOST_LEVEL = 0.45  # calmer bars have no ghost notes
VELOCITY_SD = 4.0  # a drummer's hit-to-hit velocity spread (MIDI steps)
PITCHED_JITTER = 0.5  # the pitched parts' jitter, as a share of the drums'
PERFORMED = ("drums", "bass", "harmony", "lead")  # the pad is held, not played
PIN_S = 1.5e-3  # a note this close to a hard cut's grid point is the cut's accent
#: Spawn keys of the bar's two groove streams (drum choices, timing).
DRUM_STREAM, TIMING_STREAM = 0x6772, 0x7469
BIG_FILL_BARS = 8  # the fill that ends an 8-bar phrase (and a section) takes two beats


def bar_stream(rng: np.random.Generator, key: int) -> np.random.Generator:
    """A generator derived from the bar's own generator's seed (not its state):
    the same for the same (seed, bar), independent of the draws the bar's
    other parts make."""
    seq = rng.bit_generator.seed_seq
    entropy = getattr(seq, "entropy", None)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(key,)))


def accent(curve: str, step: int) -> float:
    """The velocity factor of 16-step ``curve`` at ``step``: digit d -> (d + 1) / 10."""
    return (int(curve[step % 16]) + 1) / 10.0


def swing_time(t: float, beat0: float, beat1: float, swing: float, unit: int = 8) -> float:
    """``t`` (s) inside the beat ``[beat0, beat1)`` with the beat's pairs swung.

    ``unit`` 8: the beat is one pair of eighths and the off-beat eighth moves
    from half the beat to ``swing`` of it; 16: each eighth is a pair of
    sixteenths. The warp is piecewise linear, so the pairs' starts stay and
    every point in between moves with them (``swing=0.6``: the off-beat eighth
    at 60% of the beat after the beat).
    """
    length = beat1 - beat0
    if length <= 0 or swing == 0.5:
        return t
    pair = length if unit == 8 else length / 2
    u = (t - beat0) % pair / pair
    base = t - u * pair
    w = u * 2 * swing if u <= 0.5 else swing + (u - 0.5) * 2 * (1 - swing)
    return base + w * pair


def phrase(song: _Song, bar: _Bar) -> tuple[int, bool]:
    """(the bar's number in its section from 0, whether the next bar starts a new section)."""
    secs = song.plan.sections
    if not secs:
        return bar.index, False
    nxt = bar.sec_i + 1
    return bar.index - secs[bar.sec_i].start_bar, nxt < len(secs) and secs[nxt].start_bar == bar.index + 1


def cut_points(song: _Song, t0: float, t1: float) -> list[float]:
    """The grid points of the hard cuts in ``[t0, t1]`` (s; a cut the plan missed: its own
    time): where the accents stay."""
    points = [a.time_s - (a.offset_s if a.on != "missed" else 0.0) for a in song.plan.anchors if a.hard]
    return [p for p in points if t0 - PIN_S <= p <= t1 + PIN_S]


def drums(score: Score, song: _Song, bar: _Bar) -> None:
    """The bar's drum part on the grid (see the module's docstring)."""
    style = song.style
    if style.drums is None:
        return
    g, vel, rng = style.groove, bar.vel, bar_stream(bar.rng, DRUM_STREAM)

    def hit(t: float, dur: float, pitch: int, v: float, vary: bool = True) -> None:
        score.add("drums", t, t + dur, pitch, v + (rng.normal(0, VELOCITY_SD) if vary else 0.0))

    if bar.level <= 0.3:  # calm: a soft pulse keeps the beat
        for b, s0 in enumerate(bar.beats):
            hit(s0, 0.05, HAT, vel * 0.45)
            if b == 0:
                hit(s0, 0.1, KICK, vel * 0.8)
        if bar.hit:
            hit(bar.t0, 1.0, CRASH, min(127, vel + 20), vary=False)
        return
    sub, spb, level = song.sub, song.steps_per_bar, bar.level
    in_sec, section_change = phrase(song, bar)
    drop_last_beat = bar.big_next and bar.inten > 0.2 and rng.random() < 0.5
    cut_fill = bar.next_cut is not None and not drop_last_beat
    phrase_end = (in_sec + 1) % g.fill_every == 0
    big = section_change or (in_sec + 1) % BIG_FILL_BARS == 0
    fill = (
        g.fill
        if (phrase_end or section_change) and not (cut_fill or drop_last_beat or bar.cadence)
        else "none"
    )
    fill_from = spb - (2 * sub if big and fill in ("toms", "roll") else sub)
    ride = g.ride and (bar.b_section or level > 0.8)
    open_step = spb - sub // 2 if sub % 2 == 0 else -1
    open_hat = g.open_hat > 0 and (fill != "none" or section_change or rng.random() < g.open_hat)
    pickup = _pickup(rng, spb, sub) if fill == "pickup" else set()
    ghost_steps = _ghost_steps(style.snare) if sub % 4 == 0 else [False] * 16
    for k, s0 in enumerate(bar.grid):
        step = (k * 16 // spb) % 16 if spb != 16 else k
        in_last_beat = k >= spb - sub
        if drop_last_beat and in_last_beat:
            continue
        if bar.cadence and k >= spb - max(1, sub // 2):
            continue  # a breath of half a beat before the final strike
        s1 = bar.grid[k + 1] if k + 1 < len(bar.grid) else bar.t1
        busy = fill in ("toms", "roll") and k >= fill_from  # both hands on the fill
        if style.kick[step] == "x" or (level > 0.75 and k % (2 * sub) == sub and rng.random() < 0.3):
            hit(s0, 0.1, KICK, vel * accent(g.kick_accent, step) + 10)
        if cut_fill and in_last_beat:  # the fill into a strong cut
            hit(s0, 0.08, SNARE if k % 2 == 0 else TOMS[0], vel * (0.8 + 0.1 * (k % sub)))
        elif busy:
            _fill_note(hit, rng, fill, s0, s1, (k - fill_from) / max(1, spb - fill_from), vel)
        elif style.snare[step] == "x" or k in pickup:
            hit(s0, 0.1, SNARE, vel * accent(g.snare_accent, step) * (0.8 if k in pickup else 1.0))
        elif ghost_steps[step] and level > GHOST_LEVEL and rng.random() < g.ghosts * level:
            lo, hi = GHOST_VELOCITY
            score.add("drums", s0, s0 + 0.05, SNARE, lo + (hi - lo) * (0.3 * level + 0.7 * rng.random()))
        hat_on = style.hats[step] == "x" or (level > 0.8 and step % 2 == 1)
        hat_on = hat_on and (not song.slow or k % sub == 0) and level > 0.4 and not busy
        is_open = open_hat and k == open_step and not busy
        if hat_on or is_open:
            pitch = OPEN_HAT if is_open else RIDE if ride else HAT
            hit(s0, (s1 - s0) * 0.9 if is_open else 0.05, pitch, vel * 0.6 * accent(g.hats_accent, step))
        if g.perc and g.perc_steps[step] == "x" and level > 0.5 and (not song.slow or k % sub == 0):
            hit(s0, 0.05, g.perc, vel * 0.45 * accent(g.hats_accent, step))
    if bar.hit:
        hit(bar.t0, 1.0, CRASH, min(127, vel + 25), vary=False)
    elif in_sec == 0 and bar.sec_i > 0 and not cut_points(song, bar.t0, bar.t0):
        hit(bar.t0, 1.0, CRASH, min(127, vel + 10))  # the crash that ends the fill into a section


def _ghost_steps(snare: str) -> list[bool]:
    """The 16 steps where a ghost note may fall: a sixteenth before or after a
    backbeat (the snare pattern's hits), not on one."""
    hits = [c == "x" for c in snare]
    return [not hits[i] and (hits[(i - 1) % 16] or hits[(i + 1) % 16]) for i in range(16)]


def _pickup(rng: np.random.Generator, spb: int, sub: int) -> set[int]:
    """The grid steps of a simple snare pickup into the next bar (one of three figures)."""
    if sub < 4:
        return {spb - 1}
    figures = ({spb - 2, spb - 1}, {spb - 3, spb - 1}, {spb - 4, spb - 2, spb - 1})
    return figures[int(rng.integers(len(figures)))]


def _fill_note(
    hit: Hit, rng: np.random.Generator, kind: str, s0: float, s1: float, pos: float, vel: float
) -> None:
    """One grid step of a fill at ``pos`` (0..1 through it): a tom run down the kit
    or a snare roll, both rising in velocity."""
    if kind == "toms":
        if pos > 0 and rng.random() < 0.15:
            return  # a rest in the run
        drum = TOMS[min(len(TOMS) - 1, int(pos * len(TOMS)))] if pos > 0 or rng.random() < 0.6 else SNARE
        hit(s0, 0.12, drum, vel * (0.75 + 0.3 * pos))
    else:  # roll: a build on the snare, in sixteenths
        hit(s0, 0.05, SNARE, vel * (0.45 + 0.6 * pos))


def perform(score: Score, song: _Song, bar: _Bar, marks: dict[str, int]) -> None:
    """Swing, per-instrument offsets and jitter on the notes the bar added to
    :data:`PERFORMED` parts (those after ``marks[part]``); see the module's docstring."""
    g: Groove = song.style.groove
    rng = bar_stream(bar.rng, TIMING_STREAM)
    pins = cut_points(song, bar.t0, bar.t1)
    beats = [float(b) for b in bar.beats] + [bar.t1]
    swing = g.swing if song.sub % 2 == 0 else 0.5
    # under 80 BPM the beat is long: the sixteenths swing, as the eighths do at twice the tempo
    unit = 16 if song.slow and song.sub % 4 == 0 else g.swing_unit
    keepers, ghost = {HAT, OPEN_HAT, RIDE, g.perc}, GHOST_VELOCITY[1]  # time-keeping, not accents
    for part in PERFORMED:
        notes = score.parts[part]
        base = _offset_ms(g, part)
        sd = g.jitter_ms * (1.0 if part == "drums" else PITCHED_JITTER)
        for i in range(marks.get(part, len(notes)), len(notes)):
            n = notes[i]
            jitter = float(rng.normal(0.0, sd)) if sd > 0 else 0.0  # drawn for every note: order-stable
            keeps_time = part == "drums" and (
                n.pitch in keepers or (n.pitch == SNARE and n.velocity <= ghost)
            )
            on_cut = not keeps_time and any(abs(n.start - p) <= PIN_S for p in pins)
            if on_cut or not bar.t0 - 1e-6 <= n.start < bar.t1:
                continue  # a cut's accent (its kick, crash, snare, chord, bass) stays on the frame
            b = int(np.searchsorted(beats, n.start + 1e-9, side="right")) - 1
            t = swing_time(n.start, beats[b], beats[min(b + 1, len(beats) - 1)], swing, unit)
            shift = (base(n.pitch) if part == "drums" else base(0)) / 1000.0
            if n.start <= bar.t0 + 1e-6:
                shift = max(0.0, shift)  # the downbeat: only later, never in the previous bar
            else:
                shift += jitter / 1000.0
            start = float(np.clip(t + shift, bar.t0, bar.t1 - 1e-3))
            moved = start - n.start
            if part == "drums":  # short hits keep their length, up to the bar line
                end = max(min(n.end + moved, max(n.end, bar.t1)), start + 0.005)
            else:  # held notes keep their release
                end = max(n.end, start + 0.5 * (n.end - n.start))
            notes[i] = replace(n, start=start, end=end)
        _untangle(notes, marks.get(part, len(notes)))


def _offset_ms(g: Groove, part: str) -> Callable[[int], float]:
    """The instrument's place against the beat (ms) as a function of the pitch."""
    if part == "bass":
        return lambda _p: g.bass_ms
    if part != "drums":
        return lambda _p: g.comp_ms
    hats = {HAT, OPEN_HAT, RIDE, g.perc}

    def drum(p: int) -> float:
        return g.kick_ms if p == KICK else g.snare_ms if p == SNARE else g.hats_ms if p in hats else 0.0

    return drum


def _untangle(notes: list[Note], first: int) -> None:
    """Within the bar's notes (from ``first``), a note ends before the next
    onset of its pitch: no note-off of an earlier hit cuts a later one."""
    by_pitch: dict[tuple[int, int], list[int]] = {}
    for i in range(first, len(notes)):
        by_pitch.setdefault((notes[i].pitch, notes[i].program), []).append(i)
    for idx in by_pitch.values():
        idx.sort(key=lambda i: notes[i].start)
        for a, b in zip(idx, idx[1:], strict=False):
            na, nb = notes[a], notes[b]
            if na.end > nb.start and nb.start > na.start:
                notes[a] = replace(na, end=nb.start)
