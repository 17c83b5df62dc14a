"""Decoding: each source range once, small frames, the stream's own timestamps.

PyAV (FFmpeg) decodes with frame threading and scales each frame once with
libswscale straight to the analysis size, so no full-resolution RGB frame is
ever made. Times come from each frame's presentation timestamp, so variable
frame rate media comes out right, and the display rotation a phone stores in
the stream is applied.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..model import Shot

#: Analysis frames are about this wide (pixels); height keeps the aspect ratio.
#: PySceneDetect's own choice (``compute_downscale_factor``): its detectors then
#: see the frames they see in ``scenedetect.detect()`` and find the same cuts.
ANALYSIS_WIDTH = 256


class MediaError(InputError):
    """A media file that cannot be analysed (missing, no video, bad codec, ...)."""


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds.

    Attributes
    ----------
    path : str
    duration_s : float
        Length of the video stream, seconds.
    rate : float
        Average frame rate, frames per second (nominal for variable-rate media).
    width, height : int
        Display size in pixels, after rotation.
    rotation : int
        Degrees counter-clockwise the decoded picture is turned for display.
    start_timecode_s : float | None
        The file's own start timecode in seconds, when it carries one
        (source ranges in editors' timelines are expressed in it).
    codec : str
    nominal_rate : float, optional
        The stream's own frame rate (FFmpeg's guess: ``r_frame_rate`` and the
        codec's), which an editor's timeline for this media uses; it differs
        from ``rate`` for variable frame rate media (a screen recording that
        holds still frames longer: 25 fps nominal, 6.25 on average). None
        when the stream does not say one.
    """

    path: str
    duration_s: float
    rate: float
    width: int
    height: int
    rotation: int
    start_timecode_s: float | None
    codec: str
    nominal_rate: float | None = None

    @property
    def variable_rate(self) -> bool:
        """The average rate is not the nominal one (by over 1%): variable frame rate."""
        return self.nominal_rate is not None and abs(self.rate - self.nominal_rate) > 0.01 * self.nominal_rate


def _open(path: str | os.PathLike[str]) -> Any:
    import av

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"{p}: not found")
    try:
        return av.open(str(p))
    except Exception as e:  # FFmpeg's errors: InvalidDataError, ...
        raise MediaError(f"{p}: cannot be opened as media ({' '.join(str(e).split())})") from e


def _no_video(path: str | os.PathLike[str], container: Any) -> str:
    """Why a file that opened holds no picture: audio (or data) only, or no
    streams at all (a damaged or unfinished file: its index, the MP4/MOV
    ``moov`` atom, is missing or broken)."""
    kinds = sorted({s.type for s in container.streams})
    if not kinds:
        return (
            f"{path}: holds no streams FFmpeg can read: the file is damaged or unfinished (in an "
            "MP4 or MOV, its index, the moov atom, is missing or broken; a recording that was cut "
            "off looks like this)"
        )
    return f"{path}: holds no video stream (only {', '.join(kinds)})"


def _nominal_rate(stream: Any) -> float | None:
    """The stream's own frame rate: FFmpeg's guess, else ``r_frame_rate``
    (each only when usable, 1-1000 fps)."""
    for attr in ("guessed_rate", "base_rate"):
        try:
            r = getattr(stream, attr, None)
            value = float(r) if r else 0.0
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if 1.0 <= value <= 1000.0:
            return value
    return None


def _timecode_seconds(tc: str | None, rate: float) -> float | None:
    if not tc:
        return None
    try:
        import opentimelineio as otio

        return float(otio.opentime.from_timecode(tc.replace(";", ":"), rate).to_seconds())
    except Exception:
        return None


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Read a media file's video stream parameters (decodes one frame for rotation).

    Raises
    ------
    MediaError
        Missing file, unreadable container, no video stream (audio only), or a
        codec FFmpeg cannot decode.
    """
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(_no_video(path, c))
        vs = c.streams.video[0]
        if vs.codec_context is None or not vs.codec_context.name:
            raise MediaError(f"{path}: video codec not supported by this FFmpeg")
        rate = float(vs.average_rate or vs.guessed_rate or 0) or 25.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:
            duration = 0.0
        rotation = 0
        try:
            for frame in c.decode(vs):
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                break
        except Exception as e:
            raise MediaError(
                f"{path}: the {vs.codec_context.name} video cannot be decoded "
                f"({' '.join(str(e).split())}); re-encode it to H.264"
            ) from e
        w, h = vs.codec_context.width, vs.codec_context.height
        if rotation in (90, 270):
            w, h = h, w
        tc = vs.metadata.get("timecode") or c.metadata.get("timecode")
        return MediaInfo(
            path=str(path),
            duration_s=duration,
            rate=rate,
            width=w,
            height=h,
            rotation=rotation,
            start_timecode_s=_timecode_seconds(tc, rate),
            codec=vs.codec_context.name,
            nominal_rate=_nominal_rate(vs),
        )


def configure_decoder(stream: Any) -> None:
    """Frame threads for the decoder: one per core, plus one to cover the
    time the analysis thread holds a core (measured on 2 cores, 60 s of
    1080p: 4.3 s with 3 threads, 4.6 s with 2, 5.4 s with 1; FFmpeg's own
    automatic count is slower still). Full decoding otherwise: skipping
    H.264's loop filter would save a fifth but moves PySceneDetect's cuts off
    its goldens."""
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = (os.cpu_count() or 2) + 1


def analysis_size(width: int, height: int, target: int = ANALYSIS_WIDTH) -> tuple[int, int]:
    """(w, h) of analysis frames, scaled as PySceneDetect scales (never upscaled)."""
    if width < target:
        return width, height
    factor = width / target
    return int(width / factor), int(height / factor)


def frames(
    path: str | os.PathLike[str],
    start_s: float,
    end_s: float,
    width: int = ANALYSIS_WIDTH,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode the frames whose timestamps lie in ``[start_s, end_s)`` in a
    background thread, so that decoding (FFmpeg, which releases the GIL) runs
    while the caller analyses the previous frames.

    Same parameters and items as :func:`decode_range`. The background thread
    only decodes: with frame threading, FFmpeg starts the next frame only when
    this thread comes back for it, so it hands the decoded frames over as
    they come and the scaling to the analysis size happens here, in the
    caller's thread (on 2 cores, decoding and scaling 60 s of 1080p without
    analysis: 2.9 s against 3.0-3.3 s with the scaling in the decoding
    thread). Closing the iterator early stops the decoder.
    """
    items: queue.Queue[Any] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in _decoded(path, start_s, end_s):
                if not put(item):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, raised there
            put(_Failure(e))

    scaler = _Scaler(width)  # imports PyAV here first: two threads importing it at once can clash
    worker = threading.Thread(target=produce, name="vidmusician-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            t, frame = item
            yield t, scaler.image(frame, path, t)
    finally:
        stop.set()
        worker.join(timeout=10)


_END = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def decode_range(
    path: str | os.PathLike[str],
    start_s: float,
    end_s: float,
    width: int = ANALYSIS_WIDTH,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode the frames whose timestamps lie in ``[start_s, end_s)``.

    Parameters
    ----------
    path : path-like
    start_s, end_s : float
        Seconds from the video stream's first timestamp.
    width : int
        Analysis width in pixels (display orientation).

    Yields
    ------
    (t, frame)
        ``t`` seconds from the stream's start (from the frame's pts);
        ``frame`` BGR uint8 of shape (h, width, 3), rotated for display.
    """
    scaler = _Scaler(width)
    for t, frame in _decoded(path, start_s, end_s):
        yield t, scaler.image(frame, path, t)


def _decoded(path: str | os.PathLike[str], start_s: float, end_s: float) -> Iterator[tuple[float, Any]]:
    """The decoded frames (``av.VideoFrame``, full size) whose timestamps lie
    in ``[start_s, end_s)``, with their times as :func:`decode_range` gives them."""
    import av

    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(_no_video(path, c))
        vs = c.streams.video[0]
        configure_decoder(vs)
        tb = vs.time_base or Fraction(1, 1000)
        t0 = float(vs.start_time * tb) if vs.start_time is not None else 0.0
        if start_s > 0.5:
            c.seek(int((start_s + t0) / tb), stream=vs, backward=True, any_frame=False)
        try:
            for frame in c.decode(vs):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb) - t0
                if t < start_s - 1e-6:
                    continue
                if t >= end_s - 1e-6:
                    break
                yield t, frame
        except av.error.FFmpegError as e:
            raise MediaError(
                f"{path}: decoding failed near {start_s:.2f} s ({' '.join(str(e).split())})"
            ) from e


class _Scaler:
    """Decoded frames to analysis frames: scaled once with libswscale straight
    to BGR at the analysis size, rotated for display (from the first frame)."""

    def __init__(self, width: int):
        import av
        from av.video.reformatter import VideoReformatter

        self.width = width
        self.reformatter = VideoReformatter()  # one scaler context for the whole range
        self.error = av.error.FFmpegError
        self.size: tuple[int, int] | None = None
        self.rot = 0

    def image(self, frame: Any, path: str | os.PathLike[str], t: float) -> np.ndarray:
        if self.size is None:
            self.rot = rot = int(getattr(frame, "rotation", 0) or 0) % 360
            dw, dh = (frame.height, frame.width) if rot in (90, 270) else (frame.width, frame.height)
            w, h = analysis_size(dw, dh, self.width)
            self.size = (h, w) if rot in (90, 270) else (w, h)
        try:
            # point sampling, as OpenCV's INTER_LINEAR does at these ratios in
            # PySceneDetect, keeps its detectors' results (goldens) unchanged
            img: np.ndarray = self.reformatter.reformat(
                frame,
                width=self.size[0],
                height=self.size[1],
                format="bgr24",
                interpolation="POINT",
                threads=1,  # a frame this small: swscale's own threads cost more than they save
            ).to_ndarray()
        except self.error as e:
            raise MediaError(
                f"{path}: converting the frame at {t:.2f} s failed ({' '.join(str(e).split())})"
            ) from e
        if self.rot:
            img = np.ascontiguousarray(np.rot90(img, k=self.rot // 90))
        return img


def thumbnail(path: str | os.PathLike[str], time_s: float, width: int = 160) -> np.ndarray:
    """The frame shown at ``time_s`` (seconds in the file, from its first
    frame) as RGB uint8 [shape=(h, width, 3)], rotated for display.

    Raises ``MediaError`` when the file cannot be decoded there.
    """
    for _t, frame in _decoded(path, max(0.0, time_s), float("inf")):
        rot = int(getattr(frame, "rotation", 0) or 0) % 360
        dw, dh = (frame.height, frame.width) if rot in (90, 270) else (frame.width, frame.height)
        h = max(2, int(round(dh * width / max(dw, 1))))
        size = (h, width) if rot in (90, 270) else (width, h)
        img: np.ndarray = frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
        if rot:
            img = np.ascontiguousarray(np.rot90(img, k=rot // 90))
        return img
    raise MediaError(f"{path}: no frame at {time_s:.2f} s")


def shot_thumbnail(
    shot: Any, width: int = 160, probed: dict[str, MediaInfo | None] | None = None
) -> np.ndarray | None:
    """The middle frame of ``shot`` (a :class:`~vidmusician.core.model.Shot`),
    RGB uint8 [shape=(h, width, 3)], or None for a gap, missing media or a
    range outside the file. ``probed`` keeps each file's :func:`probe` between
    calls (many shots cut from one file are probed once)."""
    if not shot.media_found or shot.media is None:
        return None
    probed = {} if probed is None else probed
    try:
        if shot.media not in probed:
            probed[shot.media] = None
            probed[shot.media] = probe(shot.media)
        info = probed[shot.media]
        if info is None:
            return None
        rng = file_range(shot, info)
        if rng is None:
            return None
        return thumbnail(shot.media, (rng[0] + rng[1]) / 2, width)
    except MediaError:
        return None


def file_range(shot: Shot, info: MediaInfo) -> tuple[float, float] | None:
    """The shot's source range in seconds of the media file, or None if outside it.

    Source times in a timeline are in the media's own time base, which starts
    at the file's start timecode. Tried in turn: the timeline's available range
    start, the file's own timecode, 0; the first that puts the range inside
    the file wins.
    """
    if shot.source_start_s is None or shot.source_end_s is None:
        return None
    tol = 1.5 / info.rate
    for off in (shot.media_start_s, info.start_timecode_s, 0.0):
        if off is None:
            continue
        a, b = shot.source_start_s - off, shot.source_end_s - off
        if a >= -tol and b <= info.duration_s + tol and b > a:
            return max(0.0, a), min(info.duration_s, b)
    return None
