"""The embedded default backend: the arranger (:mod:`..arranger`), no model weights.

A regeneration writes the span's bars on a new seed (bar seeds) and keeps
every other bar note for note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import OptionError
from ...model import BackendSettings, Music, Provenance, Span, VideoFeatures
from ...progress import CancelToken, ProgressFn, check, report
from .. import Backend, Status


class Arranger(Backend):
    name = "arranger"

    def check(self, settings: BackendSettings) -> None:
        if settings.model or settings.adapters:
            raise OptionError("--model and --adapters are for --backend musicgen.")

    def generate(
        self,
        plan: Any,
        features: VideoFeatures,
        settings: BackendSettings,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        return self._arrange(plan, features, settings, None, progress, cancel)

    def _arrange(
        self,
        plan: Any,
        features: VideoFeatures,
        settings: BackendSettings,
        bar_seeds: dict[int, int] | None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        range_seed: int | None = None,
        warnings: tuple[str, ...] = (),
    ) -> Music:
        from . import arrange
        from .soundfont import find

        style = str(settings.style)
        font = find(settings.soundfont, settings.soundfont_source)
        a = arrange(
            plan,
            features,
            style,
            settings.seed,
            settings.prompt,
            font.path,
            bar_seeds=bar_seeds,
            key=settings.key,
            progress=progress,
            loudness=settings.loudness,
            cancel=cancel,
        )
        prov = Provenance(
            self.name,
            style,
            f"{a.score.key} {a.score.mode}",
            settings.seed,
            soundfont=Path(font.path).name,
            bar_seeds=dict(bar_seeds or {}),
            range_seed=range_seed,
            extra={"soundfont_path": os.path.abspath(font.path), "soundfont_source": font.source},
        )
        return Music(a.mix, a.stems, a.midi, prov, warnings=warnings)

    def regenerate(
        self,
        features: VideoFeatures,
        settings: BackendSettings,
        span: Span,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        plan = span.replan()
        bar_seeds, new_seed, warnings = _new_bar_seeds(plan, features, settings, span)
        report(progress, 0.0, "arranging")
        check(cancel)
        return self._arrange(plan, features, settings, bar_seeds, range_seed=new_seed, warnings=warnings)

    def doctor(self, settings: BackendSettings | None = None) -> tuple[Status, str]:
        """The SoundFont a render with ``settings`` (the config file's) would use
        (:func:`.soundfont.find`: which, and how it was found), checked as
        ``score`` checks it (structure, before tinysoundfont)."""
        try:
            from ...io.guard import check_soundfont
            from .soundfont import find

            font = find(settings.soundfont, settings.soundfont_source) if settings else find()
            info = check_soundfont(font.path)
        except ImportError as e:
            return "error", f"{e}; reinstall: pip install -e ."
        except Exception as e:  # a damaged or missing font: say what is wrong with it
            return "error", f"{e}"
        notes = "".join(f"; {n}" for n in font.notes)
        return (
            "ok",
            f"embedded, General MIDI SoundFont {os.path.basename(font.path)} ({info.presets} presets, "
            f"{info.samples} samples; {font.source}: {font.path}){notes}",
        )


def _new_bar_seeds(
    p: Any, feats: VideoFeatures, settings: BackendSettings, span: Span
) -> tuple[dict[int, int], int, tuple[str, ...]]:
    """The bar seeds for a regeneration: the base take's, with the span's bars
    on a new seed that is heard (drawn again while those bars come out note
    for note as before; an explicit seed that does gets a warning)."""
    from . import bars_in, compose_score, notes_between

    style, base, new_seed = str(settings.style), span.base, span.seed
    o = settings
    end = span.end_s if span.end_s is not None else p.duration_s + p.ring_out_s
    bars = bars_in(p.downbeats_s, span.start_s, end)
    base_seeds = {int(k): int(v) for k, v in base["bar_seeds"].items()}
    before = notes_between(
        compose_score(p, feats, style, o.seed, o.prompt, base_seeds, o.key), span.start_s, end
    )
    warnings: list[str] = []
    for _ in range(32):
        bar_seeds = {**base_seeds, **{b: new_seed for b in bars}}
        after = notes_between(
            compose_score(p, feats, style, o.seed, o.prompt, bar_seeds, o.key), span.start_s, end
        )
        if after != before:
            break
        if span.seed_given:
            warnings.append(
                f"seed {new_seed} writes the same notes under shot {span.shot} as take {base['id']}; "
                "try another --seed."
            )
            break
        new_seed = int(span.draw.integers(2**31))
    return bar_seeds, new_seed, tuple(warnings)
