"""Listening: the session's music as the timeline plays it, with stems soloed or muted.

The mix the timeline plays (each take's piece where the selection puts it) is
composed by core (``score.selection_audio``) and written to a temporary WAV
that QtMultimedia plays. Soloing or muting stems plays the sum of the stems
that are on instead, from the same position.

The temporary folder is ``vidmusician-panel-PID-XXXX``: removed when the
player closes and at interpreter exit; the folder of a panel that died without
either (killed, a crash in native code) is swept by the next panel.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QUrl, pyqtSignal

from vidmusician.core import units

try:  # QtMultimedia needs system audio libraries (libpulse0 on Linux); the panel works without it
    from PyQt6.QtMultimedia import QAudioOutput, QMediaPlayer

    MULTIMEDIA_ERROR = ""
except ImportError as e:  # pragma: no cover - depends on the machine
    QAudioOutput = QMediaPlayer = None  # type: ignore[assignment,misc]
    MULTIMEDIA_ERROR = f"playback unavailable: QtMultimedia does not load ({e}); on Linux install libpulse0"


#: the playback folders' names: ``vidmusician-panel-PID-XXXX`` in the temp folder
TEMP_PREFIX = "vidmusician-panel-"
LEGACY_AGE_S = 24 * 3600


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate it there; never sweep by pid
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def sweep_stale(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the playback folders of panels that are gone (killed, or crashed in
    native code where nothing of Python's ran); returns the removed folders.

    A folder is a dead panel's when the process its name carries no longer
    exists; folders named before the pid was in the name (``vidmusician-panel-XXXX``)
    go when nobody touched them for a day."""
    removed = []
    for d in Path(root or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        if not d.is_dir() or d.is_symlink():
            continue
        pid_text = d.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        try:
            if pid_text.isdigit() and "-" in d.name[len(TEMP_PREFIX) :]:
                stale = int(pid_text) != os.getpid() and not _alive(int(pid_text))
            else:
                stale = time.time() - d.stat().st_mtime > LEGACY_AGE_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class Player(QObject):
    """Plays the composed music; ``position`` in seconds.

    Signals
    -------
    positionChanged(float)
        Seconds, while playing and after a seek.
    playingChanged(bool)
    failed(str)
        QtMultimedia could not play the music (its message).
    """

    positionChanged = pyqtSignal(float)
    playingChanged = pyqtSignal(bool)
    failed = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        sweep_stale()
        # removed by close(), and at interpreter exit by TemporaryDirectory's finalizer
        # (the panel turns exceptions in slots and SIGINT/SIGTERM/SIGHUP into ordinary exits)
        self.folder = tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        self.sources: dict[str, np.ndarray] = {}  # "mix" and each stem, int32 (n, ch) on the 24-bit grid
        self.sr = units.OUTPUT_SR
        self.muted: set[str] = set()
        self.soloed: set[str] = set()
        self.count = 0
        self.current: Path | None = None
        self._position = 0.0
        self.player: Any = None
        if QMediaPlayer is not None:
            self.player = QMediaPlayer(self)
            self.output = QAudioOutput(self)
            self.player.setAudioOutput(self.output)
            self.player.positionChanged.connect(lambda ms: self._moved(ms / 1000))
            self.player.playbackStateChanged.connect(
                lambda s: self.playingChanged.emit(s == QMediaPlayer.PlaybackState.PlayingState)
            )
            # FFmpeg's own messages are kept off the terminal (ui.app.quiet_qt): Qt's error says it
            self.player.errorOccurred.connect(lambda _e, text: self.failed.emit(f"playback: {text}"))

    @property
    def available(self) -> bool:
        return self.player is not None

    @property
    def stems(self) -> list[str]:
        return [k for k in self.sources if k != "mix"]

    def _moved(self, t: float) -> None:
        self._position = t
        self.positionChanged.emit(t)

    def load(self, sources: dict[str, np.ndarray], sr: int = units.OUTPUT_SR) -> None:
        """New music (``mix`` and stems), keeping the position and the stems' solo/mute."""
        self.sources = sources
        self.sr = sr
        self.muted &= set(self.stems)
        self.soloed &= set(self.stems)
        self._render()

    def audible(self) -> list[str]:
        """The stems heard: the soloed ones, else all but the muted ones."""
        if self.soloed:
            return [s for s in self.stems if s in self.soloed]
        return [s for s in self.stems if s not in self.muted]

    def audio(self) -> np.ndarray:
        """What plays now, int32 (n, ch): the mix, or the sum of the audible stems."""
        heard = self.audible()
        if not self.stems or len(heard) == len(self.stems):
            return self.sources["mix"]
        if not heard:
            return np.zeros_like(self.sources["mix"])
        total = np.zeros(self.sources["mix"].shape, np.int64)
        for s in heard:
            x = self.sources[s]
            total[: len(x)] += x
        full = int(units.PCM_FULL)
        return np.clip(total, -full, full - units.PCM_STEP).astype(np.int32)

    def set_stem(self, stem: str, mute: bool | None = None, solo: bool | None = None) -> None:
        if mute is not None:
            (self.muted.add if mute else self.muted.discard)(stem)
        if solo is not None:
            (self.soloed.add if solo else self.soloed.discard)(stem)
        self._render()

    def _render(self) -> None:
        import soundfile

        if "mix" not in self.sources:
            return
        self.count += 1
        path = Path(self.folder.name) / f"play-{self.count}.wav"
        soundfile.write(str(path), self.audio(), self.sr, subtype="PCM_24")
        old, self.current = self.current, path
        if self.player is None:
            return
        was_playing = self.playing
        pos = self._position
        self.player.setSource(QUrl.fromLocalFile(str(path)))
        self.player.setPosition(int(pos * 1000))
        if was_playing:
            self.player.play()
        if old is not None:
            old.unlink(missing_ok=True)

    # ---- transport

    @property
    def playing(self) -> bool:
        return self.player is not None and (
            self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
        )

    @property
    def position(self) -> float:
        return self._position

    def toggle(self) -> None:
        if self.player is None or self.current is None:
            return
        if self.playing:
            self.player.pause()
        else:
            self.player.play()

    def seek(self, t: float) -> None:
        self._position = max(0.0, t)
        if self.player is not None and self.current is not None:
            self.player.setPosition(int(self._position * 1000))
        self.positionChanged.emit(self._position)

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()

    def close(self) -> None:
        self.stop()
        if self.player is not None:
            self.player.setSource(QUrl())
        self.folder.cleanup()
