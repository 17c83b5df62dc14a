"""The arranger's view of the styles, and the prompt words that steer it.

Each style's instruments, grooves, harmony and voicing are fields of its
record in the one style registry, :mod:`vidmusician.core.styles` (General
MIDI programs, 16-step drum patterns, progressions as scale degrees): see
:class:`~vidmusician.core.styles.Style`. This module keeps the words that
push the mode or the density, which belong to no style.
"""

from __future__ import annotations

from ... import styles as _styles
from ...styles import Style

__all__ = [
    "PROMPT_DENSE",
    "PROMPT_MAJOR",
    "PROMPT_MINOR",
    "PROMPT_SPARSE",
    "PROMPT_STYLE",
    "STYLES",
    "Style",
    "get_style",
]

#: name -> record: a live view of the style registry.
STYLES = _styles.RECORDS

#: Prompt words that choose a style (each record's ``prompt_words``, live).
PROMPT_STYLE = _styles.PROMPT_WORDS
#: Prompt words that push the mode or the density.
PROMPT_MINOR = {"dark", "sad", "tense", "melancholic", "mysterious", "epic", "dramatic"}
PROMPT_MAJOR = {"happy", "bright", "uplifting", "joyful", "warm", "playful"}
PROMPT_SPARSE = {"calm", "minimal", "sparse", "soft", "gentle", "quiet"}
PROMPT_DENSE = {"energetic", "busy", "driving", "intense", "epic", "action"}


def get_style(name: str) -> Style:
    """The registered style ``name``; an ``OptionError`` listing the choices otherwise."""
    return _styles.get(name)
