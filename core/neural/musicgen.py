"""Loading MusicGen (audiocraft) without ever downloading.

``load(name_or_path)``:

- ``debug``: a tiny randomly initialised model built offline (audiocraft's
  own ``debug`` model, but with a lookup-table text conditioner on the
  ``noop`` tokenizer: audiocraft's whitespace tokenizer downloads a spaCy
  model at run time). Deterministic: the same weights every time.
- a folder holding audiocraft's ``state_dict.bin`` and
  ``compression_state_dict.bin`` (what the Hugging Face repositories
  ``facebook/musicgen-*`` hold);
- a Hugging Face name (``facebook/musicgen-small``) whose files are already
  in the local Hugging Face cache (looked up with ``HF_HUB_OFFLINE=1``).

A missing checkpoint is a clear error that says where it looked and how to
get one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import OptionError

LM_FILE = "state_dict.bin"
COMPRESSION_FILE = "compression_state_dict.bin"


def available() -> bool:
    """torch and audiocraft are installed (a checkpoint is still needed, except ``debug``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "audiocraft"))


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    # huggingface_hub reads HF_HUB_OFFLINE once, when it is imported (as
    # constants.HF_HUB_OFFLINE; transformers asks it through is_offline_mode()),
    # and audiocraft imports it before this runs: the variable alone left the
    # Hub reachable (a compression package naming 'facebook/encodec_32khz'
    # went online, retrying for ~45 s). Flip the flag it actually reads too.
    hub: Any = None
    with contextlib.suppress(ImportError):
        from huggingface_hub import constants as hub
    was = getattr(hub, "HF_HUB_OFFLINE", None)
    if hub is not None:
        hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if hub is not None:
            hub.HF_HUB_OFFLINE = was
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _quiet_imports() -> None:
    """xformers warns on import when its kernels do not match this torch; the
    backend does not use them (attention runs in torch)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module="xformers")
    logging.getLogger("xformers").setLevel(logging.ERROR)


def _cached(repo: str) -> str:
    """The snapshot folder of ``repo`` in the local Hugging Face cache (never the network)."""
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(repo, f) for f in (LM_FILE, COMPRESSION_FILE)]
    paths = [Path(f) for f in found if isinstance(f, str)]
    if len(paths) == 2 and paths[0].parent == paths[1].parent:
        return str(paths[0].parent)
    home = os.environ.get("HF_HOME", "~/.cache/huggingface")
    raise OptionError(
        f"--model {repo}: not in the local Hugging Face cache ({home}; nothing is downloaded). "
        f"Download it once where you have network access (huggingface-cli download {repo} "
        f"{LM_FILE} {COMPRESSION_FILE}; text models also need their T5 encoder, e.g. "
        "huggingface-cli download t5-base), or give a folder with those two files."
    )


def debug_model(device: str = "cpu") -> Any:
    """audiocraft's tiny test MusicGen (4 codebooks of 400, width 16, 2 layers,
    32 kHz at 25 Hz), built offline with fixed weights."""
    import torch

    _quiet_imports()
    from audiocraft.models import MusicGen, builders
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider, LUTConditioner

    with torch.random.fork_rng():
        torch.manual_seed(1234)
        compression = builders.get_debug_compression_model(device)
        dim = 16
        provider = ConditioningProvider(
            {"description": LUTConditioner(n_bins=128, dim=dim, output_dim=dim, tokenizer="noop")}
        )
        fuser = ConditionFuser({"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []})
        lm = LMModel(
            DelayedPatternProvider(n_q=4),
            provider,
            fuser,
            n_q=4,
            card=400,
            dim=dim,
            num_heads=4,
            custom=True,
            num_layers=2,
            cross_attention=True,
            causal=True,
        )
    return MusicGen("debug", compression, lm.to(device).eval(), max_duration=30)


def load(name_or_path: str, device: str = "cpu") -> Any:
    """A ``MusicGen`` from ``debug``, a local folder or the local Hugging Face cache.

    Raises
    ------
    OptionError
        audiocraft missing, or no checkpoint where it was looked for.
    """
    if not available():
        raise OptionError(
            "the MusicGen backend needs torch and audiocraft: make setup (or install/setup.sh with the "
            "'neural' extra), or score with --backend arranger, which needs no model weights."
        )
    if name_or_path == "debug":
        return debug_model(device)
    _quiet_imports()
    from audiocraft.models import MusicGen
    from audiocraft.models.loaders import load_compression_model, load_lm_model

    where = Path(name_or_path).expanduser()
    if where.is_dir():
        missing = [f for f in (LM_FILE, COMPRESSION_FILE) if not (where / f).is_file()]
        if missing:
            raise OptionError(
                f"--model {name_or_path}: the folder lacks {' and '.join(missing)}. A MusicGen checkpoint "
                f"folder holds {LM_FILE} and {COMPRESSION_FILE} (as in facebook/musicgen-small on Hugging Face)."
            )
        source: str = str(where)
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", name_or_path) and not where.exists():
        source = _cached(name_or_path)
    else:
        raise OptionError(
            f"--model {name_or_path}: not a MusicGen checkpoint folder, a Hugging Face name "
            "(facebook/musicgen-small) or 'debug'."
        )
    try:
        with _offline():
            compression = load_compression_model(source, device=device)
            lm = load_lm_model(source, device=device)
    except Exception as e:
        raise OptionError(
            f"--model {name_or_path}: cannot load MusicGen from {source}: {' '.join(str(e).split())[:300]}. "
            "Give a folder with state_dict.bin and compression_state_dict.bin from a MusicGen checkpoint."
        ) from e
    name = where.name if where.is_dir() else name_or_path
    max_duration = 30.0
    return MusicGen(name, compression, lm, max_duration=max_duration)
