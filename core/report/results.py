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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, fsutil, units
from ..errors import OutputError
from ..io.audio import save_wav
from ..io.blockaudio import Audio, DiskAudio
from ..model import VideoFeatures
from ..progress import ProgressFn, check, deferred, scaled
from ..progress import report as tell
from ..rhythm.planner import RhythmPlan, hard_cut_times

SR = units.OUTPUT_SR


@contextlib.contextmanager
def output_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out`` when the block succeeds."""
    out = Path(out)
    if out.is_symlink():  # checked now, not when the finished folder is renamed onto it
        if not out.exists():
            raise OutputError(fsutil.dangling(out))
        raise OutputError(
            f"{out}: is a symbolic link (to {os.readlink(out)}); give the folder's own path, or a new folder."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out}: exists and is not an empty folder; every result goes into a new folder.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _sweep_dead(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 is too private for a result folder
    except OSError as e:
        raise OutputError(f"{out.parent}: cannot write here ({e.strerror}).") from e
    try:
        yield tmp
        try:
            if out.exists():
                out.rmdir()  # empty, checked above
            tmp.rename(out)
        except OSError as e:
            raise OutputError(
                f"{out}: another process wrote there meanwhile ({e.strerror}); nothing was written."
            ) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep its folder
    return True


def _sweep_dead(out: Path) -> None:
    """Remove the half-written folders that killed runs left for ``out``
    (named ``.OUT.PID.xxx.partial``; only those whose process is gone)."""
    for p in out.parent.glob(f".{out.name}.*.partial"):
        parts = p.name[len(out.name) + 2 :].split(".")
        if parts and parts[0].isdigit() and not _alive(int(parts[0])):
            shutil.rmtree(p, ignore_errors=True)


def write_music(
    folder: Path,
    final: Path,
    mix: Audio,
    stems: Mapping[str, Audio] | None = None,
    midi: Any = None,
) -> dict[str, str]:
    """Write ``mix.wav``, ``stems/*.wav`` and ``music.mid`` into ``folder``
    (which becomes ``final``); returns role -> final path (``mix``,
    ``stem:NAME``, ``midi``)."""
    save_wav(folder / "mix.wav", mix)
    files: dict[str, str] = {"mix": str(final / "mix.wav")}
    for name, audio in (stems or {}).items():
        save_wav(folder / "stems" / f"{name}.wav", audio)
        files[f"stem:{name}"] = str(final / "stems" / f"{name}.wav")
    if midi is not None:
        fsutil.write_with(folder / "music.mid", lambda tmp: midi.write(str(tmp)))
        files["midi"] = str(final / "music.mid")
    return files


#: Mixes longer than this are measured a window at a time (:func:`_measure_windows`).
MEASURE_WINDOW_S = 300.0
#: Music either side of a window that its beats are tracked on (its cuts are the window's own).
MEASURE_MARGIN_S = 10.0


def measure(features: VideoFeatures, mix: Audio, progress: ProgressFn | None = None) -> dict[str, Any]:
    """The alignment figures of ``mix`` (48 kHz, from the first frame) against the cut.

    librosa is slow here (its kernels compile in each new process): the
    stages report to ``progress`` so that a bar over this step moves. A mix
    longer than :data:`MEASURE_WINDOW_S` is measured in windows of that
    length (:func:`_measure_windows`), so memory stays bounded.
    """
    if mix.shape[1] > MEASURE_WINDOW_S * SR:
        return _measure_windows(features, mix, progress)
    mix = np.asarray(mix)
    tell(progress, 0.0, "measuring the music: loading librosa")
    with deferred():  # a signal waits for librosa's import and numba's first compilation
        from librosa import (
            resample,
        )  # librosa loads lazily: this compiles its kernels (15 s in a new environment)

        from .metrics import SR as EVAL_SR
        from .metrics import evaluate

    check()  # a Ctrl-C during librosa's first use can be swallowed in a ctypes callback
    tell(progress, 0.2, "measuring the music: resampling")
    mono = resample(mix.mean(axis=0), orig_sr=SR, target_sr=EVAL_SR)
    tell(progress, 0.5, "measuring the music: tracking beats")
    with deferred():
        figures = evaluate(
            mono, hard_cut_times(features.anchors), features.timeline.duration_s, features.motion
        ).to_json()
    return figures


def _measure_windows(features: VideoFeatures, mix: Audio, progress: ProgressFn | None) -> dict[str, Any]:
    """:func:`measure` on a long mix, :data:`MEASURE_WINDOW_S` at a time: each
    window is read (from disk when the mix is there) with
    :data:`MEASURE_MARGIN_S` either side, resampled to 22,050 Hz mono and
    measured on its own (beats, onsets and the chance levels of the cuts
    inside the window); the figures are the windows' weighted by their cuts
    (``cut_beat_hit``, ``cut_accent`` and their chance levels), the median
    of their tempos, the sum of their beats, and ``energy_corr`` over the
    whole mix's 1-second loudness (each window's, joined). The beat tracker
    starts afresh in each window; the margins keep a window's first and
    last cuts from landing where it has not settled yet. Memory: one window
    and its margins (320 s of stereo at 48 kHz is 123 MB), whatever the length."""
    tell(progress, 0.0, "measuring the music: loading librosa")
    with deferred():  # as in measure()
        from librosa import resample

    from .metrics import BIN_S, Metrics, energy_corr, evaluate, loudness_bins
    from .metrics import SR as EVAL_SR

    cuts = np.sort(np.asarray(hard_cut_times(features.anchors), float))
    duration = features.timeline.duration_s
    n = mix.shape[1]
    win = int(MEASURE_WINDOW_S * SR)
    n_bins = int(min(duration, n / SR) // BIN_S)
    rows: list[tuple[int, Metrics]] = []
    loud: list[np.ndarray] = []
    margin = int(MEASURE_MARGIN_S * SR)
    for k, a in enumerate(range(0, n, win)):
        tell(progress, 0.1 + 0.9 * a / n, f"measuring the music: window {k + 1} of {-(-n // win)}")
        lo, hi = max(0, a - margin), min(n, a + win + margin)  # the beats are tracked with a margin
        block = mix.read(lo, hi) if isinstance(mix, DiskAudio) else np.asarray(mix[:, lo:hi])
        mono = resample(block.mean(axis=0), orig_sr=SR, target_sr=EVAL_SR)
        del block
        t_lo, t0 = lo / SR, a / SR
        inside = cuts[(cuts >= t0) & (cuts < t0 + MEASURE_WINDOW_S)] - t_lo  # only the window's own cuts
        span = max(0.0, min(duration, hi / SR) - t_lo)
        with deferred():  # numba compiles on the first window: a signal waits for it
            rows.append((len(inside), evaluate(mono, inside, span, None, seed=k)))
        core = mono[int(round((t0 - t_lo) * EVAL_SR)) :]
        own = max(0.0, min(duration, t0 + MEASURE_WINDOW_S) - t0)
        loud.append(loudness_bins(core, min(int(own // BIN_S), int(len(core) / EVAL_SR // BIN_S))))

    def weighted(name: str) -> float | None:
        pairs = [(w, getattr(m, name)) for w, m in rows if w and getattr(m, name) is not None]
        total = sum(w for w, _ in pairs)
        return float(sum(w * v for w, v in pairs) / total) if total else None

    corr = None
    if features.motion is not None and len(features.motion.values):
        corr = energy_corr(np.concatenate(loud)[:n_bins], features.motion)
    return Metrics(
        tempo_bpm=octave_median([m.tempo_bpm for _, m in rows]),
        n_cuts=len(cuts),
        n_beats=int(sum(m.n_beats for _, m in rows)),
        cut_beat_hit=weighted("cut_beat_hit"),
        cut_beat_hit_chance=weighted("cut_beat_hit_chance"),
        cut_accent=weighted("cut_accent"),
        cut_accent_chance=weighted("cut_accent_chance"),
        energy_corr=corr,
        cut_sync_hit=weighted("cut_sync_hit"),
        cut_sync_hit_chance=weighted("cut_sync_hit_chance"),
        beat_cv=_weighted_cv(rows),
    ).to_json()


def octave_median(tempos: list[float]) -> float:
    """The windows' tempo: each window's folded into one octave first, then
    their median. A beat tracker hears music at 60 BPM with busy eighths at
    60 in one window and 120 in the next (a metrical level, not a new tempo);
    the plain median of 60, 120, 60, 120 would be 90, a tempo nobody hears.
    The octave is the one most windows heard (a tie: the faster, where the
    tracker's own prior lies)."""
    t = np.asarray([x for x in tempos if x and x > 0], np.float64)
    if not len(t):
        return 0.0
    octave = np.floor(np.log2(t) - np.log2(t.min()) + 0.5)  # 0, 1, ... above the slowest window
    values, counts = np.unique(octave, return_counts=True)
    ref = values[counts == counts.max()].max()
    folded = t * 2.0 ** (ref - octave)
    return float(np.median(folded))


def _weighted_cv(rows: list[tuple[int, Any]]) -> float | None:
    """The windows' beat-interval CVs, weighted by their beats."""
    pairs = [(m.n_beats, m.beat_cv) for _, m in rows if m.beat_cv is not None and m.n_beats]
    total = sum(w for w, _ in pairs)
    return float(sum(w * v for w, v in pairs) / total) if total else None


def plan_figures(plan: RhythmPlan) -> dict[str, Any]:
    """What the plan promises, for the report beside what is heard (``metrics``):
    its mode, the sync window, where the hard cuts landed (shares, see
    :meth:`~.rhythm.planner.RhythmPlan.cut_landings`) and the beat intervals' CV."""
    return {
        "mode": plan.mode,
        "sync_window_s": round(plan.sync_window_s, 6),
        "cut_landings": plan.cut_landings(),
        "beat_cv": round(plan.beat_cv(), 4),
    }


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
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Write everything into ``folder`` (which becomes ``final``); returns the report.

    The one-shot result of ``fit``; ``score`` keeps a session (:mod:`.session`).
    """
    from ..rhythm.planning import plan_json
    from ..writeback import MusicFile, write_timelines

    provenance = {**provenance, "version": __version__}
    tell(progress, 0.0, "writing the music")
    files = write_music(folder, final, mix, stems, midi)
    music = [MusicFile("mix", str(folder / "mix.wav"), files["mix"])]
    if stem_tracks:
        music += [
            MusicFile(k[5:], str(folder / "stems" / Path(v).name), v)
            for k, v in files.items()
            if k.startswith("stem:")
        ]
    written = write_timelines(features.timeline, music, folder, fmt, provenance)
    files.update({k: str(final / Path(v).name) for k, v in written.paths.items()})
    fsutil.write_text(folder / "plan.json", json.dumps(plan_json(plan, style), indent=2) + "\n")
    report = {
        **provenance,
        **(extra or {}),
        "plan": plan_figures(plan),
        "metrics": measure(features, mix, scaled(progress, 0.1, 1.0)),
        "files": files,
        "notes": list(written.notes),
    }
    fsutil.write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")
    return report
