"""Audio files: the one loader and the one way a WAV is saved.

:func:`load` reads any audio file (soundfile), or anything FFmpeg reads
(PyAV: compressed audio, a video's own audio track), as float32
``(channels, n)`` at the rate asked for (soxr's high-quality resampler,
librosa's default). :func:`save_wav` writes what VidMusician writes: 24-bit
WAV at :data:`~vidmusician.core.units.OUTPUT_SR`, atomically.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .. import fsutil
from ..errors import InputError
from ..units import OUTPUT_SR
from .blockaudio import Audio, DiskAudio

#: How every WAV VidMusician writes is stored (soundfile's names).
WAV_FORMAT = "WAV"
WAV_SUBTYPE = "PCM_24"

#: The peak a float signal is scaled down to when it would clip.
CEILING = 0.97


def load(path: str | os.PathLike[str], sr: int, channels: int | None = None) -> np.ndarray:
    """An audio file as float32 [shape=(channels, n)] at ``sr`` Hz.

    Parameters
    ----------
    path : path
        An audio file, or any file with an audio track FFmpeg reads.
    sr : int > 0
        The sample rate wanted (Hz); the file is resampled when it differs.
    channels : int, optional
        None: as many as the file has; 1: mono (the channels' mean); 2: a
        mono file's one channel twice, else the first two.

    Raises
    ------
    InputError
        No such file, nothing readable, or no audio samples in it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path.")
    try:
        import soundfile

        y, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        y = y.T
    except Exception:
        y, file_sr = _decode_av(path)
    if y.shape[1] == 0:
        raise InputError(f"{path}: holds no audio samples.")
    if channels == 1:
        y = y.mean(axis=0, keepdims=True)
    elif channels is not None:
        y = (np.repeat(y, channels, 0) if y.shape[0] == 1 else y)[:channels]
    return np.ascontiguousarray(resample(y, int(file_sr), sr), dtype=np.float32)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """(channels, n) at ``sr_in`` Hz -> (channels, ceil(n * sr_out / sr_in))
    at ``sr_out`` (soxr, high quality: what ``librosa.load`` gives)."""
    if sr_in == sr_out:
        return y
    import soxr

    n = int(math.ceil(y.shape[1] * float(sr_out) / sr_in))
    out = np.stack([soxr.resample(row, sr_in, sr_out, quality="soxr_hq") for row in y])
    if out.shape[1] < n:
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return np.asarray(out[:, :n], dtype=y.dtype)


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    """(float32 (channels, n), rate) of a file's first audio track, through FFmpeg."""
    import av

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with av.open(str(path)) as c:
                streams = list(c.streams.audio)
                if not streams:
                    raise InputError(f"{path}: cannot be read as audio (it has no audio track).")
                stream = streams[0]
                sr = int(stream.sample_rate or OUTPUT_SR)
                planar = av.AudioResampler(format="fltp", rate=sr)  # float, [channels, samples] per frame
                chunks = [g.to_ndarray() for f in c.decode(audio=0) for g in planar.resample(f)]
                chunks += [g.to_ndarray() for g in planar.resample(None)]
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: cannot be read as audio ({' '.join(str(e).split())[:200]}).") from e
    if not chunks:
        raise InputError(f"{path}: holds no audio samples.")
    return np.concatenate(chunks, axis=1).astype(np.float32), sr


def save_wav(path: str | os.PathLike[str], audio: Audio, sr: int = OUTPUT_SR) -> Path:
    """Write ``audio`` as a 24-bit WAV at ``path``, atomically; returns the path.

    ``audio`` is float32 [shape=(channels, n)] (an array, or a
    :class:`~vidmusician.core.io.blockaudio.DiskAudio`, written a block at a
    time: the same bytes as writing it whole), scaled down to a peak of
    :data:`CEILING` if it would clip; or int32 PCM [shape=(n, channels)]
    (the samples of a WAV as read, :func:`vidmusician.core.units.pcm_to_float`'s
    input), written exactly.
    """
    import soundfile

    if isinstance(audio, DiskAudio):
        long_peak = audio.peak()
        scale = long_peak > CEILING

        def write_blocks(tmp: Path) -> None:
            with wav_file(tmp, audio.channels, sr) as f:
                for _, block in audio.blocks():
                    f.write((block / long_peak * np.float32(CEILING) if scale else block).T)

        return fsutil.write_with(path, write_blocks)

    if audio.dtype == np.int32:  # PCM as read: exact
        data = audio
    else:
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        data = (audio / peak * CEILING if peak > CEILING else audio).T

    def write(tmp: Path) -> None:
        soundfile.write(str(tmp), data, sr, subtype=WAV_SUBTYPE, format=WAV_FORMAT)

    return fsutil.write_with(path, write)


@contextmanager
def wav_file(path: str | os.PathLike[str], channels: int, sr: int = OUTPUT_SR) -> Iterator[Any]:
    """A ``soundfile.SoundFile`` open for writing a 24-bit WAV (for audio written in blocks)."""
    import soundfile

    with soundfile.SoundFile(str(path), "w", sr, channels, subtype=WAV_SUBTYPE, format=WAV_FORMAT) as f:
        yield f
