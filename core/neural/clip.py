"""CLIP image features, when the user has a local checkpoint.

Given a local CLIP checkpoint, :class:`ClipEncoder` turns analysis frames into

- [CLS] image embeddings (the projected, L2-normalised ``image_embeds``), one
  per frame given, which the analysis lays out one per second;
- patch features (the vision transformer's last hidden state without the
  [CLS] token), for the neural backend's rhythm path;
- zero-shot tags: mood and genre words scored against the embeddings, when
  the checkpoint has a tokenizer.

Two checkpoint formats are read:

- Hugging Face ``transformers``: a folder with ``config.json`` and
  ``model.safetensors``/``pytorch_model.bin``, as ``save_pretrained`` writes
  it, or a model name already in the local Hugging Face cache;
- open_clip / OpenAI: a folder as the Hugging Face hub stores open_clip models
  (``open_clip_config.json`` plus ``open_clip_model.safetensors`` or
  ``open_clip_pytorch_model.bin``; such a repository already in the local cache
  may be named too, ``hf-hub:`` prefix allowed), or a single checkpoint file
  (``.pt``/``.pth``/``.bin``/``.safetensors``) holding an OpenAI/open_clip ViT
  state dict, bare, wrapped in ``{"state_dict": ...}`` with ``module.``
  prefixes, or OpenAI's TorchScript release. Without a config the model's
  sizes are read from the tensor shapes, as OpenAI's ``build_model`` does
  (an ``open_clip_config.json`` beside the file is used when there is one).
  These are converted to transformers' ``CLIPModel`` at load time (the key
  mapping of transformers' ``convert_clip_original_pytorch_to_hf.py``);
  the ``open_clip`` library itself is not needed. Only ViT image towers with
  open_clip's standard text transformer are supported: ModifiedResNet, timm
  or Hugging Face towers, attentional pooling and layer scale are refused.
  The activation is quick_gelu when the config says ``quick_gelu`` (or, for a
  single file without config, when it is OpenAI's format: a bare state dict
  or TorchScript archive, or ``quickgelu`` in the file name), gelu otherwise
  (open_clip's own training checkpoints). open_clip checkpoints carry no
  tokenizer; one is used when ``tokenizer.json`` or ``vocab.json`` +
  ``merges.txt`` sit beside the weights, otherwise there are no zero-shot tags.

torch and transformers are imported only when an encoder is loaded. Nothing
is downloaded: a checkpoint that is not on disk is a clear error.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OptionError

#: CLIP's own pixel normalisation (RGB).
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)

MOOD_TAGS = (
    "calm",
    "tense",
    "happy",
    "sad",
    "energetic",
    "dark",
    "romantic",
    "epic",
    "playful",
    "mysterious",
)
GENRE_TAGS = (
    "documentary",
    "sports",
    "wedding",
    "travel",
    "corporate",
    "horror",
    "action",
    "nature",
    "city",
    "music video",
)
TEMPLATE = "a {} video"


def available() -> bool:
    """True when torch and transformers are installed (a checkpoint is still needed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


@dataclass(frozen=True)
class ClipFeatures:
    """CLIP features laid out in record time.

    Attributes
    ----------
    times_s : ndarray [shape=(n,)]
        Seconds from the timeline's first frame, about one per second of picture.
    cls : ndarray [shape=(n, d)]
        L2-normalised image embeddings.
    patches : ndarray [shape=(n, p, h)]
        Patch tokens of the last vision layer (p patches of width h).
    model : str
        The checkpoint they came from.
    """

    times_s: np.ndarray
    cls: np.ndarray
    patches: np.ndarray
    model: str


class ClipEncoder:
    """A loaded CLIP model; see :meth:`load`."""

    def __init__(self, model: Any, tokenizer: Any, name: str, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.image_size = int(model.config.vision_config.image_size)

    @classmethod
    def load(cls, path_or_name: str | os.PathLike[str], device: str = "cpu") -> ClipEncoder:
        """Load a CLIP checkpoint from disk (never downloads): transformers format, or an
        open_clip/OpenAI checkpoint (folder or single file) converted to transformers'
        ``CLIPModel`` (see the module docstring).

        Raises
        ------
        OptionError
            torch/transformers missing, no checkpoint where it was looked for, or a
            checkpoint that cannot be read or converted.
        """
        if not available():
            raise OptionError(
                "CLIP features need torch and transformers: pip install torch==2.13.0 transformers "
                "(or run without --clip: the analysis works without model weights)."
            )
        from transformers import AutoTokenizer, CLIPModel

        given = str(path_or_name)
        where = Path(path_or_name).expanduser()
        if where.is_file() or (
            where.is_dir() and not (where / "config.json").is_file() and _is_open_clip_folder(where)
        ):
            model, tokenizer = _load_open_clip(where, given)
            return cls(model, tokenizer, given, device)
        repo = given.removeprefix("hf-hub:")
        local = where.is_dir()
        hub_name = re.fullmatch(r"[\w.-]+/[\w.-]+", repo) is not None and not where.exists()
        if not local and not hub_name:
            raise OptionError(
                f"--clip {path_or_name}: no CLIP checkpoint folder or file there. Give a folder holding "
                "config.json and model.safetensors (what transformers' save_pretrained writes), "
                "an open_clip folder (open_clip_config.json and open_clip_model.safetensors), "
                "a single open_clip/OpenAI checkpoint file (.pt, .pth, .bin, .safetensors), "
                "or the name of a model already in your Hugging Face cache."
            )
        try:
            model = CLIPModel.from_pretrained(str(where if local else repo), local_files_only=True)
        except Exception as e:
            snapshot = _cached_snapshot(repo) if hub_name else None
            if snapshot is not None and _is_open_clip_folder(snapshot):
                model, tokenizer = _load_open_clip(snapshot, given)
                return cls(model, tokenizer, given, device)
            looked = (
                str(where)
                if local
                else f"the Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')})"
            )
            raise OptionError(
                f"--clip {path_or_name}: cannot load a CLIP model from {looked}: {_short(e)}. "
                "Download it once where you have network access (for example "
                "huggingface-cli download openai/clip-vit-base-patch32) or give a local folder "
                "(transformers or open_clip format) or an open_clip/OpenAI checkpoint file."
            ) from e
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(where if local else repo), local_files_only=True)
        except Exception:
            tokenizer = None  # embeddings still work; zero-shot tags need text
        return cls(model, tokenizer, given, device)

    def preprocess(self, frames_bgr: np.ndarray) -> Any:
        """BGR uint8 frames [shape=(n, h, w, 3)] -> normalised RGB tensor (n, 3, s, s):
        shorter side resized to the model's image size, centre crop."""
        import cv2
        import torch

        s = self.image_size
        out = np.empty((len(frames_bgr), s, s, 3), np.float32)
        for i, img in enumerate(frames_bgr):
            h, w = img.shape[:2]
            scale = s / min(h, w)
            rw, rh = max(s, round(w * scale)), max(s, round(h * scale))
            big = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_CUBIC)
            y, x = (rh - s) // 2, (rw - s) // 2
            rgb = big[y : y + s, x : x + s, ::-1].astype(np.float32) / 255.0
            out[i] = (rgb - MEAN) / STD
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(self.device)

    def encode(self, frames_bgr: np.ndarray, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """[CLS] embeddings [shape=(n, d)] and patch features [shape=(n, p, h)]."""
        import torch

        cls_out, patch_out = [], []
        with torch.inference_mode():
            for i in range(0, len(frames_bgr), batch):
                pixels = self.preprocess(frames_bgr[i : i + batch])
                vis = self.model.vision_model(pixel_values=pixels)
                emb = self.model.visual_projection(vis.pooler_output)
                emb = emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                cls_out.append(emb.float().cpu().numpy())
                patch_out.append(vis.last_hidden_state[:, 1:].float().cpu().numpy())
        d = int(self.model.config.projection_dim)
        if not cls_out:
            return np.zeros((0, d), np.float32), np.zeros((0, 0, 0), np.float32)
        return np.concatenate(cls_out), np.concatenate(patch_out)

    def zero_shot(self, cls: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
        """Probabilities [shape=(n, len(labels))] of each label for each embedding.

        Raises ``OptionError`` when the checkpoint has no tokenizer.
        """
        import torch

        if self.tokenizer is None:
            raise OptionError(f"{self.name}: the checkpoint has no tokenizer, so no zero-shot tags.")
        with torch.inference_mode():
            text = self.tokenizer([TEMPLATE.format(x) for x in labels], padding=True, return_tensors="pt")
            t = self.model.get_text_features(**{k: v.to(self.device) for k, v in text.items()})
            if not isinstance(t, torch.Tensor):  # newer transformers return an output object
                t = t.pooler_output if getattr(t, "pooler_output", None) is not None else t[0]
            t = t / t.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            logits = self.model.logit_scale.exp() * torch.from_numpy(cls).to(self.device) @ t.T
            return logits.softmax(dim=-1).float().cpu().numpy()

    def tags(self, cls: np.ndarray, top: int = 3) -> tuple[str, ...]:
        """The ``top`` mood and genre words that fit the embeddings best on average."""
        if self.tokenizer is None or not len(cls):
            return ()
        out: list[str] = []
        for labels in (MOOD_TAGS, GENRE_TAGS):
            p = self.zero_shot(cls, labels).mean(axis=0)
            out += [labels[i] for i in np.argsort(-p)[:top]]
        return tuple(out)


# --- open_clip / OpenAI checkpoints, converted to transformers' CLIPModel -------------------------

OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
SUPPORTED = (
    "supported: open_clip/OpenAI CLIP with a ViT image tower and open_clip's standard text transformer"
)
#: Entries of OpenAI/open_clip state dicts that are not weights.
_NOT_WEIGHTS = ("attn_mask", "input_resolution", "context_length", "vocab_size", "logit_bias")
_PAIR = ("weight", "bias")


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _unpickling_reason(e: BaseException) -> str:
    """torch.load's reason without its long advice on ``weights_only``."""
    m = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\s*\n|$)", str(e), re.S)
    return _short(Exception(m.group(1))) if m else _short(e)


def _is_open_clip_folder(folder: Path) -> bool:
    return any((folder / f).is_file() for f in (OPEN_CLIP_CONFIG, *OPEN_CLIP_WEIGHTS))


def _cached_snapshot(repo: str) -> Path | None:
    """The local Hugging Face cache's copy of ``repo``, if any (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, local_files_only=True))
    except Exception:
        return None


def _load_open_clip(where: Path, given: str) -> tuple[Any, Any]:
    """An open_clip folder or single checkpoint file -> (transformers CLIPModel, tokenizer or None)."""
    if where.is_dir():
        weights = next((where / w for w in OPEN_CLIP_WEIGHTS if (where / w).is_file()), None)
        if weights is None:
            raise OptionError(
                f"--clip {given}: an open_clip folder needs {' or '.join(OPEN_CLIP_WEIGHTS)} "
                f"beside {OPEN_CLIP_CONFIG}; neither is there."
            )
        folder = where
    else:
        if where.suffix.lower() not in CHECKPOINT_SUFFIXES:
            raise OptionError(
                f"--clip {given}: not a CLIP checkpoint file (give a {', '.join(CHECKPOINT_SUFFIXES)} "
                "file holding an open_clip/OpenAI state dict, or a checkpoint folder)."
            )
        weights, folder = where, where.parent
    cfg_file = folder / OPEN_CLIP_CONFIG
    cfg = _read_open_clip_config(cfg_file, given) if cfg_file.is_file() else None
    sd, origin = _read_state_dict(weights, given)
    if cfg is not None:
        quick_gelu = bool(cfg.get("quick_gelu", False))
    else:  # OpenAI's releases use QuickGELU; open_clip's own training runs use GELU unless named so
        quick_gelu = origin != "training" or "quickgelu" in weights.name.lower()
    config, hf_sd = _convert(sd, cfg, quick_gelu, given)
    model = _build(config, hf_sd, given)
    return model, _tokenizer_beside(folder, int(config.text_config.vocab_size))


def _read_open_clip_config(path: Path, given: str) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise OptionError(f"--clip {given}: cannot read {path.name}: {_short(e)}.") from e
    cfg = data.get("model_cfg", data) if isinstance(data, dict) else None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("vision_cfg"), dict):
        raise OptionError(
            f"--clip {given}: {path.name} has no model_cfg with a vision_cfg; give open_clip's "
            f"{OPEN_CLIP_CONFIG} as the Hugging Face hub stores it (or remove it to infer sizes from the weights)."
        )
    return cfg


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _read_state_dict(path: Path, given: str) -> tuple[dict[str, Any], str]:
    """The checkpoint's tensors with wrapper prefixes removed, and where it came from:
    "state_dict" (bare), "training" (wrapped, as open_clip's training saves) or "torchscript"."""
    import warnings

    import torch

    origin = "state_dict"
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        elif _is_torchscript(path):  # OpenAI's original releases
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = torch.jit.load(str(path), map_location="cpu").state_dict()
            origin = "torchscript"
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        if "unsupported global" in str(e).lower():
            raise OptionError(
                f"--clip {given}: {path.name} holds Python objects besides tensors, which are not "
                "unpickled (that could run code from the file); save the state dict alone "
                "(torch.save(model.state_dict(), path)) or as .safetensors."
            ) from e
        raise OptionError(
            f"--clip {given}: cannot read {path.name} as a checkpoint ({_unpickling_reason(e)}); the file is "
            "truncated, damaged or not a PyTorch/safetensors checkpoint."
        ) from e
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
                obj, origin = inner, "training"
                break
    if not isinstance(obj, dict):
        raise OptionError(
            f"--clip {given}: {path.name} holds a {type(obj).__name__}, not a state dict; "
            "give an open_clip/OpenAI CLIP state dict."
        )
    sd: dict[str, Any] = {}
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            continue
        while k.startswith(("module.", "_orig_mod.")):
            k = k.split(".", 1)[1]
        sd[k] = v
    if "token_embedding.weight" not in sd and "text.token_embedding.weight" in sd:  # CustomTextCLIP
        sd = {k.removeprefix("text."): v for k, v in sd.items()}
    if not sd:
        raise OptionError(f"--clip {given}: {path.name} holds no tensors; give a CLIP checkpoint.")
    return sd, origin


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


def _convert(
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


def _build(config: Any, state: dict[str, Any], given: str) -> Any:
    """A CLIPModel for ``config`` holding ``state`` (initialisation skipped where transformers allows)."""
    import contextlib

    from transformers import CLIPModel

    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights  # type: ignore[attr-defined,no-redef]
        except ImportError:
            no_init_weights = contextlib.nullcontext  # type: ignore[assignment]
    with no_init_weights():
        model = CLIPModel(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise OptionError(
            f"--clip {given}: the converted weights do not fit a CLIP ViT ({_short(e)}); {SUPPORTED}."
        ) from e
    return model.float()


def _tokenizer_beside(folder: Path, vocab_size: int) -> Any:
    """A tokenizer saved beside open_clip weights (tokenizer.json, or vocab.json + merges.txt), else None."""
    tokenizer: Any = None
    try:
        if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception:
        tokenizer = None
    if tokenizer is None and (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        try:
            from transformers import CLIPTokenizer

            tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
        except Exception:
            tokenizer = None
    if tokenizer is not None and len(tokenizer) > vocab_size:
        return None  # not this model's tokenizer: its ids would fall outside the embedding table
    return tokenizer
