"""The sync planner (the default; :mod:`vidmusician.core.rhythm.sync`) on
made-up cut lists with known answers: a steady tempo that catches the cuts
within the sync window, each caught one exactly on its frame."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vidmusician.core.model import Anchor
from vidmusician.core.rhythm.planner import HIT_TOLERANCE_S, marker_role, plan
from vidmusician.core.rhythm.planning import plan_json

from . import plan_goldens


def cuts(times, strength=1.0):
    return [Anchor(float(t), "cut", strength) for t in times]


def frames(times, rate):
    return np.round(np.asarray(times, float) * rate) / rate


def on_grid_150(seed=0, rate=100.0):
    """Cuts 6 to 10 beats apart on a 150 BPM grid, each moved by up to 30 ms, on whole frames."""
    rng = np.random.default_rng(seed)
    beats = np.cumsum(rng.integers(6, 11, 14)) + 2
    return frames(beats * 0.4 + rng.uniform(-0.03, 0.03, len(beats)), rate)


def steps(p):
    """|ln| of the ratio of consecutive beat intervals (the beat-to-beat tempo change), per beat."""
    return np.abs(np.diff(np.log(np.diff(p.beats_s))))


def montage(seed, rate=25.0):
    rng = np.random.default_rng(seed)
    t = frames(np.cumsum(rng.uniform(0.4, 1.2, 30)), rate)
    return t, float(t[-1] + 2.0)


def test_jittered_cuts_on_a_150_grid_give_a_steady_150_that_catches_every_one_on_its_frame():
    t = on_grid_150()
    p = plan(cuts(t), float(t[-1] + 3.2), (120, 170), rate=100.0)
    assert p.mode == "sync"
    assert np.median(p.bpm) == pytest.approx(150.0, rel=0.005)
    assert p.beat_cv() <= 0.03 and steps(p).max() <= math.log1p(0.02) + 1e-6
    hard = [a for a in p.anchors if a.hard]
    assert all(a.on in ("beat", "downbeat") and a.offset_s == 0.0 for a in hard)
    land = p.cut_landings()
    assert land["beat"] == 1.0 and land["exact"] == 1.0 and land["off"] == 0.0
    for a in hard:  # the beat is the cut's own frame
        assert np.min(np.abs(p.beats_s - a.time_s)) < 1e-9


def test_a_cut_a_sixteenth_off_a_steady_grid_lands_on_the_sixteenth_and_says_so():
    t = list(np.arange(1, 16) * 2.0)  # every 4 beats at 120 BPM
    odd = 13.125  # a sixteenth after the beat at 13 s
    p = plan(cuts([*t, odd]), 32.0, (100, 140))
    a = next(a for a in p.anchors if a.time_s == odd)
    assert a.on == "subdivision" and abs(a.offset_s) < HIT_TOLERANCE_S
    assert all(b.on in ("beat", "downbeat") for b in p.anchors if b.time_s != odd)
    land = p.cut_landings()
    assert land["sixteenth"] == pytest.approx(1 / 16, abs=1e-4) and land["beat"] == pytest.approx(
        15 / 16, abs=1e-4
    )
    assert np.median(p.bpm) == pytest.approx(120.0, rel=0.005)
    data = plan_json(p, "t")
    assert data["cut_landings"] == land and data["beat_cv"] == round(p.beat_cv(), 4)


@pytest.mark.parametrize("how", ["name", "vm", "anchor", "colour"])
def test_a_must_hit_cut_is_always_on_a_beat(how):
    t = list(np.arange(1, 16) * 2.0)
    odd = 13.125
    anchors = cuts([*t, odd])
    kw = {}
    if how == "name":
        kw = {"must_hit_s": [odd + 0.01]}  # within a frame
    elif how == "anchor":
        anchors.append(Anchor(odd, "marker", 0.8, "Must Hit"))
    elif how == "vm":
        anchors.append(Anchor(odd - 0.02, "marker", 0.8, "vm:hit"))
    else:
        assert marker_role("anything", "Red") == "hit" and marker_role("x", "ResolveColorBlue") is None
        kw = {"must_hit_s": [odd]}
    p = plan(anchors, 32.0, (100, 140), rate=24.0, **kw)
    a = next(a for a in p.anchors if a.time_s == odd and a.hard)
    assert a.on in ("beat", "downbeat") and a.offset_s == 0.0
    assert not any("must-hit" in w for w in p.warnings)


def test_an_ignored_cut_is_not_in_the_plan():
    t = [2.0, 4.0, 5.37, 6.0, 8.0]
    p = plan([*cuts(t), Anchor(5.37 + 0.03, "marker", 0.8, "vm:ignore")], 12.0, (100, 140), rate=25.0)
    assert 5.37 not in [a.time_s for a in p.anchors if a.hard]
    assert [a.time_s for a in p.anchors if a.hard] == [2.0, 4.0, 6.0, 8.0]
    q = plan(cuts(t), 12.0, (100, 140), ignore_s=[5.37], rate=25.0)
    assert 5.37 not in [a.time_s for a in q.anchors]
    assert marker_role(" IGNORE ") == "ignore" and marker_role("ignore me") is None


@pytest.mark.parametrize("seed", range(20))
def test_the_tempo_stays_steady_on_random_montages(seed):
    t, duration = montage(seed)
    p = plan(cuts(t), duration, (110, 160), rate=25.0)
    lim = math.log1p(0.02) + 1e-6
    starts = np.array([s.start_s for s in p.sections])
    for i in np.flatnonzero(steps(p) > lim):  # only where a section starts (a jump at a strong cut)
        assert np.min(np.abs(starts - p.beats_s[i + 1])) < 1e-6, (seed, i, steps(p)[i])
    assert p.beat_cv() <= 0.05
    assert np.all(np.diff(p.beats_s) > 0)
    assert p.bpm.min() >= 110 * 0.98 - 1e-6 and p.bpm.max() <= 160 * 1.02 + 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_a_beat_carrying_a_cut_is_on_a_video_frame(seed):
    rate = 25.0
    t, duration = montage(seed, rate)
    p = plan(cuts(t), duration, (110, 160), rate=rate)
    exact = [a for a in p.anchors if a.hard and a.on in ("beat", "downbeat") and a.offset_s == 0.0]
    assert exact
    for a in exact:
        b = p.beats_s[np.argmin(np.abs(p.beats_s - a.time_s))]
        assert abs(b * rate - round(b * rate)) < 1e-6  # a multiple of 1/rate from the first frame


def test_the_plan_never_catches_fewer_cuts_than_the_best_constant_tempo():
    for seed in range(6):
        t, duration = montage(seed)
        p = plan(cuts(t), duration, (110, 160))
        c = plan(cuts(t), duration, (110, 160), flex=0.0)
        near = np.array([np.min(np.abs(c.beats_s - x)) for x in t]) <= 0.04 + 1e-9
        assert p.cut_landings()["beat"] * len(t) >= near.sum() - 1e-9


def test_exact_mode_is_todays_planner():
    anchors, duration, kw = plan_goldens.CASES["montage"]()
    p = plan(anchors, duration, exact=True, **kw)
    assert p.mode == "flex"
    assert all(a.on != "missed" and abs(a.offset_s) <= HIT_TOLERANCE_S for a in p.anchors if a.hard)
    golden = json.loads(plan_goldens.path("montage", exact=True).read_text())
    assert np.allclose(golden["beats_s"], np.round(p.beats_s, 6), atol=2e-6)


def test_the_sync_window_is_an_option_and_recorded():
    from vidmusician.core import options

    opt = options.BY_NAME["sync_window"]
    assert opt.default == 40.0 and "plan" in opt.commands and "score" in opt.commands
    assert options.BY_NAME["exact"].default is False
    t, duration = montage(3)
    wide = plan(cuts(t), duration, (110, 160), sync_window_s=0.07)
    narrow = plan(cuts(t), duration, (110, 160), sync_window_s=0.02)
    assert plan_json(wide, "x")["sync_window_s"] == 0.07 and narrow.sync_window_s == 0.02
    assert wide.cut_landings()["beat"] >= narrow.cut_landings()["beat"]


def test_no_cuts_give_whole_bars_ending_on_the_last_frame():
    p = plan([], 20.0, (90, 130), target_bpm=110)
    assert abs(p.downbeats_s[-1] - 20.0) < 1e-6 and p.beat_cv() < 1e-9
    assert 90 <= p.bpm[0] <= 130 and not p.warnings


def test_planning_3000_cuts_over_two_hours_stays_quick():
    import time

    rng = np.random.default_rng(0)
    t = frames(np.sort(rng.uniform(0, 7200, 3000)), 24.0)
    t0 = time.process_time()
    p = plan(cuts(t), 7202.0, (80, 140))
    assert time.process_time() - t0 < 6.0  # the benchmark's target is 1 s on an idle machine
    assert len(p.beats_s) > 9000


def test_eval_measures_the_sync_window_and_the_steadiness_on_a_click_track():
    from vidmusician.core.report.metrics import SR, evaluate

    beats = np.arange(0.5, 30.0, 0.5)  # 120 BPM
    y = np.zeros(int(31 * SR), np.float32)
    n = int(0.03 * SR)
    click = np.exp(-np.arange(n) / (0.005 * SR)) * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)
    for b in beats:
        i = int(round(b * SR))
        y[i : i + n] += click
    m = evaluate(y, beats[4::4], 31.0)
    assert m.cut_sync_hit == 1.0 and m.cut_beat_hit == 1.0
    assert m.cut_sync_hit_chance is not None and m.cut_sync_hit_chance < 0.3
    # librosa's own floor: its beats fall on 23-ms frames, so a perfect 120 BPM click measures about 0.023
    assert m.beat_cv is not None and m.beat_cv < 0.03
    off = evaluate(y, beats[4::4] + 0.25, 31.0)  # every cut half way between two clicks
    assert off.cut_sync_hit == 0.0


# --------------------------------------------------------------------------- the default's choice (core/rhythm/ramp.py)


def _caught(p, t, window=0.04):
    return int((np.array([np.min(np.abs(p.beats_s - x)) for x in t]) <= window + 1e-9).sum())


def test_a_ramp_keeps_every_cut_on_its_grid_point_and_the_gap_summed():
    from vidmusician.core.rhythm.ramp import ramp_exact

    # two segments of 8 and 4 steps at different intervals: the ramp meets them at the cut
    grid = np.concatenate([np.arange(8) * 0.125, 1.0 + np.arange(5) * 0.1])
    phases = np.arange(len(grid)) % 16
    g, ph, tempo = ramp_exact(grid, phases, [0.0, 1.0, 1.4], 4)
    assert g[0] == 0.0 and g[8] == 1.0 and g[-1] == 1.4 and np.array_equal(ph, phases)
    iv = np.diff(g)
    assert np.allclose(np.diff(iv[:8], 2), 0.0) and np.allclose(np.diff(iv[8:], 2), 0.0)  # linear inside
    assert abs(iv[7] - iv[8]) < abs(0.125 - 0.1)  # the step at the cut is smaller
    assert np.allclose(tempo[:-1], 60.0 / (4 * iv))


def test_the_slow_long_shot_is_ramped_onto_every_cut_within_the_steadiness_bound():
    """The issue's Premiere export: the cut-level sync plan put two cuts on sixteenths; the
    exact plan, ramped per beat, puts all five exactly on beats, every beat-to-beat change within
    2%, and so does the beat-level programme (:mod:`.beatgrid`), steadier (the default keeps it)."""
    anchors, duration, kw = plan_goldens.CASES["slow-long-shot"]()
    p = plan(anchors, duration, **kw)
    assert p.mode == "sync" and p.planner in ("sync", "exact-ramped")
    assert p.cut_landings()["beat"] == 1.0 and p.cut_landings()["exact"] == 1.0
    assert steps(p).max() <= math.log1p(0.02) + 1e-9
    from vidmusician.core.rhythm import ramp
    from vidmusician.core.rhythm.records import beat_cv

    exact = plan(anchors, duration, exact=True, **kw)
    hard = [a.time_s for a in exact.anchors if a.hard]
    sub = exact.meter.subdivision
    g, ph, _ = ramp.ramp_exact(exact.grid_s, _phases(exact), [0.0, *hard, duration], sub)
    assert p.beat_cv() <= beat_cv(g[ph % sub == 0]) + 1e-9  # the steadier of the two
    assert plan_json(p, "x")["planner"] == p.planner
    assert "planner" not in plan_json(plan(anchors, duration, exact=True, **kw), "x")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gaps", [(2.0, 4.0), (0.4, 1.2)])
def test_the_default_never_catches_fewer_cuts_than_either_planner(seed, gaps, monkeypatch):
    from vidmusician.core.rhythm import ramp
    from vidmusician.core.rhythm.nudge import sync_grid

    rng = np.random.default_rng(seed)
    t = frames(np.cumsum(rng.uniform(gaps[0], gaps[1], 20)), 25.0)
    duration = float(t[-1] + 2.0)
    p = plan(cuts(t), duration, (100, 128), rate=25.0)
    exact = plan(cuts(t), duration, (100, 128), exact=True)
    hard = [(float(x), 1.0) for x in t]
    ramped = ramp.ramp_exact(exact.grid_s, _phases(exact), [0.0, *t, duration], 4)
    steady_exact = ramp.steady_ok(ramped[0], ramped[1], exact.meter, hard, 0.02, 0.06)[0]

    def only_sync(hard, must, duration, lo, hi, target, m, flex, max_change, window, steady, rate):
        return (*sync_grid(hard, must, duration, lo, hi, target, m, window, steady, max_change, rate), "sync")

    monkeypatch.setattr(ramp, "default_grid", only_sync)
    sync = plan(cuts(t), duration, (100, 128), rate=25.0)
    assert p.planner in ("sync", "exact", "exact-ramped")
    assert _caught(p, t) >= _caught(sync, t)
    if steady_exact:  # the ramped exact plan keeps the bound: the default catches at least as many
        assert _caught(p, t) >= _caught(exact, t)
    lim = math.log1p(0.02) + 1e-6
    starts = np.array([s.start_s for s in p.sections])
    for i in np.flatnonzero(steps(p) > lim):
        assert np.min(np.abs(starts - p.beats_s[i + 1])) < 1e-6


def _phases(p):
    """The grid's phases back from a plan: steps counted from the first downbeat."""
    i0 = int(np.argmin(np.abs(p.grid_s - p.downbeats_s[0])))
    return (np.arange(len(p.grid_s)) - i0) % p.meter.steps
