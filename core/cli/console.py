"""Where a command writes: notes and progress bars to stderr, results to stdout."""

from __future__ import annotations

import re
import sys
import time
from typing import Any, TextIO

#: Plain progress lines (stderr not a terminal): none before this many seconds,
#: and a label that only counts on at most once in PLAIN_REPEAT_S.
PLAIN_DELAY_S = 1.0
PLAIN_REPEAT_S = 30.0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Console:
    """Where a command writes: notes and bars to stderr, results to stdout."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._bar: Any = None
        self.tty = _isatty(self.err)
        self._started: float | None = None
        self._said: tuple[str, str, float] | None = None  # plain lines: label, its shape, when

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.err)  # above the bar, not through it
        else:
            print(text, file=self.err)

    def note(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def warn(self, text: str) -> None:
        """Warnings show even with --quiet: they are about the user's files."""
        self._print(f"warning: {text}")

    def progress(self, fraction: float, label: str = "") -> None:
        """A ``core`` progress callback: a tqdm bar after one second on a
        terminal; elsewhere (a log, a pipe) a plain line as each stage starts."""
        if self.quiet:
            return
        if not self.tty:
            self._plain(fraction, label or "working")
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=1000,
                delay=1.0,
                file=self.err,
                leave=False,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
            )
        bar, label = self._bar, label or "working"
        changed = label != bar.desc
        bar.set_description_str(label, refresh=False)
        bar.update(int(fraction * 1000) - bar.n)
        if changed and time.time() - bar.start_t >= bar.delay:
            bar.refresh()  # a new stage shows at once, however small its step

    def _plain(self, fraction: float, label: str) -> None:
        """One line per stage (the label up to a colon: ``measuring the music:
        tracking beats`` is a step of ``measuring the music``), none in the
        first second and none for the end; a label that only counts on
        (``step 12, 40 s left``) at most every 30 s."""
        now = time.monotonic()
        if self._started is None:
            self._started = now
        if fraction >= 1.0 or now - self._started < PLAIN_DELAY_S:
            return
        label = label.split(":")[0].strip() or label
        shape = re.sub(r"\d+(\.\d+)?", "#", label)
        if self._said is not None:
            said, said_shape, when = self._said
            if label == said or (shape == said_shape and now - when < PLAIN_REPEAT_S):
                return
        self._said = (label, shape, now)
        print(f"{label} ({int(fraction * 100)}%, {int(now - self._started)} s)", file=self.err, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# --------------------------------------------------------------------------- parser
