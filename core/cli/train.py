"""The ``train`` command: the neural backend's adapters, in two stages."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .console import Console


def add_train(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train the neural backend's adapters on videos with their music (two stages)",
        description="Train VidMusician's modules on a frozen MusicGen. DATA is a folder of videos with their "
        "music (each video's own audio track, or an audio file of the same name beside it); with --music-only, "
        "a folder of music alone (the rhythm path learns from the music's onsets). Stage 1 trains the semantic "
        "path, stage 2 the rhythm path as well. Features and EnCodec tokens are cached; RUN gets checkpoints, "
        "train.json and adapters/ (for score --adapters).",
    )
    p.add_argument(
        "data", metavar="DATA", help="folder of videos with their music (or of music: --music-only)"
    )
    p.add_argument("-o", "--output", metavar="RUN", required=True, help="a new folder for the run")
    p.add_argument(
        "--stage", type=int, choices=(1, 2), help="1: semantic path; 2: rhythm path too (default: 1)"
    )
    p.add_argument(
        "--base",
        metavar="MODEL",
        help="MusicGen: debug, a checkpoint folder or a cached name (default: debug)",
    )
    p.add_argument(
        "--init", metavar="ADAPTERS", help="start from these adapters (a stage 1 run's RUN/adapters)"
    )
    p.add_argument(
        "--music-only", action="store_true", help="DATA is music alone: train the rhythm path on its onsets"
    )
    p.add_argument("--steps", type=int, metavar="N", help="optimizer steps in all (default: 1000)")
    p.add_argument("--batch", type=int, metavar="N", help="windows per micro-batch (default: 4)")
    p.add_argument("--accumulate", type=int, metavar="N", help="micro-batches per step (default: 1)")
    p.add_argument("--lr", type=float, metavar="LR", help="peak learning rate (default: 3e-4)")
    p.add_argument("--seconds", type=float, metavar="S", help="length of a training window (default: 10)")
    p.add_argument(
        "--seed", type=int, metavar="N", help="seed of the split, windows and dropout (default: 0)"
    )
    p.add_argument(
        "--every",
        type=int,
        metavar="N",
        help="steps between checkpoints and validation losses (default: 200)",
    )
    p.add_argument(
        "--clip", metavar="PATH", help="local CLIP checkpoint: the semantic path reads CLIP embeddings"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="forward-pass arithmetic: auto = bf16 (or fp16 with loss scaling) on a GPU, fp32 on CPU "
        "(default: auto)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN from its newest checkpoint (only --steps may change)",
    )
    p.set_defaults(func=cmd_train)


#: ``train``'s flags that pass through to :func:`~vidmusician.core.neural.train.train` as they are
_SETTINGS = (
    "stage",
    "base",
    "init",
    "steps",
    "batch",
    "accumulate",
    "lr",
    "seconds",
    "seed",
    "clip",
    "precision",
)


def cmd_train(args: argparse.Namespace, console: Console, cancel: threading.Event) -> int:
    from ..neural.train import train

    settings = {n: getattr(args, n) for n in _SETTINGS if getattr(args, n) is not None}
    if args.every is not None:
        settings["checkpoint_every"] = args.every
    if args.music_only:
        settings["music_only"] = True
    result = train(
        args.data,
        args.output,
        resume=args.resume,
        progress=console.progress,
        cancel=cancel,
        note=console.warn,
        **settings,
    )
    console.close()
    what = {1: "semantic path and LoRA", 2: "semantic path, LoRA and rhythm path"}[result.stage]
    if result.music_only:
        what = "rhythm path, from the music's onsets"
    fmt = lambda x: "not measured" if x is None else f"{x:.4f}"  # noqa: E731
    held = f"{result.val_items} held out" if result.val_items else "measured on the training item"
    print(
        f"trainable parameters: {result.trainable:,} (stage {result.stage}: {what})\n"
        f"step {result.step}: train loss {fmt(result.train_loss)}, validation loss {fmt(result.val_loss)} "
        f"(items: {result.train_items} trained on, {held}; nats per token)\n"
        f"adapters: {result.adapters} (vidmusician score INPUT -o OUT --backend musicgen "
        f"--model {result.base} --adapters {result.adapters})",
        file=console.out,
    )
    return 0
