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


def check_output(path: str | os.PathLike[str] | None, force: bool = False) -> None:
    """Check, before any work, that a report or picture can be written at ``path``.

    ``None`` and ``"-"`` (standard output) always pass. Call it as a command
    starts, so that a file that exists already, or a folder that is missing or
    not writable, is said in a second and not after the analysis. The write
    itself (:func:`write_text`, :func:`write_with` with ``overwrite=force``)
    checks again.

    Raises
    ------
    OutputError
        When ``path`` exists and ``force`` is False, is a folder, or its folder
        is missing or not writable.
    """
    if path is None or str(path) == "-":
        return
    dest = Path(path)
    if dest.is_dir():
        raise OutputError(f"{dest}: is a folder; give a file name.")
    if dest.exists() and not force:
        raise OutputError(f"{dest}: exists already; add --force to replace it, or choose a new name.")
    folder = dest.parent
    if not folder.is_dir():
        raise OutputError(f"{folder}: no such folder; choose a folder that exists.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot write here (permission denied). Choose another folder.")


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
