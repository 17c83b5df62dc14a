"""Timelines cut up by scene detection: one media file in consecutive source ranges.

DaVinci Resolve's *Scene Cut Detection* and Premiere's *Scene Edit Detection*
turn a rendered video into one clip per shot. Read from the timeline alone,
every such edit is a through edit (the same media continuing); the picture
says which of them are real cuts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidmusician.core.analysis.analyze import analyze
from vidmusician.core.analysis.scan import cut_sized
from vidmusician.core.io.timeline import STRENGTH_CUT, STRENGTH_THROUGH_EDIT
from vidmusician.core.rhythm.planning import plan_for
from vidmusician.core.session.pipeline import score
from vidmusician.core.session.settings import ScoreOptions

from .conftest import VIDEOS, clip, save, timeline, video_track, write_video

RATE = 25


def scene_cut_timeline(path: Path, media: Path, bounds: list[int], rate: float = RATE) -> Path:
    """Clips of ``media`` at consecutive source ranges split at ``bounds`` (frames)."""
    clips = [
        clip(f"shot {i + 1}", b - a, rate=rate, start=a, url=str(media))
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
    ]
    return save(timeline(video_track(*clips), rate=rate), path)


def edits(feats) -> dict[int, tuple[float, str]]:
    """Frame -> (strength, label) of the edit anchors."""
    rate = feats.timeline.rate
    return {
        round(a.time_s * rate): (a.strength, a.label)
        for a in feats.anchors
        if a.kind in ("cut", "transition")
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A video with picture cuts at frames 50, 56, 110 and 160 (the cut at 56
    comes too soon after 50 for PySceneDetect's minimum scene length, so only
    the frame difference can find it), cut into a timeline at those frames
    and at 80, where the shot continues (a true through edit)."""
    d = tmp_path_factory.mktemp("scenecut")
    video = write_video(d / "render.mp4", [50, 56, 110, 160], 220)
    tl = scene_cut_timeline(d / "scenecut.otio", video, [0, 50, 56, 80, 110, 160, 220])
    return d, video, tl


def test_edits_on_picture_changes_are_hard_cuts_and_a_continuing_shot_stays_weak(made):
    _, _, tl = made
    feats = analyze(tl)
    e = edits(feats)
    assert sorted(e) == [50, 56, 80, 110, 160]
    for frame in (50, 110, 160):  # the detector saw these
        assert e[frame] == (
            STRENGTH_CUT,
            f"{e[frame][1].split(' (')[0]} (through edit; the picture cuts here)",
        )
    assert e[56][0] == STRENGTH_CUT and e[56][1].endswith("(through edit; the picture changes like a cut)")
    assert e[80] == (STRENGTH_THROUGH_EDIT, "shot 3 -> shot 4 (through edit)")
    # no scene anchor duplicates a cut the timeline already has
    assert not [a for a in feats.anchors if a.kind == "scene"]
    assert not feats.warnings


def test_a_scene_cut_timeline_plans_every_cut_like_the_plain_video(made):
    _, video, tl = made
    from_timeline, _ = plan_for(analyze(tl), style="rock")
    from_video, _ = plan_for(analyze(video), style="rock")
    hard_tl = [round(a.time_s * RATE) for a in from_timeline.anchors if a.hard]
    hard_video = [round(a.time_s * RATE) for a in from_video.anchors if a.hard]
    assert hard_tl == [50, 56, 110, 160]  # 80 is not a cut to follow
    # the plain video's detector misses 56 (minimum scene length); the timeline has it
    assert hard_video == [50, 110, 160]
    assert from_timeline.hits() == 1.0 and from_video.hits() == 1.0
    assert all(a.on != "missed" for a in from_timeline.anchors if a.hard)


def test_a_scene_cut_timeline_is_scored_with_cut_figures_like_the_plain_video(made, tmp_path):
    _, video, tl = made
    score(tl, tmp_path / "tl", ScoreOptions(seed=3, style="rock"))
    score(video, tmp_path / "video", ScoreOptions(seed=3, style="rock"))
    m_tl = json.loads((tmp_path / "tl" / "report.json").read_text())["metrics"]
    m_video = json.loads((tmp_path / "video" / "report.json").read_text())["metrics"]
    # before: 0 cuts, cut_beat_hit None; now the four picture cuts (the video's detector finds three)
    assert (m_tl["n_cuts"], m_video["n_cuts"]) == (4, 3)
    assert m_tl["cut_beat_hit"] is not None and m_video["cut_beat_hit"] is not None
    assert m_tl["cut_beat_hit"] >= m_tl["cut_beat_hit_chance"]
    assert m_video["cut_beat_hit"] >= m_video["cut_beat_hit_chance"]


def test_unreadable_media_keeps_through_edits_weak_and_warns_once(tmp_path):
    missing = tmp_path / "offline.mp4"
    tl = scene_cut_timeline(tmp_path / "offline.otio", missing, [0, 50, 110, 160, 220])
    feats = analyze(tl)
    assert {s for s, _ in edits(feats).values()} == {STRENGTH_THROUGH_EDIT}
    notes = [w for w in feats.warnings + feats.timeline.warnings if "through edits" in w]
    assert len(notes) == 1
    assert "3 of 3 edits are through edits" in notes[0]
    assert "scored as weak anchors: the media could not be read to check them" in notes[0]


def test_a_few_through_edits_among_cuts_give_no_warning(tmp_path):
    """Only a timeline made mostly of through edits is worth a warning."""
    missing = tmp_path / "offline.mp4"
    clips = [
        clip("a", 50, rate=RATE, start=0, url=str(missing)),
        clip("b", 50, rate=RATE, start=50, url=str(missing)),  # through edit
        clip("c", 50, rate=RATE, start=500, url=str(missing)),  # a jump: a cut
        clip("d", 50, rate=RATE, start=900, url=str(missing)),  # a cut
    ]
    tl = save(timeline(video_track(*clips), rate=RATE), tmp_path / "mixed.otio")
    feats = analyze(tl)
    assert sorted(s for s, _ in edits(feats).values()) == [STRENGTH_THROUGH_EDIT, STRENGTH_CUT, STRENGTH_CUT]
    assert not [w for w in feats.warnings if "through edits" in w]


def test_cut_sized_reads_pyscenedetects_adaptive_rule():
    change = np.array([0.0, 1.0, 1.0, 1.0, 20.0, 1.0, 1.0, 1.0])
    assert cut_sized(change, 4)
    assert not cut_sized(change, 3)
    assert not cut_sized(np.array([0.0, 1.0, 1.0, 14.0, 1.0, 1.0]), 3)  # under the floor of 15
    assert not cut_sized(np.array([0.0, 12.0, 12.0, 30.0, 12.0, 12.0]), 3)  # moving picture: < 3x
    assert not cut_sized(change, 0) and not cut_sized(change, len(change))


@pytest.mark.skipif(not (VIDEOS / "testvideo.mp4").is_file(), reason="../shared/data is absent")
def test_pyscenedetects_testvideo_cut_into_a_timeline_at_its_scene_changes(tmp_path):
    """testvideo.mp4 cut where PySceneDetect's golden says the scenes change
    (AdaptiveDetector: 30, 180, 394, 691), plus a through edit inside a shot."""
    golden = json.loads((VIDEOS / "goldens" / "testvideo.mp4.AdaptiveDetector.default.json").read_text())
    cuts = golden["cuts"]
    rate = 30000 / 1001
    media = VIDEOS / "testvideo.mp4"
    tl = scene_cut_timeline(tmp_path / "testvideo_scenes.otio", media, [0, *sorted([*cuts, 300]), 720], rate)
    feats = analyze(tl)
    e = edits(feats)
    assert sorted(e) == sorted([*cuts, 300])
    assert all(e[c][0] == STRENGTH_CUT for c in cuts), e
    assert e[300][0] == STRENGTH_THROUGH_EDIT
    p_tl, _ = plan_for(feats, style="cinematic")
    p_video, _ = plan_for(analyze(media), style="cinematic")
    assert [round(a.time_s * rate) for a in p_tl.anchors if a.hard] == cuts
    assert p_tl.hits() == 1.0
    assert p_tl.hits() == p_video.hits()
