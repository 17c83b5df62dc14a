"""Real timelines exported by editing tools (../shared/data/timelines)."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from vidmusician.core.errors import NoVideoError
from vidmusician.core.io.timeline import read_timeline

from .conftest import TIMELINES, needs_shared, shared_timelines

pytestmark = needs_shared

RATES = {"25fps.edl": 25}

#: Known answers, read off the files by hand: (cut frames, transition frames, duration, start TC).
EXPECTED = {
    "25fps.edl": ([161, 361, 447], [], 496, "00:00:00:00"),
    "avid_example.edl": ([31], [], 81, "00:59:53:11"),
    "clip_example.otio": ([8, 11], [11], 19, "00:00:00:00"),
    "dissolve_test.edl": ([9, 19], [9], 20, "01:00:00:00"),
    "gap_test.edl": ([24, 40, 64, 102], [], 126, "00:00:00:00"),
    "hiero_xml_export.xml": ([14, 1069, 1085], [], 1324, "01:00:00:00"),
    "multitrack.otio": ([482, 962, 1198, 1838, 1957, 2677], [], 3282, "00:00:00:00"),
    "nested_example.otio": ([238, 269, 302, 326, 331, 394, 395, 398], [], 636, "00:00:00:00"),
    "premiere_enable_property.xml": ([81, 177, 220], [], 256, "00:00:00:00"),
    "simple_cut.otio": ([3, 9, 13], [], 19, "00:00:00:00"),
    "transition.otio": ([3, 9, 13], [9], 19, "00:00:00:00"),
}
NO_VIDEO = {"multi_audio.edl", "sample_just_track.xml"}

#: Edit points where the composited picture changes but OTIO's flatten_stack,
#: which treats a nested composition as one item, reports none: the nested
#: stack and track are trimmed longer than their content, so black shows.
BEYOND_FLATTEN = {"nested_example.otio": {326, 395}}


def otio_edit_points(path) -> set[int]:
    kw = {"rate": RATES.get(path.name, 24)} if path.suffix == ".edl" else {}
    t = otio.adapters.read_from_file(str(path), **kw)
    flat = otio.algorithms.flatten_stack(t.video_tracks())  # keep a reference (DESIGN.md)
    rate = 25 if path.name in RATES else None
    points = set()
    for item in list(flat)[1:]:
        if isinstance(item, otio.schema.Transition):
            continue
        start = item.range_in_parent().start_time
        points.add(round(start.rescaled_to(rate or start.rate).value))
    return points


def test_every_shared_timeline_has_a_known_answer():
    names = {p.name for p in shared_timelines()}
    assert names == set(EXPECTED) | NO_VIDEO


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_edit_points_match_known_answer_and_otio_flatten(name):
    path = TIMELINES / name
    tl = read_timeline(path, RATES.get(name))
    cuts, transitions, duration, start_tc = EXPECTED[name]
    assert list(tl.cut_frames()) == cuts
    assert tl.duration_frames == duration
    assert tl.start_timecode == start_tc
    assert set(tl.cut_frames()) == otio_edit_points(path) | BEYOND_FLATTEN.get(name, set())
    # shots tile the timeline exactly
    assert tl.shots[0].start_frame == 0 and tl.shots[-1].end_frame == tl.duration_frames
    for a, b in zip(tl.shots, tl.shots[1:]):
        assert a.end_frame == b.start_frame
    assert [s.index for s in tl.shots] == list(range(len(tl.shots)))
    # one anchor per edit point: a transition where one sits, otherwise a cut
    edit_anchors = [a for a in tl.anchors if a.kind in ("cut", "transition")]
    assert [round(a.time_s * tl.rate) for a in edit_anchors] == cuts
    assert [round(a.time_s * tl.rate) for a in edit_anchors if a.kind == "transition"] == transitions


@pytest.mark.parametrize("name", sorted(NO_VIDEO))
def test_timelines_without_picture_are_refused(name):
    with pytest.raises(NoVideoError):
        read_timeline(TIMELINES / name)


def test_premiere_disabled_clips_are_transparent():
    """Premiere's <enabled>FALSE</enabled> survives only in the adapter's metadata."""
    tl = read_timeline(TIMELINES / "premiere_enable_property.xml")
    kinds = [(s.kind, s.name) for s in tl.shots]
    # shot 1: the top track's clip is disabled, so overlay_1 (source.mp4) shows
    # shot 3: the only clip is disabled: black
    assert kinds == [("clip", "source.mp4"), ("clip", "source.mp4"), ("clip", "source3.mp4"), ("gap", "")]
    # source.mp4 continues from shot 0 into shot 1: a through edit, a weak anchor
    assert tl.anchors[0].strength < 0.5 and "through edit" in tl.anchors[0].label


def test_nested_compositions_resolve_to_inner_clips():
    tl = read_timeline(TIMELINES / "nested_example.otio")
    names = [s.name for s in tl.shots]
    assert names[1] == "Clip Inside A Stack 1"
    assert names[3] == "Clip Inside A Stack 2"
    assert names[6] == "Clip Inside A Track"
    # the inner clip's own source time: Clip Inside A Stack 1 starts at source frame 373
    assert tl.shots[1].source_start_s == pytest.approx(373 / 24)


def test_missing_media_is_listed_not_fatal():
    tl = read_timeline(TIMELINES / "simple_cut.otio")
    assert len(tl.missing_media) == 4
    assert all(not s.media_found for s in tl.shots)
    assert any("not found" in w for w in tl.warnings)


def test_edl_without_rate_fails_clearly_when_timecodes_need_more_frames():
    from vidmusician.core.errors import InputError

    with pytest.raises(InputError, match="--rate"):
        read_timeline(TIMELINES / "25fps.edl")
