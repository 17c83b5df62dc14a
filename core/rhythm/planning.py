"""From analysed picture to a rhythm plan: the ``plan`` command's pipeline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import styles
from ..model import VideoFeatures
from ..progress import CancelToken, ProgressFn
from .planner import RhythmPlan, marker_role, parse_bpm, plan


def overall_style(f: VideoFeatures) -> str:
    """The style most of the picture (by duration) suggests."""
    weight: dict[str, float] = {}
    for s, feat in zip(f.timeline.shots, f.shots):
        weight[feat.style] = weight.get(feat.style, 0.0) + s.duration_s
    return max(weight, key=lambda k: weight[k]) if weight else "cinematic"


def plan_for(
    f: VideoFeatures,
    style: str | None = None,
    bpm: str | None = None,
    meter: str = "4/4",
    flex: float = 1.0,
    max_change: float = 0.06,
    ring_out_s: float = 2.0,
    exact: bool = False,
    sync_window_ms: float = 40.0,
) -> tuple[RhythmPlan, str]:
    """Plan the timeline's music; returns the plan and the style used.

    ``exact``: every hard cut on the grid within 1 ms (else a steady tempo
    that catches the cuts within ``sync_window_ms`` of a beat). The
    timeline's markers named or coloured as :func:`~.planner.marker_role`
    says make the cut at them a must-hit beat or take it out.

    The tempo range is ``bpm`` ("MIN-MAX") when given, else the style's, widened
    by 15% either side when that puts clearly more cuts on beats; the target
    tempo sits in the range by the picture's mean arousal (calm: low,
    energetic: high).
    """
    style = style or overall_style(f)
    lo, hi = parse_bpm(bpm) if bpm else styles.TEMPO.get(style, (80.0, 130.0))
    durations = np.array([s.duration_s for s in f.timeline.shots])
    arousal = np.array([x.arousal for x in f.shots])
    mean_arousal = float((durations * arousal).sum() / max(durations.sum(), 1e-9))
    target = lo + (hi - lo) * min(1.0, max(0.0, 0.5 + 0.4 * mean_arousal))

    must: list[float] = []
    ignore: list[float] = []
    for mk in f.timeline.markers:
        role = marker_role(mk.name, mk.color)
        (must if role == "hit" else ignore if role == "ignore" else []).append(mk.time_s)

    def make(rng: tuple[float, float], tgt: float) -> RhythmPlan:
        return plan(
            f.anchors,
            f.timeline.duration_s,
            rng,
            target_bpm=tgt,
            meter=meter,
            flex=flex,
            max_change=max_change,
            motion=f.motion,
            ring_out_s=ring_out_s,
            exact=exact,
            sync_window_s=sync_window_ms / 1000.0,
            must_hit_s=must,
            ignore_s=ignore,
            rate=f.timeline.rate,
        )

    p = make((lo, hi), target)
    if not bpm and on_beat_share(p) < 1.0:
        # a style's range is a habit, not a law: 15% either side may put the cuts on beats
        wide = make((lo * 0.85, hi * 1.15), target)
        if on_beat_share(wide) > on_beat_share(p) + 0.1:
            p = wide
    return p, style


def plan_input(
    path: str | os.PathLike[str],
    settings: Mapping[str, Any],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[RhythmPlan, str, VideoFeatures]:
    """Analyse ``path`` (timeline or video) and plan its music: the ``plan``
    command, for any client.

    ``settings`` holds the options table's values for ``plan`` (analysis:
    ``rate``, ``scene_detector``, ``scene_threshold``, ``cache``, ``clip``;
    planning: ``style``, ``bpm`` "MIN-MAX", ``meter``, ``flex``,
    ``max_change``, ``ring_out`` in seconds, ``exact``, ``sync_window`` in
    milliseconds). Returns the plan, the style used
    and the analysed features (whose ``warnings`` and ``timeline.warnings``,
    like the plan's, are the caller's to show).
    """
    from ..analysis.analyze import analyze_with

    feats = analyze_with(path, settings, progress, cancel)
    p, style = plan_for(
        feats,
        settings["style"],
        settings["bpm"],
        settings["meter"],
        settings["flex"],
        settings["max_change"],
        settings["ring_out"],
        exact=bool(settings.get("exact", False)),
        sync_window_ms=float(settings.get("sync_window", 40.0)),
    )
    return p, style, feats


def on_beat_share(p: RhythmPlan) -> float:
    """Share of hard anchors on a beat or downbeat (sync mode: within the sync window of one)."""
    hard = [a for a in p.anchors if a.hard]
    return sum(a.on in ("beat", "downbeat") for a in hard) / len(hard) if hard else 1.0


def plan_json(p: RhythmPlan, style: str) -> dict[str, Any]:
    """The ``plan --json`` contract."""

    def r(x: float) -> float:
        return round(float(x), 6)

    return {
        "style": style,
        "mode": p.mode,
        "meter": p.meter.name,
        "tempo_range": list(p.tempo_range),
        "duration_s": r(p.duration_s),
        "ring_out_s": r(p.ring_out_s),
        "beats_s": [r(x) for x in p.beats_s],
        "downbeats_s": [r(x) for x in p.downbeats_s],
        "bpm": [round(float(x), 3) for x in p.bpm],
        "intensity": [round(float(x), 4) for x in p.intensity],
        "sections": [
            {
                "start_s": r(s.start_s),
                "end_s": r(s.end_s),
                "start_bar": s.start_bar,
                "bars": s.bars,
                "intensity": round(s.intensity, 4),
            }
            for s in p.sections
        ],
        "anchors": [
            {
                "time_s": r(a.time_s),
                "kind": a.kind,
                "strength": r(a.strength),
                "hard": a.hard,
                "on": a.on,
                "offset_s": a.offset_s,
            }
            for a in p.anchors
        ],
        "cut_hits": round(p.hits(), 4),
        "sync_window_s": r(p.sync_window_s),
        "cut_landings": p.cut_landings(),
        "beat_cv": round(p.beat_cv(), 4),
        "warnings": list(p.warnings),
        **({"planner": p.planner} if p.mode == "sync" else {}),
    }
