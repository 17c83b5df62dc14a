"""Writing a result folder: music, timeline, plan and report, all or nothing.

``score`` and ``fit`` build their folder under a temporary name beside the
destination and rename it into place at the end, so an error leaves nothing
half-written; an existing, non-empty destination is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, fsutil
from .errors import OutputError
from .model import VideoFeatures
from .rhythm import RhythmPlan, hard_cut_times

SR = 48000


@contextlib.contextmanager
def output_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out`` when the block succeeds."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out}: exists and is not an empty folder; every result goes into a new folder.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as e:
        raise OutputError(f"{out.parent}: cannot write here ({e.strerror}).") from e
    try:
        yield tmp
        if out.exists():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sr: int = SR) -> Path:
    """(channels, n) float32 as a 24-bit WAV, atomically; scaled down if it would clip."""
    import soundfile

    peak = float(np.abs(audio).max()) if audio.size else 0.0
    data = audio / peak * 0.97 if peak > 0.97 else audio

    def write(tmp: Path) -> None:
        soundfile.write(str(tmp), data.T, sr, subtype="PCM_24", format="WAV")

    return fsutil.write_with(path, write)


def write_result(
    folder: Path,
    final: Path,
    features: VideoFeatures,
    plan: RhythmPlan,
    style: str,
    mix: np.ndarray,
    provenance: dict[str, Any],
    stems: dict[str, np.ndarray] | None = None,
    midi: Any = None,
    fmt: str = "same",
    stem_tracks: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write everything into ``folder`` (which becomes ``final``); returns the report."""
    import librosa

    from .metrics import SR as EVAL_SR
    from .metrics import evaluate
    from .planning import plan_json
    from .writeback import MusicFile, write_timelines

    provenance = {**provenance, "version": __version__}
    music = [MusicFile("mix", str(write_wav(folder / "mix.wav", mix)), str(final / "mix.wav"))]
    files: dict[str, str] = {"mix": str(final / "mix.wav")}
    for name, audio in (stems or {}).items():
        path = write_wav(folder / "stems" / f"{name}.wav", audio)
        files[f"stem:{name}"] = str(final / "stems" / f"{name}.wav")
        if stem_tracks:
            music.append(MusicFile(name, str(path), str(final / "stems" / f"{name}.wav")))
    if midi is not None:
        fsutil.write_with(folder / "music.mid", lambda tmp: midi.write(str(tmp)))
        files["midi"] = str(final / "music.mid")
    written = write_timelines(features.timeline, music, folder, fmt, provenance)
    files.update({k: str(final / Path(v).name) for k, v in written.paths.items()})
    fsutil.write_text(folder / "plan.json", json.dumps(plan_json(plan, style), indent=2) + "\n")
    mono = librosa.resample(mix.mean(axis=0), orig_sr=SR, target_sr=EVAL_SR)
    metrics = evaluate(mono, hard_cut_times(features.anchors), features.timeline.duration_s, features.motion)
    report = {
        **provenance,
        **(extra or {}),
        "metrics": metrics.to_json(),
        "files": files,
        "notes": list(written.notes),
    }
    fsutil.write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")
    return report
