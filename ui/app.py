"""Start the panel: a QApplication, the window, and the screenshot mode.

``run(...)`` is what ``vidmusician panel`` calls. With ``screenshot`` the
window is drawn offscreen (``QT_QPA_PLATFORM=offscreen`` is set when no
platform is chosen), the input is opened and, with ``after="generate"``,
scored; then the window is saved as a PNG and the panel exits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from vidmusician.core import fsutil
from vidmusician.core.errors import OutputError


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


def save_screenshot(window: Any, dest: str | os.PathLike[str]) -> Path:
    """The window as a PNG at ``dest`` (written atomically, never overwriting)."""
    from PyQt6.QtWidgets import QApplication

    QApplication.processEvents()
    image = window.grab().toImage()
    dest = Path(dest)
    if dest.suffix.lower() != ".png":
        raise OutputError(f"{dest}: a screenshot is a PNG; give a name ending in .png.")

    def write(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise OutputError(f"{dest}: the screenshot could not be written.")

    return fsutil.write_with(dest, write)


def run(
    input_path: str | None = None,
    out: str | None = None,
    screenshot: str | None = None,
    after: str = "open",
    handoff: str | None = None,
    size: tuple[int, int] = (1500, 820),
) -> int:
    """Open the panel; returns the exit status (screenshot mode: 2 when an error dialog showed)."""
    if screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        if Path(screenshot).exists():
            raise OutputError(
                f"{screenshot}: exists already; VidMusician never overwrites. Choose a new name."
            )
    app = application()
    from PyQt6.QtCore import QSettings

    from .window import MainWindow

    # VIDMUSICIAN_PANEL_SETTINGS: an INI file instead of the user's own settings (tests, scripts)
    path = os.environ.get("VIDMUSICIAN_PANEL_SETTINGS")
    settings = QSettings(path, QSettings.Format.IniFormat) if path else QSettings("VidMusician", "panel")
    window = MainWindow(settings, handoff)
    window.resize(*size)
    window.show()
    if input_path:
        window.open_input(input_path, out)
    elif out:
        window.output_edit.setText(out)
    if not screenshot:
        return int(app.exec())
    wait_idle(window)
    if after in ("generate", "regenerate") and window.feats is not None:
        window.generate()
        wait_idle(window)
        if after == "regenerate" and window.loaded is not None:
            shots = window.feats.timeline.shots
            window.select_shot(min(1, len(shots) - 1))
            window.regenerate_shot()
            wait_idle(window)
    if window.thumb_job is not None and window.thumb_job.worker is not None:
        window.thumb_job.worker.join(timeout=60)
    app.processEvents()
    if window.loaded is not None and window.selected < 0 and window.feats.timeline.shots:
        window.select_shot(min(1, len(window.feats.timeline.shots) - 1))
    save_screenshot(window, screenshot)
    errors = list(window.errors)
    window.close()
    for e in errors:
        print(f"vidmusician: error: {e}", file=sys.stderr)
    return 2 if errors else 0
