"""The writers' registry, URLs as paths, the PCM conversion and the one audio loader: known answers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from vidmusician.core import units
from vidmusician.core import writeback as wb
from vidmusician.core.cli import main
from vidmusician.core.errors import InputError, OptionError
from vidmusician.core.io.audio import load, save_wav
from vidmusician.core.options import BY_NAME

from .conftest import clip, save, timeline, video_track


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- the registry


def test_the_builtin_writers_are_the_format_choices():
    assert [(w.name, w.extension) for w in wb.writers()] == [
        ("otio", ".otio"),
        ("fcp7", ".xml"),
        ("edl", ".edl"),
    ]
    assert tuple(wb.FORMATS) == ("same", "otio", "fcp7", "edl")
    assert tuple(BY_NAME["format"].choices or ()) == tuple(wb.FORMATS)
    with pytest.raises(OptionError, match="choose one of same, otio, fcp7, edl"):
        BY_NAME["format"].check("csv")


@pytest.mark.parametrize(
    "native, fmt, expected",
    [
        ("fcp_xml", "same", ["otio", "fcp7"]),
        ("cmx_3600", "same", ["otio", "edl", "fcp7"]),  # the music as an audio EDL, and the XML with both
        ("video", "same", ["otio", "fcp7"]),
        ("otio_json", "same", ["otio"]),
        ("otio_json", "otio", ["otio"]),
        ("otio_json", "edl", ["otio", "edl"]),
        ("fcp_xml", "fcp7", ["otio", "fcp7"]),
    ],
)
def test_what_each_format_choice_writes(native, fmt, expected):
    tl = SimpleNamespace(source=SimpleNamespace(format=native))
    assert wb.formats_for(tl, fmt) == expected  # type: ignore[arg-type]


def test_a_writer_name_is_refused_twice_and_same_is_no_name():
    with pytest.raises(ValueError, match="registered already"):
        wb.register(wb.Writer("otio", ".otio", lambda job: ""))
    with pytest.raises(ValueError):
        wb.register(wb.Writer("same", ".same", lambda job: ""))
    with pytest.raises(ValueError):
        wb.register(wb.Writer("bad", "bad", lambda job: ""))


def cue_sheet(job: wb.WriteJob) -> str:
    """A toy format: the music clips as a CSV cue sheet (track, clip, record in and out)."""
    rate, start = job.timeline.rate, job.timeline.start_timecode
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["track", "clip", "record_in", "record_out"])
    for track, c, _ in wb.music_clips(job.result):
        r = c.range_in_parent()
        a = units.frames(r.start_time, rate)
        b = a + units.frames(r.duration, rate)
        w.writerow(
            [track, c.name, units.record_timecode(start, a, rate), units.record_timecode(start, b, rate)]
        )
    return out.getvalue()


@pytest.fixture
def csv_writer():
    wb.register(wb.Writer("csv", ".csv", cue_sheet, note="{name}: the music's cue sheet."))
    yield
    wb.unregister("csv")


def test_a_format_added_through_the_registry_alone_is_written_by_score_and_export(tmp_path, csv_writer):
    assert "csv" in BY_NAME["format"].choices  # type: ignore[operator]
    cut = save(timeline(video_track(clip("a", 96), clip("b", 72)), start=86400), tmp_path / "cut.otio")
    out = tmp_path / "out"
    code, _, err = run("score", str(cut), "-o", str(out), "--format", "csv", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in out.glob("timeline.*")) == ["timeline.csv", "timeline.otio"]
    rows = list(csv.reader((out / "timeline.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["track", "clip", "record_in", "record_out"]
    assert rows[1][0] == wb.MIX_TRACK_NAME and rows[1][2:] == ["01:00:00:00", "01:00:07:00"]

    from vidmusician.core.session.retake import export

    written = export(out, tmp_path / "music.csv", fmt="csv")
    assert sorted(Path(p).name for p in written.values()) == ["music.csv", "music.otio"]
    assert (tmp_path / "music.csv").read_text(encoding="utf-8") == (out / "timeline.csv").read_text(
        encoding="utf-8"
    )


def test_an_unregistered_format_is_no_choice_any_more(csv_writer):
    wb.unregister("csv")
    assert "csv" not in wb.FORMATS and "csv" not in (BY_NAME["format"].choices or ())
    with pytest.raises(OptionError, match="--format csv: choose one of"):
        wb.formats_for(SimpleNamespace(source=SimpleNamespace(format="video")), "csv")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- URLs as paths


@pytest.mark.parametrize(
    "url, posix, windows",
    [
        ("file:///Users/me/a%20b.mov", "/Users/me/a b.mov", "\\Users\\me\\a b.mov"),
        ("file://localhost/Volumes/x/%C3%A9t%C3%A9.mov", "/Volumes/x/été.mov", "\\Volumes\\x\\été.mov"),
        ("file:///C:/Media/a%20b.mov", "C:/Media/a b.mov", "C:\\Media\\a b.mov"),
        ("file:///c|/Media/a.mov", "c:/Media/a.mov", "c:\\Media\\a.mov"),  # the old drive form
        ("file://C:/Media/a.mov", "C:/Media/a.mov", "C:\\Media\\a.mov"),  # some tools leave out a slash
        ("file://server/share/x%23y.mov", "//server/share/x#y.mov", "\\\\server\\share\\x#y.mov"),  # UNC host
        ("file:/x.mov", "/x.mov", "\\x.mov"),
        ("media/a.mov", "media/a.mov", "media/a.mov"),  # a plain path, as it is
        ("C:\\Media\\a.mov", "C:\\Media\\a.mov", "C:\\Media\\a.mov"),
        ("http://example.com/a.mov", None, None),
        ("s3://bucket/a.mov", None, None),
    ],
)
def test_url_to_path_known_answers(url, posix, windows):
    assert units.url_to_path(url, windows=False) == posix
    assert units.url_to_path(url, windows=True) == windows


def test_the_timeline_reader_and_the_bridge_read_a_unc_host(tmp_path):
    from vidmusician.core.io.timeline import _local_path
    from vidmusician.resolve_plugin.music import _url_path

    url = "file://server/share/a%20b.mov"
    assert _local_path(url, tmp_path) == ("//server/share/a b.mov", False)
    assert _url_path(url, tmp_path) == "//server/share/a b.mov"  # was /share/a b.mov: the host lost
    here = tmp_path / "é x.wav"
    assert _url_path(here.as_uri(), Path("/elsewhere")) == str(here)


# --------------------------------------------------------------------------- PCM and the loader


def test_pcm_and_float_convert_one_way_and_back():
    pcm = np.array([[0, -(1 << 31)], [1 << 30, (1 << 31) - 256]], np.int32)  # (n=2, channels=2)
    x = units.pcm_to_float(pcm)
    assert x.shape == (2, 2) and x.dtype == np.float32
    assert x.tolist() == [[0.0, 0.5], [-1.0, (2**23 - 1) / 2**23]]
    assert np.array_equal(units.float_to_pcm(x.T), pcm)
    assert units.float_to_pcm(np.array([[1.5, -1.5]])).tolist() == [[(1 << 31) - 256, -(1 << 31)]]  # clipped
    assert units.samples(1.5) == 72000 == units.frame_to_sample(36, 24.0)


def test_save_wav_writes_pcm_exactly_and_float_below_clipping(tmp_path):
    pcm = (np.arange(-1000, 1000, dtype=np.int32).reshape(-1, 2) << 8) * 997
    save_wav(tmp_path / "p.wav", pcm)
    back, sr = soundfile.read(tmp_path / "p.wav", dtype="int32", always_2d=True)
    assert sr == units.OUTPUT_SR and np.array_equal(back, pcm)
    assert soundfile.info(str(tmp_path / "p.wav")).subtype == "PCM_24"
    loud = np.stack([np.linspace(-2, 2, 4800), np.zeros(4800)]).astype(np.float32)
    save_wav(tmp_path / "f.wav", loud)
    y = load(tmp_path / "f.wav", units.OUTPUT_SR)
    assert y.shape == (2, 4800) and abs(float(np.abs(y).max()) - 0.97) < 1e-6


def test_the_one_loader_mixes_spreads_and_resamples(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], 1) * 0.5
    soundfile.write(tmp_path / "s.wav", stereo, sr, subtype="FLOAT")
    soundfile.write(tmp_path / "m.wav", stereo[:, 0], sr, subtype="FLOAT")
    assert load(tmp_path / "s.wav", sr).shape == (2, sr)
    mono = load(tmp_path / "s.wav", sr, channels=1)
    assert mono.shape == (1, sr) and np.allclose(mono[0], stereo.mean(axis=1), atol=1e-7)
    both = load(tmp_path / "m.wav", sr, channels=2)
    assert both.shape == (2, sr) and np.array_equal(both[0], both[1])
    y = load(tmp_path / "s.wav", 48000)
    assert y.shape == (2, 48000) and y.dtype == np.float32  # ceil(n * 48000 / 44100)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # the tone, still at 440 Hz (1 s: 1 Hz bins)


def test_the_loader_says_what_is_wrong(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "none.wav", 22050)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(InputError, match="cannot be read as audio"):
        load(tmp_path / "bad.wav", 22050)
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 2)), 22050)
    with pytest.raises(InputError, match="holds no audio samples"):
        load(tmp_path / "empty.wav", 22050)
