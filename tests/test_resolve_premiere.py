"""The Premiere Pro round trip as the README tells it, on Premiere's own exports.

``File > Export > Final Cut Pro XML`` in, ``vidmusician score edit.xml -o out``,
``out/timeline.xml`` imported back. Of the shared timelines,
``premiere_enable_property.xml`` and ``sample_just_track.xml`` are Premiere's
(their sequences carry Premiere's ``TL.SQ*``/``MZ.*`` attributes;
``hiero_xml_export.xml`` is Hiero's). ``tests/test_session.py::
test_score_round_trips_every_shared_timeline`` already scores every shared
timeline through the library (and the picture-less ``sample_just_track.xml``
is refused there with exit status 2); this file adds what an editor meets:
the command line, the files Premiere imports resolving to real audio, the
clips Premiere had disabled still disabled, and a regenerated shot's
``timeline-v2.xml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import soundfile

from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.session.store import Session
from vidmusician.core.writeback import music_clips

from .conftest import TIMELINES, needs_shared
from .test_cli import run

PREMIERE = "premiere_enable_property.xml"


def disabled(t) -> list[str]:
    return sorted(
        c.name
        for c in t.find_clips()
        if str(c.metadata.get("fcp_xml", {}).get("enabled", "TRUE")).upper() == "FALSE" or not c.enabled
    )


def music_in(xml: Path, rate: float) -> list[tuple[int, int, Path]]:
    """(record start, end, file) of the mix's clips in an FCP 7 XML, in frames."""
    t = otio.adapters.read_from_file(str(xml))
    out = []
    for _, c, start_s in music_clips(t):
        if "Stem" in c.name:
            continue
        a = round(start_s * rate)
        out.append(
            (
                a,
                a + round(c.duration().rescaled_to(rate).value),
                Path(unquote(urlparse(c.media_reference.target_url).path)),
            )
        )
    return sorted(out)


@needs_shared
def test_premiere_xml_round_trip_on_the_command_line(tmp_path):
    src = TIMELINES / PREMIERE
    edit = tmp_path / "edit.xml"
    edit.write_bytes(src.read_bytes())
    before = edit.read_bytes()
    code, _, err = run("score", str(edit), "-o", str(tmp_path / "out"), "-q")
    assert code == 0, err
    assert edit.read_bytes() == before  # the editor's export is read only
    xml = tmp_path / "out" / "timeline.xml"
    cut = read_timeline(edit)
    back = read_timeline(xml)
    assert back.cut_frames() == cut.cut_frames() == (81, 177, 220)
    assert back.duration_frames == cut.duration_frames == 256
    assert [s.kind for s in back.shots] == [s.kind for s in cut.shots]
    original = otio.adapters.read_from_file(str(edit))
    written = otio.adapters.read_from_file(str(xml))
    assert disabled(written) == disabled(original) != []  # what Premiere had switched off stays off
    assert len(written.video_tracks()) == len(original.video_tracks())
    assert len(written.audio_tracks()) == len(original.audio_tracks()) + 1
    ((a, b, wav),) = music_in(xml, cut.rate)
    assert (a, b) == (0, 256)
    assert wav == (tmp_path / "out" / "mix.wav").resolve() and wav.is_file()  # Premiere finds the audio
    assert soundfile.info(str(wav)).duration >= 256 / cut.rate
    # the export itself comes back, with the music added: 6 audio <track>s (3 stereo pairs) and
    # 20 <link>s kept as they were, every clip still on its own <file>; the music a linked pair
    from .test_writeback_fcp7 import assert_additive, check_music

    assert_additive(before, xml.read_bytes())
    check_music(xml.read_bytes(), cut.rate, 256, 1)
    root = ET.fromstring(xml.read_bytes())
    assert len(root.findall("sequence/media/audio/track")) == 6 + 2
    assert len(list(root.iter("link"))) == 20 + 2 * 2
    info = soundfile.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "PCM_24")  # what the <file> says


@needs_shared
def test_premiere_regenerated_shot_comes_back_as_timeline_v2(tmp_path):
    out = tmp_path / "out"
    assert run("score", str(TIMELINES / PREMIERE), "-o", str(out), "-q")[0] == 0
    code, _, err = run("regenerate", str(out), "--shot", "1", "-q")
    assert code == 0, err
    s = Session.load(out)
    rate = s.data["timeline"]["rate"]
    pieces = music_in(out / "timeline-v2.xml", rate)
    want = [
        (
            seg["start_frame"],
            256 if seg["end_frame"] is None else seg["end_frame"],
            (out / s.take(seg["take"])["files"]["mix"]).resolve(),
        )
        for seg in s.selection
    ]
    assert pieces == want and len(pieces) == 3
    assert pieces[1][2].parent.name == "take-002" and pieces[1][0] <= 81 and pieces[1][1] >= 177
    assert all(p[2].is_file() for p in pieces)
    assert read_timeline(out / "timeline-v2.xml").cut_frames() == (81, 177, 220)
    from .test_writeback_fcp7 import assert_additive, check_music

    original = (TIMELINES / PREMIERE).read_bytes()
    assert_additive(original, (out / "timeline-v2.xml").read_bytes())  # from the editor's export again
    check_music((out / "timeline-v2.xml").read_bytes(), rate, 256, 1)
    assert music_in(out / "timeline.xml", rate) == [
        (0, 256, (out / "mix.wav").resolve())
    ]  # version 1 unchanged


def test_the_guide_states_the_commands_it_tests():
    from .conftest import REPO

    text = (REPO / "README.md").read_text()
    for needle in (
        "vidmusician score edit.xml -o out",
        "out/timeline.xml",
        "vidmusician regenerate out --shot",
        "install/install.py",
        "Workspace > Scripts > Utility > VidMusician",
    ):
        assert needle in text
