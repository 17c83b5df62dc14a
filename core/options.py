"""One table of options: type, range, default and help, read by every front end.

The command line builds its flags from :data:`OPTIONS`, a TOML config file is
checked against it, and the Qt panel builds its widgets from it. Precedence:
an explicit value > the config file > the default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .analysis.semantics import STYLES
from .errors import OptionError
from .rhythm import METERS
from .video import DETECTORS


@dataclass(frozen=True)
class Option:
    """One user-facing setting.

    Attributes
    ----------
    name : str
        Python and TOML name (``scene_detector``); the flag is ``--scene-detector``.
    type : type
        ``float``, ``int``, ``str`` or ``bool``.
    default : Any
        Used when neither the command line nor the config file sets it (None = unset).
    help : str
    choices : tuple, optional
    min, max : float, optional
        Inclusive range for numbers.
    commands : tuple of str
        CLI commands that take it.
    metavar : str
    parse : callable, optional
        ``parse(value, label)``: a further check of a value, which it returns
        in canonical form (``--key Bbm`` -> ``Bb minor``) or refuses with an
        ``OptionError`` that names ``label``.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    commands: tuple[str, ...] = ()
    metavar: str | None = None
    parse: Callable[[Any, str], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` converted to :attr:`type` and checked; raises ``OptionError``."""
        label = where or self.flag
        if value is None:
            return None
        try:
            if self.type is bool and not isinstance(value, bool):
                raise ValueError
            v = self.type(value)
        except (TypeError, ValueError):
            raise OptionError(f"{label} {value!r}: expected {self.type.__name__}. {self.help}.") from None
        if self.choices is not None and v not in self.choices:
            raise OptionError(f"{label} {v!r}: choose one of {', '.join(map(str, self.choices))}.")
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            raise OptionError(f"{label} {v!r}: must be between {self.min:g} and {self.max:g}.")
        return self.parse(v, label) if self.parse is not None else v


def _key(value: str, label: str) -> str:
    from .arranger.keys import parse_key

    return parse_key(value, label).name


OPTIONS: tuple[Option, ...] = (
    Option(
        "rate",
        float,
        None,
        "frames per second of an EDL (EDLs carry no rate; 24 is assumed otherwise)",
        min=1.0,
        max=1000.0,
        commands=("analyze", "plan", "eval", "fit", "score"),
        metavar="FPS",
    ),
    Option(
        "scene_detector",
        str,
        "adaptive",
        "PySceneDetect detector that finds cuts in a plain video",
        choices=DETECTORS,
        commands=("analyze", "plan", "eval", "fit", "score"),
    ),
    Option(
        "scene_threshold",
        float,
        None,
        "threshold of the scene detector (default: the detector's own)",
        min=0.0,
        max=255.0,
        commands=("analyze", "plan", "eval", "fit", "score"),
        metavar="T",
    ),
    Option(
        "clip",
        str,
        None,
        "a local CLIP checkpoint (transformers or open_clip folder, or an OpenAI/open_clip .pt/.safetensors file) "
        "for embeddings and zero-shot tags",
        commands=("analyze", "plan", "eval", "fit", "score"),
        metavar="PATH",
    ),
    Option(
        "cache",
        bool,
        True,
        "reuse analysis results of media scanned before (--no-cache decodes again)",
        commands=("analyze", "plan", "eval", "fit", "score"),
    ),
    Option(
        "style",
        str,
        None,
        "music style (default: what the picture suggests)",
        choices=STYLES,
        commands=("plan", "score"),
    ),
    Option(
        "prompt",
        str,
        None,
        "words that steer style, mode and density (and MusicGen's text prompt)",
        commands=("score",),
        metavar="WORDS",
    ),
    Option(
        "bpm",
        str,
        None,
        "tempo range MIN-MAX, or one tempo (default: the style's)",
        commands=("plan", "score"),
        metavar="MIN-MAX",
    ),
    Option("meter", str, "4/4", "time signature", choices=tuple(METERS), commands=("plan", "fit", "score")),
    Option(
        "flex",
        float,
        1.0,
        "tempo freedom: 0 = one constant tempo that hits the most cuts",
        min=0.0,
        max=1.0,
        commands=("plan", "score"),
    ),
    Option(
        "max_change",
        float,
        0.06,
        "largest tempo change between beats (0.06 = 6%%)",
        min=0.0,
        max=0.5,
        commands=("plan", "score"),
    ),
    Option(
        "ring_out",
        float,
        2.0,
        "seconds the music may ring on after the last frame",
        min=0.0,
        max=30.0,
        commands=("plan", "fit", "score"),
        metavar="S",
    ),
    Option(
        "key",
        str,
        None,
        "the arranger's key: a tonic and a mode (D minor, F# major, Bbm, C#m) or only major or minor "
        "(default: chosen from the picture and the style)",
        commands=("score",),
        metavar="KEY",
        parse=_key,
    ),
    Option(
        "seed",
        int,
        0,
        "seed of the arrangement: the same seed gives the same music",
        min=0,
        max=2**31 - 1,
        commands=("score",),
        metavar="N",
    ),
    Option(
        "soundfont",
        str,
        None,
        "an SF2/SF3 SoundFont (default: the General MIDI font pretty_midi ships)",
        commands=("score",),
        metavar="FILE",
    ),
    Option(
        "markers",
        str,
        "none",
        "timeline markers written with the music: on every downbeat, or on the cuts the music hit",
        choices=("none", "downbeats", "cuts"),
        commands=("score",),
    ),
    Option(
        "backend",
        str,
        "arranger",
        "what writes the music: the embedded arranger (no model weights) or MusicGen (--model)",
        choices=("arranger", "musicgen"),
        commands=("score",),
    ),
    Option(
        "model",
        str,
        None,
        "the MusicGen checkpoint: a folder, a Hugging Face name in your cache, or 'debug'",
        commands=("score",),
        metavar="NAME_OR_PATH",
    ),
    Option(
        "adapters",
        str,
        None,
        "trained VidMusician modules (a folder that vidmusician train wrote)",
        commands=("score",),
        metavar="PATH",
    ),
    Option(
        "format",
        str,
        "same",
        "timeline format written beside the OTIO: same = the input's",
        choices=("same", "otio", "fcp7", "edl"),
        commands=("fit", "score"),
    ),
    Option(
        "stem_tracks",
        bool,
        False,
        "also put every stem on its own audio track",
        commands=("score",),
    ),
    Option(
        "stretch",
        float,
        0.08,
        "largest time-stretch of the music (0.08 = +-8%%)",
        min=0.0,
        max=0.5,
        commands=("fit",),
    ),
)

BY_NAME = {o.name: o for o in OPTIONS}


def for_command(command: str) -> list[Option]:
    """The options a CLI command takes, in table order."""
    return [o for o in OPTIONS if command in o.commands]


def load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read a TOML config file (a ``[vidmusician]`` table, or top-level keys).

    Unknown keys and bad values are errors that name the file and key.
    """
    if path is None:
        return {}
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptionError(f"{p}: config file not found.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise OptionError(f"{p}: not a valid TOML config file ({e}).") from None
    table = data.get("vidmusician", data)
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            known = ", ".join(sorted(BY_NAME))
            raise OptionError(f"{p}: unknown setting '{key}'. Known settings: {known}.")
        out[name] = BY_NAME[name].check(value, f"{p}: {key} =")
    return out


def resolve(explicit: dict[str, Any], config: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Each option in ``names``: explicit (not None) > config > default, checked."""
    out: dict[str, Any] = {}
    for name in names:
        opt = BY_NAME[name]
        if explicit.get(name) is not None:
            out[name] = opt.check(explicit[name])
        elif name in config:
            out[name] = config[name]
        else:
            out[name] = opt.default
    return out
