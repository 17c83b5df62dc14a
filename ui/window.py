"""The panel's main window: open a cut, generate, listen, regenerate a shot, export.

It calls the same core functions as the command line (``analyze``, ``score``,
``regenerate``, ``use``, ``export``) on a worker thread (:class:`Job`), with
the progress bar and the Cancel button wired to core's progress callback and
cancel event; errors become dialogs with the command line's messages.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PyQt6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vidmusician.core import SESSION_FILE, Session, VidMusicianError

from .controls import OptionsForm
from .export import ExportActions, resolve_bridge_installed
from .jobs import Job
from .player import MULTIMEDIA_ERROR, Player
from .session_view import Loaded, SessionView, default_output, load_session, plan_figures
from .timeline_view import TimelinePane, ViewData


class MainWindow(SessionView, ExportActions, QMainWindow):
    """The panel. ``busyChanged`` fires when a job starts or ends.

    The session it shows, with its shots and takes, is :class:`~.session_view.SessionView`'s;
    export and Send to Resolve are :class:`~.export.ExportActions`'."""

    busyChanged = pyqtSignal(bool)

    def __init__(self, settings: QSettings | None = None, handoff: str | None = None):
        super().__init__()
        self.setWindowTitle("VidMusician")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else QSettings("VidMusician", "panel")
        self.handoff = handoff
        self.sent = False
        self.input_path: Path | None = None
        self.feats: Any = None
        self.loaded: Loaded | None = None
        self.job: Job | None = None
        self.thumb_job: Job | None = None
        self.errors: list[str] = []
        self.error_box: QMessageBox | None = None
        self.selected = -1

        self.player = Player(self)
        self.pane = TimelinePane(self)
        self.view = self.pane.view
        self.form = OptionsForm("score", self.settings)
        self._build()
        self.player.positionChanged.connect(self._position)
        self.player.playingChanged.connect(lambda on: self.play_button.setText("Pause" if on else "Play"))
        self.player.failed.connect(self._say)
        self.view.shotClicked.connect(self.select_shot)
        self.view.seekRequested.connect(self.player.seek)
        self._refresh()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        central = QWidget(self)
        col = QVBoxLayout(central)
        col.addLayout(self._build_input_row())
        col.addWidget(self.pane, 1)
        col.addLayout(self._build_transport_row())
        col.addLayout(self._build_shot_row())
        self.setCentralWidget(central)
        self._build_dock()
        self._build_status_bar()
        self._build_menus()

    def _build_input_row(self) -> QHBoxLayout:
        """The cut open and the session folder."""
        row = QHBoxLayout()
        self.input_label = QLabel("No cut open")
        self.input_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.input_label, 1)
        row.addWidget(QLabel("Session folder:"))
        self.output_edit = QLineEdit()
        self.output_edit.setObjectName("output")
        self.output_edit.setMinimumWidth(280)
        row.addWidget(self.output_edit)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_output)
        row.addWidget(browse)
        return row

    def _build_transport_row(self) -> QHBoxLayout:
        """Play, the clock, zoom, the stems' switches and the legend."""
        row = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.toggle_play)
        row.addWidget(self.play_button)
        self.time_label = QLabel("0:00.0")
        self.time_label.setObjectName("clock")
        self.time_label.setMinimumWidth(135)
        row.addWidget(self.time_label)
        for text, slot in (
            ("−", lambda: self.view.zoom(0.8)),
            ("+", lambda: self.view.zoom(1.25)),
            ("Fit", self.view.fit),
        ):
            b = QToolButton()
            b.setText(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addSpacing(16)
        self.stems_row = QHBoxLayout()
        row.addLayout(self.stems_row)
        row.addStretch(1)
        self.legend = QLabel(
            "<span style='color:#d62728'>■</span> cut  <span style='color:#9467bd'>■</span> scene  "
            "<span style='color:#2ca02c'>■</span> marker  <span style='color:#1f77b4'>■</span> motion  "
            "<span style='color:#e0e0e0'>|</span> downbeat"
        )
        row.addWidget(self.legend)
        return row

    def _build_shot_row(self) -> QHBoxLayout:
        """The selected shot, its takes and Regenerate."""
        row = QHBoxLayout()
        self.shot_label = QLabel("No shot selected (click one, or use the arrow keys)")
        row.addWidget(self.shot_label, 1)
        row.addWidget(QLabel("Take:"))
        self.take_combo = QComboBox()
        self.take_combo.setMinimumWidth(220)
        self.take_combo.activated.connect(self._take_chosen)
        row.addWidget(self.take_combo)
        self.regen_button = QPushButton("Regenerate shot (R)")
        self.regen_button.clicked.connect(self.regenerate_shot)
        row.addWidget(self.regen_button)
        return row

    def _build_dock(self) -> None:
        """The options dock: the music form, Generate, Export and Send to Resolve."""
        dock = QDockWidget("Music", self)
        dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        box = QWidget()
        v = QVBoxLayout(box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        v.addWidget(scroll, 1)
        self.generate_button = QPushButton("Generate (Ctrl+G)")
        self.generate_button.clicked.connect(self.generate)
        v.addWidget(self.generate_button)
        self.export_button = QPushButton("Export timeline… (Ctrl+E)")
        self.export_button.clicked.connect(self.export_dialog)
        v.addWidget(self.export_button)
        self.send_button = QPushButton("Send to Resolve")
        self.send_button.clicked.connect(self.send_to_resolve)
        self.send_button.setVisible(self.handoff is not None or resolve_bridge_installed())
        v.addWidget(self.send_button)
        dock.setWidget(box)
        dock.setMinimumWidth(330)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

    def _build_status_bar(self) -> None:
        """The status bar: message, progress, cancel."""
        self.status = QLabel(MULTIMEDIA_ERROR)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(320)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        bar = self.statusBar()
        assert bar is not None
        bar.addWidget(self.status, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _build_menus(self) -> None:
        """Menus and their shortcuts (which work with the menu bar hidden too)."""
        self.acts: dict[str, QAction] = {}
        menus = self.menuBar()
        assert menus is not None

        def act(
            menu: Any, name: str, text: str, keys: str | QKeySequence.StandardKey | None, slot: Any
        ) -> None:
            a = QAction(text, self)
            if keys is not None:
                a.setShortcut(QKeySequence(keys))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)  # shortcuts work with the menu bar hidden too
            self.acts[name] = a

        m = menus.addMenu("&File")
        act(m, "open", "&Open…", "Ctrl+O", self.open_dialog)
        act(m, "export", "&Export timeline…", "Ctrl+E", self.export_dialog)
        act(m, "send", "Send to &Resolve", None, self.send_to_resolve)
        act(m, "quit", "&Quit", "Ctrl+Q", self.close)
        m = menus.addMenu("&Music")
        act(m, "generate", "&Generate", "Ctrl+G", self.generate)
        act(m, "regenerate", "&Regenerate selected shot", "R", self.regenerate_shot)
        act(m, "cancel", "&Cancel", "Esc", self.cancel)
        m = menus.addMenu("&Play")
        act(m, "play", "Play / &pause", "Space", self.toggle_play)
        act(m, "previous", "&Previous shot", "Left", lambda: self.step_shot(-1))
        act(m, "next", "&Next shot", "Right", lambda: self.step_shot(1))
        m = menus.addMenu("&View")
        act(m, "zoom_in", "Zoom &in", "Ctrl++", lambda: self.view.zoom(1.25))
        act(m, "zoom_out", "Zoom &out", "Ctrl+-", lambda: self.view.zoom(0.8))
        act(m, "fit", "&Fit the timeline", "Ctrl+0", self.view.fit)
        self.acts["send"].setVisible(self.handoff is not None or resolve_bridge_installed())

    # ------------------------------------------------------------------ state

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def out(self) -> Path | None:
        text = self.output_edit.text().strip()
        return Path(text).expanduser() if text else None

    def _refresh(self) -> None:
        have_cut = self.feats is not None
        have_music = self.loaded is not None
        idle = not self.busy
        self.generate_button.setEnabled(have_cut and idle)
        self.acts["generate"].setEnabled(have_cut and idle)
        self.regen_button.setEnabled(have_music and idle and self.selected >= 0)
        self.acts["regenerate"].setEnabled(have_music and idle and self.selected >= 0)
        self.take_combo.setEnabled(have_music and idle and self.selected >= 0)
        for name in ("export", "send"):
            self.acts[name].setEnabled(have_music and idle)
        self.export_button.setEnabled(have_music and idle)
        self.send_button.setEnabled(have_music and idle)
        self.acts["open"].setEnabled(idle)
        self.play_button.setEnabled(have_music and self.player.available)
        self.progress.setVisible(not idle)
        self.cancel_button.setVisible(not idle)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------------ jobs

    def _start(self, name: str, fn: Any, done: Any, label: str) -> bool:
        """Run ``fn(progress, cancel, emit)`` off the GUI thread; ``done(result)`` on success."""
        if self.busy:
            self._say("Busy: wait for the current job or cancel it.")
            return False
        job = Job(name, fn, self)
        job.progress.connect(self._progress)
        job.succeeded.connect(done)
        job.failed.connect(self.show_error)
        job.cancelled.connect(lambda: self._say(f"{label}: cancelled; nothing was changed."))
        job.finished.connect(self._job_finished)
        self.job = job
        self.progress.setValue(0)
        self._say(f"{label}…")
        self._refresh()
        self.busyChanged.emit(True)
        job.start()
        return True

    def _progress(self, fraction: float, label: str) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        if label:
            self.progress.setFormat(f"{label} %p%")

    def _job_finished(self) -> None:
        self.job = None
        self._refresh()
        self.busyChanged.emit(False)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self._say("Cancelling…")

    def show_error(self, message: str, details: str = "") -> None:
        """A dialog with the command line's message (the traceback under Details)."""
        self.errors.append(message)
        self._say(f"error: {message.splitlines()[0]}")
        box = QMessageBox(QMessageBox.Icon.Critical, "VidMusician", message, parent=self)
        if details and os.environ.get("VIDMUSICIAN_DEBUG", "") not in ("", "0"):
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.error_box = box
        box.open()  # not exec(): the window keeps running (and tests can read it)

    # ------------------------------------------------------------------ opening

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a timeline or a video",
            str(self.input_path.parent if self.input_path else Path.home()),
            "Timelines and videos (*.otio *.otioz *.xml *.edl *.mp4 *.mov *.mkv *.avi *.mxf *.m4v);;All files (*)",
        )
        if path:
            self.open_input(path)

    def open_input(self, path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> bool:
        """Analyse ``path`` (a timeline, a video, or a session folder to reopen) off the GUI thread."""
        p = Path(path).expanduser()
        session_out: Path | None = None
        if p.is_dir() and (p / SESSION_FILE).is_file():
            try:
                session_out = p
                p = Path(Session.load(p).data["input"]["path"])
            except VidMusicianError as e:
                self.show_error(str(e))
                return False
        elif out is not None and (Path(out) / SESSION_FILE).is_file():
            try:
                other = Path(Session.load(out).data["input"]["path"])
            except VidMusicianError as e:
                self.show_error(str(e))
                return False
            if other.resolve() != p.resolve():
                self.show_error(
                    f"{out}: holds the session of another cut ({other}). Open that folder to work on it, "
                    "or choose a new session folder for this cut."
                )
                return False
            session_out = Path(out)
        if self.busy:
            self._say("Busy: wait for the current job or cancel it.")
            return False
        settings = self.form.values() if self._form_ok() else {}
        self.stop_thumbnails()
        self.player.stop()
        self.feats, self.loaded, self.selected = None, None, -1
        self.input_path = p
        self.input_label.setText(f"<b>{p.name}</b>")
        self.setWindowTitle(f"{p.name} — VidMusician")
        self.input_label.setToolTip(str(p))
        self.output_edit.setText(str(Path(session_out or out or default_output(p)).resolve()))
        self.view.set_data(ViewData())
        from vidmusician.core import analyze

        def work(progress: Any, cancel: Any, emit: Any) -> Any:
            feats = analyze(
                str(p),
                settings.get("rate"),
                settings.get("scene_detector", "adaptive"),
                settings.get("scene_threshold"),
                settings.get("cache", True),
                settings.get("clip"),
                progress,
                cancel,
            )
            return feats, (load_session(session_out) if session_out else None)

        return self._start("analyze", work, self._opened, f"Analysing {p.name}")

    def _form_ok(self) -> bool:
        try:
            self.form.values()
            return True
        except VidMusicianError:
            return False

    def _opened(self, result: Any) -> None:
        feats, loaded = result
        self.feats = feats
        tl = feats.timeline
        data = ViewData(
            duration_s=tl.duration_s,
            shots=[
                (s.index, s.start_s, s.end_s, s.kind, f.style, s.name) for s, f in zip(tl.shots, feats.shots)
            ],
            anchors=[(a.time_s, a.kind, float(a.strength)) for a in feats.anchors],
            motion_hop_s=float(feats.motion.hop_s),
            motion=np.asarray(feats.motion.values, np.float32),
            rate=float(tl.rate),
            start_timecode=str(tl.start_timecode),
        )
        self.view.set_data(data)
        self.view.fit()
        self._position(self.player.position)
        warnings = list(tl.warnings) + list(feats.warnings)
        n = len(tl.shots)
        said = (
            f"{n} shot{'s' * (n != 1)}, {tl.start_timecode}–{data.timecode(tl.duration_s)} "
            f"({tl.duration_s:.1f} s at {tl.rate:g} fps)"
        )
        if loaded is not None:
            take = self.use_session_options(loaded.session)
            said += f"; options of take {take}" if take is not None else ""
        self._say(said + (f"; {len(warnings)} warning(s): {warnings[0]}" if warnings else ""))
        if loaded is not None:
            self._show_session(loaded)
        self._start_thumbnails()
        self._refresh()

    def _start_thumbnails(self) -> None:
        from vidmusician.core import shot_thumbnail

        shots = list(self.feats.timeline.shots)

        def work(progress: Any, cancel: Any, emit: Any) -> None:
            probed: dict[str, Any] = {}
            for s in shots:
                if cancel.is_set():
                    return
                img = shot_thumbnail(s, 160, probed)
                if img is not None:
                    emit((s.index, img))

        job = Job("thumbnails", work, self)
        job.item.connect(self._thumbnail)
        self.thumb_job = job
        job.start()

    def _thumbnail(self, item: tuple[int, np.ndarray]) -> None:
        index, img = item
        h, w, _ = img.shape
        q = QImage(img.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.view.data.thumbnails[index] = q
        self.view.update()

    def stop_thumbnails(self) -> None:
        if self.thumb_job is not None:
            self.thumb_job.cancel()
            if self.thumb_job.worker is not None:
                self.thumb_job.worker.join(timeout=5)
            self.thumb_job = None

    def _browse_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Session folder", self.output_edit.text())
        if path:
            self.output_edit.setText(path)

    # ------------------------------------------------------------------ generating

    def generate(self) -> bool:
        """Score the open cut into the session folder (a new take when it holds a session already)."""
        if self.feats is None or self.input_path is None or self.busy:
            return False
        out = self.out
        if out is None:
            self.show_error("Choose a session folder first.")
            return False
        try:
            opts = self.form.score_options()
        except VidMusicianError as e:
            self.show_error(str(e))
            return False
        self.form.save()
        from vidmusician.core import score

        src = self.input_path
        new_take = (out / SESSION_FILE).is_file()

        def work(progress: Any, cancel: Any, emit: Any) -> Loaded:
            score(src, out, opts, progress, cancel, new_take=new_take)
            return load_session(out)

        what = "new take" if new_take else "music"
        return self._start("generate", work, self._generated, f"Generating {what} ({opts.backend})")

    def _generated(self, loaded: Loaded) -> None:
        self._show_session(loaded)
        planned = plan_figures(loaded.plan)
        self._say(
            f"{loaded.session.take_records[-1].summary()}"
            + (f"; plan: {planned}" if planned else "")
            + f" — {loaded.session.out}"
        )

    # ------------------------------------------------------------------ listening

    def toggle_play(self) -> None:
        self.player.toggle()

    def _position(self, t: float) -> None:
        """The clock: the record timecode under the playhead, seconds beside it."""
        d = self.view.data
        self.time_label.setText(f"{d.timecode(t)}  ({t:.1f} s)" if d.rate > 0 else d.timecode(t))
        self.view.set_playhead(t, follow=self.player.playing)

    # ------------------------------------------------------------------ window events

    def dragEnterEvent(self, e: QDragEnterEvent | None) -> None:
        if e is not None and e.mimeData() is not None and e.mimeData().hasUrls():  # type: ignore[union-attr]
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent | None) -> None:
        if e is None or e.mimeData() is None:
            return
        urls = [u for u in e.mimeData().urls() if u.isLocalFile()]  # type: ignore[union-attr]
        if urls:
            e.acceptProposedAction()
            self.open_input(urls[0].toLocalFile())

    def closeEvent(self, e: QCloseEvent | None) -> None:
        if self.job is not None:
            self.job.cancel()
            if self.job.worker is not None:
                self.job.worker.join(timeout=30)
        self.stop_thumbnails()
        self.form.save()
        if self.handoff is not None and not self.sent:
            try:
                from vidmusician.core import handoff

                handoff.write_handoff(self.handoff, handoff.make("cancelled"))
            except Exception:  # closing must not fail; Resolve stops waiting when the panel exits
                traceback.print_exc()
        self.player.close()
        super().closeEvent(e)
