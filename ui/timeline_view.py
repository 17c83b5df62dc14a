"""The timeline view: shots, anchors, motion, the beat grid and the mix, in record time.

Everything is drawn with QPainter from plain arrays in :class:`ViewData`, and
only what is on screen: a paint touches the visible shots (found by binary
search) and reduces the curves to one value per pixel column with numpy, so
long timelines with hundreds of shots stay responsive at any zoom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import opentimelineio as otio
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PyQt6.QtWidgets import QScrollBar, QSizePolicy, QVBoxLayout, QWidget

from vidmusician.core import KIND_COLOURS, STYLE_COLOURS, units

#: lanes from top to bottom: (name, height in pixels)
LANES = (("ruler", 18), ("shots", 64), ("anchors", 22), ("motion", 54), ("beats", 16), ("music", 70))
TAKE_COLOURS = ("#3b7dd8", "#d8823b", "#3bb273", "#b23b9c", "#c9b43b", "#3bb2b2", "#8a5cd8", "#d83b4f")
ENVELOPE_RATE = 200  # waveform bins per second


def _clock_s(text: str) -> float:
    try:
        h, m, sec = text.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return 0.0


def start_frame(start_timecode: str, rate: float) -> int:
    """The record frame number of the timeline's first frame (``01:00:00:00``
    at 24 fps is 86400); a start that is a clock time (rates SMPTE timecode
    does not define) counts its seconds at ``rate``."""
    try:
        return units.frames(otio.opentime.from_timecode(start_timecode, rate), rate)
    except (ValueError, TypeError):
        return int(round(_clock_s(start_timecode) * rate))


def record_timecode(start_timecode: str, rate: float, t: float) -> str:
    """What the editor's timeline shows ``t`` seconds after its first frame:
    ``01:00:03:14`` (drop-frame when the start is); a clock time
    (``HH:MM:SS.mmm``) at rates SMPTE timecode does not define. The console's
    own (``core.units.record_timecode``), at the frame nearest ``t``."""
    return units.record_timecode(start_timecode, int(round(t * rate)), rate)


@dataclass
class ViewData:
    """What the view draws; seconds from the timeline's first frame throughout.

    Attributes
    ----------
    duration_s : float
    shots : list of (index, start_s, end_s, kind, style, label)
    anchors : list of (time_s, kind, strength in [0, 1])
    motion_hop_s : float
    motion : np.ndarray [shape=(n,)]
        Motion magnitude at ``motion_hop_s`` steps (any unit; drawn normalised).
    beats, downbeats : np.ndarray of float seconds
    envelope : np.ndarray [shape=(2, n)] or None
        Min and max of the mix per 1/``ENVELOPE_RATE`` s, in [-1, 1].
    pieces : list of (start_s, end_s or None, take)
        Which take the music track plays where.
    thumbnails : dict of shot index -> QImage
    rate : float
        The timeline's frame rate (0: unknown; the ruler then counts seconds).
    start_timecode : str
        The record timecode of the first frame: the ruler shows record timecode.
    """

    duration_s: float = 0.0
    shots: list[tuple[int, float, float, str, str, str]] = field(default_factory=list)
    anchors: list[tuple[float, str, float]] = field(default_factory=list)
    motion_hop_s: float = 0.04
    motion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    envelope: np.ndarray | None = None
    pieces: list[tuple[float, float | None, int]] = field(default_factory=list)
    thumbnails: dict[int, QImage] = field(default_factory=dict)
    rate: float = 0.0
    start_timecode: str = "00:00:00:00"

    @property
    def starts(self) -> np.ndarray:
        return np.array([s[1] for s in self.shots], float)

    def timecode(self, t: float) -> str:
        """Record timecode at ``t`` seconds (``m:ss.s`` when the rate is unknown)."""
        if self.rate <= 0:
            m, s = divmod(max(0.0, t), 60)
            return f"{int(m)}:{s:04.1f}"
        return record_timecode(self.start_timecode, self.rate, t)


def envelope(audio: np.ndarray, sr: int) -> np.ndarray:
    """Min and max per 1/``ENVELOPE_RATE`` s of ``audio`` [shape=(n, channels)]
    (int32 on the 24-bit grid, or float in [-1, 1]), channels summed to mono:
    [shape=(2, bins)] in [-1, 1]."""
    x = np.asarray(audio)
    scale = units.PCM_FULL if x.dtype == np.int32 else 1.0
    mono = x.astype(np.float32).mean(axis=1) / scale if x.ndim == 2 else x.astype(np.float32) / scale
    hop = max(1, sr // ENVELOPE_RATE)
    n = len(mono) // hop
    if n == 0:
        return np.zeros((2, 0), np.float32)
    frames = mono[: n * hop].reshape(n, hop)
    return np.stack([frames.min(axis=1), frames.max(axis=1)]).astype(np.float32)


def _columns(values: np.ndarray, rate: float, t0: float, pps: float, width: int, how: str) -> np.ndarray:
    """``values`` sampled at ``rate`` per second, reduced to one value per pixel
    column of a view starting at ``t0`` with ``pps`` pixels per second (max or min;
    NaN where there is no data)."""
    out = np.full(width, np.nan, np.float32)
    if len(values) == 0 or width <= 0:
        return out
    edges = np.clip(((t0 + np.arange(width + 1) / pps) * rate).astype(np.int64), 0, len(values))
    have = edges[1:] > edges[:-1]
    if have.any():
        # each run reaches the next non-empty column's start, the last one edges[-1]
        values_in = values[: edges[-1]]
        red = (np.maximum if how == "max" else np.minimum).reduceat(values_in, edges[:-1][have])
        out[have] = red
    fill = ~have & (edges[:-1] < len(values))  # zoomed past the data's rate: the sample under the column
    out[fill] = values[edges[:-1][fill]]
    return out


def _draw_lines(p: QPainter, lines: list[QLineF]) -> None:
    """All ``lines`` in one QPainter call (one call per line costs ~10 us each in Python)."""
    if lines:
        p.drawLines(*lines)


class TimelineView(QWidget):
    """Draws :class:`ViewData` between ``t0`` and ``t0 + width / pps`` seconds.

    Signals
    -------
    shotClicked(int)
        A click on a shot (its index).
    seekRequested(float)
        A click on the ruler or the music lane (seconds).
    viewChanged()
        Zoom or scroll changed.
    """

    shotClicked = pyqtSignal(int)
    seekRequested = pyqtSignal(float)
    viewChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.data = ViewData()
        self.t0 = 0.0
        self.pps = 50.0  # pixels per second
        self.playhead_s = 0.0
        self.selected = -1
        self.current = -1  # the shot under the playhead
        self.setMinimumHeight(sum(h for _, h in LANES) + 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._motion = np.zeros(0, np.float32)
        self._starts = np.zeros(0)
        self._anchors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ---- data and geometry

    def set_data(self, data: ViewData) -> None:
        self.data = data
        m = np.asarray(data.motion, np.float32)
        top = float(np.percentile(m, 99)) if len(m) else 0.0
        self._motion = np.clip(m / top, 0, 1.2) if top > 0 else m
        self._starts = data.starts
        self._anchors = {}
        for kind in {k for _, k, _ in data.anchors}:
            pts = sorted((t, st) for t, k, st in data.anchors if k == kind)
            self._anchors[kind] = (np.array([t for t, _ in pts]), np.array([st for _, st in pts]))
        self.update()

    def lane(self, name: str) -> tuple[int, int]:
        """(top, height) of a lane in pixels; height above the minimum goes
        to the shots, the motion curve and the music."""
        extra = max(0, self.height() - sum(h for _, h in LANES))
        more = {"shots": min(36, extra // 3)}
        more["motion"] = min(90, (extra - more["shots"]) // 3)
        more["music"] = extra - more["shots"] - more["motion"]
        y = 0
        for n, h in LANES:
            h = h + more.get(n, 0)
            if n == name:
                return y, h
            y += h
        raise KeyError(name)

    def x_of(self, t: float) -> float:
        return (t - self.t0) * self.pps

    def t_of(self, x: float) -> float:
        return self.t0 + x / self.pps

    @property
    def span_s(self) -> float:
        return self.width() / self.pps

    def fit(self) -> None:
        """Zoom so the whole timeline fills the view."""
        if self.data.duration_s > 0 and self.width() > 0:
            self.pps = max(1e-3, (self.width() - 8) / self.data.duration_s)
            self.t0 = 0.0
            self.viewChanged.emit()
            self.update()

    def zoom(self, factor: float, around_x: float | None = None) -> None:
        """Multiply pixels per second by ``factor`` keeping the time under ``around_x`` still."""
        x = self.width() / 2 if around_x is None else around_x
        t = self.t_of(x)
        lo = (self.width() - 8) / max(self.data.duration_s, 1.0) / 2
        self.pps = float(np.clip(self.pps * factor, lo, 2000.0))
        self.scroll_to(t - x / self.pps)

    def scroll_to(self, t0: float) -> None:
        top = max(0.0, self.data.duration_s - self.span_s * 0.9)
        self.t0 = float(np.clip(t0, 0.0, top))
        self.viewChanged.emit()
        self.update()

    def shot_at(self, t: float) -> int:
        """Index (in ``data.shots``) of the shot at ``t`` seconds, or -1."""
        if len(self._starts) == 0:
            return -1
        i = int(np.searchsorted(self._starts, t, side="right")) - 1
        if 0 <= i < len(self.data.shots) and t < self.data.shots[i][2]:
            return i
        return -1

    def set_playhead(self, t: float, follow: bool = True) -> None:
        self.playhead_s = t
        self.current = self.shot_at(t)
        if follow and (t < self.t0 or t > self.t0 + self.span_s * 0.95):
            self.scroll_to(t - self.span_s * 0.1)
        self.update()

    def select(self, index: int) -> None:
        self.selected = index
        if 0 <= index < len(self.data.shots):
            _, a, b, *_ = self.data.shots[index]
            if b < self.t0 or a > self.t0 + self.span_s:
                self.scroll_to(a - self.span_s * 0.1)
        self.update()

    # ---- input

    def mousePressEvent(self, e: QMouseEvent | None) -> None:
        if e is None:
            return
        y = e.position().y()
        t = self.t_of(e.position().x())
        ruler_y, ruler_h = self.lane("ruler")
        music_y, music_h = self.lane("music")
        if ruler_y <= y < ruler_y + ruler_h or music_y <= y < music_y + music_h:
            self.seekRequested.emit(max(0.0, min(t, self.data.duration_s)))
        else:
            i = self.shot_at(t)
            if i >= 0:
                self.shotClicked.emit(self.data.shots[i][0])

    def wheelEvent(self, e: QWheelEvent | None) -> None:
        if e is None:
            return
        dy = e.angleDelta().y() or e.angleDelta().x()
        if e.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 ** (dy / 120), e.position().x())
        else:
            self.scroll_to(self.t0 - dy / 120 * self.span_s * 0.1)

    # ---- painting

    def paintEvent(self, e: QPaintEvent | None) -> None:
        p = QPainter(self)
        try:
            p.fillRect(self.rect(), QColor("#1e1f22"))
            if self.data.duration_s > 0:
                self._paint(p)
            else:
                p.setPen(QColor("#9a9a9a"))
                p.drawText(
                    self.rect(),
                    Qt.AlignmentFlag.AlignCenter,
                    "Open a timeline or a video (File > Open, or drop it here)",
                )
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        w = self.width()
        d = self.data
        end_x = self.x_of(d.duration_s)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        p.setFont(small)
        self._ruler(p, w)
        self._shots(p, w)
        # anchors: per kind, the visible ones, one line per pixel column (the strongest)
        y, h = self.lane("anchors")
        t1 = self.t_of(w)
        for kind, (times, strengths) in self._anchors.items():
            a, b = np.searchsorted(times, [self.t0, t1])
            if b <= a:
                continue
            xs = np.round((times[a:b] - self.t0) * self.pps).astype(np.int64)
            st = strengths[a:b] if kind == "motion" else np.ones(b - a)
            order = np.lexsort((-st, xs))
            xs, st = xs[order], st[order]
            first = np.ones(len(xs), bool)
            first[1:] = xs[1:] != xs[:-1]
            tops = y + h - 4 - (h - 6) * np.clip(st[first], 0.25, 1.0)
            lines = [QLineF(float(x), float(top), float(x), y + h - 2) for x, top in zip(xs[first], tops)]
            p.setPen(QPen(QColor(KIND_COLOURS.get(kind, "#cccccc")), 2 if kind != "motion" else 1))
            _draw_lines(p, lines)
        # motion curve
        y, h = self.lane("motion")
        p.fillRect(QRectF(0, y, min(w, end_x), h), QColor("#26282c"))
        cols = _columns(self._motion, 1.0 / d.motion_hop_s, self.t0, self.pps, w, "max")
        ok = ~np.isnan(cols)
        if ok.any():
            xs = np.nonzero(ok)[0]
            ys = y + h - 2 - (h - 4) * np.clip(cols[ok], 0, 1.2) / 1.2
            poly = QPolygonF([QPointF(float(x), float(v)) for x, v in zip(xs, ys)])
            p.setPen(QPen(QColor(KIND_COLOURS["motion"]), 1))
            p.drawPolyline(poly)
        # beats and downbeats (at most one line per 3 px)
        y, h = self.lane("beats")
        for arr, colour, top in ((d.beats, "#6d6f75", y + h / 2), (d.downbeats, "#e0e0e0", y + 1)):
            a, b = np.searchsorted(arr, [self.t0, t1])
            step = max(1, (b - a) // max(w // 3, 1))
            beat_xs = (np.asarray(arr[a:b:step], float) - self.t0) * self.pps
            p.setPen(QPen(QColor(colour), 1))
            _draw_lines(p, [QLineF(float(x), top, float(x), y + h - 1) for x in beat_xs])
        self._music(p, w)
        p.setPen(QColor(255, 255, 255, 110))
        for name, _ in LANES[1:]:
            y, h = self.lane(name)
            p.drawText(QPointF(4, y + h - 4), name)
        # playhead
        x = self.x_of(self.playhead_s)
        if -1 <= x <= w + 1:
            p.setPen(QPen(QColor("#ff4d4d"), 1.5))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def ruler_ticks(self, w: int | None = None) -> list[tuple[float, str]]:
        """The ruler's ticks on screen: (seconds, label). With a known rate the
        labels are record timecode and the ticks sit on whole record frames,
        seconds or minutes of it (``01:00:05:00``); else ``m:ss`` from 0."""
        w = self.width() if w is None else w
        d = self.data
        t1 = self.t_of(w)
        out: list[tuple[float, str]] = []
        if d.rate <= 0:
            steps = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
            step = next((s for s in steps if s * self.pps >= 70), steps[-1])
            t = float(np.floor(self.t0 / step) * step)
            while t <= t1 and len(out) < 10_000:
                m, s = divmod(t, 60)
                label = f"{int(m)}:{s:04.1f}" if step < 1 else f"{int(m)}:{int(round(s)):02d}"
                out.append((t, label))
                t += step
            return out
        nominal = max(1, int(round(d.rate)))  # timecode counts this many frames a second
        # within a second: steps that divide it, so the ticks sit on the same frames every second
        frame_steps = [n for n in (1, 2, 5, 6, 10, 12, 15, 30) if n < nominal and nominal % n == 0]
        frame_steps += [nominal * s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)]
        px_per_frame = self.pps / d.rate
        step = next((n for n in frame_steps if n * px_per_frame >= 95), frame_steps[-1])
        first = start_frame(d.start_timecode, d.rate)
        rec = int(np.floor((first + self.t0 * d.rate) / step) * step)  # record frame of the first tick
        while len(out) < 10_000:
            t = (rec - first) / d.rate
            if t > t1:
                break
            out.append((t, d.timecode(t)))
            rec += step
        return out

    def _ruler(self, p: QPainter, w: int) -> None:
        y, h = self.lane("ruler")
        p.fillRect(QRectF(0, y, w, h), QColor("#2b2d31"))
        p.setPen(QColor("#a0a0a0"))
        for t, label in self.ruler_ticks(w):
            x = self.x_of(t)
            p.drawLine(QPointF(x, y + h - 5), QPointF(x, y + h))
            p.drawText(QPointF(x + 3, y + h - 6), label)

    def _shots(self, p: QPainter, w: int) -> None:
        y, h = self.lane("shots")
        d = self.data
        if not d.shots:
            return
        a = max(0, int(np.searchsorted(self._starts, self.t0, side="right")) - 1)
        b = int(np.searchsorted(self._starts, self.t_of(w), side="right"))
        for i in range(a, min(b, len(d.shots))):
            index, s0, s1, kind, style, _label = d.shots[i]
            x0, x1 = self.x_of(s0), self.x_of(s1)
            rect = QRectF(x0, y + 2, max(1.0, x1 - x0 - 1), h - 4)
            base = QColor("#111111") if kind == "gap" else QColor(STYLE_COLOURS.get(style, "#777777"))
            p.fillRect(rect, base)
            thumb = d.thumbnails.get(index)
            if thumb is not None and rect.width() > 12:
                scaled_w = thumb.width() * rect.height() / max(thumb.height(), 1)
                src_w = min(float(thumb.width()), thumb.width() * rect.width() / max(scaled_w, 1))
                src = QRectF((thumb.width() - src_w) / 2, 0, src_w, thumb.height())
                target = QRectF(rect.x(), rect.y(), min(rect.width(), scaled_w), rect.height())
                target.moveCenter(rect.center())
                p.drawImage(target, thumb, src)
            if i == self.current:
                p.fillRect(rect, QColor(255, 255, 255, 40))
            if rect.width() > 16:
                p.setPen(QColor("white"))
                p.drawText(rect.adjusted(3, 1, 0, 0), Qt.AlignmentFlag.AlignTop, str(index))
            if index == self.selected:
                p.setPen(QPen(QColor("#ffd400"), 3))
                p.drawRect(rect.adjusted(1, 1, -1, -1))

    def _music(self, p: QPainter, w: int) -> None:
        y, h = self.lane("music")
        d = self.data
        for s0, s1, take in d.pieces:
            x0 = self.x_of(s0)
            x1 = self.x_of(d.duration_s if s1 is None else s1)
            c = QColor(TAKE_COLOURS[(take - 1) % len(TAKE_COLOURS)])
            c.setAlpha(60)
            p.fillRect(QRectF(x0, y + 1, x1 - x0, h - 2), c)
            if x1 - x0 > 40:
                p.setPen(QColor("#d0d0d0"))
                p.drawText(QPointF(max(x0, 0) + 3, y + 12), f"take {take}")
        if d.envelope is None or d.envelope.shape[1] == 0:
            return
        lo = _columns(d.envelope[0], ENVELOPE_RATE, self.t0, self.pps, w, "min")
        hi = _columns(d.envelope[1], ENVELOPE_RATE, self.t0, self.pps, w, "max")
        ok = np.nonzero(~np.isnan(lo))[0]
        if len(ok) == 0:
            return
        half = h / 2 - 3
        # drawn as an image made with numpy: each pixel column filled from its
        # minimum to its maximum (one pixel at least); a polygon or thousands of
        # lines cost QPainter 10-50 ms here
        top = np.floor(h / 2 - half * hi[ok]).astype(np.int32)
        bottom = np.maximum(np.ceil(h / 2 - half * lo[ok]).astype(np.int32), top + 1)
        rows = np.arange(h, dtype=np.int32)[:, None]
        pixels = np.zeros((h, w), np.uint32)
        pixels[:, ok] = np.where((rows >= top) & (rows < bottom), np.uint32(0xFF7FC8FF), np.uint32(0))
        image = QImage(pixels.tobytes(), w, h, 4 * w, QImage.Format.Format_ARGB32)
        p.drawImage(QPointF(0, y), image)


class TimelinePane(QWidget):
    """:class:`TimelineView` with its horizontal scroll bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = TimelineView(self)
        self.bar = QScrollBar(Qt.Orientation.Horizontal, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view)
        layout.addWidget(self.bar)
        self.view.viewChanged.connect(self._sync_bar)
        self.bar.valueChanged.connect(self._scrolled)
        self._syncing = False

    def _sync_bar(self) -> None:
        v = self.view
        self._syncing = True
        ms = int(max(0.0, v.data.duration_s - v.span_s * 0.9) * 1000)
        self.bar.setRange(0, ms)
        self.bar.setPageStep(max(1, int(v.span_s * 1000)))
        self.bar.setValue(int(v.t0 * 1000))
        self._syncing = False

    def _scrolled(self, value: int) -> None:
        if not self._syncing:
            self.view.scroll_to(value / 1000)

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._sync_bar()
