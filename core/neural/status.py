"""What ``doctor`` reports about the neural backend (torch is imported here only
when it is installed; audiocraft is tried in a child process, so its import
noise or a crash cannot take ``doctor`` down)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path


def torch_device() -> tuple[str, str] | None:
    """(torch version, the device the backend would use), or None when torch is absent."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    return str(torch.__version__), device


def audiocraft_imports(timeout: float = 180.0) -> tuple[bool, str]:
    """(imports, version or the error's last line), tried in a child process."""
    if importlib.util.find_spec("audiocraft") is None:
        return False, "not installed"
    code = "import audiocraft, audiocraft.models; print(audiocraft.__version__)"
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"import failed: {e}"
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return False, lines[-1] if lines else f"exit status {p.returncode}"
    return True, p.stdout.strip().splitlines()[-1]


def cached_models(cache: str | None = None) -> tuple[list[str], list[str]]:
    """(MusicGen, CLIP) checkpoints in the local Hugging Face cache, by repository name."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return [], []
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache)
    except Exception:  # no cache yet
        return [], []
    musicgen, clip = [], []
    for repo in info.repos:
        files = {f.file_name for rev in repo.revisions for f in rev.files}
        if {"state_dict.bin", "compression_state_dict.bin"} <= files:
            musicgen.append(repo.repo_id)
        elif "open_clip_config.json" in files or "clip" in repo.repo_id.lower():
            clip.append(repo.repo_id)
    return sorted(musicgen), sorted(clip)


def adapter_sets(folder: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(folder, "stage S on BASE") of every adapter set under ``folder`` (two levels)."""
    root = Path(folder).expanduser()
    out = []
    for cfg in sorted(
        [*root.glob("adapters.json"), *root.glob("*/adapters.json"), *root.glob("*/*/adapters.json")]
    ):
        try:
            meta = json.loads(cfg.read_text(encoding="utf-8"))["config"]
            out.append(
                (str(cfg.parent), f"stage {meta.get('stage')} on {meta.get('base')}, {meta.get('feature')}")
            )
        except (OSError, ValueError, KeyError, TypeError):
            out.append((str(cfg.parent), "unreadable adapters.json"))
    return out
