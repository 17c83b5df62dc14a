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
from typing import Literal

from . import __version__

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


def checks() -> list[Check]:
    """Every check, in the order ``doctor`` prints them."""
    rows = [
        Check("vidmusician", "ok", f"{__version__} on Python {platform.python_version()} ({sys.executable})"),
        _required("numpy", "numpy", "numpy"),
        _required("opentimelineio", "opentimelineio", "opentimelineio"),
    ]
    try:
        from .timeline import timeline_formats

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
    rows.append(Check("backend: arranger", "ok", "embedded (General MIDI SoundFont from pretty_midi)"))
    rows += _neural()
    rows.append(_clip())
    rows.append(_optional("PyQt6", "PyQt6", "PyQt6", "the panel: pip install -e '.[ui]'"))
    rows.append(_gpu())
    return rows


def _neural() -> list[Check]:
    """torch and its device, audiocraft, checkpoints in the local caches, adapter sets."""
    import os

    from .neural import status
    from .timeline import cache_dir

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
    ok, detail = status.audiocraft_imports()
    if ok:
        rows.append(
            Check("backend: musicgen", "ok", f"audiocraft {detail} imports; --model debug works offline")
        )
    elif detail == "not installed":
        rows.append(Check("backend: musicgen", "missing", "audiocraft not installed: install/neural.sh"))
    else:
        rows.append(Check("backend: musicgen", "error", f"audiocraft does not import: {detail}"))
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
