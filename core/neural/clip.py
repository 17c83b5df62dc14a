"""CLIP image features, when the user has a local checkpoint.

Given a CLIP checkpoint in Hugging Face ``transformers`` format (a folder
with ``config.json`` and ``model.safetensors``/``pytorch_model.bin``, as
``save_pretrained`` writes it, or a model name already in the local Hugging
Face cache), :class:`ClipEncoder` turns analysis frames into

- [CLS] image embeddings (the projected, L2-normalised ``image_embeds``), one
  per frame given, which the analysis lays out one per second;
- patch features (the vision transformer's last hidden state without the
  [CLS] token), for the neural backend's rhythm path;
- zero-shot tags: mood and genre words scored against the embeddings, when
  the checkpoint has a tokenizer.

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
        """Load a transformers-format CLIP checkpoint from disk (never downloads).

        Raises
        ------
        OptionError
            torch/transformers missing, or no checkpoint where it was looked for.
        """
        if not available():
            raise OptionError(
                "CLIP features need torch and transformers: pip install torch==2.13.0 transformers "
                "(or run without --clip: the analysis works without model weights)."
            )
        from transformers import AutoTokenizer, CLIPModel

        where = Path(path_or_name).expanduser()
        local = where.is_dir()
        hub_name = re.fullmatch(r"[\w.-]+/[\w.-]+", str(path_or_name)) is not None and not where.exists()
        if not local and not hub_name:
            raise OptionError(
                f"--clip {path_or_name}: no CLIP checkpoint folder there. Give a folder holding "
                "config.json and model.safetensors (what transformers' save_pretrained writes), "
                "or the name of a model already in your Hugging Face cache."
            )
        try:
            model = CLIPModel.from_pretrained(str(where if local else path_or_name), local_files_only=True)
        except Exception as e:
            looked = (
                str(where)
                if local
                else f"the Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')})"
            )
            raise OptionError(
                f"--clip {path_or_name}: cannot load a CLIP model from {looked}: {' '.join(str(e).split())[:300]}. "
                "Download it once where you have network access (for example "
                "huggingface-cli download openai/clip-vit-base-patch32) or give a local folder."
            ) from e
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(where if local else path_or_name), local_files_only=True
            )
        except Exception:
            tokenizer = None  # embeddings still work; zero-shot tags need text
        return cls(model, tokenizer, str(path_or_name), device)

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
