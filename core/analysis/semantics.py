"""Shot semantics without model weights: mood, a style and prompt words.

The formula is deliberately simple and explicit (all inputs in the units of
:class:`~vidmusician.core.model.ShotFeatures`):

    motion_level = 1 - exp(-motion / 0.25)          # motion in frame widths/s
    cut_level    = min(1, cut_rate / 30)            # edits per minute
    valence = clip(1.4 (brightness - 0.45) + 1.0 (saturation - 0.30)
                   + 1.2 warmth + 0.3 faces, -1, 1)
    arousal = clip(1.5 motion_level + 0.8 cut_level + 0.8 (contrast - 0.35)
                   + 0.5 (colourfulness - 0.30) - 0.45, -1, 1)

Bright, saturated, warm pictures with people read as positive; dark, grey,
cold ones as negative. Movement, fast cutting, hard contrast and strong
colour read as energy. A shot whose picture is unknown gets neutral colour
(valence 0) and its arousal from the cutting alone.

The style comes from the (valence, arousal) quadrant, see :func:`style_for`;
the styles and their mood cells are records of the one style registry,
:mod:`vidmusician.core.styles`.
"""

from __future__ import annotations

import math

from .. import styles as _styles

#: The style names (a live view of the registry, in its order).
STYLES = _styles.NAMES

MOTION_SCALE = 0.25  # frame widths per second that give motion_level 0.63
CUT_RATE_FULL = 30.0  # edits per minute that count as frantic


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def motion_level(motion: float) -> float:
    """Motion (frame widths per second) as a level in [0, 1)."""
    return 1.0 - math.exp(-max(0.0, motion) / MOTION_SCALE)


def mood(d: dict[str, float], analysed: bool = True) -> tuple[float, float]:
    """(valence, arousal) in [-1, 1] from a shot's descriptors (formula above)."""
    cut_level = min(1.0, d.get("cut_rate", 0.0) / CUT_RATE_FULL)
    if not analysed:
        return 0.0, _clip(0.8 * cut_level - 0.2)
    valence = (
        1.4 * (d["brightness"] - 0.45) + 1.0 * (d["saturation"] - 0.30) + 1.2 * d["warmth"] + 0.3 * d["faces"]
    )
    arousal = (
        1.5 * motion_level(d["motion"])
        + 0.8 * cut_level
        + 0.8 * (d["contrast"] - 0.35)
        + 0.5 * (d["colourfulness"] - 0.30)
        - 0.45
    )
    return _clip(valence), _clip(arousal)


def style_for(valence: float, arousal: float) -> str:
    """A music style for a mood: the registry's cell for (valence, arousal).

    ============  ==================  =================  ==================
    arousal       valence <= -0.2     in between         valence >= 0.2
    ============  ==================  =================  ==================
    >= 0.45       electronic          rock               corporate-upbeat
    -0.2..0.45    cinematic           lo-fi              acoustic
    < -0.2        cinematic           ambient            ambient
    ============  ==================  =================  ==================

    (the built-in styles; a registered style may claim cells, see
    :func:`vidmusician.core.styles.style_for_mood`).
    """
    return _styles.style_for_mood(valence, arousal)


def prompt_words(
    d: dict[str, float], valence: float, arousal: float, analysed: bool = True
) -> tuple[str, ...]:
    """A few words for the music's prompt, most telling first."""
    words: list[str] = []
    if arousal > 0.45:
        words.append("energetic")
    elif arousal < -0.35:
        words.append("calm")
    if valence > 0.4:
        words.append("happy")
    elif valence < -0.4:
        words.append("tense" if arousal > 0.1 else "melancholic")
    if analysed:
        if d["brightness"] < 0.3:
            words.append("dark")
        elif d["brightness"] > 0.65:
            words.append("bright")
        if d["warmth"] > 0.12:
            words.append("warm")
        elif d["warmth"] < -0.08:
            words.append("cold")
        if d["camera_motion"] > 0.15 and d["camera_motion"] > 1.5 * d["object_motion"]:
            words.append("driving")
        if d["faces"] >= 0.3:
            words.append("intimate")
    if not words:
        words.append("neutral")
    return tuple(words[:5])
