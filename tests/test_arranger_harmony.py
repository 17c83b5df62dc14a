"""Harmony and melody of the arranger (issue 17, item 3), on known answers:
voice leading by nearest inversion, chord colour by style, the bass line in a
real bass register with approach notes, and the motif-based topline."""

from __future__ import annotations

import numpy as np
import pytest

from vidmusician.core import styles
from vidmusician.core.backends.arranger import compose_score, harmony, melody
from vidmusician.core.backends.arranger.compose import MAJOR, MINOR
from vidmusician.core.errors import OptionError
from vidmusician.core.styles import HarmonyMelody

from .test_arranger import _picture

STYLES = ("cinematic", "corporate-upbeat", "electronic", "ambient", "rock", "lo-fi", "acoustic")
C, F, G, AM = [0, 4, 7], [5, 9, 12], [7, 11, 14], [9, 12, 16]


def _plan(cue, style):
    """A constant-tempo plan of a made-up cut (its picture's motion for the intensity)."""
    from vidmusician.core.rhythm.planner import plan

    return plan((), cue.timeline.duration_s, styles.get(style).tempo, motion=cue.motion, flex=0.0)


# --------------------------------------------------------------------------- voice leading


def test_motion_is_the_minimal_matching():
    assert harmony.motion((60, 64, 67), (60, 64, 67)) == 0
    assert harmony.motion((60, 64, 67), (60, 65, 69)) == 3  # C -> F/C: G-A 2, E-F 1
    assert harmony.motion((60, 64, 67), (72, 76, 79)) == 36  # an octave, every voice
    assert harmony.motion((60, 67), (60, 64, 67)) == 3  # the extra E counted to its nearest, G
    assert harmony.motion((), (60,)) == 0


def test_nearest_inversion_for_known_chord_pairs():
    c = (60, 64, 67)  # C major, root position
    f = harmony.nearest_voicing(c, F, 62.0)
    assert f == (60, 65, 69) and harmony.motion(c, f) == 3  # F/C: the common C stays
    g = harmony.nearest_voicing(c, G, 62.0)
    assert g == (59, 62, 67) and harmony.motion(c, g) == 3  # G/B: the common G stays
    am = harmony.nearest_voicing(c, AM, 62.0)
    assert am == (60, 64, 69) and harmony.motion(c, am) == 2  # Am/C: two common tones
    # among every close voicing in the window, none moves less
    for chord in (F, G, AM, [2, 5, 9], [4, 7, 11]):
        best = harmony.nearest_voicing(c, chord, 62.0)
        inside = [v for v in harmony.close_voicings(chord) if abs(np.mean(v) - 62.0) <= harmony.HALF_WIDTH]
        assert harmony.motion(c, best) == min(harmony.motion(c, v) for v in inside) <= 5  # Dm: 5


def test_the_window_keeps_a_chain_from_creeping():
    # I-IV-V-I around the circle of fifths, 64 chords: the smoothest path alone
    # would drift; the window keeps every voicing's mean within the centre +- half width
    seq = [[(7 * i + p) % 12 for p in C] for i in range(64)]
    chain = harmony.chain(seq, [62.0] * 64)
    means = [np.mean(v) for v in chain]
    assert max(abs(m - 62.0) for m in means) <= harmony.HALF_WIDTH
    moves = [harmony.motion(a, b) for a, b in zip(chain, chain[1:], strict=False)]
    assert np.mean(moves) <= 6
    # the pop progression I-V-vi-IV: C/G-B-D-G... 3 + 5 + 1 + 3 semitones, round and round
    pop = harmony.chain([C, G, AM, F] * 4, [62.0] * 16)
    pop_moves = [harmony.motion(a, b) for a, b in zip(pop, pop[1:], strict=False)]
    assert max(pop_moves) <= 5 and np.mean(pop_moves) <= 3.5


def test_power_chords_lead_by_their_two_shapes():
    # D5 to A5: the fifth-below shape (E A E) keeps the A, 4 semitones in all
    d5 = (62, 69, 74)
    a5 = harmony.nearest_voicing(d5, [9, 16], 65.0, double=True)
    assert a5 == (64, 69, 76) and harmony.motion(d5, a5) == 4


def test_every_style_voice_leads_its_chords():
    cue = _picture([(150, 0.5, 0.0), (120, 0.45, 0.02), (180, 0.5, 0.0), (130, 0.4, 0.02)])
    for style in STYLES:
        p = _plan(cue, style)
        s = compose_score(p, cue, style, seed=2)
        bars = [b for b in range(len(p.downbeats_s) - 2)]  # before the ending
        for part in ("pad", "harmony"):
            chords = []
            for b in bars:
                t0, t1 = p.downbeats_s[b], p.downbeats_s[b + 1]
                held = {
                    n.pitch
                    for n in s.parts[part]
                    if t0 - 1e-6 <= n.start < t1 - 1e-6
                    and n.end - n.start > 0.2  # the form's stabs are short
                }
                if held:
                    chords.append(tuple(sorted(held)))
            moves = [harmony.motion(a, b) for a, b in zip(chords, chords[1:], strict=False) if a != b]
            assert moves and np.mean(moves) <= 6, (style, part, moves)


# --------------------------------------------------------------------------- chord colour


def test_chord_colour_by_style():
    plain = HarmonyMelody()
    assert harmony.chord_tones(1, MAJOR, 0, plain) == [0, 4, 7]
    assert harmony.chord_tones(1, MAJOR, 0, HarmonyMelody(add9=(1,))) == [0, 4, 7, 14]  # Cadd9
    assert harmony.chord_tones(4, MAJOR, 0, HarmonyMelody(sus2=(4,))) == [5, 7, 12]  # Fsus2
    assert harmony.chord_tones(5, MAJOR, 0, HarmonyMelody(sus4=(5,))) == [7, 12, 14]  # Gsus4
    assert harmony.chord_tones(4, MAJOR, 0, HarmonyMelody(sus4=(4,))) == [5, 9, 12]  # no F-B: left out
    assert harmony.chord_tones(3, MAJOR, 0, HarmonyMelody(add9=(3,))) == [4, 7, 11]  # no minor ninth
    seventh = HarmonyMelody(sevenths="diatonic")
    assert harmony.chord_tones(1, MAJOR, 0, seventh) == [0, 4, 7, 11]  # Cmaj7
    assert harmony.chord_tones(2, MAJOR, 0, seventh) == [2, 5, 9, 12]  # Dm7
    assert harmony.chord_tones(5, MAJOR, 0, seventh) == [7, 11, 14, 17]  # G7
    assert harmony.chord_tones(2, MAJOR, 0, HarmonyMelody(sevenths="diatonic", ninths=True)) == [
        2,
        5,
        9,
        12,
        16,
    ]
    dominant = HarmonyMelody(sevenths="dominant")
    assert harmony.chord_tones(5, MAJOR, 0, dominant) == [7, 11, 14, 17]
    assert harmony.chord_tones(1, MAJOR, 0, dominant) == [0, 4, 7]
    assert harmony.chord_tones(5, MINOR, 9, dominant) == [16, 19, 23]  # v of A minor is minor: no V7
    # Style.sevenths still counts where the record says nothing
    assert harmony.chord_tones(1, MAJOR, 0, plain, plain_sevenths=True) == [0, 4, 7, 11]
    # rock: power chords in the harmony, triads in the pad, bVII in major
    rock = styles.get("rock").harmony_melody
    assert harmony.chord_tones(1, MAJOR, 4, rock, part="harmony") == [4, 11]
    assert harmony.chord_tones(1, MAJOR, 4, rock) == [4, 8, 11]
    assert harmony.chord_tones(7, MAJOR, 0, rock) == [10, 14, 17]  # Bb in C
    # the resolving tonic is the plain triad
    assert harmony.chord_tones(1, MAJOR, 0, HarmonyMelody(add9=(1,)), resolving=True) == [0, 4, 7]


def test_the_styles_colour_as_a_producer_would():
    hm = {s: styles.get(s).harmony_melody for s in STYLES}
    assert hm["cinematic"].sevenths == "none" and hm["cinematic"].add9
    assert hm["rock"].power and hm["lo-fi"].sevenths == "diatonic" and hm["lo-fi"].ninths
    assert hm["ambient"].add9 and hm["ambient"].sus2
    with pytest.raises(OptionError, match="bass"):
        HarmonyMelody(bass="slap")
    with pytest.raises(OptionError, match="E1"):
        HarmonyMelody(bass_low=20)


# --------------------------------------------------------------------------- the bass line


def _bass(spec, level=0.8, nxt=5, seed=0, **kw):
    return harmony.bass_line(
        spec, 0, 7, nxt, [0, 2, 4, 5, 7, 9, 11], 16, 4, level, np.random.default_rng(seed), **kw
    )


@pytest.mark.parametrize("figure", styles.BASS_FIGURES)
def test_the_bass_stays_in_the_bass_register_and_approaches_the_change(figure):
    for low in (28, 33, 40):
        for approach in ("chromatic", "diatonic", "both"):
            spec = HarmonyMelody(bass=figure, bass_low=low, approach=approach)
            for seed in range(8):
                for nxt in (0, 4, 5, 7, 9, 11, 2):
                    for level in (0.3, 0.6, 0.9):
                        line = _bass(spec, level, nxt, seed)
                        assert line and all(28 <= p <= 55 for _, _, p, _ in line)
                        assert sorted(k for k, *_ in line) == [k for k, *_ in line]
                        assert all(k + n <= 16 for k, n, _, _ in line)
                        if nxt != 0:  # a chord change: the last note is a step from the next root
                            target = harmony.bass_root(nxt, low)
                            k, _, p, _ = line[-1]
                            assert k >= 12 and 1 <= abs(p - target) <= 2, (figure, line, target)
                            if approach == "chromatic":
                                assert abs(p - target) == 1


def test_bass_figures_by_known_answers():
    # C in the octave from E1: C2 = 36; F from E1 is F1 = 29
    assert (
        harmony.bass_root(0, 28) == 36 and harmony.bass_root(5, 28) == 29 and harmony.bass_root(4, 28) == 28
    )
    drive = _bass(HarmonyMelody(bass="drive", approach="none"), 0.6, None)
    assert [k for k, *_ in drive] == list(range(0, 16, 2)) and {p for *_, p, _ in drive} == {36}  # eighths
    whole = _bass(HarmonyMelody(bass="whole", approach="none"), 0.9, None)
    assert whole == [(0, 16, 36, 1.0)]
    pump = _bass(HarmonyMelody(bass="pump", approach="none"), 0.5, None)
    assert [k for k, *_ in pump] == [2, 6, 10, 14]  # off-beat eighths
    octaves = _bass(HarmonyMelody(bass="pump", approach="none"), 0.9, None)
    assert [p for _, _, p, _ in octaves] == [36, 48] * 4  # octave pumping
    walk = _bass(HarmonyMelody(bass="walk", approach="diatonic"), 0.8, 5, seed=1)
    assert [k for k, *_ in walk] == [0, 4, 8, 12] and walk[0][2] == 36 and walk[2][2] == 43  # root, -, fifth
    assert walk[1][2] in (36, 38) and walk[3][2] in (
        28,
        31,
    )  # the root or a passing step; an approach to F1 (29)
    # a hard cut: the first note is a hit on the downbeat, off-beat figure or not
    assert _bass(HarmonyMelody(bass="pump", approach="none"), 0.5, None, hit=True)[0][0] == 0
    # the resolving last bar holds the root
    assert _bass(HarmonyMelody(bass="walk"), 0.8, 5, resolving=True) == [(0, 16, 36, 1.0)]


def test_the_cues_bass_goes_down_to_e1_and_approaches_chord_changes():
    cue = _picture([(150, 0.5, 0.0), (120, 0.45, 0.02), (180, 0.5, 0.0)])
    lows = []
    for style in STYLES:
        p = _plan(cue, style)
        s = compose_score(p, cue, style, seed=5)
        bass = s.parts["bass"]
        assert min(n.pitch for n in bass) >= 28 and max(n.pitch for n in bass) <= 55
        lows.append(min(n.pitch for n in bass))
        spec = styles.get(style).harmony_melody
        if spec.approach == "none":
            continue
        # the change the bass leads into is the progression's (a bar's substitute is its own
        # draw, which the bar before cannot know): its root, in the bass's octave
        from vidmusician.core.backends.arranger.compose import _song

        roots = _song(p, cue, styles.get(style), 5, "", None, None)[0].lines.roots
        downs, approached, changes = p.downbeats_s, 0, 0
        for b in range(1, len(downs) - 2):
            last = [n for n in bass if downs[b] + 0.03 <= n.start < downs[b + 1] - 0.03]
            here = [n for n in bass if abs(n.start - downs[b]) < 0.03]
            if not (last and here) or roots[b + 1] == here[0].pitch % 12:
                continue
            changes += 1
            approached += 1 <= abs(last[-1].pitch - harmony.bass_root(roots[b + 1], spec.bass_low)) <= 2
        assert changes and approached / changes >= 0.9, (style, approached, changes)
    assert min(lows) <= 31  # the register reaches the bottom of the bass


# --------------------------------------------------------------------------- the topline


def test_the_motif_repeats_in_bars_one_and_three_of_a_phrase():
    mot = melody.motif(melody.section_rng(7, 0), 4, 0.5, bars=2)
    assert mot.bars == 2 and all(c[0] == 0 for c in mot.onsets)
    assert mot == melody.motif(melody.section_rng(7, 0), 4, 0.5, bars=2)  # the section's seed alone
    chords = [[0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12]]
    for seed in range(20):
        bars = []
        for pos in range(4):
            ph = melody.phrase_of(pos, 8, False)
            bars.append(
                melody.topline(mot, ph, chords[pos], 0, MAJOR, 0.8, 4, np.random.default_rng([seed, pos]))
            )
        rhythm = [[(c, n) for c, n, _, _ in b] for b in bars]
        assert [c for c, _ in rhythm[0]] == [c for c, _ in rhythm[2]] == list(mot.onsets[0])
        # the fourth bar ends the phrase: a long chord tone on beat three, then the rest
        c, n, p, _ = bars[3][-1]
        assert (c, n) == (4, 3) and p % 12 in {4, 7, 0, 9, 5}  # F's third or fifth (antecedent)
        # chord tones on the beats, a range of about a tenth
        for b, chord in zip(bars, chords, strict=True):
            assert all(p % 12 in {x % 12 for x in chord} for c, _, p, _ in b if c % 2 == 0)
        pitches = [p for b in bars for _, _, p, _ in b]
        assert max(pitches) - min(pitches) <= 17
    # the consequent phrase ends on the root
    end = melody.topline(
        mot, melody.phrase_of(7, 8, False), [0, 4, 7], 0, MAJOR, 0.8, 4, np.random.default_rng(1)
    )
    assert end[-1][2] % 12 == 0 and end[-1][1] >= 3


def test_the_level_sets_density_and_register_not_presence():
    mot = melody.motif(melody.section_rng(3, 4), 4, 0.5, bars=1)
    ph = melody.phrase_of(0, 8, False)
    low = melody.topline(mot, ph, [0, 4, 7], 0, MAJOR, 0.35, 4, np.random.default_rng(0))
    high = melody.topline(mot, ph, [0, 4, 7], 0, MAJOR, 1.0, 4, np.random.default_rng(0))
    assert 2 <= len(low) <= len(high) == len(mot.onsets[0])
    assert melody.topline(mot, ph, [0, 4, 7], 0, MAJOR, 0.2, 4, np.random.default_rng(0)) == []  # the calmest


@pytest.mark.parametrize("style", STYLES)
def test_every_styles_30_s_cue_has_a_topline(style):
    cue = _picture([(200, 0.5, 0.0), (150, 0.45, 0.02), (150, 0.5, 0.01), (250, 0.42, 0.0)])  # 30 s
    p = _plan(cue, style)
    s = compose_score(p, cue, style, seed=1)
    downs = p.downbeats_s
    lead = [n for n in s.parts["lead"] if s.final_s is None or n.start < s.final_s - 1e-6]
    bars = {int(np.searchsorted(downs, n.start, side="right")) - 1 for n in lead}
    assert len(lead) >= 8 and len(bars) >= 0.4 * (len(downs) - 1), (style, len(lead), len(bars))


def test_regenerating_a_bar_gives_new_lead_notes_and_keeps_the_others():
    cue = _picture([(200, 0.5, 0.0), (150, 0.45, 0.02), (150, 0.5, 0.01)])
    p = _plan(cue, "corporate-upbeat")
    a = compose_score(p, cue, "corporate-upbeat", seed=3)
    downs = p.downbeats_s
    changed = 0
    for bar in range(2, len(downs) - 3):
        lo, hi = downs[bar], downs[bar + 1]
        b = compose_score(p, cue, "corporate-upbeat", seed=3, bar_seeds={bar: 1000 + bar})
        for part in a.parts:
            out_a = [n for n in a.parts[part] if not lo - 0.05 <= n.start < hi - 0.05]
            out_b = [n for n in b.parts[part] if not lo - 0.05 <= n.start < hi - 0.05]
            assert out_a == out_b, (bar, part)
        ins = [n for n in a.parts["lead"] if lo <= n.start < hi]
        changed += ins != [n for n in b.parts["lead"] if lo <= n.start < hi]
    assert changed >= 0.7 * (len(downs) - 5)
