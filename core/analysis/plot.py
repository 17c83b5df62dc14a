"""``analyze --plot``: the shots, the motion curve and the anchors in one picture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import fsutil
from ..model import VideoFeatures

KIND_COLOURS = {
    "cut": "#d62728",
    "transition": "#ff7f0e",
    "scene": "#9467bd",
    "marker": "#2ca02c",
    "motion": "#1f77b4",
}
STYLE_COLOURS = {
    "cinematic": "#4c4c8a",
    "corporate-upbeat": "#f2b134",
    "electronic": "#7a3fa0",
    "ambient": "#7fb8c9",
    "rock": "#c0392b",
    "lo-fi": "#9c8a6b",
    "acoustic": "#6a9f4a",
}


def plot(f: VideoFeatures, dest: str | os.PathLike[str], plan: Any = None) -> Path:
    """Draw ``f`` into the PNG ``dest`` (written atomically, never overwriting).

    With a ``plan`` (a :class:`~vidmusician.core.rhythm.RhythmPlan`), its beats
    and downbeats are drawn under the shots, and each cut is marked where it
    landed (downbeat, beat, subdivision or missed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = f.timeline
    fig, (ax_shots, ax_motion, ax_mood) = plt.subplots(
        3, 1, figsize=(12, 6.8), sharex=True, gridspec_kw={"height_ratios": [1, 3, 1.6]}
    )
    for s, feat in zip(tl.shots, f.shots):
        colour = STYLE_COLOURS.get(feat.style, "#999999") if s.kind != "gap" else "#222222"
        ax_shots.axvspan(s.start_s, s.end_s, color=colour, alpha=0.85 if feat.analysed else 0.3, lw=0)
        if s.end_s - s.start_s > tl.duration_s / 60:
            ax_shots.text(
                (s.start_s + s.end_s) / 2,
                0.5,
                str(s.index),
                ha="center",
                va="center",
                color="white",
                fontsize=8,
            )
    subtitle = ""
    if plan is not None:
        ax_shots.vlines(plan.beats_s, 0.0, 0.12, color="white", lw=0.6)
        ax_shots.vlines(plan.downbeats_s, 0.0, 0.3, color="white", lw=1.4)
        marks = {"downbeat": "v", "beat": "o", "subdivision": "s", "missed": "x"}
        for a in plan.anchors:
            if a.hard:
                ax_shots.plot(a.time_s, 0.78, marks[a.on], color="black", ms=5)
        bpm = f"{plan.bpm.min():.0f}-{plan.bpm.max():.0f}" if np.ptp(plan.bpm) > 0.5 else f"{plan.bpm[0]:.0f}"
        subtitle = (
            f"\nplan: {bpm} BPM {plan.meter.name}; "
            "cuts on a downbeat (v), beat (o), subdivision (s), missed (x)"
        )
    ax_shots.set_yticks([])
    ax_shots.set_ylabel("shots", rotation=0, ha="right", va="center")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STYLE_COLOURS.values()]
    ax_shots.legend(
        handles,
        list(STYLE_COLOURS),
        ncol=7,
        fontsize=7,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
    )

    t = np.arange(len(f.motion.values)) * f.motion.hop_s
    ax_motion.fill_between(t, f.motion.values, color="#bbbbbb", label="motion intensity")
    ax_motion.plot(t, np.minimum(1.0, f.motion.camera), color="#555555", lw=0.8, label="camera (widths/s)")
    ax_motion.plot(t, np.minimum(1.0, f.motion.object), color="#1f77b4", lw=0.8, label="object (widths/s)")
    seen = set()
    for a in f.anchors:
        ax_motion.axvline(
            a.time_s,
            ymin=0,
            ymax=a.strength,
            color=KIND_COLOURS.get(a.kind, "k"),
            lw=1.4 if a.kind != "motion" else 0.9,
            label=a.kind if a.kind not in seen else None,
        )
        seen.add(a.kind)
    ax_motion.set_ylim(0, 1.02)
    ax_motion.set_ylabel("motion / anchor strength")
    ax_motion.legend(fontsize=7, ncol=4, loc="upper right")

    mids = [(s.start_s + s.end_s) / 2 for s in tl.shots]
    ax_mood.step(
        [s.start_s for s in tl.shots] + [tl.duration_s],
        [x.valence for x in f.shots] + [f.shots[-1].valence],
        where="post",
        label="valence",
    )
    ax_mood.step(
        [s.start_s for s in tl.shots] + [tl.duration_s],
        [x.arousal for x in f.shots] + [f.shots[-1].arousal],
        where="post",
        label="arousal",
    )
    for m, feat in zip(mids, f.shots):
        if feat.analysed and feat.prompt:
            ax_mood.text(m, -0.95, feat.prompt[0], ha="center", fontsize=6, rotation=90, va="bottom")
    ax_mood.axhline(0, color="#cccccc", lw=0.6)
    ax_mood.set_ylim(-1.05, 1.05)
    ax_mood.set_ylabel("mood")
    ax_mood.set_xlabel("seconds from the first frame")
    ax_mood.legend(fontsize=7, loc="upper right")
    ax_mood.set_xlim(0, tl.duration_s)
    fig.suptitle(f"{tl.name} — {len(tl.shots)} shots, {tl.duration_s:.1f} s{subtitle}", fontsize=10)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=110)

    try:
        return fsutil.write_with(dest, write)
    finally:
        plt.close(fig)
