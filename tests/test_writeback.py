"""Music onto the timeline: new tracks only, originals untouched, atomic writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from vidmusician.core.analysis.inputs import read_input
from vidmusician.core.errors import OutputError
from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.writeback import MIX_TRACK_NAME, MusicFile, music_clips, with_music, write_timelines

from .conftest import TIMELINES, clip, needs_shared, save, timeline, video_track, write_video, write_wav
from .test_io_timeline_shared import EXPECTED, RATES

PROV = {"take": 1, "seed": 7, "backend": "test"}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def track_json(track) -> str:
    return otio.adapters.write_to_string(track, "otio_json")


def music_for(tl, folder, stems=()):
    mix = write_wav(folder / "mix.wav", tl.duration_s)
    files = [MusicFile("mix", str(mix))]
    for s in stems:
        files.append(MusicFile(s, str(write_wav(folder / f"{s}.wav", tl.duration_s))))
    return files


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_otio_round_trip_keeps_every_original_track_and_adds_the_music(tmp_path, name):
    src = TIMELINES / name
    before = digest(src)
    tl = read_timeline(src, RATES.get(name))
    original, _ = (
        otio.adapters.read_from_file(str(src), **({"rate": tl.rate} if src.suffix == ".edl" else {})),
        None,
    )
    res = write_timelines(
        tl, music_for(tl, tmp_path, stems=("drums", "bass")), tmp_path / "out", provenance=PROV
    )
    assert digest(src) == before, "the input file must never change"
    assert not [n for n in res.notes if "FCP 7 XML not written" in n]

    back = otio.adapters.read_from_file(res.paths["otio"])
    n = len(original.tracks)
    assert len(back.tracks) == n + 3
    for a, b in zip(original.tracks, back.tracks):
        assert track_json(a) == track_json(b)
    new = list(back.tracks)[n:]
    assert [t.name for t in new] == [MIX_TRACK_NAME, "VidMusician Stem drums", "VidMusician Stem bass"]
    for t in new:
        assert t.kind == otio.schema.TrackKind.Audio
        (c,) = list(t)
        assert c.range_in_parent().start_time.value == 0  # the timeline's first frame
        assert c.media_reference.available_range is not None
        assert c.metadata["vidmusician"]["seed"] == 7
        frames = round(c.duration().rescaled_to(tl.rate).value)
        assert abs(frames - tl.duration_frames) <= 1


@needs_shared
@pytest.mark.parametrize("name", ["hiero_xml_export.xml", "premiere_enable_property.xml"])
def test_fcp_xml_output_rereads_with_the_same_cut_and_a_music_track(tmp_path, name):
    src = TIMELINES / name
    tl = read_timeline(src)
    res = write_timelines(tl, music_for(tl, tmp_path), tmp_path / "out", provenance=PROV)
    assert set(res.paths) == {"otio", "fcp7"}
    back = otio.adapters.read_from_file(res.paths["fcp7"])
    reread = read_timeline(res.paths["fcp7"])
    assert reread.cut_frames() == tl.cut_frames()
    assert [s.kind for s in reread.shots] == [s.kind for s in tl.shots]
    original = otio.adapters.read_from_file(str(src))
    assert len(back.audio_tracks()) == len(original.audio_tracks()) + 1
    (mix,) = [(n, c, t) for n, c, t in music_clips(back)]
    assert mix[2] == 0.0
    assert mix[1].media_reference.target_url.endswith("mix.wav")


@needs_shared
def test_edl_input_gets_an_audio_edl_of_the_music_and_an_importable_xml(tmp_path):
    tl = read_timeline(TIMELINES / "gap_test.edl")
    res = write_timelines(tl, music_for(tl, tmp_path), tmp_path / "out")
    assert {"otio", "edl", "fcp7"} <= set(res.paths)
    assert any("audio EDL" in n and "beside your picture EDL" in n for n in res.notes)
    assert read_timeline(res.paths["fcp7"]).cut_frames() == tl.cut_frames()
    back = otio.adapters.read_from_file(res.paths["edl"], rate=tl.rate)
    # the stereo mix on AA: the reader (as Avid, Resolve and Premiere) takes it as audio 1 and 2
    assert [t.name for t in back.tracks] == ["A1", "A2"]
    for track in back.tracks:
        assert track.kind == otio.schema.TrackKind.Audio
        (c,) = track.find_clips()
        assert c.range_in_parent().start_time.value == 0 and c.duration().value == tl.duration_frames
    assert Path(res.paths["edl"]).read_text().splitlines()[1] == "FCM: NON-DROP FRAME"  # as the editor's EDL


def test_audio_edl_keeps_the_record_timecode_of_the_editors_edl(tmp_path):
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: tc test\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n"
        "* FROM CLIP NAME: a.mov\n"
        "002  AX       V     C        00:00:05:00 00:00:06:12 01:00:02:00 01:00:03:12\n"
        "* FROM CLIP NAME: b.mov\n"
    )
    tl = read_timeline(edl, 25)
    res = write_timelines(tl, music_for(tl, tmp_path), tmp_path / "out")
    text = Path(res.paths["edl"]).read_text()
    # one audio event from the first record frame (01:00:00:00) for the cut's 87 frames
    events = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    assert events == [
        ["001", "MIX001", "AA", "C", "00:00:00:00", "00:00:03:12", "01:00:00:00", "01:00:03:12"]
    ]
    assert text.splitlines()[1] == "FCM: NON-DROP FRAME"  # 25 fps counts no drop frames
    event = next(line for line in text.splitlines() if line.startswith("001"))
    assert event.index("C   ") == 20  # the columns stay where the writer put them (kind: 14-18)


def test_made_up_timeline_with_offset_start_and_markers(tmp_path):
    c = clip("a", 48)
    t = timeline(video_track(c, clip("b", 24)), start=86400)
    t.tracks.markers.append(
        otio.schema.Marker(
            name="m",
            marked_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(10, 24), otio.opentime.RationalTime(0, 24)
            ),
        )
    )
    src = save(t, tmp_path / "cut.otio")
    tl = read_timeline(src)
    res = write_timelines(tl, music_for(tl, tmp_path), tmp_path / "out", fmt="fcp7")
    back = otio.adapters.read_from_file(res.paths["otio"])
    assert back.global_start_time == t.global_start_time
    assert [m.name for m in back.tracks.markers] == ["m"]
    xml = otio.adapters.read_from_file(res.paths["fcp7"])
    assert xml.global_start_time.value == 86400
    (_, mclip, start) = music_clips(xml)[0]
    assert start == 0.0 and round(mclip.duration().value) == 72


def test_plain_video_becomes_a_timeline_with_music(tmp_path):
    video = write_video(tmp_path / "v.mp4", [20], 50)
    tl = read_input(video)
    res = write_timelines(tl, music_for(tl, tmp_path), tmp_path / "out")
    back = otio.adapters.read_from_file(res.paths["otio"])
    (v,) = back.video_tracks()
    assert v[0].media_reference.target_url == video.resolve().as_uri()
    assert [t.name for t in back.audio_tracks()] == [MIX_TRACK_NAME]
    assert "fcp7" in res.paths


def test_never_overwrites_and_leaves_no_partial_files(tmp_path):
    t = save(timeline(video_track(clip("a", 24))), tmp_path / "cut.otio")
    tl = read_timeline(t)
    music = music_for(tl, tmp_path)
    out = tmp_path / "out"
    write_timelines(tl, music, out, fmt="otio")
    first = (out / "timeline.otio").read_bytes()
    with pytest.raises(OutputError, match="exists already"):
        write_timelines(tl, music, out, fmt="otio")
    assert (out / "timeline.otio").read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == ["timeline.otio"]


def test_second_music_on_the_same_timeline_gets_its_own_track(tmp_path):
    t = save(timeline(video_track(clip("a", 24))), tmp_path / "cut.otio")
    tl = read_timeline(t)
    once = with_music(tl, music_for(tl, tmp_path))
    twice = with_music(tl, music_for(tl, tmp_path), source=once)
    assert [tr.name for tr in twice.audio_tracks()] == [MIX_TRACK_NAME, f"{MIX_TRACK_NAME} 2"]
    assert len(once.audio_tracks()) == 1  # the source is copied, never changed


def test_provenance_is_plain_json(tmp_path):
    t = save(timeline(video_track(clip("a", 24))), tmp_path / "cut.otio")
    tl = read_timeline(t)
    out = with_music(tl, music_for(tl, tmp_path), provenance=PROV)
    meta = dict(out.audio_tracks()[0][0].metadata["vidmusician"])
    assert json.loads(json.dumps(meta)) == {**PROV, "role": "mix", "file": "mix.wav"}


@pytest.mark.parametrize("fcm", ["NON-DROP FRAME", "DROP FRAME"])
def test_an_ntsc_audio_edl_counts_frames_as_the_editors_edl(tmp_path, fcm):
    """A 29.97 EDL: the music's audio EDL says the editor's FCM and writes its
    timecodes that way (the adapter's writer alone writes drop-frame always and
    no FCM line), and reads back onto the same frames."""
    sep = ";" if fcm == "DROP FRAME" else ":"
    edl = tmp_path / "cut.edl"
    edl.write_text(
        f"TITLE: ntsc\nFCM: {fcm}\n\n"
        f"001  AX V C 01:00:00:00 01:00:03:00 01:00:00{sep}00 01:00:03{sep}00\n"
        f"002  AX V C 01:00:00:00 01:00:04:00 01:00:03{sep}00 01:00:07{sep}00\n"
    )
    tl = read_timeline(edl, rate=29.97)
    assert tl.start_timecode == f"01:00:00{sep}00"
    mix = write_wav(tmp_path / "mix.wav", tl.duration_s + 1.0)
    written = write_timelines(tl, [MusicFile("mix", str(mix))], tmp_path / "out", "same")
    text = Path(written.paths["edl"]).read_text()
    lines = text.splitlines()
    assert lines[1] == f"FCM: {fcm}"
    event = next(ln for ln in lines if ln.startswith("001"))
    assert event.split()[-2:] == [f"01:00:00{sep}00", f"01:00:07{sep}00"]  # as long as the picture
    rate = 30000 / 1001
    rec = [otio.opentime.from_timecode(tc, rate).value for tc in event.split()[-2:]]
    start = otio.opentime.from_timecode(tl.start_timecode, rate).value
    assert rec == [start, start + tl.duration_frames]  # the same frames in either notation
    assert start == (108000 if fcm == "NON-DROP FRAME" else 107892)


# --------------------------------------------------------------------------- stems go in disabled


def _on(item) -> bool:
    """Whether a track or clip plays: OTIO's ``enabled`` and FCP XML's ``<enabled>``."""
    return (
        bool(item.enabled) and str(item.metadata.get("fcp_xml", {}).get("enabled", "TRUE")).upper() != "FALSE"
    )


def played_music(path, rate: float, frames: int, everything: bool = False):
    """What the VidMusician tracks of a written timeline play, summed, as float64
    samples (48 kHz): the enabled tracks and clips only, unless ``everything``."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    import soundfile

    t = otio.adapters.read_from_file(str(path))
    n = int(round(frames * 48000 / rate))
    out = None
    for track in t.audio_tracks():
        if not everything and not _on(track):
            continue
        for c in track.find_clips(shallow_search=True):
            if not c.name.startswith("VidMusician ") or not (everything or _on(c)):
                continue
            r = c.range_in_parent()
            a = int(round(r.start_time.rescaled_to(rate).value * 48000 / rate))
            b = int(round(r.end_time_exclusive().rescaled_to(rate).value * 48000 / rate))
            src = int(round(c.source_range.start_time.rescaled_to(rate).value * 48000 / rate))
            data, sr = soundfile.read(
                url2pathname(urlparse(c.media_reference.target_url).path), always_2d=True
            )
            assert sr == 48000
            if out is None:
                out = np.zeros((n, data.shape[1]))
            out[a:b] += data[src : src + b - a]
    return out


def stems_and_mix(folder, seconds: float, roles=("drums", "bass", "keys")):
    """Stems of noise at -20 dBFS each and their sum as the mix, stereo 48 kHz 24-bit."""
    import soundfile

    rng = np.random.default_rng(3)
    n = int(seconds * 48000)
    stems = {r: np.round(rng.normal(0, 0.1, (n, 2)) * (1 << 23)) / (1 << 23) for r in roles}
    mix = sum(stems.values())
    files = [MusicFile("mix", str(folder / "mix.wav"))]
    soundfile.write(str(folder / "mix.wav"), mix, 48000, subtype="PCM_24")
    for r, x in stems.items():
        soundfile.write(str(folder / f"{r}.wav"), x, 48000, subtype="PCM_24")
        files.append(MusicFile(r, str(folder / f"{r}.wav")))
    return files


@pytest.mark.parametrize("fmt", ["otio", "fcp7"])
def test_stem_tracks_go_in_disabled_so_the_timeline_plays_the_mix_once(tmp_path, fmt):
    """Known answer: the stems sum to the mix, so mix + stems played together is twice
    the mix (+6.02 dB); with the stems disabled what plays is the mix itself."""
    import soundfile

    t = save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "cut.otio")
    tl = read_timeline(t)
    res = write_timelines(tl, stems_and_mix(tmp_path, tl.duration_s + 0.5), tmp_path / "out", fmt=fmt)
    path = res.paths[fmt]
    back = otio.adapters.read_from_file(path)
    music = [
        tr for tr in back.audio_tracks() if any(c.name.startswith("VidMusician ") for c in tr.find_clips())
    ]
    assert [_on(tr) for tr in music] == [True, False, False, False]  # the mix, then the stems
    played = played_music(path, tl.rate, tl.duration_frames)
    mix, _ = soundfile.read(str(tmp_path / "mix.wav"), always_2d=True)
    n = len(played)
    assert np.array_equal(played, mix[:n])  # the mix, once
    everything = played_music(path, tl.rate, tl.duration_frames, everything=True)
    gain = 20 * np.log10(np.sqrt(np.mean(everything**2)) / np.sqrt(np.mean(mix[:n] ** 2)))
    assert gain == pytest.approx(6.02, abs=0.01)  # what playing the stems too would have done
