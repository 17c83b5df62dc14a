"""Atomic, never-overwriting file writes.

Every output goes to a temporary file in the destination folder first and is
then linked into place in one step, so a reader never sees half a file, a
crash leaves nothing behind, and an existing file is never replaced.

A write the file system refuses (disk full, quota, read-only, failing disk,
name too long, permission) becomes a :class:`~.errors.DiskError` that names
the folder the user chose, its free space and, where known, what was needed.
"""

from __future__ import annotations

import contextlib
import errno as errnos
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import DiskError, OutputError
from .units import OUTPUT_SR

#: errno values that are the user's disk or file system, not a bug.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errnos, name)
    for name in (
        "ENOSPC",
        "EDQUOT",
        "EIO",
        "EROFS",
        "ENAMETOOLONG",
        "EACCES",
        "EPERM",
        "EFBIG",
        "ENXIO",
    )
    if hasattr(errnos, name)
)

#: Longest file name most file systems take (bytes).
NAME_MAX = 255

#: WAV audio as written: 48 kHz, 24-bit, stereo.
AUDIO_BYTES_PER_S = OUTPUT_SR * 3 * 2

#: A result folder's temporary name (``results.output_folder``): ``.OUT.PID.xxxxxxxx.partial``.
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.\d+\.[A-Za-z0-9_]{8}\.partial$")


def shown(path: str | os.PathLike[str]) -> Path:
    """``path`` as the user named it: a result folder's temporary name
    (``.OUT.123.abcdefgh.partial``) becomes ``OUT``."""
    parts = []
    for part in Path(path).parts:
        m = _PARTIAL.match(part)
        parts.append(m.group("name") if m else part)
    return Path(*parts) if parts else Path(path)


def _folder_of(path: str | os.PathLike[str]) -> Path:
    """The folder to name for a write to ``path``: the result folder it is
    being written into (``OUT``, not ``OUT/stems``), else its own folder."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if _PARTIAL.match(part):
            return shown(Path(*parts[: i + 1]))
    p = Path(path)
    with contextlib.suppress(OSError):
        if p.is_dir():
            return p
    return p.parent


def _existing(path: str | os.PathLike[str]) -> Path:
    """The nearest folder at or above ``path`` that exists."""
    p = Path(os.path.abspath(path))
    for q in (p, *p.parents):
        with contextlib.suppress(OSError):
            if q.is_dir():
                return q
    return Path(p.anchor or ".")


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free bytes (for this user) on the disk that holds ``path``; None when it cannot be told."""
    try:
        return int(shutil.disk_usage(_existing(path)).free)
    except OSError:
        return None


def megabytes(n: float) -> str:
    """``12 MB``, ``0.4 MB`` (10^6 bytes, as disks are sold and ``df -H`` counts)."""
    mb = n / 1e6
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:,.0f} MB"


def audio_bytes(duration_s: float, tracks: int = 1) -> int:
    """What ``tracks`` WAV files of ``duration_s`` seconds take (48 kHz, 24-bit, stereo)."""
    return int(AUDIO_BYTES_PER_S * max(0.0, duration_s) * max(1, tracks)) + 64 * max(1, tracks)


def _full(
    where: Path, needed: int | None, real: str | os.PathLike[str] | None = None, quota: bool = False
) -> str:
    free = free_bytes(real if real is not None else where)
    facts = [] if free is None else [f"{megabytes(free)} free"]
    if needed:
        facts.append(f"needed about {megabytes(needed)}")
    said = f" ({'; '.join(facts)})" if facts else ""
    what = "your disk quota on the disk holding" if quota else "the disk holding"
    verb = "is used up" if quota else "is full"
    return f"{what} {where} {verb}{said}. Free some space, or choose a folder on another disk."


def ensure_space(
    folder: str | os.PathLike[str],
    needed: int,
    shown_as: str | os.PathLike[str] | None = None,
    spare: int = 1 << 20,
) -> None:
    """Refuse, before writing, when the disk holding ``folder`` has less than
    ``needed`` bytes and ``spare`` more (a megabyte) free.

    Raises
    ------
    DiskError
        Not enough space; the message names ``shown_as`` (default ``folder``).
    """
    free = free_bytes(folder)
    if free is not None and free < needed + spare:
        where = Path(shown_as) if shown_as is not None else _folder_of(folder)
        raise DiskError(_full(where, needed, folder), errnos.ENOSPC, str(where))


def _sndfile_errno(e: BaseException) -> int | None:
    """The errno behind soundfile's ``LibsndfileError: System error``, if it is one."""
    if type(e).__name__ != "LibsndfileError" or getattr(e, "code", None) != 2:  # SF_ERR_SYSTEM
        return None
    sf = sys.modules.get("soundfile")
    try:
        code = int(sf._ffi.errno) if sf is not None else 0  # type: ignore[attr-defined]
    except Exception:
        code = 0
    return code if code in ENVIRONMENT_ERRNOS else errnos.EIO


def environment_error(
    e: BaseException,
    path: str | os.PathLike[str] | None = None,
    needed: int | None = None,
    writing: bool | None = True,
) -> DiskError | None:
    """The :class:`DiskError` that ``e`` (an ``OSError``, or soundfile's
    ``System error``) stands for, or None when it is not the environment's.

    ``path`` is what was being written (default: the error's own file name);
    ``needed`` the bytes the write wanted, for the disk-full message;
    ``writing`` None when it is not known whether a read or a write failed.
    """
    if isinstance(e, DiskError):
        return e
    code = e.errno if isinstance(e, OSError) else _sndfile_errno(e)
    if code not in ENVIRONMENT_ERRNOS:
        return None
    if code == errnos.EIO:  # libsndfile says "System error" for a full disk too: look
        free = free_bytes(path or getattr(e, "filename", None) or ".")
        if free is not None and free < (1 << 20):
            code = errnos.ENOSPC
    raw = path if path is not None else getattr(e, "filename", None)
    real = raw if raw is not None else "."
    target = shown(raw) if raw is not None else None
    folder = _folder_of(raw) if raw is not None else Path(".")
    if code == errnos.ENOSPC:
        msg = _full(folder, needed, real)
    elif code == getattr(errnos, "EDQUOT", -1):
        msg = _full(folder, needed, real, quota=True)
    elif code == errnos.ENAMETOOLONG:
        parts = (target or Path(".")).parts
        i = max(range(len(parts)), key=lambda k: len(os.fsencode(parts[k])), default=0)
        long, n = parts[i] if parts else "", len(os.fsencode(parts[i])) if parts else 0
        where = Path(*parts[:i]) if i else Path(".")
        msg = (
            f"{where}: the name '{long[:40]}{'...' if len(long) > 40 else ''}' is too long for the "
            f"file system ({n} bytes; most take {NAME_MAX}, and VidMusician adds up to 30 to a folder's "
            "name while it writes). Choose a shorter name."
        )
    elif code == errnos.EROFS:
        msg = f"{folder}: is on a read-only file system. Choose a folder on a writable disk."
    elif code in (errnos.EACCES, errnos.EPERM):
        if writing:
            msg = f"{folder}: cannot write here (permission denied). Choose another folder."
        elif writing is None:
            msg = f"{target or folder}: permission denied. Check its permissions, or choose another."
        else:
            msg = f"{target or folder}: cannot be read (permission denied)."
    elif code == errnos.EFBIG:
        msg = (
            f"{folder}: the file is too large for this file system (FAT32 takes 4 GB at most). "
            "Choose a folder on another disk."
        )
    else:  # EIO, ENXIO
        verb = {True: "writing", False: "reading", None: "reading or writing"}[writing]
        msg = (
            f"{folder}: the disk reported an input/output error while {verb} "
            f"({getattr(e, 'strerror', None) or e}). It may be failing, full or unplugged; "
            "check it, or choose another folder."
        )
    return DiskError(msg, code, str(target) if target is not None else None)


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
    try:
        there = os.path.lexists(dest)
        if there and not overwrite:
            if dest.is_symlink() and not dest.exists():
                raise OutputError(dangling(dest))
            raise OutputError(
                f"{shown(dest)}: exists already; VidMusician never overwrites. Choose a new output."
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        # the temporary name stays short: a long final name must not fail only for it
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name[:40]}.", suffix=suffix, dir=dest.parent)
    except OSError as e:
        raise _refused(e, dest) from e
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
                raise OutputError(f"{shown(dest)}: exists already; VidMusician never overwrites.") from e
            except OSError as e:  # file systems without hard links
                if e.errno in ENVIRONMENT_ERRNOS and e.errno not in (errnos.EPERM, errnos.EACCES):
                    raise
                if os.path.lexists(dest):
                    raise OutputError(
                        f"{shown(dest)}: exists already; VidMusician never overwrites."
                    ) from None
                os.replace(tmp, dest)
    except OutputError:
        raise
    except Exception as e:  # the disk refused the write: say so, leave nothing
        mapped = environment_error(e, dest)
        if mapped is None:
            raise
        raise mapped from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _refused(e: OSError, dest: Path) -> OutputError:
    mapped = environment_error(e, dest)
    if mapped is not None:
        return mapped
    return OutputError(f"{shown(dest.parent)}: cannot write here ({e.strerror}). Choose another folder.")


def dangling(dest: Path) -> str:
    """What to say about an output named through a symbolic link that points nowhere."""
    try:
        target = os.readlink(dest)
    except OSError:
        target = "?"
    return (
        f"{dest}: is a symbolic link to {target}, which does not exist; VidMusician writes no file "
        "through a link. Remove the link or choose another name."
    )


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
    try:
        _check_output(dest, force)
    except OutputError:
        raise
    except OSError as e:  # a name too long, a folder we may not look into, ...
        raise _refused(e, dest) from e


def _check_output(dest: Path, force: bool) -> None:
    if dest.is_symlink() and not dest.exists():
        raise OutputError(dangling(dest))
    if len(os.fsencode(dest.name)) > NAME_MAX:
        raise _refused(OSError(errnos.ENAMETOOLONG, "File name too long", str(dest)), dest)
    if dest.is_dir():
        raise OutputError(f"{dest}: is a folder; give a file name.")
    if dest.exists() and not force:
        raise OutputError(f"{dest}: exists already; add --force to replace it, or choose a new name.")
    folder = dest.parent
    if not folder.is_dir():
        raise OutputError(f"{folder}: no such folder; choose a folder that exists.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot write here (permission denied). Choose another folder.")
    ensure_space(folder, 0, spare=64 << 10)  # a full disk is said now, not after the work


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


# --------------------------------------------------------------------------- lock holders

#: A lock file's record of its holder: the pid, padded to a fixed width and
#: written in one call over the old one, so that a reader never finds it empty
#: or half written (truncating first left a moment with no pid: "pid ?").
_HOLDER_WIDTH = 20


def write_holder(fd: int) -> None:
    """Record this process as the holder of the lock file open as ``fd``."""
    record = f"{os.getpid():<{_HOLDER_WIDTH}}\n".encode()
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, record)
    os.ftruncate(fd, len(record))  # only shortens a longer record of an older version


def lock_holder(path: str | os.PathLike[str], wait_s: float = 0.5) -> int | None:
    """The pid a lock file records, or None when it records none (a holder
    that has only just taken the lock writes it a moment later: read again
    for up to ``wait_s`` seconds)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            text = ""
        if text.isdigit() and int(text) > 0:
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def holder_words(path: str | os.PathLike[str]) -> str:
    """``another VidMusician process (pid 123)``, or without the pid when the
    lock file does not say it."""
    pid = lock_holder(path)
    return "another VidMusician process" + (f" (pid {pid})" if pid is not None else "")
