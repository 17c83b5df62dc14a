"""DATA on disk and the items prepared from it.

:func:`scan` finds the items of DATA (:class:`Source`: a video with its
music, or music alone); :func:`prepare` turns one into an :class:`Example`,
what training windows are cut from: the music's EnCodec tokens
(:func:`encode`), and the video's semantic vectors, rhythm curve and text
prompt, or for music alone its own onset curve (:func:`onset_curve`).
Prepared items are cached in ``cache_dir()/train`` (safetensors), keyed by
the file, its size and time, the base model and the feature kind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import styles
from ...errors import InputError
from ...io.audio import load as load_audio
from ...progress import CancelToken, ProgressFn
from .. import conditioning
from .options import TrainOptions

VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf", ".mpg", ".mpeg", ".wmv"})
AUDIO_EXTS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma"}
)
CACHE_VERSION = 1
#: Longest piece of audio EnCodec encodes at once (seconds); longer music goes in pieces.
ENCODE_CHUNK_S = 30.0


# --------------------------------------------------------------------------- data on disk


@dataclass(frozen=True)
class Source:
    """One item of DATA: its music and (paired mode) its video."""

    name: str
    music: Path  # an audio file, or the video whose own track is the music
    video: Path | None


def _files(data: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(data):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
    return out


def has_audio_track(path: Path) -> bool:
    """The file has an audio stream (PyAV); False when it cannot be opened."""
    import av

    try:
        with av.open(str(path)) as c:
            return any(s.type == "audio" for s in c.streams)
    except Exception:
        return False


def scan(data: str | os.PathLike[str], music_only: bool = False) -> tuple[list[Source], list[str]]:
    """The items of DATA (searched recursively, sorted) and warnings about what was skipped.

    Raises
    ------
    InputError
        DATA is not a folder, or holds nothing to train on.
    """
    folder = Path(data)
    if not folder.is_dir():
        raise InputError(f"{data}: not a folder. DATA is a folder of videos with their music.")
    files = _files(folder)
    videos = [f for f in files if f.suffix.lower() in VIDEO_EXTS]
    audio = {(f.parent, f.stem): f for f in files if f.suffix.lower() in AUDIO_EXTS}
    rel = lambda p: str(p.relative_to(folder))  # noqa: E731
    warnings: list[str] = []
    out: list[Source] = []
    if music_only:  # a video with an audio file beside it: that file is its music, counted once
        for v in videos:
            if (v.parent, v.stem) not in audio and has_audio_track(v):
                out.append(Source(rel(v), v, None))
        out += [Source(rel(a), a, None) for a in audio.values()]
        out.sort(key=lambda s: s.name)
        if not out:
            raise InputError(
                f"{data}: no music in it (audio files: {', '.join(sorted(AUDIO_EXTS))}, or videos with "
                "an audio track). --music-only trains on a folder of music."
            )
        return out, warnings
    silent = []
    for v in videos:
        sibling = audio.get((v.parent, v.stem))
        if sibling is not None:
            out.append(Source(rel(v), sibling, v))
        elif has_audio_track(v):
            out.append(Source(rel(v), v, v))
        else:
            silent.append(rel(v))
    how = (
        "Give each video its music as its own audio track or as an audio file of the same name "
        "beside it (clip.mp4 + clip.wav)"
    )
    if not videos:
        only_music = (
            " It holds music only: train the rhythm path on it with --music-only --stage 2." if audio else ""
        )
        raise InputError(
            f"{data}: no videos in it ({', '.join(sorted(VIDEO_EXTS))}). DATA is a folder of videos "
            f"with their music. {how}.{only_music}"
        )
    if not out:
        raise InputError(f"{data}: none of its videos has music ({', '.join(silent[:5])}). {how}.")
    if silent:
        warnings.append(
            f"left out {len(silent)} of {len(videos)} videos, which have no music ({', '.join(silent[:5])}). {how}."
        )
    return out, warnings


def encode(mg: Any, wav: np.ndarray) -> np.ndarray:
    """EnCodec tokens [K, T] (int64) of [channels, n] audio at the model's rate,
    encoded ``ENCODE_CHUNK_S`` at a time (pieces a whole number of frames long)."""
    hop = int(round(mg.sample_rate / mg.frame_rate))
    chunk = max(hop, int(ENCODE_CHUNK_S * mg.frame_rate) * hop)
    device = next(mg.compression_model.parameters()).device
    out = []
    with torch.no_grad():
        for a in range(0, wav.shape[1], chunk):
            x = torch.from_numpy(wav[:, a : a + chunk]).float().to(device)
            codes, _ = mg.compression_model.encode(x[None])
            out.append(codes[0].cpu())
    return torch.cat(out, dim=1).numpy().astype(np.int64)


def onset_curve(wav: np.ndarray, sr: int, rate_hz: float, steps: int) -> np.ndarray:
    """The music's own rhythm curve, [steps, 2] at ``rate_hz`` (music-only training).

    Channel 0 stands for the picture's change curve: librosa's onset strength
    (spectral flux) at the token rate, divided by its 99th percentile and
    clipped to [0, 1]. Channel 1 stands for the cuts: unit impulses at the
    strong onsets (local maxima within half a second of at least 0.5, half a
    second apart at least).
    """
    import librosa

    y = np.asarray(wav, np.float32)
    y = y.mean(axis=0) if y.ndim == 2 else y
    hop = max(1, int(round(sr / rate_hz)))
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    env = np.pad(env, (0, max(0, steps - len(env))))[:steps]
    top = float(np.percentile(env, 99)) if len(env) else 0.0
    curve = np.clip(env / top, 0.0, 1.0) if top > 1e-9 else np.zeros(steps)
    out = np.zeros((steps, 2), np.float32)
    out[:, 0] = curve
    gap = max(1, int(round(rate_hz / 2)))
    if steps > 2:
        peaks = librosa.util.peak_pick(
            curve.astype(np.float64),
            pre_max=gap,
            post_max=gap,
            pre_avg=gap,
            post_avg=gap,
            delta=0.1,
            wait=gap,
        )
        out[[int(p) for p in peaks if curve[p] >= 0.5], 1] = 1.0
    return out


# --------------------------------------------------------------------------- prepared items


@dataclass(frozen=True)
class Example:
    """One prepared item: what a window is cut from.

    Attributes
    ----------
    codes : np.ndarray [K, T] int
        The music's EnCodec tokens at the model's frame rate.
    video : np.ndarray [seconds, video_dim] float32 or None
        Per-second semantic vectors (None: music-only).
    rhythm : np.ndarray [T, 2] float32 or None
        The rhythm curve, one row per token step.
    text : str or None
        The text prompt (None: the null condition).
    name : str
    feature : str
        What ``video`` holds: ``"descriptors"`` or ``"clip"``.
    """

    codes: np.ndarray
    video: np.ndarray | None = None
    rhythm: np.ndarray | None = None
    text: str | None = None
    name: str = ""
    feature: str = "descriptors"

    @property
    def steps(self) -> int:
        return int(self.codes.shape[1])


def _cache_key(src: Source, opts: TrainOptions, mg: Any) -> str:
    def stamp(p: Path | None) -> list[Any]:
        if p is None:
            return []
        st = p.stat()
        return [str(p.resolve()), st.st_size, st.st_mtime_ns]

    key = {
        "v": CACHE_VERSION,
        "music": stamp(src.music),
        "video": stamp(src.video),
        "music_only": opts.music_only,
        "base": opts.base,
        "sr": int(mg.sample_rate),
        "rate": float(mg.frame_rate),
        "channels": int(mg.audio_channels),
        "clip": opts.clip,
    }
    if styles.names() != styles.BUILTIN_NAMES:  # the descriptors' one-hot follows the registry
        key["styles"] = list(styles.names())
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _read_cached(path: Path, name: str) -> tuple[Example, list[str]] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            keys = set(f.keys())
            t = {k: f.get_tensor(k) for k in keys}
        info = json.loads(meta.get("example", "{}"))
        ex = Example(
            codes=t["codes"].astype(np.int64),
            video=t.get("video"),
            rhythm=t.get("rhythm"),
            text=info.get("text"),
            name=name,
            feature=info.get("feature", "descriptors"),
        )
        return ex, [str(w) for w in info.get("warnings", [])]
    except Exception:  # a damaged cache entry is made again
        return None


def _write_cached(path: Path, ex: Example, warnings: list[str]) -> None:
    from safetensors.numpy import save_file

    from ... import fsutil

    t = {"codes": ex.codes.astype(np.int32)}
    if ex.video is not None:
        t["video"] = np.ascontiguousarray(ex.video, np.float32)
    if ex.rhythm is not None:
        t["rhythm"] = np.ascontiguousarray(ex.rhythm, np.float32)
    meta = {"example": json.dumps({"text": ex.text, "feature": ex.feature, "warnings": warnings})}
    fsutil.write_with(path, lambda tmp: save_file(t, str(tmp), metadata=meta), overwrite=True)


def prepare(
    src: Source,
    mg: Any,
    opts: TrainOptions,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Example, list[str]]:
    """The item's tokens and conditioning (from the cache when it has them) and warnings."""
    from ...io.cache import cache_dir

    path = cache_dir() / "train" / f"{_cache_key(src, opts, mg)}.safetensors"
    if opts.cache and path.is_file():
        cached = _read_cached(path, src.name)
        if cached is not None:
            return cached
    rate = float(mg.frame_rate)
    warnings: list[str] = []
    wav = load_audio(src.music, int(mg.sample_rate), int(mg.audio_channels))
    codes = encode(mg, wav)
    if src.video is None:
        steps = codes.shape[1]
        rhythm = onset_curve(wav, int(mg.sample_rate), rate, steps)
        ex = Example(codes, None, rhythm, None, src.name)
    else:
        from ...analysis.analyze import analyze
        from ...rhythm.planning import overall_style
        from ..backend import prompt_text

        feats = analyze(src.video, cache=opts.cache, clip=opts.clip, progress=progress, cancel=cancel)
        video, kind = conditioning.semantic(feats, use_clip=opts.clip is not None)
        if opts.clip is not None and kind != "clip":
            raise InputError(f"{src.video}: CLIP found no frames to embed; train without --clip.")
        warnings += [f"{src.name}: {w}" for w in (*feats.timeline.warnings, *feats.warnings)]
        picture = feats.timeline.duration_s
        music = codes.shape[1] / rate
        if abs(picture - music) > 2.0:
            warnings.append(
                f"{src.name}: its music lasts {music:.1f} s and its picture {picture:.1f} s; "
                f"trained on the first {min(picture, music):.1f} s."
            )
        steps = min(codes.shape[1], int(math.ceil(picture * rate)))
        codes = codes[:, :steps]
        rhythm = conditioning.rhythm(feats, rate, steps / rate)
        rhythm = np.pad(rhythm, ((0, max(0, steps - len(rhythm))), (0, 0)))[:steps]  # one row per token
        text = prompt_text(feats, overall_style(feats))
        ex = Example(codes, video.astype(np.float32), rhythm, text, src.name, kind)
    if ex.steps < 2:
        raise InputError(f"{src.music}: too short to train on (under two token frames).")
    if opts.cache:
        _write_cached(path, ex, warnings)
    return ex, warnings
