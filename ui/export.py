"""The panel's way out: export the timeline with the music, send it to Resolve.

:class:`ExportActions` is the part of the main window that writes the
timeline as it plays now (core's ``export``, in the format a path names) and
gives the session's music to DaVinci Resolve: through the hand-off file when
the Resolve menu started the panel, else through the bridge's
``vidmusician resolve apply`` command (which the panel never imports).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QFileDialog

from vidmusician.core import OutputError, VidMusicianError

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QMainWindow

    from .controls import OptionsForm
    from .session_view import Loaded

    _Window = QMainWindow
else:
    _Window = object


def resolve_bridge_installed() -> bool:
    """True when the Resolve bridge's ``vidmusician resolve`` command is installed
    (looked up in the package metadata; the panel never imports the bridge)."""
    from importlib.metadata import entry_points

    return any(ep.name == "resolve" for ep in entry_points(group="vidmusician.commands"))


class ExportActions(_Window):
    """The main window's export part. A mixin of :class:`~.window.MainWindow`,
    which owns the state and the job runner named below."""

    if TYPE_CHECKING:
        loaded: Loaded | None
        feats: Any
        input_path: Path | None
        form: OptionsForm
        handoff: str | None
        sent: bool
        exported: dict[str, str]
        _say: Callable[[str], None]
        _start: Callable[[str, Any, Any, str], bool]
        show_error: Callable[..., None]

        @property
        def busy(self) -> bool: ...

    # ------------------------------------------------------------------ export and Resolve

    def export_dialog(self) -> None:
        if self.loaded is None or self.busy:
            return
        from vidmusician.core import timeline_writers

        fmt = self.form.raw().get("format") or "same"
        # a path names its format, except the one always written (the OTIO): then the form's
        by_ext = {w.extension: w.name for w in reversed(timeline_writers()) if not w.always}
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the timeline with the music",
            str(
                self.loaded.session.out.parent
                / f"{self.input_path.stem if self.input_path else 'music'}-music.otio"
            ),
            ";;".join(f"{w.name} (*{w.extension})" for w in timeline_writers()),
            options=QFileDialog.Option.DontConfirmOverwrite,  # core refuses to overwrite, with its message
        )
        if path:
            ext = Path(path).suffix.lower()
            self.export_to(path, by_ext.get(ext, fmt))

    def export_to(self, dest: str | os.PathLike[str], fmt: str | None = None) -> bool:
        """Write the timeline as it plays now to ``dest`` (and its format beside it)."""
        if self.loaded is None or self.busy:
            return False
        from vidmusician.core import export

        out, timeline = self.loaded.session.out, self.feats.timeline if self.feats else None

        def work(progress: Any, cancel: Any, emit: Any) -> dict[str, str]:
            return export(out, dest, fmt, timeline, progress, cancel)

        def done(paths: dict[str, str]) -> None:
            self.exported = paths
            self._say("exported " + ", ".join(paths.values()))

        return self._start("export", work, done, f"Exporting to {dest}")

    def send_to_resolve(self) -> bool:
        """Give the session's music to DaVinci Resolve.

        Started by the Resolve menu script (``--handoff``): write the hand-off
        file and close; the menu script applies it. Otherwise: run
        ``vidmusician resolve apply OUT`` (the Resolve bridge's command, which
        connects to the running Resolve) off the GUI thread.
        """
        if self.loaded is None or self.busy:
            return False
        markers = self.form.raw().get("markers") or "none"
        out = self.loaded.session.out.resolve()
        if self.handoff is None:
            return self._apply_in_resolve(out, markers)
        from vidmusician.core import handoff

        try:
            handoff.write_handoff(self.handoff, handoff.make("ok", out, markers))
        except (VidMusicianError, OSError) as e:
            self.show_error(str(e))
            return False
        self.sent = True
        self._say("sent to Resolve")
        QTimer.singleShot(0, self.close)
        return True

    def _apply_in_resolve(self, out: Path, markers: str) -> bool:
        import subprocess
        import sys

        argv = [
            sys.executable,
            "-m",
            "vidmusician.core.cli",
            "resolve",
            "apply",
            str(out),
            "--markers",
            markers,
        ]

        def work(progress: Any, cancel: Any, emit: Any) -> str:
            proc = subprocess.run(argv, capture_output=True, text=True)
            if proc.returncode != 0:
                lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
                text = lines[-1] if lines else f"exit status {proc.returncode}"
                raise OutputError(text.removeprefix("vidmusician: error: "))
            return proc.stdout.strip()

        return self._start(
            "resolve", work, lambda text: self._say(text or "sent to Resolve"), "Sending to Resolve"
        )
