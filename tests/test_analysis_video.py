"""Plain video input: cuts from PySceneDetect, checked on videos with known cuts."""

from __future__ import annotations

import json

import pytest

from vidmusician.core.analysis.inputs import read_input
from vidmusician.core.analysis.video import detect_cuts
from vidmusician.core.errors import Cancelled, InputError

from .conftest import VIDEOS, write_video


def test_video_written_with_known_cuts(tmp_path):
    video = write_video(tmp_path / "cuts.mp4", [20, 45, 90], 120, fps=25)
    tl = read_input(video)
    assert tl.source.format == "video"
    assert tl.rate == pytest.approx(25)
    assert tl.duration_frames == 120
    assert list(tl.cut_frames()) == [20, 45, 90]
    assert [a.kind for a in tl.anchors] == ["scene"] * 3
    assert all(s.media == str(video.resolve()) and s.media_found for s in tl.shots)
    assert tl.shots[2].source_start_s == pytest.approx(45 / 25)


def test_video_without_cuts_is_one_shot(tmp_path):
    tl = read_input(write_video(tmp_path / "one.mp4", [], 60))
    assert len(tl.shots) == 1 and tl.anchors == ()


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize("name", ["testvideo.mp4", "counter.mp4", "fades.mp4"])
def test_pyscenedetect_goldens(name):
    golden = json.loads((VIDEOS / "goldens" / f"{name}.AdaptiveDetector.default.json").read_text())
    _, _, cuts = detect_cuts(VIDEOS / name)
    assert cuts == golden["cuts"]


def test_progress_and_cancel(tmp_path):
    video = write_video(tmp_path / "long.mp4", [100], 200)
    seen: list[float] = []
    detect_cuts(video, progress=lambda f, label: seen.append(f))
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0, abs=0.05)

    class Now:
        def is_set(self):
            return True

    with pytest.raises(Cancelled):
        detect_cuts(video, cancel=Now())


def test_corrupt_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 definitely not a video" * 100)
    with pytest.raises(InputError, match="broken.mp4"):
        read_input(bad)
