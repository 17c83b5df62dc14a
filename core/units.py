"""The one place that converts between units: frames, seconds, samples, PCM; URLs to paths.

Outside this module, the timeline edge speaks OpenTimelineIO's
``RationalTime``/``TimeRange`` and frames; analysis and rhythm speak float
seconds from the timeline's first frame; audio is samples at
:data:`OUTPUT_SR`, float32 ``(channels, n)`` while it is worked on and
int32 ``(n, channels)`` on the 24-bit grid as a WAV file stores it
(:func:`pcm_to_float`, :func:`float_to_pcm`).
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from pathlib import PurePosixPath, PureWindowsPath

import numpy as np
import opentimelineio as otio
from opentimelineio.opentime import RationalTime as RationalTime
from opentimelineio.opentime import TimeRange as TimeRange

#: Frame rates outside this range are refused as absurd (frames per second).
MIN_RATE = 1.0
MAX_RATE = 1000.0

#: No time in a timeline (a start, a duration, a timecode) lies further than this
#: from zero: 48 hours (seconds). Longer is a corrupt or hostile number.
MAX_TIME_S = 48 * 3600.0

#: The largest rate a RationalTime inside a timeline may have (audio sample rates
#: such as 48000 and 192000 appear in real timelines; per second).
MAX_TIME_RATE = 1_000_000.0


#: The sample rate of every audio file VidMusician writes (mix, stems, takes), per second.
OUTPUT_SR = 48000

#: Full scale of PCM samples as read (int32: the 24-bit samples sit in its top 24 bits).
PCM_FULL = float(1 << 31)
#: One step of the 24-bit grid, in int32 units.
PCM_STEP = 256


def samples(seconds_: float, sr: int = OUTPUT_SR) -> int:
    """``seconds_`` as a whole number of samples at ``sr`` (Hz), rounded to nearest."""
    return int(round(seconds_ * sr))


def frame_to_sample(frame: float, rate: float, sr: int = OUTPUT_SR) -> int:
    """The sample (at ``sr`` Hz) where timeline frame ``frame`` (at ``rate`` fps) starts."""
    return int(round(frame * sr / rate))


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int32 PCM [shape=(n, channels)] (a WAV's samples as read) -> float32
    [shape=(channels, n)] in [-1, 1): the one conversion between the layouts."""
    return np.asarray(pcm).T.astype(np.float32) / PCM_FULL


def float_to_pcm(x: np.ndarray) -> np.ndarray:
    """float [shape=(n, channels)] -> int32 on the 24-bit grid (rounded, clipped):
    what a 24-bit WAV stores, as :func:`pcm_to_float` reads it back."""
    q = np.round(np.asarray(x, np.float64) * (PCM_FULL / PCM_STEP)) * PCM_STEP
    return np.clip(q, -PCM_FULL, PCM_FULL - PCM_STEP).astype(np.int32)


def frames(t: RationalTime, rate: float) -> int:
    """``t`` as a whole number of frames at ``rate`` (fps), rounded to nearest."""
    return int(round(t.rescaled_to(rate).value))


def seconds(t: RationalTime) -> float:
    """``t`` in seconds."""
    return float(t.to_seconds())


def timecode(frame: int, rate: float, drop_frame: bool | None = None) -> str:
    """SMPTE timecode of ``frame`` at ``rate``; falls back to HH:MM:SS.mmm.

    ``drop_frame`` None: non-drop-frame for integer rates, and for NTSC rates
    (23.976, 29.97, ...) OpenTimelineIO's inference (drop-frame at 29.97 and
    59.94, written with ``;``). Rates SMPTE does not define give a clock time.
    """
    try:
        if drop_frame is None:
            return str(otio.opentime.to_timecode(RationalTime(frame, rate), rate))
        return str(otio.opentime.to_timecode(RationalTime(frame, rate), rate, drop_frame))
    except ValueError:
        return clock(frame / rate)


def record_timecode(start_timecode: str, frame: int, rate: float) -> str:
    """The record timecode of ``frame`` (counted from the timeline's first
    frame, whose timecode is ``start_timecode``): what an editor's timeline
    shows there, drop-frame when the start is. A start that is a clock time
    (rates SMPTE does not define) gives a clock time."""
    drop = is_drop_frame(start_timecode)
    try:
        first = frames(otio.opentime.from_timecode(start_timecode, rate), rate)
    except (ValueError, TypeError):
        try:
            h, m, s = start_timecode.split(":")
            start_s = int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            start_s = 0.0
        return clock(start_s + frame / rate)
    return timecode(first + frame, rate, drop)


def is_drop_frame(tc: str) -> bool:
    """True for a drop-frame timecode (``01:00:00;00``: a ``;`` before the frames)."""
    return ";" in tc


def has_drop_frame(rate: float) -> bool:
    """True for the rates SMPTE counts drop frame at (29.97 and 59.94, as their
    exact NTSC values or written short)."""
    exact = snap_rate(rate)
    return round(exact) != exact and round(exact) % 30 == 0


def snap_rate(rate: float) -> float:
    """``rate`` as SMPTE timecode needs it: an NTSC rate written short (29.97,
    23.976, 23.98, 59.94) becomes the exact one (30000/1001, ...); any other
    rate is returned unchanged."""
    near = float(otio.opentime.RationalTime.nearest_valid_timecode_rate(rate))
    return near if abs(near - rate) < 0.01 else float(rate)


def clock(s: float) -> str:
    """Seconds as ``HH:MM:SS.mmm``."""
    ms = int(round(s * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    sec, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}.{ms:03d}"


def time_problem(t: RationalTime) -> str | None:
    """What makes ``t`` unusable as a time in a timeline, or None when it is fine:
    a rate that is not a positive finite number (up to :data:`MAX_TIME_RATE`),
    a value that is not finite, or a time further than :data:`MAX_TIME_S` from 0."""
    rate, value = float(t.rate), float(t.value)
    if not (math.isfinite(rate) and 0 < rate <= MAX_TIME_RATE):
        return f"rate {rate:g} is not a frame rate"
    if not math.isfinite(value):
        return f"{value:g} is not a finite number"
    if abs(value / rate) > MAX_TIME_S:
        return f"{value:g} frames at {rate:g} fps is more than {MAX_TIME_S / 3600:g} hours"
    return None


def valid_rate(rate: float) -> bool:
    """True when ``rate`` (fps) is a finite rate a real video could have."""
    return math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE


_DRIVE = re.compile(r"^/?([A-Za-z])[:|](?=/|$)")


def url_to_path(url: str, windows: bool | None = None) -> str | None:
    """The local path that a media reference's URL names.

    Parameters
    ----------
    url : str
        A ``file:`` URL (percent-encoded: ``file:///Users/me/a%20b.mov``,
        ``file://localhost/...``, a Windows drive ``file:///C:/x.mov``, a
        UNC host ``file://server/share/x.mov``), or a plain path (``a.mov``,
        ``/abs/a.mov``, ``C:\\x.mov``), returned as it is.
    windows : bool, optional
        Write the path as Windows does (``C:\\x``, ``\\\\server\\share\\x``);
        default: as this machine does. Elsewhere a UNC host is
        ``//server/share/x`` and a drive ``C:/x``.

    Returns
    -------
    str or None
        The path; None for a URL of another scheme (``http:``, ``s3:``),
        which names no local file.
    """
    if windows is None:
        windows = os.name == "nt"
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        if parsed.scheme and len(parsed.scheme) > 1:  # http://, s3://, ... (one letter: a drive)
            return None
        return url
    raw = urllib.parse.unquote(parsed.path)
    host = urllib.parse.unquote(parsed.netloc)
    if re.fullmatch(r"[A-Za-z][:|]", host):  # file://C:/x, as some tools write it
        raw, host = f"/{host[0]}:{raw}", ""
    drive = _DRIVE.match(raw)
    if drive:  # file:///C:/x (and the old file:///C|/x)
        raw = f"{drive.group(1)}:{raw[drive.end() :]}"
        if raw.endswith(":"):
            raw += "/"
    elif host and host.lower() != "localhost":  # file://server/share/x: a UNC path
        raw = f"//{host}{raw}"
    if windows:
        return str(PureWindowsPath(raw))
    return str(PurePosixPath(raw)) if raw else raw
