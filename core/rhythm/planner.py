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
onto its exact frame (a cut-level and a beat-level programme, :mod:`.beatgrid`,
the better kept); the rest land on the nearest eighth or sixteenth. It
never does worse than either planner: it plans the exact grid too, with its
tempo steps spread into per-beat ramps (:mod:`.ramp`), and keeps whichever
puts more hard cuts (strength-weighted) within the sync window of a beat,
ties to more cuts exactly on a beat, then the steadier; the ramped exact grid only where every beat-to-beat
change stays within 2% (jumps at strong cuts on downbeats aside). The plan's
``planner`` (``plan.json``'s ``"planner"``) says which: ``"sync"``,
``"exact-ramped"`` or ``"exact"`` (steady enough as it is). With
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
from typing import Literal

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
from .records import (  # noqa: F401  (re-exported)
    HIT_TOLERANCE_S,
    SOFT_TOLERANCE_S,
    PlannedAnchor,
    RhythmPlan,
    Section,
    _nearest_dist,
    _subdivision_kind,
)

HARD_KINDS = ("cut", "transition", "scene")
HARD_MIN_STRENGTH = 0.5  # through edits (0.25) are not hard

#: Tempo range (BPM) of each music style: a live view of the style registry
#: (:mod:`vidmusician.core.styles`, each record's ``tempo``).
STYLE_TEMPO: Mapping[str, tuple[float, float]] = _styles.TEMPO


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
    duration_s : float > 0; bpm_range : (min, max) BPM
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
        For the intensity of every beat. ``ring_out_s``: the tail after the last frame.
    exact : bool
        The exact planner (every hard cut within 1 ms of the grid, unramped)
        instead of the default: the sync planner's plan or the exact one
        ramped per beat, whichever catches more cuts (:mod:`.ramp`;
        ``planner`` of the plan says which).
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
    mode: Literal["sync", "flex", "constant"] = "constant" if flex == 0.0 else "flex" if exact else "sync"
    grid, phases, tempo, jumps, chosen = _grid(
        mode, hard, must, duration_s, (lo, hi), target, m, flex, max_change, sync_window_s, steady, rate
    )
    return _assemble(
        anchors,
        must,
        (grid, phases, tempo),
        jumps,
        chosen,
        mode,
        m,
        duration_s,
        ring_out_s,
        motion,
        (lo, hi),
        max_change,
        sync_window_s,
        warnings,
    )


def _grid(
    mode: str,
    hard: list[tuple[float, float]],
    must: set[float],
    duration_s: float,
    tempo_range: tuple[float, float],
    target: float,
    m: Meter,
    flex: float,
    max_change: float,
    sync_window_s: float,
    steady: float,
    rate: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...], str]:
    """The mode's grid: (times, phases, tempos, tempo jump times, the default's choice)."""
    lo, hi = tempo_range
    if mode == "sync":
        from .ramp import default_grid

        return default_grid(
            hard, must, duration_s, lo, hi, target, m, flex, max_change, sync_window_s, steady, rate
        )
    if mode == "constant":
        return (*_constant(hard, duration_s, lo, hi, target, m), (), "")
    return (*_flex(hard, duration_s, lo, hi, target, m, flex, max_change), (), "")


def _assemble(
    anchors: list[Anchor],
    must: set[float],
    gpt: tuple[np.ndarray, np.ndarray, np.ndarray],
    jumps: tuple[float, ...],
    chosen: str,
    mode: Literal["sync", "flex", "constant"],
    m: Meter,
    duration_s: float,
    ring_out_s: float,
    motion: MotionCurve | None,
    tempo_range: tuple[float, float],
    max_change: float,
    sync_window_s: float,
    warnings: list[str],
) -> RhythmPlan:
    """The plan of a grid (times, phases, tempos): beats, where the anchors landed, sections, warnings."""
    grid, phases, tempo = gpt
    lo, hi = tempo_range
    on_beat = phases % m.subdivision == 0
    beats, bpm, downbeats = grid[on_beat], tempo[on_beat], grid[phases == 0]
    intensity = _intensity(beats, duration_s, motion)
    planned = (
        _place_sync(anchors, grid, phases, m, sync_window_s)
        if mode == "sync"
        else _place(anchors, grid, phases, m)
    )
    sections = _sections(planned, downbeats, beats, intensity, duration_s, forced_s=jumps)
    warnings += _grid_warnings(bpm, downbeats, duration_s, max_change, mode)
    warnings += _missed_must(must, planned)
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


def _missed_must(must: set[float], planned: tuple[PlannedAnchor, ...]) -> list[str]:
    """The warning on must-hit cuts the plan could not put on a beat (none: no warning)."""
    missed = [t for t in must if not any(a.time_s == t and a.on in ("beat", "downbeat") for a in planned)]
    if not missed:
        return []
    return [f"{len(missed)} must-hit cut(s) could not be put on a beat within the tempo range."]


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
