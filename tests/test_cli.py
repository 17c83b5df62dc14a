"""The command line contract: JSON shape, exit statuses, messages, --quiet, --debug."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidmusician.core.cli import Console, main

from .conftest import TIMELINES, clip, needs_shared, save, timeline, video_track, write_video


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cut(tmp_path) -> Path:
    media = tmp_path / "a.mov"
    media.write_bytes(b"x")
    t = timeline(video_track(clip("a", 48, url=media.as_uri()), clip("b", 24, url="gone.mov")), start=86400)
    return save(t, tmp_path / "cut.otio")


def test_analyze_json_contract(cut):
    code, out, err = run("analyze", str(cut), "--json", "-")
    assert code == 0
    data = json.loads(out)
    for key in ("input", "rate", "duration_s", "start_timecode", "shots", "anchors", "missing_media"):
        assert key in data
    assert data["rate"] == 24 and data["duration_s"] == 3.0 and data["start_timecode"] == "01:00:00:00"
    assert [s["index"] for s in data["shots"]] == [0, 1]
    s0 = data["shots"][0]
    assert (s0["start_s"], s0["end_s"], s0["name"], s0["media_found"]) == (0.0, 2.0, "a", True)
    assert set(s0) >= {"index", "start_s", "end_s", "name", "media", "media_found"}
    assert data["anchors"] == [{"time_s": 2.0, "kind": "cut", "strength": 1.0, "label": "a -> b"}]
    assert data["missing_media"] == [str(cut.parent / "gone.mov")]
    assert "not found" in err  # missing media is a warning, not an error


def test_analyze_json_to_file_is_atomic_and_never_overwrites(cut, tmp_path):
    dest = tmp_path / "a.json"
    assert run("analyze", str(cut), "--json", str(dest), "--quiet")[0] == 0
    assert json.loads(dest.read_text())["shots"]
    code, _, err = run("analyze", str(cut), "--json", str(dest))
    assert code == 2 and "exists already" in err


def test_analyze_human_summary(cut):
    code, out, _ = run("analyze", str(cut))
    assert code == 0 and "2 shots" in out and "[media missing]" in out


@needs_shared
def test_analyze_shared_edl_with_rate():
    code, out, _ = run("analyze", str(TIMELINES / "25fps.edl"), "--rate", "25", "--json", "-")
    data = json.loads(out)
    assert code == 0 and data["rate"] == 25
    assert [a["time_s"] for a in data["anchors"]] == [161 / 25, 361 / 25, 447 / 25]


@pytest.mark.parametrize(
    "make,args,needle",
    [
        (lambda d: d / "missing.otio", (), "no such file"),
        (lambda d: _write(d / "cut.aaf9", b"x"), (), ".otio"),
        (lambda d: _write(d / "bad.otio", b"{oops"), (), "cannot be read"),
        (lambda d: _write(d / "bad.xml", b"<xmeml"), (), "cannot be read"),
        (lambda d: _write(d / "empty.edl", b""), (), "empty"),
        (lambda d: _audio_only(d), (), "no video track"),
        (lambda d: save(timeline(video_track()), d / "e.otio"), (), "empty"),
        (lambda d: save(timeline(video_track(clip("a", 5))), d / "ok.otio"), ("--rate", "0"), "--rate"),
        (lambda d: save(timeline(video_track(clip("a", 5))), d / "ok.otio"), ("--rate", "fast"), "--rate"),
        (
            lambda d: save(timeline(video_track(clip("a", 5))), d / "ok.otio"),
            ("--scene-detector", "magic"),
            "choose one of",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, make, args, needle):
    path = make(tmp_path)
    code, out, err = run("analyze", str(path), *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and out == ""


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _audio_only(d: Path) -> Path:
    import opentimelineio as otio

    a = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a.append(clip("m", 24))
    return save(timeline(a), d / "audio.otio")


def test_debug_shows_the_traceback(tmp_path):
    code, _, err = run("analyze", str(tmp_path / "missing.otio"), "--debug")
    assert code == 2 and "Traceback" in err and "no such file" in err


def test_config_file_and_precedence(tmp_path, cut):
    cfg = tmp_path / "vm.toml"
    cfg.write_text('[vidmusician]\nscene_detector = "nonsense"\n')
    code, _, err = run("analyze", str(cut), "--config", str(cfg))
    assert code == 2 and "scene_detector" in err
    cfg.write_text("[vidmusician]\nrate = 30\n")
    edl = tmp_path / "c.edl"
    edl.write_text("TITLE: t\n\n001  AX V C 00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00\n")
    code, out, _ = run("analyze", str(edl), "--config", str(cfg), "--json", "-")
    assert code == 0 and json.loads(out)["rate"] == 30  # config over default
    code, out, _ = run("analyze", str(edl), "--config", str(cfg), "--rate", "25", "--json", "-")
    assert json.loads(out)["rate"] == 25  # explicit over config
    cfg.write_text("[vidmusician]\ntempo = 3\n")
    code, _, err = run("analyze", str(edl), "--config", str(cfg))
    assert code == 2 and "unknown setting 'tempo'" in err


def test_quiet_silences_progress_and_notes():
    err = io.StringIO()
    c = Console(quiet=True, err=err)
    c.progress(0.5, "working")
    c.note("hello")
    assert err.getvalue() == ""
    c.warn("about your files")
    assert "about your files" in err.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_stderr_for_slow_work():
    err = _Terminal()
    c = Console(err=err)
    c.progress(0.0, "decoding")
    c._bar.delay = 0  # as if a second had passed
    c.progress(0.5, "decoding")
    c._bar.refresh()
    c.close()
    assert "decoding" in err.getvalue() and "50%" in err.getvalue()


def test_plain_video_analyze(tmp_path):
    video = write_video(tmp_path / "v.mp4", [30], 60)
    code, out, _ = run("analyze", str(video), "--json", "-", "--quiet")
    data = json.loads(out)
    scenes = [a for a in data["anchors"] if a["kind"] != "motion"]
    assert code == 0 and [a["kind"] for a in scenes] == ["scene"]
    assert scenes[0]["time_s"] == pytest.approx(30 / 25)


def test_doctor_runs():
    code, out, _ = run("doctor")
    assert code == 0
    assert "opentimelineio" in out and ".edl (cmx_3600)" in out and "torch" in out


def test_no_command_prints_help():
    code, out, _ = run()
    assert code == 2 and "analyze" in out


def test_console_script_is_installed(cut):
    exe = Path(sys.executable).with_name("vidmusician")
    assert exe.exists(), "pip install -e . should install the vidmusician command"
    proc = subprocess.run(
        [str(exe), "analyze", str(cut), "--json", "-", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDMUSICIAN_DEBUG": ""},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["shots"][1]["name"] == "b"
