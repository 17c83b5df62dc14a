"""Alignment metrics on synthetic audio with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidmusician.core.model import MotionCurve
from vidmusician.core.report.metrics import SR, beat_scores, evaluate


def clicks(times, duration, level=0.8):
    """Short decaying 1 kHz bursts at ``times`` (seconds), mono at SR."""
    y = np.zeros(int(duration * SR), np.float32)
    n = int(0.03 * SR)
    burst = (np.sin(2 * np.pi * 1000 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.005 * SR))).astype(
        np.float32
    )
    for t in times:
        i = int(round(t * SR))
        if 0 <= i < len(y) - n:
            y[i : i + n] += level * burst
    return y


GRID = 1.0 + 0.5 * np.arange(56)  # 120 BPM from 1 s to 28.5 s
CUTS = GRID[[3, 7, 8, 14, 20, 26, 27, 33, 40, 47, 52]]


@pytest.fixture(scope="module")
def on_grid():
    return evaluate(clicks(GRID, 30.0), CUTS, 30.0)


def test_clicks_exactly_at_the_cuts_score_one(on_grid):
    m = on_grid
    assert m.tempo_bpm == pytest.approx(120, abs=3)
    assert m.cut_beat_hit == 1.0
    assert m.cut_beat_hit_chance < 0.5
    assert m.cut_accent > 3 * m.cut_accent_chance


def test_shifted_clicks_score_near_chance():
    m = evaluate(clicks(GRID + 0.25, 30.0), CUTS, 30.0)  # every click half a beat late
    assert m.cut_beat_hit <= 0.2
    assert abs(m.cut_beat_hit - m.cut_beat_hit_chance) < 0.35
    assert m.cut_accent < 1.5 * m.cut_accent_chance


def test_energy_correlation_follows_loudness():
    hop = 1 / 25
    rising = MotionCurve(hop, np.linspace(0, 1, 750), *(np.zeros(750),) * 3)
    y = clicks(np.arange(0.2, 30, 0.25), 30.0) * np.linspace(0.05, 1.0, 30 * SR).astype(np.float32)
    assert evaluate(y, CUTS, 30.0, rising).energy_corr > 0.8
    falling = MotionCurve(hop, np.linspace(1, 0, 750), *(np.zeros(750),) * 3)
    assert evaluate(y, CUTS, 30.0, falling).energy_corr < -0.8
    flat = MotionCurve(hop, np.full(750, 0.5), *(np.zeros(750),) * 3)
    assert evaluate(y, CUTS, 30.0, flat).energy_corr is None


def test_bcs_bhs():
    ref = clicks(np.arange(0.5, 20, 1.0), 20.0)
    assert beat_scores(ref, ref) == (1.0, 1.0)
    half = clicks(np.arange(0.5, 20, 2.0), 20.0)  # onsets in every other second
    bcs, bhs = beat_scores(half, ref)
    assert bcs == pytest.approx(0.5, abs=0.06) and bhs == pytest.approx(0.5, abs=0.06)


def test_eval_command(tmp_path):
    import soundfile

    from .conftest import clip, save, timeline, video_track
    from .test_cli import run

    # cuts at 2.5 s and 5 s (frames 60, 120 at 24 fps); clicks on a 120 BPM grid through them
    t = timeline(video_track(clip("a", 60), clip("b", 60), clip("c", 120)), start=0)
    path = save(t, tmp_path / "cut.otio")
    wav = tmp_path / "music.wav"
    soundfile.write(wav, clicks(np.arange(0.5, 10, 0.5), 10.0), SR)
    code, out, err = run("eval", str(wav), str(path), "--json", "-", "--quiet")
    assert code == 0, err
    data = json.loads(out)
    assert data["n_cuts"] == 2 and data["cut_beat_hit"] == 1.0
    for key in ("cut_beat_hit_chance", "cut_accent", "cut_accent_chance", "energy_corr", "tempo_bpm"):
        assert key in data
    code, _, err = run("eval", str(tmp_path / "none.wav"), str(path))
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    code, _, err = run("eval", str(bad), str(path))
    assert code == 2 and "cannot be read as audio" in err and "Traceback" not in err


def test_windows_tempo_is_folded_into_one_octave():
    """Known answers: windows that hear 60 and 120 BPM in turn are one tempo
    (the octave most windows heard; a tie: the faster), not their plain median, 90."""
    from vidmusician.core.report.results import octave_median

    assert octave_median([60.0, 123.0, 60.0, 123.0]) == pytest.approx(121.5)
    assert octave_median([60.0, 60.0, 123.0]) == pytest.approx(60.0)
    assert octave_median([117.0, 118.0, 59.0, 119.0]) == pytest.approx(118.0)
    assert octave_median([100.0]) == 100.0 and octave_median([]) == 0.0
