"""The options of a training run (``TrainOptions``) and its learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import OptionError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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
