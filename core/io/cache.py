"""VidMusician's cache: what it can make again, kept under one size limit.

Where: ``VIDMUSICIAN_CACHE``, else ``$XDG_CACHE_HOME/vidmusician``, else
``~/.cache/vidmusician``. Inside: ``otioz/`` (unpacked .otioz bundles),
``analysis/`` (per-range analysis results), ``train/`` (prepared training
items). ``adapters/`` (trained adapter sets) is not a cache of anything and
is never cleared or evicted.

The limit (``VIDMUSICIAN_CACHE_LIMIT``: bytes, or with K/M/G/T; default 5G)
caps the whole cache: when unpacking a bundle would pass it, the unpacked
bundles used longest ago go first (each folder's ``.used`` file is touched
whenever the bundle is read). A re-saved bundle's older copies are removed
as soon as the new one is unpacked.

An .otioz bundle is unpacked only as far as its timeline needs: the media
files that its clips reference, each streamed with its size counted against
what the zip declares (see :mod:`.guard`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, OptionError
from . import guard

DEFAULT_LIMIT = 5 * 1000**3
#: Sub-folders that hold only what can be made again (cleared by ``cache --clear``).
CACHES = ("otioz", "analysis", "train")
KEPT = ("adapters",)
BUNDLES = "otioz"
_COMPLETE, _USED, _SOURCE = ".complete", ".used", ".source"


def cache_dir() -> Path:
    """Where VidMusician keeps what it can make again (``VIDMUSICIAN_CACHE``,
    else ``$XDG_CACHE_HOME/vidmusician``, else ``~/.cache/vidmusician``)."""
    env = os.environ.get("VIDMUSICIAN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vidmusician"


def parse_size(text: str) -> int:
    """Bytes from ``5G``, ``500M``, ``1.5T``, ``1048576`` (K/M/G/T are powers of 1000)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if not m:
        raise OptionError(
            f"VIDMUSICIAN_CACHE_LIMIT={text!r}: not a size; give bytes or a number with K, M, G or T (5G)."
        )
    scale = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def cache_limit() -> int:
    env = os.environ.get("VIDMUSICIAN_CACHE_LIMIT", "").strip()
    return parse_size(env) if env else DEFAULT_LIMIT


def _size(path: Path) -> int:
    total = 0
    try:
        if path.is_file() and not path.is_symlink():
            return path.stat().st_size
        for root, _dirs, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
    except OSError:
        pass
    return total


def human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # unreachable


# --------------------------------------------------------------------------- info / clear


@dataclass(frozen=True)
class Part:
    name: str
    path: Path
    bytes: int
    entries: int


def info() -> list[Part]:
    """The cache's parts (the caches, then what is kept), with their sizes."""
    root = cache_dir()
    out = []
    for name in CACHES + KEPT:
        p = root / name
        entries = 0
        if p.is_dir():
            entries = sum(1 for c in p.iterdir() if not c.name.startswith("."))
        out.append(Part(name, p, _size(p) if p.exists() else 0, entries))
    return out


def clear() -> tuple[int, int]:
    """Remove everything in the cache's parts that can be made again (never
    ``adapters/`` nor anything else in the folder). Returns (bytes, entries) freed."""
    root = cache_dir()
    freed = entries = 0
    for name in CACHES:
        p = root / name
        if not p.is_dir():
            continue
        for child in list(p.iterdir()):
            freed += _size(child)
            entries += 0 if child.name.startswith(".") else 1
            _remove(child)
    return freed, entries


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


# --------------------------------------------------------------------------- bundles


def referenced_media(timeline: object) -> set[str]:
    """Relative paths (``/``-separated, no ``..``) of the media files that
    the timeline's references name: what an .otioz bundle must unpack."""
    import opentimelineio as otio

    out: set[str] = set()

    def add(url: str | None) -> None:
        if not url:
            return
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "file":
            raw = urllib.parse.unquote(parsed.path)
        elif parsed.scheme and len(parsed.scheme) > 1:
            return
        else:
            raw = url  # as the timeline reader resolves it (no unquoting)
        for name in {raw, urllib.parse.unquote(raw)}:
            name = name.replace("\\", "/")
            while name.startswith("./"):
                name = name[2:]
            if name and not name.startswith("/") and ".." not in name.split("/"):
                out.add(name)

    for clip in timeline.find_clips():  # type: ignore[attr-defined]
        refs = getattr(clip, "media_references", None)
        for ref in refs().values() if callable(refs) else [clip.media_reference]:
            if isinstance(ref, otio.schema.ExternalReference):
                add(ref.target_url)
            elif isinstance(ref, otio.schema.ImageSequenceReference):
                try:
                    n = ref.number_of_images_in_sequence()
                except Exception:
                    n = 0
                for i in range(min(n, guard.MAX_BUNDLE_ENTRIES)):
                    add(ref.target_url_for_image_number(i))
    return out


def _key(path: Path) -> tuple[str, str]:
    st = path.stat()
    src = str(path.resolve())
    return hashlib.sha256(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20], src


def _touch(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.touch()


def _bundle_folders() -> list[Path]:
    root = cache_dir() / BUNDLES
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _used(p: Path) -> float:
    for marker in (_USED, _COMPLETE):
        try:
            return (p / marker).stat().st_mtime
        except OSError:
            continue
    return 0.0


def evict(keep: Path | None = None, need: int = 0, limit: int | None = None) -> int:
    """Remove unpacked bundles, used longest ago first, until the cache plus
    ``need`` bytes fits ``limit``; never ``keep``. Returns bytes freed."""
    limit = cache_limit() if limit is None else limit
    total = _size(cache_dir())
    freed = 0
    for p in sorted(_bundle_folders(), key=_used):
        if total + need - freed <= limit:
            break
        if keep is not None and p == keep:
            continue
        size = _size(p)
        _remove(p)
        freed += size
    return freed


def _drop_old_copies(src: str, keep_name: str) -> None:
    """Older unpacked copies of the same bundle (it was saved again since)."""
    for p in _bundle_folders():
        if p.name == keep_name:
            continue
        try:
            if (p / _SOURCE).read_text(encoding="utf-8") == src:
                _remove(p)
        except OSError:
            continue


def unpack_bundle(path: Path, media: Iterable[str]) -> Path:
    """The cache folder holding ``path``'s media files named in ``media``
    (relative paths), unpacked once per version of the bundle.

    Raises InputError before writing anything when the bundle is over the
    limits (:func:`guard.bundle_entries`) or its media would not fit the
    cache, and stops mid-way when an entry unpacks to more than it declared.
    """
    key, src = _key(path)
    root = cache_dir() / BUNDLES
    dest = root / key
    if (dest / _COMPLETE).exists():
        _touch(dest / _USED)
        return dest
    limit = cache_limit()
    with guard.open_bundle(path) as zf:
        entries = guard.bundle_entries(path, zf)
        wanted = sorted({m for m in media if m in entries})
        need = sum(entries[m].size for m in wanted)
        if need > limit:
            raise InputError(
                f"{path}: its media unpack to {human(need)}, more than the cache's limit of "
                f"{human(limit)}: raise VIDMUSICIAN_CACHE_LIMIT (for example {human(need * 2).replace(' ', '')}) "
                "or unpack the bundle yourself and open its content.otio."
            )
        try:
            root.mkdir(parents=True, exist_ok=True)
            sweep_partial()
            _drop_old_copies(src, key)
            evict(need=need, limit=limit)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        except OSError as e:
            raise InputError(f"{path}: cannot unpack the bundle's media into {root} ({e.strerror}).") from e
        try:
            for name in wanted:
                out = tmp.joinpath(*name.split("/"))
                out.parent.mkdir(parents=True, exist_ok=True)
                guard.copy_entry(zf, entries[name], out, path)
            (tmp / _SOURCE).write_text(src, encoding="utf-8")
            (tmp / _COMPLETE).touch()
            (tmp / _USED).touch()
            try:
                tmp.rename(dest)
            except OSError:  # another process unpacked it meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"{path}: cannot unpack the bundle's media ({e.strerror or e}).") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    _touch(dest / _USED)
    return dest


def sweep_partial(max_age_s: float = 3600.0) -> None:
    """Remove half-unpacked bundle folders (``.KEY.xxx``) older than ``max_age_s``
    that a killed process left."""
    root = cache_dir() / BUNDLES
    if not root.is_dir():
        return
    now = time.time()
    for p in root.glob(".*"):
        try:
            if p.is_dir() and now - p.stat().st_mtime > max_age_s:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            continue


# --------------------------------------------------------------------------- the cache command

_WHAT = {
    "otioz": "unpacked .otioz bundles",
    "analysis": "analysis results",
    "train": "prepared training items",
    "adapters": "trained adapter sets (kept: not a cache)",
}


def info_lines() -> list[str]:
    """What ``vidmusician cache --info`` prints: where, the limit, each part."""
    parts = info()
    limit = cache_limit()
    total = sum(p.bytes for p in parts if p.name in CACHES)
    src = "VIDMUSICIAN_CACHE_LIMIT" if os.environ.get("VIDMUSICIAN_CACHE_LIMIT", "").strip() else "default"
    lines = [f"cache: {cache_dir()}", f"size: {human(total)} of a {human(limit)} limit ({src})"]
    for p in parts:
        n = f"{p.entries} entr{'y' if p.entries == 1 else 'ies'}"
        lines.append(f"  {p.name + '/':<10} {human(p.bytes):>10}  {n:<12} {_WHAT[p.name]}")
    return lines


def clear_line() -> str:
    """Clear the cache; what ``vidmusician cache --clear`` prints."""
    freed, entries = clear()
    kept = [p for p in info() if p.name in KEPT and p.entries]
    tail = "".join(f"; kept {p.name}/ ({human(p.bytes)})" for p in kept)
    return f"freed {human(freed)} ({entries} entr{'y' if entries == 1 else 'ies'}) from {cache_dir()}{tail}"
