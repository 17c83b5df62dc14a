"""A signal during native code that must finish (progress.deferred) waits for it, then cancels."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from vidmusician.core import progress
from vidmusician.core.cli import _Signals
from vidmusician.core.errors import Cancelled

posix = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")


@posix
def test_a_signal_inside_a_deferred_stretch_cancels_when_it_ends():
    cancel = threading.Event()
    reached = []
    with _Signals(cancel) as sigs:
        with pytest.raises(Cancelled), progress.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler runs here and must not raise
            reached.append("the stretch finished")
        assert reached == ["the stretch finished"]
        assert cancel.is_set() and sigs.received == signal.SIGTERM
    assert not progress.deferring() and not progress.INTERRUPTED.is_set()


@posix
def test_outside_a_deferred_stretch_a_signal_interrupts_at_once():
    cancel = threading.Event()
    with _Signals(cancel), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        pytest.fail("the signal did not interrupt")


def test_deferred_without_a_signal_runs_through_and_nests():
    with progress.deferred():
        with progress.deferred():
            assert progress.deferring()
        assert progress.deferring()
    assert not progress.deferring()
