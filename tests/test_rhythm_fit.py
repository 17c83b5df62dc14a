"""Fitting existing music to a cut."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from vidmusician.core.rhythm.fit import _beat_sequence

from .conftest import clip, save, timeline, video_track
from .test_cli import run
from .test_report_metrics import clicks

BEAT = 60 / 97


def cut_list(tmp_path, counts, tail_beats=5, seed=0):
    """Shots lasting the given numbers of beats at ~97 BPM (+-2% each), frame-accurate at 24 fps."""
    rng = np.random.default_rng(seed)
    lens = [round(c * BEAT * rng.uniform(0.98, 1.02) * 24) for c in counts] + [round(tail_beats * BEAT * 24)]
    return save(
        timeline(video_track(*[clip(f"s{i}", n) for i, n in enumerate(lens)]), start=0), tmp_path / "cut.otio"
    )


def music(tmp_path, seconds, bpm=100.0):
    y = clicks(np.arange(0.3, seconds, 60 / bpm), seconds)
    path = tmp_path / "music.wav"
    soundfile.write(path, np.stack([y, y]).T, 22050)
    return path


@pytest.mark.parametrize("seconds,kind", [(45.0, "dropped"), (20.0, "repeated")])
def test_click_track_fitted_to_irregular_cuts_hits_them(tmp_path, seconds, kind):
    cut = cut_list(tmp_path, [3, 5, 2, 7, 4, 6, 3, 8, 5, 4])
    out = tmp_path / "out"
    code, _, err = run("fit", str(music(tmp_path, seconds)), str(cut), "-o", str(out), "--quiet")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["cut_beat_hit"] >= 0.95
    assert report["metrics"]["cut_beat_hit_chance"] < 0.5
    lo, hi = report["stretch_range"]
    assert lo >= 0.92 - 1e-3 and hi <= 1.08 + 1e-3
    assert report[f"bars_{kind}"] > 0
    info = soundfile.info(out / "mix.wav")
    assert info.samplerate == 48000 and info.subtype == "PCM_24"
    from vidmusician.core.io.timeline import read_timeline

    assert info.duration == pytest.approx(read_timeline(cut).duration_s + 2.0, abs=1e-3)  # cut + ring-out
    assert {p.name for p in out.iterdir()} >= {"mix.wav", "plan.json", "report.json", "timeline.otio"}


def test_fit_refuses_a_used_folder_and_bad_music(tmp_path):
    cut = cut_list(tmp_path, [4, 4])
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    code, _, err = run("fit", str(music(tmp_path, 20)), str(cut), "-o", str(used))
    assert code == 2 and "new folder" in err
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(22050 * 5, np.float32), 22050)
    code, _, err = run("fit", str(silent), str(cut), "-o", str(tmp_path / "o2"))
    assert code == 2 and "too few clear beats" in err


@pytest.mark.parametrize(
    "need,j_end,expect_len,dropped,repeated",
    [(17, 16, 17, 0, 0), (9, 16, 9, 2, 0), (25, 16, 25, 0, 2), (41, 8, 41, 0, 8)],
)
def test_beat_sequence_drops_or_repeats_whole_bars(need, j_end, expect_len, dropped, repeated):
    seq, d, r = _beat_sequence(need, j_end, 4)
    assert len(seq) == expect_len and seq[0] == 0 and seq[-1] == j_end
    assert (d, r) == (dropped, repeated)
    jumps = [k for k in range(1, len(seq)) if seq[k] != seq[k - 1] + 1]
    assert all(k % 4 == 0 and seq[k] % 4 == 0 for k in jumps)  # only at bar lines
