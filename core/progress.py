"""Progress and cancellation through plain callbacks.

Long work in ``core`` takes ``progress`` (called with a fraction in [0, 1] and
a short label) and ``cancel`` (anything with ``is_set()``, such as a
``threading.Event``). The command line draws a bar, the panel a
QProgressBar; ``core`` knows nothing of either.

:data:`INTERRUPTED` is the process's own token: the command line sets it when
a signal (Ctrl-C, SIGTERM) arrives, and :func:`check` honours it whatever
token a caller passed, so a step that was not handed one (measuring the
music after librosa's first use, where a library can swallow the
KeyboardInterrupt) still stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from .errors import Cancelled

ProgressFn = Callable[[float, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def report(progress: ProgressFn | None, fraction: float, label: str = "") -> None:
    """Call ``progress`` if given, with ``fraction`` clamped to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), label)


#: Set by the command line's signal handler; cleared when its command ends.
INTERRUPTED = threading.Event()


def check(cancel: CancelToken | None = None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` (or :data:`INTERRUPTED`) is set."""
    if INTERRUPTED.is_set() or (cancel is not None and cancel.is_set()):
        raise Cancelled("cancelled")


_deferring = 0
_defer_lock = threading.Lock()


@contextmanager
def deferred(cancel: CancelToken | None = None) -> Iterator[None]:
    """A stretch of native code a signal must not interrupt (librosa's first
    import and numba's compilation of its kernels: a KeyboardInterrupt raised
    half way through leaves them half built, and the interpreter can crash
    as it exits). Inside it, the command line's handler only sets
    :data:`INTERRUPTED`; when it ends, :func:`check` cancels."""
    global _deferring
    with _defer_lock:
        _deferring += 1
    try:
        yield
    finally:
        with _defer_lock:
            _deferring -= 1
    check(cancel)


def deferring() -> bool:
    """Whether a :func:`deferred` stretch is running (the signal handler asks)."""
    return _deferring > 0


def scaled(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    """A progress function mapping [0, 1] onto [lo, hi] of ``progress``."""
    if progress is None:
        return None
    outer = progress

    def inner(fraction: float, label: str = "") -> None:
        outer(lo + (hi - lo) * fraction, label)

    return inner
