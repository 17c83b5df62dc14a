"""Training VidMusician's modules on a frozen MusicGen (``vidmusician train``).

DATA is a folder of videos with their music: a video's own audio track, or
an audio file of the same stem beside it (``clip.mp4`` + ``clip.wav``; the
file wins over the track, which may hold dialogue). With ``music_only``
DATA is a folder of music alone (audio files, and the audio track of videos
without a sibling audio file): the rhythm path then learns from the music's
own onset novelty (:func:`onset_curve`), and at inference reads the
picture's change curve and cuts instead.

For every item the inputs are computed once and cached (in
``cache_dir()/train``, keyed by the file, its size and time, the base model
and the feature kind): the music's EnCodec tokens [K, T] at the model's
frame rate, and, for a video, the analysis' per-second semantic vectors
[seconds, dim] and rhythm curve [T, 2] (:mod:`.conditioning`), and a text
prompt from its mood words.

Stage 1 trains the semantic path (embedding manager, LoRA on T5, projector,
cross-attention blocks); stage 2 the rhythm path as well (``music_only``:
the rhythm path alone). MusicGen itself is frozen. The loss is MusicGen's
own: cross-entropy of the next tokens over the positions the delay pattern
makes valid, averaged per codebook. The text prompt is dropped at random
(``text_dropout``), so the modules do not lean on it. AdamW, linear warm-up
then cosine decay, gradient accumulation, gradient clipping, mixed
precision on CUDA only.

A run folder RUN holds:

- ``adapters/``: the latest modules (what ``score --adapters`` reads);
- ``checkpoint-NNNNNNN/``: modules, optimizer state (safetensors) and
  ``state.json`` (step, options, split, losses); the two latest are kept and
  ``checkpoint.json`` names the newest. Nothing is unpickled on resuming.
- ``train.json``: options, parameter count, data, loss history.

Every step draws its windows and text dropout from ``(seed, step)`` alone, so
a run resumed from a checkpoint takes the same steps as one never stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import styles
from ..errors import Cancelled, InputError, OptionError, OutputError
from ..io.audio import load as load_audio
from ..progress import CancelToken, ProgressFn, report, scaled
from . import conditioning
from .adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, VidMusicianAdapters, for_model, musicgen_t5

VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf", ".mpg", ".mpeg", ".wmv"})
AUDIO_EXTS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma"}
)
CACHE_VERSION = 1
STATE_FORMAT = "vidmusician-train-state"
KEEP_CHECKPOINTS = 2
#: Longest piece of audio EnCodec encodes at once (seconds); longer music goes in pieces.
ENCODE_CHUNK_S = 30.0


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class TrainOptions:
    """How a run trains. Ranges are checked by :meth:`check`.

    Attributes
    ----------
    stage : 1 | 2
        1 = semantic path (and LoRA); 2 = the rhythm path as well.
    base : str
        The MusicGen (``debug``, a local checkpoint folder, a Hugging Face name in the cache).
    music_only : bool
        DATA is music alone; trains the rhythm path from the music's onsets (stage 2 only).
    init : str or None
        Adapters to start from (a stage 1 run's ``RUN/adapters``), else new ones.
    steps : int
        Optimizer steps in all (a resumed run counts from its checkpoint).
    batch : int
        Windows per micro-batch.
    accumulate : int
        Micro-batches per optimizer step (the effective batch is ``batch * accumulate``).
    lr : float
        Peak learning rate (after ``warmup`` steps, then cosine decay to a tenth).
    warmup : int or None
        Warm-up steps (None: a tenth of the steps, at most 100).
    weight_decay, grad_clip : float
    seconds : float
        Length of a training window (seconds of music).
    text_dropout : float
        Probability that a window's text prompt is replaced by the null condition.
    val_fraction : float
        Share of the items held out for the validation loss (at least one item when there are two).
    checkpoint_every : int
        Steps between checkpoints (and validation losses); the last step always gets one.
    seed : int
    clip : str or None
        A local CLIP checkpoint: the semantic path reads CLIP embeddings instead of shot descriptors.
    cache : bool
        Reuse (and store) the prepared items in the cache.
    precision : "auto" | "fp32" | "bf16" | "fp16"
        Arithmetic of the forward pass. ``auto``: bf16 autocast on a GPU that
        has it, else fp16 autocast with a gradient scaler; fp32 on the CPU.
        The trained parameters and optimizer state stay fp32 in every mode.
    """

    stage: int = 1
    base: str = "debug"
    music_only: bool = False
    init: str | None = None
    steps: int = 1000
    batch: int = 4
    accumulate: int = 1
    lr: float = 3e-4
    warmup: int | None = None
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seconds: float = 10.0
    text_dropout: float = 0.5
    val_fraction: float = 0.1
    checkpoint_every: int = 200
    seed: int = 0
    clip: str | None = None
    cache: bool = True
    precision: str = "auto"

    def check(self) -> TrainOptions:
        """Self, or :class:`OptionError` naming the flag and its range."""

        def need(ok: bool, flag: str, what: str) -> None:
            if not ok:
                raise OptionError(f"{flag}: {what}")

        need(self.stage in (1, 2), "--stage", f"1 or 2, not {self.stage}.")
        need(self.steps >= 1, "--steps", f"at least 1, not {self.steps}.")
        need(self.batch >= 1, "--batch", f"at least 1, not {self.batch}.")
        need(self.accumulate >= 1, "--accumulate", f"at least 1, not {self.accumulate}.")
        need(0 < self.lr < 1, "--lr", f"between 0 and 1, not {self.lr}.")
        need(self.warmup is None or self.warmup >= 0, "warmup", "0 or more steps.")
        need(self.weight_decay >= 0 and self.grad_clip >= 0, "weight decay, grad clip", "0 or more.")
        need(0.2 <= self.seconds <= 60, "--seconds", f"between 0.2 and 60, not {self.seconds}.")
        need(0 <= self.text_dropout <= 1, "text_dropout", "between 0 and 1.")
        need(0 <= self.val_fraction < 1, "val_fraction", "a share between 0 and 1.")
        need(self.checkpoint_every >= 1, "--every", "at least 1 step.")
        need(self.seed >= 0, "--seed", f"0 or more, not {self.seed}.")
        need(
            self.precision in PRECISIONS,
            "--precision",
            f"one of {', '.join(PRECISIONS)}, not {self.precision!r}.",
        )
        if self.music_only and self.stage != 2:
            raise OptionError(
                "--music-only trains the rhythm path, which is stage 2: add --stage 2 "
                "(and --init RUN1/adapters to keep a stage 1 semantic path)."
            )
        return self

    def warmup_steps(self) -> int:
        return min(100, self.steps // 10) if self.warmup is None else self.warmup

    def lr_at(self, step: int) -> float:
        """Learning rate of optimizer step ``step`` (0-based)."""
        w = self.warmup_steps()
        if step < w:
            return self.lr * (step + 1) / (w + 1)
        span = max(1, self.steps - w)
        cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (step - w) / span)))
        return self.lr * (0.1 + 0.9 * cos)


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

    from .. import fsutil

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
    from ..io.cache import cache_dir

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
        from ..analysis.analyze import analyze
        from ..rhythm.planning import overall_style
        from .backend import prompt_text

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


# --------------------------------------------------------------------------- batches and loss


@dataclass
class Batch:
    """Windows ready for the LM: codes [B, K, T], valid [B, T] (False on padding),
    video [B, N, D] or None, rhythm [B, T, 2] or None, texts (None: null condition)."""

    codes: torch.Tensor
    valid: torch.Tensor
    video: torch.Tensor | None
    rhythm: torch.Tensor | None
    texts: list[str | None]

    def to(self, device: Any) -> Batch:
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Batch(
            self.codes.to(device), self.valid.to(device), mv(self.video), mv(self.rhythm), self.texts
        )


def make_batch(
    examples: Sequence[Example], starts: Sequence[int], steps: int, rate: float, texts: Sequence[str | None]
) -> Batch:
    """Cut a window of ``steps`` token steps from each example at its start
    (a whole second), padding short ones (masked) and their video rows (last row repeated)."""
    if len({e.video is None for e in examples}) > 1 or len({e.rhythm is None for e in examples}) > 1:
        raise InputError(
            "a batch mixes items with and without video; train paired and music-only data apart."
        )
    k = int(examples[0].codes.shape[0])
    b = len(examples)
    codes = torch.zeros(b, k, steps, dtype=torch.long)
    valid = torch.zeros(b, steps, dtype=torch.bool)
    rows = max(1, int(math.ceil(steps / rate - 1e-9)))
    video = None if examples[0].video is None else torch.zeros(b, rows, examples[0].video.shape[1])
    rhythm = None if examples[0].rhythm is None else torch.zeros(b, steps, examples[0].rhythm.shape[1])
    for i, (e, s) in enumerate(zip(examples, starts)):
        n = max(0, min(steps, e.steps - s))
        codes[i, :, :n] = torch.from_numpy(np.asarray(e.codes[:, s : s + n], np.int64))
        valid[i, :n] = True
        if rhythm is not None and e.rhythm is not None:
            r = np.asarray(e.rhythm[s : s + n], np.float32)
            rhythm[i, : len(r)] = torch.from_numpy(r)
        if video is not None and e.video is not None:
            first = int(math.floor(s / rate + 1e-9))
            idx = np.clip(np.arange(first, first + rows), 0, len(e.video) - 1)
            video[i] = torch.from_numpy(np.asarray(e.video, np.float32)[idx])
    return Batch(codes, valid, video, rhythm, list(texts))


def condition_tensors(mg: Any, texts: Sequence[str | None]) -> Any:
    """MusicGen's own (frozen) text conditioning for ``texts`` (None: the null condition)."""
    with torch.no_grad():
        attributes, _ = mg._prepare_tokens_and_attributes(list(texts), None)
        provider = mg.lm.condition_provider
        return provider(provider.tokenize(attributes))


def token_losses(mg: Any, adapters: VidMusicianAdapters, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of every token given the ones before it, [B, K, T] (nats),
    and the mask of the positions that count: valid for the delay pattern
    (as in audiocraft's ``MusicGenSolver._compute_cross_entropy``) and not padding."""
    adapters.condition(batch.video, batch.rhythm)
    out = mg.lm.compute_predictions(batch.codes, [], condition_tensors=condition_tensors(mg, batch.texts))
    mask = out.mask.bool() & batch.valid[:, None, :]
    logits = torch.where(
        mask[..., None], out.logits, torch.zeros((), dtype=out.logits.dtype, device=mask.device)
    )
    ce = torch.nn.functional.cross_entropy(logits.float().permute(0, 3, 1, 2), batch.codes, reduction="none")
    return ce, mask


def mean_loss(ce: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the masked positions of each codebook, then over the codebooks."""
    m = mask.float()
    per = (ce * m).sum(dim=(0, 2)) / m.sum(dim=(0, 2)).clamp(min=1.0)
    has = m.sum(dim=(0, 2)) > 0
    return per[has].mean() if bool(has.any()) else ce.sum() * 0.0


# --------------------------------------------------------------------------- the trainer


@dataclass
class History:
    """Losses so far: ``train`` (step, mean loss of the step), ``val`` (step, loss)."""

    train: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)

    def recent(self, n: int = 20) -> float | None:
        tail = [v for _, v in self.train[-n:]]
        return float(np.mean(tail)) if tail else None


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: plain fp32)."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


class Trainer:
    """Trains ``adapters`` attached to ``mg.lm`` (frozen) with ``options``.

    ``step`` counts the optimizer steps taken; :meth:`fit` runs up to
    ``options.steps``; :meth:`save` / :meth:`restore` write and read a checkpoint.
    """

    def __init__(self, mg: Any, adapters: VidMusicianAdapters, options: TrainOptions, device: str = "cpu"):
        self.mg = mg
        self.options = options.check()
        self.device = torch.device(device)
        self.rate = float(mg.frame_rate)
        lm = mg.lm
        lm.requires_grad_(False)
        lm.eval()
        self.adapters = adapters.to(self.device)
        if adapters.config.stage != options.stage:
            adapters.config = dataclasses.replace(adapters.config, stage=options.stage)
        adapters.attach(lm)
        adapters.train()
        params = adapters.trainable(options.stage)
        if options.music_only:  # no video: the semantic path gets nothing to learn from
            semantic = {id(p) for p in adapters.trainable(1)}
            params = [p for p in params if id(p) not in semantic]
        for p in adapters.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        self.params = params
        self.optimizer = torch.optim.AdamW(
            params, lr=options.lr, betas=(0.9, 0.95), weight_decay=options.weight_decay
        )
        self.step = 0
        self.history = History()
        self.amp_dtype = amp_dtype(options.precision, self.device)
        self.scaler: Any = None
        if (
            self.amp_dtype == torch.float16
        ):  # fp16's narrow range: scale the loss so gradients don't flush to 0
            self.scaler = torch.amp.GradScaler(self.device.type)

    def close(self) -> None:
        """Take the modules' hooks off the LM (it is MusicGen as it was)."""
        self.adapters.detach()

    @property
    def count(self) -> int:
        """Trainable parameters (those in the optimizer)."""
        return sum(p.numel() for p in self.params)

    @property
    def window(self) -> int:
        return max(2, int(round(self.options.seconds * self.rate)))

    # ---- batches

    def sample(self, examples: Sequence[Example], step: int, micro: int) -> Batch:
        """The windows of micro-batch ``micro`` of step ``step``: drawn from
        ``(seed, step, micro)`` alone (a resumed run draws the same ones)."""
        rng = np.random.default_rng([self.options.seed, step, micro])
        weights = np.array([max(1, e.steps - self.window + 1) for e in examples], float)
        idx = rng.choice(len(examples), size=self.options.batch, p=weights / weights.sum())
        chosen = [examples[i] for i in idx]
        starts = []
        for e in chosen:
            last = max(0, e.steps - self.window)
            sec = int(rng.integers(0, int(last / self.rate) + 1))
            starts.append(min(last, int(round(sec * self.rate))))
        drop = rng.random(len(chosen)) < self.options.text_dropout
        texts = [None if d else e.text for e, d in zip(chosen, drop)]
        return make_batch(chosen, starts, self.window, self.rate, texts).to(self.device)

    def validation_batches(self, examples: Sequence[Example], limit: int = 64) -> list[Batch]:
        """Fixed windows (back to back from each item's start, text kept), ``limit`` at most."""
        windows: list[tuple[Example, int]] = []
        for e in examples:
            for s in range(0, max(1, e.steps - 1), self.window):
                windows.append((e, s))
        if len(windows) > limit:
            keep = np.linspace(0, len(windows) - 1, limit).round().astype(int)
            windows = [windows[i] for i in keep]
        n = self.options.batch
        return [
            make_batch(
                [e for e, _ in windows[i : i + n]],
                [s for _, s in windows[i : i + n]],
                self.window,
                self.rate,
                [e.text for e, _ in windows[i : i + n]],
            ).to(self.device)
            for i in range(0, len(windows), n)
        ]

    # ---- steps

    def _autocast(self) -> Any:
        import contextlib

        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, examples: Sequence[Example], cancel: CancelToken | None = None) -> float:
        """One optimizer step over ``accumulate`` micro-batches; returns its mean loss."""
        o = self.options
        for g in self.optimizer.param_groups:
            g["lr"] = o.lr_at(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(o.seed * 1_000_003 + self.step)  # dropout inside T5, if any
            for micro in range(o.accumulate):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                batch = self.sample(examples, self.step, micro)
                with self._autocast():
                    ce, mask = token_losses(self.mg, self.adapters, batch)
                    loss = mean_loss(ce, mask) / o.accumulate
                if not torch.isfinite(loss):
                    raise OptionError(
                        f"the loss became {loss.item()} at step {self.step}: lower --lr (now {o.lr:g})."
                    )
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
                total += float(loss.detach())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, o.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.adapters.condition(None, None)  # drop the graph of the last batch
        self.history.train.append((self.step, total))
        self.step += 1
        return total

    def validate(self, examples: Sequence[Example]) -> float | None:
        """Mean validation loss (per token, nats) over fixed windows of ``examples``; None without any."""
        if not examples:
            return None
        self.adapters.eval()
        try:
            total, count = 0.0, 0.0
            with torch.no_grad(), self._autocast():
                for batch in self.validation_batches(examples):
                    ce, mask = token_losses(self.mg, self.adapters, batch)
                    total += float((ce * mask).sum())
                    count += float(mask.sum())
            self.adapters.condition(None, None)
        finally:
            self.adapters.train()
        return total / max(count, 1.0)

    def fit(
        self,
        train: Sequence[Example],
        val: Sequence[Example] = (),
        run: str | os.PathLike[str] | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        meta: dict[str, Any] | None = None,
    ) -> History:
        """Train from :attr:`step` to ``options.steps``; validate and checkpoint
        into ``run`` (when given) every ``checkpoint_every`` steps and at the end.
        Cancelled: a checkpoint of the steps done (``run``), then :class:`Cancelled`."""
        if not train:
            raise InputError("nothing to train on.")
        o = self.options
        t0, first = time.monotonic(), self.step
        while self.step < o.steps:
            try:
                loss = self.train_step(train, cancel)
            except Cancelled:
                if run is not None and self.step > first:
                    self.save(run, meta)
                raise Cancelled(
                    f"training cancelled at step {self.step}"
                    + (
                        f"; continue it with --resume ({run})."
                        if run is not None and self.step > first
                        else "."
                    )
                ) from None
            label = f"training: step {self.step}/{o.steps}, loss {loss:.3f}"
            if self.history.val:
                label += f", validation {self.history.val[-1][1]:.3f}"
            done = self.step - first
            eta = (time.monotonic() - t0) / done * (o.steps - self.step)
            report(progress, self.step / o.steps, label + (f", {eta:.0f} s left" if done >= 3 else ""))
            if self.step % o.checkpoint_every == 0 or self.step == o.steps:
                v = self.validate(val)
                if v is not None:
                    self.history.val.append((self.step, v))
                if run is not None:
                    self.save(run, meta)
        return self.history

    # ---- checkpoints

    def save(self, run: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint of this step into ``run`` (and the modules into
        ``run/adapters``); returns the checkpoint's folder."""
        from safetensors.torch import save_file

        from .. import fsutil

        run = Path(run)
        folder = run / f"checkpoint-{self.step:07d}"
        folder.mkdir(parents=True, exist_ok=True)
        self.adapters.save(folder)
        sd = self.optimizer.state_dict()
        tensors = {
            f"{i}.{k}": v.detach().cpu().contiguous()
            for i, st in sd["state"].items()
            for k, v in st.items()
            if torch.is_tensor(v)
        }
        plain = {
            f"{i}.{k}": v for i, st in sd["state"].items() for k, v in st.items() if not torch.is_tensor(v)
        }
        fsutil.write_with(
            folder / "optimizer.safetensors", lambda t: save_file(tensors, str(t)), overwrite=True
        )
        state = {
            "format": STATE_FORMAT,
            "version": 1,
            "step": self.step,
            "options": asdict(self.options),
            "param_groups": sd["param_groups"],
            "optimizer_plain": plain,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "history": asdict(self.history),
            "trainable": self.count,
            **(meta or {}),
        }
        fsutil.write_text(folder / "state.json", json.dumps(state) + "\n", overwrite=True)
        fsutil.write_text(
            run / "checkpoint.json",
            json.dumps({"latest": folder.name, "step": self.step}) + "\n",
            overwrite=True,
        )
        self.adapters.save(run / "adapters")
        old = sorted(p for p in run.glob("checkpoint-*") if p.is_dir() and p != folder)
        for p in old[: max(0, len(old) - (KEEP_CHECKPOINTS - 1))]:
            for f in p.iterdir():
                f.unlink()
            p.rmdir()
        return folder

    def restore(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Load the optimizer state, step and history of a checkpoint folder
        (the modules come from :func:`load_checkpoint`); returns its state.json."""
        from safetensors.torch import load_file

        folder = Path(folder)
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "optimizer.safetensors"))
        per: dict[int, dict[str, Any]] = {}
        for key, t in tensors.items():
            i, k = key.split(".", 1)
            per.setdefault(int(i), {})[k] = t.to(self.device)
        for key, v in state.get("optimizer_plain", {}).items():
            i, k = key.split(".", 1)
            per.setdefault(int(i), {})[k] = v
        groups = state["param_groups"]
        for g in groups:
            g["betas"] = tuple(g["betas"])
        if sum(len(g["params"]) for g in groups) != len(self.params):
            raise InputError(f"{folder}: its optimizer state does not fit these modules (another stage?).")
        self.optimizer.load_state_dict({"state": per, "param_groups": groups})
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        h = state.get("history", {})
        self.history = History(
            [(int(a), float(b)) for a, b in h.get("train", [])],
            [(int(a), float(b)) for a, b in h.get("val", [])],
        )
        return dict(state)


def latest_checkpoint(run: str | os.PathLike[str]) -> Path:
    """The newest checkpoint folder of a run, or :class:`InputError`."""
    run = Path(run)
    pointer = run / "checkpoint.json"
    if not pointer.is_file():
        raise InputError(
            f"{run}: no checkpoint in it to resume. --resume continues a run that vidmusician train started."
        )
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["latest"]
        folder = run / name
        need = [folder / n for n in (ADAPTER_CONFIG, ADAPTER_WEIGHTS, "optimizer.safetensors", "state.json")]
        if not all(p.is_file() for p in need):
            raise ValueError(f"{folder.name} is incomplete")
    except Exception as e:
        raise InputError(
            f"{run}: no checkpoint to resume ({e}). --resume continues a run that vidmusician train started."
        ) from e
    return folder


def load_checkpoint(run: str | os.PathLike[str], mg: Any) -> tuple[VidMusicianAdapters, Path, dict[str, Any]]:
    """(modules, checkpoint folder, its state.json) of a run's newest checkpoint."""
    folder = latest_checkpoint(run)
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    if state.get("format") != STATE_FORMAT:
        raise InputError(f"{folder}: not a VidMusician training checkpoint.")
    adapters = VidMusicianAdapters.load(folder, t5=musicgen_t5(mg.lm))
    return adapters, folder, state


# --------------------------------------------------------------------------- a run


@dataclass(frozen=True)
class TrainResult:
    """What a run did: where, how many trainable parameters, its losses."""

    run: Path
    adapters: Path
    base: str
    stage: int
    music_only: bool
    step: int
    trainable: int
    train_loss: float | None
    val_loss: float | None
    train_items: int
    val_items: int
    seconds: float
    warnings: tuple[str, ...]


def split(sources: Sequence[Source], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train names, validation names): a seeded share of the items held out
    (at least one when there are two or more; none with one item)."""
    names = sorted(s.name for s in sources)
    if len(names) < 2 or fraction <= 0:
        return names, []
    n_val = min(len(names) - 1, max(1, int(round(len(names) * fraction))))
    order = np.random.default_rng(seed).permutation(len(names))
    val = sorted(names[i] for i in order[:n_val])
    return [n for n in names if n not in set(val)], val


def _flag(option: str) -> str:
    return "--" + {"checkpoint_every": "every"}.get(option, option).replace("_", "-")


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def train(
    data: str | os.PathLike[str],
    run: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    note: Callable[[str], None] | None = None,
    **settings: Any,
) -> TrainResult:
    """Train VidMusician's modules on DATA into the run folder RUN.

    ``settings`` are :class:`TrainOptions` fields given explicitly. A new run
    needs a new (or empty) RUN. ``resume`` continues RUN's newest checkpoint
    with the options it was started with; only ``steps`` (the new total) may
    be given again. ``note`` receives a line for each warning as it happens.

    Raises
    ------
    InputError
        DATA holds nothing to train on; a checkpoint is missing or damaged.
    OptionError
        An option out of range, or given again on resume.
    OutputError
        RUN exists already (and ``resume`` is not set).
    Cancelled
        ``cancel`` was set (a checkpoint of the steps done is written first).
    """
    from .musicgen import load

    t_start = time.monotonic()
    run = Path(run)
    opts, state = _run_options(run, resume, settings)
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        if note is not None:
            note(text)

    sources, skipped = scan(data, opts.music_only)
    for w in skipped:
        warn(w)
    train_names, val_names = _split_names(data, sources, opts, state if resume else None)
    device = _device()
    report(progress, 0.0, f"loading {opts.base}")
    mg = load(opts.base, device)
    examples = _prepare_all(
        sources, train_names + val_names, mg, opts, scaled(progress, 0.0, 0.1), cancel, warn
    )
    feature, width = _vector_kind(data, examples)
    train_ex = [examples[n] for n in train_names]
    val_ex = [examples[n] for n in val_names]
    if not val_ex:
        val_ex = train_ex
        if not resume:
            warn("only one item: the validation loss is measured on the training item itself.")

    adapters, checkpoint = _adapters(run, mg, opts, resume, feature, width)
    trainer = _trainer(Trainer(mg, adapters, opts, device), checkpoint, run, warn)
    meta = {"data": {"train": train_names, "val": val_names}, "root": str(Path(data).resolve())}
    history, val_loss = _fit(trainer, train_ex, val_ex, run, scaled(progress, 0.1, 1.0), cancel, meta)
    result = TrainResult(
        run=run,
        adapters=run / "adapters",
        base=opts.base,
        stage=opts.stage,
        music_only=opts.music_only,
        step=trainer.step,
        trainable=trainer.count,
        train_loss=history.recent(),
        val_loss=val_loss,
        train_items=len(train_ex),
        val_items=len(val_names),
        seconds=time.monotonic() - t_start,
        warnings=tuple(warnings),
    )
    _write_log(run, result, opts, meta, history, mg)
    return result


def _run_options(run: Path, resume: bool, settings: dict[str, Any]) -> tuple[TrainOptions, dict[str, Any]]:
    """The run's options (a resumed run's own, with only ``steps`` new) and,
    on resume, its newest checkpoint's state."""
    unknown = set(settings) - {f.name for f in dataclasses.fields(TrainOptions)}
    if unknown:
        raise OptionError(f"unknown training options: {', '.join(sorted(unknown))}.")
    if not resume:
        opts = TrainOptions(**settings).check()
        if run.exists() and (not run.is_dir() or any(run.iterdir())):
            raise OutputError(
                f"{run}: exists already; VidMusician never overwrites. Continue that run with --resume "
                "or choose a new folder."
            )
        return opts, {}
    folder = latest_checkpoint(run)
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    stored = TrainOptions(**state["options"])
    clash = [k for k, v in settings.items() if k != "steps" and v != getattr(stored, k)]
    if clash:
        raise OptionError(
            f"--resume continues {run} with its own options; {', '.join(_flag(c) for c in clash)} "
            f"{'differs' if len(clash) == 1 else 'differ'} "
            f"from them (only --steps may change). Start a new run to change them."
        )
    opts = dataclasses.replace(stored, **{k: v for k, v in settings.items() if k == "steps"}).check()
    return opts, state


def _split_names(
    data: str | os.PathLike[str], sources: list[Source], opts: TrainOptions, state: dict[str, Any] | None
) -> tuple[list[str], list[str]]:
    """The items to train on and to validate on: a resumed run's own (DATA must
    still hold them), else a new split."""
    if state is None:
        return split(sources, opts.val_fraction, opts.seed)
    names = [s.name for s in sources]
    train_names, val_names = list(state["data"]["train"]), list(state["data"]["val"])
    missing = [n for n in train_names + val_names if n not in names]
    if missing:
        raise InputError(
            f"{data}: the run was trained on items it no longer holds ({', '.join(missing[:5])}); "
            "resume with the same DATA."
        )
    return train_names, val_names


def _prepare_all(
    sources: list[Source],
    use: list[str],
    mg: Any,
    opts: TrainOptions,
    prep: ProgressFn | None,
    cancel: CancelToken | None,
    warn: Callable[[str], None],
) -> dict[str, Example]:
    """Each item in ``use`` prepared (features and EnCodec tokens, cached), by name."""
    by_name = {s.name: s for s in sources}
    examples: dict[str, Example] = {}
    for i, name in enumerate(use):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        report(prep, i / len(use), f"preparing {name} ({i + 1}/{len(use)})")
        ex, notes = prepare(by_name[name], mg, opts, scaled(prep, i / len(use), (i + 1) / len(use)), cancel)
        for w in notes:
            warn(w)
        examples[name] = ex
    return examples


def _adapters(
    run: Path, mg: Any, opts: TrainOptions, resume: bool, feature: str, width: int | None
) -> tuple[VidMusicianAdapters, Path | None]:
    """The modules to train: a resumed run's (and its checkpoint), ``--init``'s,
    or new ones; they must read DATA's vectors."""
    checkpoint: Path | None = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)  # the new modules' initial weights (LoRA)
        if resume:
            adapters, checkpoint, _ = load_checkpoint(run, mg)
        elif opts.init:
            adapters = VidMusicianAdapters.load(opts.init, t5=musicgen_t5(mg.lm))
        else:
            adapters = for_model(
                mg.lm,
                opts.base,
                feature=feature,
                video_dim=width or conditioning.DESCRIPTOR_DIM,
                stage=opts.stage,
            )
    c = adapters.config
    if feature == "descriptors" and c.feature == "descriptors" and c.styles != styles.names():
        raise InputError(
            f"{opts.init or run}: the adapters were trained with the styles {', '.join(c.styles)}; "
            f"DATA's vectors follow this installation's {', '.join(styles.names())}. Register the "
            "same styles (vidmusician.core.styles) or train new adapters (without --init)."
        )
    if width is not None and (c.video_dim != width or c.feature != feature):
        raise InputError(
            f"--init {opts.init}: the adapters read {c.video_dim}-wide {c.feature} vectors, DATA gives "
            f"{width}-wide {feature} ({'add' if feature == 'descriptors' and c.feature == 'clip' else 'check'} --clip)."
        )
    return adapters, checkpoint


def _trainer(trainer: Trainer, checkpoint: Path | None, run: Path, warn: Callable[[str], None]) -> Trainer:
    """``trainer``, at the checkpoint's step when it continues one."""
    if checkpoint is not None:
        trainer.restore(checkpoint)
        if trainer.step >= trainer.options.steps:
            warn(f"{run} is at step {trainer.step} already; give a larger --steps to train on.")
    return trainer


def _vector_kind(data: str | os.PathLike[str], examples: dict[str, Example]) -> tuple[str, int | None]:
    """The kind and width of the items' semantic vectors, which must be one."""
    kinds = {(e.feature, None if e.video is None else e.video.shape[1]) for e in examples.values()}
    if len(kinds) > 1:
        raise InputError(f"{data}: its items give semantic vectors of different kinds or widths ({kinds}).")
    return next(iter(kinds))


def _fit(
    trainer: Trainer,
    train_ex: list[Example],
    val_ex: list[Example],
    run: Path,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    meta: dict[str, Any],
) -> tuple[History, float | None]:
    """Train to the last step (checkpoints into ``run``); the history and the last validation loss."""
    try:
        history = trainer.fit(train_ex, val_ex, run, progress, cancel, meta)
        if not (run / "adapters" / ADAPTER_WEIGHTS).is_file():
            trainer.save(run, meta)
        val_loss = history.val[-1][1] if history.val else trainer.validate(val_ex)
    finally:
        trainer.close()
    return history, val_loss


def _write_log(
    run: Path, r: TrainResult, opts: TrainOptions, meta: dict[str, Any], history: History, mg: Any
) -> None:
    from .. import fsutil

    log = {
        "format": "vidmusician-train-log",
        "options": asdict(opts),
        "model": {"base": opts.base, "sample_rate": int(mg.sample_rate), "frame_rate": float(mg.frame_rate)},
        "trainable": r.trainable,
        "step": r.step,
        "train_loss": r.train_loss,
        "val_loss": r.val_loss,
        "warnings": list(r.warnings),
        "seconds": round(r.seconds, 2),
        **meta,
    }
    # the loss history on one line each (a long run has thousands of steps)
    text = json.dumps({**log, "history": "@history@"}, indent=1)
    compact = json.dumps({k: [[s, round(v, 5)] for s, v in pairs] for k, pairs in asdict(history).items()})
    fsutil.write_text(run / "train.json", text.replace('"@history@"', compact) + "\n", overwrite=True)
