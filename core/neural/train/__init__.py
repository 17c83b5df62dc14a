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
[seconds, dim] and rhythm curve [T, 2] (:mod:`..conditioning`), and a text
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

The package: :mod:`.options` (the options and the schedule), :mod:`.data`
(DATA, encoding, onset curves, the prepared items and their cache),
:mod:`.trainer` (batches, the loss, the trainer, checkpoints); here the run
itself (:func:`train`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import styles
from ...errors import Cancelled, InputError, OptionError, OutputError
from ...progress import CancelToken, ProgressFn, report, scaled
from .. import conditioning
from ..adapters import ADAPTER_WEIGHTS, VidMusicianAdapters, for_model, musicgen_t5
from .data import Example, Source, encode, has_audio_track, onset_curve, prepare, scan
from .options import PRECISIONS, TrainOptions
from .trainer import (
    Batch,
    History,
    Trainer,
    amp_dtype,
    condition_tensors,
    latest_checkpoint,
    load_checkpoint,
    make_batch,
    mean_loss,
    token_losses,
)

__all__ = [
    "PRECISIONS",
    "Batch",
    "Example",
    "History",
    "Source",
    "TrainOptions",
    "TrainResult",
    "Trainer",
    "amp_dtype",
    "condition_tensors",
    "encode",
    "has_audio_track",
    "latest_checkpoint",
    "load_checkpoint",
    "make_batch",
    "mean_loss",
    "onset_curve",
    "prepare",
    "scan",
    "split",
    "token_losses",
    "train",
]

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
    from ..musicgen import load

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
    from ... import fsutil

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
