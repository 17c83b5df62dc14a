"""The embedded default backend: real multi-stem music on the plan, no model weights.

``arrange(plan, features, ...)`` composes (:mod:`.compose`) and renders
(:mod:`.render`) and returns :class:`Stems`. ``arrange(..., regenerate=(t0, t1),
new_seed=S)`` writes the bars overlapping ``[t0, t1)`` with a new seed and
keeps every other bar note for note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.blockaudio import Audio
from ...model import VideoFeatures
from ...progress import CancelToken, ProgressFn
from ...rhythm.planner import RhythmPlan
from .attack import played
from .compose import Score, compose
from .keys import Key, choose_key, parse_key
from .render import LONG_S, SR, mix_of, render, render_long, to_midi
from .styles import STYLES, get_style
from .synth import default_soundfont


@dataclass(frozen=True)
class Stems:
    """Rendered music: ``stems`` part -> (2, n) float32 at ``sr``, summing to ``mix``.

    A cue longer than :data:`.render.LONG_S` is rendered in blocks and its
    stems and mix are :class:`~..blockaudio.DiskAudio` (read in blocks)."""

    stems: dict[str, Audio]
    mix: Audio
    sr: int
    score: Score
    midi: object
    style: str
    seed: int


def arrange(
    plan: RhythmPlan,
    features: VideoFeatures,
    style: str,
    seed: int = 0,
    prompt: str = "",
    soundfont: str | None = None,
    regenerate: tuple[float, float] | None = None,
    new_seed: int | None = None,
    bar_seeds: dict[int, int] | None = None,
    key: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    scratch: str | None = None,
    loudness: float | None = None,
) -> Stems:
    """Compose and render the music for ``plan``; see the module docstring.

    ``bar_seeds`` (bar number -> seed) are the bars an earlier regeneration
    wrote; ``regenerate`` adds the bars of a new range on top of them.
    ``key`` (``--key`` text: "D minor", "F#m", "minor") overrides the key the
    picture and the style choose (:mod:`.keys`); a take's key keeps it.
    A cue longer than :data:`.render.LONG_S` (five minutes) is rendered in
    blocks onto disk (:func:`.render.render_long`), reporting each block to
    ``progress`` and checking ``cancel``; its files go into ``scratch``
    (default: the system's temporary folder). ``loudness``: the mix's
    integrated loudness, LUFS (``--loudness``; None: :data:`.master.TARGET_LUFS`).
    """
    st = get_style(style)
    if len(plan.downbeats_s) < 2:
        from ...errors import OptionError

        raise OptionError(
            "the plan is shorter than one bar: nothing to arrange (is the timeline under 2 s?)."
        )
    seeds = dict(bar_seeds or {})
    if regenerate is not None:
        for b in bars_in(plan.downbeats_s, *regenerate):
            seeds[b] = int(new_seed if new_seed is not None else seed + 1)
    score = compose(plan, features, st, seed, prompt, seeds or None, key)
    length = plan.duration_s + plan.ring_out_s
    sf = soundfont or default_soundfont()
    heard = played(
        score, st, sf
    )  # each note earlier by its sound's attack (.attack); the score keeps its times
    stems: dict[str, Audio]
    mix: Audio
    if length > LONG_S:
        stems_long, mix = render_long(
            heard, st, length, sf, progress, cancel, scratch=scratch, loudness=loudness
        )
        stems = dict(stems_long)
    else:
        short = render(heard, st, length, sf, loudness)
        mix = mix_of(short)  # the stems added in order, without stacking them
        stems = dict(short)
    return Stems(stems, mix, SR, score, to_midi(score, st), style, seed)


def compose_score(
    plan: RhythmPlan,
    features: VideoFeatures,
    style: str,
    seed: int = 0,
    prompt: str = "",
    bar_seeds: dict[int, int] | None = None,
    key: str | None = None,
) -> Score:
    """The notes :func:`arrange` would render, without rendering them."""
    return compose(plan, features, get_style(style), seed, prompt, bar_seeds or None, key)


def notes_between(score: Score, t0: float, t1: float) -> dict[str, list[object]]:
    """Every part's notes that start in ``[t0, t1)``."""
    return {
        part: [n for n in notes if t0 - 1e-6 <= n.start < t1 - 1e-6] for part, notes in score.parts.items()
    }


def bars_in(downs: np.ndarray, t0: float, t1: float, tol: float = 1e-3) -> list[int]:
    """The bars (numbers from 0; bar b spans ``downs[b]..downs[b+1]``) that
    overlap ``[t0, t1)`` by more than ``tol`` seconds."""
    return [b for b in range(len(downs) - 1) if downs[b + 1] > t0 + tol and downs[b] < t1 - tol]


__all__ = [
    "STYLES",
    "Key",
    "Stems",
    "arrange",
    "bars_in",
    "choose_key",
    "compose_score",
    "notes_between",
    "parse_key",
]
