"""Atomic, never-overwriting file writes.

Every output goes to a temporary file in the destination folder first and is
then linked into place in one step, so a reader never sees half a file, a
crash leaves nothing behind, and an existing file is never replaced.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import OutputError


@contextlib.contextmanager
def atomic_path(
    dest: str | os.PathLike[str], overwrite: bool = False, suffix: str = ".part"
) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success move it to ``dest``.

    ``suffix`` ends the temporary name (writers that pick a format from the
    name, such as OpenCV's, need the real extension).

    Raises
    ------
    OutputError
        When ``dest`` exists and ``overwrite`` is False, or the folder is not writable.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise OutputError(f"{dest}: exists already; VidMusician never overwrites. Choose a new output.")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    except OSError as e:
        raise OutputError(f"{dest.parent}: cannot write here ({e.strerror}). Choose another folder.") from e
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp's 0600 is too private for outputs
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: never clobbers
            except FileExistsError as e:
                raise OutputError(f"{dest}: exists already; VidMusician never overwrites.") from e
            except OSError:  # file systems without hard links
                if dest.exists():
                    raise OutputError(f"{dest}: exists already; VidMusician never overwrites.") from None
                os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(dest: str | os.PathLike[str], text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``dest`` atomically; returns ``dest``."""
    with atomic_path(dest, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(dest)


def write_with(dest: str | os.PathLike[str], writer: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Let ``writer(tmp_path)`` produce the file, then move it to ``dest`` atomically."""
    with atomic_path(dest, overwrite) as tmp:
        writer(tmp)
    return Path(dest)
