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
from .clip_convert import OPEN_CLIP_CONFIG, SUPPORTED

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

OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
#: Entries of OpenAI/open_clip state dicts that are not weights.


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
    from .clip_convert import convert

    config, hf_sd = convert(sd, cfg, quick_gelu, given)
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
