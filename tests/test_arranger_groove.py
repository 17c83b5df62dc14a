"""The groove (arranger.groove): velocity maps, ghost notes, open hats, ride,
swing, micro-timing and fills, on made-up plans with known answers."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vidmusician.core.backends.arranger import groove
from vidmusician.core.backends.arranger.compose import Score, compose
from vidmusician.core.backends.arranger.render import to_midi
from vidmusician.core.backends.arranger.styles import STYLES, get_style
from vidmusician.core.model import METERS, Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
from vidmusician.core.rhythm.planner import PlannedAnchor, RhythmPlan, Section
from vidmusician.core.styles import Groove

compose_mod = importlib.import_module("vidmusician.core.backends.arranger.compose")  # the module
BEAT_S = 0.5  # 120 BPM in 4/4
BAR_S = 4 * BEAT_S
STEP_S = BEAT_S / 4


def made_up(
    bars: int = 16,
    cuts: tuple[float, ...] = (),
    motion: float = 0.8,
    sections: tuple[int, ...] = (0,),
) -> tuple[RhythmPlan, VideoFeatures]:
    """A 120 BPM 4/4 plan of ``bars`` bars from 0 s, hard cuts (strength 1) at ``cuts`` on the
    grid, sections starting at the bars ``sections``, and its picture of constant ``motion``."""
    duration = bars * BAR_S
    beats = np.arange(0.0, duration, BEAT_S)
    anchors = tuple(
        PlannedAnchor(t, "cut", 1.0, True, "downbeat" if t % BAR_S < 1e-9 else "beat", 0.0) for t in cuts
    )
    starts = [*sections, bars]
    plan = RhythmPlan(
        beats_s=beats,
        downbeats_s=np.arange(0.0, duration + 1e-9, BAR_S),
        bpm=np.full(len(beats), 120.0),
        intensity=np.full(len(beats), motion),
        grid_s=np.arange(0.0, duration, STEP_S),
        meter=METERS["4/4"],
        sections=tuple(
            Section(a * BAR_S, b * BAR_S, a, b - a, motion) for a, b in zip(starts, starts[1:], strict=False)
        ),
        anchors=anchors,
        duration_s=duration,
        ring_out_s=2.0,
        mode="constant",
        tempo_range=(118.0, 122.0),
    )
    n = int(duration * 25)
    values = np.full(n, motion)
    src = tuple(Anchor(t, "cut", 1.0) for t in cuts)
    tl = Timeline(
        "made-up", 25.0, int(duration * 25), "00:00:00:00", (), (), src, InputSource("-", "otio_json")
    )
    return plan, VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), src)


def with_groove(name: str, **changes) -> object:
    style = get_style(name)
    return replace(style, groove=replace(style.groove, **changes))


def drum_bars(style, plan, features, seed: int = 5) -> dict[int, list]:
    """groove.drums alone, bar by bar (no form mask, no timing): the drummer's choices."""
    song, _ = compose_mod._song(plan, features, style, seed, "", None, None)
    out = {}
    for i in range(song.n_bars):
        bar = compose_mod._bar(song, i)
        score = Score()
        groove.drums(score, song, bar)
        out[i] = score.parts["drums"]
    return out


def step_of(t: float) -> int:
    return int(round((t % BAR_S) / STEP_S))


# ------------------------------------------------------------------ swing


def test_a_swing_of_60_puts_the_off_beat_eighth_at_60_percent_of_the_beat():
    assert groove.swing_time(10.25, 10.0, 10.5, 0.60) == pytest.approx(10.0 + 0.60 * 0.5)
    assert groove.swing_time(10.25, 10.0, 10.5, 0.62) == pytest.approx(10.31)
    # sixteenths: the second sixteenth of each eighth at 60% of the eighth
    assert groove.swing_time(10.125, 10.0, 10.5, 0.60, 16) == pytest.approx(10.15)
    assert groove.swing_time(10.375, 10.0, 10.5, 0.60, 16) == pytest.approx(10.40)
    # the beats and the pairs' starts stay; straight time moves nothing
    for t in (10.0, 10.5):
        assert groove.swing_time(t, 10.0, 10.5, 0.60) == pytest.approx(t)
    assert groove.swing_time(10.25, 10.0, 10.5, 0.60, 16) == pytest.approx(10.25)
    assert groove.swing_time(10.3, 10.0, 10.5, 0.5) == 10.3
    # the sixteenths between move with the warp (0.25 of the beat -> 0.3, 0.75 -> 0.8)
    assert groove.swing_time(10.125, 10.0, 10.5, 0.60) == pytest.approx(10.15)
    assert groove.swing_time(10.375, 10.0, 10.5, 0.60) == pytest.approx(10.40)


def test_the_swung_style_plays_its_off_beat_eighths_at_the_swing():
    style = with_groove("lo-fi", jitter_ms=0.0, hats_ms=0.0, snare_ms=0.0, kick_ms=0.0, swing=0.60)
    plan, f = made_up()
    score = compose(plan, f, style, seed=3)
    hats = [n for n in score.parts["drums"] if n.pitch == groove.HAT and n.start < 30.0]
    offs = [n.start % BEAT_S for n in hats if 0.2 < n.start % BEAT_S < 0.35]  # the "and"s
    assert len(offs) > 20 and np.allclose(offs, 0.60 * BEAT_S)  # every one 300 ms after its beat
    # the comping (lo-fi: chords on the off-beats) swings with the drums
    harm = [n.start % BEAT_S for n in score.parts["harmony"] if n.start < 30.0]
    assert any(abs(x - (0.60 * BEAT_S + style.groove.comp_ms / 1000)) < 1e-6 for x in harm)


# ------------------------------------------------------------------ micro-timing


def deviations(score, plan, part="drums", pitches=None):
    g = plan.grid_s
    out = []
    for n in score.parts[part]:
        if score.final_s is not None and n.start >= score.final_s - 1e-6:
            continue
        if pitches is not None and n.pitch not in pitches:
            continue
        i = int(np.argmin(np.abs(g - n.start)))
        out.append((n.start - g[i]) * 1000.0)
    return np.array(out)


@pytest.mark.parametrize("name", [s for s in STYLES if STYLES[s].drums is not None])
def test_the_jitter_spread_per_style_is_within_its_bound(name):
    """Straight (no swing, no offsets): the drums' spread off the grid is the style's
    jitter; the downbeats and the hard cuts' accents stay on the grid."""
    sd = get_style(name).groove.jitter_ms
    style = with_groove(name, swing=0.5, kick_ms=0.0, snare_ms=0.0, hats_ms=0.0)
    plan, f = made_up(bars=24)
    score = compose(plan, f, style, seed=11)
    d = deviations(score, plan)
    moved = d[np.abs(d) > 1e-6]
    assert len(d) > 80
    assert float(np.std(d)) <= sd * 1.15 + 1e-9  # never looser than the style says
    assert float(np.max(np.abs(d))) <= 5 * sd + 1e-9
    if sd >= 1:
        assert 0.6 * sd <= float(np.std(moved)) <= 1.3 * sd
    else:
        assert float(np.max(np.abs(d))) < 3.0  # electronic: tight


def test_a_cuts_accents_stay_on_the_frame_and_the_time_keepers_swing_on():
    cuts = (8.0, 13.25, 20.0)  # two downbeats, one off-beat sixteenth
    plan, f = made_up(cuts=cuts)
    style = get_style("lo-fi")
    score = compose(plan, f, style, seed=2)
    for t in cuts:
        at = [n for n in score.parts["drums"] if abs(n.start - t) < 1e-9]
        assert any(n.pitch in (groove.KICK, groove.CRASH) for n in at)
    for part in ("bass", "harmony"):
        near = [n for n in score.parts[part] if 0 < abs(n.start - 8.0) < 0.02]
        assert near == []  # what is struck with the cut is struck on it
    # a plain bar: its snare laid back and its notes spread (lo-fi: +8 ms, jitter 7 ms)
    snares = [n.start for n in score.parts["drums"] if n.pitch == groove.SNARE and n.velocity > 40]
    back = [(t % BEAT_S) * 1000 for t in snares if (t % BAR_S) > 0.1 and (t % BEAT_S) < 0.05]
    assert 3.0 < float(np.median(back)) < 13.0


def test_pitched_parts_are_played_a_touch_behind():
    style = with_groove("rock", jitter_ms=0.0)
    plan, f = made_up()
    score = compose(plan, f, style, seed=4)
    bass = [n.start for n in score.parts["bass"] if n.start % BAR_S > 0.1 and n.start < 30]
    d = [(t - round(t / STEP_S) * STEP_S) * 1000 for t in bass]
    assert bass and np.allclose(d, style.groove.bass_ms)  # 2 ms behind, exactly (no jitter)


def test_no_note_leaves_its_bar_and_the_groove_is_bar_local():
    plan, f = made_up()
    style = get_style("lo-fi")
    a = compose(plan, f, style, seed=3)
    b = compose(plan, f, style, seed=3, bar_seeds={5: 99})
    lo, hi = 5 * BAR_S, 6 * BAR_S
    for part in a.parts:
        out_a = [n for n in a.parts[part] if not lo - 1e-6 <= n.start < hi - 1e-6]
        out_b = [n for n in b.parts[part] if not lo - 1e-6 <= n.start < hi - 1e-6]
        assert out_a == out_b
    assert [n for n in a.parts["drums"] if lo <= n.start < hi] != [
        n for n in b.parts["drums"] if lo <= n.start < hi
    ]
    again = compose(plan, f, style, seed=3)
    assert again.parts == a.parts  # seeded: the same take again
    rng = np.random.default_rng([3, 5])
    assert groove.bar_stream(rng, 1).random() == groove.bar_stream(np.random.default_rng([3, 5]), 1).random()
    assert groove.bar_stream(rng, 1).random() != groove.bar_stream(np.random.default_rng([3, 6]), 1).random()


# ------------------------------------------------------------------ velocities and ornaments


def test_velocity_maps_accent_the_backbeat_and_lilt_the_hats():
    style = with_groove("rock", ghosts=0.0)
    plan, f = made_up()
    bars = drum_bars(style, plan, f)
    notes = [n for i in range(1, 3) for n in bars[i]]
    snare = {step_of(n.start): n.velocity for n in notes if n.pitch == groove.SNARE}
    hats = {}
    for n in notes:
        if n.pitch in (groove.HAT, groove.RIDE):
            hats.setdefault(step_of(n.start) % 4, []).append(n.velocity)
    assert snare[4] > 90 and snare[12] > 90
    assert np.mean(hats[0]) > np.mean(hats[2]) + 8  # down-beat hats louder than the "and"s
    spread = [float(np.std([n.velocity for n in bars[i]])) for i in range(1, 8)]
    assert min(spread) > 5  # in-bar velocity spread: was one velocity per part and bar
    assert groove.accent("9050000000000000", 0) == 1.0 and groove.accent("9050000000000000", 2) == 0.6


def test_ghost_notes_are_soft_and_around_the_backbeat():
    plan, f = made_up()
    bars = drum_bars(get_style("lo-fi"), plan, f)
    snares = [n for b in bars.values() for n in b if n.pitch == groove.SNARE]
    ghosts = [n for n in snares if n.velocity <= 40]
    assert len(ghosts) >= 10
    assert all(20 <= n.velocity <= 40 for n in ghosts)
    assert all(step_of(n.start) % 2 == 1 for n in ghosts)  # the "e"s and "a"s
    electronic = drum_bars(get_style("electronic"), plan, f).values()
    soft = [n for b in electronic for n in b if n.pitch == groove.SNARE and n.velocity <= 40]
    assert all(
        n.start % (8 * BAR_S) >= 7 * BAR_S + 2 * BEAT_S for n in soft
    )  # no ghosts: only a roll's start


def test_open_hats_ride_and_percussion_where_the_style_has_them():
    plan, f = made_up(sections=(0, 8))
    for name, extra in (("corporate-upbeat", 54), ("electronic", 39), ("rock", None)):
        notes = [
            n for seed in (1, 2, 3) for b in drum_bars(get_style(name), plan, f, seed).values() for n in b
        ]
        opens = [n for n in notes if n.pitch == groove.OPEN_HAT]
        assert opens and all(step_of(n.start) == 14 for n in opens)  # the "and" of 4
        if extra:
            assert any(n.pitch == extra for n in notes)
    rock = drum_bars(get_style("rock"), *made_up(sections=(0, 8), motion=0.5))
    a_hats = {n.pitch for i in range(1, 7) for n in rock[i] if n.pitch in (groove.HAT, groove.RIDE)}
    b_hats = {n.pitch for i in range(9, 15) for n in rock[i] if n.pitch in (groove.HAT, groove.RIDE)}
    assert a_hats == {groove.HAT} and b_hats == {groove.RIDE}  # the ride in the B section
    assert not any(
        n.pitch == groove.OPEN_HAT for b in drum_bars(get_style("cinematic"), plan, f).values() for n in b
    )


# ------------------------------------------------------------------ fills


def fill_bars(bars: dict[int, list], pitches) -> list[int]:
    return sorted(i for i, notes in bars.items() if any(n.pitch in pitches for n in notes))


def test_fills_in_bars_4_and_8_of_a_section_and_before_the_next():
    plan, f = made_up(bars=16, sections=(0, 10))
    rock = drum_bars(get_style("rock"), plan, f)
    # bars 4 and 8, the section's last, bar 4 of the next; 15: the fill into the final strike
    assert fill_bars(rock, groove.TOMS) == [3, 7, 9, 13, 15]
    # the big fill (bar 8, before a section) takes two beats, the small one (bar 4) one
    first = {i: min(n.start for n in rock[i] if n.pitch in groove.TOMS) - i * BAR_S for i in (3, 7, 9)}
    assert first[3] >= 3 * BEAT_S - 1e-9 and first[7] < 3 * BEAT_S and first[9] < 3 * BEAT_S
    # electronic: a snare roll in sixteenths every 8 bars and before the section
    elec = drum_bars(get_style("electronic"), plan, f)
    rolls = [
        i
        for i, notes in elec.items()
        if sum(n.pitch == groove.SNARE and step_of(n.start) >= 8 for n in notes) >= 6
    ]
    assert rolls == [7, 9]
    # corporate: a snare pickup on the last sixteenths of bar 4
    corp = drum_bars(get_style("corporate-upbeat"), plan, f)

    def pickup(notes):  # snare hits after beat 4 (ghost notes aside)
        return [
            step_of(n.start)
            for n in notes
            if n.pitch == groove.SNARE and n.velocity > 40 and step_of(n.start) > 12
        ]

    assert 15 in pickup(corp[3]) and not pickup(corp[2])


def test_the_fill_into_a_strong_cut_is_kept():
    plan, f = made_up(cuts=(10.0,))
    bars = drum_bars(get_style("corporate-upbeat"), plan, f)
    last_beat = [n for n in bars[4] if n.start >= 4 * BAR_S + 3 * BEAT_S - 1e-9]
    hits = [n for n in last_beat if n.pitch in (groove.SNARE, groove.TOMS[0])]
    assert len(hits) == 4 or not last_beat  # four sixteenths into the cut (or the drop before it)


# ------------------------------------------------------------------ the style record and the MIDI file


def test_the_groove_record_is_checked():
    from vidmusician.core.errors import OptionError

    with pytest.raises(OptionError):
        Groove(swing=0.9)
    with pytest.raises(OptionError):
        Groove(hats_accent="x" * 16)
    with pytest.raises(OptionError):
        Groove(fill="drum solo")
    assert get_style("lo-fi").groove.swing == pytest.approx(0.60)
    assert get_style("electronic").groove.jitter_ms <= 1.0


def test_the_midi_file_carries_the_same_performance(tmp_path):
    import pretty_midi

    plan, f = made_up()
    style = get_style("lo-fi")
    score = compose(plan, f, style, seed=3)
    path = tmp_path / "take.mid"
    to_midi(score, style).write(str(path))  # type: ignore[attr-defined]
    back = pretty_midi.PrettyMIDI(str(path))
    drums = next(i for i in back.instruments if i.is_drum)
    got = sorted((round(n.start, 3), n.pitch, n.velocity) for n in drums.notes)
    want = sorted((round(n.start, 3), n.pitch, n.velocity) for n in score.parts["drums"])
    assert len(got) == len(want)
    starts_got = np.array(sorted(n.start for n in drums.notes))
    starts_want = np.array(sorted(n.start for n in score.parts["drums"]))
    assert np.max(np.abs(starts_got - starts_want)) < 0.6e-3  # within one tick (960 per beat)
    assert [v for _, _, v in got] == [v for _, _, v in want] or sorted(v for *_, v in got) == sorted(
        v for *_, v in want
    )


# ------------------------------------------------------------------ the benchmark's figures


def _measures():
    path = Path(__file__).resolve().parents[1] / "benchmark" / "music_measures.py"
    spec = importlib.util.spec_from_file_location("music_measures", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_the_benchmarks_timing_and_velocity_figures_move_to_the_targets():
    mm = _measures()
    plan, f = made_up(bars=24, cuts=(8.0, 24.0))
    for name in ("lo-fi", "acoustic", "rock"):
        score = compose(plan, f, get_style(name), seed=1)
        t = mm.score_onset_deviation(score, plan.grid_s, "drums", 4, score.final_s, 0.0)
        assert 5.0 <= t["jitter_ms"] <= 15.0, (name, t)
        assert mm.velocity_spread(score, plan.downbeats_s, ["drums"])["drums"] > 5.0
    lofi = compose(plan, f, get_style("lo-fi"), seed=1)
    swing = mm.score_onset_deviation(lofi, plan.grid_s, "drums", 4, lofi.final_s, 0.0)["swing_ms"]
    assert swing == pytest.approx(0.10 * BEAT_S * 1000 + get_style("lo-fi").groove.hats_ms, abs=4.0)
    elec = compose(plan, f, get_style("electronic"), seed=1)
    assert mm.score_onset_deviation(elec, plan.grid_s, "drums", 4, elec.final_s, 0.0)["jitter_ms"] < 1.5
