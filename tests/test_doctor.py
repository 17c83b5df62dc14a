"""doctor's Qt platform check: a child process really starts a platform, and
when it cannot, doctor says what to install (the same list install/setup.sh
installs)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from vidmusician.core import doctor

pytest.importorskip("PyQt6", reason="the Qt check needs PyQt6 (the ui extra)")

REPO = Path(__file__).resolve().parents[1]


def test_a_platform_that_does_not_start_is_a_failure_that_says_what_to_install(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "vidmusician-no-such-platform")
    row = doctor.qt_platform()
    assert row.name == "Qt platform" and row.status == "error"
    assert "platform 'vidmusician-no-such-platform' does not start" in row.detail
    assert 'Could not find the Qt platform plugin "vidmusician-no-such-platform"' in row.detail  # Qt's words
    assert "offscreen" in row.detail  # Qt lists the plugins it has
    if sys.platform.startswith("linux"):
        assert "sudo apt-get install lib" in row.detail


def test_a_missing_xcb_library_is_named_with_its_package(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # starts everywhere, needs no display
    monkeypatch.setattr(
        doctor, "QT_XCB_LIBRARIES", (*doctor.QT_XCB_LIBRARIES, ("libvidmusician-nothing.so.9", "vm-fake-pkg"))
    )
    row = doctor.qt_platform()
    if not sys.platform.startswith("linux"):
        assert row.status == "ok" and row.detail.startswith("offscreen loads")
        return
    assert row.status == "missing"
    assert row.detail.startswith("offscreen loads, but a window on an X11 desktop (xcb) would not")
    assert "not found: " in row.detail and "libvidmusician-nothing.so.9" in row.detail
    packages = re.search(r"sudo apt-get install ([^(]+)\(", row.detail).group(1).split()
    assert "vm-fake-pkg" in packages
    assert set(packages) <= {p for _, p in doctor.QT_XCB_LIBRARIES}  # only what is missing


def test_offscreen_loads_in_the_child(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    row = doctor.qt_platform()
    assert row.detail.startswith("offscreen loads")
    assert row.status in ("ok", "missing")  # missing: this machine lacks what a real window needs


def test_doctor_lists_the_platform_after_pyqt6(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    names = [r.name for r in doctor.checks()]
    assert names[names.index("PyQt6") + 1] == "Qt platform"


def test_setup_installs_what_doctor_checks():
    """install/setup.sh's list is doctor's, entry for entry (library:package)."""
    text = (REPO / "install" / "setup.sh").read_text()
    block = re.search(r'QT_XCB_LIBRARIES="([^"]+)"', text).group(1)
    pairs = [tuple(entry.split(":")) for entry in block.split()]
    assert pairs == list(doctor.QT_XCB_LIBRARIES)
    for must in ("libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-keysyms1", "libegl1"):
        assert must in {p for _, p in pairs}
    assert "apt_install" in text and 'id -u)" = "0"' in text  # as root with apt-get, else a note


def test_the_hint_names_every_package_by_default():
    hint = doctor.qt_platform_hint()
    if sys.platform.startswith("linux"):
        assert all(p in hint for _, p in doctor.QT_XCB_LIBRARIES)
        assert doctor.qt_platform_hint(["libxcb-cursor0"]).startswith(
            "on Debian/Ubuntu install: sudo apt-get install libxcb-cursor0 ("
        )


def test_doctor_checks_the_arrangers_soundfont(tmp_path, monkeypatch):
    """A damaged default font is an error row naming what is wrong, not a crash in tinysoundfont later."""
    import importlib

    from vidmusician.core import backends

    sf = importlib.import_module("vidmusician.core.backends.arranger.soundfont")
    status, detail = backends.get("arranger").doctor()  # doctor's "backend: arranger" row
    assert status == "ok" and "TimGM6mb.sf2 (" in detail and "presets" in detail
    bad = tmp_path / "TimGM6mb.sf2"
    bad.write_bytes(Path(sf.bundled()).read_bytes()[:100_000])
    monkeypatch.setenv("VIDMUSICIAN_SOUNDFONT", str(bad))  # the font a render would use (the search's first)
    status, detail = backends.get("arranger").doctor()
    assert status == "error" and "truncated" in detail
