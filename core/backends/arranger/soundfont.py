"""The SoundFont the arranger plays: which one (the search), and loading it once.

The search (:func:`find`), first that applies:

1. ``--soundfont FILE``, source ``"--soundfont"``, or ``soundfont = "FILE"``
   in the config file (the same option: an explicit flag beats the config),
   source ``"config CONFIG-FILE"`` (:func:`config_source`);
2. the environment variable ``VIDMUSICIAN_SOUNDFONT``, source
   ``"VIDMUSICIAN_SOUNDFONT"``;
3. the General MIDI fonts installed where systems put them
   (:data:`SYSTEM_DIRS`; ``VIDMUSICIAN_SOUNDFONT_DIRS``, folders separated by
   ``os.pathsep``, replaces them, and empty means none), ranked by quality
   (:func:`rank`: MuseScore General, then FluidR3 GM, then any other), source
   ``"system"``;
4. TimGM6mb, the small font pretty_midi ships, source ``"bundled"``.

A font the user names (1, 2) always wins and must be usable (a damaged one
is an error, as before). A system font that fails the structure check
(:func:`...io.guard.check_soundfont`) is skipped with a note.

Loading: tinysoundfont decodes a whole font when it loads it (MuseScore
General's SF3: seconds of Ogg Vorbis decoding and about a gigabyte of
samples), and each part is rendered by a synthesiser of its own. A file is
decoded once per process (keyed by its path, size and modification time) and
each part plays a clone of it (:func:`take`, :func:`give`: tinysoundfont's
``tsf_copy``, which shares the samples and gives the clone voices and
channels of its own): a render decodes its font once, the parts rendered side
by side share that one copy, and the next render in the same process decodes
nothing. A clone starts silent, so a part renders the same samples whatever
was played before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import units

SR = units.OUTPUT_SR
ENV = "VIDMUSICIAN_SOUNDFONT"
DIRS_ENV = "VIDMUSICIAN_SOUNDFONT_DIRS"

#: Where systems install General MIDI SoundFonts, searched in this order
#: (Debian/Ubuntu: musescore-general-soundfont, fluid-soundfont-gm and the
#: ``default-GM`` alternatives links; Arch, Fedora: /usr/share/soundfonts;
#: macOS; Windows). ``~`` and ``%VAR%`` are expanded.
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr/share/sounds/sf3",
    "/usr/share/sounds/sf2",
    "/usr/share/soundfonts",
    "/usr/local/share/soundfonts",
    "~/Library/Audio/Sounds/Banks",
    "/Library/Audio/Sounds/Banks",
    "%USERPROFILE%\\SoundFonts",
    "C:\\soundfonts",
)
SUFFIXES = (".sf2", ".sf3")


@dataclass(frozen=True)
class Found:
    """The font a render will use.

    Attributes
    ----------
    path : str
    source : str
        How it was found: ``"--soundfont"``, ``"config FILE"``,
        ``"VIDMUSICIAN_SOUNDFONT"``, ``"system"`` or ``"bundled"``.
    notes : tuple of str
        System fonts the search skipped, and why.
    """

    path: str
    source: str
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{Path(self.path).name} ({self.source}: {self.path})"


def bundled() -> str:
    """TimGM6mb.sf2, the General MIDI font pretty_midi ships (the fallback)."""
    import pretty_midi

    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


def rank(path: str | os.PathLike[str]) -> int:
    """The quality rank of a font by its (link-resolved) file name, lower is
    better: 0 MuseScore General (a FluidR3 reworked by MuseScore, the fuller
    ``_Full`` first), 1 FluidR3 GM, 2 any other, 3 TimGM6mb (6 MB, the
    bundled one)."""
    name = Path(os.path.realpath(path)).name.lower()
    if name.startswith("musescore_general"):
        return 0
    if name.startswith("fluidr3"):
        return 1
    if name.startswith("timgm6mb"):
        return 3
    return 2


def system_dirs() -> tuple[str, ...]:
    """The folders searched for system fonts: ``VIDMUSICIAN_SOUNDFONT_DIRS``
    when set (empty: none), else :data:`SYSTEM_DIRS`, expanded."""
    raw = os.environ.get(DIRS_ENV)
    dirs = SYSTEM_DIRS if raw is None else tuple(d for d in raw.split(os.pathsep) if d)
    out = []
    for d in dirs:
        e = os.path.expandvars(os.path.expanduser(d))
        if "%" in e or "$" in e:  # a variable this system does not have
            continue
        out.append(e)
    return tuple(out)


def candidates() -> list[str]:
    """The SF2/SF3 files in :func:`system_dirs`, best first: by :func:`rank`,
    then folder order, then name; a file that several names link to once."""
    seen: set[str] = set()
    found: list[tuple[int, int, int, str, str]] = []
    for i, d in enumerate(system_dirs()):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            p = os.path.join(d, name)
            if not name.lower().endswith(SUFFIXES) or not os.path.isfile(p):
                continue
            real = os.path.realpath(p)
            if real in seen:
                continue
            seen.add(real)
            real_name = Path(real).name.lower()
            full = 0 if "_full" in real_name else 1  # MuseScore_General_Full before MuseScore_General
            found.append((rank(real), full, i, real_name, p))
    found.sort()
    return [t[-1] for t in found]


def find(given: str | os.PathLike[str] | None = None, source: str | None = None) -> Found:
    """The font to use (see the module docstring). ``given``: the
    ``--soundfont`` option, and ``source`` where it came from (None: the
    flag; :func:`config_source` for a config file). A font the user names is
    checked and returned (an ``OptionError`` when it is not usable); system
    fonts that are not are skipped with a note."""
    from ...errors import OptionError
    from ...io.guard import check_soundfont

    if given:
        check_soundfont(given)
        return Found(str(given), source or "--soundfont")
    env = os.environ.get(ENV)
    if env:
        try:
            check_soundfont(env)
        except OptionError as e:
            raise OptionError(f"{ENV}={env}: {e}") from None
        return Found(env, ENV)
    notes = []
    for p in candidates():
        try:
            check_soundfont(p)
        except OptionError as e:
            notes.append(f"skipped {e}")
            continue
        return Found(p, "system", tuple(notes))
    return Found(bundled(), "bundled", tuple(notes))


def config_source(path: str | os.PathLike[str]) -> str:
    """The source of a font the config file ``path`` names (``soundfont = "FILE"``)."""
    return f"config {path}"


# --------------------------------------------------------------------------- loading once

#: The decoded fonts, one per file at most: (real path, size, mtime_ns) -> the
#: font every part's clone shares (never lent out itself).
_loaded: dict[tuple[str, int, int], Any] = {}
_lock = threading.Lock()
#: How many times a font file was decoded in this process (tests count them).
loads = 0
#: Decoded files kept at rest: one (the font of the last render).
KEEP = 1
#: Clones lent out: id(clone) -> clone.
_lent: dict[int, Any] = {}


def _key(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)


def _load(path: str) -> Any:
    """A freshly decoded font, set to 48 kHz stereo, as ``Synth.sfload`` sets it."""
    global loads
    from tinysoundfont import _tinysoundfont as native

    font = native.SoundFont(path)
    font.set_output(native.OutputMode.StereoInterleaved, SR, 0.0)
    font.set_max_voices(256)
    with _lock:
        loads += 1
    return font


def _clone(font: Any) -> Any:
    """A synthesiser of its own on ``font``'s decoded samples (tinysoundfont's
    ``tsf_copy``: the presets and samples are shared, not copied; the voices
    and channels are new), set up as :func:`_load` sets a font."""
    from tinysoundfont import _tinysoundfont as native

    clone = native.SoundFont(font)
    clone.set_output(native.OutputMode.StereoInterleaved, SR, 0.0)
    clone.set_max_voices(256)
    return clone


def take(path: str) -> Any:
    """A fresh synthesiser (tinysoundfont's native ``SoundFont``) on ``path``
    for one part: a clone of the file's decoded font (path, size, mtime),
    decoding it first when this process has not. Every part of a render,
    and every part rendered at the same time, shares the one decoded copy
    (MuseScore General Full: about a gigabyte). Give it back with :func:`give`."""
    key = _key(path)
    with _lock:
        font = _loaded.get(key)
    if font is None:
        font = _load(path)
        with _lock:
            font = _loaded.setdefault(key, font)  # two threads loading at once keep one
            for other in [k for k in _loaded if k != key][: max(0, len(_loaded) - KEEP)]:
                del _loaded[other]  # one font file in memory at rest
    clone = _clone(font)
    with _lock:
        _lent[id(clone)] = clone
    return clone


def give(font: Any) -> None:
    """Give back a clone :func:`take` lent (it is let go; the decoded font stays)."""
    with _lock:
        _lent.pop(id(font), None)


@contextmanager
def borrow(path: str) -> Iterator[Any]:
    """:func:`take` and :func:`give` around a block."""
    font = take(path)
    try:
        yield font
    finally:
        give(font)


def clear() -> None:
    """Let every decoded font go (clones still lent keep theirs until given back)."""
    with _lock:
        _loaded.clear()


def synth_on(font: Any) -> tuple[Any, int]:
    """A ``tinysoundfont.Synth`` at 48 kHz playing the loaded ``font`` on
    every channel (what ``Synth.sfload`` does, without loading), and its id."""
    import tinysoundfont
    from tinysoundfont.synth import MAX_CHANNELS

    synth = tinysoundfont.Synth(samplerate=SR)
    synth.soundfonts[0] = font
    synth.next_sfid = 1
    synth.channel = {chan: 0 for chan in range(MAX_CHANNELS)}
    return synth, 0
