"""The bundled demo: media drawn by OpenCV, a cut with known edit points."""

from __future__ import annotations

import json

import pytest

from vidmusician.core import demo
from vidmusician.core.analysis.inputs import read_input
from vidmusician.core.analysis.video import detect_cuts
from vidmusician.core.errors import OutputError
from vidmusician.core.io.timeline import read_timeline


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    summary = demo.run_demo(out, note=lambda s: None)
    return out, summary


def test_demo_cut_has_the_known_edit_points(demo_out):
    out, summary = demo_out
    data = json.loads((out / "analysis.json").read_text())
    edits = [round(a["time_s"] * 25) for a in data["anchors"] if a["kind"] in ("cut", "transition")]
    assert edits == demo.cut_frames() == [75, 150, 200, 250, 325, 375, 425, 500, 600]
    kinds = {round(a["time_s"] * 25): a["kind"] for a in data["anchors"] if a["kind"] != "marker"}
    assert kinds[250] == "transition"
    assert [round(a["time_s"] * 25) for a in data["anchors"] if a["kind"] == "marker"] == [demo.MARKER_FRAME]
    assert data["missing_media"] == [] and all(s["media_found"] for s in data["shots"])
    assert data["start_timecode"] == "01:00:00:00"
    # 60 BPM, bars every 4 s from 2 s (a two-beat pickup) to the last frame at 30 s:
    # the cuts at 6 and 10 s are downbeats, the other seven whole seconds beats
    assert "at 60 BPM; 9 cuts: 2 on a downbeat, 7 on a beat\n" in summary
    assert "cuts on a beat (chance " in summary and "None" not in summary
    assert (out / "score" / "mix.wav").is_file() and (out / "score" / "timeline.xml").is_file()


def test_demo_fcp_xml_reads_back_with_the_same_cut(demo_out):
    out, _ = demo_out
    tl = read_timeline(out / "demo" / "demo_cut.xml")
    assert list(tl.cut_frames()) == demo.cut_frames()
    assert all(s.media_found for s in tl.shots)


def test_demo_media_really_cuts_where_the_sources_change(demo_out):
    """Each source clip is one continuous shot: PySceneDetect finds no cut inside."""
    out, _ = demo_out
    for name in ("night", "street", "forest"):
        _, n, cuts = detect_cuts(out / "demo" / "media" / f"{name}.mp4")
        assert n == demo.SOURCE_FRAMES and cuts == []


def test_demo_refuses_a_folder_in_use(demo_out):
    out, _ = demo_out
    with pytest.raises(OutputError, match="not an empty folder"):
        demo.run_demo(out)


def test_demo_media_reads_as_plain_video(demo_out):
    out, _ = demo_out
    tl = read_input(out / "demo" / "media" / "night.mp4")
    assert tl.rate == pytest.approx(demo.RATE) and tl.duration_frames == demo.SOURCE_FRAMES
