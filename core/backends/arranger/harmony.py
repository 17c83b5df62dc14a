"""Harmony: chord colour, voice leading by nearest inversion, and the bass line.

Chords are lists of pitches relative to C (the root first, as
``compose._chord`` builds them); a *voicing* is a tuple of MIDI pitches,
low to high.

- :func:`chord_tones` colours a scale degree's chord by the style
  (:class:`~vidmusician.core.styles.HarmonyMelody`): sus2/sus4, add9,
  sevenths (maj7, m7, V7), ninths, power chords, bVII.
- :func:`nearest_voicing` picks, among the close-position voicings of a
  chord whose mean pitch lies in a part's register window, the one whose
  voices move least from the previous voicing (:func:`motion`, a minimal
  one-to-one matching): no voice jumps, and the window keeps the part from
  creeping up or down.
- :func:`chain` voices a whole chord sequence that way. The arranger chains
  the *progression's* chords (the song-wide choice: a bar's substitute is not
  in it), and voices each bar's own chord nearest to the chain's voicing of
  the bar before: a bar's voicing depends on the song and on that bar's own
  generator only, so regenerating a range leaves every other bar as it was.
- :func:`bass_line` writes a bar of bass in a real bass register (E1 = 28 up
  to G3 = 55) by figure: roots and fifths, octave jumps, passing notes, and
  a chromatic or diatonic approach into the next chord's root before a chord change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import permutations

import numpy as np

from ...styles import HarmonyMelody, Style

#: The register windows (centre MIDI pitch of a voicing's mean, and its half
#: width in semitones) of the parts that hold chords; B sections lift the harmony.
CENTRE = {"pad": 60.0, "harmony": 65.0}
HALF_WIDTH = 5.0
B_LIFT = 5.0
#: The electric bass's range: E1 .. G3.
BASS_LOW, BASS_HIGH = 28, 55

_MAJOR = (0, 2, 4, 5, 7, 9, 11)


def chord_tones(
    degree: int,
    scale: Sequence[int],
    tonic: int,
    spec: HarmonyMelody,
    *,
    part: str = "pad",
    plain_sevenths: bool = False,
    resolving: bool = False,
    home: bool = False,
) -> list[int]:
    """The chord on ``degree`` (1-7) of ``scale`` in ``tonic``, coloured by ``spec``.

    Pitches relative to C (``tonic + scale step``, may exceed 11), the root first.
    ``part="harmony"`` gives power chords (root, fifth) where ``spec.power``;
    ``plain_sevenths`` is ``Style.sevenths``, read when ``spec.sevenths`` is
    ``""``. ``resolving`` (the last chord of a cue that ends without a final
    strike) gives the plain triad. ``home`` (the tonic where the harmonic plan
    puts it: a phrase's start and end) leaves out the seventh, keeping a ninth
    as an add9: a major seventh over the tonic is the mediant's minor triad
    (Bbmaj7 holds D minor), a minor seventh the relative major (Cm7 holds Eb),
    and at the phrase's start and end the key should be heard, not its neighbour.
    """

    def step(i: int) -> int:
        return tonic + scale[i % 7] + 12 * (i // 7)

    r = degree - 1
    root = step(r)
    if spec.flat_seven and degree == 7 and tuple(scale) == _MAJOR:
        root = tonic + 10  # bVII: a major triad a whole tone under the tonic
        triad = [root, root + 4, root + 7]
        return [root, root + 7] if part == "harmony" and spec.power else triad
    third, fifth = step(r + 2), step(r + 4)
    perfect_fifth = fifth - root == 7
    if resolving:
        return [root, third, fifth]
    if part == "harmony" and spec.power and perfect_fifth:
        return [root, fifth]
    tones = [root, third, fifth]
    second, fourth = step(r + 1), step(r + 3)
    if degree in spec.sus4 and fourth - root == 5 and perfect_fifth:
        tones[1] = fourth
    elif degree in spec.sus2 and second - root == 2 and perfect_fifth:
        tones[1] = second
    sevenths = spec.sevenths or ("diatonic" if plain_sevenths else "none")
    seventh = step(r + 6)
    major_triad = third - root == 4 and perfect_fifth
    has_seventh = sevenths == "diatonic" or (sevenths == "dominant" and degree == 5 and major_triad)
    if home and degree == 1 and has_seventh:  # the seventh left out, its ninth kept as an add9
        has_seventh, add9 = False, spec.ninths or degree in spec.add9
    else:
        add9 = (has_seventh and spec.ninths) or (not has_seventh and degree in spec.add9)
    if has_seventh:
        tones.append(root + 10 if sevenths == "dominant" else seventh)
    ninth = step(r + 8)
    if add9 and ninth - root == 14:
        tones.append(ninth)
    return tones


def close_voicings(
    chord: Sequence[int], low: int = 24, high: int = 100, double: bool = False
) -> list[tuple[int, ...]]:
    """Every close-position voicing of ``chord``'s pitch classes: each rotation
    (inversion) stacked upwards inside an octave, from every bottom note in
    [low, high]; ``double`` doubles the bottom note an octave up (power chords)."""
    pcs = sorted({p % 12 for p in chord})
    out: list[tuple[int, ...]] = []
    for r in range(len(pcs)):
        rot = pcs[r:] + pcs[:r]
        for bottom in range(low + (rot[0] - low) % 12, high + 1, 12):
            v = [bottom]
            for pc in rot[1:]:
                v.append(v[-1] + (pc - v[-1]) % 12 or 12)
            if double:
                v.append(bottom + 12)
            out.append(tuple(v))
    return out


def motion(a: Sequence[int], b: Sequence[int]) -> int:
    """Semitones the voices move from voicing ``a`` to ``b``: the smallest total
    of a one-to-one matching of the smaller set's notes into the larger's, each
    note of the larger left over counted to its nearest note of the other
    (as ``benchmark/music_measures.chord_motion`` counts it)."""
    x, y = sorted(set(a)), sorted(set(b))
    if not x or not y:
        return 0
    small, large = (x, y) if len(x) <= len(y) else (y, x)
    best = None
    for perm in permutations(range(len(large)), len(small)):
        cost = sum(abs(s - large[j]) for s, j in zip(small, perm, strict=True))
        rest = set(range(len(large))) - set(perm)
        cost += sum(min(abs(large[j] - s) for s in small) for j in rest)
        if best is None or cost < best:
            best = cost
    return int(best or 0)


def _mean(v: Sequence[int]) -> float:
    return float(np.mean(v))


def nearest_voicing(
    prev: Sequence[int] | None,
    chord: Sequence[int],
    centre: float,
    half_width: float = HALF_WIDTH,
    double: bool = False,
) -> tuple[int, ...]:
    """The voicing of ``chord`` inside the window (mean pitch within
    ``centre +- half_width``) that moves least from ``prev`` (None: the one
    nearest the centre); ties go to the one nearer the centre, then the lower."""
    cands = close_voicings(chord, double=double)
    inside = [v for v in cands if abs(_mean(v) - centre) <= half_width]
    if not inside:  # a wide chord: the nearest to the window
        inside = sorted(cands, key=lambda v: abs(_mean(v) - centre))[:2]
    if prev is None or not len(prev):
        return min(inside, key=lambda v: (abs(_mean(v) - centre), v))
    return min(inside, key=lambda v: (motion(prev, v), abs(_mean(v) - centre), v))


def centre_of(part: str, b_section: bool) -> float:
    """The register window's centre of ``part`` ("pad" | "harmony"); B sections lift the harmony."""
    return CENTRE[part] + (B_LIFT if part == "harmony" and b_section else 0.0)


def chain(
    chords: Sequence[Sequence[int]], centres: Sequence[float], double: bool = False
) -> list[tuple[int, ...]]:
    """Voice a chord sequence by nearest inversion: the first nearest its window's
    centre, every next one :func:`nearest_voicing` from the one before."""
    out: list[tuple[int, ...]] = []
    for c, centre in zip(chords, centres, strict=True):
        out.append(nearest_voicing(out[-1] if out else None, c, centre, double=double))
    return out


@dataclass(frozen=True)
class Lines:
    """The song-wide chains, one entry per bar: the progression chord's pad and
    harmony voicings and its root (pitch class). Bars are voiced against them."""

    pad: tuple[tuple[int, ...], ...]
    harmony: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]
    b_sections: tuple[bool, ...] = ()
    power: bool = False
    #: the harmonic plan (:func:`plan_degrees`): each bar's degree, and whether the plan fixed it
    degrees: tuple[int, ...] = ()
    fixed: tuple[bool, ...] = ()

    def degree(self, bar: int, degree: int) -> int:
        """Bar ``bar``'s degree: the plan's where it fixed one (a cadence, a phrase's
        tonic), else ``degree`` (the progression's, or the bar's own substitute)."""
        return self.degrees[bar] if bar < len(self.fixed) and self.fixed[bar] else degree

    def voice(
        self, bar: int, pad_chord: Sequence[int], harmony_chord: Sequence[int], b_section: bool
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Bar ``bar``'s (pad, harmony) voicings of its own chords: nearest to the
        chain's voicings of the bar before (the first bar: nearest the centre)."""
        prev_pad = self.pad[bar - 1] if 0 < bar <= len(self.pad) else None
        prev_h = self.harmony[bar - 1] if 0 < bar <= len(self.harmony) else None
        double = self.power and len({p % 12 for p in harmony_chord}) == 2
        return (
            nearest_voicing(prev_pad, pad_chord, centre_of("pad", False)),
            nearest_voicing(prev_h, harmony_chord, centre_of("harmony", b_section), double=double),
        )

    def next_root(self, bar: int) -> int | None:
        """The pitch class of the progression's root in the bar after ``bar`` (None after the last)."""
        return self.roots[bar + 1] % 12 if bar + 1 < len(self.roots) else None


def lines(bars: Sequence[tuple[Sequence[int], Sequence[int], bool]], power: bool = False) -> Lines:
    """The chains of a cue: ``bars`` holds, per bar, the progression's pad chord,
    its harmony chord and whether the bar is in a B section (every input a
    song-wide choice, never a bar's own draw)."""
    pads = chain([b[0] for b in bars], [centre_of("pad", False) for _ in bars])
    harms: list[tuple[int, ...]] = []
    for _pad_c, h_c, b_sec in bars:
        double = power and len({p % 12 for p in h_c}) == 2
        harms.append(
            nearest_voicing(harms[-1] if harms else None, h_c, centre_of("harmony", b_sec), double=double)
        )
    return Lines(
        tuple(pads), tuple(harms), tuple(b[0][0] % 12 for b in bars), tuple(b[2] for b in bars), power
    )


# --------------------------------------------------------------------------- the bass line


def bass_root(pc: int, low: int) -> int:
    """The root ``pc`` in the octave [low, low + 12)."""
    return low + (pc - low) % 12


def _approach(target: int, frm: int, kind: str, scale_pcs: Sequence[int], pick: float) -> int:
    """A note a step from ``target``, on the side ``frm`` comes from: chromatic (a
    semitone), diatonic (the scale's step) or, for ``"both"``, ``pick`` chooses."""
    if kind == "both":
        kind = "chromatic" if pick < 0.5 else "diatonic"
    below = frm < target or (frm == target and pick < 0.5)

    def side(below: bool) -> int:
        if kind == "chromatic":
            return target - 1 if below else target + 1
        for d in (1, 2):
            cand = target - d if below else target + d
            if cand % 12 in scale_pcs:
                return cand
        return target - 1 if below else target + 1

    ap = side(below)
    # a step that is the note the bar already plays (a root a step away) is no
    # approach: come from the other side
    return side(not below) if ap % 12 == frm % 12 else ap


def _figure(
    fig: str,
    root: int,
    fifth: int,
    octave: int,
    scale_pcs: Sequence[int],
    steps_per_bar: int,
    sub: int,
    level: float,
    pick: float,
    alt: float,
    hit: bool,
) -> list[tuple[int, int, int, float]]:
    """The bar's notes in bass figure ``fig`` (see :func:`bass_line`), before the approach note."""
    e = max(1, sub // 2)  # steps per eighth
    beats = max(1, steps_per_bar // max(1, sub))
    notes: list[tuple[int, int, int, float]] = []
    if fig == "whole":
        notes = [(0, steps_per_bar, root, 1.0)]
    elif fig == "long":
        if level >= 0.7 and beats >= 2:
            half = (beats // 2) * sub
            notes = [(0, half, root, 1.0), (half, steps_per_bar - half, root if alt < 0.5 else octave, 0.85)]
        else:
            notes = [(0, steps_per_bar, root, 1.0)]
    elif fig == "drive":
        unit = e if level >= 0.5 else max(1, sub)
        for k in range(0, steps_per_bar, unit):
            p = root
            if level >= 0.75 and beats >= 4 and k == (beats // 2) * sub + unit and alt < 0.4:
                p = fifth  # a fifth on the and of three now and then
            notes.append((k, unit, p, 1.0 if k % max(1, sub) == 0 else 0.8))
    elif fig == "pump":
        if level >= 0.7:  # octave pumping: root and octave on the eighths
            for i, k in enumerate(range(0, steps_per_bar, e)):
                notes.append((k, e, octave if i % 2 else root, 1.0 if i % 2 else 0.9))
        else:  # off-beat eighths
            for k in range(e, steps_per_bar, 2 * e):
                notes.append((k, e, root, 0.95))
            if hit or level < 0.4:
                notes.insert(0, (0, e, root, 1.0))
    elif fig == "root-fifth":
        # the root holds most of the bar (a fifth sounding as long would be heard as the key)
        b = max(1, sub)
        if level < 0.5 or beats < 3:
            notes = [(0, (beats - 1) * b, root, 1.0), ((beats - 1) * b, b, fifth, 0.85)]
        else:  # root (dotted), root on the and of two, the fifth an eighth on three, octave or root on four
            notes = [
                (0, 3 * e, root, 1.0),
                (3 * e, e, root, 0.75),
                (2 * b, e, fifth, 0.9),
                (2 * b + e, e, root, 0.75),
                (3 * b, b, octave if alt < 0.5 else root, 0.8),
            ]
            notes += [(k, b, root, 0.8) for k in range(4 * b, steps_per_bar, b)]
    elif fig == "walk":
        b = max(1, sub)
        if level < 0.4 or beats < 3:
            notes = [(0, (beats - 1) * b, root, 1.0), ((beats - 1) * b, b, fifth, 0.85)]
        else:  # root, root (now and then the second, a passing step), fifth, octave or root
            # (the third stays out of the bass: under the tonic it would sound the mediant's triad)
            passing = [p for p in range(root + 1, fifth) if p % 12 in scale_pcs]
            step2 = root if alt < 0.7 or not passing else passing[0]
            walk = [root, step2, fifth, octave if pick < 0.5 else root]
            notes = [(i * b, b, walk[i % 4], 1.0 if i == 0 else 0.8) for i in range(beats)]
    return notes


def bass_line(
    spec: HarmonyMelody,
    root_pc: int,
    fifth_pc: int,
    next_root_pc: int | None,
    scale_pcs: Sequence[int],
    steps_per_bar: int,
    sub: int,
    level: float,
    rng: np.random.Generator,
    hit: bool = False,
    resolving: bool = False,
) -> list[tuple[int, int, int, float]]:
    """One bar of bass: ``(step, length in steps, MIDI pitch, velocity factor)`` per note.

    ``steps_per_bar`` grid steps of ``sub`` per beat; ``level`` (0..1) the
    bar's energy (busier when high); ``next_root_pc`` the next bar's root when
    the chord changes there (an approach note leads into it on the bar's last
    eighth, or its last beat when walking); ``hit``: a hard cut on the
    downbeat, whose note is always struck on step 0; ``resolving``: the last
    bar, the root held. Every choice comes from ``rng``, the bar's generator.
    Pitches stay in E1..G3 (28..55).
    """
    low = spec.bass_low
    root = bass_root(root_pc, low)
    fifth = root + (fifth_pc - root_pc) % 12
    octave = root + 12
    e = max(1, sub // 2)  # steps per eighth
    pick = float(rng.random())  # the bar's choices, drawn in this order
    alt = float(rng.random())
    if resolving:
        return [(0, steps_per_bar, root, 1.0)]
    fig = spec.bass
    notes = _figure(fig, root, fifth, octave, scale_pcs, steps_per_bar, sub, level, pick, alt, hit)
    if next_root_pc is not None and next_root_pc != root_pc % 12 and spec.approach != "none" and notes:
        target = bass_root(next_root_pc, low)
        last_start = steps_per_bar - (max(1, sub) if fig == "walk" else e)
        notes = [(k, min(n, last_start - k), p, v) for k, n, p, v in notes if k < last_start]
        frm = notes[-1][2] if notes else root
        ap = _approach(target, frm, spec.approach, scale_pcs, pick)
        if ap < BASS_LOW:  # no room under E1: approach from above
            ap = 2 * target - ap
        notes.append((last_start, steps_per_bar - last_start, ap, 0.8))
    if hit and not any(k == 0 for k, *_ in notes):
        notes.insert(0, (0, e, root, 1.0))
    return [(k, n, int(np.clip(p, BASS_LOW, BASS_HIGH)), v) for k, n, p, v in notes if n > 0]


def step_time(grid: np.ndarray, t1: float, pos: float) -> float:
    """The time (seconds) of grid position ``pos`` (steps from the bar's downbeat,
    fractions between grid points linear) in a bar of grid times ``grid`` ending at ``t1``."""
    pts = np.append(np.asarray(grid, np.float64), t1)
    return float(np.interp(pos, np.arange(len(pts)), pts))


def bar_chords(
    lines_: Lines,
    bar: int,
    degree: int,
    scale: Sequence[int],
    tonic: int,
    style: Style,
    resolving: bool,
) -> tuple[list[int], tuple[int, ...], tuple[int, ...]]:
    """Bar ``bar``'s chord (the pad's: pitches relative to C, root first) and its
    (pad, harmony) voicings nearest the chain's voicings of the bar before."""
    b_section = lines_.b_sections[bar] if bar < len(lines_.b_sections) else False
    degree = lines_.degree(bar, degree)
    home = degree == TONIC and bar < len(lines_.fixed) and lines_.fixed[bar]
    pad, harm = _tones(degree, scale, tonic, style, resolving, home)
    pad_v, harm_v = lines_.voice(bar, pad, harm, b_section)
    return pad, pad_v, harm_v


def _tones(
    degree: int, scale: Sequence[int], tonic: int, style: Style, resolving: bool, home: bool
) -> tuple[list[int], list[int]]:
    """The pad's and the harmony's chord on ``degree`` (:func:`chord_tones`)."""
    spec, sev = style.harmony_melody, style.sevenths
    return (
        chord_tones(degree, scale, tonic, spec, plain_sevenths=sev, resolving=resolving, home=home),
        chord_tones(
            degree, scale, tonic, spec, part="harmony", plain_sevenths=sev, resolving=resolving, home=home
        ),
    )


# --------------------------------------------------------------------------- the harmonic plan

#: Bars per phrase (the topline's, :data:`.melody.PHRASE`) and per period (two phrases).
PHRASE, PERIOD = 4, 8
TONIC, PRE_DOMINANT = 1, 4


def dominant(degrees: Sequence[int]) -> int:
    """The dominant-function chord of a progression: V where it has one, else
    its VII (the subtonic: bVII of rock's major keys, VII of natural minor)."""
    return 5 if 5 in degrees or 7 not in degrees else 7


def plan_degrees(rows: Sequence[tuple[int, str, int, int]]) -> tuple[list[int], list[bool]]:
    """The song's harmonic plan: per bar, its degree and whether the plan fixed it.

    ``rows`` holds per bar the progression's (degree, mode, section, bar in
    section); the last row is the cue's own ending (compose's cadence or the
    resolving tonic), kept. The plan makes the key heard, as a producer would:

    - every phrase (:data:`PHRASE` bars) starts on the tonic;
    - every section that another follows ends on the dominant (:func:`dominant`
      of the section's mode), a cadence into the next section's tonic, and so
      does the bar before a resolving last bar;
    - a period (:data:`PERIOD` bars) that does not end the section closes on an
      authentic cadence: the dominant, then the tonic;
    - no dominant is played twice into its resolution: the bar before is the
      pre-dominant (IV, iv in minor); the progression's own dominant before a
      planned tonic is kept (no bar substitutes it).

    Every other bar keeps the progression's chord (and may take a bar's substitute).
    """
    n = len(rows)
    doms = {m: dominant([r[0] for r in rows[:-1] if r[1] == m]) for m in ("major", "minor")}
    length: dict[int, int] = {}
    for r in rows:
        length[r[2]] = length.get(r[2], 0) + 1
    out, fixed = [r[0] for r in rows], [False] * n
    for i, (_deg, mode, sec, k) in enumerate(rows[:-1]):
        last_of_section = k == length[sec] - 1
        before_end = i == n - 2 and rows[-1][0] == TONIC
        if (last_of_section and k > 0) or before_end:
            out[i] = doms[mode]
        elif k % PHRASE == 0 or (k % PERIOD == PERIOD - 1):
            out[i] = TONIC
        elif k % PERIOD == PERIOD - 2 and k + 2 < length[sec] and i + 2 < n:
            out[i] = doms[mode]
        else:
            continue
        fixed[i] = True
    if n:
        fixed[-1] = True
    for i in range(n - 2, -1, -1):
        dom = doms[rows[i][1]]
        if fixed[i + 1] and not fixed[i] and out[i] == out[i + 1] == dom:
            out[i], fixed[i] = PRE_DOMINANT, True
        elif fixed[i + 1] and out[i + 1] == TONIC and out[i] == dom:
            fixed[i] = True  # the progression's own cadence into the tonic: no substitute
    return out, fixed


def song_lines(
    n_bars: int,
    progression: Callable[[int], tuple[int, tuple[int, ...], str, int, int]],
    tonic: int,
    style: Style,
    strike: bool = True,
) -> Lines:
    """The chains of a cue of ``n_bars`` bars. ``progression(bar)`` gives the
    bar's (degree, scale, mode, section, bar in section) before its substitute:
    a song-wide choice, which the harmonic plan (:func:`plan_degrees`) then
    shapes. ``strike``: the cue ends with a final strike (else the last bar
    resolves to the plain tonic)."""
    rows: list[tuple[list[int], list[int], bool]] = []
    prog = [progression(i) for i in range(n_bars)]
    degrees, fixed = plan_degrees([(d, m, s, k) for d, _, m, s, k in prog])
    for i in range(n_bars):
        _, scale, _, sec_i, _ = prog[i]
        degree = degrees[i]
        resolving = i == n_bars - 1 and not strike
        pad, harm = _tones(degree, scale, tonic, style, resolving, fixed[i] and degree == TONIC)
        rows.append((pad, harm, sec_i % 2 == 1))
    return replace(lines(rows, style.harmony_melody.power), degrees=tuple(degrees), fixed=tuple(fixed))


def arp_index(i: int, n: int) -> int:
    """The voice (0 = lowest) the ``i``-th note of an arpeggio over ``n`` voices plays:
    up and down inside the voicing (0 1 2 1 0 1 2 1 for a triad), so the figure
    moves as little as the chords it spells."""
    if n <= 1:
        return 0
    j = i % (2 * n - 2)
    return j if j < n else 2 * n - 2 - j
