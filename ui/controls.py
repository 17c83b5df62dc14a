"""The panel's controls, built from core's one options table (``core.options``).

Each option of ``score`` gets the widget its type asks for (a choice list,
a check box, a number with the table's range, a text field); the values are
checked by the same :meth:`Option.check` as the command line's flags, and
remembered between runs in QSettings.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vidmusician.core import ScoreOptions, options, options_from

#: shown first, in this order (the rest of score's options go under "Analysis and more")
MAIN = (
    "backend",
    "model",
    "adapters",
    "style",
    "prompt",
    "bpm",
    "flex",
    "meter",
    "seed",
    "stem_tracks",
    "format",
    "markers",
)
LABELS = {
    "bpm": "BPM range",
    "flex": "Flexibility",
    "max_change": "Max tempo change",
    "exact": "Every cut exact (1 ms)",
    "sync_window": "Sync window (ms)",
    "ring_out": "Ring-out (s)",
    "stem_tracks": "Stems on tracks",
    "format": "Output format",
    "scene_detector": "Scene detector",
    "scene_threshold": "Scene threshold",
    "clip": "CLIP checkpoint",
    "cache": "Reuse analysis",
    "soundfont": "SoundFont",
    "rate": "EDL frame rate",
}
AUTO = "auto"


def _label(opt: options.Option) -> str:
    return LABELS.get(opt.name, opt.name.replace("_", " ").capitalize())


class OptionsForm(QWidget):
    """One widget per option of ``command``; :meth:`values` -> checked settings.

    ``changed`` fires when the user changes any of them.
    """

    changed = pyqtSignal()

    def __init__(
        self, command: str = "score", settings: QSettings | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.command = command
        self.settings = settings
        self.options = {o.name: o for o in options.for_command(command)}
        self.widgets: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        main = QFormLayout()
        layout.addLayout(main)
        more_box = QGroupBox("Analysis and more")
        more = QFormLayout(more_box)
        layout.addWidget(more_box)
        layout.addStretch(1)
        for name in [n for n in MAIN if n in self.options] + [n for n in self.options if n not in MAIN]:
            opt = self.options[name]
            w = self._widget(opt)
            w.setObjectName(f"option-{name}")
            w.setToolTip(f"{opt.help} ({opt.flag})")
            self.widgets[name] = w
            (main if name in MAIN else more).addRow(_label(opt), w)
        self.restore()

    def _widget(self, opt: options.Option) -> QWidget:
        w: QWidget
        if opt.type is bool:
            w = QCheckBox()
            w.setChecked(bool(opt.default))
            w.toggled.connect(self.changed)
        elif opt.choices:
            w = QComboBox()
            if opt.default is None:
                w.addItem(AUTO)  # the table's "unset": core decides (e.g. the style the picture suggests)
            w.addItems([str(c) for c in opt.choices])
            w.setCurrentText(AUTO if opt.default is None else str(opt.default))
            w.currentTextChanged.connect(self.changed)
        elif opt.type is int and opt.min is not None and opt.max is not None:
            w = QSpinBox()
            w.setRange(int(opt.min), int(min(opt.max, 2**31 - 1)))
            w.setValue(int(opt.default or 0))
            w.valueChanged.connect(self.changed)
        elif opt.type is float and opt.default is not None and opt.min is not None and opt.max is not None:
            w = QDoubleSpinBox()
            w.setDecimals(2 if opt.max - opt.min >= 1 else 3)
            w.setRange(opt.min, opt.max)
            w.setSingleStep((opt.max - opt.min) / 20)
            w.setValue(float(opt.default))
            w.valueChanged.connect(self.changed)
        else:
            w = QLineEdit()
            w.setPlaceholderText("default" if opt.default is None else str(opt.default))
            if opt.default is not None:
                w.setText(str(opt.default))
            w.textChanged.connect(self.changed)
        return w

    # ---- values

    def raw(self) -> dict[str, Any]:
        """What the widgets hold (None = unset), unchecked."""
        out: dict[str, Any] = {}
        for name, w in self.widgets.items():
            if isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[name] = None if w.currentText() == AUTO else w.currentText()
            elif isinstance(w, QSpinBox | QDoubleSpinBox):
                out[name] = w.value()
            elif isinstance(w, QLineEdit):
                out[name] = w.text().strip() or None
        return out

    def values(self) -> dict[str, Any]:
        """The settings, checked by the options table (``OptionError`` names the setting)."""
        raw = self.raw()
        names = list(self.options)
        try:
            return options.resolve(raw, {}, names)
        except Exception as e:
            for opt in self.options.values():  # say which field, in the panel's words
                if opt.flag in str(e):
                    raise type(e)(str(e).replace(opt.flag, f"{_label(opt)} ({opt.flag})")) from None
            raise

    def score_options(self) -> ScoreOptions:
        opts = options_from(self.values())
        opts.check()
        return opts

    def set_value(self, name: str, value: Any) -> None:
        w = self.widgets[name]
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(AUTO if value is None else str(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        elif isinstance(w, QLineEdit):
            w.setText("" if value is None else str(value))

    # ---- remembered between runs

    def save(self) -> None:
        if self.settings is None:
            return
        for name, value in self.raw().items():
            self.settings.setValue(f"{self.command}/{name}", "" if value is None else str(value))
        self.settings.sync()

    def restore(self) -> None:
        """Values from QSettings; one that the table no longer accepts is skipped."""
        if self.settings is None:
            return
        for name, opt in self.options.items():
            stored = self.settings.value(f"{self.command}/{name}")
            if stored is None:
                continue
            text = str(stored)
            try:
                if text == "":
                    value = None
                elif opt.type is bool:
                    value = text.lower() in ("true", "1")
                else:
                    value = opt.check(text)
            except Exception:
                continue
            if value is None and opt.type is not str and not opt.choices:
                continue
            self.set_value(name, value)
