"""Start the panel: a QApplication, the window, and the screenshot mode.

``run(...)`` is what ``vidmusician panel`` calls. With ``screenshot`` the
window is drawn offscreen (``QT_QPA_PLATFORM=offscreen`` is set when no
platform is chosen), the input is opened and, with ``after="generate"``,
scored; then the window is saved as a PNG and the panel exits.

Without ``--debug`` Qt's and FFmpeg's messages stay off the terminal
(:func:`quiet_qt`); an exception in a slot is an error dialog, not an abort,
and a signal closes the window (:class:`_Exits`): the playback files go on
every exit.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from vidmusician.core import OutputError, fsutil


def application() -> Any:
    """The process's QApplication (made once)."""
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("VidMusician")
        app.setApplicationName("panel")
        app.setStyle("Fusion")
    return app


def wait_idle(window: Any, timeout_s: float = 3600.0) -> None:
    """Run the event loop until the window's job (if any) ends."""
    from PyQt6.QtCore import QEventLoop, QTimer

    if not window.busy:
        return
    loop = QEventLoop()
    window.busyChanged.connect(lambda busy: None if busy else loop.quit())
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def save_screenshot(window: Any, dest: str | os.PathLike[str], force: bool = False) -> Path:
    """The window as a PNG at ``dest``, written atomically; an existing file is
    replaced (in one step) only with ``force``."""
    from PyQt6.QtWidgets import QApplication

    dest = Path(dest)
    _check_png(dest)
    QApplication.processEvents()
    image = window.grab().toImage()

    def write(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise OutputError(f"{dest}: the screenshot could not be written.")

    return fsutil.write_with(dest, write, overwrite=force)


def _check_png(dest: Path) -> None:
    if dest.suffix.lower() != ".png":
        raise OutputError(f"{dest}: a screenshot is a PNG; give a name ending in .png.")


# ---------------------------------------------------------------------------- quiet Qt

AV_LOG_QUIET = -8
#: warnings that stay on the terminal without --debug: why the window system did not start
LOUD_CATEGORIES = ("qt.qpa.plugin", "qt.qpa.xcb")


def _debug_wanted(debug: bool) -> bool:
    return debug or os.environ.get("VIDMUSICIAN_DEBUG", "") not in ("", "0")


def quiet_qt(debug: bool = False) -> Any:
    """Keep Qt's and FFmpeg's chatter off the terminal unless ``debug``.

    Qt: ``QT_LOGGING_RULES`` (when the user set none) turns the multimedia
    categories and every debug and info message off, and a message handler
    lets through only critical and fatal messages and the platform plugin's
    warnings (what to install when the window system does not start).
    FFmpeg: Qt 6.11's multimedia plugin reads ``QT_FFMPEG_DEBUG`` once, when
    the first player is made: set (to anything, even 0), it raises FFmpeg's
    log level to debug and routes it through Qt's messages; unset, FFmpeg
    writes to stderr itself at its own level (info). The panel leaves the
    variable to the user and sets the level of the FFmpeg that Qt loads to
    quiet (:func:`quiet_ffmpeg`, after the player exists).
    Returns the message handler that was installed before (None: Qt's own;
    also None with ``debug``, when nothing is installed).
    """
    if _debug_wanted(debug):
        return None
    from PyQt6.QtCore import QtMsgType, qInstallMessageHandler

    os.environ.setdefault(
        "QT_LOGGING_RULES",
        "qt.multimedia*.debug=false;qt.multimedia*.info=false;qt.multimedia*.warning=false",
    )

    def handler(kind: Any, context: Any, message: str | None) -> None:
        text = message or ""
        category = getattr(context, "category", None) or ""
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) or (
            kind == QtMsgType.QtWarningMsg and category.startswith(LOUD_CATEGORIES)
        ):
            print(f"qt: {text}", file=sys.stderr, flush=True)
            if kind == QtMsgType.QtFatalMsg and "platform plugin" in text:
                print(f"vidmusician: {_platform_hint()}", file=sys.stderr, flush=True)

    return qInstallMessageHandler(handler)


def _platform_hint() -> str:
    """What to install, said as Qt aborts for want of a platform: the packages of
    the xcb libraries this process cannot load (all of them when it can load them all)."""
    import ctypes

    from vidmusician.core import QT_XCB_LIBRARIES, qt_platform_hint

    missing = []
    if sys.platform.startswith("linux"):
        for so, package in QT_XCB_LIBRARIES:
            try:
                ctypes.CDLL(so)
            except OSError:
                missing.append(package)
    return qt_platform_hint(missing) + " (vidmusician doctor checks it)"


def _avutil() -> Any:
    """Qt's own FFmpeg libavutil (the PyQt6 wheel's), loaded through ctypes, or None."""
    import ctypes

    try:
        import PyQt6
    except ImportError:
        return None
    qt = Path(PyQt6.__file__).resolve().parent / "Qt6"
    for pattern in ("lib/libavutil.so.*", "lib/libavutil.*.dylib", "bin/avutil-*.dll", "lib/avutil-*.dll"):
        for path in sorted(qt.glob(pattern)):
            try:
                return ctypes.CDLL(str(path))
            except OSError:
                continue
    return None


def quiet_ffmpeg(debug: bool = False) -> int | None:
    """FFmpeg's log level (in Qt's FFmpeg) to quiet unless ``debug`` or
    ``QT_FFMPEG_DEBUG`` is set; returns the level now in force (None: no Qt FFmpeg)."""
    lib = _avutil()
    if lib is None:
        return None
    if not _debug_wanted(debug) and "QT_FFMPEG_DEBUG" not in os.environ:
        lib.av_log_set_level(AV_LOG_QUIET)
    return int(lib.av_log_get_level())


# ---------------------------------------------------------------------------- exits


class _Exits:
    """While the panel runs: an exception in a slot becomes an error dialog
    (PyQt's default is abort(), which skips every clean-up), and SIGINT,
    SIGTERM and SIGHUP close the window, so the playback files are removed on
    every exit. ``restore()`` puts the previous hooks back."""

    def __init__(self, app: Any, debug: bool):
        import signal

        from PyQt6.QtCore import QTimer

        self.app, self.debug = app, debug
        self.window: Any = None
        self.signal: int | None = None
        self.old_hook = sys.excepthook
        sys.excepthook = self.excepthook
        self.old_signals: dict[int, Any] = {}
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self.old_signals[sig] = signal.signal(sig, self.on_signal)
        self.timer = QTimer()  # Python runs its signal handlers only between bytecodes: wake it
        self.timer.timeout.connect(lambda: None)
        self.timer.start(200)

    def excepthook(self, kind: type[BaseException], value: BaseException, tb: Any) -> None:
        import traceback

        if issubclass(kind, KeyboardInterrupt):
            self.on_signal(2, None)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        if self.debug:
            print(text, file=sys.stderr, end="", flush=True)
        message = (
            f"internal error: {kind.__name__}: {value}\n"
            "This is a bug; please report it with the details (vidmusician panel --debug shows them)."
        )
        if self.window is not None:
            try:
                self.window.show_error(message, text)
                return
            except Exception:  # the window itself is broken: the terminal then
                pass
        print(f"vidmusician: {message}", file=sys.stderr, flush=True)

    def on_signal(self, signum: int, frame: Any) -> None:
        self.signal = signum
        if self.window is not None:
            self.window.close()  # cancels the job, says "cancelled" to Resolve, removes the playback files
        self.app.quit()

    def restore(self) -> None:
        import signal

        self.timer.stop()
        sys.excepthook = self.old_hook
        for sig, old in self.old_signals.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)


def run(
    input_path: str | None = None,
    out: str | None = None,
    screenshot: str | None = None,
    after: str = "open",
    handoff: str | None = None,
    size: tuple[int, int] = (1500, 820),
    force: bool = False,
    debug: bool = False,
) -> int:
    """Open the panel; returns the exit status (screenshot mode: 2 when an error
    dialog showed; 128 + N after signal N).

    ``screenshot``: checked before any work (a PNG name whose folder is
    writable; an existing file only with ``force``, then replaced atomically).
    """
    if screenshot:
        _check_png(Path(screenshot))
        fsutil.check_output(screenshot, force)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    old_handler = quiet_qt(debug)
    try:
        app = application()
        exits = _Exits(app, _debug_wanted(debug))
        try:
            return _run(app, exits, input_path, out, screenshot, after, handoff, size, force, debug)
        finally:
            exits.restore()
    finally:
        if not _debug_wanted(debug):  # quiet_qt installed its handler: put the previous one back
            from PyQt6.QtCore import qInstallMessageHandler

            qInstallMessageHandler(old_handler)


def _run(
    app: Any,
    exits: _Exits,
    input_path: str | None,
    out: str | None,
    screenshot: str | None,
    after: str,
    handoff: str | None,
    size: tuple[int, int],
    force: bool,
    debug: bool,
) -> int:
    from PyQt6.QtCore import QSettings

    from .window import MainWindow

    # VIDMUSICIAN_PANEL_SETTINGS: an INI file instead of the user's own settings (tests, scripts)
    path = os.environ.get("VIDMUSICIAN_PANEL_SETTINGS")
    settings = QSettings(path, QSettings.Format.IniFormat) if path else QSettings("VidMusician", "panel")
    window = MainWindow(settings, handoff)
    exits.window = window
    quiet_ffmpeg(debug)  # the player exists now, and with it Qt's FFmpeg
    window.resize(*size)
    window.show()
    if input_path:
        window.open_input(input_path, out)
    elif out:
        window.output_edit.setText(out)
    if not screenshot:
        code = int(app.exec())
        window.player.close()  # closed already unless the window never got its close event
        return 128 + exits.signal if exits.signal else code

    def stopped() -> bool:
        return exits.signal is not None

    try:
        wait_idle(window)
        if after in ("generate", "regenerate") and window.feats is not None and not stopped():
            window.generate()
            wait_idle(window)
            if after == "regenerate" and window.loaded is not None and not stopped():
                shots = window.feats.timeline.shots
                window.select_shot(min(1, len(shots) - 1))
                window.regenerate_shot()
                wait_idle(window)
        if stopped():
            return 128 + int(exits.signal or 0)
        if window.thumb_job is not None and window.thumb_job.worker is not None:
            window.thumb_job.worker.join(timeout=60)
        app.processEvents()
        if window.loaded is not None and window.selected < 0 and window.feats.timeline.shots:
            window.select_shot(min(1, len(window.feats.timeline.shots) - 1))
        assert screenshot is not None
        save_screenshot(window, screenshot, force)
        errors = list(window.errors)
    finally:
        window.close()
        window.player.close()
    for e in errors:
        print(f"vidmusician: error: {e}", file=sys.stderr)
    return 2 if errors else 0
