"""The arranger's styles: instruments, grooves, harmony and voicing.

Programs are General MIDI (0-based). Drum patterns are 16 steps per 4/4 bar
(sixteenths); for other meters the arranger reads the first steps it needs.
Chord progressions are scale degrees (1-7) of the style's mode; a trailing
"7" in a chord's name adds the seventh.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionError


@dataclass(frozen=True)
class Style:
    name: str
    tempo: tuple[float, float]
    mode: str  # "major" | "minor": the default; the picture's mood may flip it
    drums: int | None  # GM drum kit program (bank 128), None = no drums
    bass: int
    harmony: int
    pad: int
    lead: int
    kick: str  # 16 steps, "x" = hit
    snare: str
    hats: str
    harmony_rhythm: str  # "block" | "arp8" | "offbeat" | "strum"
    progressions_major: tuple[tuple[int, ...], ...]
    progressions_minor: tuple[tuple[int, ...], ...]
    sevenths: bool
    bars_per_chord: int
    lead_density: float  # chance a lead step sounds at full intensity
    harmony_b: int = -1  # the harmony's instrument in B sections (-1: the same)
    lead_b: int = -1  # the lead's instrument in B sections (-1: the same)


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "cinematic",
            (70, 110),
            "minor",
            48,
            43,
            48,
            89,
            60,
            "x.........x.....",
            "....x.......x...",
            "........x.......",
            "block",
            ((1, 5, 6, 4), (1, 4, 6, 5)),
            ((1, 6, 3, 7), (1, 4, 6, 5)),
            False,
            2,
            0.35,
            49,
            71,
        ),
        Style(
            "corporate-upbeat",
            (100, 128),
            "major",
            0,
            33,
            0,
            89,
            11,
            "x.......x.......",
            "....x.......x...",
            "x.x.x.x.x.x.x.x.",
            "offbeat",
            ((1, 5, 6, 4), (1, 4, 5, 4), (6, 4, 1, 5)),
            ((1, 6, 3, 7),),
            False,
            1,
            0.5,
            4,
            73,
        ),
        Style(
            "electronic",
            (118, 132),
            "minor",
            25,
            38,
            81,
            90,
            80,
            "x...x...x...x...",
            "....x.......x...",
            "..x...x...x...x.",
            "arp8",
            ((1, 5, 6, 4),),
            ((1, 6, 7, 1), (1, 4, 6, 7)),
            False,
            1,
            0.45,
            87,
            84,
        ),
        Style(
            "ambient",
            (60, 90),
            "major",
            None,
            32,
            88,
            89,
            91,
            "................",
            "................",
            "................",
            "block",
            ((1, 4, 1, 5), (1, 6, 4, 5)),
            ((1, 6, 4, 5),),
            True,
            2,
            0.2,
            92,
            79,
        ),
        Style(
            "rock",
            (110, 150),
            "major",
            0,
            34,
            29,
            48,
            30,
            "x.....x.x.......",
            "....x.......x...",
            "x.x.x.x.x.x.x.x.",
            "strum",
            ((1, 7, 4, 1), (1, 4, 5, 4), (6, 4, 1, 5)),
            ((1, 7, 6, 7), (1, 6, 7, 1)),
            False,
            1,
            0.5,
            27,
            29,
        ),
        Style(
            "lo-fi",
            (70, 95),
            "major",
            0,
            33,
            4,
            89,
            11,
            "x......x..x.....",
            "....x.......x...",
            "x.x.x.x.x.x.x.x.",
            "offbeat",
            ((2, 5, 1, 6), (1, 6, 2, 5)),
            ((1, 4, 7, 3),),
            True,
            1,
            0.3,
            11,
            66,
        ),
        Style(
            "acoustic",
            (80, 120),
            "major",
            0,
            32,
            25,
            48,
            73,
            "x.......x.......",
            "....x.......x...",
            "x...x...x...x...",
            "arp8",
            ((1, 4, 6, 5), (1, 5, 6, 4)),
            ((1, 6, 3, 7),),
            False,
            1,
            0.4,
            24,
            75,
        ),
    )
}

#: Prompt words that push the style, the mode or the density.
PROMPT_STYLE = {
    "epic": "cinematic",
    "cinematic": "cinematic",
    "dramatic": "cinematic",
    "dark": "cinematic",
    "corporate": "corporate-upbeat",
    "upbeat": "corporate-upbeat",
    "happy": "corporate-upbeat",
    "electronic": "electronic",
    "edm": "electronic",
    "techno": "electronic",
    "synth": "electronic",
    "ambient": "ambient",
    "calm": "ambient",
    "dreamy": "ambient",
    "rock": "rock",
    "sport": "rock",
    "sports": "rock",
    "action": "rock",
    "lofi": "lo-fi",
    "lo-fi": "lo-fi",
    "chill": "lo-fi",
    "jazzy": "lo-fi",
    "acoustic": "acoustic",
    "folk": "acoustic",
    "warm": "acoustic",
}
PROMPT_MINOR = {"dark", "sad", "tense", "melancholic", "mysterious", "epic", "dramatic"}
PROMPT_MAJOR = {"happy", "bright", "uplifting", "joyful", "warm", "playful"}
PROMPT_SPARSE = {"calm", "minimal", "sparse", "soft", "gentle", "quiet"}
PROMPT_DENSE = {"energetic", "busy", "driving", "intense", "epic", "action"}


def get_style(name: str) -> Style:
    if name not in STYLES:
        raise OptionError(f"unknown style '{name}': choose one of {', '.join(STYLES)}.")
    return STYLES[name]
