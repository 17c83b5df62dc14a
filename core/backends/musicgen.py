"""MusicGen steered by the picture (:mod:`..neural.backend`), a thin backend.

torch and audiocraft are imported by :mod:`..neural` only, when music is
made: this module imports without them. A regeneration continues from the
base take's audio before the range.
"""

from __future__ import annotations

from typing import Any

from ..errors import OptionError
from ..model import BackendSettings, Music, Provenance, Span, VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report
from . import Backend, Status


class MusicGen(Backend):
    name = "musicgen"

    def check(self, settings: BackendSettings) -> None:
        if settings.key:
            raise OptionError(
                "--key is the arranger's; for MusicGen name the key in --prompt ('in D minor')."
            )
        if not settings.model:
            raise OptionError(
                "--backend musicgen needs --model NAME_OR_PATH: a MusicGen checkpoint folder, a Hugging Face "
                "name already in your cache (facebook/musicgen-small), or 'debug' (a tiny random model)."
            )

    def generate(
        self,
        plan: Any,
        features: VideoFeatures,
        settings: BackendSettings,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        from ..neural.backend import score_music

        style = str(settings.style)
        n = score_music(
            features,
            plan,
            style,
            settings.prompt,
            str(settings.model),
            settings.adapters,
            settings.seed,
            settings.meter,
            progress,
            cancel,
            loudness=settings.loudness,
        )
        prov = Provenance(
            self.name,
            style,
            "",
            settings.seed,
            model=n.model,
            extra={"adapters": settings.adapters, "text": n.prompt},
        )
        return Music(n.mix, {}, None, prov, plan=n.plan, warnings=n.warnings)

    def regenerate(
        self,
        features: VideoFeatures,
        settings: BackendSettings,
        span: Span,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        from ..neural.backend import regenerate_range

        base = span.base
        report(progress, 0.0, "generating")
        check(cancel)
        new_mix = regenerate_range(
            features,
            span.base_mix(),
            span.start_s,
            span.end_s,
            base.get("text") or "",
            base["model"],
            base.get("adapters"),
            span.seed,
            progress,
            cancel,
        )
        prov = Provenance(
            self.name,
            str(settings.style),
            base["key"],
            settings.seed,
            model=base["model"],
            range_seed=span.seed,
            extra={"adapters": settings.adapters, "text": base.get("text")},
        )
        return Music(new_mix, {}, None, prov, matched=True)

    def doctor(self, settings: BackendSettings | None = None) -> tuple[Status, str]:
        """audiocraft imported in a child process (its import noise or a crash cannot take ``doctor`` down)."""
        from ..neural import status

        ok, detail = status.audiocraft_imports()
        if ok:
            return "ok", f"audiocraft {detail} imports; --model debug works offline"
        if detail == "not installed":
            return "missing", "audiocraft not installed: install/neural.sh"
        return "error", f"audiocraft does not import: {detail}"
