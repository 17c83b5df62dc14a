"""The VidMusician modules' cost on a MusicGen-small-sized model, against the 10% limit.

Run: .venv/bin/python benchmark/bench_neural.py [--seconds 4] [--runs 2] [--device cpu|cuda]

A randomly initialised LM the size of MusicGen-small (width 1024, 24 layers,
16 heads, 4 codebooks of 2048, 50 Hz tokens, a text cross-attention like
MusicGen's, here on a lookup-table conditioner) and a 32 kHz EnCodec-sized
codec generate the same number of seconds twice in one run: plain, and with
the semantic path (cross-attention in every layer on 30 s of picture) and
the rhythm path (in-attention in 18 of the 24 blocks) attached and
conditioned. Prints both real-time factors and the ratio. Nothing is
downloaded; on the CPU the model runs far slower than real time (the figure
that matters is the ratio).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import best


def small_sized(device: str):  # MusicGen-small's sizes, random weights
    from audiocraft.models import MusicGen
    from audiocraft.models.encodec import EncodecModel
    from audiocraft.models.lm import LMModel
    from audiocraft.modules import SEANetDecoder, SEANetEncoder
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider, LUTConditioner
    from audiocraft.quantization import ResidualVectorQuantizer

    torch.manual_seed(0)
    seanet = {"n_filters": 64, "n_residual_layers": 1, "dimension": 128, "ratios": [8, 5, 4, 4]}
    quantizer = ResidualVectorQuantizer(dimension=128, bins=2048, n_q=4)
    codec = EncodecModel(
        SEANetEncoder(**seanet),
        SEANetDecoder(**seanet),
        quantizer,
        frame_rate=50,
        sample_rate=32000,
        channels=1,
    )
    dim = 1024
    provider = ConditioningProvider(
        {"description": LUTConditioner(n_bins=1024, dim=dim, output_dim=dim, tokenizer="noop")}
    )
    fuser = ConditionFuser({"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []})
    lm = LMModel(
        DelayedPatternProvider(n_q=4),
        provider,
        fuser,
        n_q=4,
        card=2048,
        dim=dim,
        num_heads=16,
        num_layers=24,
        hidden_scale=4,
        norm_first=True,
        custom=True,
        cross_attention=True,
        causal=True,
        positional_embedding="sin",
    )
    return MusicGen("small-sized", codec.to(device).eval(), lm.to(device).eval(), max_duration=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    from vidmusician.core.neural.adapters import for_model

    mg = small_sized(args.device)
    mg.set_generation_params(duration=args.seconds, use_sampling=True, top_k=250, cfg_coef=3.0)
    params = sum(p.numel() for p in mg.lm.parameters())

    def run() -> None:
        with torch.no_grad():
            torch.manual_seed(1)
            mg.generate(["calm"])

    plain = best(run, args.runs)
    adapters = for_model(mg.lm, "small-sized", video_dim=512).to(args.device).eval()
    adapters.attach(mg.lm)
    steps = int(30 * mg.frame_rate) + 8
    with torch.no_grad():
        t0 = time.perf_counter()
        adapters.condition(
            torch.randn(1, 30, 512, device=args.device), torch.rand(1, steps, 2, device=args.device)
        )
        cond_s = time.perf_counter() - t0
    with_modules = best(run, args.runs)
    adapters.detach()
    rtf_plain, rtf_mod = plain / args.seconds, with_modules / args.seconds
    where = (
        torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"MusicGen-small-sized random LM ({params / 1e6:.0f} M parameters) on {where}, {args.seconds:g} s of music"
    )
    print(f"plain MusicGen       {plain:7.2f} s  ({rtf_plain:.2f} s per second of music)")
    print(f"with VidMusician     {with_modules:7.2f} s  ({rtf_mod:.2f} s per second of music)")
    print(f"conditioning (once per window, 30 s of picture): {cond_s:.3f} s")
    print(
        f"modules' overhead = {with_modules / plain:.3f}x  (limit 1.10x), trainable {adapters.count(2) / 1e6:.1f} M"
    )


if __name__ == "__main__":
    main()
