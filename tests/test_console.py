"""What the console says: exact lines for known cuts, record timecodes,
--force checked before the work, plain progress lines off a terminal."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from vidmusician.core import wording
from vidmusician.core.cli import Console, main
from vidmusician.core.cli import console as console_mod
from vidmusician.core.units import record_timecode

from .conftest import TIMELINES, clip, needs_shared, save, timeline, video_track, write_video


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def hour_cut(tmp_path) -> Path:
    """24 fps from 01:00:00:00: shots of 1 s, 0.5 s, 0.25 s and 2.25 s (no media)."""
    t = timeline(video_track(clip("a", 24), clip("b", 12), clip("c", 6), clip("d", 54)), start=86400)
    return save(t, tmp_path / "cut.otio")


# --------------------------------------------------------------------------- the helpers


def test_plural_numbers_and_ranges():
    assert wording.plural(1, "shot") == "1 shot"
    assert wording.plural(3, "shot") == "3 shots"
    assert wording.plural(0, "bar") == "no bars"
    assert wording.plural(0, "bar", zero="") == "0 bars"
    assert wording.plural(2, "match") == "2 matches"
    assert wording.bpm(135.9992) == "136 BPM"
    assert wording.bpm(60.0927) == "60.1 BPM"
    assert wording.bpm_range(60.0, 60.0) == "60 BPM"
    assert wording.bpm_range(59.99, 60.02) == "60 BPM"  # equal once rounded: said once
    assert wording.bpm_range(90.0, 102.93) == "90-102.9 BPM"
    assert wording.span(0.994, 1.002, 3) == "0.994-1.002"
    assert wording.percent(0.1322) == "13%"
    assert wording.duration(0.792) == "0.79 s"
    assert wording.duration(30.0) == "30 s"
    assert wording.duration(55.1667) == "55.2 s"
    assert wording.duration(136.75) == "2 min 17 s"
    assert wording.duration(3600.0) == "1 h 0 min"


def test_record_timecodes():
    assert record_timecode("01:00:00:00", 75, 25) == "01:00:03:00"
    assert record_timecode("00:59:53:11", 31, 24) == "00:59:54:18"  # 11 + 31 frames = 1 s 18 frames
    # drop-frame: a minute of 29.97 is 1800 frames, and minute 1 skips frame numbers 00 and 01
    assert record_timecode("01:00:00;00", 1800, 30000 / 1001) == "01:01:00;02"
    assert record_timecode("01:00:00:00", 1800, 30000 / 1001) == "01:01:00:00"  # non-drop stays so
    assert record_timecode("00:00:01.500", 10, 12.5) == "00:00:02.300"  # no SMPTE at 12.5 fps: a clock


def _plan(anchors, meter="4/4"):
    beats = [0.0, 0.5, 1.0, 1.5, 2.0]
    return {"meter": meter, "beats_s": beats, "downbeats_s": [0.0, 2.0], "anchors": anchors}


def _a(t, on, hard=True):
    return {"time_s": t, "on": on, "hard": hard, "offset_s": 0.0}


def test_where_cuts_land_in_words():
    # 120 BPM: beats every 0.5 s, sixteenths every 0.125 s
    plan = _plan(
        [
            _a(0.5, "beat"),
            _a(0.75, "subdivision"),  # half way through the beat: an eighth
            _a(1.125, "subdivision"),  # a quarter of the way: a sixteenth
            _a(1.875, "subdivision"),
            _a(1.9, "missed"),
            _a(0.3, "missed", hard=False),  # a visual beat: not a cut
        ]
    )
    assert wording.landings(plan) == "5 cuts: 1 on a beat, 1 on an eighth, 2 on a sixteenth, 1 off the grid"
    plan = _plan([_a(0.125, "subdivision"), _a(0.375, "subdivision"), _a(1.625, "subdivision")])
    assert wording.landings(plan) == "3 cuts, all on a sixteenth"
    assert wording.landings(_plan([_a(1.0, "beat")])) == "1 cut, on a beat"
    assert wording.landings(_plan([_a(0.0, "downbeat"), _a(2.0, "downbeat")])) == "2 cuts, both on a downbeat"
    assert wording.landings(_plan([])) == "no cuts to follow"
    assert wording.landing(_a(1 / 3, "subdivision"), _plan([], meter="6/8")) == "eighth"
    assert wording.bar_beat(1.5, _plan([])) == (1, 4) and wording.bar_beat(2.0, _plan([])) == (2, 1)


def test_heard_figures_in_words():
    m = {"tempo_bpm": 60.0927, "n_cuts": 9, "cut_beat_hit": 1.0, "cut_beat_hit_chance": 0.1322}
    assert wording.heard(m) == "tempo 60.1 BPM, 9 of 9 cuts on a beat (chance 13%)"
    m = {"tempo_bpm": 95.7, "n_cuts": 0, "cut_beat_hit": None, "cut_beat_hit_chance": None}
    assert wording.heard(m) == "tempo 95.7 BPM, no cuts to follow"


# --------------------------------------------------------------------------- exact console lines


def test_analyze_lines_in_record_timecode(hour_cut):
    code, out, _ = run("analyze", hour_cut)
    assert code == 0
    assert out.splitlines() == [
        "test: 4 shots, 4 s (96 frames at 24 fps), record 01:00:00:00-01:00:04:00",
        "shot  record in    record out    length  kind      mood (v, a)   style             name",
        "   0  01:00:00:00  01:00:01:00      1 s  clip      -             rock              a",
        "   1  01:00:01:00  01:00:01:12    0.5 s  clip      -             rock              b",
        "   2  01:00:01:12  01:00:01:18   0.25 s  clip      -             rock              c",
        "   3  01:00:01:18  01:00:04:00    2.2 s  clip      -             rock              d",
        "3 cuts:",
        "  record        seconds  kind       strength  label",
        "  01:00:01:00      1.00  cut        1.00      a -> b",
        "  01:00:01:12      1.50  cut        1.00      b -> c",
        "  01:00:01:18      1.75  cut        1.00      c -> d",
    ]


def test_plan_lines_say_beat_eighth_and_sixteenth(hour_cut):
    """At 60 BPM the beats are whole seconds and the last frame (4 s) a
    downbeat: one bar from 0 s; the cut at 1 s is beat 2, 1.5 s its eighth,
    1.75 s its last sixteenth. The sync planner (the default) and the exact
    one (``--exact``) agree here; the third line gives the shares within the
    sync window and the tempo's steadiness (issue 18)."""
    code, out, _ = run("plan", hour_cut, "--bpm", "60-60")
    assert code == 0
    code, exact, _ = run("plan", hour_cut, "--bpm", "60-60", "--exact")
    assert code == 0
    assert exact.splitlines()[0] == "rock in 4/4 at 60 BPM (flex tempo): 5 beats, 1 bar, 1 section"
    assert exact.splitlines()[1:] == out.splitlines()[1:]
    assert out.splitlines() == [
        "rock in 4/4 at 60 BPM (sync tempo): 5 beats, 1 bar, 1 section",
        "3 cuts: 1 on a beat, 1 on an eighth, 1 on a sixteenth",
        "1 of 3 cuts within +-40 ms of a beat (33%, 1 exactly on their frame), 33% on eighths, "
        "33% on sixteenths, 0% off the grid; beat intervals vary 0.0% (CV)",
        "  record        seconds  lands            where",
        "  01:00:01:00      1.00  on a beat        bar 1, beat 2",
        "  01:00:01:12      1.50  on an eighth     bar 1, after beat 2",
        "  01:00:01:18      1.75  on a sixteenth   bar 1, after beat 2",
        "section  record                   bars        intensity",
        "      1  01:00:00:00-01:00:04:00  bar 1       0.00",
    ]
    assert "None" not in out and "60-60" not in out and "0 missed" not in out


def test_one_shot_video_has_no_cuts_to_follow(tmp_path):
    video = write_video(tmp_path / "one.mp4", [], 50)
    code, out, _ = run("analyze", video, "-q")
    assert (
        code == 0
        and out.splitlines()[0] == "one: 1 shot, 2 s (50 frames at 25 fps), record 00:00:00:00-00:00:02:00"
    )
    code, out, _ = run("plan", video, "-q")
    assert code == 0 and out.splitlines()[1] == "no cuts to follow"
    assert "1 shots" not in out and "0 cuts" not in out


@needs_shared
def test_shared_timeline_from_one_hour_in_record_timecode():
    """Hiero's export starts at 01:00:00:00 at 24 fps and lasts 1324 frames
    (55 s 4 frames); its first cut is at frame 14."""
    code, out, _ = run("analyze", TIMELINES / "hiero_xml_export.xml", "-q")
    lines = out.splitlines()
    assert code == 0
    assert (
        lines[0]
        == "hiero_xml_export: 4 shots, 55.2 s (1324 frames at 24 fps), record 01:00:00:00-01:00:55:04"
    )
    assert "  01:00:00:14      0.58  cut        1.00      black -> A160C005_171213_R0MN" in lines
    code, out, _ = run("plan", TIMELINES / "hiero_xml_export.xml", "-q")
    assert code == 0 and any(line.startswith("  01:00:00:14      0.58  on a ") for line in out.splitlines())


@pytest.fixture(scope="module")
def hour_session(tmp_path_factory) -> Path:
    """A session of an 8 s cut from 01:00:00:00 (cut at 4 s) scored at 60 BPM:
    bars at 0, 4 and 8 s, so shot 1's bars are 4-8 s; the new take's 50 ms
    crossfade before the bar line starts at 3.95 s, in frame 94 (01:00:03:22)."""
    d = tmp_path_factory.mktemp("hour")
    src = save(timeline(video_track(clip("a", 96), clip("b", 96)), start=86400), d / "cut.otio")
    code, _, err = run("score", src, "-o", d / "s", "--bpm", "60-60", "-q")
    assert code == 0, err
    return d / "s"


def test_regenerate_and_takes_in_record_timecode(hour_session, tmp_path):
    import shutil

    s = tmp_path / "s"
    shutil.copytree(hour_session, s)
    code, out, err = run("regenerate", s, "--shot", "1", "--seed", "7", "-q")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("take 2 under shot 1 (01:00:03:22-01:00:08:00): lo-fi in ")
    assert lines[0].endswith(" at 60 BPM, seed 7; 1 cut, on a downbeat")
    assert lines[1] == (  # what the plan promises (issue 18), then what librosa hears
        "planned: 1 of 1 cut within +-40 ms of a beat (100%, 1 exactly on their frame), 0% on eighths, "
        "0% on sixteenths, 0% off the grid; beat intervals vary 0.0% (CV)"
    )
    assert lines[2].startswith("heard: tempo ") and " of 1 cut on a beat (chance " in lines[2]
    assert " within +-40 ms (chance " in lines[2] and "beat intervals vary " in lines[2]
    assert lines[-1] == f"timeline version 2: {s / 'timeline-v2.otio'}"
    code, out, _ = run("takes", s)
    rows = out.splitlines()
    assert code == 0
    assert rows[0] == "take  kind        shot        seed  style             key        plays (record)"
    assert rows[1].startswith("   1  score        all           0  lo-fi") and rows[1].endswith(
        " 01:00:00:00-01:00:03:22"
    )
    assert rows[2].startswith("   2  regenerate     1           7  lo-fi") and rows[2].endswith(
        " 01:00:03:22-01:00:08:00"
    )
    assert rows[3] == "timeline version 2: timeline-v2.otio"
    code, out, _ = run("takes", s, "--use", "1", "--shot", "1", "-q")
    assert (
        code == 0
        and out.splitlines()[0]
        == "take 1 now plays under shot 1, 01:00:00:00-01:00:08:00; timeline version 3"
    )
    assert out.splitlines()[3].endswith(" not on the timeline")


# --------------------------------------------------------------------------- --force, before the work


@pytest.fixture
def no_analysis(monkeypatch):
    """Any analysis now records that it was called (and fails)."""
    calls: list[str] = []

    def analyze(path, *a, **k):
        calls.append(str(path))
        raise AssertionError("analysed")

    monkeypatch.setattr("vidmusician.core.analysis.analyze.analyze", analyze)
    return calls


@pytest.mark.parametrize(
    "argv",
    [
        ("analyze", "{cut}", "--json", "{dest}"),
        ("analyze", "{cut}", "--plot", "{dest}"),
        ("plan", "{cut}", "--json", "{dest}"),
        ("plan", "{cut}", "--plot", "{dest}"),
        ("eval", "{missing}", "{cut}", "--json", "{dest}"),  # the missing audio would fail first otherwise
    ],
)
def test_an_existing_report_is_refused_before_any_work(tmp_path, hour_cut, no_analysis, argv):
    dest = tmp_path / "there.out"
    dest.write_text("mine")
    names = {"cut": hour_cut, "dest": dest, "missing": tmp_path / "no.wav"}
    code, out, err = run(*(a.format(**names) for a in argv))
    assert code == 2 and out == ""
    assert (
        err
        == f"vidmusician: error: {dest}: exists already; add --force to replace it, or choose a new name.\n"
    )
    assert no_analysis == [] and dest.read_text() == "mine"


def test_a_missing_folder_or_one_name_twice_is_refused_before_any_work(tmp_path, hour_cut, no_analysis):
    code, _, err = run("analyze", hour_cut, "--json", tmp_path / "nowhere" / "a.json")
    assert code == 2 and f"{tmp_path / 'nowhere'}: no such folder" in err
    code, _, err = run("plan", hour_cut, "--json", tmp_path / "a.x", "--plot", tmp_path / "a.x")
    assert code == 2 and "--json and --plot both name" in err
    code, _, err = run("analyze", hour_cut, "--json", tmp_path)
    assert code == 2 and "is a folder" in err
    assert no_analysis == []


def test_takes_refuses_an_existing_report_before_switching_takes(hour_session, tmp_path):
    import shutil

    s = tmp_path / "s"
    shutil.copytree(hour_session, s)
    (tmp_path / "t.json").write_text("mine")
    before = (s / "session.json").read_text()
    code, _, err = run("takes", s, "--use", "1", "--shot", "1", "--json", tmp_path / "t.json")
    assert code == 2 and "exists already; add --force" in err
    assert (s / "session.json").read_text() == before  # nothing switched


def test_force_replaces_atomically(tmp_path, hour_cut):
    dest = tmp_path / "a.json"
    dest.write_text("old")
    keep = tmp_path / "old-link.json"
    os.link(dest, keep)  # a second name for the old file
    code, _, err = run("analyze", hour_cut, "--json", dest, "--force", "-q")
    assert code == 0, err
    assert json.loads(dest.read_text())["shots"][3]["name"] == "d"
    # replaced by a rename, not written over in place: the old file is untouched under its other name
    assert keep.read_text() == "old" and dest.stat().st_ino != keep.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "cut.otio", "old-link.json"]
    png = tmp_path / "p.png"
    png.write_bytes(b"not a png")
    code, _, err = run("plan", hour_cut, "--plot", png, "--force", "--bpm", "60-60", "-q")
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- progress off a terminal


def test_plain_progress_lines_when_stderr_is_no_terminal(monkeypatch):
    clock = iter([0.0, 0.5, 2.0, 2.5, 3.0, 3.5, 4.0, 40.0, 41.0])
    monkeypatch.setattr(console_mod.time, "monotonic", lambda: next(clock))
    err = io.StringIO()
    c = Console(err=err)
    c.progress(0.0, "reading")  # t=0: the first second says nothing
    c.progress(0.1, "reading")  # t=0.5
    c.progress(0.2, "analysing picture")  # t=2: a stage
    c.progress(0.3, "analysing picture")  # same stage: nothing
    c.progress(0.5, "measuring the music: loading librosa")  # a stage...
    c.progress(0.6, "measuring the music: tracking beats")  # ...and a step of it: nothing
    c.progress(0.7, "step 1, 30 s left")  # t=4
    c.progress(0.8, "step 2, 29 s left")  # t=40: only counts on, 36 s later: said again
    c.progress(1.0, "done")  # the end: nothing
    c.close()
    assert err.getvalue().splitlines() == [
        "analysing picture (20%, 2 s)",
        "measuring the music (50%, 3 s)",
        "step 1, 30 s left (70%, 4 s)",
        "step 2, 29 s left (80%, 40 s)",
    ]


def test_no_carriage_returns_in_a_logged_run(tmp_path, monkeypatch):
    monkeypatch.setattr(console_mod, "PLAIN_DELAY_S", 0.0)
    video = write_video(tmp_path / "v.mp4", [25], 50)
    code, _, err = run("analyze", video, "--json", tmp_path / "a.json")
    assert code == 0
    assert "\r" not in err and "analysing picture (" in err and f"wrote {tmp_path / 'a.json'}" in err


def test_close_cuts_warning_pluralises(tmp_path):
    """At 60 BPM a sixteenth is 0.25 s: a cut one frame (1/24 s) after another cannot have its own."""
    t = timeline(video_track(clip("a", 24), clip("b", 1), clip("c", 71)))
    code, _, err = run("plan", save(t, tmp_path / "close.otio"), "--bpm", "60-60")
    assert code == 0
    assert (
        "warning: 1 cut closer than one subdivision at 60 BPM to a stronger one: it shares its grid point or is "
        "missed.\n" in err
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_new_stage_shows_on_the_bar_at_once():
    """On a terminal, a stage that starts with a tiny step (0.1%) still shows
    its label at once (tqdm alone waits for a big enough step)."""
    err = _Terminal()
    c = Console(err=err)
    for i in range(200):  # many quick steps teach tqdm to skip small ones
        c.progress(i / 400, "analysing picture")
    c._bar.start_t -= 2  # as if two seconds had passed
    c.progress(0.5, "analysing picture")
    c.progress(0.501, "measuring the music: tracking beats")
    c.close()
    assert "measuring the music: tracking beats  50%" in err.getvalue()


def test_check_output_says_what_cannot_be_written(tmp_path, monkeypatch):
    from vidmusician.core import fsutil
    from vidmusician.core.errors import OutputError

    fsutil.check_output(None)
    fsutil.check_output("-")  # standard output
    fsutil.check_output(tmp_path / "new.json")
    (tmp_path / "old.json").write_text("x")
    fsutil.check_output(tmp_path / "old.json", force=True)
    with pytest.raises(OutputError, match="exists already; add --force"):
        fsutil.check_output(tmp_path / "old.json")
    with pytest.raises(OutputError, match="no such folder"):
        fsutil.check_output(tmp_path / "nowhere" / "a.json", force=True)
    with pytest.raises(OutputError, match="is a folder"):
        fsutil.check_output(tmp_path, force=True)
    monkeypatch.setattr(fsutil.os, "access", lambda path, mode: False)  # as a read-only folder answers
    with pytest.raises(OutputError, match="cannot write here"):
        fsutil.check_output(tmp_path / "new.json")
