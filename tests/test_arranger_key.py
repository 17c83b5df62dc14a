"""The key named is the key heard (issue 17): the harmonic plan establishes the
tonic (every phrase starts on it, a cadence leads into every section, periods
close on an authentic cadence), the bass is on the tonic there, the topline
comes home to the tonic or its third on strong beats; and a key estimate of
the notes themselves (a pitch-class histogram weighted by duration and
metrical weight, Krumhansl-Schmuckler) names the key, for many keys and seeds
of every style."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from vidmusician.core import styles
from vidmusician.core.backends.arranger import compose_score, harmony, melody
from vidmusician.core.backends.arranger.compose import MAJOR, _progression, _song

from .conftest import REPO

STYLES = ("cinematic", "corporate-upbeat", "electronic", "ambient", "rock", "lo-fi", "acoustic")
sys.path.insert(0, str(REPO / "benchmark"))
#: the benchmark's Krumhansl-Schmuckler estimator (one copy)
MEASURES = importlib.import_module("music_measures")


def _cut(seconds=40.0, spacing=(1.0, 3.0), seed=3):
    """A made-up cut (24 fps): cuts ``spacing`` seconds apart, the motion rising and falling;
    its plan has several sections."""
    from vidmusician.core import plan
    from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline, VideoFeatures

    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(*spacing, int(seconds / spacing[0]) + 2))
    times = np.round(times[times < seconds - 1.0] * 24) / 24
    anchors = tuple(Anchor(float(t), "cut", 1.0) for t in times)
    src = InputSource("-", "otio_json")
    tl = Timeline("cut", 24.0, int(seconds * 24), "00:00:00:00", (), (), anchors, src)
    n = int(seconds * 25)
    values = np.clip(0.5 + 0.4 * np.sin(np.arange(n) / n * 4 * np.pi) + rng.normal(0, 0.05, n), 0, 1)
    cue = VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), anchors)
    return cue, {style: plan(cue, style)[0] for style in STYLES}


CUT = _cut()


def _rows(sections, prog, mode="major", last=5):
    """Rows of plan_degrees for sections of the given lengths playing ``prog`` (one chord a bar)."""
    rows = [(prog[k % len(prog)], mode, s, k) for s, n in enumerate(sections) for k in range(n)]
    rows[-1] = (last, mode, rows[-1][2], rows[-1][3])
    return rows


# --------------------------------------------------------------------------- the harmonic plan


def test_the_plan_by_known_answers():
    # an 8-bar and a 6-bar section of I-V-vi-IV, the cue's cadence (V) last
    degrees, fixed = harmony.plan_degrees(_rows([8, 6], (1, 5, 6, 4)))
    assert degrees == [*(1, 5, 6, 4, 1, 5, 6, 5), *(1, 5, 6, 4, 1, 5)]
    #                  ^ phrase   ^ phrase  ^ V into the next section; the last bar: compose's V
    assert [i for i, f in enumerate(fixed) if f] == [0, 4, 7, 8, 12, 13]
    # a 16-bar section: the first period closes on V-I, the second leads into the next section
    degrees, _ = harmony.plan_degrees(_rows([16, 4], (1, 4, 6, 5)))
    assert degrees[:16] == [1, 4, 6, 5, 1, 4, 5, 1, 1, 4, 6, 5, 1, 4, 6, 5]
    # a dominant is not played twice into its resolution: the bar before becomes IV
    degrees, _ = harmony.plan_degrees(_rows([4, 4], (1, 4, 5, 4)))
    assert degrees[:4] == [1, 4, 4, 5]
    # minor, a progression without V: its VII is the dominant (the subtonic)
    degrees, _ = harmony.plan_degrees(_rows([6, 4], (1, 6, 3, 7), "minor", last=7))
    assert degrees == [*(1, 6, 3, 7, 1, 7), *(1, 6, 3, 7)]
    assert harmony.dominant((1, 6, 3, 7)) == 7 and harmony.dominant((1, 5, 6, 4)) == 5
    # a resolving last bar (the tonic): the bar before is the dominant
    degrees, _ = harmony.plan_degrees(_rows([6], (1, 6, 2, 5), last=1))
    assert degrees == [1, 6, 2, 4, 5, 1]  # and the V before it a IV: no V twice


@pytest.mark.parametrize("style", STYLES)
def test_every_phrase_starts_on_the_tonic_with_the_bass_on_it(style):
    cue, plans = CUT
    p = plans[style]
    assert len(p.sections) >= 2
    for key in ("C major", "F# minor", "Bb major", "E minor"):
        song = _song(p, cue, styles.get(style), 4, "", None, key)[0]
        s = compose_score(p, cue, style, seed=4, key=key)
        downs, tonic = p.downbeats_s, song.tonic
        starts = ends = 0
        for bar in range(song.n_bars - 1):
            _, _, mode, _, k = _progression(song, bar)
            cadence = _progression(song, bar + 1)[4] == 0 and k > 0  # the section's last bar
            root = song.lines.roots[bar]
            if k % harmony.PHRASE == 0 and not cadence:  # a phrase's first bar
                starts += 1
                assert root == tonic, (style, key, bar)
                first = [n for n in s.parts["bass"] if downs[bar] - 0.03 <= n.start < downs[bar + 1] - 0.03]
                if first:  # a bar the form gives a bass: its first note is the tonic, on the downbeat
                    assert first[0].pitch % 12 == tonic and first[0].start - downs[bar] < 0.05, (style, bar)
            if cadence and bar + 1 < song.n_bars - 1:  # a section follows: the dominant leads into it
                ends += 1
                prog = song.prog_major if mode == "major" else song.prog_minor
                assert song.lines.degrees[bar] == harmony.dominant(prog), (style, key, bar)
        assert starts >= 3 and ends >= 1, (style, starts, ends)


def test_the_topline_comes_home_on_the_tonic_chords_strong_beats():
    mot = melody.motif(melody.section_rng(5, 0), 4, 0.5, bars=2)
    tonic_chord = [0, 4, 7, 11, 14]  # Cmaj9
    for seed in range(30):
        for pos in range(4):
            ph = melody.phrase_of(pos, 8, False)
            notes = melody.topline(mot, ph, tonic_chord, 0, MAJOR, 0.8, 4, np.random.default_rng([seed, pos]))
            strong = [p % 12 for c, _, p, _ in notes if c in (0, 4)]
            assert strong and set(strong) <= {0, 4}, (seed, pos, notes)  # C or E, never the 7th or 9th
            assert notes[0][0] == 0 and notes[0][2] % 12 == 0  # the downbeat: the tonic itself
    # another chord's strong beats: its triad (Dm9: D F A, not its C or E)
    notes = melody.topline(
        mot, melody.phrase_of(0, 8, False), [2, 5, 9, 12, 16], 0, MAJOR, 0.8, 4, np.random.default_rng(0)
    )
    assert {p % 12 for c, _, p, _ in notes if c in (0, 4)} <= {2, 5, 9}
    assert melody.strong_tones([9, 12, 16], 9) == {9, 0} and melody.strong_tones([7, 11, 14, 17], 0) == {
        7,
        11,
        2,
    }


# --------------------------------------------------------------------------- the key of the notes


def score_key(score, downbeats, beats_per_bar):
    """Krumhansl-Schmuckler on the score's pitched notes: each note's pitch class weighted by its
    duration, by the metrical weight of its onset (downbeat 2, other beats 1.5, off-beats 1) and
    the bass's twice (it is the harmony's foundation, and its low partials fill a chroma)."""
    h = np.zeros(12)
    beat = float(np.median(np.diff(downbeats))) / beats_per_bar
    for part, notes in score.parts.items():
        if part == "drums":
            continue
        for n in notes:
            bar = max(0, int(np.searchsorted(downbeats, n.start + 1e-6, side="right")) - 1)
            pos = (n.start - downbeats[min(bar, len(downbeats) - 1)]) / beat
            w = 2.0 if abs(pos) < 0.1 else 1.5 if abs(pos - round(pos)) < 0.1 else 1.0
            h[n.pitch % 12] += w * (n.end - n.start) * (2.0 if part == "bass" else 1.0)
    name, _ = MEASURES.key_of_chroma(h)
    tonic, mode = name.split()
    return f"{MEASURES.NOTE_NAMES.index(tonic)} {mode}"


#: The share of keys x seeds whose notes name the key, at least (measured: cinematic and
#: corporate-upbeat 48/48, ambient and acoustic 47/48, lo-fi 45/48, electronic 41/48, rock
#: 37/48: this estimate reads rock's i-bVII-bVI-bVII as the relative major, and electronic's
#: and lo-fi's major keys now and then as their dominant, which the rendered chroma mostly
#: does not; lo-fi's Bb major cues read F major from an unweighted histogram of their notes
#: before the harmonic plan)
NAMED_SHARE = {"electronic": 0.8, "rock": 0.75}


@pytest.mark.parametrize("style", STYLES)
def test_the_notes_name_the_key_in_every_key(style):
    cue, plans = CUT
    p = plans[style]
    bpb = p.meter.beats
    misses, total = [], 0
    for tonic in range(12):
        for mode in ("major", "minor"):
            for seed in (1, 2):
                name = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")[tonic]
                s = compose_score(p, cue, style, seed=seed + tonic, key=f"{name} {mode}")
                total += 1
                got = score_key(s, p.downbeats_s, bpb)
                if got != f"{tonic} {mode}":
                    misses.append((name, mode, seed, got))
    assert 1 - len(misses) / total >= NAMED_SHARE.get(style, 0.9), (style, total, misses)


def test_every_styles_progressions_start_home():
    for style in STYLES:
        rec = styles.get(style)
        for prog in (*rec.progressions_major, *rec.progressions_minor):
            assert prog[0] == 1, (style, prog)  # the tonic first: the loop starts home
            assert harmony.dominant(prog) in prog or harmony.dominant(prog) == 5, (style, prog)
