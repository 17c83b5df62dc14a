"""One table of options: type, range, default and help, read by every front end.

The command line builds its flags from :data:`OPTIONS`, a TOML config file is
checked against it, and the Qt panel builds its widgets from it. Precedence:
an explicit value > the config file > the default.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import backends, styles
from .analysis.scenes import DETECTORS
from .errors import OptionError
from .model import METERS
from .writeback.registry import FORMATS


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
    choices : sequence, optional
        The allowed values; a live view of a registry (``styles.NAMES``) is
        read each time it is used, so a style registered later is a choice too.
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
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    commands: tuple[str, ...] = ()
    metavar: str | None = None
    parse: Callable[[Any, str], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` converted to :attr:`type` and checked; raises ``OptionError``.

        The same check for the command line (strings) and a config file (TOML
        values): a number must be finite and in range, an ``int`` a whole
        number (``1.5`` and ``true`` are not), a ``bool`` a boolean and a
        ``str`` text.
        """
        label = where or self.flag
        if value is None:
            return None
        v = _convert(self, value, label)
        if self.choices is not None and v not in self.choices:
            raise OptionError(f"{label} {_shown(v)}: choose one of {', '.join(map(str, self.choices))}.")
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            lo = "" if self.min is None else _num(self.min)
            hi = "" if self.max is None else _num(self.max)
            span = f"between {lo} and {hi}" if lo and hi else (f"at least {lo}" if lo else f"at most {hi}")
            raise OptionError(f"{label} {_shown(v)}: must be {span}.")
        return self.parse(v, label) if self.parse is not None else v


def _num(x: float) -> str:
    """A range bound as written: ``2147483647``, ``0.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _shown(value: Any) -> str:
    """A value as the user wrote it (TOML spells booleans ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"(a number of about {int(value.bit_length() * 0.30103) + 1} digits)"
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "...'"


def _convert(opt: Option, value: Any, label: str) -> Any:
    """``value`` as ``opt.type``, or an ``OptionError`` naming ``label``."""
    kind = opt.type
    wanted = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(
        kind, kind.__name__
    )

    def bad() -> OptionError:
        return OptionError(f"{label} {_shown(value)}: expected {wanted}. {opt.help.replace('%%', '%')}.")

    if kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if isinstance(value, bool):  # bool is an int subclass: true is not 1
        raise bad()
    if kind is str:
        if not isinstance(value, str):
            raise bad()
        return value
    if kind is int:
        if isinstance(value, int):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad() from None
        raise bad()  # a float (1.5, or 2.0 from TOML) is not a whole number
    if kind is float:
        if isinstance(value, (int, float)):
            try:
                v = float(value)
            except OverflowError:  # an int too large for a float
                v = math.inf
        elif isinstance(value, str):
            try:
                v = float(value.strip())
            except ValueError:
                raise bad() from None
        else:
            raise bad()
        if not math.isfinite(v):
            raise OptionError(f"{label} {_shown(value)}: not a finite number. {opt.help.replace('%%', '%')}.")
        return v
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise bad() from None


def _bpm(value: str, label: str) -> str:
    from .rhythm.planner import parse_bpm

    parse_bpm(value)  # refuses what is not a tempo or a range, with its own message
    return value


def _key(value: str, label: str) -> str:
    from .backends.arranger.keys import parse_key

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
        choices=styles.NAMES,
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
        parse=_bpm,
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
        "largest tempo change between beats with --exact (0.06 = 6%%); else the largest tempo jump at a "
        "section start",
        min=0.0,
        max=0.5,
        commands=("plan", "score"),
    ),
    Option(
        "exact",
        bool,
        False,
        "put every hard cut on the grid within 1 ms (the tempo may jump); default: a steady tempo that catches "
        "the cuts within --sync-window of a beat",
        commands=("plan", "score"),
    ),
    Option(
        "sync_window",
        float,
        40.0,
        "how near a beat a cut counts as on it, +- milliseconds (audio-visual sync tolerance)",
        min=1.0,
        max=200.0,
        commands=("plan", "score"),
        metavar="MS",
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
        "an SF2/SF3 SoundFont (default: VIDMUSICIAN_SOUNDFONT, else the best General MIDI font installed, "
        "else the small one pretty_midi ships; doctor says which)",
        commands=("score",),
        metavar="FILE",
    ),
    Option(
        "loudness",
        float,
        -23.0,
        "the music's integrated loudness in LUFS (EBU R128). Default -23, R128's programme level: "
        "a cue in the clear is at delivery level, and under dialogue you pull the bed 6-10 dB "
        "down with the peaks untouched; -14 is the streaming level (louder, limited harder)",
        min=-40.0,
        max=-9.0,
        commands=("score",),
        metavar="LUFS",
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
        choices=backends.BACKENDS,
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
        choices=FORMATS,  # the writers' registry, live
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


#: A config file larger than this is refused before it is read (bytes).
CONFIG_MAX_BYTES = 1 << 20


def load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read a TOML config file (a ``[vidmusician]`` table, or top-level keys).

    Unknown keys and bad values are errors that name the file and key. Only
    a regular file of at most :data:`CONFIG_MAX_BYTES` is read (a FIFO or a
    device such as ``/dev/zero`` is refused before anything is read).
    """
    if path is None:
        return {}
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise OptionError(f"{p}: config file not found.") from None
    except OSError as e:
        raise OptionError(f"{p}: cannot read the config file ({e.strerror or e}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise OptionError(f"{p}: is a folder; --config takes a TOML file.")
    if not stat.S_ISREG(st.st_mode):
        raise OptionError(f"{p}: not a regular file (a device, pipe or socket); --config takes a TOML file.")
    if st.st_size > CONFIG_MAX_BYTES:
        raise OptionError(
            f"{p}: {st.st_size} bytes is too large for a config file (at most {CONFIG_MAX_BYTES} bytes)."
        )
    try:
        # O_NONBLOCK: a file swapped for a pipe since the stat must not hang the open
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise OptionError(f"{p}: not a regular file; --config takes a TOML file.")
            raw = fh.read(CONFIG_MAX_BYTES + 1)  # the file may have grown since stat
        if len(raw) > CONFIG_MAX_BYTES:
            raise OptionError(f"{p}: too large for a config file (at most {CONFIG_MAX_BYTES} bytes).")
        data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, OSError) as e:  # TOMLDecodeError, UnicodeDecodeError, an int of 4300+ digits
        raise OptionError(f"{p}: not a valid TOML config file ({' '.join(str(e).split())[:200]}).") from None
    except RecursionError:
        raise OptionError(f"{p}: not a valid TOML config file (nested too deeply).") from None
    table = data.get("vidmusician", data)
    if not isinstance(table, dict):
        raise OptionError(
            f"{p}: 'vidmusician' is {_toml_type(table)}; it must be a table ([vidmusician] and its settings below)."
        )
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            known = ", ".join(sorted(BY_NAME))
            raise OptionError(f"{p}: unknown setting '{key}'. Known settings: {known}.")
        if isinstance(value, (dict, list)):
            raise OptionError(f"{p}: {key} = {_toml_type(value)}: expected one value. {BY_NAME[name].help}.")
        out[name] = BY_NAME[name].check(value, f"{p}: {key} =")
    return out


def _toml_type(value: Any) -> str:
    """The TOML name of ``value``'s type, with its article."""
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "a table", list: "an array", int: "an integer", float: "a float", str: "a string"}.get(
        type(value), type(value).__name__
    )


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
