"""Work off the GUI thread: a core call with its progress callback and cancel event.

``Job(fn)`` runs ``fn(progress, cancel)`` on a worker thread; Qt delivers its
signals to the window's thread (queued), so the window never freezes and
never touches a widget from the worker.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from vidmusician.core import Cancelled, VidMusicianError


class Job(QObject):
    """One call of ``fn(progress, cancel, emit)`` on a worker thread.

    Signals
    -------
    progress(float, str)
        Fraction done in [0, 1] and what it is doing (at most ~30 a second).
    item(object)
        Whatever ``fn`` passes to ``emit`` (partial results, e.g. thumbnails).
    succeeded(object)
        ``fn``'s return value.
    failed(str, str)
        The message (a ``VidMusicianError``'s text, the same the command line
        prints) and the traceback.
    cancelled()
    finished()
        After any of the three above.
    """

    progress = pyqtSignal(float, str)
    item = pyqtSignal(object)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    cancelled = pyqtSignal()
    finished = pyqtSignal()

    def __init__(self, name: str, fn: Callable[..., Any], parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.fn = fn
        self.cancel_event = threading.Event()
        self.worker: threading.Thread | None = None
        self._last = (0.0, -1.0, "")

    def start(self) -> None:
        self.worker = threading.Thread(target=self._run, name=f"vidmusician-{self.name}", daemon=True)
        self.worker.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.is_alive()

    def _progress(self, fraction: float, label: str = "") -> None:
        now = time.monotonic()
        t, f, lab = self._last
        if label != lab or now - t > 0.033 or fraction >= 1.0 or abs(fraction - f) > 0.05:
            self._last = (now, fraction, label)
            self.progress.emit(float(fraction), label)

    def _run(self) -> None:
        try:
            result = self.fn(self._progress, self.cancel_event, self.item.emit)
        except Cancelled:
            self.cancelled.emit()
        except VidMusicianError as e:
            if self.cancel_event.is_set() and "cancel" in str(e).lower():
                self.cancelled.emit()
            else:
                self.failed.emit(str(e), traceback.format_exc())
        except Exception as e:  # a bug: the dialog says so, like the command line
            self.failed.emit(
                f"internal error: {type(e).__name__}: {e}\nThis is a bug; please report it with the details.",
                traceback.format_exc(),
            )
        else:
            self.succeeded.emit(result)
        self.finished.emit()
