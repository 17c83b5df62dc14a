"""FCP 7 XML write-back by addition: the editor's document stays, the music is added.

Known answers: Premiere's ``premiere_enable_property.xml`` holds 6 audio
``<track>``s (3 stereo pairs), 20 ``<link>``s and clips on ``file-33`` and
``file-34``; after write-back those are all there, byte for byte, and the
music is audio tracks 7 and 8 (the mix) and 9 and 10 (a stem), each clip
linked to its partner, reading channel 1 and 2 of a 48 kHz 24-bit stereo file.
"""

from __future__ import annotations

import copy
import difflib
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import opentimelineio as otio
import pytest

from vidmusician.core.errors import InputError
from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.writeback import MusicFile, Piece, TimelineMarker, music_clips, write_timelines
from vidmusician.core.writeback.fcp7 import XmlClip, XmlMarker, XmlTrack, add_music, path_url

from .conftest import TIMELINES, needs_shared


def write_wav(path: Path, seconds: float) -> Path:
    """A stereo 48 kHz 24-bit WAV, as VidMusician writes them."""
    import numpy as np
    import soundfile

    t = np.arange(int(seconds * 48000)) / 48000
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(str(path), np.stack([tone, -tone], axis=1), 48000, subtype="PCM_24")
    return path


FCP_XML = ["hiero_xml_export.xml", "premiere_enable_property.xml", "sample_just_track.xml"]
SEQ = {  # frame rate and duration of each shared sequence (from its <rate> and <duration>)
    "hiero_xml_export.xml": (24, 1324),
    "premiere_enable_property.xml": (25, 256),
    "sample_just_track.xml": (30, 636),
}
ORIGINAL_TAGS = ("track", "clipitem", "link", "file", "marker", "sequence")


def ours(el: ET.Element) -> bool:
    """An element VidMusician added (by its id, its track name or what it links to)."""
    if el.get("id", "").startswith("vidmusician-") or el.get("MZ.TrackName", "").startswith("VidMusician"):
        return True
    if el.tag == "link":
        return (el.findtext("linkclipref") or "").startswith("vidmusician-")
    if el.tag == "marker":
        return el.findtext("comment") == "VidMusician"
    return False


def elements(root: ET.Element, tag: str, skip_ours: bool) -> list[bytes]:
    out = []
    for el in root.iter(tag):
        if skip_ours and ours(el):
            continue
        if tag == "sequence":  # compare its own text and attributes: its children are compared one by one
            out.append(repr((sorted(el.attrib.items()), [c.tag for c in el if c.tag != "marker"])).encode())
        else:
            el = copy.copy(el)
            el.tail = None  # what follows the element is not part of it
            out.append(ET.tostring(el))
    return out


def assert_additive(original: bytes, written: bytes, by_element: bool = True) -> list[str]:
    """Every original line is there, in order, and nothing else changed: only
    whole lines were inserted. Returns the inserted lines."""
    a = original.decode("utf-8").splitlines(keepends=True)
    b = written.decode("utf-8").splitlines(keepends=True)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    assert {op for op, *_ in ops} <= {"equal", "insert"}, [o for o in ops if o[0] not in ("equal", "insert")]
    kept = "".join("".join(b[j1:j2]) for op, _, _, j1, j2 in ops if op == "equal")
    assert kept.encode("utf-8") == original
    for tag in ORIGINAL_TAGS if by_element else ():  # element for element too
        assert elements(ET.fromstring(written), tag, True) == elements(ET.fromstring(original), tag, False), (
            tag
        )
    return ["".join(b[j1:j2]) for op, _, _, j1, j2 in ops if op == "insert"]


def music_tracks(root: ET.Element) -> list[ET.Element]:
    return [t for t in root.iter("track") if t.get("MZ.TrackName", "").startswith("VidMusician")]


def file_definitions(root: ET.Element) -> dict[str, ET.Element]:
    return {f.get("id"): f for t in music_tracks(root) for f in t.iter("file") if len(f)}


def check_music(written: bytes, rate: float, duration: int, n_music: int) -> None:
    """The music re-reads in OTIO: one track per pair, from frame 0 over the whole sequence;
    each ``<file>`` says stereo 48 kHz 24-bit; the pair is linked and reads channels 1 and 2."""
    root = ET.fromstring(written)
    seq = root.find("sequence")
    seq = seq if seq is not None else root.find(".//children/sequence")
    audio = seq.find("media/audio")
    tracks = audio.findall("track")
    ours_at = [i + 1 for i, t in enumerate(tracks) if ours(t)]
    assert len(ours_at) == 2 * n_music and ours_at == list(
        range(len(tracks) - 2 * n_music + 1, len(tracks) + 1)
    )
    clip_track = {
        c.get("id"): (i + 1, j + 1) for i, t in enumerate(tracks) for j, c in enumerate(t.iter("clipitem"))
    }
    for i in ours_at:
        t = tracks[i - 1]
        assert t.get("totalExplodedTrackCount") == "2" and t.get("premiereTrackType") == "Stereo"
        assert t.findtext("outputchannelindex") == str(2 - i % 2 if ours_at[0] % 2 else 1 + i % 2)
        for c in t.iter("clipitem"):
            links = c.findall("link")
            assert len(links) == 2
            refs = [ln.findtext("linkclipref") for ln in links]
            assert c.get("id") in refs
            for ln in links:  # each link says where its clip is
                ti, ci = clip_track[ln.findtext("linkclipref")]
                assert (int(ln.findtext("trackindex")), int(ln.findtext("clipindex"))) == (ti, ci)
            ch = int(c.findtext("sourcetrack/trackindex"))
            assert ch == int(t.get("currentExplodedTrackIndex")) + 1
    for f in file_definitions(root).values():
        assert f.findtext("media/audio/samplecharacteristics/samplerate") == "48000"
        assert f.findtext("media/audio/samplecharacteristics/depth") == "24"
        assert f.findtext("media/audio/channelcount") == "2"
        url = f.findtext("pathurl")
        assert url.startswith("file://localhost/") and Path(url2pathname(urlparse(url).path)).is_file()
        assert int(f.findtext("duration")) >= duration
    back = otio.adapters.read_from_string(written.decode("utf-8"), "fcp_xml")
    names = {c.name for _, c, _ in music_clips(back)}
    music = [tr for tr in back.audio_tracks() if any(c.name in names for c in tr.find_clips())]
    assert len(music) == n_music
    for tr in music:
        clips = tr.find_clips()
        assert clips[0].range_in_parent().start_time.value == 0
        assert round(clips[-1].range_in_parent().end_time_exclusive().rescaled_to(rate).value) == duration
        assert clips[0].media_reference.target_url.startswith("file://localhost/")


def two_piece_mix(folder: Path, rate: float, duration: int) -> list[XmlTrack]:
    a = write_wav(folder / "mix.wav", duration / rate + 1)
    b = write_wav(folder / "take-2.wav", duration / rate + 1)
    frames = duration + int(rate)
    cut = duration // 2
    mix = XmlTrack(
        "VidMusician Mix",
        (
            XmlClip("VidMusician Mix take 1 (mix.wav)", 0, cut, 0, str(a), frames),
            XmlClip("VidMusician Mix take 2 (take-2.wav)", cut, duration - 10, cut, str(b), frames),
            XmlClip(
                "VidMusician Mix take 1 (mix.wav)", duration - 10, duration, duration - 10, str(a), frames
            ),
        ),
    )
    stem = XmlTrack(
        "VidMusician Stem drums",
        (XmlClip("VidMusician Stem drums (mix.wav)", 0, duration, 0, str(a), frames),),
        enabled=False,
    )
    return [mix, stem]


# --------------------------------------------------------------------------- the shared exports


@needs_shared
@pytest.mark.parametrize("name", FCP_XML)
def test_music_is_added_to_every_shared_fcp_xml_and_nothing_else_changes(tmp_path, name):
    original = (TIMELINES / name).read_bytes()
    rate, duration = SEQ[name]
    tracks = two_piece_mix(tmp_path, rate, duration)
    markers = [XmlMarker(0, "bar 1"), XmlMarker(duration // 3, "bar 2 & <more>")]
    written = add_music(original, tracks, rate, markers)
    inserted = assert_additive(original, written)
    assert len(inserted) == 2  # the tracks (in an <audio> of their own where there was none); the markers
    check_music(written, rate, duration, 2)
    root = ET.fromstring(written)
    # one complete <file> per WAV, in its first clip; the other clips refer to it by id
    defs = file_definitions(root)
    assert sorted(Path(f.findtext("name")).name for f in defs.values()) == ["mix.wav", "take-2.wav"]
    stem, mix = music_tracks(root)[2], music_tracks(root)[0]
    assert stem.findtext("enabled") == "FALSE" and mix.findtext("enabled") == "TRUE"
    back = otio.adapters.read_from_string(written.decode("utf-8"), "fcp_xml")
    assert [(m.name, m.marked_range.start_time.value) for m in back.tracks.markers][-2:] == [
        ("bar 1", 0),
        ("bar 2 & <more>", duration // 3),
    ]


@needs_shared
def test_premiere_export_keeps_its_pairs_links_and_files(tmp_path):
    """The issue's counts, before and after."""
    src = TIMELINES / "premiere_enable_property.xml"
    original = src.read_bytes()
    written = add_music(original, two_piece_mix(tmp_path, 25, 256), 25)
    before, after = ET.fromstring(original), ET.fromstring(written)
    assert len(before.findall("sequence/media/audio/track")) == 6
    assert len(after.findall("sequence/media/audio/track")) == 10
    assert len(list(before.iter("link"))) == 20 and len(list(after.iter("link"))) == 20 + 4 * 2 * 2
    refs = [c.find("file").get("id") for c in before.iter("clipitem")]
    assert [c.find("file").get("id") for c in after.iter("clipitem")][: len(refs)] == refs
    assert refs.count("file-34") == 7
    mix = music_tracks(after)[:2]
    assert [t.get("MZ.TrackName") for t in mix] == ["VidMusician Mix"] * 2
    assert [ln.findtext("trackindex") for ln in mix[0].find("clipitem").findall("link")] == ["7", "8"]


# --------------------------------------------------------------------------- through write_timelines


@needs_shared
@pytest.mark.parametrize("name", ["hiero_xml_export.xml", "premiere_enable_property.xml"])
def test_write_timelines_adds_to_the_editors_document_for_every_version(tmp_path, name):
    src = TIMELINES / name
    original = src.read_bytes()
    tl = read_timeline(src)
    n = tl.duration_frames
    a = write_wav(tmp_path / "mix.wav", tl.duration_s + 1)
    b = write_wav(tmp_path / "mix2.wav", tl.duration_s + 1)
    d = write_wav(tmp_path / "drums.wav", tl.duration_s + 1)
    first = write_timelines(tl, [MusicFile("mix", str(a)), MusicFile("drums", str(d))], tmp_path / "v1")
    xml1 = Path(first.paths["fcp7"]).read_bytes()
    assert_additive(original, xml1)
    check_music(xml1, tl.rate, n, 2)
    # a later version: the mix split per take piece, each clip on its take's file, and markers
    mix = MusicFile(
        "mix",
        pieces=(
            Piece(str(a), 0, n // 3, meta={"take": 1}),
            Piece(str(b), n // 3, 2 * n // 3, meta={"take": 2}),
            Piece(str(a), 2 * n // 3, None, meta={"take": 1}),
        ),
    )
    marks = (TimelineMarker(0, "bar 1"), TimelineMarker(n // 2, "cut on a downbeat", "RED"))
    later = write_timelines(tl, [mix], tmp_path / "v2", basename="timeline-v2", markers=marks)
    xml2 = Path(later.paths["fcp7"]).read_bytes()
    assert_additive(original, xml2)
    check_music(xml2, tl.rate, n, 1)
    back = otio.adapters.read_from_file(later.paths["fcp7"])
    got = [
        (round(t * tl.rate), Path(urlparse(c.media_reference.target_url).path).name)
        for _, c, t in music_clips(back)
    ]
    assert got == [(0, "mix.wav"), (n // 3, "mix2.wav"), (2 * n // 3, "mix.wav")]
    assert [m.name for m in back.tracks.markers][-2:] == ["bar 1", "cut on a downbeat"]
    assert read_timeline(later.paths["fcp7"]).cut_frames() == tl.cut_frames()


def test_other_inputs_get_the_same_stereo_pairs_through_the_adapter(tmp_path):
    """An OTIO cut written as FCP 7 XML: the adapter writes the editor's timeline, the
    music is added to that document by the same writer."""
    from .conftest import clip, save, timeline, video_track

    src = save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "cut.otio")
    tl = read_timeline(src)
    mix = write_wav(tmp_path / "mix.wav", tl.duration_s + 1)
    stem = write_wav(tmp_path / "bass.wav", tl.duration_s + 1)
    res = write_timelines(
        tl, [MusicFile("mix", str(mix)), MusicFile("bass", str(stem))], tmp_path / "o", "fcp7"
    )
    written = Path(res.paths["fcp7"]).read_bytes()
    check_music(written, tl.rate, 72, 2)
    assert [t.findtext("enabled") for t in music_tracks(ET.fromstring(written))] == ["TRUE"] * 2 + [
        "FALSE"
    ] * 2
    assert read_timeline(res.paths["fcp7"]).cut_frames() == tl.cut_frames()


# --------------------------------------------------------------------------- made-up documents

DOC = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
  <sequence id="s">
    <name>cut</name>
    <duration>48</duration>
    <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
    <media>
      <video>
        <track>
          <clipitem id="clipitem-1">
            <name>a</name><duration>48</duration><start>0</start><end>48</end><in>0</in><out>48</out>
            <file id="file-1"><name>a.mov</name><pathurl>file://localhost/a.mov</pathurl>
              <duration>48</duration></file>
          </clipitem>
        </track>
      </video>
      AUDIO
    </media>
  </sequence>
</xmeml>
"""


def one_track(tmp_path, frames=48, rate=24.0, name="VidMusician Mix"):
    w = write_wav(tmp_path / "mix.wav", frames / rate + 0.5)
    return [XmlTrack(name, (XmlClip(f"{name} (mix.wav)", 0, frames, 0, str(w), frames + 12),))]


@pytest.mark.parametrize(
    "audio", ["<audio/>", "<audio></audio>", "", "<audio>\n        <format/>\n      </audio>"]
)
def test_a_sequence_with_an_empty_or_no_audio_element(tmp_path, audio):
    doc = DOC.replace(b"AUDIO", audio.encode())
    written = add_music(doc, one_track(tmp_path), 24, [XmlMarker(12, "m")])
    root = ET.fromstring(written)
    assert len(root.findall("sequence/media/audio")) == 1
    assert len(root.findall("sequence/media/audio/track")) == 2
    check_music(written, 24, 48, 1)
    if "\n" in audio or not audio:  # whole lines inserted (into "<audio/>" or a one-line audio: bytes)
        assert_additive(doc, written)
    elif audio == "<audio></audio>":
        written = add_music(doc, one_track(tmp_path), 24)
        at = written.index(b"<audio>") + len(b"<audio>")
        assert written[:at] + written[written.rindex(b"</audio>") :] == doc


def test_ids_already_in_the_document_are_not_reused(tmp_path):
    doc = DOC.replace(b'"clipitem-1"', b'"vidmusician-clipitem-1"').replace(
        b'"file-1"', b'"vidmusician-file-1"'
    )
    written = add_music(doc.replace(b"AUDIO", b"<audio/>"), one_track(tmp_path), 24)
    root = ET.fromstring(written)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    definitions = [el.get("id") for el in root.iter() if el.get("id") and (len(el) or el.tag != "file")]
    assert len(definitions) == len(set(definitions))
    assert "vidmusician-clipitem-2" in ids and "vidmusician-file-2" in ids  # -1 is the editor's
    assert root.find(".//clipitem[@id='vidmusician-clipitem-1']/name").text == "a"


def test_a_track_name_taken_by_an_earlier_score_gets_a_number(tmp_path):
    once = add_music(DOC.replace(b"AUDIO", b""), one_track(tmp_path), 24)
    twice = add_music(once, one_track(tmp_path), 24)
    names = [t.get("MZ.TrackName") for t in ET.fromstring(twice).iter("track") if t.get("MZ.TrackName")]
    assert names == ["VidMusician Mix"] * 2 + ["VidMusician Mix 2"] * 2
    assert_additive(once, twice, by_element=False)


def test_ntsc_rate_minified_document_and_a_non_ascii_encoding(tmp_path):
    doc = DOC.replace(b"<timebase>24</timebase><ntsc>FALSE", b"<timebase>30</timebase><ntsc>TRUE")
    doc = doc.replace(b"AUDIO", b"").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    doc = b"".join(line.strip() for line in doc.splitlines(keepends=True))  # all on one line
    rate = 30000 / 1001
    written = add_music(doc, one_track(tmp_path, rate=rate, name="VidMusician Stem é"), rate)
    assert written.startswith(doc[: doc.index(b"</video>")])
    root = ET.fromstring(written)  # the declared encoding is honoured
    assert {t.get("MZ.TrackName") for t in music_tracks(root)} == {"VidMusician Stem é"}
    clip = root.find(".//clipitem[@id='vidmusician-clipitem-2']")
    assert (clip.findtext("rate/timebase"), clip.findtext("rate/ntsc")) == ("30", "TRUE")
    assert path_url(str(tmp_path / "a b#.wav")).endswith("/a%20b%23.wav")


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE xmeml [<!ENTITY x "boom">]>',
        '<!DOCTYPE xmeml [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE xmeml SYSTEM "http://example.invalid/xmeml.dtd">',
    ],
)
def test_entities_are_refused_and_nothing_is_fetched(tmp_path, doctype):
    doc = DOC.replace(b"<!DOCTYPE xmeml>", doctype.encode()).replace(b"<name>cut</name>", b"<name>&x;</name>")
    if "ENTITY" not in doctype:
        doc = DOC.replace(b"<!DOCTYPE xmeml>", doctype.encode()).replace(b"AUDIO", b"")
        written = add_music(doc, one_track(tmp_path), 24)  # an external DTD is never read
        assert b"example.invalid" in written and len(music_tracks(ET.fromstring(written))) == 2
        return
    with pytest.raises(InputError, match="entities"):
        add_music(doc, one_track(tmp_path), 24)


def test_not_fcp_xml_is_refused(tmp_path):
    with pytest.raises(InputError, match="xmeml"):
        add_music(b"<fcpxml version='1.9'/>", one_track(tmp_path), 24)
    with pytest.raises(InputError, match="no sequence"):
        add_music(b"<xmeml version='4'><clip/></xmeml>", one_track(tmp_path), 24)
    with pytest.raises(InputError, match="well-formed"):
        add_music(b"<xmeml><sequence></xmeml>", one_track(tmp_path), 24)


def test_an_export_that_declares_entities_gets_a_note_not_a_rewritten_xml(tmp_path):
    """OTIO's reader expands internal entities; the writer refuses to splice into such a
    document (it would keep the declarations), so the session says so and keeps its OTIO."""
    doc = DOC.replace(b"<!DOCTYPE xmeml>", b'<!DOCTYPE xmeml [<!ENTITY n "cut">]>').replace(b"AUDIO", b"")
    src = tmp_path / "edit.xml"
    src.write_bytes(doc.replace(b"<name>cut</name>", b"<name>&n;</name>"))
    tl = read_timeline(src)
    res = write_timelines(tl, [MusicFile("mix", str(write_wav(tmp_path / "mix.wav", 3)))], tmp_path / "o")
    assert set(res.paths) == {"otio"}
    assert any("FCP 7 XML not written" in n and "entities" in n for n in res.notes)
