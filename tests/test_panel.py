"""The Qt panel (ui/), offscreen with pytest-qt: open, generate, regenerate a
shot, switch takes, listen, export, cancel, errors, the screenshot command."""

from __future__ import annotations

import json
import os

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
from vidmusician.core.session import Session
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
    from vidmusician.core.handoff import read

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
    from vidmusician.core.score import ScoreOptions, score

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
    assert window.time_label.text() == f"0:{window.player.position:04.1f}"


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
