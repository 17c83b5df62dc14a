"""``vidmusician doctor``: what is installed and usable.

Optional parts (the Qt panel, the neural stack) are looked up without being
imported, so the check is quick and works where they are broken.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from . import __version__

if TYPE_CHECKING:
    from .model import BackendSettings

Status = Literal["ok", "missing", "error"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _required(name: str, module: str, dist: str) -> Check:
    """A package core needs: imported for real, so a broken install shows."""
    try:
        importlib.import_module(module)
    except Exception as e:
        return Check(name, "error", f"cannot import {module}: {e}; reinstall with pip install -e .")
    return Check(name, "ok", _dist_version(dist) or "installed")


def _present(name: str, module: str, dist: str) -> Check:
    """A package core needs but that is slow to import (librosa compiles with numba):
    found by its spec, not imported."""
    if importlib.util.find_spec(module) is None:
        return Check(name, "error", f"not installed: pip install -e . (or pip install {dist})")
    return Check(name, "ok", _dist_version(dist) or "installed")


def _optional(name: str, module: str, dist: str, purpose: str) -> Check:
    """An optional package: found by its spec only, not imported."""
    if importlib.util.find_spec(module) is None:
        return Check(name, "missing", f"not installed ({purpose})")
    return Check(name, "ok", _dist_version(dist) or "installed")


def checks(settings: BackendSettings | None = None) -> list[Check]:
    """Every check, in the order ``doctor`` prints them; ``settings``: what
    ``score`` would pass the backends (the config file's), when known."""
    rows = [
        Check("vidmusician", "ok", f"{__version__} on Python {platform.python_version()} ({sys.executable})"),
        _required("numpy", "numpy", "numpy"),
        _required("opentimelineio", "opentimelineio", "opentimelineio"),
    ]
    try:
        from .io.timeline import timeline_formats

        fmts = timeline_formats()
        rows.append(
            Check(
                "timeline formats",
                "ok",
                ", ".join(f"{s} ({a})" for s, a in sorted(fmts.items())),
            )
        )
        for adapter, dist in (("fcp_xml", "otio-fcp-adapter"), ("cmx_3600", "otio-cmx3600-adapter")):
            if adapter not in fmts.values():
                rows.append(Check(dist, "error", f"adapter {adapter} missing: pip install {dist}"))
    except Exception as e:
        rows.append(Check("timeline formats", "error", str(e)))
    rows.append(_required("opencv (headless)", "cv2", "opencv-python-headless"))
    try:
        import cv2

        backends = [cv2.videoio_registry.getBackendName(b) for b in cv2.videoio_registry.getStreamBackends()]
        status: Status = "ok" if "FFMPEG" in backends else "error"
        rows.append(Check("video decoding", status, "OpenCV backends: " + ", ".join(backends)))
    except Exception as e:
        rows.append(Check("video decoding", "error", str(e)))
    rows.append(_required("PyAV (decoding)", "av", "av"))
    rows.append(_required("scenedetect", "scenedetect", "scenedetect-headless"))
    rows.append(_required("soundfile", "soundfile", "soundfile"))
    rows.append(_present("librosa (beats, eval)", "librosa", "librosa"))
    rows.append(_present("pedalboard (effects, fit)", "pedalboard", "pedalboard"))
    rows.append(_present("tinysoundfont (arranger)", "tinysoundfont", "tinysoundfont"))
    rows += _backends(settings)
    rows += _neural()
    rows.append(_clip())
    rows.append(_optional("PyQt6", "PyQt6", "PyQt6", "the panel: pip install -e '.[ui]'"))
    if rows[-1].status == "ok":
        rows.append(qt_platform())
    rows.append(_gpu())
    return rows


def _backends(settings: BackendSettings | None = None) -> list[Check]:
    """One row per registered backend: why it cannot run here, or its own check."""
    from . import backends

    rows = []
    for entry in backends.entries():
        name = f"backend: {entry.name}"
        why = entry.unavailable()
        if why is not None:
            rows.append(Check(name, "missing", why))
            continue
        try:
            status, detail = backends.get(entry.name).doctor(settings)
        except Exception as e:  # a backend module that does not import
            rows.append(Check(name, "error", f"{e}"))
            continue
        rows.append(Check(name, status, detail))
    return rows


#: What Qt 6.11's xcb platform plugin (the panel's window on Linux) links to
#: beyond the C and C++ runtimes: the library and its Debian/Ubuntu package
#: (``ldd`` on PyQt6/Qt6/plugins/platforms/libqxcb.so, libQt6XcbQpa.so.6 and
#: xcbglintegrations/*.so on Debian bookworm). install/setup.sh installs the same.
QT_XCB_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxcb-glx.so.0", "libxcb-glx0"),
    ("libxcb.so.1", "libxcb1"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libX11.so.6", "libx11-6"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libfreetype.so.6", "libfreetype6"),
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
)

# The child: which of those libraries load, whether the xcb plugin itself
# loads, then (where a platform can start) a QApplication on the platform the
# panel would get. One JSON line before the QApplication (Qt aborts the
# process when no platform starts), one "PLATFORM name" line after it.
_QT_CHILD = r"""
import ctypes, json, os, sys
from pathlib import Path
libs = json.loads(sys.argv[1])
info = {"missing": [], "xcb_error": None, "display": True}
requested = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
if sys.platform.startswith("linux"):
    for so in libs:
        try:
            ctypes.CDLL(so)
        except OSError:
            info["missing"].append(so)
    import PyQt6
    plugin = Path(PyQt6.__file__).resolve().parent / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if plugin.exists():
        try:
            ctypes.CDLL(str(plugin))
        except OSError as e:
            info["xcb_error"] = str(e)
    info["display"] = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
print(json.dumps(info), flush=True)
if not requested and not info["display"]:
    sys.exit(0)
from PyQt6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
print("PLATFORM", app.platformName(), flush=True)
"""


def qt_platform_hint(packages: list[str] | tuple[str, ...] | None = None) -> str:
    """What to install so that Qt's platform plugin loads (Debian/Ubuntu names;
    all of :data:`QT_XCB_LIBRARIES`' packages unless ``packages``)."""
    if sys.platform.startswith("linux"):
        pkgs = " ".join(packages or [p for _, p in QT_XCB_LIBRARIES])
        return (
            f"on Debian/Ubuntu install: sudo apt-get install {pkgs} "
            "(elsewhere: xcb-util-cursor and the xcb libraries; make setup does it as root); "
            "without a desktop, --screenshot works offscreen"
        )
    return "reinstall the panel: pip install --force-reinstall 'PyQt6==6.11.0'"


def _qt_failure(stderr: str) -> str:
    """The lines of Qt's own message that say why no platform started."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    keep = [
        ln.removeprefix("qt.qpa.plugin: ")
        for ln in lines
        if any(k in ln for k in ("Could not", "could not", "is needed", "Available platform plugins"))
    ]
    return "; ".join(dict.fromkeys(keep)) or (lines[-1] if lines else "")


def qt_platform(timeout_s: float = 60.0) -> Check:
    """Does a Qt platform plugin really load? Checked in a child process (a
    platform that does not start aborts the process), on the platform the
    panel would get (``QT_QPA_PLATFORM``, else Qt's default: xcb on Linux)."""
    import json
    import os

    requested = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    argv = [sys.executable, "-c", _QT_CHILD, json.dumps([so for so, _ in QT_XCB_LIBRARIES])]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Check("Qt platform", "error", f"the check did not finish in {timeout_s:.0f} s")
    except OSError as e:
        return Check("Qt platform", "error", f"the check could not start: {e}")
    out = proc.stdout.splitlines()
    try:
        info = json.loads(out[0]) if out else {}
    except ValueError:
        info = {}
    missing = list(info.get("missing") or [])
    packages = [p for so, p in QT_XCB_LIBRARIES if so in missing]
    xcb_broken = bool(missing or info.get("xcb_error"))
    why_xcb = (
        (("not found: " + ", ".join(missing)) if missing else str(info.get("xcb_error") or ""))
        + "; "
        + qt_platform_hint(packages)
    )
    platform_line = next((ln for ln in out if ln.startswith("PLATFORM ")), None)
    if proc.returncode == 0 and platform_line is not None:
        name = platform_line.split(" ", 1)[1].strip()
        if xcb_broken and name != "xcb":
            return Check(
                "Qt platform",
                "missing",
                f"{name} loads, but a window on an X11 desktop (xcb) would not: {why_xcb}",
            )
        return Check("Qt platform", "ok", f"{name} loads (in a child process)")
    if proc.returncode == 0 and not info.get("display", True):
        if xcb_broken:
            return Check("Qt platform", "missing", f"the panel's window (xcb) would not load: {why_xcb}")
        return Check(
            "Qt platform",
            "ok",
            "xcb loads; no display here (DISPLAY unset): the window needs a desktop, --screenshot works offscreen",
        )
    what = f"platform '{requested}'" if requested else "Qt's default platform"
    reason = _qt_failure(proc.stderr) or f"exit status {proc.returncode}"
    if xcb_broken:
        reason += f"; {why_xcb}"
    else:
        reason += f"; {qt_platform_hint()}"
    return Check("Qt platform", "error", f"{what} does not start: {reason}")


def _neural() -> list[Check]:
    """torch and its device, checkpoints in the local caches, adapter sets (the musicgen row is the registry's)."""
    import os

    from .io.cache import cache_dir
    from .neural import status

    rows = []
    try:
        td = status.torch_device()
    except Exception as e:  # a broken torch install
        td = None
        rows.append(Check("torch", "error", f"cannot import torch: {e}"))
    else:
        if td is None:
            rows.append(Check("torch", "missing", "not installed (the MusicGen backend): make setup"))
        else:
            rows.append(Check("torch", "ok", f"{td[0]}, device {td[1]}"))
    musicgen, clip = status.cached_models()
    home = os.environ.get("HF_HOME", "~/.cache/huggingface")
    rows.append(
        Check(
            "MusicGen checkpoints", "ok" if musicgen else "missing", ", ".join(musicgen) or f"none in {home}"
        )
    )
    rows.append(Check("CLIP checkpoints", "ok" if clip else "missing", ", ".join(clip) or f"none in {home}"))
    where = os.environ.get("VIDMUSICIAN_ADAPTERS") or str(cache_dir() / "adapters")
    sets = status.adapter_sets(where)
    rows.append(
        Check(
            "VidMusician adapters",
            "ok" if sets else "missing",
            "; ".join(f"{p} ({d})" for p, d in sets)
            or f"none in {where} (--adapters PATH takes what train writes)",
        )
    )
    return rows


def _clip() -> Check:
    from .neural.clip import available

    if not available():
        return Check("CLIP semantics", "missing", "needs torch and transformers: pip install -e '.[clip]'")
    return Check("CLIP semantics", "ok", "usable: --clip PATH (a transformers or open_clip checkpoint)")


def _gpu() -> Check:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return Check("GPU", "missing", "no NVIDIA driver found; the neural backend runs on the CPU (slowly)")
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("GPU", "missing", f"nvidia-smi failed: {e}")
    return Check("GPU", "ok" if out else "missing", out.splitlines()[0] if out else "no GPU listed")
