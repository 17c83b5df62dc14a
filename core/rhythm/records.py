"""The rhythm plan's records: :class:`RhythmPlan`, :class:`PlannedAnchor`, :class:`Section`
(split out of :mod:`.planner`, which re-exports them, unchanged), and the sync
planner's :class:`SyncGrid` with the distance helpers (:mod:`.sync` re-exports them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import OptionError
from ..model import METERS, Meter

HIT_TOLERANCE_S = 0.001  # a hard anchor is "on" the grid within 1 ms
SOFT_TOLERANCE_S = 0.035  # motion beats and markers: within 35 ms counts


@dataclass(frozen=True)
class PlannedAnchor:
    """An anchor and where the plan put it.

    ``on`` is ``downbeat``, ``beat``, ``eighth`` (sync mode's eighths in
    4/4 and 3/4), ``subdivision`` (a sixteenth; 6/8's eighths) or ``missed``;
    ``offset_s`` is the anchor time minus that grid point. In sync mode a
    hard cut is on a (down)beat within the sync window (``offset_s`` 0 where
    the beat was moved onto its frame), on a subdivision within the window,
    else missed; in exact mode within 1 ms.
    """

    time_s: float
    kind: str
    strength: float
    hard: bool
    on: Literal["downbeat", "beat", "eighth", "subdivision", "missed"]
    offset_s: float


@dataclass(frozen=True)
class Section:
    start_s: float
    end_s: float
    start_bar: int
    bars: int
    intensity: float


@dataclass(frozen=True)
class RhythmPlan:
    """A tempo map over the whole timeline.

    Attributes
    ----------
    beats_s : ndarray [shape=(n,)]
        Beat times, seconds from the first frame, ascending.
    downbeats_s : ndarray [shape=(k,)]
        The beats that start a bar (the last one is the end of the timeline).
    bpm : ndarray [shape=(n,)]
        Local tempo of every beat, beats per minute.
    intensity : ndarray [shape=(n,)]
        Picture motion over each beat, 0..1.
    grid_s : ndarray [shape=(g,)]
        Every subdivision step (the beats included).
    meter : Meter
    sections : tuple of Section
    anchors : tuple of PlannedAnchor
    duration_s : float
    ring_out_s : float
        Tail the music may ring on after the last frame.
    mode : "sync" | "flex" | "constant"
        ``sync`` the steady tempo that catches the cuts (the default),
        ``flex`` the exact planner (``--exact``), ``constant`` ``--flex 0``.
    tempo_range : (float, float)
    sync_window_s : float
        How near a beat a cut counts as on it (+-, seconds; sync mode's
        ``--sync-window``; the figures of every mode are measured with it).
    planner : str
        Sync mode: which plan the default chose, ``"sync"`` (the sync
        planner's grid), ``"exact-ramped"`` (the exact plan with its tempo
        steps spread into per-beat ramps: :mod:`.ramp`) or ``"exact"`` (the
        exact plan as it is, steady enough already); empty in the other modes.
    """

    beats_s: np.ndarray
    downbeats_s: np.ndarray
    bpm: np.ndarray
    intensity: np.ndarray
    grid_s: np.ndarray
    meter: Meter
    sections: tuple[Section, ...]
    anchors: tuple[PlannedAnchor, ...]
    duration_s: float
    ring_out_s: float
    mode: Literal["sync", "flex", "constant"]
    tempo_range: tuple[float, float]
    warnings: tuple[str, ...] = field(default=())
    sync_window_s: float = 0.04
    planner: str = ""

    def hits(self, hard_only: bool = True) -> float:
        """Share of (hard) anchors that landed on the grid (sync mode: within the window of a grid point)."""
        sel = [a for a in self.anchors if a.hard or not hard_only]
        return sum(a.on != "missed" for a in sel) / len(sel) if sel else 1.0

    def cut_landings(self) -> dict[str, float]:
        """Where the hard cuts landed, as shares of them: ``beat`` within the
        sync window of a beat (downbeats included), ``exact`` of those within
        1 ms, ``downbeat``, then the others: on an ``eighth`` or a
        ``sixteenth`` (any finer step; 6/8's eighths count as eighths), or
        ``off`` the grid; and ``n`` cuts."""
        cuts = [a for a in self.anchors if a.hard]
        out = {"n": float(len(cuts)), "beat": 0.0, "exact": 0.0, "downbeat": 0.0}
        out.update(eighth=0.0, sixteenth=0.0, off=0.0)
        if not cuts:
            return out
        times = np.array([a.time_s for a in cuts])
        dist = _nearest_dist(times, self.beats_s)
        for a, d in zip(cuts, dist):
            if a.on in ("beat", "downbeat") and d <= self.sync_window_s + 1e-9:
                out["beat"] += 1
                out["exact"] += float(d <= HIT_TOLERANCE_S)
                out["downbeat"] += float(a.on == "downbeat")
            elif a.on == "missed":
                out["off"] += 1
            else:
                out[_subdivision_kind(a.time_s - a.offset_s, self.beats_s, self.meter)] += 1
        return {k: (v if k == "n" else round(v / len(cuts), 4)) for k, v in out.items()}

    def beat_cv(self) -> float:
        """Tempo steadiness: the coefficient of variation (std / mean) of the beat intervals."""
        return beat_cv(self.beats_s)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RhythmPlan:
        """The plan back from its JSON object (``plan.json``, ``plan --json``:
        what :func:`~.planning.plan_json` writes; its ``style`` and ``cut_hits``
        are not fields and are left out).

        The JSON keeps no grid, so ``grid_s`` comes back empty. A key a
        session's plan may lack (every one but ``downbeats_s`` and ``bpm``, as
        the session check allows) reads as empty, the meter as 4/4."""
        name = d.get("meter", "4/4")
        if name not in METERS:
            raise OptionError(f"plan meter {name!r}: not one of {', '.join(METERS)}.")
        downbeats = np.asarray(d.get("downbeats_s", []), float)
        lo, hi = d.get("tempo_range", (0.0, 0.0))
        return cls(
            beats_s=np.asarray(d.get("beats_s", []), float),
            downbeats_s=downbeats,
            bpm=np.asarray(d.get("bpm", []), float),
            intensity=np.asarray(d.get("intensity", []), float),
            grid_s=np.zeros(0),
            meter=METERS[name],
            sections=tuple(Section(**s) for s in d.get("sections", [])),
            anchors=tuple(PlannedAnchor(**a) for a in d.get("anchors", [])),
            duration_s=float(d.get("duration_s", downbeats[-1] if len(downbeats) else 0.0)),
            ring_out_s=float(d.get("ring_out_s", 0.0)),
            mode=d.get("mode", "flex"),
            tempo_range=(float(lo), float(hi)),
            warnings=tuple(d.get("warnings", ())),
            sync_window_s=float(d.get("sync_window_s", 0.04)),
            planner=str(d.get("planner", "")),
        )


def _nearest_dist(times: np.ndarray, points: np.ndarray) -> np.ndarray:
    return nearest_distance(np.asarray(times, float), np.asarray(points, float))


def _subdivision_kind(t: float, beats: np.ndarray, m: Meter) -> str:
    """``eighth`` or ``sixteenth``: a grid point at ``t`` between two beats (6/8's steps are eighths)."""
    if m.subdivision != 4 or len(beats) < 2:
        return "eighth"
    i = int(np.clip(np.searchsorted(beats, t, side="right") - 1, 0, len(beats) - 2))
    frac = (t - beats[i]) / max(beats[i + 1] - beats[i], 1e-9)
    return "eighth" if abs(frac - 0.5) < 0.125 else "sixteenth"


@dataclass(frozen=True)
class SyncGrid:
    """The beats of a sync plan.

    beats : beat times (s), ascending; bars : the beat of the bar of each (0 = downbeat);
    anchored : indices (into the cut list) of the cuts exactly on a beat;
    jumps_s : the times of the tempo jumps; end_ok : the end is the last beat, a downbeat;
    source : "dp" or "constant".
    """

    beats: np.ndarray
    bars: np.ndarray
    anchored: tuple[int, ...]
    jumps_s: tuple[float, ...]
    end_ok: bool
    source: str


def caught(cuts: np.ndarray, beats: np.ndarray, window: float) -> int:
    """How many cuts lie within ``window`` of a beat."""
    return int((nearest_distance(cuts, beats) <= window + 1e-9).sum())


def nearest_distance(times: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each time, the distance to the nearest point (inf with no points)."""
    if not len(points):
        return np.full(len(times), np.inf)
    idx = np.searchsorted(points, times)
    left = points[np.clip(idx - 1, 0, len(points) - 1)]
    right = points[np.clip(idx, 0, len(points) - 1)]
    return np.minimum(np.abs(times - left), np.abs(times - right))


def beat_cv(beats: np.ndarray) -> float:
    """The coefficient of variation (std / mean) of the intervals of ascending ``beats`` (0 for fewer than three)."""
    iv = np.diff(beats)
    return float(iv.std() / iv.mean()) if len(iv) > 1 and iv.mean() > 0 else 0.0
