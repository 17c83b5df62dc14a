"""The rhythm planner: a tempo map whose beats land on the cuts.

Hard anchors are the edit points of the picture (timeline cuts and
transitions, scene cuts of a plain video). Between two consecutive hard
anchors the tempo is constant and the gap holds a whole number ``m`` of
subdivisions (sixteenths in 4/4 and 3/4, eighths in 6/8), so every hard
anchor lands exactly on the grid. A dynamic programme over the gaps picks
every ``m`` and tracks the position in the bar, minimising

    cost = w_target * |ln(T / T_target)|                 tempo far from the style's
         + w_change * |ln(T_j / T_j-1)|                  tempo changes
         + 200 + 1000 * excess, for a change beyond --max-change (6% by default)
         + 200 + 1000 * |ln(T / range)|, for a tempo outside the range
         + strength * (0 on a downbeat, 0.3 on a beat, 8 on an eighth, 25 on a sixteenth)

and the end of the timeline must be a downbeat. That is the ``--exact``
mode (``mode: "flex"``): every hard cut within 1 ms of the grid, at the price
of tempo jumps in a fast montage. The default (``mode: "sync"``,
:mod:`.sync`) keeps the tempo steady (2% beat to beat) and catches as many
hard cuts as it can within the sync window (+-40 ms) of a beat, each moved
onto its exact frame; the rest land on the nearest eighth or sixteenth. With
``--flex 0`` the planner searches one constant tempo and phase that hit the
most cuts. Times are seconds from the timeline's first frame; tempos are BPM.

Markers: a marker named ``must hit`` or ``vm:hit`` (or coloured red) at a
hard cut (within one frame) makes that cut a beat, always; one named
``ignore`` or ``vm:ignore`` takes the cut at its time (within one frame) out
of the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import styles as _styles
from ..errors import OptionError
from ..model import METERS, Anchor, Meter, MotionCurve
from .exact import (  # noqa: F401  (re-exported: the costs are part of the planner's contract)
    CHANGE_LIMIT_PENALTY,
    CONSTANT_HIT_TOLERANCE_S,
    COST_BEAT,
    COST_EIGHTH,
    COST_PICKUP,
    COST_SUBDIVISION,
    END_PENALTY,
    RANGE_PENALTY,
    W_CHANGE,
    W_TARGET,
    _constant,
    _flex,
)

HARD_KINDS = ("cut", "transition", "scene")
HARD_MIN_STRENGTH = 0.5  # through edits (0.25) are not hard

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
        iv = np.diff(self.beats_s)
        return float(iv.std() / iv.mean()) if len(iv) > 1 and iv.mean() > 0 else 0.0

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


#: Tempo range (BPM) of each music style: a live view of the style registry
#: (:mod:`vidmusician.core.styles`, each record's ``tempo``).
STYLE_TEMPO: Mapping[str, tuple[float, float]] = _styles.TEMPO


def _nearest_dist(times: np.ndarray, points: np.ndarray) -> np.ndarray:
    from .sync import nearest_distance

    return nearest_distance(np.asarray(times, float), np.asarray(points, float))


def _subdivision_kind(t: float, beats: np.ndarray, m: Meter) -> str:
    """``eighth`` or ``sixteenth``: a grid point at ``t`` between two beats (6/8's steps are eighths)."""
    if m.subdivision != 4 or len(beats) < 2:
        return "eighth"
    i = int(np.clip(np.searchsorted(beats, t, side="right") - 1, 0, len(beats) - 2))
    frac = (t - beats[i]) / max(beats[i + 1] - beats[i], 1e-9)
    return "eighth" if abs(frac - 0.5) < 0.125 else "sixteenth"


#: Marker names (any case) that make the cut at a marker a must-hit beat, or take it out of the plan.
MUST_HIT_NAMES = ("must hit", "must-hit", "vm:hit")
IGNORE_NAMES = ("ignore", "vm:ignore")
#: Marker colours (Resolve's, Premiere's, OTIO's names, any case) that make the cut at a marker a must-hit beat.
MUST_HIT_COLORS = ("red",)


def marker_role(name: str, color: str = "") -> str | None:
    """``"hit"``, ``"ignore"`` or None: what a marker named ``name`` (coloured ``color``) asks of the cut at it."""
    n = " ".join(str(name).strip().lower().split())
    if n in IGNORE_NAMES:
        return "ignore"
    if n in MUST_HIT_NAMES or str(color).strip().lower() in MUST_HIT_COLORS:
        return "hit"
    return None


def is_hard(a: Anchor) -> bool:
    """An edit point the plan must put on its grid (cuts, transitions, scene cuts; not through edits)."""
    return a.kind in HARD_KINDS and a.strength >= HARD_MIN_STRENGTH


def hard_cut_times(anchors: tuple[Anchor, ...] | list[Anchor]) -> list[float]:
    """Times (seconds) of the hard anchors, as ``eval`` measures them."""
    return [a.time_s for a in anchors if is_hard(a)]


def parse_bpm(text: str) -> tuple[float, float]:
    """``"90-120"`` or ``"100"`` -> (min, max) BPM."""
    try:
        parts = [float(x) for x in str(text).replace(" ", "").split("-")]
    except ValueError:
        raise OptionError(f"--bpm {text}: give a tempo or a range, for example 100 or 90-120.") from None
    lo, hi = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1]) if len(parts) == 2 else (0, 0)
    if not (20 <= lo <= hi <= 300):
        raise OptionError(f"--bpm {text}: tempos must lie between 20 and 300 BPM, the smaller first.")
    return lo, hi


# --------------------------------------------------------------------------- planning


def plan(
    anchors: tuple[Anchor, ...] | list[Anchor],
    duration_s: float,
    bpm_range: tuple[float, float] = (80.0, 140.0),
    target_bpm: float | None = None,
    meter: str = "4/4",
    flex: float = 1.0,
    max_change: float = 0.06,
    motion: MotionCurve | None = None,
    ring_out_s: float = 2.0,
    exact: bool = False,
    sync_window_s: float = 0.04,
    steady: float = 0.02,
    must_hit_s: Sequence[float] = (),
    ignore_s: Sequence[float] = (),
    rate: float | None = None,
) -> RhythmPlan:
    """Plan beats over ``[0, duration_s]`` that land on the hard anchors.

    Parameters
    ----------
    anchors : Anchor list
        All anchors; cuts, transitions and scene cuts of strength >= 0.5 are hard.
    duration_s : float > 0
    bpm_range : (min, max) BPM
    target_bpm : float, optional
        Preferred tempo (default: the middle of the range).
    meter : "4/4" | "3/4" | "6/8"
    flex : float in [0, 1]
        0: one constant tempo that hits the most cuts; above 0, tempo may
        change at anchors, and the higher, the less it clings to the target.
    max_change : float
        Largest tempo change between consecutive beats (0.06 = 6%); in sync
        mode the largest tempo jump at a section start, and the most the
        ramp into the ending may change the tempo.
    motion : MotionCurve, optional
        For the intensity of every beat.
    ring_out_s : float
        Tail after the last frame.
    exact : bool
        Today's exact planner (every hard cut within 1 ms of the grid) instead of the sync planner.
    sync_window_s : float
        Sync mode: how near a beat (+-, seconds) a cut counts as caught.
    steady : float
        Sync mode: the largest beat-to-beat tempo change (0.02 = 2%) outside a section jump.
    must_hit_s, ignore_s : float sequences
        Times of markers that make the hard cut there (within one frame) a
        must-hit beat, or take it out; markers among ``anchors`` named as
        :func:`marker_role` says count too.
    rate : float, optional
        Frames per second: one frame is the markers' reach (default 1/24 s),
        and a cut the sync plan puts a beat on is on a whole frame.
    """
    _check_plan_args(meter, duration_s, flex)
    lo, hi = bpm_range
    target = float(target_bpm if target_bpm is not None else (lo + hi) / 2)
    m = METERS[meter]
    anchors, must = _apply_markers(anchors, must_hit_s, ignore_s, rate)
    hard, dropped = _hard_points(anchors, duration_s, hi, m, must)
    warnings = [_dropped_warning(dropped, hi)] if dropped else []
    jumps: tuple[float, ...] = ()
    chosen = ""
    mode: Literal["sync", "flex", "constant"]
    if flex == 0.0:
        grid, phases, tempo = _constant(hard, duration_s, lo, hi, target, m)
        mode = "constant"
    elif exact:
        grid, phases, tempo = _flex(hard, duration_s, lo, hi, target, m, flex, max_change)
        mode = "flex"
    else:
        from .ramp import default_grid

        grid, phases, tempo, jumps, chosen = default_grid(
            hard, must, duration_s, lo, hi, target, m, flex, max_change, sync_window_s, steady, rate
        )
        mode = "sync"
    on_beat = phases % m.subdivision == 0
    beats = grid[on_beat]
    bpm = tempo[on_beat]
    downbeats = grid[phases == 0]
    intensity = _intensity(beats, duration_s, motion)
    if mode == "sync":
        planned = _place_sync(anchors, grid, phases, m, sync_window_s)
    else:
        planned = _place(anchors, grid, phases, m)
    sections = _sections(planned, downbeats, beats, intensity, duration_s, forced_s=jumps)
    warnings += _grid_warnings(bpm, downbeats, duration_s, max_change, mode)
    if must:
        missed = [t for t in must if not any(a.time_s == t and a.on in ("beat", "downbeat") for a in planned)]
        if missed:
            warnings.append(
                f"{len(missed)} must-hit cut(s) could not be put on a beat within the tempo range."
            )
    return RhythmPlan(
        beats_s=beats,
        downbeats_s=downbeats,
        bpm=bpm,
        intensity=intensity,
        grid_s=grid,
        meter=m,
        sections=sections,
        anchors=planned,
        duration_s=float(duration_s),
        ring_out_s=float(ring_out_s),
        mode=mode,
        tempo_range=(float(lo), float(hi)),
        warnings=tuple(warnings),
        sync_window_s=float(sync_window_s),
        planner=chosen,
    )


def _apply_markers(
    anchors: tuple[Anchor, ...] | list[Anchor],
    must_hit_s: Sequence[float],
    ignore_s: Sequence[float],
    rate: float | None,
) -> tuple[list[Anchor], set[float]]:
    """The anchors without the ignored cuts, and the times of the must-hit hard cuts."""
    frame = 1.0 / rate if rate and rate > 0 else 1.0 / 24.0
    must_t = list(must_hit_s)
    ign_t = list(ignore_s)
    for a in anchors:
        role = marker_role(a.label) if a.kind == "marker" else None
        if role == "hit":
            must_t.append(a.time_s)
        elif role == "ignore":
            ign_t.append(a.time_s)

    def near(t: float, marks: list[float]) -> bool:
        return any(abs(t - x) <= frame + 1e-6 for x in marks)

    kept = [a for a in anchors if not (is_hard(a) and ign_t and near(a.time_s, ign_t))]
    must = {a.time_s for a in kept if is_hard(a) and must_t and near(a.time_s, must_t)}
    return kept, must


def _check_plan_args(meter: str, duration_s: float, flex: float) -> None:
    if meter not in METERS:
        raise OptionError(f"--meter {meter}: choose one of {', '.join(METERS)}.")
    if not duration_s > 0:
        raise OptionError("the timeline has no duration to plan.")
    if not 0.0 <= flex <= 1.0:
        raise OptionError(f"--flex {flex}: must be between 0 and 1.")


def _dropped_warning(dropped: int, hi: float) -> str:
    """The warning on ``dropped`` cuts too close to a stronger one at the fastest tempo ``hi`` (BPM)."""
    from .. import wording

    they = "they share its grid point or are" if dropped > 1 else "it shares its grid point or is"
    return (
        f"{wording.plural(dropped, 'cut')} closer than one subdivision at {wording.bpm(hi)} to a stronger "
        f"one: {they} missed."
    )


def _grid_warnings(
    bpm: np.ndarray, downbeats: np.ndarray, duration_s: float, max_change: float, mode: str
) -> list[str]:
    """What the planned grid could not keep: the tempo-change limit, an ending on a downbeat."""
    warnings = []
    steps = np.abs(np.diff(np.log(bpm))) if len(bpm) > 1 else np.zeros(1)
    if len(steps) and steps.max() > math.log1p(max_change) + 1e-9 and mode == "flex":
        worst = math.expm1(float(steps.max())) * 100
        warnings.append(
            f"the tempo changes by up to {worst:.1f}% between beats (limit {max_change * 100:g}%): "
            "some cuts come too close together to keep it."
        )
    end_ok = len(downbeats) and abs(downbeats[-1] - duration_s) < HIT_TOLERANCE_S
    if not end_ok:
        warnings.append("the music cannot end on a downbeat at the last frame; it rings out instead.")
    return warnings


def _hard_points(
    anchors: tuple[Anchor, ...] | list[Anchor],
    duration: float,
    hi: float,
    m: Meter,
    must: set[float] | frozenset[float] = frozenset(),
) -> tuple[list[tuple[float, float]], int]:
    """(time, strength) of the hard anchors inside (0, duration), thinned so that
    no two are closer than one subdivision at the fastest tempo (a must-hit
    cut is kept before a stronger one)."""
    min_gap = 60.0 / (hi * m.subdivision) * 0.999
    pts = sorted((a.time_s, a.strength) for a in anchors if is_hard(a) and 0 < a.time_s < duration)
    kept: list[tuple[float, float]] = []
    dropped = 0
    for t, s in pts:
        if kept and t - kept[-1][0] < min_gap:
            dropped += 1
            if (t in must, s) > (kept[-1][0] in must, kept[-1][1]):
                kept[-1] = (t, s)
            continue
        kept.append((t, s))
    if kept and duration - kept[-1][0] < min_gap:
        kept.pop()
        dropped += 1
    return kept, dropped


def _intensity(beats: np.ndarray, duration: float, motion: MotionCurve | None) -> np.ndarray:
    if motion is None or not len(motion.values) or not len(beats):
        return np.zeros(len(beats))
    edges = np.append(beats, duration)
    hop = motion.hop_s
    out = np.empty(len(beats))
    for i in range(len(beats)):
        a, b = int(edges[i] / hop), max(int(edges[i] / hop) + 1, int(math.ceil(edges[i + 1] / hop)))
        seg = motion.values[a:b]
        out[i] = float(seg.mean()) if len(seg) else 0.0
    return np.clip(out, 0.0, 1.0)


def _place(
    anchors: tuple[Anchor, ...] | list[Anchor],
    grid: np.ndarray,
    phases: np.ndarray,
    m: Meter,
) -> tuple[PlannedAnchor, ...]:
    """Exact and constant modes: a hard anchor is on the grid within 1 ms."""
    out = []
    for a in sorted(anchors, key=lambda a: a.time_s):
        hard = is_hard(a)
        if len(grid):
            j = int(np.searchsorted(grid, a.time_s))
            i = min((k for k in (j - 1, j) if 0 <= k < len(grid)), key=lambda k: abs(grid[k] - a.time_s))
            off = float(a.time_s - grid[i])
        else:
            i, off = 0, float("inf")
        tol = HIT_TOLERANCE_S if hard else SOFT_TOLERANCE_S
        if abs(off) > tol:
            on = "missed"
        elif phases[i] == 0:
            on = "downbeat"
        elif phases[i] % m.subdivision == 0:
            on = "beat"
        else:
            on = "subdivision"
        out.append(PlannedAnchor(a.time_s, a.kind, a.strength, hard, on, round(off, 6)))  # type: ignore[arg-type]
    return tuple(out)


def _place_sync(
    anchors: tuple[Anchor, ...] | list[Anchor],
    grid: np.ndarray,
    phases: np.ndarray,
    m: Meter,
    window: float,
) -> tuple[PlannedAnchor, ...]:
    """Sync mode: a hard cut within ``window`` of a beat is on it (offset 0
    where the beat was moved onto it), else on the nearest grid point within
    the window (an eighth or a finer step), else missed."""
    out = []
    on_beat = phases % m.subdivision == 0
    beats, beat_ph = grid[on_beat], phases[on_beat]
    half = max(1, m.subdivision // 2)
    for a in sorted(anchors, key=lambda a: a.time_s):
        hard = is_hard(a)
        tol = window if hard else SOFT_TOLERANCE_S
        on = "missed"
        off = float("inf")
        if len(beats):
            i = _nearest(beats, a.time_s)
            off = float(a.time_s - beats[i])
            if abs(off) <= tol + 1e-9:
                on = "downbeat" if beat_ph[i] == 0 else "beat"
        if on == "missed" and len(grid):
            i = _nearest(grid, a.time_s)
            off = float(a.time_s - grid[i])
            if abs(off) <= tol + 1e-9:
                eighth = m.subdivision % 2 == 0 and phases[i] % half == 0
                on = "eighth" if eighth else "subdivision"
        out.append(PlannedAnchor(a.time_s, a.kind, a.strength, hard, on, round(off, 6)))  # type: ignore[arg-type]
    return tuple(out)


def _sections(
    planned: tuple[PlannedAnchor, ...],
    downbeats: np.ndarray,
    beats: np.ndarray,
    intensity: np.ndarray,
    duration: float,
    min_bars: int = 4,
    forced_s: Sequence[float] = (),
) -> tuple[Section, ...]:
    """Sections start at strong anchors on downbeats, at least ``min_bars``
    apart, and at every tempo jump (``forced_s``, downbeat times)."""
    starts = [0]
    for a in planned:
        if a.hard and a.strength >= 0.9 and a.on == "downbeat":
            bar = _nearest(downbeats, a.time_s)
            if bar - starts[-1] >= min_bars and len(downbeats) - 1 - bar >= min_bars:
                starts.append(bar)
    if forced_s and len(downbeats) > 1:
        forced = {_nearest(downbeats, t) for t in forced_s}
        starts = sorted(set(starts) | {b for b in forced if 0 < b < len(downbeats) - 1})
    out = []
    for k, b0 in enumerate(starts):
        b1 = starts[k + 1] if k + 1 < len(starts) else len(downbeats) - 1
        t0 = 0.0 if k == 0 else float(downbeats[b0])
        t1 = float(downbeats[b1]) if k + 1 < len(starts) else float(duration)
        sel = slice(*np.searchsorted(beats, [t0, t1]))  # beats >= t0 and < t1: the beats are sorted
        some = sel.stop > sel.start
        out.append(Section(t0, t1, b0, max(1, b1 - b0), float(intensity[sel].mean()) if some else 0.0))
    return tuple(out)


def _nearest(sorted_times: np.ndarray, t: float) -> int:
    """``argmin(|sorted_times - t|)`` (the first of equals) by bisection."""
    i = int(np.searchsorted(sorted_times, t))
    if i <= 0 or i >= len(sorted_times):
        return min(max(i, 0), len(sorted_times) - 1)
    return i - 1 if abs(sorted_times[i - 1] - t) <= abs(sorted_times[i] - t) else i
