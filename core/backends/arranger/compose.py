"""Composition on the plan: drums, bass, harmony, pad and lead, bar by bar.

Every bar is written by its own random generator, seeded from the take's
seed and the bar's number, so a bar depends only on (seed, bar, plan,
picture): regenerating a range of bars with a new seed leaves every other
bar note for note as it was. A bar's generator picks its chord's inversion,
now and then a diatonic substitute for the chord, the bass figure of calm
bars, fills, extra kicks and the lead's notes, so a new seed is heard. Notes are
written on the plan's grid and then played (:mod:`.groove`: swing, each
instrument's place against the beat, a seeded jitter of a few ms), except the
accents of hard cuts, which stay on their frames.

Following the picture:
- intensity (the plan's per-beat motion) sets velocities, hat density, extra
  kicks, whether drums and lead play at all;
- sections restart the progression; every other section (B) lifts the
  harmony's register and changes the harmony's and the lead's instruments;
  a section whose shots read negative
  (valence < 0) in a major style, or positive in a minor one, switches mode;
- cuts: a crash and a bass hit on cuts that land on downbeats, a snare fill
  leading into strong cuts, a drop (drums out) for the beat before a big one;
- the key (:mod:`.keys`) comes from ``--key``, the style and the picture;
- the music starts with the picture (a pad from the first frame); the last
  bar is a cadence (V, or bVII in rock and electronic minor keys) and the
  tonic chord is struck on the last frame of the picture (the latest grid
  point inside it, else the frame's start: an editor who trims the music at
  the timeline's end still hears the attack) with a crash and a kick when
  the music is not calm, then released in the ring-out
  (:func:`ending_times`): its note-offs come well before the file's end, so
  the SoundFont's release and the reverb decay, and the renderer fades the
  last ~150 ms to silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ...model import VideoFeatures
from ...rhythm.planner import RhythmPlan
from . import groove, harmony, melody
from .form import Form, Fx, finish_bar, mark, plan_form, record
from .keys import choose_key
from .styles import PROMPT_DENSE, PROMPT_MAJOR, PROMPT_MINOR, PROMPT_SPARSE, Style

PARTS = ("drums", "bass", "harmony", "pad", "lead")

KICK, SNARE, HAT, OPEN_HAT, CRASH, TOM_HI, TOM_LO = 36, 38, 42, 46, 49, 50, 45
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)  # the minor key's cadence: V with its leading tone
#: The cadence degree of the last bar per style in minor keys (V otherwise; V of a
#: minor key gets its raised third, the leading tone).
MINOR_CADENCE = {"rock": 7, "electronic": 7}
#: Of the time from the final strike to the file's end: the share the final
#: chord is held, and at most this long a fade to silence at the very end.
HOLD_SHARE, FADE_S = 0.4, 0.15
#: The final chord's diminuendo while it is held (dB, MIDI expression, CC 11),
#: in steps of this many seconds: sustaining instruments (pads, strings)
#: die away as players let a last chord die away, rather than hold their level.
DIMINUENDO_DB, DIMINUENDO_STEP_S = 15.0, 0.02
EXPRESSION = 11
BREATH_BEATS = 0.5  # the silence before the final strike, in beats
MIN_TAIL_S = 0.5  # a shorter ring-out has no room for a final strike: the last bar resolves
#: Diatonic substitutes (shared tones) a bar may play instead of its chord.
SUBSTITUTES = {1: (6, 3), 2: (4,), 3: (1,), 4: (2, 6), 5: (3,), 6: (4, 1), 7: (5,)}
SUBSTITUTE_P = 0.3


@dataclass(frozen=True)
class Note:
    start: float  # seconds from the first frame
    end: float
    pitch: int
    velocity: int
    program: int = -1  # -1: the part's own instrument


@dataclass
class Score:
    """Notes per part, and what was decided."""

    parts: dict[str, list[Note]] = field(default_factory=lambda: {p: [] for p in PARTS})
    key: str = ""  # the tonic's name ("C#"); the key is f"{key} {mode}"
    mode: str = ""
    style: str = ""
    tonic: int = 0  # pitch class of the key's tonic
    final_s: float | None = None  # when the final chord is struck (None: no strike, the last bar resolves)
    release_s: float = 0.0  # when the final chord's notes end
    end_s: float = 0.0  # the end of the music (the file's end: the last frame plus the ring-out)
    fade_s: float = 0.0  # the fade to silence that ends at end_s
    #: (time, mode) where a section switches to the other mode (the tonic stays)
    modes: list[tuple[float, str]] = field(default_factory=list)
    #: (time, value) of MIDI expression (CC 11) on every channel of the pitched parts
    expression: list[tuple[float, int]] = field(default_factory=list)
    #: the form's synthesised sounds (booms, risers: :mod:`.fx`, in the drums stem) and its
    #: hits (time, "impact" | "crash" | "stab" | "riser"): the MIDI file's markers
    fx: list[Fx] = field(default_factory=list)
    hits: list[tuple[float, str]] = field(default_factory=list)
    #: (bar start s, energy 0..1) per bar of the form: the level envelope's bars (:mod:`.envelope`)
    levels: list[tuple[float, float]] = field(default_factory=list)

    @property
    def key_name(self) -> str:
        return f"{self.key} {self.mode}"

    def add(
        self, part: str, start: float, end: float, pitch: int, velocity: float, program: int = -1
    ) -> None:
        v = int(np.clip(round(velocity), 1, 127))
        if end > start and 0 <= pitch <= 127:
            self.parts[part].append(Note(float(start), float(end), int(pitch), v, int(program)))


def _chord(degree: int, scale: tuple[int, ...], tonic: int, seventh: bool) -> list[int]:
    """Pitch classes (relative to C) of the triad (or 7th chord) on ``degree``."""
    idx = [degree - 1, degree + 1, degree + 3] + ([degree + 5] if seventh else [])
    return [(tonic + scale[i % 7] + 12 * (i // 7)) for i in idx]


def _voicing(chord: list[int], low: int) -> list[int]:
    """The chord voiced closely upwards from the first pitch >= ``low``."""
    out: list[int] = []
    for pc in chord:
        p = low + ((pc - low) % 12)
        while out and p <= out[-1]:
            p += 12
        out.append(p)
    return out


def ending_times(plan: RhythmPlan, rate: float) -> tuple[float | None, float, float, float]:
    """(strike, release, end, fade) of the ending, in seconds from the first frame.

    The strike is on the picture's last frame ``[duration - 1/rate,
    duration)``: at the latest grid point inside it, else at its start (the
    plan's last downbeat is the timeline's end, one frame later). The final
    chord is held for ``HOLD_SHARE`` of the time left, then released; the
    file fades to silence over its last ``min(FADE_S, a quarter of that
    time)``. A ring-out too short for a strike (< ``MIN_TAIL_S``) gives
    ``None``: the last bar resolves to the tonic and is released before the fade.
    """
    end = plan.duration_s + plan.ring_out_s
    frame = 1.0 / rate if rate and rate > 0 else 0.04
    first = max(0.0, plan.duration_s - frame)
    inside = plan.grid_s[(plan.grid_s >= first - 1e-9) & (plan.grid_s < plan.duration_s - 1e-3)]
    strike = float(inside[-1]) if len(inside) else first
    if end - strike < MIN_TAIL_S or (len(plan.downbeats_s) >= 2 and strike <= plan.downbeats_s[-2] + 1e-3):
        tail = max(end - float(plan.downbeats_s[-2]), 1e-3) if len(plan.downbeats_s) >= 2 else end
        fade = min(FADE_S, 0.25 * tail)
        return None, max(0.0, end - fade - min(0.25 * tail, 0.3)), end, fade
    tail = end - strike
    return strike, strike + HOLD_SHARE * tail, end, min(FADE_S, 0.25 * tail)


@dataclass(frozen=True)
class _Song:
    """What every bar reads: the plan, the style and the song-wide choices."""

    plan: RhythmPlan
    style: Style
    seed: int
    bar_seeds: dict[int, int]
    tonic: int
    base_mode: str
    section_mode: list[str]
    prog_major: tuple[int, ...]
    prog_minor: tuple[int, ...]
    strike: float | None
    release: float
    density: float
    rhythm: str  # the harmony's comping: block, arp8, offbeat or strum
    slow: bool  # under 80 BPM: no eighth-note pulse in hats and comping
    cut_down: set[float]  # hard cuts on downbeats (rounded to 0.1 ms)
    strong_cuts: list[float]
    form: Form  # the form (:mod:`.form`): every bar's role, energy and parts; the hits

    @property
    def bpb(self) -> int:
        return self.plan.meter.beats

    @property
    def sub(self) -> int:
        return self.plan.meter.subdivision

    @property
    def steps_per_bar(self) -> int:
        return self.bpb * self.sub

    @property
    def n_bars(self) -> int:
        return len(self.plan.downbeats_s) - 1

    @cached_property
    def lines(self) -> harmony.Lines:
        """The progression voiced by nearest inversion, bar by bar (:mod:`.harmony`): song-wide."""
        return harmony.song_lines(
            self.n_bars, lambda i: _progression(self, i), self.tonic, self.style, self.strike is not None
        )


@dataclass(frozen=True)
class _Bar:
    """One bar's decisions: its chord, level and cuts, and its own generator."""

    index: int
    t0: float
    t1: float
    sec_i: int
    last_bar: bool
    resolving: bool  # the last bar is the tonic itself
    cadence: bool  # the last bar leads into the final strike
    scale: tuple[int, ...]
    chord: list[int]
    voicing_shift: int
    bass_figure: float
    rng: np.random.Generator
    beats: np.ndarray  # the bar's beat times, seconds
    grid: np.ndarray  # the bar's grid (subdivision) times, seconds
    inten: float
    level: float
    vel: float
    next_cut: float | None
    big_next: bool
    end: float  # when the bar's held notes end
    hit: bool  # a hard cut on this downbeat
    pad_voicing: tuple[int, ...] = ()  # the chord voiced by nearest inversion (:mod:`.harmony`)
    harmony_voicing: tuple[int, ...] = ()

    @property
    def b_section(self) -> bool:
        return self.sec_i % 2 == 1

    def programs(self, style: Style) -> tuple[int, int]:
        """The harmony's and the lead's instruments: B sections change them."""
        return (style.harmony_b, style.lead_b) if self.b_section else (-1, -1)


def compose(
    plan: RhythmPlan,
    features: VideoFeatures,
    style: Style,
    seed: int,
    prompt: str = "",
    bar_seeds: dict[int, int] | None = None,
    key: str | None = None,
) -> Score:
    """Write the score. ``bar_seeds`` overrides the seed of single bars
    (regeneration); ``key`` (``--key`` text, or a take's key) overrides the
    key the picture and style would choose."""
    song, score = _song(plan, features, style, seed, prompt, bar_seeds, key)
    record(score, song.form)
    downs, bpb = plan.downbeats_s, song.bpb
    score.levels = list(song.form.levels) or [
        (float(downs[i]), song.form.bar(i).energy) for i in range(len(downs) - 1)
    ]

    # the pickup before the first downbeat: a pad on the tonic from the first frame
    if len(downs) and downs[0] > 0.05:
        scale = MAJOR if song.base_mode == "major" else MINOR
        first = song.lines.pad[0] if song.lines.pad else None  # led into the first bar's voicing
        for p in harmony.nearest_voicing(first, _chord(1, scale, song.tonic, False), harmony.CENTRE["pad"]):
            score.add("pad", 0.0, downs[0], p, 55)

    last_inten = float(np.mean(plan.intensity[-bpb:])) if len(plan.intensity) else 0.0
    last_level = float(np.clip(0.25 + 0.9 * last_inten, 0.2, 1.0)) * song.density
    last_state = (
        last_level,
        50 + 60 * min(last_level, 1.1),
        -1,
        -1,
        song.base_mode,
    )  # a last bar without beats
    for i in range(song.n_bars):
        bar = _bar(song, i)
        if bar is None:
            continue
        if bar.last_bar:
            last_state = (bar.level, bar.vel, *bar.programs(style), song.base_mode)
        since = mark(score)
        marks = {part: len(notes) for part, notes in score.parts.items()}  # the bar's notes follow
        _pad(score, bar)
        _bass(score, song, bar)
        _harmony(score, song, bar)
        groove.drums(score, song, bar)
        _lead(score, song, bar)
        groove.perform(score, song, bar, marks)  # swing and micro-timing (:mod:`.groove`)
        finish_bar(score, song.form, bar, since, song.sub, style.drums is not None)  # the form's mask, hits

    if song.strike is not None:
        strike, beats = song.strike, plan.beats_s
        beat = float(np.median(np.diff(beats[-4:]))) if len(beats) > 1 else 0.5
        breath = max(strike - BREATH_BEATS * beat, float(downs[-2]) + 0.5 * beat if len(downs) > 1 else 0.0)
        _final_strike(score, style, strike, song.release, last_state, min(breath, strike), song.lines)
        if score.modes and score.modes[-1][1] != song.base_mode:
            score.modes.append((strike, song.base_mode))  # the final chord is in the cue's key
    return score


def _song(
    plan: RhythmPlan,
    features: VideoFeatures,
    style: Style,
    seed: int,
    prompt: str,
    bar_seeds: dict[int, int] | None,
    key: str | None,
) -> tuple[_Song, Score]:
    """The song-wide choices (key, modes of the sections, progressions, the
    ending) and the empty score that records them."""
    words = {w.strip(",.").lower() for w in prompt.split()}
    density = 1.0 + 0.35 * bool(words & PROMPT_DENSE) - 0.35 * bool(words & PROMPT_SPARSE)
    song = np.random.default_rng(seed)  # song-wide choices depend on the take's seed only
    song.integers(6)  # the draw that once chose the tonic, kept: a seed keeps its progressions
    prompt_mode = "minor" if words & PROMPT_MINOR else "major" if words & PROMPT_MAJOR else None
    spans = [(float(s.start_s), float(s.end_s)) for s in plan.sections] or None
    the_key, section_mode = choose_key(style.name, style.mode, features, key, prompt_mode, spans)
    strike, release, end_s, fade_s = ending_times(plan, features.timeline.rate)
    score = Score(
        key=the_key.tonic_name,
        mode=the_key.mode,
        style=style.name,
        tonic=the_key.tonic,
        final_s=strike,
        release_s=release,
        end_s=end_s,
        fade_s=fade_s,
    )
    prog_major = style.progressions_major[int(song.integers(len(style.progressions_major)))]
    prog_minor = style.progressions_minor[int(song.integers(len(style.progressions_minor)))]
    if not plan.sections:
        section_mode = []
    for i, mode in enumerate(section_mode):
        if mode != (section_mode[i - 1] if i else the_key.mode):
            score.modes.append((float(plan.sections[i].start_s), mode))
    # slow tempos: no eighth-note pulse in hats and comping, so the beat is heard
    # at the plan's tempo rather than twice as fast
    slow = float(np.median(plan.bpm)) < 80 if len(plan.bpm) else False
    rhythm = "block" if slow and style.harmony_rhythm in ("offbeat", "arp8") else style.harmony_rhythm
    hard = [a for a in plan.anchors if a.hard]
    return (
        _Song(
            plan=plan,
            style=style,
            seed=seed,
            bar_seeds=bar_seeds or {},
            tonic=the_key.tonic,
            base_mode=the_key.mode,
            section_mode=list(section_mode),
            prog_major=prog_major,
            prog_minor=prog_minor,
            strike=strike,
            release=release,
            density=density,
            rhythm=rhythm,
            slow=slow,
            cut_down={round(a.time_s, 4) for a in hard if a.on == "downbeat"},
            strong_cuts=sorted(a.time_s for a in hard if a.strength >= 0.9 and a.on != "missed"),
            form=plan_form(plan, style.form, seed, strike, style.drums is not None),
        ),
        score,
    )


def _bar(song: _Song, bar: int) -> _Bar | None:
    """Bar ``bar``'s chord, level and cuts (None: a bar without beats)."""
    plan, style, strike = song.plan, song.style, song.strike
    downs, beats, grid = plan.downbeats_s, plan.beats_s, plan.grid_s
    t0, t1 = float(downs[bar]), float(downs[bar + 1])
    degree, scale, mode, sec_i, bar_in_sec = _progression(song, bar)
    last_bar = bar == song.n_bars - 1
    resolving = last_bar and strike is None
    cadence = last_bar and strike is not None
    rng = np.random.default_rng([song.bar_seeds.get(bar, song.seed), bar])
    # the bar's own choices, always drawn in this order: a diatonic substitute
    # for the chord now and then (never on a section's first bar or the last),
    # the inversion of pad and harmony, and the bass figure of calm bars
    substitute, sub_pick, inversion, bass_figure = (
        rng.random(),
        rng.random(),
        rng.integers(3),
        rng.random(),
    )
    if substitute < SUBSTITUTE_P and bar_in_sec > 0 and not last_bar:
        options = SUBSTITUTES[degree]
        degree = options[int(sub_pick * len(options))]
    if cadence and mode == "minor" and degree == 5:
        scale = HARMONIC_MINOR  # V, not v (and the lead's tones to match)
    chord, pad_voicing, harmony_voicing = harmony.bar_chords(
        song.lines, bar, degree, scale, song.tonic, style, resolving
    )

    in_bar = (beats >= t0 - 1e-6) & (beats < t1 - 1e-6)
    bar_beats = beats[in_bar]
    if not len(bar_beats):
        return None
    inten = float(np.mean(plan.intensity[in_bar]))
    level = song.form.bar(bar).level * song.density  # the form's energy, normalised per video
    next_cut = next((c for c in song.strong_cuts if t1 - 1e-4 <= c <= t1 + 1e-4), None)
    big_next = next_cut is not None and round(t1, 4) in song.cut_down
    if cadence:  # a fill leads into the final strike
        next_cut, big_next = strike, False
    # held notes end with the bar (up to the strike after the last bar,
    # released before the fade when the last bar resolves)
    end = song.release if resolving else max(t1, strike) if cadence and strike is not None else t1
    return _Bar(
        index=bar,
        t0=t0,
        t1=t1,
        sec_i=sec_i,
        last_bar=last_bar,
        resolving=resolving,
        cadence=cadence,
        scale=scale,
        chord=chord,
        voicing_shift=(0, 4, -3)[int(inversion)],
        bass_figure=float(bass_figure),
        rng=rng,
        beats=bar_beats,
        grid=grid[(grid >= t0 - 1e-6) & (grid < t1 - 1e-6)],
        inten=inten,
        level=level,
        vel=50 + 60 * min(level, 1.1),
        next_cut=next_cut,
        big_next=big_next,
        end=end,
        hit=round(t0, 4) in song.cut_down,
        pad_voicing=pad_voicing,
        harmony_voicing=harmony_voicing,
    )


def _progression(song: _Song, bar: int) -> tuple[int, tuple[int, ...], str, int, int]:
    """Bar ``bar``'s (degree, scale, mode, section, bar in the section) in the
    song-wide progression, before the bar's own substitute: the cadence's V (with
    the leading tone in minor) on the last bar, or the tonic when it resolves."""
    plan, style = song.plan, song.style
    sec_i = max(i for i, s in enumerate(plan.sections) if s.start_bar <= bar) if plan.sections else 0
    sec = plan.sections[sec_i] if plan.sections else None
    mode = song.section_mode[sec_i] if song.section_mode else song.base_mode
    scale = MAJOR if mode == "major" else MINOR
    prog = song.prog_major if mode == "major" else song.prog_minor
    bar_in_sec = bar - (sec.start_bar if sec else 0)
    degree = prog[(bar_in_sec // style.bars_per_chord) % len(prog)]
    if bar == song.n_bars - 1:
        degree = 1 if song.strike is None else MINOR_CADENCE.get(style.name, 5) if mode == "minor" else 5
        if song.strike is not None and mode == "minor" and degree == 5:
            scale = HARMONIC_MINOR
    return degree, scale, mode, sec_i, bar_in_sec


def _pad(score: Score, bar: _Bar) -> None:
    """The chord held through the bar."""
    for p in bar.pad_voicing:
        score.add("pad", bar.t0, bar.end, p, 40 + 30 * bar.level)


def _bass(score: Score, song: _Song, bar: _Bar) -> None:
    """The style's bass line (:func:`.harmony.bass_line`): roots, fifths, octaves, passing
    notes and an approach into the next chord; a hit on cut downbeats."""
    scale_pcs = {(song.tonic + s) % 12 for s in bar.scale}
    nxt = song.lines.next_root(bar.index)
    line = harmony.bass_line(
        song.style.harmony_melody, bar.chord[0] % 12, bar.chord[2] % 12, nxt, sorted(scale_pcs),
        song.steps_per_bar, song.sub, bar.level, bar.rng, bar.hit, bar.resolving,
    )  # fmt: skip
    for k, n, pitch, v in line:
        s0, s1 = harmony.step_time(bar.grid, bar.t1, k), harmony.step_time(bar.grid, bar.t1, k + n)
        end = bar.end if bar.resolving else min(s0 + 0.92 * (s1 - s0), bar.t1)
        score.add("bass", s0, end, pitch, bar.vel * v + (20 if bar.hit and k == 0 else 0))


def _harmony(score: Score, song: _Song, bar: _Bar) -> None:
    """Comping by style, an octave-ish higher in every other section (B sections lift)."""
    sub, grid, t1, vel = song.sub, bar.grid, bar.t1, bar.vel
    voiced = list(bar.harmony_voicing)  # B sections lift it (:func:`.harmony.centre_of`)
    h_prog, _ = bar.programs(song.style)
    if song.rhythm == "block" or bar.resolving:
        for p in voiced:
            score.add("harmony", bar.t0, bar.end, p, vel * 0.7, h_prog)
    elif song.rhythm == "arp8":
        eighth = max(1, sub // 2)
        for i, k in enumerate(range(0, len(grid), eighth)):
            s0 = grid[k]
            s1 = grid[k + eighth] if k + eighth < len(grid) else t1
            score.add("harmony", s0, s1, voiced[harmony.arp_index(i, len(voiced))], vel * 0.65, h_prog)
    elif song.rhythm == "offbeat":
        for b in range(song.bpb):
            k = b * sub + sub // 2
            if k < len(grid):
                s0 = grid[k]
                for p in voiced:
                    score.add("harmony", s0, s0 + (grid[1] - grid[0]) * sub * 0.45, p, vel * 0.6, h_prog)
    else:  # strum: on every beat
        for b, s0 in enumerate(bar.beats):
            s1 = bar.beats[b + 1] if b + 1 < len(bar.beats) else t1
            for j, p in enumerate(voiced):
                score.add("harmony", s0 + 0.008 * j, s1, p, vel * (0.75 if b == 0 else 0.6), h_prog)


def _lead(score: Score, song: _Song, bar: _Bar) -> None:
    """The topline (:mod:`.melody`): the section's motif, phrased in four bars, varied by the bar."""
    if bar.resolving:
        return
    plan, hm = song.plan, song.style.harmony_melody
    sec = plan.sections[bar.sec_i] if plan.sections else None
    start = sec.start_bar if sec else 0
    after = [s.start_bar for s in plan.sections if s.start_bar > start]
    mot = melody.motif(melody.section_rng(song.seed, start), song.bpb, song.style.lead_density, hm.motif_bars)
    phrase = melody.phrase_of(bar.index - start, (after[0] if after else song.n_bars) - start, bar.cadence)
    _, l_prog = bar.programs(song.style)
    e = song.sub / 2  # grid steps per eighth
    for c, n, pitch, v in melody.topline(
        mot, phrase, bar.chord, song.tonic, bar.scale, bar.level, song.bpb, bar.rng
    ):
        s0, s1 = harmony.step_time(bar.grid, bar.t1, c * e), harmony.step_time(bar.grid, bar.t1, (c + n) * e)
        score.add("lead", s0, s1 - 0.01, pitch, bar.vel * v, l_prog)


def _final_strike(
    score: Score,
    style: Style,
    strike: float,
    release: float,
    state: tuple[float, float, int, int, str],
    breath: float,
    lines: harmony.Lines | None = None,
) -> None:
    """The tonic chord struck at ``strike`` and released at ``release`` (voiced
    nearest the last bar's chords in ``lines``). Before
    it, a breath: every earlier note still sounding at ``breath`` ends there
    and none starts after it, so the strike is heard as one (and no note-off
    of a pitch the strike plays again cuts the new note)."""
    for part, notes in score.parts.items():
        score.parts[part] = [
            Note(n.start, breath, n.pitch, n.velocity, n.program) if n.end > breath + 1e-6 else n
            for n in notes
            if n.start < breath - 1e-6
        ]
    level, vel, h_prog, l_prog, mode = state
    steps = max(1, int(round((release - strike) / DIMINUENDO_STEP_S)))
    for i in range(1, steps + 1):  # expression ~ 40 log10(value / 127) dB in SoundFont players
        value = int(round(127 * 10 ** (-DIMINUENDO_DB * i / steps / 40)))
        score.expression.append((strike + (release - strike) * i / steps, value))
    scale = MAJOR if mode == "major" else MINOR
    tonic = score.tonic
    chord = _chord(1, scale, tonic, False)
    prev = (lines.pad[-1], lines.harmony[-1], lines.b_sections[-1]) if lines and lines.pad else None
    for p in harmony.nearest_voicing(prev and prev[0], chord, harmony.CENTRE["pad"]):
        score.add("pad", strike, release, p, 45 + 30 * level)
    for p in harmony.nearest_voicing(
        prev and prev[1], chord, harmony.centre_of("harmony", bool(prev and prev[2]))
    ):
        score.add("harmony", strike, release, p, vel * 0.75, h_prog)
    score.add("bass", strike, release, 36 + ((tonic - 36) % 12), vel + 10)
    if level > 0.3:  # the lead lands on the tonic too, unless the cue ends calm
        score.add(
            "lead", strike, release, 60 + (tonic % 12) + (12 if tonic % 12 < 5 else 0), vel * 0.9, l_prog
        )
    if style.drums is not None:
        calm = level <= 0.3  # a calm cue ends on a soft kick, without a crash
        score.add("drums", strike, strike + 0.1, KICK, vel + 10 if calm else 127)
        if not calm:
            score.add("drums", strike, release, CRASH, 127)
