"""The exact rhythm planner (``--exact``: every hard cut on the grid within
1 ms) on made-up cut lists with known answers; the default sync planner has
its own tests (tests/test_rhythm_planner_sync.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vidmusician.core.errors import OptionError
from vidmusician.core.model import Anchor, MotionCurve
from vidmusician.core.rhythm.planner import HIT_TOLERANCE_S, METERS, parse_bpm
from vidmusician.core.rhythm.planner import plan as _plan


def plan(*args, **kwargs):
    """The planner in exact mode, whose 1-ms guarantee these tests assert."""
    kwargs.setdefault("exact", True)
    return _plan(*args, **kwargs)


def cuts(times, kind="cut", strength=1.0):
    return [Anchor(float(t), kind, strength) for t in times]


def frames(times, rate=24):
    return np.round(np.asarray(times) * rate) / rate


def check_grid(p, max_change=0.06):
    """Invariants every flex plan keeps."""
    assert np.all(np.diff(p.beats_s) > 0)
    assert abs(p.downbeats_s[-1] - p.duration_s) < HIT_TOLERANCE_S  # ends on a downbeat at the last frame
    steps = np.abs(np.diff(np.log(p.bpm)))
    assert steps.max(initial=0) <= math.log1p(max_change) + 1e-9
    lo, hi = p.tempo_range
    assert p.bpm.min() >= lo - 1e-6 and p.bpm.max() <= hi + 1e-6


def test_regular_cuts_on_a_120_grid_give_120_bpm_and_every_cut_on_a_beat():
    p = plan(cuts(np.arange(2, 30, 2.0)), 30.0, (90, 130))
    check_grid(p)
    assert np.allclose(p.bpm, 120.0)
    assert all(a.on in ("beat", "downbeat") and abs(a.offset_s) < HIT_TOLERANCE_S for a in p.anchors)
    assert len(p.beats_s) == 61  # 0..30 s at 0.5 s


@pytest.mark.parametrize("seed", range(8))
def test_irregular_cuts_all_land_on_the_grid_within_the_limits(seed):
    rng = np.random.default_rng(seed)
    times = frames(np.cumsum(rng.uniform(1.5, 4.0, 15)))
    p = plan(cuts(times), float(times[-1] + 3.0), (80, 140))
    check_grid(p)
    assert [a.on for a in p.anchors].count("missed") == 0
    assert max(abs(a.offset_s) for a in p.anchors) < HIT_TOLERANCE_S
    # at least half on beats; the rest on subdivisions, where the 6% limit leaves
    # no whole number of beats between two cuts (candidate tempos of a 2 s gap
    # are 30 BPM apart)
    on_beats = sum(a.on in ("beat", "downbeat") for a in p.anchors)
    assert on_beats >= 0.5 * len(p.anchors)


def test_wider_limits_put_every_irregular_cut_on_a_beat():
    rng = np.random.default_rng(3)
    times = frames(np.cumsum(rng.uniform(1.5, 4.0, 15)))
    p = plan(cuts(times), float(times[-1] + 3.0), (60, 180), max_change=0.25)
    check_grid(p, max_change=0.25)
    assert all(a.on in ("beat", "downbeat") for a in p.anchors)


def test_tighter_change_limit_holds():
    rng = np.random.default_rng(5)
    times = frames(np.cumsum(rng.uniform(2.0, 5.0, 10)))
    p = plan(cuts(times), float(times[-1] + 2.0), (80, 140), max_change=0.02)
    check_grid(p, max_change=0.02)


def test_fast_montage_lands_on_subdivisions():
    times = frames(np.arange(4.0, 7.0, 0.25))  # cuts every quarter second: faster than a beat
    p = plan(cuts(times), 10.0, (90, 130))
    ons = [a.on for a in p.anchors]
    assert "missed" not in ons and "subdivision" in ons
    assert max(abs(a.offset_s) for a in p.anchors) < HIT_TOLERANCE_S


def test_no_cuts_gives_a_steady_tempo_ending_on_a_downbeat():
    p = plan([], 20.0, (90, 130), target_bpm=110)
    check_grid(p)
    assert np.ptp(p.bpm) == 0 and abs(p.bpm[0] - 110) <= 5
    assert len(p.downbeats_s) >= 2 and np.allclose(np.diff(p.beats_s), 60 / p.bpm[0])


@pytest.mark.parametrize("first", [0.3, 0.7, 1.0 / 24])
def test_a_cut_in_the_first_second(first):
    p = plan(cuts([first, 3.0, 6.5]), 9.0, (90, 130))
    check_grid(p)
    assert all(a.on != "missed" for a in p.anchors)


def test_very_long_shot():
    p = plan(cuts([3.0, 95.0]), 100.0, (90, 130))
    check_grid(p)
    assert all(a.on != "missed" for a in p.anchors)
    assert len(p.beats_s) > 150


def test_constant_mode_finds_the_true_tempo_of_cuts_on_a_120_grid():
    rng = np.random.default_rng(0)
    grid = 0.37 + 0.5 * np.arange(80)  # 120 BPM, phase 0.37 s
    times = np.sort(rng.choice(grid, 20, replace=False))
    p = plan(cuts(times), 41.0, (80, 160), flex=0.0)
    assert p.mode == "constant"
    assert p.bpm[0] == pytest.approx(120.0, abs=0.05)
    assert all(a.on in ("beat", "downbeat") for a in p.anchors)
    assert np.allclose(np.diff(p.beats_s), 0.5, atol=1e-3)


@pytest.mark.parametrize("meter,beats", [("4/4", 4), ("3/4", 3), ("6/8", 2)])
def test_meters(meter, beats):
    p = plan(cuts([4.0, 8.0, 12.0]), 16.0, (90, 130), meter=meter)
    check_grid(p)
    assert p.meter == METERS[meter]
    idx = np.searchsorted(p.beats_s, p.downbeats_s - 1e-9)
    assert set(np.diff(idx)) == {beats}


def test_strong_cuts_prefer_downbeats():
    p = plan(cuts([4.0, 8.0, 12.0]), 16.0, (110, 130), target_bpm=120)
    assert [a.on for a in p.anchors] == ["downbeat"] * 3  # 120 BPM, 4/4: bars of 2 s


def test_through_edits_and_motion_beats_are_soft():
    anchors = cuts([4.0]) + cuts([5.1], "cut", 0.25) + cuts([6.03], "motion", 0.5)
    p = plan(anchors, 10.0, (90, 130))
    by_kind = {a.kind + str(a.strength): a for a in p.anchors}
    assert by_kind["cut1.0"].hard and not by_kind["cut0.25"].hard and not by_kind["motion0.5"].hard


def test_intensity_follows_motion_and_sections_start_on_strong_downbeats():
    hop = 1 / 25
    values = np.where(np.arange(0, 32, hop) < 16, 0.1, 0.8)
    motion = MotionCurve(hop, values, values, values, values)
    p = plan(cuts([8.0, 16.0, 24.0]), 32.0, (110, 130), target_bpm=120, motion=motion)
    assert p.intensity[p.beats_s < 15].mean() < 0.2 and p.intensity[p.beats_s > 17].mean() > 0.7
    assert [s.start_s for s in p.sections] == [0.0, 8.0, 16.0, 24.0]
    assert p.sections[-1].intensity > p.sections[0].intensity


def test_plan_speed_scales_to_long_timelines():
    """3,000 cuts over two hours plan fine (timing lives in benchmark/bench_plan.py)."""
    rng = np.random.default_rng(1)
    times = frames(np.cumsum(rng.uniform(0.6, 4.2, 3000)))
    p = plan(cuts(times), float(times[-1] + 2), (90, 130))
    assert p.hits() == 1.0


def test_bad_options():
    with pytest.raises(OptionError, match="--bpm"):
        parse_bpm("fast")
    with pytest.raises(OptionError, match="--bpm"):
        parse_bpm("140-90")
    assert parse_bpm("100") == (100, 100) and parse_bpm("90-120") == (90, 120)
    with pytest.raises(OptionError, match="--meter"):
        plan([], 10.0, meter="5/4")
    with pytest.raises(OptionError, match="--flex"):
        plan([], 10.0, flex=2.0)


def test_plan_command_json_contract(tmp_path):
    from .conftest import clip, save, timeline, video_track
    from .test_cli import run

    t = timeline(video_track(clip("a", 48), clip("b", 60), clip("c", 36), clip("d", 96)), start=86400)
    path = save(t, tmp_path / "cut.otio")
    code, out, err = run("plan", str(path), "--json", "-", "--bpm", "100-130", "--exact", "--quiet")
    assert code == 0, err
    data = json.loads(out)
    for key in ("beats_s", "downbeats_s", "bpm", "sections", "anchors"):
        assert key in data
    assert len(data["bpm"]) == len(data["beats_s"])
    assert [a["on"] for a in data["anchors"]] and all(a["on"] != "missed" for a in data["anchors"])
    assert {a["on"] for a in data["anchors"]} <= {"beat", "downbeat", "subdivision", "missed"}
    assert data["mode"] == "flex" and data["cut_landings"]["exact"] == data["cut_landings"]["beat"]
    assert all(100 - 1e-6 <= b <= 130 + 1e-6 for b in data["bpm"])
    code, _, err = run("plan", str(path), "--bpm", "nonsense")
    assert code == 2 and "--bpm" in err
    png = tmp_path / "plan.png"
    assert run("plan", str(path), "--plot", str(png), "--quiet")[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("meter, flex", [("4/4", 1.0), ("6/8", 0.5), ("3/4", 0.0)])
def test_plan_json_round_trips_through_rhythm_plan_from_dict(meter, flex):
    from vidmusician.core import RhythmPlan
    from vidmusician.core.rhythm.planning import plan_json

    anchors = cuts(frames([2.1, 4.9, 7.3])) + cuts([5.1], "cut", 0.25)
    p = plan(anchors, 12.0, (90, 130), meter=meter, flex=flex)
    data = json.loads(json.dumps(plan_json(p, "rock")))  # as plan.json holds it
    back = RhythmPlan.from_dict(data)
    assert plan_json(back, "rock") == data
    assert back.meter == p.meter and back.mode == p.mode and back.tempo_range == p.tempo_range
    assert np.allclose(back.beats_s, p.beats_s, atol=1e-6) and np.allclose(back.downbeats_s, p.downbeats_s)
    assert [a.on for a in back.anchors] == [a.on for a in p.anchors] and back.hits() == pytest.approx(
        p.hits()
    )
    assert len(back.grid_s) == 0  # plan.json keeps no grid


def test_rhythm_plan_from_a_sparse_plan_json():
    from vidmusician.core import RhythmPlan

    p = RhythmPlan.from_dict({"downbeats_s": [0.0, 2.0, 4.0], "bpm": [120.0]})  # what the session check needs
    assert len(p.beats_s) == 0 and p.anchors == () and p.meter == METERS["4/4"] and p.duration_s == 4.0
    with pytest.raises(OptionError, match="plan meter '5/4'"):
        RhythmPlan.from_dict({"downbeats_s": [0.0, 2.0], "bpm": [120.0], "meter": "5/4"})
