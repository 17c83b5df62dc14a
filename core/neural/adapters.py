"""VidMusician's modules on a frozen MusicGen LM (arXiv 2412.06296).

Two paths steer a pretrained audiocraft ``LMModel`` by video, attached with
forward hooks so that the LM's own modules and state dict stay exactly as
they were:

- **Semantic path (global features).** Per-second visual embeddings (CLIP
  [CLS], or the analysis' shot descriptors) go through an *embedding
  manager* (a linear map into T5's input space), a T5 encoder with LoRA (a
  copy of MusicGen's own T5 when it has one, so its text conditioning is
  untouched), and a *projector* into the LM's width. Every transformer layer
  gets a new cross-attention block on that memory, added after the layer,
  whose output projection is zero-initialised: untrained, it adds exactly 0.
- **Rhythm path (local features), "in-attention".** A per-step curve (the
  picture's change d_t = 1 - cos(p_t, p_{t-1}), with the cuts as impulses,
  see :mod:`.conditioning`) goes through a zero-initialised linear, then one
  identity-initialised linear per block, and the result is added to the
  hidden state entering each of the first three quarters of the blocks
  (before their self-attention). During step-by-step generation each step
  gets the slice for its own position: the position comes from the
  transformer's streaming offset.

With classifier-free guidance the LM runs a doubled batch (conditional rows,
then the null condition): the video paths act on the conditional rows only,
so guidance amplifies them like any other condition.

Only these modules (and LoRA) train; MusicGen's weights are frozen. They
save as safetensors plus a JSON config, and load without unpickling.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ..styles import BUILTIN_NAMES, names

ADAPTER_WEIGHTS = "adapters.safetensors"
ADAPTER_CONFIG = "adapters.json"
FORMAT = "vidmusician-adapters"


@dataclass(frozen=True)
class AdapterConfig:
    """Sizes and provenance of a set of VidMusician modules.

    Attributes
    ----------
    base : str
        The MusicGen model the modules were made for (``debug``, a hub name, a folder name).
    dim, num_layers, num_heads : int
        The LM's width, depth and cross-attention heads.
    feature : "clip" | "descriptors"
        What the semantic path reads.
    video_dim : int
        Width of one visual embedding.
    t5_dim : int
        T5's width (the embedding manager's output).
    t5 : str
        ``"musicgen"`` (a copy of the LM's T5 conditioner) or ``"tiny"`` (a
        small T5 built from config, for models without one).
    rhythm_dim : int
        Features per step of the rhythm curve.
    delays : int
        MusicGen's codebook delays (its number of codebooks): step ``s`` of the
        delayed pattern holds codebook ``k`` of frame ``s - k``, so every step
        reads the curve at ``s, s-1, ..., s-delays+1`` and each codebook can
        find its own frame's change.
    rhythm_blocks : int
        How many blocks (from the first) get the rhythm vector.
    lora_rank : int
    stage : int
        1 = semantic path trained, 2 = rhythm path too.
    styles : tuple of str
        The style list (in order) of the descriptor vector's one-hot style
        when they were trained (the registry's, ``core.styles``); configs
        saved before it was recorded read as the built-in seven. At load the
        backend maps it to the registry by name or refuses a different one
        (``conditioning.style_order``).
    """

    base: str
    dim: int
    num_layers: int
    num_heads: int
    feature: str = "descriptors"
    video_dim: int = 16
    t5_dim: int = 32
    t5: str = "tiny"
    rhythm_dim: int = 2
    delays: int = 1
    rhythm_blocks: int = 0
    lora_rank: int = 8
    stage: int = 1
    styles: tuple[str, ...] = BUILTIN_NAMES

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", tuple(str(s) for s in self.styles))  # JSON gives a list
        if self.rhythm_blocks <= 0:
            object.__setattr__(self, "rhythm_blocks", max(1, (3 * self.num_layers) // 4))


def tiny_t5(d_model: int) -> nn.Module:
    """A small randomly initialised T5 encoder (models without a T5 conditioner, tests)."""
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(
        vocab_size=32,
        d_model=d_model,
        d_kv=max(4, d_model // 4),
        d_ff=2 * d_model,
        num_layers=2,
        num_heads=4,
        dropout_rate=0.0,
        is_encoder_decoder=False,
    )
    with torch.random.fork_rng():  # the same small T5 every time, the caller's RNG untouched
        torch.manual_seed(0)
        return T5EncoderModel(cfg)


def musicgen_t5(lm: Any) -> nn.Module | None:
    """MusicGen's own T5 encoder (its text conditioner), if it has one."""
    provider = getattr(lm, "condition_provider", None)
    for cond in getattr(provider, "conditioners", {}).values():
        t5 = getattr(cond, "t5", None)
        if t5 is not None:
            return t5  # type: ignore[no-any-return]
    return None


class CrossBlock(nn.Module):
    """The cross-attention block added to one transformer layer (output zero-initialised)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        h = self.attn.num_heads
        return t.view(b, n, h, d // h).transpose(1, 2)

    def kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory's keys and values, [B, heads, N, head_dim] each: computed once
        per conditioning, not at every generated step."""
        d = memory.shape[-1]
        w, b = self.attn.in_proj_weight, self.attn.in_proj_bias
        k = torch.nn.functional.linear(memory, w[d : 2 * d], b[d : 2 * d])
        v = torch.nn.functional.linear(memory, w[2 * d :], b[2 * d :])
        return self._heads(k), self._heads(v)

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Multi-head attention of ``x`` on the memory (as ``nn.MultiheadAttention`` computes it)."""
        d = x.shape[-1]
        q = torch.nn.functional.linear(self.norm(x), self.attn.in_proj_weight[:d], self.attn.in_proj_bias[:d])
        k, v = kv
        o = torch.nn.functional.scaled_dot_product_attention(self._heads(q), k.to(q.dtype), v.to(q.dtype))
        o = o.transpose(1, 2).reshape(x.shape)
        return self.attn.out_proj(o)  # type: ignore[no-any-return]


class VidMusicianAdapters(nn.Module):
    """The semantic and rhythm paths; see the module docstring.

    Use :meth:`attach` on an ``LMModel``, :meth:`condition` before a forward
    pass or a generation, :meth:`detach` to take the hooks off.
    """

    def __init__(self, config: AdapterConfig, t5: nn.Module | None = None):
        super().__init__()
        self.config = config
        c = config
        # semantic path
        self.embed_manager = nn.Linear(c.video_dim, c.t5_dim)
        if t5 is None:
            t5 = tiny_t5(c.t5_dim)
        self.t5 = self._with_lora(t5, c.lora_rank)
        self.projector = nn.Linear(c.t5_dim, c.dim)
        self.cross = nn.ModuleList(CrossBlock(c.dim, c.num_heads) for _ in range(c.num_layers))
        # rhythm path
        self.rhythm_in = nn.Linear(c.rhythm_dim * c.delays, c.dim)
        nn.init.zeros_(self.rhythm_in.weight)
        nn.init.zeros_(self.rhythm_in.bias)
        blocks = [nn.Linear(c.dim, c.dim) for _ in range(c.rhythm_blocks)]
        for lin in blocks:
            nn.init.eye_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.rhythm_blocks = nn.ModuleList(blocks)
        self._handles: list[Any] = []
        self._memory: torch.Tensor | None = None
        self._kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._rhythm: torch.Tensor | None = None  # [B, S, rhythm_dim], the curve itself
        self._rhythm_maps: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._positions: tuple[int, int] = (0, 0)

    @staticmethod
    def _with_lora(t5: nn.Module, rank: int) -> nn.Module:
        from peft import LoraConfig, get_peft_model

        t5 = copy.deepcopy(t5)  # MusicGen's own text conditioning keeps its T5 as it is
        for p in t5.parameters():
            p.requires_grad_(False)
        lora = LoraConfig(r=rank, lora_alpha=rank, target_modules=["q", "v"], lora_dropout=0.0)
        import warnings

        with warnings.catch_warnings():  # transformers' deprecation notes that peft triggers
            warnings.simplefilter("ignore", FutureWarning)
            return get_peft_model(t5, lora)  # type: ignore[no-any-return]

    # ---- parameters

    def trainable(self, stage: int | None = None) -> list[nn.Parameter]:
        """The parameters a training stage updates (stage 1: semantic path and
        LoRA; stage 2: the rhythm path as well)."""
        stage = self.config.stage if stage is None else stage
        out = [p for n, p in self.named_parameters() if "lora_" in n]
        for m in (self.embed_manager, self.projector, self.cross):
            out += list(m.parameters())
        if stage >= 2:
            out += list(self.rhythm_in.parameters()) + list(self.rhythm_blocks.parameters())
        return out

    def count(self, stage: int | None = None) -> int:
        return sum(p.numel() for p in self.trainable(stage))

    # ---- conditioning

    def semantic_memory(self, video: torch.Tensor) -> torch.Tensor:
        """[B, N, video_dim] per-second embeddings -> [B, N, dim] memory."""
        h = self.embed_manager(video)
        enc = self.t5(inputs_embeds=h).last_hidden_state
        return self.projector(enc)  # type: ignore[no-any-return]

    def condition(self, video: torch.Tensor | None = None, rhythm: torch.Tensor | None = None) -> None:
        """Set the video for the next forward passes (None: that path is off).

        ``video`` [B, N, video_dim]; ``rhythm`` [B, S, rhythm_dim], one row
        per sequence step from the first step of the generation.
        """
        self._memory = None if video is None else self.semantic_memory(video)
        memory = self._memory
        self._kv = (
            []
            if memory is None
            else [block.kv(memory) for block in self.cross if isinstance(block, CrossBlock)]
        )
        self._rhythm = None if rhythm is None else self._delayed(rhythm)
        # block i adds W_i (W_in r + b_in) + b_i = (W_i W_in) r + (W_i b_in + b_i): the two
        # linears are composed once here, so a generated step costs a (dim x rhythm_dim) product
        self._rhythm_maps = []
        if rhythm is not None:
            w_in, b_in = self.rhythm_in.weight, self.rhythm_in.bias
            for lin in self.rhythm_blocks:
                assert isinstance(lin, nn.Linear)
                self._rhythm_maps.append((lin.weight @ w_in, lin.weight @ b_in + lin.bias))

    def _delayed(self, rhythm: torch.Tensor) -> torch.Tensor:
        """[B, S, rhythm_dim] -> [B, S, rhythm_dim * delays]: the curve at s, s-1, ..."""
        parts = [rhythm]
        for k in range(1, self.config.delays):
            parts.append(torch.nn.functional.pad(rhythm, (0, 0, k, 0))[:, : rhythm.shape[1]])
        return torch.cat(parts, dim=-1)

    # ---- hooks

    def attach(self, lm: Any) -> VidMusicianAdapters:
        """Hook the paths into ``lm`` (an audiocraft ``LMModel``); returns self."""
        self.detach()
        transformer = lm.transformer
        layers = list(transformer.layers)
        if len(layers) != self.config.num_layers:
            raise InputError(
                f"adapters made for {self.config.num_layers} layers, the model has {len(layers)} "
                f"(they were trained on {self.config.base})."
            )

        def where(module: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            offsets = getattr(transformer, "_streaming_state", {}).get("offsets")
            start = int(offsets[0]) if offsets is not None else 0
            self._positions = (start, start + int(x.shape[1]))

        self._handles.append(transformer.register_forward_pre_hook(where))
        for i, layer in enumerate(layers):
            if i < len(self.rhythm_blocks):
                self._handles.append(layer.register_forward_pre_hook(self._rhythm_hook(i), with_kwargs=True))
            self._handles.append(layer.register_forward_hook(self._cross_hook(i)))
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _rows(self, x: torch.Tensor, cond: torch.Tensor) -> int:
        """How many leading rows of ``x`` are conditional (CFG doubles the batch)."""
        b = cond.shape[0]
        if x.shape[0] == b:
            return b
        if x.shape[0] == 2 * b:
            return b
        raise InputError(f"video conditioning for {b} rows, the model runs {x.shape[0]}.")

    def _rhythm_hook(self, i: int) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if self._rhythm is None:
                return None
            x = args[0]
            s0, s1 = self._positions
            r = self._rhythm[:, s0:s1]
            if r.shape[1] < x.shape[1]:  # past the end of the curve: nothing more to add
                r = torch.nn.functional.pad(r, (0, 0, 0, x.shape[1] - r.shape[1]))
            n = self._rows(x, r)
            a, c = self._rhythm_maps[i]
            add = torch.nn.functional.linear(r, a, c).to(x.dtype)
            x = torch.cat([x[:n] + add, x[n:]], dim=0)
            return (x, *args[1:]), kwargs

        return hook

    def _cross_hook(self, i: int) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> Any:
            if self._memory is None:
                return None
            n = self._rows(out, self._memory)
            extra = self.cross[i](out[:n], self._kv[i])
            return torch.cat([out[:n] + extra, out[n:]], dim=0)

        return hook

    # ---- files

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the trainable weights (safetensors) and the config (JSON) into ``folder``."""
        from safetensors.torch import save_file

        from .. import fsutil

        folder = Path(folder)
        names = {id(p) for p in self.trainable(2)}
        if self.config.t5 == "tiny":  # not part of any MusicGen: its weights travel with the adapters
            names |= {id(p) for p in self.t5.parameters()}
        tensors = {n: p.detach().cpu().contiguous() for n, p in self.named_parameters() if id(p) in names}
        fsutil.write_with(folder / ADAPTER_WEIGHTS, lambda tmp: save_file(tensors, str(tmp)), overwrite=True)
        meta = {"format": FORMAT, "version": 1, "config": asdict(self.config)}
        fsutil.write_text(folder / ADAPTER_CONFIG, json.dumps(meta, indent=2) + "\n", overwrite=True)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], t5: nn.Module | None = None) -> VidMusicianAdapters:
        """Read what :meth:`save` wrote (safetensors: no code runs on loading)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg_path, w_path = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
        if not cfg_path.is_file() or not w_path.is_file():
            raise InputError(
                f"--adapters {folder}: needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS} "
                "(what vidmusician train writes)."
            )
        try:
            meta = json.loads(cfg_path.read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError("not a VidMusician adapter config")
            config = AdapterConfig(**meta["config"])
            tensors = load_file(str(w_path))
        except Exception as e:
            raise InputError(f"--adapters {folder}: not readable ({e}).") from e
        # "tiny": the T5 is the adapters' own (its weights are in the file); "musicgen": the model's
        adapters = cls(config, t5 if config.t5 == "musicgen" else None)
        if config.t5 == "musicgen" and t5 is None:
            raise InputError(
                f"--adapters {folder}: they use MusicGen's T5 text encoder, and this model has none "
                f"(they were trained on {config.base})."
            )
        own = dict(adapters.named_parameters())
        wrong = [n for n, t in tensors.items() if n not in own or own[n].shape != t.shape]
        if wrong:
            raise InputError(
                f"--adapters {folder}: {len(wrong)} weights do not fit these modules (first: {wrong[0]})."
            )
        with torch.no_grad():
            for n, t in tensors.items():
                own[n].copy_(t)
        return adapters


def for_model(
    lm: Any, base: str, feature: str = "descriptors", video_dim: int = 16, **kw: Any
) -> VidMusicianAdapters:
    """New (untrained) modules sized for ``lm``."""
    t5: Any = musicgen_t5(lm)
    dim = int(lm.dim)
    layers = len(lm.transformer.layers)
    heads = int(lm.transformer.layers[0].self_attn.num_heads)
    t5_dim = int(t5.config.d_model) if t5 is not None else max(32, dim)
    kw.setdefault("delays", int(getattr(lm, "n_q", 1)))
    kw.setdefault("styles", names())  # the one-hot order the semantic vectors are made in
    config = AdapterConfig(
        base=base,
        dim=dim,
        num_layers=layers,
        num_heads=heads,
        feature=feature,
        video_dim=video_dim,
        t5_dim=t5_dim,
        t5="musicgen" if t5 is not None else "tiny",
        **kw,
    )
    return VidMusicianAdapters(config, t5)
