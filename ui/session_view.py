"""The session as the panel shows and changes it.

:func:`load_session` reads a session folder for the panel (on the worker
thread): the session, the :class:`~vidmusician.core.RhythmPlan` its first
piece plays, and the music as the timeline plays it. :class:`SessionView` is
the part of the main window that shows it (the beats, the envelope, the
stems' switches) and works on its shots: select one, list the takes that can
play under it, play another take there, regenerate it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton

from vidmusician.core import OptionError, Session, Take, units

from .timeline_view import envelope

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QMainWindow

    from vidmusician.core import RhythmPlan

    from .controls import OptionsForm
    from .player import Player
    from .timeline_view import TimelineView

    _Window = QMainWindow
else:
    _Window = object

SR = units.OUTPUT_SR


@dataclass
class Loaded:
    """A session read for the panel (on the worker thread): the session, the
    plan its first piece plays, and the music as the timeline plays it."""

    session: Session
    plan: RhythmPlan
    sources: dict[str, np.ndarray]


def load_session(out: str | os.PathLike[str]) -> Loaded:
    import json

    from vidmusician.core import RhythmPlan, selection_audio

    session = Session.load(out)
    played = [session.take_record(t) for t in session.selection_record.takes()]
    plan = RhythmPlan.from_dict(json.loads((session.out / played[0].plan).read_text(encoding="utf-8")))
    sources = {"mix": selection_audio(session, "mix")}
    stems = set.intersection(*(set(t.files["stems"]) for t in played))
    for stem in sorted(stems):
        sources[stem] = selection_audio(session, stem)
    return Loaded(session, plan, sources)


def take_summary(t: Take | dict[str, Any]) -> str:
    """One line on a take for the status bar (:meth:`Take.summary`; a take's
    JSON object, however incomplete, is said the same way). Every figure a
    take may lack (no key from MusicGen, no cut figures on a cut without hard
    cuts) is said to be missing, never formatted as a number."""
    from vidmusician.core import wording

    return t.summary() if isinstance(t, Take) else wording.take_summary(t)


def plan_figures(plan: RhythmPlan) -> str:
    """What the plan promises (the console's line, :func:`~vidmusician.core.wording.sync_figures`):
    the cuts within the sync window of a beat, on eighths, on sixteenths, and the beats' CV."""
    from vidmusician.core import wording

    return wording.sync_figures(
        {"cut_landings": plan.cut_landings(), "beat_cv": plan.beat_cv(), "sync_window_s": plan.sync_window_s}
    )


def default_output(input_path: Path) -> Path:
    """A new folder for the session beside the input (``NAME-music``, ``NAME-music-2``, ...),
    or under ``~/VidMusician`` when the input's folder is not writable."""
    stem = input_path.stem if input_path.suffix else input_path.name
    parent = input_path.parent if os.access(input_path.parent, os.W_OK) else Path.home() / "VidMusician"
    for n in range(1, 10_000):
        p = parent / (f"{stem}-music" if n == 1 else f"{stem}-music-{n}")
        if not p.exists():
            return p
    raise OptionError(f"{parent}: no free folder name for the session; choose one.")


class SessionView(_Window):
    """The main window's session part: what the loaded session plays, and its
    shots and takes. A mixin of :class:`~.window.MainWindow`, which owns the
    widgets and the job runner named below."""

    if TYPE_CHECKING:
        loaded: Loaded | None
        feats: Any
        selected: int
        form: OptionsForm
        player: Player
        view: TimelineView
        stems_row: QHBoxLayout
        shot_label: QLabel
        take_combo: QComboBox
        _refresh: Callable[[], None]
        _say: Callable[[str], None]
        _start: Callable[[str, Any, Any, str], bool]

        @property
        def busy(self) -> bool: ...

    def use_session_options(self, session: Session) -> int | None:
        """Set the controls to the options of the session's newest whole-cut
        take (output format, seed, style, ...), so that a take added here is
        made and written as the session's own; returns that take's id."""
        whole = [t for t in session.take_records if t.shot is None] or list(session.take_records)
        if not whole:
            return None
        take = whole[-1]
        stored = take.options or {}
        for name in self.form.widgets:
            key = "fmt" if name == "format" else name
            if key not in stored:
                continue
            try:
                self.form.set_value(name, stored[key])
            except (TypeError, ValueError):  # a value this widget cannot hold: keep the widget's
                continue
        return take.id

    def _show_session(self, loaded: Loaded) -> None:
        self.loaded = loaded
        s = loaded.session
        rate = float(s.data["timeline"]["rate"])
        d = self.view.data
        d.beats = np.asarray(loaded.plan.beats_s, float)
        d.downbeats = np.asarray(loaded.plan.downbeats_s, float)
        d.envelope = envelope(loaded.sources["mix"], SR)
        d.pieces = [
            (p.start_frame / rate, None if p.end_frame is None else p.end_frame / rate, p.take)
            for p in s.selection_record.pieces
        ]
        self.view.set_data(d)
        self.player.load(loaded.sources, SR)
        self._stem_buttons()
        self._takes_for_shot()
        self._refresh()

    def _stem_buttons(self) -> None:
        while self.stems_row.count():
            item = self.stems_row.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()  # type: ignore[union-attr]
        self.stem_buttons: dict[str, tuple[QToolButton, QToolButton]] = {}
        for stem in self.player.stems:
            self.stems_row.addWidget(QLabel(stem))
            mute, solo = QToolButton(), QToolButton()
            for b, text, tip in ((mute, "M", "mute"), (solo, "S", "solo")):
                b.setText(text)
                b.setCheckable(True)
                b.setToolTip(f"{tip} the {stem} stem")
                self.stems_row.addWidget(b)
            mute.setChecked(stem in self.player.muted)
            solo.setChecked(stem in self.player.soloed)
            mute.toggled.connect(lambda on, s=stem: self.player.set_stem(s, mute=on))
            solo.toggled.connect(lambda on, s=stem: self.player.set_stem(s, solo=on))
            self.stem_buttons[stem] = (mute, solo)

    # ------------------------------------------------------------------ shots and takes

    def select_shot(self, index: int) -> None:
        if self.feats is None or not (0 <= index < len(self.feats.timeline.shots)):
            return
        self.selected = index
        self.view.select(index)
        s, f = self.feats.timeline.shots[index], self.feats.shots[index]
        mood = f"valence {f.valence:+.2f}, arousal {f.arousal:+.2f}" if f.analysed else "not analysed"
        d = self.view.data
        self.shot_label.setText(
            f"<b>Shot {index}</b> {s.name or s.kind} · {d.timecode(s.start_s)}–{d.timecode(s.end_s)} "
            f"({s.start_s:.2f}–{s.end_s:.2f} s) · {f.style} · {mood}"
        )
        self._takes_for_shot()
        self._refresh()

    def step_shot(self, step: int) -> None:
        if self.feats is None or not self.feats.timeline.shots:
            return
        n = len(self.feats.timeline.shots)
        self.select_shot(0 if self.selected < 0 else max(0, min(n - 1, self.selected + step)))

    def takes_for_shot(self, index: int) -> tuple[list[Take], int]:
        """The takes that can play under shot ``index`` (whole takes and the
        ones made for it) and the one that plays there now."""
        assert self.loaded is not None
        s = self.loaded.session
        playing = s.take_under(index).id
        takes = [t for t in s.take_records if t.shot is None or t.shot == index or t.id == playing]
        return takes, playing

    def _takes_for_shot(self) -> None:
        self.take_combo.clear()
        if self.loaded is None or self.selected < 0:
            return
        takes, playing = self.takes_for_shot(self.selected)
        for t in takes:
            where = "this shot" if t.shot == self.selected else "whole cut"
            self.take_combo.addItem(f"take {t.id} ({where}, seed {t.seed_used})", t.id)
            if t.id == playing:
                self.take_combo.setCurrentIndex(self.take_combo.count() - 1)

    def _take_chosen(self, row: int) -> None:
        take = self.take_combo.itemData(row)
        if take is not None:
            self.use_take(int(take))

    def use_take(self, take: int) -> bool:
        """Play ``take`` under the selected shot (a new timeline version), then listen from the shot."""
        if self.loaded is None or self.selected < 0 or self.busy:
            return False
        _, playing = self.takes_for_shot(self.selected)
        if take == playing:
            return False
        from vidmusician.core import use_take

        return self._shot_job(
            "use", lambda out, shot, p, c: use_take(out, take, shot, p, c), f"Take {take} under shot"
        )

    def regenerate_shot(self) -> bool:
        """New music under the selected shot: a new take (everything else kept)."""
        if self.loaded is None or self.selected < 0 or self.busy:
            return False
        from vidmusician.core import regenerate

        return self._shot_job(
            "regenerate", lambda out, shot, p, c: regenerate(out, shot, None, p, c), "Regenerating shot"
        )

    def _shot_job(self, name: str, call: Any, label: str) -> bool:
        """Run ``call(out, shot, progress, cancel)`` on the selected shot, then reload the session."""
        assert self.loaded is not None
        out, shot = self.loaded.session.out, self.selected

        def work(progress: Any, cancel: Any, emit: Any) -> Loaded:
            call(out, shot, progress, cancel)
            return load_session(out)

        return self._start(name, work, self._shot_changed, f"{label} {shot}")

    def _shot_changed(self, loaded: Loaded) -> None:
        self._show_session(loaded)
        s = loaded.session
        _, playing = self.takes_for_shot(self.selected)
        start = self.feats.timeline.shots[self.selected].start_s
        self.player.seek(max(0.0, start - 1.0))  # hear the change, from just before the shot
        self._say(
            f"shot {self.selected} ({self.view.data.timecode(start)}) plays take {playing}; "
            f"timeline version {s.timeline['version']}"
        )
