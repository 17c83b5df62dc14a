"""Batches, the loss and the trainer: windows cut from prepared items
(:func:`make_batch`), MusicGen's own cross-entropy over them
(:func:`token_losses`, :func:`mean_loss`), the :class:`Trainer` (optimizer
steps, validation, checkpoints) and reading a run's checkpoints back
(:func:`latest_checkpoint`, :func:`load_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import Cancelled, InputError, OptionError
from ...progress import CancelToken, ProgressFn, report
from ..adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, VidMusicianAdapters, musicgen_t5
from .data import Example
from .options import TrainOptions

STATE_FORMAT = "vidmusician-train-state"
KEEP_CHECKPOINTS = 2


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

        from ... import fsutil

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
