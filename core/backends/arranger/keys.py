"""Keys: their names, ``--key`` and the key a cue is written in.

A key is a tonic (pitch class, C = 0) and a mode. Names follow the usual
spelling of key signatures: the major keys C Db D Eb E F F# G Ab A Bb B and
the minor keys C C# D Eb E F F# G G# A Bb B (``--key`` accepts any
spelling: ``C# minor``, ``Db``, ``Bbm``, ``f sharp major``, ``G#m``).

The key of a cue (:func:`choose_key`) is decided, in this order, by

1. ``--key``: a whole key, or only a mode (``--key minor``: the picture
   chooses the tonic);
2. the mode: the prompt's mood words (``dark``, ``happy``) set it for the
   whole cue; else every section (the plan's) takes the style's mode unless
   its shots' mood clearly says otherwise (a major style under shots reading
   below -0.25 in valence turns minor, a minor style under shots above 0.35
   major: :func:`section_modes`), and the cue's mode is the one most of its
   time is in (its final chord is in it too);
3. the tonic: each style lists six tonics per mode that sit well for its
   instruments (open strings and guitar keys for rock and acoustic, string-
   and horn-friendly keys for cinematic, the flat keys of jazz harmony for
   lo-fi, the usual dance-music keys for electronic); the picture's
   brightness and warmth set where on the circle of fifths the key should
   sit (bright, cool pictures: sharp keys, whose open-string resonance and
   conventional character are the brighter; dark or warm ones: flat keys,
   mellower), which ranks the six; a generator seeded with a digest of the
   picture (the shots' frame ranges and descriptors) then picks one of the
   four that fit best, the better the likelier (4:3:2:1), or any of the six
   alike when no shot's picture could be read, so the same cut always gets
   the same key and other cuts, even of similar pictures, other keys.

The take's seed plays no part: every take of a cut is in the same key, so
the takes of one session can be played side by side (``takes --use``) and a
regenerated shot fits its neighbours.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ... import styles as _styles
from ...errors import OptionError
from ...model import VideoFeatures

MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
_MODES = {"": "major", "major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor"}
_KEY_RE = re.compile(
    r"^\s*(?P<letter>[a-g])\s*-?\s*(?P<acc>sharp|flat|#|♯|b|♭)?\s*(?P<mode>major|maj|minor|min|m)?\s*$",
    re.IGNORECASE,
)

#: Tonics (pitch classes) per style and mode, the best first: a live view of
#: the style registry's ``tonics_major`` / ``tonics_minor`` (the reasons for
#: each style's keys are beside its record in :mod:`vidmusician.core.styles`).
STYLE_TONICS: Mapping[str, dict[str, tuple[int, ...]]] = _styles.Live(
    "tonics",
    lambda: {s.name: {m: style_tonics(s.name, m) for m in ("major", "minor")} for s in _styles.all_styles()},
)


def style_tonics(style: str, mode: str) -> tuple[int, ...]:
    """The tonics of ``style`` in ``mode``, the best first; the acoustic
    style's for a style that lists none (or a name the registry lacks)."""
    rec = _styles.RECORDS.get(style)
    return (rec.tonics(mode) if rec is not None else ()) or _styles.get(_styles.FALLBACK_TONICS).tonics(mode)


PICK_WEIGHTS = (0.4, 0.3, 0.2, 0.1)  # of the four keys that fit the picture best, the best first
MAJOR_BELOW = -0.25  # a major style turns minor under shots reading below this
MINOR_ABOVE = 0.35  # and a minor style major above this


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, C = 0
    mode: str  # "major" | "minor"

    @property
    def tonic_name(self) -> str:
        return (MAJOR_NAMES if self.mode == "major" else MINOR_NAMES)[self.tonic % 12]

    @property
    def name(self) -> str:
        return f"{self.tonic_name} {self.mode}"

    @property
    def key_number(self) -> int:
        """pretty_midi's key number (0-11 major, 12-23 minor)."""
        return self.tonic % 12 + (12 if self.mode == "minor" else 0)

    @property
    def fifths(self) -> int:
        """Sharps (> 0) or flats (< 0) of the key signature, -5..6."""
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        f = (major_tonic * 7) % 12
        return f - 12 if f > 6 else f


@dataclass(frozen=True)
class KeyRequest:
    """What ``--key`` asks for: a tonic and a mode, or only a mode."""

    tonic: int | None
    mode: str

    @property
    def name(self) -> str:
        return self.mode if self.tonic is None else Key(self.tonic, self.mode).name


def parse_key(text: str, label: str = "--key") -> KeyRequest:
    """``--key`` text as a :class:`KeyRequest`; a clear ``OptionError`` otherwise."""
    s = str(text).strip()
    if s.lower() in ("major", "minor"):
        return KeyRequest(None, s.lower())
    m = _KEY_RE.match(s)
    if m is None:
        raise OptionError(
            f"{label} {text!r}: not a key. Give a tonic and a mode, e.g. 'D minor', 'F# major', "
            "'Bbm', 'C#m', or only 'major' or 'minor'."
        )
    mode_word = m["mode"] or ""
    mode = "major" if mode_word == "M" else _MODES[mode_word.lower()]
    tonic = (_LETTERS[m["letter"].lower()] + _ACCIDENTALS[(m["acc"] or "").lower()]) % 12
    return KeyRequest(tonic, mode)


#: The names the arranger's first key table gave its six tonics (C D Eb F G A).
LEGACY_NAMES = {"C": 0, "Eb": 2, "E": 3, "F#": 5, "Ab": 7, "Bb": 9}


def legacy_key(label: str) -> str | None:
    """The real key of a take labelled by the first key table ("Ab major" was
    G major); None for a label that table could not write."""
    tonic, _, mode = label.partition(" ")
    if tonic not in LEGACY_NAMES or mode not in ("major", "minor"):
        return None
    return Key(LEGACY_NAMES[tonic], mode).name


def _weighted(features: VideoFeatures, name: str) -> float | None:
    """Duration-weighted mean of a descriptor over the analysed shots; None
    when no shot was analysed."""
    total = acc = 0.0
    for shot, f in zip(features.timeline.shots, features.shots):
        if not f.analysed:
            continue
        w = max(0.0, shot.end_s - shot.start_s)
        v = f.descriptors.get(name)
        if v is None:
            continue
        total += w
        acc += w * float(v)
    return acc / total if total > 0 else None


def picture_digest(features: VideoFeatures) -> int:
    """A number that depends on the picture alone: the shots' frame ranges and
    their descriptors (rounded, so a float's last bits do not matter)."""
    shots = [
        [s.start_frame, s.end_frame, f.analysed, round(float(f.valence), 2), round(float(f.arousal), 2)]
        + [
            round(float(f.descriptors.get(k, 0.0)), 2)
            for k in ("brightness", "warmth", "saturation", "motion")
        ]
        for s, f in zip(features.timeline.shots, features.shots)
    ]
    blob = json.dumps([features.timeline.duration_frames, shots], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big")


def picture_fifths(features: VideoFeatures) -> float:
    """Where on the circle of fifths the picture puts its key: +1 bright and
    cool (sharp keys), -1 dark or warm (flat keys), 0 neutral or unknown."""
    brightness = _weighted(features, "brightness")
    warmth = _weighted(features, "warmth")
    if brightness is None:
        return 0.0
    return float(np.clip(4.0 * (brightness - 0.45) - 3.0 * (warmth or 0.0), -1.0, 1.0))


def _valence_between(features: VideoFeatures, t0: float, t1: float) -> float:
    """The shots' valence over ``[t0, t1)``, weighted by how long each is in it."""
    acc = total = 0.0
    for s, f in zip(features.timeline.shots, features.shots):
        w = max(0.0, min(s.end_s, t1) - max(s.start_s, t0))
        acc += w * float(f.valence)
        total += w
    return acc / total if total else 0.0


def section_modes(
    style_mode: str, features: VideoFeatures, spans: list[tuple[float, float]], forced: str | None = None
) -> list[str]:
    """The mode of every span (start, end in seconds): ``forced`` (``--key``'s
    or the prompt's mode) everywhere, else the style's unless the span's shots
    read clearly otherwise."""
    out = []
    for t0, t1 in spans:
        mode = forced or style_mode
        if forced is None:
            v = _valence_between(features, t0, t1)
            if style_mode == "major" and v < MAJOR_BELOW:
                mode = "minor"
            elif style_mode == "minor" and v > MINOR_ABOVE:
                mode = "major"
        out.append(mode)
    return out


def cue_mode(modes: list[str], spans: list[tuple[float, float]], default: str) -> str:
    """The mode most of the time is in (``default`` on a tie)."""
    minor = sum(t1 - t0 for (t0, t1), m in zip(spans, modes) if m == "minor")
    major = sum(t1 - t0 for (t0, t1), m in zip(spans, modes) if m == "major")
    return "minor" if minor > major else "major" if major > minor else default


def choose_key(
    style: str,
    style_mode: str,
    features: VideoFeatures,
    request: str | None = None,
    prompt_mode: str | None = None,
    spans: list[tuple[float, float]] | None = None,
) -> tuple[Key, list[str]]:
    """The key of a cue (module docstring) and the mode of each of ``spans``
    (the plan's sections; default: the whole cue as one). ``request`` is
    ``--key`` text; its mode, else ``prompt_mode``, holds everywhere."""
    req = parse_key(request) if request else None
    spans = spans or [(0.0, features.timeline.duration_s)]
    forced = req.mode if req is not None else prompt_mode
    modes = section_modes(style_mode, features, spans, forced)
    if req is not None and req.tonic is not None:
        return Key(req.tonic, req.mode), modes
    mode = cue_mode(modes, spans, forced or style_mode)
    tonics = style_tonics(style, mode)
    pick = np.random.default_rng([picture_digest(features), zlib.crc32(style.encode()), mode == "minor"])
    if _weighted(features, "brightness") is None:  # no picture to go by: the style's keys alike
        return Key(int(tonics[int(pick.integers(len(tonics)))]), mode), modes
    target = picture_fifths(features) * 5.0
    # rank: the fit to the picture first (in fifths), the style's order breaking ties
    fit = [abs(Key(t, mode).fifths - target) + 0.4 * i for i, t in enumerate(tonics)]
    best = [tonics[i] for i in np.argsort(fit, kind="stable")[:4]]
    return Key(int(best[int(pick.choice(4, p=PICK_WEIGHTS))]), mode), modes
