"""The topline: a motif per section, phrased in four bars, varied bar by bar.

A section's *motif* (:func:`motif`) is one or two bars of rhythm (onsets on
the eighth-note grid) and contour (diatonic steps), drawn from the section's
generator: the take's seed and the section's first bar, never a bar's own
seed, so every bar of the section hears the same motif. The bar's own
generator chooses how it is stated (:data:`VARIATIONS`: repeat, transpose to
fit the chord, answer (the contour mirrored), invert the end) and small
ornaments, so a regenerated bar gets new notes while every other bar stays
as it was.

Phrases are four bars (:func:`topline`): bars 1 and 3 state the motif's
first bar with its rhythm unchanged, bar 2 its second bar (or a variation of
the first), bar 4 ends the phrase: the motif's first half, then a long note
on a chord tone, then a rest before the next phrase. Phrases come in pairs:
the first (antecedent) ends on the third or fifth, the second (consequent)
on the root. Notes on the beats are chord tones; between them the contour
passes through scale tones. The line keeps within about a tenth around a
centre that rises with the bar's level; the level also sets how many of the
motif's notes sound (the strong ones first), never whether the topline plays,
except in the calmest bars (level under :data:`REST_BELOW`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: How a bar states the motif (the bar's generator chooses, with these weights).
VARIATIONS = ("repeat", "fit", "answer", "invert_end")
VARIATION_P = (0.35, 0.3, 0.15, 0.2)
REST_BELOW = 0.3  # bars calmer than this rest
CENTRE = 72  # the topline's centre (C5) at level 0.5; up to +-3 semitones with the level
SPAN = 9  # diatonic steps (about a tenth) the line may cover
PHRASE = 4


@dataclass(frozen=True)
class Motif:
    """A motif: per bar of it, onsets (eighth-note cells), lengths (cells),
    contour (diatonic steps from the motif's first note) and each note's rank
    (0: the most important, kept first when the level thins the line)."""

    onsets: tuple[tuple[int, ...], ...]
    lengths: tuple[tuple[int, ...], ...]
    contour: tuple[tuple[int, ...], ...]
    rank: tuple[tuple[int, ...], ...]

    @property
    def bars(self) -> int:
        return len(self.onsets)


def section_rng(seed: int, start_bar: int) -> np.random.Generator:
    """The section's generator: the take's seed and the section's first bar only."""
    return np.random.default_rng([int(seed), 0x70E, int(start_bar)])


#: Rhythm cells per beat, in eighths (0: on the beat, 1: the and), with their
#: weights when the style's line is sparse and when it is busy.
_CELLS: tuple[tuple[int, ...], ...] = ((0,), (0, 1), (), (1,))
_SPARSE = (0.5, 0.15, 0.3, 0.05)
_BUSY = (0.3, 0.5, 0.1, 0.1)


def motif(rng: np.random.Generator, beats: int, density: float, bars: int = 0) -> Motif:
    """A motif of ``bars`` (1 or 2; 0: ``rng`` chooses) bars of ``beats`` beats.

    ``density`` (0..1, the style's ``lead_density``) weighs busy cells (two
    eighths) against quarter notes and rests. Each bar has a note on its
    downbeat and at least three notes; the contour moves mostly by step.
    """
    n_bars = bars or int(rng.integers(1, 3))
    w = np.array(_SPARSE) + (np.array(_BUSY) - np.array(_SPARSE)) * float(np.clip(density * 2, 0, 1))
    w = w / w.sum()
    onsets, lengths, contour, ranks = [], [], [], []
    level = 0
    for m in range(n_bars):
        cells: list[int] = []
        for b in range(beats):
            pick = _CELLS[int(rng.choice(len(_CELLS), p=w))]
            if b == 0 and 0 not in pick:
                pick = (0, *tuple(c for c in pick if c))
            cells += [2 * b + c for c in pick]
        while len(cells) < min(3, 2 * beats):  # at least three notes
            free = [c for c in range(2 * beats) if c not in cells]
            cells.append(int(rng.choice(free)))
        cells = sorted(set(cells))
        lens = [b - a for a, b in zip(cells, [*cells[1:], 2 * beats], strict=True)]
        lens[-1] = min(lens[-1], 2)
        steps = []
        for i, _c in enumerate(cells):
            if m == 0 and i == 0:
                steps.append(0)
                continue
            move = int(rng.choice((-2, -1, -1, 1, 1, 2, 3, -3, 0)))
            level = int(np.clip(level + move, -4, 4))
            steps.append(level)
        # rank: downbeats first, then other beats, then off-beats (random within each)
        order = sorted(range(len(cells)), key=lambda i: (cells[i] != 0, cells[i] % 2, float(rng.random())))
        rank = [0] * len(cells)
        for r, i in enumerate(order):
            rank[i] = r
        onsets.append(tuple(cells))
        lengths.append(tuple(lens))
        contour.append(tuple(steps))
        ranks.append(tuple(rank))
    return Motif(tuple(onsets), tuple(lengths), tuple(contour), tuple(ranks))


def _pitch(d: int, tonic: int, scale: Sequence[int]) -> int:
    """The MIDI pitch of diatonic index ``d`` (0: the tonic in the octave from C4)."""
    return 60 + tonic % 12 + scale[d % 7] + 12 * (d // 7)


def _index_near(p: float, tonic: int, scale: Sequence[int]) -> int:
    """The diatonic index whose pitch is nearest ``p`` (the lower on a tie)."""
    d0 = int(np.floor((p - 60 - tonic % 12) / 12 * 7))
    return min(range(d0 - 3, d0 + 4), key=lambda d: (abs(_pitch(d, tonic, scale) - p), d))


def _snap(d: int, chord_pcs: set[int], tonic: int, scale: Sequence[int], lo: int, hi: int) -> int:
    """The diatonic index nearest ``d`` (within [lo, hi]) that is a chord tone; ``d`` when none is."""
    for off in (0, -1, 1, -2, 2, -3, 3):
        c = d + off
        if lo <= c <= hi and _pitch(c, tonic, scale) % 12 in chord_pcs:
            return c
    return d


def strong_tones(chord: Sequence[int], tonic: int) -> set[int]:
    """The pitch classes the topline lands on on a bar's strong beats: the
    tonic chord's root and third (the key's own notes, where the line comes
    home), any other chord's triad (its seventh and ninth are colour for the
    weaker beats)."""
    root = chord[0] % 12
    if root == tonic % 12:
        thirds = [p % 12 for p in chord if (p - chord[0]) % 12 in (3, 4)]
        return {root, *(thirds[:1] or [chord[2] % 12])}
    return {p % 12 for p in chord[:3]}


@dataclass(frozen=True)
class Phrase:
    """Where a bar stands: its place in the phrase (0..3), whether the phrase
    ends here (the fourth bar, a section's last bar, the cue's cadence) and
    whether it is the answering (consequent) phrase of a pair."""

    position: int
    ends: bool
    consequent: bool


def phrase_of(bar_in_section: int, section_bars: int, cadence: bool) -> Phrase:
    """The phrase place of the bar ``bar_in_section`` of a section of ``section_bars`` bars."""
    pos = bar_in_section % PHRASE
    ends = pos == PHRASE - 1 or bar_in_section == section_bars - 1 or cadence
    return Phrase(pos, ends, (bar_in_section // PHRASE) % 2 == 1 or cadence)


def topline(
    mot: Motif,
    phrase: Phrase,
    chord: Sequence[int],
    tonic: int,
    scale: Sequence[int],
    level: float,
    beats: int,
    rng: np.random.Generator,
) -> list[tuple[int, int, int, float]]:
    """One bar of topline: ``(onset cell, length in cells, MIDI pitch, velocity factor)``
    per note, cells being eighth notes (``2 * beats`` in the bar).

    ``chord`` the bar's chord (pitches relative to C, root first), ``scale``
    its scale (steps from ``tonic``), ``level`` its energy (0..1), ``rng`` the
    bar's generator (the variation and the ornaments). Empty in the calmest
    bars (level < :data:`REST_BELOW`).
    """
    variation = VARIATIONS[int(rng.choice(len(VARIATIONS), p=VARIATION_P))]
    ornament = rng.random(16)
    if level < REST_BELOW:
        return []
    m = phrase.position % mot.bars
    if mot.bars == 1 and phrase.position % 2 == 1 and variation == "repeat":
        variation = "fit"  # the second bar of a one-bar motif is never a plain repeat
    cells, lens, steps, rank = (list(x[m]) for x in (mot.onsets, mot.lengths, mot.contour, mot.rank))
    chord_pcs = {p % 12 for p in chord}
    strong = strong_tones(chord, tonic)
    strong_cells = {0, 2 * (beats // 2)}  # the downbeat and the bar's middle beat
    on_tonic = chord[0] % 12 == tonic % 12  # the tonic chord: its downbeat lands on the tonic itself
    centre = CENTRE + 6 * (float(np.clip(level, 0, 1)) - 0.5)
    home = _index_near(centre, tonic, scale)  # the motif's first note, before fitting
    lo, hi = home - SPAN // 2, home + SPAN - SPAN // 2
    if variation == "answer":
        steps = [-s for s in steps]
    elif variation == "invert_end":
        half = len(steps) // 2
        steps = steps[:half] + [2 * steps[half - 1] - s if half else -s for s in steps[half:]]
    anchor = home
    if variation in ("fit", "answer", "invert_end"):
        anchor = _snap(home, chord_pcs, tonic, scale, lo, hi)
    # the level thins the line: the most important notes stay
    keep = max(2, int(np.ceil(len(cells) * float(np.clip(0.35 + 0.8 * level, 0.4, 1.0)))))
    out: list[tuple[int, int, int, float]] = []
    for i, (c, n, s, r) in enumerate(zip(cells, lens, steps, rank, strict=True)):
        if r >= keep:
            continue
        d = anchor + s
        if d < lo:
            d = 2 * lo - d
        if d > hi:
            d = 2 * hi - d
        d = int(np.clip(d, lo, hi))
        on_beat = c % 2 == 0
        if on_beat:
            pcs = ({tonic % 12} if on_tonic and c == 0 else strong) if c in strong_cells else chord_pcs
            d = _snap(d, pcs, tonic, scale, lo, hi)
        elif ornament[i % 16] < 0.3:  # a neighbour instead of the passing tone
            d = int(np.clip(d + (1 if ornament[(i + 7) % 16] < 0.5 else -1), lo, hi))
        out.append((c, n, _pitch(d, tonic, scale), 0.85 if on_beat else 0.7))
    # extend each note to the next (legato), as written
    out = [(c, (out[j + 1][0] - c) if j + 1 < len(out) else n, p, v) for j, (c, n, p, v) in enumerate(out)]
    if phrase.ends:
        out = _cadence(out, chord, tonic, scale, beats, phrase.consequent, lo, hi)
    return out


def _cadence(
    notes: list[tuple[int, int, int, float]],
    chord: Sequence[int],
    tonic: int,
    scale: Sequence[int],
    beats: int,
    consequent: bool,
    lo: int,
    hi: int,
) -> list[tuple[int, int, int, float]]:
    """The phrase's end: the notes before the bar's middle beat, then a long
    chord tone there (the root after a consequent, else the third or fifth)
    held to the last half beat, which rests."""
    mid = 2 * max(1, beats // 2) if beats >= 2 else 0
    before = [(c, min(n, mid - c), p, v) for c, n, p, v in notes if c < mid]
    last = before[-1][2] if before else _pitch((lo + hi) // 2, tonic, scale)
    root = chord[0] % 12
    third_fifth = {p % 12 for p in chord[1:3]}
    want = {root} if consequent else (third_fifth - {root} or {root})
    cands = [d for d in range(lo, hi + 1) if _pitch(d, tonic, scale) % 12 in want]
    if cands:
        end = _pitch(min(cands, key=lambda d: (abs(_pitch(d, tonic, scale) - last), d)), tonic, scale)
    else:  # a chord tone off the scale (bVII's root): the nearest such pitch
        end = min(
            (p for p in range(_pitch(lo, tonic, scale), _pitch(hi, tonic, scale) + 1) if p % 12 in want),
            key=lambda p: abs(p - last),
            default=last,
        )
    length = max(1, 2 * beats - 1 - mid)
    return [*before, (mid, length, end, 0.8)]
