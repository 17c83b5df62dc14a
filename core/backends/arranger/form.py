"""The song's form: a per-bar energy and arrangement plan that follows the picture.

Computed once per cue from the plan (:func:`plan_form`), before any bar is
written, from nothing but the plan, the style's :class:`~...styles.FormSpec`
and the take's seed: every bar reads it, so a bar still depends only on
(seed, bar, plan, picture) and regenerating a range leaves every other bar
as it was.

- **Energy per beat** (:func:`beat_energy`): the picture's energy on each
  beat, its motion (the plan's per-beat intensity) raised by its cut rate
  (:data:`CUT_SHARE`; hard cuts per second over :data:`CUT_WINDOW_S` around
  the beat; without cuts the motion alone), smoothed over its neighbours (about a second), then ranked
  within the video (:func:`normalise`, a percentile rank: the quietest beat
  0, the busiest 1) and blended with the absolute value
  (``FormSpec.contrast``), so quiet footage still uses the whole range and a
  calm film stays calmer than an action one; a picture that hardly varies
  (:data:`SPREAD_FULL`) is not stretched. These are the level envelope's
  steps (``Form.levels``, :mod:`.envelope`): the gain follows the picture
  beat by beat, whatever the bar's role.
- **Energy per bar** (:func:`bar_energies`): the mean of its beats' and the
  next bar's first (a beat of lookahead); it sets what plays, the drums'
  density and the velocities. A bar's level is ``0.2 + 0.85 * energy``.
  The roles lift it (a drop by :data:`DROP_LIFT`, a build up to that) rather
  than replace it.
- **Roles** (in this order of precedence): the *ending* (the last bar: the
  cadence, the final strike and the ring-out stay compose's); a *drop* (the
  bar of a strong cut: everything in, an impact); a *build* (the bars before a
  drop: a rising level, a snare roll accelerating from eighths to sixteenths
  into the cut, a riser); the *intro* (the first bars: pad, and the bass if the
  style says so; the band enters at the first strong cut, on the cut itself,
  or after ``intro_bars``); a *breakdown* (a run of two bars or more below
  ``breakdown_below``: pad, bass and lead, the drums out or a soft pulse);
  otherwise *main*.
- **Hits**: every hard cut gets one at its grid point: an *impact* on strong
  cuts (strength >= 0.9) where the energy does not fall (kick + crash, a
  stab of the bar's chord and, for ``impact="full"``, a synthesised low
  boom), at most one every ``impact_gap_bars``, never in the last bar nor so
  late that its boom would ring into the final strike; the others the
  style's ``cut_hit`` (a crash, or a stab). Impacts and risers are
  :class:`Fx` events, synthesised by :mod:`.fx` into the drums stem and
  recorded in the score (the MIDI file
  carries them as markers).

A bar applies its part of the form in :func:`finish_bar`, after compose has
written its parts: the notes of parts the form silences are dropped (the
bar's generator has made the same draws, so the other parts are unchanged),
and the bar's hits and roll are added.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from ...rhythm.planner import RhythmPlan
from ...styles import FormSpec

PARTS = ("drums", "bass", "harmony", "pad", "lead")
KICK, SIDE_STICK, SNARE, HAT, PEDAL_HAT, CRASH, CRASH_2 = 36, 37, 38, 42, 44, 49, 57
STRONG = 0.9  # a cut at least this strong gets the impact
LEVEL_FLOOR, LEVEL_SPAN = 0.2, 0.85  # level = floor + span * energy
BOOM_S = 1.6  # the low boom's length, seconds
MIN_RISER_S, MAX_RISER_S = 0.5, 4.0  # a riser's length, seconds (at slow tempos 2 bars are 8 s)
MAX_ROLL_S = 2.0  # the snare roll into an impact: its last bar, at most this long
RISE_TOLERANCE = 0.05  # an impact's bar is at least this close to the energy of the bar before
IMPACT_MIN = 0.35  # and at least this energy: no drop in the picture's calmest stretches
BOOM_ROOM_S = 0.6  # an impact's boom ends this long before the final strike at the latest
NEAR_S = 0.03  # a performed note (swing, micro-timing: .groove) this near a grid point is on it
CUT_SHARE = 0.25  # the cut rate's share of the energy the motion leaves: m + 0.25 * c * (1 - m)
CUT_WINDOW_S = 4.0  # the cut rate: hard cuts per second over this window centred on a beat
CUT_RATE_HALF = 0.7  # cuts per second that count half of the cut rate's share (1 - 2^(-r / 0.7))
SPREAD_FULL = 0.05  # a picture whose energy varies this much (10th-90th percentile) uses the whole range
DROP_LIFT = 0.15  # a drop's energy over the picture's (its impact carries the rest)
ROLES = ("intro", "main", "build", "drop", "breakdown", "ending")


@dataclass(frozen=True)
class BarForm:
    """One bar's place in the form.

    role : one of :data:`ROLES`; energy : 0..1; parts : the parts that play;
    drums : "on" | "sparse" (a soft pulse on the beats) | "off";
    build : 0 (not a build) up to 1 (the last bar before the drop);
    enter_s : the parts outside the intro's enter at this time (s) in the bar
    where the first strong cut ends the intro (0: from the bar's start);
    waiting : those parts.
    """

    role: str
    energy: float
    parts: frozenset[str]
    drums: str
    build: float = 0.0
    enter_s: float = 0.0
    waiting: frozenset[str] = frozenset()

    @property
    def level(self) -> float:
        """The bar's level (0.2..1.0, before the prompt's density)."""
        return float(np.clip(LEVEL_FLOOR + LEVEL_SPAN * self.energy, LEVEL_FLOOR, 1.0))


@dataclass(frozen=True)
class Hit:
    """What a hard cut gets: ``kind`` "impact" | "crash" | "stab" at ``time`` (s)."""

    time: float
    kind: str
    bar: int
    strength: float


@dataclass(frozen=True)
class Fx:
    """A synthesised sound (:mod:`.fx`): ``kind`` "boom" | "riser" over
    [``start``, ``end``) seconds at linear ``gain``; its noise comes from ``seed``."""

    kind: str
    start: float
    end: float
    gain: float
    seed: int


@dataclass(frozen=True)
class Form:
    """The form of a cue: one :class:`BarForm` per bar, the hits, the fx and the snare rolls
    ((start, end) seconds: the roll ends on the cut at ``end``)."""

    bars: tuple[BarForm, ...]
    hits: tuple[Hit, ...]
    fx: tuple[Fx, ...]
    rolls: tuple[tuple[float, float], ...]
    levels: tuple[tuple[float, float], ...] = ()  # (beat s, energy): the level envelope's steps

    def bar(self, i: int) -> BarForm:
        return self.bars[i] if 0 <= i < len(self.bars) else _MAIN


_MAIN = BarForm("main", 0.5, frozenset(PARTS), "on")


def normalise(values: np.ndarray) -> np.ndarray:
    """The percentile rank of each value in ``values`` (0: the lowest, 1: the
    highest; ties share their mean rank). Constant or single values: 0.5."""
    x = np.asarray(values, np.float64)
    n = len(x)
    if n == 0:
        return x
    if n == 1 or float(np.ptp(x)) < 1e-9:
        return np.full(n, 0.5)
    ranks = np.empty(n)
    ranks[np.argsort(x, kind="stable")] = np.arange(n)
    _, inverse = np.unique(x, return_inverse=True)
    ranks = (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]
    return ranks / (n - 1)


def bar_intensity(plan: RhythmPlan) -> np.ndarray:
    """The plan's per-beat motion averaged over each bar's beats, shape (bars,), 0..1."""
    downs, beats = plan.downbeats_s, plan.beats_s
    out = np.zeros(max(0, len(downs) - 1))
    for i in range(len(out)):
        sel = (beats >= downs[i] - 1e-6) & (beats < downs[i + 1] - 1e-6)
        if np.any(sel) and len(plan.intensity) == len(beats):
            out[i] = float(np.mean(plan.intensity[sel]))
    return np.clip(out, 0.0, 1.0)


def bar_energy(intensity: np.ndarray, contrast: float) -> np.ndarray:
    """Energy per bar (0..1): ``contrast`` of the rank of the (neighbour-smoothed)
    bar intensity within the video, the rest the absolute intensity."""
    x = np.asarray(intensity, np.float64)
    if len(x) >= 3:
        x = np.convolve(np.pad(x, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    # a picture that hardly varies is not stretched over the whole range (its rank is noise)
    spread = float(np.percentile(x, 90) - np.percentile(x, 10)) if len(x) else 0.0
    w = min(1.0, spread / SPREAD_FULL)
    rank = w * normalise(x) + (1.0 - w) * 0.5
    return np.clip(contrast * rank + (1.0 - contrast) * np.clip(x, 0.0, 1.0), 0.0, 1.0)


def cut_rate(plan: RhythmPlan, times: np.ndarray) -> np.ndarray:
    """Hard cuts per second over :data:`CUT_WINDOW_S` centred on each of ``times``
    (the window clipped to the picture, at least 1 s long)."""
    cuts = np.sort(np.array([float(a.time_s) for a in plan.anchors if a.hard], np.float64))
    t = np.asarray(times, np.float64)
    lo = np.clip(t - CUT_WINDOW_S / 2, 0.0, plan.duration_s)
    hi = np.clip(t + CUT_WINDOW_S / 2, 0.0, plan.duration_s)
    count = np.searchsorted(cuts, hi, side="right") - np.searchsorted(cuts, lo, side="left")
    return count / np.maximum(hi - lo, 1.0)


def beat_intensity(plan: RhythmPlan, cuts: bool = True) -> np.ndarray:
    """The picture's energy per beat, 0..1, shape (beats,): its motion (the plan's
    per-beat intensity) raised by its cut rate around the beat (:data:`CUT_SHARE`);
    ``cuts=False``: the motion alone."""
    beats = np.asarray(plan.beats_s, np.float64)
    if len(beats) == 0:
        return np.zeros(0)
    motion = (
        np.asarray(plan.intensity, np.float64) if len(plan.intensity) == len(beats) else np.zeros(len(beats))
    )
    motion = np.clip(motion, 0.0, 1.0)
    if not cuts:
        return motion
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    centres = beats + 0.5 * np.diff(np.append(beats, beats[-1] + step))
    rate = 1.0 - np.power(2.0, -cut_rate(plan, centres) / CUT_RATE_HALF)
    return np.clip(motion + CUT_SHARE * rate * (1.0 - motion), 0.0, 1.0)  # cuts add, never take away


def beat_energy(plan: RhythmPlan, contrast: float, cuts: bool = True) -> np.ndarray:
    """Energy per beat (0..1): :func:`bar_energy`'s mapping on the beats' picture energy
    (:func:`beat_intensity`), smoothed over its neighbours (about a second)."""
    return bar_energy(beat_intensity(plan, cuts), contrast)


def bar_energies(plan: RhythmPlan, beat_e: np.ndarray) -> np.ndarray:
    """Each bar's energy: the mean of its beats' and of the next bar's first (a beat of
    lookahead: the bar's arrangement leans into where the picture goes)."""
    downs, beats = plan.downbeats_s, np.asarray(plan.beats_s, np.float64)
    out = np.zeros(max(0, len(downs) - 1))
    for i in range(len(out)):
        a = int(np.searchsorted(beats, downs[i] - 1e-6))
        b = int(np.searchsorted(beats, downs[i + 1] - 1e-6))
        sel = beat_e[a : min(b + 1, len(beat_e))]
        out[i] = float(np.mean(sel)) if len(sel) else 0.5
    return out


def plan_form(
    plan: RhythmPlan, spec: FormSpec, seed: int, stop_s: float | None = None, drums: bool = True
) -> Form:
    """The form of the cue on ``plan`` (see the module docstring). ``stop_s``:
    no hit at or after it (the breath before the final strike); ``drums``:
    the style has drums (without them no fx, and impacts are stabs)."""
    downs = plan.downbeats_s
    n = max(0, len(downs) - 1)
    if n == 0:
        return Form((), (), (), ())
    beat_e = beat_energy(plan, spec.contrast)
    if len(beat_e):
        energy = bar_energies(plan, beat_e)
        moving = bar_energies(plan, beat_energy(plan, spec.contrast, cuts=False))
    else:
        energy = moving = bar_energy(bar_intensity(plan), spec.contrast)
    stop = float(stop_s) if stop_s is not None else float(plan.duration_s)
    # a drop where the picture's motion lifts (the cut rate falls after any cut by its window)
    hits = _hits(plan, spec, stop, drums, moving)
    impacts = [h for h in hits if h.kind == "impact"]

    role = ["main"] * n
    build = [0.0] * n
    # the intro: the first bars, up to the first strong cut (the drums enter with it)
    intro = min(max(1, min(spec.intro_bars, n // 4)) if spec.intro_bars and n >= 4 else 0, n - 1)
    first = next((h for h in hits if h.strength >= STRONG), None)
    enter_s = 0.0
    if first is not None and first.bar < intro:
        intro = first.bar  # the first strong cut ends the intro: the band enters on it
        enter_s = first.time if first.time - float(downs[first.bar]) > 1e-3 else 0.0
    role[:intro] = ["intro"] * intro
    for h in impacts:  # drops (the bar of the cut), and the builds before them (the intro stays)
        role[h.bar] = "drop"
        for j in range(spec.build_bars):
            b = h.bar - 1 - j
            if b < 0 or role[b] in ("drop", "intro"):
                break
            role[b], build[b] = "build", max(build[b], (spec.build_bars - j) / spec.build_bars)
    if spec.breakdown_below > 0:
        b = 0
        while b < n:
            e = b
            while e < n and role[e] == "main" and energy[e] < spec.breakdown_below:
                e += 1
            if e - b >= 2:
                for k in range(b, e):
                    role[k] = "breakdown"
            b = max(e, b + 1)
    role[n - 1] = "ending"

    raw = bar_intensity(plan)
    bars = [_bar_form(role[b], float(energy[b]), build[b], spec, float(raw[b])) for b in range(n)]
    levels = _levels(plan, beat_e, bars[-1].energy)
    if enter_s and first is not None:
        waiting = frozenset(PARTS) - _bar_form("intro", 0.0, 0.0, spec, 0.0).parts
        bars[first.bar] = replace(bars[first.bar], enter_s=enter_s, waiting=waiting)
    fx: list[Fx] = []
    rolls: list[tuple[float, float]] = []
    prev = 0.0
    for h in impacts:
        start = max(float(downs[max(0, h.bar - spec.build_bars)]), prev, h.time - MAX_RISER_S)
        if spec.build_bars and h.time - start >= MIN_RISER_S:
            last_bar = float(downs[h.bar]) - float(downs[max(0, h.bar - 1)]) or 2.0
            rolls.append((max(start, h.time - min(last_bar, MAX_ROLL_S)), h.time))
            if spec.riser and drums:
                fx.append(Fx("riser", start, h.time, 0.5 + 0.5 * h.strength, int(seed)))
        if spec.impact == "full" and drums:
            fx.append(Fx("boom", h.time, h.time + BOOM_S, 0.6 + 0.4 * h.strength, int(seed)))
        prev = h.time + 0.25
    return Form(tuple(bars), tuple(hits), tuple(sorted(fx, key=lambda f: f.start)), tuple(rolls), levels)


def _levels(plan: RhythmPlan, beat_e: np.ndarray, ending: float) -> tuple[tuple[float, float], ...]:
    """The level envelope's steps: (beat s, the beat's energy); in the last bar never under
    the ending's energy (the final strike)."""
    beats = np.asarray(plan.beats_s, np.float64)
    if len(beat_e) != len(beats):
        return ()
    last = float(plan.downbeats_s[-2]) if len(plan.downbeats_s) > 1 else 0.0
    return tuple(
        (float(t), float(max(e, ending) if t >= last - 1e-6 else e))
        for t, e in zip(beats, beat_e, strict=True)
    )


def _bar_form(role: str, energy: float, build: float, spec: FormSpec, raw: float) -> BarForm:
    everything = frozenset(PARTS)
    if role == "ending":  # the final strike is never weaker than the picture's own level made it
        return BarForm(role, max(energy, (0.25 + 0.9 * raw - LEVEL_FLOOR) / LEVEL_SPAN), everything, "on")
    if role == "intro":
        parts = {"pad"} | ({"bass"} if spec.intro_bass else set())
        return BarForm(role, min(energy, 0.55), frozenset(parts), "off")
    if role == "build":  # rising into the drop: up to its lift in the last bar
        return BarForm(role, min(1.0, energy + DROP_LIFT * build), everything, "on", build)
    if role == "drop":
        return BarForm(role, min(1.0, energy + DROP_LIFT), everything, "on")
    if role == "breakdown":
        drums = spec.breakdown_drums if spec.breakdown_drums != "keep" else "on"
        parts = {"pad", "bass", "lead"} | ({"drums"} if drums != "out" else set())
        return BarForm(role, 0.8 * energy, frozenset(parts), "off" if drums == "out" else drums)
    return BarForm(role, energy, everything, "on")


def _hits(plan: RhythmPlan, spec: FormSpec, stop: float, drums: bool, energy: np.ndarray) -> list[Hit]:
    """A hit for every hard cut before ``stop``, at its grid point (its own time if it missed).
    An impact needs a strong cut where the picture's energy does not fall (``energy`` per bar)
    and is not among its calmest (:data:`IMPACT_MIN`): a drop lands where the picture lifts,
    not where it settles."""
    downs = plan.downbeats_s
    n = len(downs) - 1
    cuts: list[tuple[float, float]] = []
    for a in sorted(plan.anchors, key=lambda a: a.time_s):
        if not a.hard:
            continue
        t = float(a.time_s - a.offset_s) if a.on != "missed" else float(a.time_s)
        if t < 1e-3 or t >= stop - 1e-6:
            continue
        if cuts and t - cuts[-1][0] < 0.05:  # one hit for cuts a frame or two apart
            cuts[-1] = (cuts[-1][0], max(cuts[-1][1], float(a.strength)))
            continue
        cuts.append((t, float(a.strength)))
    out: list[Hit] = []
    last_impact = -(10**9)
    plain = spec.cut_hit if drums else "stab"
    for t, strength in cuts:
        b = int(np.clip(np.searchsorted(downs, t + 1e-6, side="right") - 1, 0, max(0, n - 1)))
        room = t + BOOM_S + BOOM_ROOM_S <= stop  # the boom has died away before the final strike
        lifts = energy[b] >= max(energy[max(0, b - 1)] - RISE_TOLERANCE, IMPACT_MIN)
        if strength >= STRONG and b - last_impact >= spec.impact_gap_bars and b < n - 1 and room and lifts:
            out.append(Hit(t, "impact", b, strength))
            last_impact = b
        else:
            out.append(Hit(t, plain, b, strength))
    return out


class _Notes(Protocol):
    parts: dict[str, list[Any]]

    def add(
        self, part: str, start: float, end: float, pitch: int, velocity: float, program: int = -1
    ) -> None: ...


def mark(score: _Notes) -> dict[str, int]:
    """How many notes each part has: :func:`finish_bar` reads the bar's notes after these."""
    return {p: len(notes) for p, notes in score.parts.items()}


def finish_bar(score: _Notes, form: Form, bar: Any, since: dict[str, int], sub: int, has_drums: bool) -> None:
    """Apply the form to the notes bar ``bar`` (compose's: its ``index``,
    ``t0``, ``t1``, ``beats``, ``grid``, ``chord`` and ``level``) wrote after
    ``since`` (:func:`mark`): silence the parts the form leaves out, thin the
    drums to a pulse where it says "sparse"; then add the hits, roll and
    stabs that fall in [``t0``, ``t1``). ``sub``: grid steps per beat."""
    t0, t1, beats, grid = float(bar.t0), float(bar.t1), bar.beats, bar.grid
    chord, level = list(bar.chord), float(bar.level)
    voicing = list(getattr(bar, "harmony_voicing", ()) or ())  # the comping's own voicing, if any
    bf = form.bar(int(bar.index))
    for part, notes in score.parts.items():
        k = since.get(part, len(notes))
        if part not in bf.parts or (part == "drums" and bf.drums == "off"):
            del notes[k:]
        elif part in bf.waiting:  # the intro ends at the first strong cut, inside this bar
            notes[k:] = [m for m in notes[k:] if m.start >= bf.enter_s - NEAR_S]
        elif part == "drums" and bf.drums == "sparse":
            notes[k:] = [
                type(m)(m.start, m.end, m.pitch, max(1, int(m.velocity * 0.7)), m.program)
                for m in notes[k:]
                if m.pitch in (KICK, HAT, PEDAL_HAT, SIDE_STICK, CRASH)
                and np.min(np.abs(beats - m.start), initial=1.0) < NEAR_S
            ]
    if has_drums and bf.drums == "on" and "drums" in bf.parts:
        _roll(score, form, t0, t1, beats, grid, sub, level)
    prev = None
    for h in form.hits:
        if t0 - 1e-6 <= h.time < t1 - 1e-6:
            _hit(score, h, voicing or _voiced(chord), level, has_drums, prev)
        prev = h.time


def _roll(
    score: _Notes,
    form: Form,
    t0: float,
    t1: float,
    beats: np.ndarray,
    grid: np.ndarray,
    sub: int,
    level: float,
) -> None:
    """The snare roll into a drop: eighths, then sixteenths in its second half, a crescendo."""
    drums = score.parts["drums"]
    for rs, re_ in form.rolls:
        if re_ <= t0 or rs >= t1:
            continue
        end = re_
        last_beat = float(beats[-1]) if len(beats) else t0
        quiet = re_ <= t1 + 1e-6 and not any(last_beat - NEAR_S <= m.start < t1 for m in drums)
        if quiet and len(beats) > 1 and last_beat > rs:
            end = last_beat  # the bar's drop (drums out before the cut) is kept: the roll stops there
        eighth = max(1, sub // 2)
        for k, g in enumerate(grid):
            g = float(g)
            if not (rs - 1e-6 <= g < end - 1e-6):
                continue
            frac = (g - rs) / max(re_ - rs, 1e-6)
            if frac < 0.5 and (k % sub) % eighth:
                continue  # eighths first
            if any(abs(m.start - g) < NEAR_S and m.pitch == SNARE for m in drums):
                continue
            score.add("drums", g, g + 0.06, SNARE, (45 + 75 * frac) * (0.7 + 0.3 * min(level, 1.0)))


def _voiced(chord: list[int]) -> list[int]:
    """The chord's pitch classes closely voiced upwards from middle C."""
    return [60 + pc for pc in sorted({p % 12 for p in chord})]


def _stab(score: _Notes, t: float, voicing: list[int], velocity: float, dur: float) -> None:
    """The bar's chord, short and loud, in the comping's own voicing (so the voices stay put)."""
    for p in voicing:
        score.add("harmony", t, t + dur, p, velocity)


def _hit(
    score: _Notes, h: Hit, voicing: list[int], level: float, has_drums: bool, prev: float | None
) -> None:
    drums = score.parts["drums"]
    near = prev is not None and h.time - prev < 1.0  # a hit right after another: softer, choked
    crashes = any(abs(m.start - h.time) < 1e-3 and m.pitch in (CRASH, CRASH_2) for m in drums)
    if h.kind == "impact":
        if has_drums:  # kick and crashes exactly on the cut: a performed one beside it would flam
            drums[:] = [m for m in drums if not (abs(m.start - h.time) < NEAR_S and m.pitch in (KICK, CRASH))]
            score.add("drums", h.time, h.time + 0.2, KICK, 127)
            score.add("drums", h.time, h.time + 2.0, CRASH, 127)
            score.add("drums", h.time, h.time + 2.0, CRASH_2, 110)
        _stab(score, h.time, voicing, 118, 0.2)
    elif h.kind == "crash" and has_drums:
        if not crashes:
            score.add(
                "drums", h.time, h.time + (0.5 if near else 1.2), CRASH, (75 if near else 100) + 20 * level
            )
    else:
        _stab(score, h.time, voicing, (80 if near else 95) + 25 * min(level, 1.0), 0.16)


def record(score: Any, form: Form) -> None:
    """What the form decided, into the score: its fx (the renderer's) and hits
    (time, kind) for the MIDI file's markers."""
    score.fx = list(form.fx)
    score.hits = [(h.time, h.kind) for h in form.hits] + [
        (f.start, f.kind) for f in form.fx if f.kind == "riser"
    ]
