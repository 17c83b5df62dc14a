"""The track compositor: which clip is seen at each frame of a timeline.

Video tracks are stacked (upper tracks cover lower ones, gaps and disabled
clips are transparent, nothing at all is black); nested stacks and tracks
(compound clips) are resolved recursively. The result is a list of
:class:`Seg` (record frames, the leaf clip shown, its source time), which
:mod:`.timeline` turns into shots and edit anchors. Transitions and markers
met on the way are collected too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from ..errors import NoVideoError
from ..model import Marker

RT = otio.opentime.RationalTime


@dataclass
class Seg:
    """A stretch of record time showing one leaf item (None = black)."""

    start: float  # record frames (float, exact until rounding)
    end: float
    item: Any  # otio Clip or None
    src_start: Any  # RationalTime in the item's own time at ``start``
    track: str


def _is_enabled(item: Any) -> bool:
    if not getattr(item, "enabled", True):
        return False
    # The FCP XML adapter keeps Premiere's <enabled>FALSE</enabled> in metadata only.
    fcp: Any = getattr(item, "metadata", {}).get("fcp_xml")
    return not (hasattr(fcp, "get") and str(fcp.get("enabled", "TRUE")).upper() == "FALSE")


class Compositor:
    """Walks a timeline's video tracks and collects the visible picture."""

    def __init__(self, rate: float):
        self.rate = rate
        self.transitions: list[tuple[float, float, str]] = []  # (frame, duration_frames, label)
        self.markers: list[Marker] = []

    def f(self, t: Any) -> float:
        """RationalTime -> float frames at the timeline rate."""
        return float(t.rescaled_to(self.rate).value)

    # An item's own time t maps to record frames as f(t) + offset.
    def walk(self, item: Any, ws: Any, we: Any, offset: float, track: str) -> list[Seg]:
        """Visible segments of ``item`` over its own time window ``[ws, we)``."""
        if not _is_enabled(item) or self.f(we) - self.f(ws) <= 0:
            return []
        self.collect_markers(item, ws, we, offset)
        if isinstance(item, otio.schema.Gap):
            return []
        if isinstance(item, otio.schema.Clip):
            return [Seg(self.f(ws) + offset, self.f(we) + offset, item, ws, track)]
        if isinstance(item, otio.schema.Track):
            return self._composite(item, ws, we, offset, item.name, stacked=False)
        if isinstance(item, otio.schema.Stack):
            return self._composite(item, ws, we, offset, track, stacked=True)
        return []  # unknown item kinds show nothing

    def _composite(self, comp: Any, ws: Any, we: Any, offset: float, track: str, stacked: bool) -> list[Seg]:
        """Visible segments of a Track (children in sequence) or a Stack (children
        layered, first at the bottom) over the window ``[ws, we)`` of its own time.

        Child positions are summed here in one pass (``range_in_parent`` would
        sum them again for every child).
        """
        out: list[Seg] = []
        zero = RT(0, self.rate)
        pos = zero
        for idx, child in enumerate(comp):
            if isinstance(child, otio.schema.Transition):
                if not stacked and _is_enabled(child) and ws <= pos <= we:
                    self._transition(comp, idx, child, self.f(pos) + offset)
                continue
            dur = child.duration()
            start = zero if stacked else pos
            pos = pos if stacked else pos + dur
            lo, hi = max(start, ws), min(start + dur, we)
            if self.f(hi) - self.f(lo) <= 0:
                continue
            origin = child.trimmed_range().start_time
            name = child.name if stacked and isinstance(child, otio.schema.Track) else track
            segs = self.walk(
                child,
                origin + (lo - start),
                origin + (hi - start),
                offset + self.f(start) - self.f(origin),
                name,
            )
            if stacked:
                out = _paint(out, segs, self.rate)
            else:
                out.extend(segs)
        return out

    def _transition(self, track: Any, idx: int, tr: Any, frame: float) -> None:
        prev = _neighbour_name(track, idx, -1)
        nxt = _neighbour_name(track, idx, +1)
        dur = self.f(tr.in_offset + tr.out_offset)
        self.transitions.append((frame, dur, f"{tr.name or tr.transition_type}: {prev} -> {nxt}"))

    def top_level(self, timeline: Any) -> list[Seg]:
        """Composite the timeline's video tracks over ``[0, duration)``.

        Top-level tracks are placed at 0 and their own ``source_range`` offset is
        ignored, as ``otio.algorithms.flatten_stack`` does (the EDL adapter stores
        the record-in timecode there as a negative start).
        """
        out: list[Seg] = []
        ws, we = RT(-1e12, self.rate), RT(1e12, self.rate)
        for tr in timeline.video_tracks():
            if not _is_enabled(tr):
                continue
            self.collect_markers(tr, None, None, 0.0, scope="track")
            out = _paint(out, self._composite(tr, ws, we, 0.0, tr.name, stacked=False), self.rate)
        return out

    def collect_markers(self, item: Any, ws: Any, we: Any, offset: float, scope: str | None = None) -> None:
        for m in getattr(item, "markers", []):
            t = m.marked_range.start_time
            if ws is not None and not (ws <= t < we):
                continue
            frame = self.f(t) + offset
            sc = scope or ("clip" if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) else "track")
            self.markers.append(
                Marker(
                    time_s=frame / self.rate,
                    frame=int(round(frame)),
                    name=m.name,
                    color=str(m.color or ""),
                    duration_s=self.f(m.marked_range.duration) / self.rate,
                    scope=sc,  # type: ignore[arg-type]
                )
            )


def _neighbour_name(track: Any, idx: int, step: int) -> str:
    j = idx + step
    while 0 <= j < len(track):
        if not isinstance(track[j], otio.schema.Transition):
            return track[j].name or ("black" if isinstance(track[j], otio.schema.Gap) else "?")
        j += step
    return "black"


def _paint(base: list[Seg], layer: list[Seg], rate: float) -> list[Seg]:
    """``base`` with ``layer`` laid over it, in one sweep.

    Both lists are sorted and non-overlapping; where ``layer`` covers ``base``
    it wins, and what shows of ``base`` keeps its source time advanced.
    """
    out: list[Seg] = []
    j = 0
    for s in base:
        while j < len(layer) and layer[j].end <= s.start:
            j += 1
        pos = s.start
        k = j
        while k < len(layer) and layer[k].start < s.end:
            if layer[k].start > pos:
                out.append(_piece(s, pos, layer[k].start, rate))
            pos = max(pos, layer[k].end)
            k += 1
        if pos < s.end:
            out.append(_piece(s, pos, s.end, rate))
    out.extend(layer)
    out.sort(key=lambda s: s.start)
    return out


def _piece(s: Seg, a: float, b: float, rate: float) -> Seg:
    """The part ``[a, b)`` of segment ``s``, its source time advanced to match."""
    src = s.src_start if a == s.start or s.src_start is None else s.src_start + RT(a - s.start, rate)
    return Seg(a, b, s.item, src, s.track)


def fill_black(segs: list[Seg], total: float) -> list[Seg]:
    """Cover ``[0, total)``: holes become black segments."""
    out: list[Seg] = []
    pos = 0.0
    for s in segs:
        if s.start > pos:
            out.append(Seg(pos, s.start, None, None, ""))
        out.append(s)
        pos = max(pos, s.end)
    if pos < total:
        out.append(Seg(pos, total, None, None, ""))
    return out


def merge_frames(segs: list[Seg], duration_frames: int, rate: float, path: Path) -> list[Seg]:
    """The composited segments on whole frames, merged where the rounding or
    painting split one clip; at least one clip must be visible."""
    merged: list[Seg] = []
    for s in segs:
        a, b = int(round(s.start)), min(int(round(s.end)), duration_frames)
        if b <= a:
            continue  # zero-length clips vanish
        if merged and merged[-1].item is s.item and (s.item is None or contiguous(merged[-1], s, rate)):
            merged[-1].end = b
            continue
        merged.append(Seg(a, b, s.item, s.src_start, s.track))
    if not merged or all(s.item is None for s in merged):
        raise NoVideoError(
            f"{path}: the video tracks hold no visible clip (only gaps, disabled or "
            "zero-length clips). Enable the clips or export the right timeline."
        )
    return merged


def contiguous(a: Seg, b: Seg, rate: float) -> bool:
    if a.src_start is None or b.src_start is None:
        return False
    expected = a.src_start + RT(a.end - a.start, rate)
    return abs(float((b.src_start - expected).rescaled_to(rate).value)) < 0.5
