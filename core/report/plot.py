"""``analyze --plot``: the shots, the motion curve and the anchors in one picture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import fsutil
from .. import styles as _styles
from ..model import VideoFeatures
from ..wording import plural

if TYPE_CHECKING:  # the session stage comes after this one: its records are only named here
    from ..session.store import Session

KIND_COLOURS = {
    "cut": "#d62728",
    "transition": "#ff7f0e",
    "scene": "#9467bd",
    "marker": "#2ca02c",
    "motion": "#1f77b4",
}
#: Each style's colour: a live view of the style registry (:mod:`vidmusician.core.styles`).
STYLE_COLOURS = _styles.COLOURS


def plot(f: VideoFeatures, dest: str | os.PathLike[str], plan: Any = None, overwrite: bool = False) -> Path:
    """Draw ``f`` into the PNG ``dest`` (written atomically; an existing file
    is replaced only with ``overwrite``).

    With a ``plan`` (a :class:`~vidmusician.core.rhythm.planner.RhythmPlan`), its beats
    and downbeats are drawn under the shots, and each cut is marked where it
    landed (downbeat, beat, eighth, subdivision or missed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = f.timeline
    fig, (ax_shots, ax_motion, ax_mood) = plt.subplots(
        3, 1, figsize=(12, 6.8), sharex=True, gridspec_kw={"height_ratios": [1, 3, 1.6]}
    )
    subtitle = _draw_shots(ax_shots, f, plan, plt)
    _draw_motion(ax_motion, f)
    _draw_mood(ax_mood, f)
    fig.suptitle(f"{tl.name} — {plural(len(tl.shots), 'shot')}, {tl.duration_s:.1f} s{subtitle}", fontsize=10)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=110)

    try:
        return fsutil.write_with(dest, write, overwrite)
    finally:
        plt.close(fig)


def plot_takes(session: Session, dest: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Draw a session: its shots, which take plays where, and the loudness of
    the music as the timeline plays it (each piece from its own take), with
    every take's regenerated range, into the PNG ``dest``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = session.data
    rate = float(data["timeline"]["rate"])
    duration = data["timeline"]["duration_frames"] / rate
    takes = {t.id: t for t in session.take_records}
    palette = plt.get_cmap("tab10")

    def colour(take_id: int) -> Any:
        return palette((take_id - 1) % 10)

    fig, (ax_shots, ax_takes, ax_level) = plt.subplots(
        3, 1, figsize=(12, 5.2), sharex=True, gridspec_kw={"height_ratios": [0.8, 1.6, 3]}
    )
    _draw_session_shots(ax_shots, data, rate)
    _draw_lanes(ax_takes, session, rate, duration, colour)
    _draw_level(ax_level, session, rate, duration, colour)
    version = session.timeline_versions[-1].version
    fig.suptitle(
        f"{Path(data['input']['path']).name}: {plural(len(takes), 'take')}, timeline version {version}",
        fontsize=10,
    )
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=110, format="png")

    try:
        return fsutil.write_with(dest, write, overwrite)
    finally:
        plt.close(fig)


def _draw_shots(ax: Any, f: VideoFeatures, plan: Any, plt: Any) -> str:
    """The shots by style (and the plan's grid and where each cut landed);
    returns the title's line on the plan."""
    tl = f.timeline
    for s, feat in zip(tl.shots, f.shots):
        colour = STYLE_COLOURS.get(feat.style, "#999999") if s.kind != "gap" else "#222222"
        ax.axvspan(s.start_s, s.end_s, color=colour, alpha=0.85 if feat.analysed else 0.3, lw=0)
        if s.end_s - s.start_s > tl.duration_s / 60:
            ax.text(
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
        ax.vlines(plan.beats_s, 0.0, 0.12, color="white", lw=0.6)
        ax.vlines(plan.downbeats_s, 0.0, 0.3, color="white", lw=1.4)
        marks = {"downbeat": "v", "beat": "o", "eighth": "d", "subdivision": "s", "missed": "x"}
        for a in plan.anchors:
            if a.hard:
                ax.plot(a.time_s, 0.78, marks[a.on], color="black", ms=5)
        bpm = f"{plan.bpm.min():.0f}-{plan.bpm.max():.0f}" if np.ptp(plan.bpm) > 0.5 else f"{plan.bpm[0]:.0f}"
        subtitle = (
            f"\nplan: {bpm} BPM {plan.meter.name}; "
            "cuts on a downbeat (v), beat (o), eighth (d), subdivision (s), missed (x)"
        )
    ax.set_yticks([])
    ax.set_ylabel("shots", rotation=0, ha="right", va="center")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STYLE_COLOURS.values()]
    ax.legend(
        handles,
        list(STYLE_COLOURS),
        ncol=len(STYLE_COLOURS),
        fontsize=7,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
    )
    return subtitle


def _draw_motion(ax: Any, f: VideoFeatures) -> None:
    """The motion curve (total, camera, object) and the anchors by kind and strength."""
    t = np.arange(len(f.motion.values)) * f.motion.hop_s
    ax.fill_between(t, f.motion.values, color="#bbbbbb", label="motion intensity")
    ax.plot(t, np.minimum(1.0, f.motion.camera), color="#555555", lw=0.8, label="camera (widths/s)")
    ax.plot(t, np.minimum(1.0, f.motion.object), color="#1f77b4", lw=0.8, label="object (widths/s)")
    seen = set()
    for a in f.anchors:
        ax.axvline(
            a.time_s,
            ymin=0,
            ymax=a.strength,
            color=KIND_COLOURS.get(a.kind, "k"),
            lw=1.4 if a.kind != "motion" else 0.9,
            label=a.kind if a.kind not in seen else None,
        )
        seen.add(a.kind)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("motion / anchor strength")
    ax.legend(fontsize=7, ncol=4, loc="upper right")


def _draw_mood(ax: Any, f: VideoFeatures) -> None:
    """Valence and arousal per shot, with each analysed shot's first prompt word."""
    tl = f.timeline
    mids = [(s.start_s + s.end_s) / 2 for s in tl.shots]
    ax.step(
        [s.start_s for s in tl.shots] + [tl.duration_s],
        [x.valence for x in f.shots] + [f.shots[-1].valence],
        where="post",
        label="valence",
    )
    ax.step(
        [s.start_s for s in tl.shots] + [tl.duration_s],
        [x.arousal for x in f.shots] + [f.shots[-1].arousal],
        where="post",
        label="arousal",
    )
    for m, feat in zip(mids, f.shots):
        if feat.analysed and feat.prompt:
            ax.text(m, -0.95, feat.prompt[0], ha="center", fontsize=6, rotation=90, va="bottom")
    ax.axhline(0, color="#cccccc", lw=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("mood")
    ax.set_xlabel("seconds from the first frame")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(0, tl.duration_s)


def _draw_session_shots(ax: Any, data: dict[str, Any], rate: float) -> None:
    """A session's shots by style."""
    for s in data["timeline"]["shots"]:
        t0, t1 = s["start_frame"] / rate, s["end_frame"] / rate
        ax.axvspan(t0, t1, color=STYLE_COLOURS.get(s.get("style", ""), "#999999"), alpha=0.85, lw=0)
        ax.axvline(t0, color="white", lw=1)
        ax.text((t0 + t1) / 2, 0.5, str(s["index"]), ha="center", va="center", color="white", fontsize=8)
    ax.set_yticks([])
    ax.set_ylabel("shots", rotation=0, ha="right", va="center")


def _draw_lanes(ax: Any, session: Session, rate: float, duration: float, colour: Any) -> None:
    """Upper lane: the selection; lower lanes: every regenerated take's range."""
    regen = [t for t in session.take_records if t.extra.get("range_s")]
    lanes = {t.id: i + 1 for i, t in enumerate(regen)}
    for piece in session.selection_record.pieces:
        t0 = piece.start_frame / rate
        t1 = piece.end_frame / rate if piece.end_frame is not None else duration
        ax.barh(0, t1 - t0, left=t0, height=0.8, color=colour(piece.take), edgecolor="white")
        ax.text((t0 + t1) / 2, 0, f"take {piece.take}", ha="center", va="center", color="white", fontsize=8)
    for t in regen:
        a, b = t.extra["range_s"]
        b = duration if b is None else b
        y = lanes[t.id]
        fade_s = t.extra.get("fade_s", 0.05)
        ax.barh(y, b - a, left=a, height=0.6, color=colour(t.id), alpha=0.5)
        ax.barh(y, fade_s, left=a - fade_s, height=0.6, color="black")
        ax.text(b, y, f" take {t.id}: shot {t.shot}, seed {t.new_seed}", va="center", fontsize=7)
    ax.set_yticks(range(len(lanes) + 1), ["plays"] + [f"take {i}" for i in lanes])
    ax.invert_yaxis()


def _draw_level(ax: Any, session: Session, rate: float, duration: float, colour: Any) -> None:
    """The music's level (dBFS, 50 ms windows) as the timeline plays it, each piece from its take."""
    import soundfile

    takes = {t.id: t for t in session.take_records}
    hop = 2400  # 50 ms at 48 kHz
    for piece in session.selection_record.pieces:
        t = takes[piece.take]
        path = session.out / t.files["mix"]
        info = soundfile.info(str(path))
        f0 = int(piece.start_frame / rate * info.samplerate)
        f1 = info.frames if piece.end_frame is None else int(piece.end_frame / rate * info.samplerate)
        y, _ = soundfile.read(str(path), start=f0, stop=f1, always_2d=True)
        mono = y.mean(axis=1)
        n = len(mono) // hop
        if n == 0:
            continue
        rms = np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1))
        times = (f0 + (np.arange(n) + 0.5) * hop) / info.samplerate
        ax.plot(times, 20 * np.log10(rms + 1e-6), color=colour(piece.take), lw=1)
    ax.axvline(duration, color="black", lw=0.8, ls="--")
    ax.set_ylabel("music level (dBFS)")
    ax.set_xlabel("seconds from the first frame")
    ax.set_ylim(bottom=-60)
