"""Made-up timelines, one per edge case, with known answers."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from vidmusician.core import units
from vidmusician.core.errors import InputError, NoVideoError, UnsupportedFormatError
from vidmusician.core.io.timeline import input_kind, read_timeline

from .conftest import RT, TR, clip, gap, save, timeline, video_track


def read(t, tmp_path, name="t.otio"):
    return read_timeline(save(t, tmp_path / name))


def shots(tl):
    return [(s.start_frame, s.end_frame, s.kind, s.name) for s in tl.shots]


def test_record_time_counts_from_first_frame_whatever_the_start_timecode(tmp_path):
    t = timeline(video_track(clip("a", 48), clip("b", 24)), start=86400)  # 01:00:00:00 @ 24
    tl = read(t, tmp_path)
    assert tl.start_timecode == "01:00:00:00"
    assert shots(tl) == [(0, 48, "clip", "a"), (48, 72, "clip", "b")]
    assert tl.anchors[0].time_s == pytest.approx(2.0)
    assert tl.duration_s == pytest.approx(3.0)


def test_gaps_are_shots_of_black_and_upper_tracks_cover_lower_ones(tmp_path):
    v1 = video_track(clip("base", 100))
    v2 = video_track(gap(20), clip("insert", 30), gap(10), name="V2")
    v3 = video_track(gap(110), clip("tail", 10), name="V3")  # past V1's end: black before it
    tl = read(timeline(v1, v2, v3), tmp_path)
    assert shots(tl) == [
        (0, 20, "clip", "base"),
        (20, 50, "clip", "insert"),
        (50, 100, "clip", "base"),
        (100, 110, "gap", ""),
        (110, 120, "clip", "tail"),
    ]
    # base resumes after the insert at its own source time: frame 50 of base
    assert tl.shots[2].source_start_s == pytest.approx(50 / 24)
    assert tl.shots[1].track == "V2"


def test_transition_gives_one_anchor_at_its_cut_point(tmp_path):
    tr = otio.schema.Transition(in_offset=RT(4, 24), out_offset=RT(6, 24), name="Dissolve")
    t = timeline(video_track(clip("a", 24), tr, clip("b", 24), clip("c", 24)))
    tl = read(t, tmp_path)
    assert [(round(a.time_s * 24), a.kind) for a in tl.anchors] == [(24, "transition"), (48, "cut")]
    assert tl.anchors[0].duration_s == pytest.approx(10 / 24)
    assert tl.anchors[0].strength < tl.anchors[1].strength


def test_nested_stack_and_track_resolve(tmp_path):
    inner = otio.schema.Stack(name="compound", source_range=TR(RT(0, 24), RT(20, 24)))
    lower = video_track(clip("inner_low", 40, start=100), name="in1")
    upper = video_track(gap(10), clip("inner_top", 30, start=500), name="in2")
    inner.append(lower)
    inner.append(upper)
    nested_track = otio.schema.Track(name="nt", source_range=TR(RT(5, 24), RT(10, 24)))
    nested_track.append(clip("nt_a", 8, start=0))
    nested_track.append(clip("nt_b", 8, start=0))
    t = timeline(video_track(clip("a", 24), inner, nested_track, clip("z", 24)))
    tl = read(t, tmp_path)
    assert shots(tl) == [
        (0, 24, "clip", "a"),
        (24, 34, "clip", "inner_low"),
        (34, 44, "clip", "inner_top"),
        (44, 47, "clip", "nt_a"),  # nested track trimmed from its frame 5: nt_a frames 5..8
        (47, 54, "clip", "nt_b"),
        (54, 78, "clip", "z"),
    ]
    assert tl.shots[1].source_start_s == pytest.approx(100 / 24)
    assert tl.shots[2].source_start_s == pytest.approx(500 / 24)
    assert tl.shots[3].source_start_s == pytest.approx(5 / 24)


def test_disabled_clips_and_tracks_are_skipped(tmp_path):
    v1 = video_track(clip("low", 48))
    v2 = video_track(clip("off", 24, enabled=False), clip("on", 24), name="V2")
    v3 = video_track(clip("hidden_track", 48), name="V3")
    v3.enabled = False
    tl = read(timeline(v1, v2, v3), tmp_path)
    assert shots(tl) == [(0, 24, "clip", "low"), (24, 48, "clip", "on")]


def test_zero_length_clips_are_skipped(tmp_path):
    t = timeline(video_track(clip("a", 24), clip("nothing", 0), clip("b", 24)))
    tl = read(t, tmp_path)
    assert shots(tl) == [(0, 24, "clip", "a"), (24, 48, "clip", "b")]
    assert len(tl.anchors) == 1


def test_markers_on_timeline_track_and_clip_map_to_record_time(tmp_path):
    c = clip("b", 48, start=100)
    c.markers.append(otio.schema.Marker(name="clip hit", marked_range=TR(RT(110, 24), RT(0, 24))))
    c.markers.append(otio.schema.Marker(name="trimmed away", marked_range=TR(RT(10, 24), RT(0, 24))))
    v = video_track(clip("a", 24), c)
    v.markers.append(otio.schema.Marker(name="track note", marked_range=TR(RT(30, 24), RT(0, 24))))
    t = timeline(v, start=86400)
    t.tracks.markers.append(
        otio.schema.Marker(name="tl", marked_range=TR(RT(12, 24), RT(0, 24)), color="RED")
    )
    tl = read(t, tmp_path)
    got = [(m.frame, m.name, m.scope) for m in tl.markers]
    assert got == [(12, "tl", "timeline"), (30, "track note", "track"), (34, "clip hit", "clip")]
    markers = [a for a in tl.anchors if a.kind == "marker"]
    assert [round(a.time_s * 24) for a in markers] == [12, 30, 34]
    assert tl.markers[0].color == "RED"


def test_through_edit_is_a_weak_anchor(tmp_path, tmp_path_factory):
    media = tmp_path / "m.mov"
    media.write_bytes(b"x")
    url = media.as_uri()
    t = timeline(
        video_track(
            clip("a", 24, start=0, url=url),
            clip("a2", 24, start=24, url=url),
            clip("b", 24, start=0, url=url),
        )
    )
    tl = read(t, tmp_path)
    assert [a.strength for a in tl.anchors] == [0.25, 1.0]


def test_relative_media_paths_resolve_against_the_timeline_folder(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "shot.mov").write_bytes(b"x")
    t = timeline(video_track(clip("a", 24, url="media/shot.mov"), clip("b", 24, url="media/gone.mov")))
    tl = read(t, tmp_path)
    assert tl.shots[0].media_found and tl.shots[0].media == str(tmp_path / "media" / "shot.mov")
    assert tl.missing_media == (str(tmp_path / "media" / "gone.mov"),)


def test_file_urls_with_escapes_and_localhost(tmp_path):
    d = tmp_path / "my media"
    d.mkdir()
    (d / "a b.mov").write_bytes(b"x")
    url = "file://localhost" + str(d / "a%20b.mov").replace(" media", "%20media")
    tl = read(timeline(video_track(clip("a", 24, url=url))), tmp_path)
    assert tl.shots[0].media_found


def test_no_video_track(tmp_path):
    a = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a.append(clip("music", 48))
    with pytest.raises(NoVideoError, match="no video track .*1 audio track"):
        read(timeline(a), tmp_path)


def test_empty_timeline(tmp_path):
    with pytest.raises(NoVideoError, match="empty"):
        read(timeline(video_track()), tmp_path)


def test_only_gaps_and_disabled_clips(tmp_path):
    with pytest.raises(NoVideoError, match="no visible clip"):
        read(timeline(video_track(gap(24), clip("off", 24, enabled=False))), tmp_path)


@pytest.mark.parametrize("rate", [0.001, 5000.0])
def test_absurd_rates(tmp_path, rate):
    t = timeline(video_track(clip("a", 10, rate=rate)), rate=rate, start=0)
    with pytest.raises(InputError, match="frame rate"):
        read(t, tmp_path)


def test_edl_takes_a_rate(tmp_path):
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: test\nFCM: NON-DROP FRAME\n\n"
        "001  AX V C 00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
        "002  AX V C 00:00:05:00 00:00:06:10 01:00:01:00 01:00:02:10\n"
    )
    tl30 = read_timeline(edl, rate=30)
    assert tl30.rate == 30 and tl30.cut_frames() == (30,) and tl30.duration_frames == 70
    assert tl30.start_timecode == "01:00:00:00"
    tl24 = read_timeline(edl)
    assert tl24.cut_frames() == (24,)
    assert any("assumed 24 fps" in w for w in tl24.warnings)


@pytest.mark.parametrize(
    ("given", "exact"), [(29.97, 30000 / 1001), (23.976, 24000 / 1001), (23.98, 24000 / 1001)]
)
def test_an_ntsc_edl_reads_with_the_rate_written_short(tmp_path, given, exact):
    """--rate 29.97 is what an editor types; SMPTE timecode needs 30000/1001
    (OTIO refuses 29.97 itself). Record 01:00:00:00 non-drop is frame 108000
    at 29.97 (86400 at 23.976)."""
    edl = tmp_path / "ntsc.edl"
    edl.write_text(
        "TITLE: ntsc\nFCM: NON-DROP FRAME\n\n"
        "001  AX V C 01:00:00:00 01:00:03:00 01:00:00:00 01:00:03:00\n"
        "002  AX V C 01:00:00:00 01:00:04:00 01:00:03:00 01:00:07:00\n"
    )
    tl = read_timeline(edl, rate=given)
    nominal = round(exact)
    assert tl.rate == exact and tl.cut_frames() == (3 * nominal,) and tl.duration_frames == 7 * nominal
    assert units.snap_rate(given) == exact and units.snap_rate(24.5) == 24.5  # only near NTSC rates snap


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("bad.otio", b"{ not json", "cannot be read"),
        ("bad.xml", b"<xmeml><sequence><broken", "cannot be read"),
        ("bad.edl", b"001 this is not an edl line at all\n", "cannot be read"),
        ("empty.otio", b"", "empty"),
    ],
)
def test_corrupt_files_say_which_file_and_what(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as e:
        read_timeline(p)
    assert str(p) in str(e.value)


def test_a_file_holding_a_clip_is_not_a_timeline(tmp_path):
    p = save(clip("lonely", 24), tmp_path / "clip.otio")
    with pytest.raises(InputError, match="holds a Clip, not a timeline"):
        read_timeline(p)


def test_newer_schema_is_explained(tmp_path):
    p = tmp_path / "future.otio"
    p.write_text('{"OTIO_SCHEMA": "Timeline.99", "name": "x", "tracks": null}')
    with pytest.raises(InputError, match="newer OpenTimelineIO"):
        read_timeline(p)


def test_unknown_extension_lists_installed_formats(tmp_path):
    p = tmp_path / "cut.aaf2"
    p.write_text("x")
    with pytest.raises(UnsupportedFormatError) as e:
        input_kind(p)
    for suffix in (".otio", ".xml", ".edl", ".mp4"):
        assert suffix in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_timeline(tmp_path / "nope.otio")
    d = tmp_path / "dir.otio"
    d.mkdir()
    with pytest.raises(InputError, match="folder"):
        read_timeline(d)


def test_otioz_bundle_media_is_unpacked_to_the_cache_and_found(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDMUSICIAN_CACHE", str(tmp_path / "cache"))
    media = tmp_path / "src" / "shot.mov"
    media.parent.mkdir()
    media.write_bytes(b"not really a movie, but a file")
    t = timeline(video_track(clip("a", 24, url=media.as_uri()), clip("b", 24, url=media.as_uri())))
    bundle = tmp_path / "cut.otioz"
    otio.adapters.write_to_file(t, str(bundle))
    before = bundle.read_bytes()
    tl = read_timeline(bundle)
    assert tl.source.format == "otioz"
    assert tl.shots[0].media_found and tl.shots[0].media.startswith(str(tmp_path / "cache"))
    assert bundle.read_bytes() == before
    assert read_timeline(bundle).shots[0].media == tl.shots[0].media  # unpacked once, reused


def test_fcp_xml_markers_and_start_timecode(tmp_path):
    c = clip("b", 48, start=100)
    c.markers.append(otio.schema.Marker(name="beat", marked_range=TR(RT(112, 24), RT(0, 24))))
    t = timeline(video_track(clip("a", 24), c), start=86400)
    t.tracks.markers.append(otio.schema.Marker(name="seq", marked_range=TR(RT(6, 24), RT(0, 24))))
    p = tmp_path / "cut.xml"
    otio.adapters.write_to_file(t, str(p), adapter_name="fcp_xml")
    tl = read_timeline(p)
    assert tl.source.format == "fcp_xml" and tl.start_timecode == "01:00:00:00"
    assert list(tl.cut_frames()) == [24]
    assert sorted((m.frame, m.name) for m in tl.markers) == [(6, "seq"), (36, "beat")]


def test_clips_at_another_rate_land_on_timeline_frames(tmp_path):
    # a 30 fps clip of 60 frames (2 s) inside a 24 fps timeline: 48 record frames
    t = timeline(video_track(clip("a", 24), clip("b30", 60, rate=30, start=300), clip("c", 24)), start=0)
    tl = read(t, tmp_path)
    assert tl.rate == 24
    assert shots(tl) == [(0, 24, "clip", "a"), (24, 72, "clip", "b30"), (72, 96, "clip", "c")]
    assert tl.shots[1].source_start_s == pytest.approx(10.0)
