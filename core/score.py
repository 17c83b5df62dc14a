"""``score``: the one pipeline from a cut to music on its timeline (arranger backend).

read -> analyse -> plan -> arrange -> write (stems, mix, MIDI, timeline,
plan, report, picture), all into a new folder that appears only when
everything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .analyze import analyze
from .progress import CancelToken, ProgressFn, scaled


@dataclass(frozen=True)
class ScoreOptions:
    style: str | None = None
    prompt: str = ""
    bpm: str | None = None
    seed: int = 0
    meter: str = "4/4"
    flex: float = 1.0
    max_change: float = 0.06
    ring_out: float = 2.0
    soundfont: str | None = None
    fmt: str = "same"
    stem_tracks: bool = False
    rate: float | None = None
    scene_detector: str = "adaptive"
    scene_threshold: float | None = None
    cache: bool = True
    clip: str | None = None


@dataclass(frozen=True)
class ScoreResult:
    out: Path
    style: str
    key: str
    bpm: tuple[float, float]
    report: dict[str, Any]
    warnings: tuple[str, ...]


def prompt_style(prompt: str | None) -> str | None:
    """The first style a prompt word names ("epic" -> cinematic), if any."""
    from .arranger.styles import PROMPT_STYLE

    for word in (prompt or "").lower().split():
        if word.strip(",.") in PROMPT_STYLE:
            return PROMPT_STYLE[word.strip(",.")]
    return None


def score(
    input_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    opts: ScoreOptions = ScoreOptions(),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ScoreResult:
    """Score ``input_path`` into the new folder ``out``."""
    from .analysis.plot import plot
    from .arranger import arrange
    from .arranger.styles import get_style
    from .planning import plan_for
    from .results import output_folder, write_result

    out = Path(out)
    if opts.style:
        get_style(opts.style)  # a bad name fails before any work
    with output_folder(out) as folder:
        feats = analyze(
            input_path,
            opts.rate,
            opts.scene_detector,
            opts.scene_threshold,
            opts.cache,
            opts.clip,
            scaled(progress, 0.0, 0.6),
            cancel,
        )
        p, style = plan_for(
            feats,
            opts.style or prompt_style(opts.prompt),
            opts.bpm,
            opts.meter,
            opts.flex,
            opts.max_change,
            opts.ring_out,
        )
        if progress:
            progress(0.65, "arranging")
        music = arrange(p, feats, style, opts.seed, opts.prompt, opts.soundfont)
        if progress:
            progress(0.85, "writing")
        key = f"{music.score.key} {music.score.mode}"
        provenance = {
            "backend": "arranger",
            "style": style,
            "seed": opts.seed,
            "prompt": opts.prompt,
            "key": key,
        }
        report = write_result(
            folder,
            out,
            feats,
            p,
            style,
            music.mix,
            provenance,
            music.stems,
            music.midi,
            opts.fmt,
            opts.stem_tracks,
        )
        plot(feats, folder / "analysis.png", p)
        if progress:
            progress(1.0, "done")
    warnings = (
        tuple(feats.timeline.warnings) + tuple(feats.warnings) + tuple(p.warnings) + tuple(report["notes"])
    )
    return ScoreResult(out, style, key, (float(p.bpm.min()), float(p.bpm.max())), report, warnings)
