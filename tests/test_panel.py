"""The Qt panel (ui/), offscreen with pytest-qt: open, generate, regenerate a
shot, switch takes, listen, export, cancel, errors, the screenshot command."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import opentimelineio as otio
import pytest

pytest.importorskip("PyQt6.QtWidgets", reason="the panel needs PyQt6 (the ui extra)")
pytest.importorskip("pytestqt", reason="the panel tests need pytest-qt")

from PyQt6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PyQt6.QtGui import QColor, QDropEvent
from PyQt6.QtWidgets import QComboBox, QLineEdit

from vidmusician.core import demo, options
from vidmusician.core.session.store import Session
from vidmusician.ui.timeline_view import ENVELOPE_RATE, TimelineView, ViewData, envelope
from vidmusician.ui.window import MainWindow

from . import test_cli


def run(*args):
    return test_cli.run(*map(str, args))


LONG = 180_000  # ms: generous, for a loaded CI machine (nothing asserts on time)


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    return demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1400, 800)
    w.show()
    yield w
    if w.job is not None:
        w.job.cancel()
        qtbot.waitUntil(lambda: not w.busy, timeout=LONG)
    w.stop_thumbnails()


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.busy, timeout=LONG)


def opened(qtbot, w, cut, out):
    assert w.open_input(cut, out)
    assert w.busy and w.cancel_button.isVisibleTo(w) and w.progress.isVisibleTo(w)
    idle(qtbot, w)
    assert w.errors == []
    return w


def test_open_generate_regenerate_switch_and_export(qtbot, window, cut, tmp_path):
    w = opened(qtbot, window, cut, tmp_path / "session")
    shots = w.feats.timeline.shots
    assert [s[0] for s in w.view.data.shots] == [s.index for s in shots]
    assert len(w.view.data.anchors) == len(w.feats.anchors) and len(w.view.data.motion) > 0
    qtbot.waitUntil(lambda: len(w.view.data.thumbnails) == len(shots), timeout=LONG)  # every shot has media
    assert not w.generate_button.isEnabled() or not w.busy
    assert not w.regen_button.isEnabled()  # no music yet

    qtbot.keyClick(w, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # Ctrl+G
    assert w.busy and not w.generate_button.isEnabled()
    idle(qtbot, w)
    assert w.errors == []
    session = Session.load(tmp_path / "session")
    assert [t["id"] for t in session.takes] == [1]
    assert w.view.data.pieces == [(0.0, None, 1)]
    plan = w.loaded.plan
    caught = round(plan.cut_landings()["beat"] * plan.cut_landings()["n"])
    # the plan's promise beside what librosa heard, as the console says it
    assert f"plan: {caught} of " in w.status.text() and "within +-40 ms of a beat" in w.status.text()
    assert "on sixteenths" in w.status.text() and "beat intervals vary" in w.status.text()
    assert len(w.view.data.beats) > 0 and len(w.view.data.downbeats) > 0
    mix1 = w.player.sources["mix"].copy()
    assert w.view.data.envelope.shape[1] == len(mix1) // (48000 // ENVELOPE_RATE)
    assert set(w.player.stems) == set(session.take(1)["files"]["stems"])

    # select shot 1 with the arrow keys, regenerate it with R
    qtbot.keyClick(w, Qt.Key.Key_Right)
    qtbot.keyClick(w, Qt.Key.Key_Right)
    assert w.selected == 1 and w.view.selected == 1 and "Shot 1" in w.shot_label.text()
    assert w.regen_button.isEnabled()
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.busy
    idle(qtbot, w)
    assert w.errors == []
    session = Session.load(tmp_path / "session")
    assert [t["id"] for t in session.takes] == [1, 2] and session.take(2)["shot"] == 1
    f0, f1 = session.take(2)["range_frames"]
    rate = session.data["timeline"]["rate"]
    assert w.view.data.pieces == [(0.0, f0 / rate, 1), (f0 / rate, f1 / rate, 2), (f1 / rate, None, 1)]
    assert [w.take_combo.itemData(i) for i in range(w.take_combo.count())] == [1, 2]
    assert w.take_combo.currentData() == 2
    mix2 = w.player.sources["mix"]
    a, b = round(f0 * 48000 / rate), round(f1 * 48000 / rate)
    assert np.array_equal(mix2[:a], mix1[:a]) and np.array_equal(mix2[b:], mix1[b:])  # the rest is kept
    assert not np.array_equal(mix2[a:b], mix1[a:b])  # and the shot's music changed
    start = shots[1].start_s
    assert w.player.position == pytest.approx(max(0.0, start - 1.0))  # ready to hear the change

    # switch the shot back to take 1: the music is take 1's again, bit for bit
    w.take_combo.setCurrentIndex(0)
    w.take_combo.activated.emit(0)
    idle(qtbot, w)
    assert w.errors == []
    assert np.array_equal(w.player.sources["mix"], mix1)
    assert Session.load(tmp_path / "session").selection == [{"start_frame": 0, "end_frame": None, "take": 1}]
    assert w.take_combo.currentData() == 1

    # export the timeline as it plays now
    dest = tmp_path / "exported" / "edit-music.otio"
    dest.parent.mkdir()
    assert w.export_to(dest)
    idle(qtbot, w)
    assert w.errors == [] and set(w.exported) == {"otio"} | ({"fcp7"} if "fcp7" in w.exported else set())
    t = otio.adapters.read_from_file(str(dest))
    music = [tr for tr in t.tracks if tr.kind == otio.schema.TrackKind.Audio and "VidMusician" in tr.name]
    assert music and all(c.media_reference.target_url.endswith("mix.wav") for c in music[0].find_clips())
    # never overwrites: the same name again is an error dialog with core's message
    assert w.export_to(dest)
    idle(qtbot, w)
    assert len(w.errors) == 1 and "exists already" in w.errors[0] and w.error_box.isVisible()


def test_cancel_leaves_nothing_and_the_window_answers(qtbot, window, cut, tmp_path):
    w = opened(qtbot, window, cut, tmp_path / "session")
    assert w.generate()
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    idle(qtbot, w)
    assert "cancelled" in w.status.text() and w.errors == []
    assert not (tmp_path / "session").exists()
    assert w.loaded is None and w.generate_button.isEnabled()


def test_a_corrupt_file_is_an_error_dialog_with_the_command_lines_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.otio"
    bad.write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": [1, 2')
    code, _, err = run("analyze", bad)
    assert code == 2
    message = err.strip().removeprefix("vidmusician: error: ")
    assert window.open_input(bad)
    idle(qtbot, window)
    assert window.errors == [message]
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.error_box.text() == message and window.feats is None
    assert not window.generate_button.isEnabled()


def test_controls_come_from_the_options_table_and_are_remembered(qtbot, settings, cut, tmp_path):
    w = MainWindow(settings)
    qtbot.addWidget(w)
    names = [o.name for o in options.for_command("score")]
    assert sorted(w.form.widgets) == sorted(names)
    for name in ("backend", "style", "prompt", "bpm", "flex", "meter", "seed", "stem_tracks", "format"):
        assert name in w.form.widgets
    style = w.form.widgets["style"]
    assert isinstance(style, QComboBox)
    assert [style.itemText(i) for i in range(style.count())][1:] == list(options.BY_NAME["style"].choices)
    w.form.set_value("style", "rock")
    w.form.set_value("seed", 42)
    w.form.set_value("stem_tracks", True)
    w.form.set_value("flex", 0.25)
    values = w.form.values()
    assert (values["style"], values["seed"], values["stem_tracks"], values["flex"]) == (
        "rock",
        42,
        True,
        0.25,
    )
    assert values["meter"] == "4/4" and values["bpm"] is None  # the table's defaults
    opts = w.form.score_options()
    assert (opts.style, opts.seed, opts.stem_tracks) == ("rock", 42, True)
    w.form.save()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.form.values() == values

    # a bad value is refused before any work, naming the field
    bpm = w.form.widgets["bpm"]
    assert isinstance(bpm, QLineEdit)
    w.form.set_value("flex", 0.5)
    w.form.set_value("backend", "musicgen")  # without a model
    opened(qtbot, w, cut, tmp_path / "s")
    assert not w.generate()
    assert "--backend musicgen needs --model" in w.errors[-1]
    assert not (tmp_path / "s").exists()
    w.stop_thumbnails()


def test_solo_and_mute_stems(qtbot):
    from vidmusician.ui.player import Player

    p = Player()
    rng = np.random.default_rng(0)
    stems = {
        k: (rng.integers(-1000, 1000, (4800, 2)) * 256).astype(np.int32) for k in ("bass", "drums", "pad")
    }
    mix = sum(s.astype(np.int64) for s in stems.values()).astype(np.int32) // 2
    p.load({"mix": mix, **stems})
    try:
        assert np.array_equal(p.audio(), mix)  # all stems on: the mix itself
        p.set_stem("drums", solo=True)
        assert p.audible() == ["drums"] and np.array_equal(p.audio(), stems["drums"])
        p.set_stem("drums", solo=False)
        p.set_stem("bass", mute=True)
        assert p.audible() == ["drums", "pad"]
        assert np.array_equal(p.audio(), stems["drums"] + stems["pad"])
        import soundfile

        heard, sr = soundfile.read(str(p.current), dtype="int32")
        assert sr == 48000 and np.array_equal(heard, stems["drums"] + stems["pad"])  # what the player plays
    finally:
        p.close()


def test_view_geometry_selection_and_playhead(qtbot):
    """Known answers on a long made-up timeline: 600 shots of 0.5 s."""
    v = TimelineView()
    qtbot.addWidget(v)
    v.resize(1200, 300)
    n = 600
    data = ViewData(
        duration_s=n * 0.5,
        shots=[(i, i * 0.5, (i + 1) * 0.5, "clip", "rock", f"s{i}") for i in range(n)],
        anchors=[(i * 0.5, "cut", 1.0) for i in range(1, n)],
        motion=np.abs(np.sin(np.arange(int(n * 0.5 / 0.04)) * 0.1)),
        beats=np.arange(0, n * 0.5, 0.25),
        downbeats=np.arange(0, n * 0.5, 1.0),
        envelope=envelope(np.sin(np.arange(48000 * 10) / 10.0)[:, None].repeat(2, 1), 48000),
    )
    v.set_data(data)
    v.fit()
    assert v.x_of(data.duration_s) == pytest.approx(1200 - 8)
    v.pps, v.t0 = 100.0, 0.0  # 0.5 s shots are 50 px wide
    assert v.shot_at(0.0) == 0 and v.shot_at(0.49) == 0 and v.shot_at(0.5) == 1 and v.shot_at(299.99) == n - 1
    assert v.shot_at(300.0) == -1
    clicked = []
    v.shotClicked.connect(clicked.append)
    y_shots = v.lane("shots")[0] + 10
    qtbot.mouseClick(v, Qt.MouseButton.LeftButton, pos=QPointF(175, y_shots).toPoint())  # 1.75 s: shot 3
    assert clicked == [3]
    sought = []
    v.seekRequested.connect(sought.append)
    qtbot.mouseClick(v, Qt.MouseButton.LeftButton, pos=QPointF(250, 5).toPoint())  # on the ruler
    assert sought == [pytest.approx(2.5)]
    v.select(3)
    v.set_playhead(4.0, follow=False)
    assert v.current == 8
    img = v.grab().toImage()
    yellow = QColor("#ffd400")
    ys = v.lane("shots")[0] + v.lane("shots")[1] // 2
    assert img.pixelColor(151, ys) == yellow  # the selected shot's outline at 1.5 s = 150 px
    assert img.pixelColor(400, ys).red() > 200 and img.pixelColor(400, ys).green() < 100  # playhead at 4 s
    v.zoom(2.0, around_x=600)
    assert v.pps == 200.0 and v.t_of(600) == pytest.approx(6.0)
    v.scroll_to(1e9)
    assert v.t0 <= data.duration_s  # clamped


def test_drop_a_file_to_open_it(qtbot, window, cut, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(cut))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.busy and window.input_path == cut
    idle(qtbot, window)
    assert window.feats is not None and window.errors == []
    assert window.out is not None and window.out.name == f"{cut.stem}-music"


def test_send_to_resolve_writes_the_handoff(qtbot, settings, cut, tmp_path):
    from vidmusician.core.session.handoff import read

    handoff = tmp_path / "handoff.json"
    w = MainWindow(settings, str(handoff))
    qtbot.addWidget(w)
    assert w.send_button.isVisibleTo(w) and not w.send_button.isEnabled()
    opened(qtbot, w, cut, tmp_path / "session")
    w.generate()
    idle(qtbot, w)
    assert w.send_to_resolve()
    data = read(handoff)
    assert data["status"] == "ok" and data["session"] == str((tmp_path / "session").resolve())
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=10_000)
    assert read(handoff)["status"] == "ok"  # closing after sending does not say cancelled

    other = tmp_path / "other.json"
    w2 = MainWindow(settings, str(other))
    qtbot.addWidget(w2)
    w2.close()
    assert read(other)["status"] == "cancelled"


def test_panel_command_screenshot(cut, tmp_path):
    png = tmp_path / "panel.png"
    code, _, err = run("panel", cut, "-o", tmp_path / "session", "--screenshot", png, "--after", "generate")
    assert code == 0, err
    from PyQt6.QtGui import QImage

    img = QImage(str(png))
    assert (img.width(), img.height()) == (1500, 820)
    assert json.loads((tmp_path / "session" / "session.json").read_text())["takes"][0]["id"] == 1
    # the same name again: refused, never overwritten
    code, _, err = run("panel", cut, "--screenshot", png)
    assert code == 2 and "exists already" in err
    code, _, err = run("panel", cut, "--after", "generate")
    assert code == 2 and "--after goes with --screenshot" in err


@pytest.fixture(scope="module")
def scored(cut, tmp_path_factory):
    from vidmusician.core.session.pipeline import score
    from vidmusician.core.session.settings import ScoreOptions

    out = tmp_path_factory.mktemp("scored") / "session"
    score(cut, out, ScoreOptions(seed=3))
    return out


def test_play_pause_seek_with_the_playhead_in_sync(qtbot, window, scored):
    if not window.player.available:
        pytest.skip("QtMultimedia does not load on this machine (libpulse0 missing)")
    assert window.open_input(scored)  # a session folder reopens its cut and its music
    idle(qtbot, window)
    assert window.loaded is not None and window.output_edit.text() == str(scored.resolve())
    assert window.play_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.player.position > 0.3, timeout=60_000)  # it plays (no device: Qt's clock)
    assert window.player.playing and window.play_button.text() == "Pause"
    assert window.view.playhead_s == window.player.position  # the playhead follows
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.player.playing, timeout=10_000)
    assert window.play_button.text() == "Play"
    # seek by clicking the ruler: 12.0 s at the view's scale
    v = window.view
    x = v.x_of(12.0)
    qtbot.mouseClick(v, Qt.MouseButton.LeftButton, pos=QPointF(x, 4).toPoint())
    assert window.player.position == pytest.approx(12.0, abs=1.5 / v.pps)
    assert v.playhead_s == window.player.position
    shots = window.feats.timeline.shots
    assert shots[v.current].start_s <= v.playhead_s < shots[v.current].end_s  # the shot under it is lit
    tl = window.feats.timeline
    assert window.view.data.rate == tl.rate and window.view.data.start_timecode == tl.start_timecode
    frame = round(window.player.position * tl.rate)
    hour = round(3600 * tl.rate)
    expected = otio.opentime.to_timecode(otio.opentime.RationalTime(hour + frame, tl.rate), tl.rate)
    assert tl.start_timecode == "01:00:00:00"  # the demo cut starts at one hour, like an editor's
    assert window.time_label.text() == f"{expected}  ({window.player.position:.1f} s)"


def test_a_session_folder_of_another_cut_is_refused(qtbot, window, scored, tmp_path):
    other = demo.make_demo_cut(tmp_path / "other")["otio"]
    assert not window.open_input(other, scored)
    assert len(window.errors) == 1 and "holds the session of another cut" in window.errors[0]
    assert window.feats is None and not window.busy
    # with the cut it belongs to, the session opens with its takes
    assert window.open_input(Session.load(scored).data["input"]["path"], scored)
    idle(qtbot, window)
    assert window.loaded is not None and [t["id"] for t in window.loaded.session.takes] == [1]


def test_send_to_resolve_without_the_menu_script_runs_the_bridge_command(
    qtbot, window, scored, tmp_path, monkeypatch
):
    """Started on its own, the panel sends through ``vidmusician resolve apply``
    (a separate process: ui never imports the bridge). Here a stand-in for
    Resolve's scripting module answers like a Resolve that is not running."""
    fake = tmp_path / "fake_resolve"
    fake.mkdir()
    (fake / "DaVinciResolveScript.py").write_text("def scriptapp(name):\n    return None\n")
    monkeypatch.setenv("PYTHONPATH", str(fake))
    assert window.send_button.isVisibleTo(window)  # the bridge is installed
    assert window.open_input(scored)
    idle(qtbot, window)
    assert window.send_to_resolve()
    assert window.busy
    idle(qtbot, window)
    assert len(window.errors) == 1 and window.errors[0].startswith(
        "DaVinci Resolve did not answer. Start Resolve"
    )
    assert window.isVisible()  # nothing was sent: the panel stays open


# ---------------------------------------------------------------------------- cuts without hard cuts


def test_a_take_without_figures_is_said_missing_never_formatted():
    from vidmusician.ui.session_view import take_summary

    t = {
        "id": 1,
        "style": "cinematic",
        "key": "D minor",
        "bpm": [93.75, 93.75],
        "metrics": {"n_cuts": 0, "cut_beat_hit": None, "cut_beat_hit_chance": None, "tempo_bpm": 92.3},
    }
    assert take_summary(t) == "take 1: cinematic in D minor at 93.8 BPM; no cuts to follow"
    t.update(id=2, bpm=[90.0, 102.9], metrics={"n_cuts": 5, "cut_beat_hit": 0.8, "cut_beat_hit_chance": 0.25})
    assert (
        take_summary(t) == "take 2: cinematic in D minor at 90-102.9 BPM; 4 of 5 cuts on a beat (chance 25%)"
    )
    t.update(metrics={"n_cuts": 2, "cut_beat_hit": 1.0, "cut_beat_hit_chance": None})
    assert take_summary(t).endswith("; 2 of 2 cuts on a beat")
    # MusicGen: no key; a record with nothing at all
    assert take_summary({"id": 3, "style": "rock", "key": "", "model": "debug", "bpm": None}) == (
        "take 3: rock (debug); no cuts to follow"
    )
    assert take_summary({}) == "take ?: music; no cuts to follow"


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory):
    """A one-shot clip: 4 s of one colour with a moving bar, no cut."""
    from .conftest import write_video

    return write_video(tmp_path_factory.mktemp("one") / "one.mp4", [], 100)


def test_a_one_shot_clip_generates_and_regenerates(qtbot, window, one_shot, tmp_path):
    w = opened(qtbot, window, one_shot, tmp_path / "session")
    assert len(w.feats.timeline.shots) == 1
    assert w.generate()
    idle(qtbot, w)
    assert w.errors == []
    assert "no cuts to follow" in w.status.text() and w.status.text().startswith("take 1: ")
    m = Session.load(tmp_path / "session").take(1)["metrics"]
    assert m["n_cuts"] == 0 and m["cut_beat_hit"] is None  # what crashed the panel
    w.select_shot(0)
    assert "00:00:00:00–00:00:04:00 (0.00–4.00 s)" in w.shot_label.text()
    assert w.regenerate_shot()
    idle(qtbot, w)
    assert w.errors == [] and "plays take 2" in w.status.text()


def scene_cut_timeline(folder):
    """A timeline whose clips all come from one file in consecutive source
    ranges: through edits, over a picture that does not change at them (no hard cut)."""
    from .conftest import clip, save, timeline, video_track, write_video

    media = write_video(folder / "scenes.mp4", [], 120)
    url = media.as_uri()
    t = timeline(
        video_track(clip("s1", 40, 25, 0, url), clip("s2", 40, 25, 40, url), clip("s3", 40, 25, 80, url)),
        rate=25,
    )
    return save(t, folder / "scenes.otio")


def test_panel_command_on_a_scene_cut_timeline(tmp_path):
    cut = scene_cut_timeline(tmp_path)
    png = tmp_path / "scenes.png"
    code, _, err = run("panel", cut, "-o", tmp_path / "session", "--screenshot", png, "--after", "generate")
    assert code == 0, err
    assert png.is_file()
    take = Session.load(tmp_path / "session").take(1)
    assert take["metrics"]["cut_beat_hit"] is None


def _panel_process(args, tmp_path, code=None, timeout=600):
    """The panel in its own process, with a temp folder of its own (to see what it leaves)."""
    import subprocess
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "VIDMUSICIAN_DEBUG": "", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QT_LOGGING_RULES", None)
    argv = (
        [sys.executable, "-c", code, *map(str, args)]
        if code
        else [sys.executable, "-m", "vidmusician.core.cli", *map(str, args)]
    )
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    return proc, sorted(p.name for p in tmp.iterdir())


def test_panel_process_on_a_one_shot_clip_exits_0_quietly_and_leaves_no_playback_files(one_shot, tmp_path):
    png = tmp_path / "one.png"
    proc, left = _panel_process(
        ["panel", one_shot, "-o", tmp_path / "session", "--screenshot", png, "--after", "generate"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr  # was 134: TypeError in _generated, abort()
    assert png.is_file()
    assert [n for n in left if n.startswith("vidmusician-panel-")] == []
    # no Qt multimedia / FFmpeg / platform chatter without --debug
    for noise in ("qt.multimedia", "FFmpeg", "PulseAudio", "propagateSizeHints"):
        assert noise not in proc.stderr, proc.stderr


CRASHING_PANEL = """
import sys
from vidmusician.ui import app, window

def boom(self, loaded):
    raise RuntimeError("simulated bug in a slot")

window.MainWindow._generated = boom
sys.exit(app.run(sys.argv[1], sys.argv[2], sys.argv[3], "generate", debug=sys.argv[4] == "debug"))
"""


def test_an_exception_in_the_event_loop_is_an_error_not_an_abort_and_the_playback_files_go(
    one_shot, tmp_path
):
    png = tmp_path / "crash.png"
    proc, left = _panel_process([one_shot, tmp_path / "session", png, "debug"], tmp_path, CRASHING_PANEL)
    assert proc.returncode == 2, proc.stderr  # an error dialog showed; PyQt's default would abort (134)
    assert "internal error: RuntimeError: simulated bug in a slot" in proc.stderr
    assert "Traceback" in proc.stderr  # --debug: the traceback, and Qt's own messages
    assert [n for n in left if n.startswith("vidmusician-panel-")] == []
    assert png.is_file()  # the window went on to its screenshot


def test_playback_folder_is_named_by_pid_removed_on_close_and_stale_ones_swept(qtbot, tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile
    import time

    from vidmusician.ui import player

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"vidmusician-panel-{dead_pid}-abcd"
    (stale / "sub").mkdir(parents=True)
    (stale / "play-1.wav").write_bytes(b"x")
    live = tmp_path / f"vidmusician-panel-{os.getppid()}-live"  # a running process's folder stays
    live.mkdir()
    old_legacy = tmp_path / "vidmusician-panel-k2j3h4"  # named before pids were: by age
    old_legacy.mkdir()
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old_legacy, (day_ago, day_ago))
    new_legacy = tmp_path / "vidmusician-panel-z9y8x7"
    new_legacy.mkdir()
    p = player.Player()
    folder = Path(p.folder.name)
    assert folder.parent == tmp_path and folder.name.startswith(f"vidmusician-panel-{os.getpid()}-")
    assert not stale.exists() and not old_legacy.exists() and live.exists() and new_legacy.exists()
    p.load({"mix": np.zeros((4800, 2), np.int32)})
    assert p.current is not None and p.current.parent == folder
    assert player.sweep_stale(tmp_path) == []  # its own folder is never swept
    p.close()
    assert not folder.exists()


# ---------------------------------------------------------------------------- --screenshot FILE --force


def test_screenshot_is_checked_before_the_work_and_replaced_only_with_force(cut, tmp_path):
    png = tmp_path / "shot.png"
    png.write_bytes(b"not yet a picture")
    code, _, err = run("panel", cut, "-o", tmp_path / "s1", "--screenshot", png, "--after", "generate")
    assert code == 2 and "exists already" in err and "--force" in err
    assert not (tmp_path / "s1").exists()  # said before the work: nothing was scored
    for bad, says in (
        (tmp_path / "no-such-folder" / "x.png", "no such folder"),
        (tmp_path / "shot.jpg", "a screenshot is a PNG"),
    ):
        code, _, err = run("panel", cut, "-o", tmp_path / "s2", "--screenshot", bad, "--after", "generate")
        assert code == 2 and says in err, err
        assert not (tmp_path / "s2").exists()
    code, _, err = run("panel", cut, "--force")
    assert code == 2 and "--force goes with --screenshot" in err
    code, _, err = run("panel", cut, "-o", tmp_path / "s3", "--screenshot", png, "--force")
    assert code == 0, err
    from PyQt6.QtGui import QImage

    assert (QImage(str(png)).width(), QImage(str(png)).height()) == (1500, 820)  # replaced
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".shot.png")) == []  # no temp left


# ---------------------------------------------------------------------------- a reopened session


def test_a_reopened_session_uses_its_own_options(qtbot, settings, cut, tmp_path):
    from vidmusician.core.session.pipeline import score
    from vidmusician.core.session.settings import ScoreOptions

    out = tmp_path / "premiere"
    score(cut, out, ScoreOptions(seed=3, fmt="fcp7", style="rock"))
    assert (out / "timeline.xml").is_file()
    # the user's remembered controls say otherwise
    settings.setValue("score/format", "otio")
    settings.setValue("score/seed", "9")
    settings.setValue("score/style", "ambient")
    w = MainWindow(settings)
    qtbot.addWidget(w)
    assert w.form.values()["format"] == "otio"
    assert w.open_input(out)
    idle(qtbot, w)
    assert w.errors == [] and w.loaded is not None
    values = w.form.values()
    assert (values["format"], values["seed"], values["style"]) == ("fcp7", 3, "rock")
    assert "options of take 1" in w.status.text()
    assert w.generate()
    idle(qtbot, w)
    assert w.errors == []
    session = Session.load(out)
    assert [t["id"] for t in session.takes] == [1, 2] and session.take(2)["options"]["fmt"] == "fcp7"
    assert (out / "timeline-v2.otio").is_file() and (out / "timeline-v2.xml").is_file()
    w.stop_thumbnails()


# ---------------------------------------------------------------------------- record timecode


def test_ruler_and_clock_show_the_timelines_record_timecode(qtbot):
    v = TimelineView()
    qtbot.addWidget(v)
    v.resize(1000, 300)
    data = ViewData(
        duration_s=600.0,
        shots=[(0, 0.0, 600.0, "clip", "rock", "a")],
        rate=24.0,
        start_timecode="00:59:58:12",
    )
    v.set_data(data)
    assert data.timecode(0.0) == "00:59:58:12" and data.timecode(3.6 + 1.5) == "01:00:03:14"
    v.pps, v.t0 = 10.0, 0.0  # 10 px a second: a tick every 10 s of record time, on whole seconds
    ticks = v.ruler_ticks(1000)
    assert [label for _, label in ticks[:3]] == ["00:59:50:00", "01:00:00:00", "01:00:10:00"]
    assert ticks[1][0] == pytest.approx(1.5)  # 01:00:00:00 is 1.5 s into this timeline
    v.pps = 2400.0  # 100 px a frame... 1 frame is 100 px: a tick on every frame
    v.t0 = 1.5
    ticks = v.ruler_ticks(1000)
    assert [label for _, label in ticks[:3]] == ["01:00:00:00", "01:00:00:01", "01:00:00:02"]
    # drop-frame at 29.97: the label says so with ;
    ntsc = ViewData(duration_s=120.0, rate=30000 / 1001, start_timecode="01:00:00;00")
    assert ntsc.timecode(60.0) == "01:00:59;28"
    assert ViewData(duration_s=1.0).timecode(61.25) == "1:01.2"  # no rate known: minutes and seconds


def test_a_panel_whose_platform_does_not_start_says_what_to_install(tmp_path):
    """Qt aborts when no platform starts; before it does, the panel says why and what to install."""
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "vidmusician-no-such-platform", "VIDMUSICIAN_DEBUG": ""}
    argv = [sys.executable, "-m", "vidmusician.core.cli", "panel", "--screenshot", str(tmp_path / "x.png")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and not (tmp_path / "x.png").exists()
    assert 'Could not find the Qt platform plugin "vidmusician-no-such-platform"' in proc.stderr
    if sys.platform.startswith("linux"):
        assert "vidmusician: on Debian/Ubuntu install: sudo apt-get install lib" in proc.stderr
        assert "(vidmusician doctor checks it)" in proc.stderr


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGTERM") or os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_closes_the_panel_and_its_playback_files_go(tmp_path, signame):
    import signal
    import subprocess
    import sys
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "QT_QPA_PLATFORM": "offscreen", "VIDMUSICIAN_DEBUG": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidmusician.core.cli", "panel"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp.glob("vidmusician-panel-*")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        (folder,) = tmp.glob("vidmusician-panel-*")
        assert folder.name.startswith(f"vidmusician-panel-{proc.pid}-")
        time.sleep(0.5)  # the event loop is running
        sig = getattr(signal, signame)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert not folder.exists() and list(tmp.iterdir()) == []


def test_ffmpeg_inside_qt_is_quiet_unless_debugging(qtbot, monkeypatch):
    from vidmusician.ui import app
    from vidmusician.ui.player import Player, QMediaPlayer

    if QMediaPlayer is None:
        pytest.skip("QtMultimedia does not load on this machine")
    p = Player()  # loads Qt's FFmpeg
    try:
        lib = app._avutil()
        if lib is None:
            pytest.skip("this PyQt6 has no FFmpeg of its own")
        monkeypatch.delenv("QT_FFMPEG_DEBUG", raising=False)
        monkeypatch.delenv("VIDMUSICIAN_DEBUG", raising=False)
        lib.av_log_set_level(32)  # AV_LOG_INFO, FFmpeg's default
        assert app.quiet_ffmpeg(debug=True) == 32  # --debug: left as it is
        monkeypatch.setenv("QT_FFMPEG_DEBUG", "1")
        assert app.quiet_ffmpeg() == 32  # the user asked Qt for FFmpeg's log
        monkeypatch.delenv("QT_FFMPEG_DEBUG")
        assert app.quiet_ffmpeg() == app.AV_LOG_QUIET
        maps = Path("/proc/self/maps")
        if maps.exists():  # the very library Qt's player uses, not a copy
            loaded = {ln.split()[-1] for ln in maps.read_text().splitlines() if "libavutil" in ln}
            assert len([p for p in loaded if "PyQt6" in p]) == 1
    finally:
        p.close()
