"""The single decode pass over one source range: every analyser on the same frames.

For each decoded frame (about 320 px wide, see :mod:`.decode`):

- PySceneDetect's detector gets it through ``process_frame`` (cuts inside media);
- dense optical flow (OpenCV DIS, ultrafast preset) against the previous frame,
  on brightness-normalised grey frames so that fades do not read as motion,
  split into camera motion (a global fit of pan, zoom and roll) and object
  motion (what the fit leaves);
- every few frames, colour statistics and face presence for shot semantics.

Flash frames (a frame much brighter or darker than both neighbours, which are
alike) are found afterwards: their motion is interpolated from the frames
around them and a cut the detector saw there is dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .. import fsutil
from ..progress import CancelToken, ProgressFn, check, report
from .decode import ANALYSIS_WIDTH, frames
from .scenes import make_detector

SCAN_VERSION = 3

#: Per-frame colour statistics, columns of :attr:`Scan.stats`.
STAT_NAMES = ("brightness", "contrast", "saturation", "colourfulness", "warmth")

FLASH_JUMP = 30.0  # mean luma jump (0..255) into and out of a flash frame
FLASH_SIMILAR = 12.0  # neighbours of a flash frame differ by less than this
FLAT_STD = 4.0  # a frame whose luma varies less than this is flat (black, a fade's end)
CHANGE_WIDTH = 64  # frames are compared this wide for :attr:`Scan.change`


@dataclass(frozen=True)
class ScanParams:
    """Everything that changes a scan's result (part of the cache key)."""

    width: int = ANALYSIS_WIDTH
    detector: str = "adaptive"
    threshold: float | None = None
    flow_width: int = 160  # flow on half the analysis frame: the fit needs no more
    stats_per_s: float = 4.0
    faces_per_s: float = 0.5
    thumbs_per_s: float = 1.0  # analysis frames kept for CLIP (and any later look)

    def key(self) -> str:
        return json.dumps({**asdict(self), "version": SCAN_VERSION}, sort_keys=True)


@dataclass(frozen=True)
class Scan:
    """Per-frame results of one source range, in the media's own time.

    Attributes
    ----------
    t : ndarray [shape=(n,)]
        Frame times, seconds from the video stream's start (from timestamps).
    luma : ndarray [shape=(n,)]
        Mean luma, 0..255.
    motion, camera, object : ndarray [shape=(n,)]
        Motion between frame i-1 and i, in frame widths per second: the whole
        flow, its global affine part (camera) and the residual (objects).
        Frame 0 has 0.
    dx, dy : ndarray [shape=(n,)]
        Mean flow vector, frame widths per second (x right, y down).
    interpolated : ndarray [shape=(n,)] of bool
        Motion that was interpolated (flash frames, detected cuts).
    change : ndarray [shape=(n,)]
        How much frame i differs from frame i-1: PySceneDetect's content
        score (the mean absolute change of hue, saturation and value, 0..255,
        averaged over the three): the content detectors' own score of the
        analysis frame (adaptive, content), else the same score worked out on
        frames :data:`CHANGE_WIDTH` pixels wide. Frame 0 has 0. What
        :func:`cut_sized` reads at an edit point.
    stats : ndarray [shape=(n, 5)]
        :data:`STAT_NAMES` per frame, NaN where not sampled.
    faces : ndarray [shape=(n,)]
        Number of frontal faces, NaN where not sampled.
    cuts : ndarray [shape=(k,)]
        Times (seconds, media time) where PySceneDetect saw a new scene begin.
    thumb_t : ndarray [shape=(m,)]
        Times of the kept frames (``thumbs_per_s`` of them a second).
    thumbs : ndarray [shape=(m, h, w, 3)]
        Those analysis frames, BGR uint8: what CLIP looks at, with no second decode.
    """

    t: np.ndarray
    luma: np.ndarray
    motion: np.ndarray
    camera: np.ndarray
    object: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    interpolated: np.ndarray
    change: np.ndarray
    stats: np.ndarray
    faces: np.ndarray
    cuts: np.ndarray
    thumb_t: np.ndarray
    thumbs: np.ndarray

    def save(self, path: Path) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{f.name: getattr(self, f.name) for f in fields(self)})

        fsutil.write_with(path, write, overwrite=True)

    @classmethod
    def load(cls, path: Path) -> Scan:
        with np.load(path) as z:
            return cls(**{f.name: z[f.name] for f in fields(cls)})


def cache_key(path: str, start_s: float, end_s: float, params: ScanParams) -> str:
    """Media identity (path, size, mtime), range (ms) and parameters, hashed."""
    st = os.stat(path)
    ident = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{start_s:.3f}|{end_s:.3f}|{params.key()}"
    return hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # any file name


class _Faces:
    def __init__(self) -> None:
        import cv2

        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():  # pragma: no cover - the wheel ships it
            raise RuntimeError(f"OpenCV face cascade missing: {path}")

    def count(self, grey: np.ndarray) -> int:
        found = self.cascade.detectMultiScale(grey, scaleFactor=1.3, minNeighbors=5, minSize=(28, 28))
        return len(found)


def colour_stats(bgr: np.ndarray, grey: np.ndarray | None = None) -> np.ndarray:
    """:data:`STAT_NAMES` of one BGR uint8 frame, each in [0, 1] (warmth in [-1, 1]).

    brightness  mean luma / 255
    contrast    luma standard deviation / 128, at most 1
    saturation  mean HSV saturation / 255
    colourfulness  Hasler & Süsstrunk (2003) M / 110, at most 1 (110 = "extremely colourful")
    warmth      mean (R - B) / 255: red/orange > 0, blue < 0

    ``grey``: the frame's luma when the caller has it. Every mean and
    standard deviation is one OpenCV call (in double precision) on the whole
    frame, the opponent channels rg = R - G and 2 yb = (R - B) + (G - B) are
    exact in int16.
    """
    import cv2

    if grey is None:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    luma_mean, luma_std = (float(x[0][0]) for x in cv2.meanStdDev(grey))
    saturation = cv2.mean(cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV))[1]
    b, g, r = cv2.split(bgr)
    rb = cv2.subtract(r, b, dtype=cv2.CV_16S)
    rg_mean, rg_std = (float(x[0][0]) for x in cv2.meanStdDev(cv2.subtract(r, g, dtype=cv2.CV_16S)))
    yb2_mean, yb2_std = (
        float(x[0][0]) for x in cv2.meanStdDev(cv2.add(rb, cv2.subtract(g, b, dtype=cv2.CV_16S)))
    )
    m = np.hypot(rg_std, yb2_std / 2) + 0.3 * np.hypot(rg_mean, yb2_mean / 2)
    return np.array(
        [
            luma_mean / 255.0,
            min(1.0, luma_std / 128.0),
            saturation / 255.0,
            min(1.0, m / 110.0),
            cv2.mean(rb)[0] / 255.0,
        ],
        dtype=np.float32,
    )


class _Flow:
    """DIS flow with a global similarity fit (camera) and its residual (objects)."""

    def __init__(self, width: int):
        import cv2

        self.cv2 = cv2
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)  # type: ignore[attr-defined]
        self.width = width
        self._grid: tuple | None = None  # ((h, w), design, its pseudo-inverse)

    def prepare(self, grey: np.ndarray) -> np.ndarray | None:
        """Brightness-normalised small frame, or None for a flat frame."""
        h, w = grey.shape
        if w != self.width:
            grey = self.cv2.resize(
                grey, (self.width, max(2, round(h * self.width / w))), interpolation=self.cv2.INTER_AREA
            )
        mean, std = (float(x[0][0]) for x in self.cv2.meanStdDev(grey))
        if std < FLAT_STD:
            return None
        # saturating uint8 arithmetic in one OpenCV call: (g - mean) * 48/std + 128
        gain = 48.0 / std
        return self.cv2.addWeighted(grey, gain, grey, 0.0, 128.0 - mean * gain)

    def measure(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
        """(total, camera, object, dx, dy) in pixels per frame at the flow width.

        Camera motion is a similarity flow field (pan, zoom, roll: u = tx + s x
        - r y, v = ty + r x + s y about the frame centre) fitted by least
        squares on a grid of the flow, refitted once without the points it
        explains worst (the moving objects); object motion is the residual.
        """
        flow = self.dis.calc(a, b, None)
        h, w = a.shape
        if self._grid is None or self._grid[0] != (h, w):
            ys, xs = np.mgrid[4:h:8, 4:w:8]
            x = (xs.ravel() - w / 2) / w
            y = (ys.ravel() - h / 2) / w
            one, zero = np.ones_like(x), np.zeros_like(x)
            # rows: all u equations, then all v equations; columns: tx, ty, s, r
            design = np.concatenate(
                [np.stack([one, zero, x, -y], axis=1), np.stack([zero, one, y, x], axis=1)]
            )
            self._grid = ((h, w), design, np.linalg.pinv(design))
        _, design, pinv = self._grid
        # the flow on the grid (every 8th pixel from 4), as u's then v's
        uv = np.ascontiguousarray(flow[4::8, 4::8].reshape(-1, 2).T, np.float64)  # (2, m)
        m = uv.shape[1]
        stacked = uv.ravel()
        fit = design @ (pinv @ stacked)
        res = np.hypot(*(stacked - fit).reshape(2, m))
        keep = res <= 2.5 * _median(res) + 0.05
        if 6 <= keep.sum() < m:
            both = np.concatenate([keep, keep])
            d = design[both]
            coef = np.linalg.solve(d.T @ d + _RIDGE, d.T @ stacked[both])
            fit = design @ coef
        cam = fit.reshape(2, m)
        total = float(np.hypot(*uv).mean())
        camera = float(np.hypot(*cam).mean())
        obj = float(np.hypot(*(uv - cam)).mean())
        return total, camera, obj, float(uv[0].mean()), float(uv[1].mean())


_RIDGE = 1e-9 * np.eye(4)


def _median(x: np.ndarray) -> float:
    """``np.median`` of a 1-D array, without its generality (it is called per frame)."""
    k = len(x) // 2
    if not len(x):
        return float("nan")
    if len(x) % 2:
        return float(np.partition(x, k)[k])
    part = np.partition(x, [k - 1, k])
    return float((part[k - 1] + part[k]) / 2)


_forked = False  # this process is a fork of one that may have started OpenCV's threads


def _after_fork() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def _opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's thread count set to ``n`` for the block, then put back.

    Not in a forked process (the analysis's own worker processes): there
    ``cv2.setNumThreads`` waits forever for the parent's pool threads, which
    a fork does not copy; OpenCV's own threading is left as it is."""
    import multiprocessing

    import cv2

    if _forked or multiprocessing.parent_process() is not None:
        yield
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def scan(
    path: str,
    start_s: float,
    end_s: float,
    rate: float,
    params: ScanParams = ScanParams(),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Scan:
    """Decode ``[start_s, end_s)`` of ``path`` once and run every analyser on it.

    Parameters
    ----------
    path : str
    start_s, end_s : float
        Seconds from the video stream's start.
    rate : float
        Nominal frame rate (fps), for PySceneDetect's frame numbering and the
        sampling of statistics; motion uses the real time between frames.
    """
    rate = float(rate)
    d = _decode(path, start_s, end_s, rate, params, progress, cancel)
    report(progress, 1.0, "analysing picture")
    n = len(d.ts)
    t_arr = np.asarray(d.ts, np.float64)
    m = np.asarray(d.meas, np.float64).reshape(n, 5)
    # pixels per frame at the flow width -> frame widths per second (real frame spacing)
    dt = np.diff(t_arr, prepend=t_arr[0] - 1.0 / rate) if n else t_arr
    dt = np.where(dt > 1e-4, dt, 1.0 / rate)
    m = m / float(params.flow_width) / dt[:, None]
    luma_arr = np.asarray(d.luma, np.float64)
    bad, cuts = _unmeasured(luma_arr, d.cut_idx)
    for col in range(5):
        m[:, col] = _interpolate(t_arr, m[:, col], bad)

    return Scan(
        t=t_arr,
        luma=luma_arr,
        motion=m[:, 0],
        camera=m[:, 1],
        object=m[:, 2],
        dx=m[:, 3],
        dy=m[:, 4],
        interpolated=bad,
        change=np.asarray(d.change, np.float64),
        stats=np.asarray(d.stats, np.float32).reshape(n, len(STAT_NAMES)),
        faces=np.asarray(d.nfaces, np.float32),
        cuts=t_arr[cuts] if n else np.zeros(0),
        thumb_t=np.asarray(d.thumb_t, np.float64),
        thumbs=np.stack(d.thumbs) if d.thumbs else np.zeros((0, 1, 1, 3), np.uint8),
    )


@dataclass
class _Decoded:
    """What one decode pass collects, one value per frame (statistics and
    faces: NaN where not sampled), the detector's cut frames and the thumbnails."""

    ts: list[float] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    meas: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    stats: list[np.ndarray] = field(default_factory=list)
    nfaces: list[float] = field(default_factory=list)
    cut_idx: list[int] = field(default_factory=list)
    thumb_t: list[float] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)


def _decode(
    path: str,
    start_s: float,
    end_s: float,
    rate: float,
    params: ScanParams,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> _Decoded:
    """The one decode pass: every analyser sees each frame as it comes."""
    import cv2
    from scenedetect import ContentDetector, FrameTimecode

    det = make_detector(params.detector, params.threshold)
    # PySceneDetect's content detectors (adaptive, content) score each frame's change
    # as they go: read that rather than work it out twice (the others get ours)
    content_scores = isinstance(det, ContentDetector) and hasattr(det, "_frame_score")
    flow = _Flow(params.flow_width)
    faces = _Faces()
    stat_every = max(1, round(rate / params.stats_per_s))
    face_every = max(1, round(rate / params.faces_per_s))
    d = _Decoded()
    prev_hsv: np.ndarray | None = None
    next_thumb = -np.inf
    nan_stats = np.full(len(STAT_NAMES), np.nan, np.float32)
    prev: np.ndarray | None = None
    span = max(1e-6, end_s - start_s)
    # OpenCV single-threaded: on frames this small its thread pool costs more
    # than it gives, and the other cores are decoding (the decoder's frame threads)
    with _opencv_threads(1):
        for i, (t, img) in enumerate(frames(path, start_s, end_s, params.width)):
            if i % 16 == 0:
                check(cancel)
                report(progress, (t - start_s) / span, "analysing picture")
            grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            for c in det.process_frame(FrameTimecode(i, rate), img):
                d.cut_idx.append(int(c.frame_num))
            small = flow.prepare(grey)
            if i == 0 or small is None or prev is None:
                d.meas.append((0.0, 0.0, 0.0, 0.0, 0.0))
            else:
                d.meas.append(flow.measure(prev, small))
            prev = small
            if content_scores:  # the detector's own content score of this frame
                d.change.append(float(det._frame_score or 0.0) if i else 0.0)
            else:
                hsv = _change_frame(img)
                d.change.append(0.0 if prev_hsv is None else _content_score(hsv, prev_hsv))
                prev_hsv = hsv
            d.ts.append(t)
            d.luma.append(float(cv2.mean(grey)[0]))
            d.stats.append(colour_stats(img, grey) if i % stat_every == 0 else nan_stats)
            d.nfaces.append(float(faces.count(grey)) if i % face_every == 0 else np.nan)
            if params.thumbs_per_s > 0 and t >= next_thumb:
                d.thumb_t.append(t)
                d.thumbs.append(img)
                next_thumb = t + 1.0 / params.thumbs_per_s - 1e-6
    n = len(d.ts)
    if n and hasattr(det, "post_process"):
        d.cut_idx += [int(c.frame_num) for c in det.post_process(FrameTimecode(n - 1, rate))]
    return d


def _unmeasured(luma: np.ndarray, cut_idx: list[int]) -> tuple[np.ndarray, list[int]]:
    """Frames whose flow measures nothing real (flashes and the frame after
    each, cuts), shape (n,) bool; and the cuts (frame indices) that are not flashes."""
    n = len(luma)
    bad = np.zeros(n, bool)
    flashes = flash_frames(luma)
    for i in flashes:
        bad[i] = True
        if i + 1 < n:
            bad[i + 1] = True
    drop = set(flashes) | {i + 1 for i in flashes}
    cuts = sorted({c for c in cut_idx if 0 < c < n and c not in drop})
    for c in cuts:  # flow across a cut measures nothing real
        bad[c] = True
    return bad, cuts


def _change_frame(bgr: np.ndarray) -> np.ndarray:
    """The frame as :attr:`Scan.change` compares it: HSV, :data:`CHANGE_WIDTH` wide."""
    import cv2

    h, w = bgr.shape[:2]
    if w > CHANGE_WIDTH:
        bgr = cv2.resize(
            bgr, (CHANGE_WIDTH, max(2, round(h * CHANGE_WIDTH / w))), interpolation=cv2.INTER_AREA
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)


def _content_score(hsv: np.ndarray, prev_hsv: np.ndarray) -> float:
    """PySceneDetect's ``content_val`` (ContentDetector, equal weights, no edges)."""
    import cv2

    if hsv.shape != prev_hsv.shape:
        return 255.0
    return float(sum(cv2.mean(cv2.absdiff(hsv, prev_hsv))[:3]) / 3.0)


#: A frame difference is cut-sized (:func:`cut_sized`) when it is at least this
#: content score and this many times the mean of its neighbours' (PySceneDetect's
#: AdaptiveDetector defaults: ``min_content_val`` 15, ``adaptive_threshold`` 3,
#: ``window_width`` 2).
CUT_MIN_CHANGE = 15.0
CUT_CHANGE_RATIO = 3.0
CUT_CHANGE_WINDOW = 2


def cut_sized(change: np.ndarray, i: int) -> bool:
    """Whether the change into frame ``i`` is as large as a cut's.

    Parameters
    ----------
    change : ndarray [shape=(n,)]
        :attr:`Scan.change`.
    i : int
        Frame index (the first frame after the edit point).
    """
    if not 0 < i < len(change):
        return False
    v = float(change[i])
    around = np.concatenate(
        [change[max(1, i - CUT_CHANGE_WINDOW) : i], change[i + 1 : i + 1 + CUT_CHANGE_WINDOW]]
    )
    base = float(around.mean()) if len(around) else 0.0
    return v >= CUT_MIN_CHANGE and v >= CUT_CHANGE_RATIO * max(base, 1e-6)


def flash_frames(luma: np.ndarray) -> list[int]:
    """Indices of single-frame flashes (or drop-outs) in a mean-luma series.

    Frame i is a flash when it jumps by more than :data:`FLASH_JUMP` from both
    neighbours in the same direction while the neighbours are alike.
    """
    if len(luma) < 3:
        return []
    a, b, c = luma[:-2], luma[1:-1], luma[2:]
    up = (b - a > FLASH_JUMP) & (b - c > FLASH_JUMP)
    down = (a - b > FLASH_JUMP) & (c - b > FLASH_JUMP)
    alike = np.abs(a - c) < FLASH_SIMILAR
    return [int(i) + 1 for i in np.flatnonzero((up | down) & alike)]


def _interpolate(t: np.ndarray, v: np.ndarray, bad: np.ndarray) -> np.ndarray:
    if not bad.any() or bad.all():
        return np.where(bad, 0.0, v)
    good = ~bad
    out = v.copy()
    out[bad] = np.interp(t[bad], t[good], v[good])
    return out
