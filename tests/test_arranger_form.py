"""The form (arranger.form) and its sounds (arranger.fx), on made-up plans with known answers."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from vidmusician.core.backends.arranger import arrange
from vidmusician.core.backends.arranger.compose import compose
from vidmusician.core.backends.arranger.envelope import level_envelope
from vidmusician.core.backends.arranger.form import (
    CRASH,
    KICK,
    SNARE,
    bar_energy,
    bar_intensity,
    normalise,
    plan_form,
)
from vidmusician.core.backends.arranger.fx import SR, add_fx, boom, riser
from vidmusician.core.backends.arranger.render import to_midi
from vidmusician.core.backends.arranger.styles import STYLES, get_style
from vidmusician.core.model import METERS, Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
from vidmusician.core.rhythm.planner import PlannedAnchor, RhythmPlan, Section

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmark"))
MEASURES = importlib.import_module("music_measures")  # the benchmark's measures, one copy
BAR_S = 2.0  # 120 BPM in 4/4
STRONG_BAR = 8


def made_up(
    bars: int = 16,
    cuts: tuple[tuple[float, float], ...] = ((5.0, 0.6), (16.0, 1.0), (23.5, 0.6)),
    motion: float | np.ndarray = 0.1,
    ring_out_s: float = 2.0,
) -> tuple[RhythmPlan, VideoFeatures]:
    """A 120 BPM 4/4 plan of ``bars`` bars from 0 s whose hard cuts (time, strength) sit on the
    grid, and its picture; ``motion`` per beat (a constant, or an array of beats)."""
    duration = bars * BAR_S
    beats = np.arange(0.0, duration, 0.5)
    grid = np.arange(0.0, duration, 0.125)
    downs = np.arange(0.0, duration + 1e-9, BAR_S)
    inten = np.broadcast_to(np.asarray(motion, float), beats.shape).copy()
    anchors = []
    for t, strength in cuts:
        on = "downbeat" if abs(t / BAR_S - round(t / BAR_S)) < 1e-9 else "beat"
        anchors.append(PlannedAnchor(t, "cut", strength, True, on, 0.0))
    plan = RhythmPlan(
        beats_s=beats,
        downbeats_s=downs,
        bpm=np.full(len(beats), 120.0),
        intensity=inten,
        grid_s=grid,
        meter=METERS["4/4"],
        sections=(Section(0.0, duration, 0, bars, float(np.mean(inten))),),
        anchors=tuple(anchors),
        duration_s=duration,
        ring_out_s=ring_out_s,
        mode="constant",
        tempo_range=(118.0, 122.0),
    )
    rate = 25.0
    n = int(duration * 25)
    values = np.full(n, float(np.mean(inten)))
    src = tuple(Anchor(t, "cut", s) for t, s in cuts)
    tl = Timeline(
        "made-up", rate, int(duration * rate), "00:00:00:00", (), (), src, InputSource("-", "otio_json")
    )
    return plan, VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), src)


def in_bar(notes, bar):
    return [n for n in notes if bar * BAR_S - 1e-6 <= n.start < (bar + 1) * BAR_S - 1e-6]


def test_normalise_is_a_percentile_rank():
    assert np.allclose(normalise(np.array([0.1, 0.3, 0.2])), [0.0, 1.0, 0.5])
    assert np.allclose(normalise(np.array([0.1, 0.1, 0.4])), [0.25, 0.25, 1.0])  # ties share
    assert np.allclose(normalise(np.array([0.2, 0.2])), [0.5, 0.5])


def test_a_quiet_video_still_uses_the_whole_range_and_stays_calmer():
    rise = np.linspace(0.02, 0.12, 64)  # quiet footage: motion never above 0.12
    quiet, _ = made_up(motion=rise)
    busy, _ = made_up(motion=rise + 0.8)
    ranks = normalise(bar_intensity(quiet))
    assert ranks.min() == 0.0 and ranks.max() == 1.0
    e_quiet = bar_energy(bar_intensity(quiet), 0.75)
    e_busy = bar_energy(bar_intensity(busy), 0.75)
    assert e_quiet.max() - e_quiet.min() > 0.7  # the old raw mapping spanned 0.09 of level here
    assert np.all(e_quiet < e_busy) and e_busy.mean() - e_quiet.mean() > 0.15


def test_a_strong_cut_gets_a_build_a_drop_and_an_impact():
    plan, feats = made_up(motion=0.5)
    style = get_style("electronic")
    form = plan_form(plan, style.form, 3, None, True)
    roles = [b.role for b in form.bars]
    assert roles[STRONG_BAR] == "drop" and roles[6] == roles[7] == "build" and roles[0] == "intro"
    score = compose(plan, feats, style, 3)
    drums = score.parts["drums"]
    t = STRONG_BAR * BAR_S
    for bar in (6, 7):
        assert len(in_bar(drums, bar)) > max(len(in_bar(drums, 2)), len(in_bar(drums, 3)))
    at_cut = {n.pitch for n in drums if abs(n.start - t) < 1e-3}
    assert KICK in at_cut and CRASH in at_cut
    assert len([n for n in score.parts["harmony"] if abs(n.start - t) < 1e-3]) >= 3  # the stab
    # the roll: eighths, then sixteenths into the cut, louder and louder (on the grid: the
    # drums' own notes are performed, a few ms off it)
    snares = [n for n in drums if n.pitch == SNARE and abs(n.start * 8 - round(n.start * 8)) < 1e-6]
    first = [n for n in snares if t - BAR_S <= n.start < t - BAR_S / 2]
    second = [n for n in snares if t - BAR_S / 2 <= n.start < t]
    assert len(second) >= 1.5 * len(first) >= 3 and second[-1].start == pytest.approx(t - 0.125)
    assert second[-1].velocity > first[0].velocity
    kinds = {f.kind: f for f in score.fx}
    assert kinds["boom"].start == pytest.approx(t) and kinds["riser"].end == pytest.approx(t)
    assert kinds["riser"].start == pytest.approx(6 * BAR_S)


def test_the_intro_has_no_drums_and_the_breakdown_drops_them():
    motion = np.r_[np.full(32, 0.5), np.full(8, 0.05), np.full(24, 0.5)]  # bars 8-9 calm
    plan, feats = made_up(cuts=((23.0, 0.6),), motion=motion)
    score = compose(plan, feats, get_style("electronic"), 5)
    assert not in_bar(score.parts["drums"], 0) and in_bar(score.parts["pad"], 0)
    assert in_bar(score.parts["drums"], 5)
    form = plan_form(plan, get_style("electronic").form, 5)
    assert [form.bars[b].role for b in (8, 9)] == ["breakdown", "breakdown"]
    assert not in_bar(score.parts["drums"], 8) and in_bar(score.parts["pad"], 8)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_hard_cut_gets_a_crash_a_stab_or_an_impact(style):
    cuts = ((3.5, 0.6), (5.0, 0.7), (9.25, 0.6), (16.0, 1.0), (18.0, 1.0), (23.5, 0.5), (27.0, 0.9))
    plan, feats = made_up(cuts=cuts, motion=0.4)
    score = compose(plan, feats, get_style(style), 1)
    for t, _ in cuts:
        hits = [n for n in score.parts["drums"] if n.pitch == CRASH and abs(n.start - t) < 1e-3]
        hits += [n for n in score.parts["harmony"] if abs(n.start - t) < 1e-3 and n.end - n.start < 0.3]
        assert hits, (style, t)
    impacts = [t for t, kind in score.hits if kind == "impact"]
    assert impacts[0] == 16.0 and 18.0 not in impacts  # one full impact per impact_gap_bars


def test_the_riser_ends_on_the_cut_and_blocks_add_up_to_the_whole():
    plan, feats = made_up(motion=0.5)
    score = compose(plan, feats, get_style("electronic"), 3)
    cut = int(round(STRONG_BAR * BAR_S * SR))
    whole = add_fx(np.zeros((2, int(22 * SR)), np.float32), score.fx)
    riser_only = add_fx(np.zeros_like(whole), [f for f in score.fx if f.kind == "riser"])
    before = np.sqrt(np.mean(riser_only[:, cut - SR // 20 : cut - SR // 200] ** 2))
    start = np.sqrt(np.mean(riser_only[:, int(12.0 * SR) : int(12.5 * SR)] ** 2))
    assert before > 10 * start > 0  # it swells into the cut
    assert not np.any(riser_only[:, cut:])  # and nothing of it after
    size = 30_000
    blocks = np.zeros_like(whole)
    for s in range(0, whole.shape[1], size):
        add_fx(blocks[:, s : s + size], score.fx, s)
    assert np.array_equal(blocks, whole)


def test_the_boom_sweeps_down_and_decays():
    x = boom(int(1.6 * SR))[0].astype(np.float64)

    def pitch(a, b):
        seg = x[int(a * SR) : int(b * SR)] * np.hanning(int(b * SR) - int(a * SR))
        spec = np.abs(np.fft.rfft(seg, 1 << 18))
        return float(np.fft.rfftfreq(1 << 18, 1 / SR)[np.argmax(spec)])

    assert 45 < pitch(0.0, 0.1) < 62 and 28 < pitch(0.8, 1.2) < 34
    peak = np.abs(x[: SR // 10]).max()
    assert 20 * np.log10(np.abs(x[-SR // 100 :]).max() / peak) < -55


def test_the_riser_rises_in_pitch():
    x = riser(4 * SR, 1.0, np.random.default_rng(1))[0]

    def centroid(a, b):
        spec = np.abs(np.fft.rfft(x[int(a * SR) : int(b * SR)])) ** 2
        f = np.fft.rfftfreq(int(b * SR) - int(a * SR), 1 / SR)
        return float(np.sum(f * spec) / np.sum(spec))

    assert centroid(0.2, 0.7) < 500 < 2500 < centroid(3.4, 3.9)


def test_regenerating_a_bar_leaves_the_others_and_the_fx():
    plan, feats = made_up(motion=np.linspace(0.1, 0.9, 64))
    style = get_style("electronic")
    a = compose(plan, feats, style, 4)
    b = compose(plan, feats, style, 4, bar_seeds={7: 99})
    assert a.fx == b.fx
    for part in a.parts:
        for bar in range(15):
            if bar != 7:
                assert in_bar(a.parts[part], bar) == in_bar(b.parts[part], bar), (part, bar)


def test_the_midi_marks_the_impacts_and_risers():
    plan, feats = made_up(motion=0.5)
    style = get_style("electronic")
    pm = to_midi(compose(plan, feats, style, 3), style)
    marks = {(round(e.time, 3), e.text) for e in pm.text_events}
    assert (16.0, "impact") in marks and (12.0, "riser") in marks and (5.0, "crash") in marks


def test_the_ending_still_decays_below_minus_60_dbfs():
    plan, feats = made_up(bars=8, cuts=((4.0, 0.6), (8.0, 1.0)), motion=0.6)
    music = arrange(plan, feats, "electronic", seed=2)
    mix = np.asarray(music.mix)
    assert any(f.kind == "boom" for f in music.score.fx)
    last10 = mix[:, -SR // 100 :]
    assert 20 * np.log10(np.sqrt(np.mean(last10**2)) + 1e-12) < -60 and np.abs(mix[:, -1]).max() < 1e-6
    stems = np.sum([np.asarray(v) for v in music.stems.values()], axis=0)
    assert np.allclose(stems, mix, atol=1e-5)  # the fx are in the drums stem: the stems sum to the mix


def test_the_band_enters_on_the_first_strong_cut_inside_the_intro():
    plan, feats = made_up(cuts=((3.0, 1.0), (12.0, 0.6)), motion=0.5)  # strong at bar 1, beat 3
    score = compose(plan, feats, get_style("cinematic"), 2)  # a 4-bar intro, cut short
    drums = score.parts["drums"]
    early = [n for n in drums if n.start < 3.0 - 0.03]
    assert early and {n.pitch for n in early} == {SNARE}  # only the roll that leads the band in
    assert min(n.start for n in early) >= 2.0 - 1e-6 and any(abs(n.start - 3.0) < 1e-3 for n in drums)
    assert not [n for n in score.parts["lead"] + score.parts["harmony"] if n.start < 3.0 - 0.03]
    assert [n for n in score.parts["pad"] if n.start < 1.0]  # the intro's pad from the first bar
    assert (3.0, "impact") in score.hits and any(f.kind == "boom" and f.start == 3.0 for f in score.fx)


def _spearman(a, b) -> float:
    ra, rb = normalise(np.asarray(a, float)), normalise(np.asarray(b, float))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_a_rising_picture_gives_levels_and_bar_energies_that_rise():
    plan, _ = made_up(cuts=(), motion=np.linspace(0.1, 0.9, 64))
    form = plan_form(plan, get_style("corporate-upbeat").form, 1)
    times, levels = np.array(form.levels).T
    assert len(levels) == 64 and np.array_equal(times, plan.beats_s)  # one step a beat
    assert np.all(np.diff(levels) >= -1e-9) and levels[-1] - levels[0] > 0.8
    energy = [b.energy for b in form.bars[:-1]]  # the ending aside
    assert np.all(np.diff(energy) > 0)


def test_the_levels_follow_a_made_up_motion_curve_within_the_bar():
    """A motion that swings twice over the cue, with noise and strong cuts: the envelope's
    gain over 1 s windows follows the motion's rank (Spearman), the bars' energies too."""
    rng = np.random.default_rng(7)
    beats = np.arange(64)
    motion = np.clip(0.5 + 0.4 * np.sin(beats / 64 * 4 * np.pi) + rng.normal(0, 0.05, 64), 0, 1)
    cuts = tuple((float(t), 1.0) for t in np.arange(1.5, 31.0, 2.5))
    plan, _ = made_up(cuts=cuts, motion=motion)
    form = plan_form(plan, get_style("electronic").form, 1)
    env = level_envelope(list(form.levels), 6.0, SR)
    assert env is not None
    gain = 20 * np.log10(env.gain(0, 30 * SR).reshape(30, SR).mean(axis=1))
    pic = motion.reshape(30 + 2, 2)[:30].mean(axis=1)  # two beats a second
    assert _spearman(pic, gain) > 0.9
    bar_motion = motion.reshape(16, 4).mean(axis=1)[:-1]
    assert _spearman(bar_motion, [b.energy for b in form.bars[:-1]]) > 0.8
    # the drops lift the picture's energy, they do not replace it
    drops = [i for i, b in enumerate(form.bars) if b.role == "drop"]
    assert drops and all(form.bars[i].energy < 0.95 or bar_motion[min(i, 14)] > 0.6 for i in drops)


def test_the_cut_rate_counts_as_energy():
    fast = tuple((t, 0.6) for t in np.arange(17.0, 31.0, 0.5))  # a montage in the second half
    plan, _ = made_up(cuts=((4.0, 0.6), *fast), motion=0.4)
    form = plan_form(plan, get_style("corporate-upbeat").form, 1)
    times, levels = np.array(form.levels).T
    assert levels[(times >= 18) & (times < 30)].min() > levels[(times >= 6) & (times < 14)].max()


def test_a_picture_that_hardly_varies_is_not_stretched_over_the_range():
    rng = np.random.default_rng(3)
    plan, _ = made_up(cuts=(), motion=0.5 + rng.uniform(-0.004, 0.004, 64))
    _, levels = np.array(plan_form(plan, get_style("corporate-upbeat").form, 1).levels).T
    assert np.ptp(levels) < 0.15  # rank alone would spread it over 0..0.75


def test_the_music_loudness_follows_the_motion():
    """End to end: the mix's loudness over 1 s windows against the motion (bench_music's
    ``follow``), on a made-up 32 s cue whose motion swings twice, a strong cut every 3 s (the
    form before the beat levels, drops at 0.95 wherever a strong cut fell, measured -0.33)."""
    beats = np.arange(64)
    motion = np.clip(0.5 + 0.4 * np.sin(beats / 64 * 4 * np.pi + 1.0), 0, 1)
    cuts = tuple((float(t), 1.0) for t in np.arange(2.0, 30.0, 3.0))
    plan, feats = made_up(cuts=cuts, motion=motion)
    music = arrange(plan, feats, "corporate-upbeat", seed=2)
    per_frame = motion[(np.arange(32 * 25) * 0.04 / 0.5).astype(int)]  # 25 frames a second
    follow = MEASURES.energy_follow(np.asarray(music.mix), SR, per_frame, 0.04, 32.0)
    assert follow > 0.5, follow
