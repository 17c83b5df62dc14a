"""An OpenAI / open_clip ViT checkpoint as a transformers CLIPModel: the sizes
read from the weights' shapes (checked against ``open_clip_config.json`` when
there is one), every weight renamed, q/k/v split from the fused projection,
and a clear message for anything that is not a CLIP ViT."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import OptionError

#: The file open_clip writes its sizes to, beside the weights.
OPEN_CLIP_CONFIG = "open_clip_config.json"
SUPPORTED = (
    "supported: open_clip/OpenAI CLIP with a ViT image tower and open_clip's standard text transformer"
)

_NOT_WEIGHTS = ("attn_mask", "input_resolution", "context_length", "vocab_size", "logit_bias")
_PAIR = ("weight", "bias")


def _layer_count(sd: dict[str, Any], prefix: str) -> int:
    found = {int(k[len(prefix) :].split(".")[0]) for k in sd if re.match(re.escape(prefix) + r"\d+\.", k)}
    return len(found) if found == set(range(len(found))) else -1


def _refuse_unsupported(sd: dict[str, Any], cfg: dict[str, Any] | None, given: str) -> None:
    vision = (cfg or {}).get("vision_cfg") or {}
    text = (cfg or {}).get("text_cfg") or {}
    if (
        isinstance(vision.get("layers"), (list, tuple))
        or "visual.attnpool.c_proj.weight" in sd
        or any(k.startswith("visual.layer1.") for k in sd)
    ):
        what = "a ModifiedResNet image tower (RN50 and kin)"
    elif vision.get("timm_model_name") or any(k.startswith("visual.trunk.") for k in sd):
        what = "a timm image tower"
    elif text.get("hf_model_name") or any(k.startswith("text.transformer.") for k in sd):
        what = "a Hugging Face text tower"
    elif vision.get("attentional_pool") or any(k.startswith("visual.attn_pool.") for k in sd):
        what = "attentional pooling (CoCa)"
    elif vision.get("ls_init_value") is not None or text.get("ls_init_value") is not None:
        what = "layer scale"
    elif vision.get("global_average_pool") or vision.get("pool_type", "tok") != "tok":
        what = f"image pooling {vision.get('pool_type', 'avg')!r}"
    elif vision.get("no_ln_pre"):
        what = "an image tower without ln_pre"
    elif text.get("embed_cls") or text.get("no_causal_mask") or text.get("pool_type", "argmax") != "argmax":
        what = "a text tower pooled other than at the end-of-text token"
    elif text.get("proj_bias"):
        what = "a text projection with bias"
    else:
        return
    raise OptionError(
        f"--clip {given}: this checkpoint has {what}, which cannot be converted; {SUPPORTED} "
        "(ViT-B/32, ViT-B/16, ViT-L/14, ViT-H/14, ...), or a transformers-format CLIP folder."
    )


@dataclass(frozen=True)
class _Sizes:
    """A CLIP ViT's sizes, read from its weights (heads and norm eps: from its config)."""

    v_width: int
    patch: int
    n_pos: int  # image positions: grid * grid + 1 (the class token)
    grid: int
    embed: int
    t_width: int
    vocab: int
    context: int
    v_layers: int
    t_layers: int
    v_mlp: int
    t_mlp: int
    v_heads: int = 0
    t_heads: int = 0
    v_eps: float = 1e-5
    t_eps: float = 1e-5

    def found(self) -> dict[str, float]:
        """The sizes by their open_clip config names."""
        return {
            "embed_dim": self.embed,
            "vision_cfg.width": self.v_width,
            "vision_cfg.layers": self.v_layers,
            "vision_cfg.patch_size": self.patch,
            "vision_cfg.image_size": self.grid * self.patch,
            "vision_cfg.mlp_ratio": self.v_mlp / self.v_width,
            "text_cfg.width": self.t_width,
            "text_cfg.layers": self.t_layers,
            "text_cfg.context_length": self.context,
            "text_cfg.vocab_size": self.vocab,
            "text_cfg.mlp_ratio": self.t_mlp / self.t_width,
        }


def convert(
    sd: dict[str, Any], cfg: dict[str, Any] | None, quick_gelu: bool, given: str
) -> tuple[Any, dict[str, Any]]:
    """An OpenAI/open_clip ViT state dict -> (transformers CLIPConfig, CLIPModel state dict)."""
    if any(k.startswith(("vision_model.", "text_model.")) for k in sd):
        raise OptionError(
            f"--clip {given}: these are transformers-format CLIP weights; give the folder holding them "
            "with their config.json instead of the weights file."
        )
    _refuse_unsupported(sd, cfg, given)
    sizes = _heads(_sizes(sd, given), cfg, given)
    return _clip_config(sizes, quick_gelu), _renamed(sd, sizes, given)


def _need(sd: dict[str, Any], given: str, key: str, ndim: int) -> Any:
    """``sd[key]``, which must be there with ``ndim`` dimensions."""
    if key not in sd:
        raise OptionError(
            f"--clip {given}: not an open_clip/OpenAI CLIP ViT checkpoint (no {key!r}); "
            f"{SUPPORTED}, or a transformers-format CLIP folder."
        )
    if sd[key].ndim != ndim:
        raise OptionError(f"--clip {given}: {key} has shape {tuple(sd[key].shape)}, not a CLIP ViT's.")
    return sd[key]


def _sizes(sd: dict[str, Any], given: str) -> _Sizes:
    """The towers' sizes, from the weights' shapes."""
    import math

    conv = _need(sd, given, "visual.conv1.weight", 4)
    v_width, patch = int(conv.shape[0]), int(conv.shape[-1])
    n_pos = int(_need(sd, given, "visual.positional_embedding", 2).shape[0])
    grid = round(math.sqrt(max(n_pos - 1, 0)))
    if conv.shape[1] != 3 or conv.shape[2] != patch or grid * grid + 1 != n_pos:
        raise OptionError(
            f"--clip {given}: patch embedding {tuple(conv.shape)} with {n_pos} positions is not a "
            f"square-image CLIP ViT; {SUPPORTED}."
        )
    v_layers = _layer_count(sd, "visual.transformer.resblocks.")
    t_layers = _layer_count(sd, "transformer.resblocks.")
    embed = int(_need(sd, given, "visual.proj", 2).shape[1])
    t_width = int(_need(sd, given, "ln_final.weight", 1).shape[0])
    vocab = int(_need(sd, given, "token_embedding.weight", 2).shape[0])
    context = int(_need(sd, given, "positional_embedding", 2).shape[0])
    if v_layers <= 0 or t_layers <= 0:
        raise OptionError(
            f"--clip {given}: the transformer blocks are missing or not numbered 0..n-1; {SUPPORTED}."
        )
    return _Sizes(
        v_width=v_width,
        patch=patch,
        n_pos=n_pos,
        grid=grid,
        embed=embed,
        t_width=t_width,
        vocab=vocab,
        context=context,
        v_layers=v_layers,
        t_layers=t_layers,
        v_mlp=int(_need(sd, given, "visual.transformer.resblocks.0.mlp.c_fc.weight", 2).shape[0]),
        t_mlp=int(_need(sd, given, "transformer.resblocks.0.mlp.c_fc.weight", 2).shape[0]),
    )


def _heads(sizes: _Sizes, cfg: dict[str, Any] | None, given: str) -> _Sizes:
    """``sizes`` with the heads and norm eps: open_clip's defaults, or its config
    (which must agree with the weights)."""
    import dataclasses
    import math

    v_heads, t_heads, v_eps, t_eps = sizes.v_width // 64, sizes.t_width // 64, 1e-5, 1e-5
    if cfg is not None:
        vision, text = cfg.get("vision_cfg") or {}, cfg.get("text_cfg") or {}
        for name, have in sizes.found().items():
            part, _, key = name.rpartition(".")
            said = (vision if part == "vision_cfg" else text if part == "text_cfg" else cfg).get(key)
            if isinstance(said, (list, tuple)) and len(set(said)) == 1:  # image_size [224, 224]
                said = said[0]
            if said is not None and not math.isclose(float(said), float(have), rel_tol=1e-3):
                raise OptionError(
                    f"--clip {given}: {OPEN_CLIP_CONFIG} says {name} {said} but the weights have "
                    f"{have:g}: config and weights are from different models; give matching ones "
                    f"(or remove {OPEN_CLIP_CONFIG} to infer the sizes from the weights)."
                )
        v_heads = sizes.v_width // int(vision.get("head_width", 64))
        t_heads = int(text.get("heads", 8))
        v_eps = float((vision.get("norm_kwargs") or {}).get("eps", 1e-5))
        t_eps = float((text.get("norm_kwargs") or {}).get("eps", 1e-5))
    for tower, width, heads in (("image", sizes.v_width, v_heads), ("text", sizes.t_width, t_heads)):
        if heads <= 0 or width % heads:
            raise OptionError(
                f"--clip {given}: the {tower} tower's width {width} does not split into {heads} heads; "
                f"give the checkpoint's {OPEN_CLIP_CONFIG} (head_width, heads) beside it."
            )
    return dataclasses.replace(sizes, v_heads=v_heads, t_heads=t_heads, v_eps=v_eps, t_eps=t_eps)


def _renamed(sd: dict[str, Any], z: _Sizes, given: str) -> dict[str, Any]:
    """The weights under transformers' CLIPModel names (float32; every weight used)."""
    import math

    import torch

    out: dict[str, Any] = {}
    used: set[str] = set()

    def take(src: str, dst: str, shape: tuple[int, ...], transpose: bool = False) -> None:
        t = _need(sd, given, src, len(shape))
        t = t.T if transpose else t
        if tuple(t.shape) != shape:
            raise OptionError(
                f"--clip {given}: {src} has shape {tuple(sd[src].shape)} where {shape} was expected "
                "from the other weights; the checkpoint is inconsistent or not a CLIP ViT."
            )
        out[dst] = t.detach().to(torch.float32).contiguous()
        used.add(src)

    towers = (
        ("visual.transformer.resblocks.", "vision_model.encoder.layers.", z.v_layers, z.v_width, z.v_mlp),
        ("transformer.resblocks.", "text_model.encoder.layers.", z.t_layers, z.t_width, z.t_mlp),
    )
    for src_prefix, dst_prefix, layers, w, mlp in towers:
        for i in range(layers):
            _take_block(take, out, f"{src_prefix}{i}.", f"{dst_prefix}{i}.", w, mlp)
    v_width, t_width, patch = z.v_width, z.t_width, z.patch
    take("visual.class_embedding", "vision_model.embeddings.class_embedding", (v_width,))
    take(
        "visual.positional_embedding", "vision_model.embeddings.position_embedding.weight", (z.n_pos, v_width)
    )
    take("visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight", (v_width, 3, patch, patch))
    take("visual.proj", "visual_projection.weight", (z.embed, v_width), transpose=True)
    take("token_embedding.weight", "text_model.embeddings.token_embedding.weight", (z.vocab, t_width))
    take("positional_embedding", "text_model.embeddings.position_embedding.weight", (z.context, t_width))
    take("text_projection", "text_projection.weight", (z.embed, t_width), transpose=True)
    for p in _PAIR:
        take(f"visual.ln_pre.{p}", f"vision_model.pre_layrnorm.{p}", (v_width,))  # transformers' spelling
        take(f"visual.ln_post.{p}", f"vision_model.post_layernorm.{p}", (v_width,))
        take(f"ln_final.{p}", f"text_model.final_layer_norm.{p}", (t_width,))
    if "logit_scale" in sd:
        take("logit_scale", "logit_scale", ())
    else:
        out["logit_scale"] = torch.tensor(math.log(1 / 0.07))
    left = sorted(k for k in sd if k not in used and k.rsplit(".", 1)[-1] not in _NOT_WEIGHTS)
    if left:
        raise OptionError(
            f"--clip {given}: {len(left)} weights have no CLIP ViT counterpart ({', '.join(left[:3])}"
            f"{', ...' if len(left) > 3 else ''}): the model has parts this converter does not handle; "
            f"{SUPPORTED}."
        )
    return out


def _take_block(take: Any, out: dict[str, Any], s: str, d: str, w: int, mlp: int) -> None:
    """One residual block ``s`` (open_clip) as ``d`` (transformers): the fused
    in-projection split into q, k and v."""
    for suffix, shape in (("weight", (3 * w, w)), ("bias", (3 * w,))):
        take(s + f"attn.in_proj_{suffix}", d + f"self_attn.in_proj_{suffix}", shape)
        q, k, v = out.pop(d + f"self_attn.in_proj_{suffix}").chunk(3, dim=0)
        for name, part in (("q", q), ("k", k), ("v", v)):
            out[d + f"self_attn.{name}_proj.{suffix}"] = part.contiguous()
    take(s + "attn.out_proj.weight", d + "self_attn.out_proj.weight", (w, w))
    take(s + "attn.out_proj.bias", d + "self_attn.out_proj.bias", (w,))
    for p in _PAIR:
        take(s + f"ln_1.{p}", d + f"layer_norm1.{p}", (w,))
        take(s + f"ln_2.{p}", d + f"layer_norm2.{p}", (w,))
    take(s + "mlp.c_fc.weight", d + "mlp.fc1.weight", (mlp, w))
    take(s + "mlp.c_fc.bias", d + "mlp.fc1.bias", (mlp,))
    take(s + "mlp.c_proj.weight", d + "mlp.fc2.weight", (w, mlp))
    take(s + "mlp.c_proj.bias", d + "mlp.fc2.bias", (w,))


def _clip_config(z: _Sizes, quick_gelu: bool) -> Any:
    """The transformers CLIPConfig of these sizes."""
    from transformers import CLIPConfig

    act = "quick_gelu" if quick_gelu else "gelu"
    return CLIPConfig(
        text_config=dict(
            vocab_size=z.vocab,
            hidden_size=z.t_width,
            intermediate_size=z.t_mlp,
            num_hidden_layers=z.t_layers,
            num_attention_heads=z.t_heads,
            max_position_embeddings=z.context,
            hidden_act=act,
            layer_norm_eps=z.t_eps,
            bos_token_id=max(z.vocab - 2, 0),
            eos_token_id=2,  # transformers' legacy pooling: at the argmax token id, as open_clip pools
            pad_token_id=0,
        ),
        vision_config=dict(
            image_size=z.grid * z.patch,
            patch_size=z.patch,
            hidden_size=z.v_width,
            intermediate_size=z.v_mlp,
            num_hidden_layers=z.v_layers,
            num_attention_heads=z.v_heads,
            hidden_act=act,
            layer_norm_eps=z.v_eps,
        ),
        projection_dim=z.embed,
    )
