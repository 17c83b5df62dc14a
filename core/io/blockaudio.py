"""Audio too long to hold in memory: float32 on disk, read and written in blocks.

Two hours of one 48 kHz stereo stem are 2.8 GB of float32; five stems and a
mix are 16.6 GB. A long cue is therefore rendered into raw float32 files in
a temporary folder (:class:`DiskAudio`, frames interleaved as a WAV holds
them) and every later step (the bus, the 24-bit WAVs, the measuring, a
regenerated shot's splice) reads it a block at a time. The folder goes when
the last :class:`DiskAudio` that uses it does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Samples per block (8.2 s at 48 kHz): a multiple of pedalboard's 8192-sample
#: buffer, of the bus compressor's 64-sample hop and of the loudness meter's
#: 65,536-sample filter chunk, so that block-wise results are the whole signal's.
BLOCK = 48 * 8192


class TempFolder:
    """A temporary folder removed when this object is garbage (or at exit).

    Its name holds the process id (``PREFIX PID-xxxx``); making one first
    removes the folders of the same prefix whose process is gone (a run
    killed mid-render leaves gigabytes)."""

    def __init__(self, prefix: str = "vidmusician-audio-", dir: str | os.PathLike[str] | None = None) -> None:
        _sweep_dead(prefix, Path(dir) if dir is not None else Path(tempfile.gettempdir()))
        self.path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=dir))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def remove(self) -> None:
        self._finalizer()


def _sweep_dead(prefix: str, where: Path) -> None:
    for p in where.glob(f"{prefix}*-*"):
        pid = p.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and p.is_dir() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process, or a platform that cannot tell: keep its folder
    return True


class DiskAudio:
    """(channels, n) float32 audio in a raw file, frames interleaved.

    Looks enough like an array for the places that take one (``shape``,
    ``ndim``, ``dtype``, ``np.asarray``, which reads it all: only for short
    audio) and reads a range (:meth:`read`) or consecutive blocks
    (:meth:`blocks`) without loading the rest.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, path: str | os.PathLike[str], channels: int, n: int, folder: TempFolder | None = None):
        self.path = Path(path)
        self.channels, self.n = int(channels), int(n)
        self._folder = folder  # kept alive while this audio is
        self._peak: float | None = None

    @classmethod
    def create(cls, folder: TempFolder, name: str, channels: int, n: int) -> DiskAudio:
        """A new file of ``n`` silent frames (sparse: no disk used until written)."""
        path = folder.path / f"{name}.f32"
        with open(path, "wb") as f:
            f.truncate(n * channels * 4)
        return cls(path, channels, n, folder)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.channels, self.n)

    def __len__(self) -> int:
        return self.channels

    def read(self, a: int, b: int) -> np.ndarray:
        """Frames ``[a, b)`` (clipped to the audio) as (channels, b - a) float32."""
        a, b = max(0, a), min(self.n, b)
        if b <= a:
            return np.zeros((self.channels, 0), np.float32)
        with open(self.path, "rb") as f:
            f.seek(a * self.channels * 4)
            data = np.fromfile(f, np.float32, (b - a) * self.channels)
        return np.ascontiguousarray(data.reshape(b - a, self.channels).T)

    def write(self, a: int, block: np.ndarray) -> None:
        """Write (channels, m) ``block`` at frame ``a`` (in place)."""
        with open(self.path, "r+b") as f:
            f.seek(a * self.channels * 4)
            np.ascontiguousarray(np.asarray(block, np.float32).T).tofile(f)
        self._peak = None

    def blocks(self, size: int = BLOCK) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, (channels, m) float32)`` for consecutive blocks of ``size`` frames."""
        for a in range(0, self.n, size):
            yield a, self.read(a, a + size)

    def peak(self) -> float:
        """max |sample| (read once, then remembered until the next write)."""
        if self._peak is None:
            self._peak = max((float(np.abs(b).max()) for _, b in self.blocks() if b.size), default=0.0)
        return self._peak

    def set_peak(self, peak: float) -> None:
        """Remember the peak measured while the audio was written."""
        self._peak = float(peak)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.read(0, self.n)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"DiskAudio({str(self.path)!r}, channels={self.channels}, n={self.n})"


class WavAudio(DiskAudio):
    """A WAV file read as float32 (channels, n) blocks (the 24-bit grid as
    ``int32 / 2**31``); read only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import soundfile

        info = soundfile.info(str(path))
        super().__init__(path, info.channels, info.frames)

    def read(self, a: int, b: int) -> np.ndarray:
        import soundfile

        a, b = max(0, a), min(self.n, b)
        if b <= a:
            return np.zeros((self.channels, 0), np.float32)
        data, _ = soundfile.read(str(self.path), start=a, stop=b, dtype="float32", always_2d=True)
        return np.ascontiguousarray(data.T)

    def write(self, a: int, block: np.ndarray) -> None:
        raise TypeError(f"{self.path}: read only")


def is_long(audio: Any) -> bool:
    """Whether ``audio`` lives on disk and must be read in blocks."""
    return isinstance(audio, DiskAudio)


#: What holds audio: an array in memory, or a :class:`DiskAudio`.
Audio = np.ndarray | DiskAudio
