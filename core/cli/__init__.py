"""The ``vidmusician`` command line: parsing and printing around ``core``.

One module per command group: :mod:`.analyze` (analyze, plan), :mod:`.score`
(score, regenerate, takes), :mod:`.tools` (eval, fit, cache, doctor, demo),
:mod:`.train`; :mod:`.common` holds what they share. Add-ons (the panel, the
Resolve bridge) add theirs through :data:`PLUGIN_GROUP`.

Errors that VidMusician raises on purpose print one clear message and exit
with status 2; ``--debug`` (or ``VIDMUSICIAN_DEBUG=1``) shows the traceback.
Progress bars appear on work that takes over a second; ``--quiet`` silences
them and the notes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .. import __version__
from ..errors import Cancelled, OptionError, VidMusicianError
from .console import Console


def _common() -> argparse.ArgumentParser:
    """The flags every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars or notes")
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    common.add_argument("--config", metavar="FILE", help="TOML file of settings (see README)")
    return common


def _commands() -> list[Callable[[Any, argparse.ArgumentParser], None]]:
    """Each built-in command's ``add(subparsers, common)``, in the order ``--help`` lists them."""
    from . import analyze, score, tools, train

    return [
        analyze.add_analyze,
        analyze.add_plan,
        tools.add_eval,
        score.add_score,
        score.add_regenerate,
        score.add_takes,
        tools.add_fit,
        tools.add_cache,
        tools.add_doctor,
        tools.add_demo,
        train.add_train,
    ]


def build_parser() -> argparse.ArgumentParser:
    """The ``vidmusician`` parser: the built-in commands, then the add-ons' (:data:`PLUGIN_GROUP`)."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="vidmusician",
        description="Score a cut video: music whose beats land on the cuts.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"vidmusician {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _commands():
        add(sub, common)
    _add_plugin_commands(sub, common)
    return parser


#: Entry-point group through which the packages around core (the panel, the
#: Resolve bridge) add their commands: core finds them by metadata and never
#: names them. An entry point is ``register(subparsers, common_parser)``; the
#: command it adds sets ``func(args, console, cancel) -> int`` like the ones above.
PLUGIN_GROUP = "vidmusician.commands"


def _add_plugin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name in sub.choices:
            continue
        try:
            register = ep.load()
        except Exception as e:  # a broken add-on must not take the built-in commands with it
            why = f"the {ep.name} command did not load ({type(e).__name__}: {e}). Reinstall VidMusician."

            def broken(
                args: argparse.Namespace, console: Console, cancel: threading.Event, why: str = why
            ) -> int:
                raise OptionError(why)

            sub.add_parser(ep.name, parents=[common], help="(did not load)").set_defaults(func=broken)
            continue
        register(sub, common)


def _quiet_libraries() -> None:
    """Keep FFmpeg's own chatter out of the user's terminal: our errors say
    what went wrong; --debug shows everything."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


class _Signals:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP while a command runs: each cancels it
    the same way. The handler sets the command's cancel token and raises
    KeyboardInterrupt, so the work stops where it is and every ``finally``
    removes what it half wrote; the exit status is 128 + the signal (130, 143).

    A library can swallow the KeyboardInterrupt (raised inside a ctypes
    callback while numba compiles, it is only printed): the token stays set,
    so the next :func:`~.progress.check` cancels, and :func:`main` exits with
    the signal's status whatever the library did.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, cancel: threading.Event, install: bool = True):
        self.cancel = cancel
        self.install = install
        self.received: int | None = None
        self._old: dict[int, Any] = {}
        self._old_hook: Any = None

    def __enter__(self) -> _Signals:
        from ..progress import INTERRUPTED

        INTERRUPTED.clear()
        if not self.install or threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        for name in self.NAMES:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):
                continue
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        from ..progress import INTERRUPTED, deferring

        if self.received is None:
            self.received = signum
        self.cancel.set()
        INTERRUPTED.set()
        if deferring():
            return  # native code that must finish first (progress.deferred): it checks when it ends
        raise KeyboardInterrupt

    def _unraisable(self, info: Any) -> None:
        """A KeyboardInterrupt a library could not raise (a ctypes callback):
        noted, not printed; anything else as Python prints it."""
        if isinstance(info.exc_value, KeyboardInterrupt):
            from ..progress import INTERRUPTED

            self.cancel.set()
            INTERRUPTED.set()
            if self.received is None:
                self.received = signal.SIGINT
            return
        (self._old_hook or sys.__unraisablehook__)(info)

    def __exit__(self, *exc: Any) -> None:
        from ..progress import INTERRUPTED

        INTERRUPTED.clear()
        for sig, old in self._old.items():
            with _suppress():
                signal.signal(sig, old)
        if self._old_hook is not None:
            sys.unraisablehook = self._old_hook

    @property
    def exit_code(self) -> int:
        return 128 + int(self.received) if self.received is not None else Cancelled.exit_code

    def message(self) -> str:
        if self.received in (None, signal.SIGINT):
            return "vidmusician: cancelled."
        name = signal.Signals(self.received).name
        return f"vidmusician: cancelled ({name}); nothing half-written was left."


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError, ValueError, TypeError)


def _safe_text(text: str) -> str:
    """``text`` printable on any stream: a file name that is not UTF-8 (held
    as surrogates) is shown with backslash escapes instead of failing."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _tolerant(stream: Any) -> None:
    """Let a real stdout/stderr print file names that are not UTF-8."""
    with _suppress():
        if getattr(stream, "errors", "strict") == "strict":
            stream.reconfigure(errors="backslashreplace")


def _environment(e: BaseException) -> VidMusicianError | None:
    """An error of the user's disk or file system that reached ``main``
    unconverted (an ``OSError``, soundfile's ``System error``): as what it is."""
    from .. import fsutil

    return fsutil.environment_error(e, writing=None)


def _built_in(func: Any) -> bool:
    """A command of this package (not an add-on's)."""
    module = getattr(func, "__module__", None) or ""
    return module == __name__ or module.startswith(__name__ + ".")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input or the
    environment, 1 a bug, 128 + the signal when cancelled: 130 Ctrl-C, 143 SIGTERM)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if out is None:
        _tolerant(sys.stdout)
    if err is None:
        _tolerant(sys.stderr)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed usage; keep its status (2)
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(out or sys.stdout)
        return 2
    debug = args.debug or os.environ.get("VIDMUSICIAN_DEBUG", "") not in ("", "0")
    if not debug:
        _quiet_libraries()
    return _Run(args, Console(args.quiet, out, err), err or sys.stderr, debug).run()


class _Run:
    """One command's run: its cancel token and signals, and what each outcome
    prints and returns."""

    def __init__(self, args: argparse.Namespace, console: Console, err: TextIO, debug: bool):
        self.args, self.console, self.err, self.debug = args, console, err, debug
        self.cancel = threading.Event()
        self.func: Callable[[argparse.Namespace, Console, threading.Event], int] = args.func
        # the built-in commands; an add-on's (the panel runs a Qt event loop, where
        # a Python handler would hold SIGTERM back until Qt calls into Python) keeps
        # Python's defaults
        self.signals = _Signals(self.cancel, install=_built_in(self.func))

    def run(self) -> int:
        try:
            with self.signals:
                try:
                    code = self.func(self.args, self.console, self.cancel)
                except KeyboardInterrupt:
                    return self.cancelled()
                except Cancelled:
                    if self.signals.received is None:
                        self.signals.received = signal.SIGINT  # the panel's or a caller's cancel: as Ctrl-C
                    return self.cancelled()
                except VidMusicianError as e:
                    return self.error(e)
                except BrokenPipeError:
                    return 0
                except Exception as e:
                    return self.internal(e)
                if self.signals.received is not None:  # interrupted, and a library swallowed it
                    return self.cancelled()
                return code
        except KeyboardInterrupt:  # a signal while reporting another outcome
            return self.cancelled()
        finally:
            self.console.close()

    def say(self, text: str) -> None:
        with _suppress():
            print(_safe_text(text), file=self.err, flush=True)

    def cancelled(self) -> int:
        self.cancel.set()
        self.console.close()
        self.say(self.signals.message())
        return self.signals.exit_code

    def error(self, e: VidMusicianError) -> int:
        """An error VidMusician raised on purpose: its message and exit status."""
        if self.signals.received is not None:  # a library turned the interrupt into an error
            return self.cancelled()
        self.console.close()
        if self.debug:
            traceback.print_exc(file=self.err)
        self.say(f"vidmusician: error: {e}")
        return e.exit_code

    def internal(self, e: Exception) -> int:
        """Any other exception: the user's disk or file system (exit 2), else a bug (exit 1)."""
        if self.signals.received is not None:
            return self.cancelled()
        self.console.close()
        if self.debug:
            traceback.print_exc(file=self.err)
        env = _environment(e)
        if env is not None:  # the user's disk or file system: not a bug
            self.say(f"vidmusician: error: {env}")
            return env.exit_code
        self.say(
            f"vidmusician: internal error: {type(e).__name__}: {e}\n"
            "This is a bug. Run again with --debug for the traceback and report it."
        )
        return 1


def entry() -> None:  # console script
    sys.exit(main())
