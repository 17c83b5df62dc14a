"""The one style registry: every music style is one :class:`Style` record.

Everything that knows about styles reads this table: the analysis' mood ->
style quadrant (:func:`style_for_mood`), the planner's tempo ranges, the
arranger's instruments, grooves, harmony and keys, the prompt words that name
a style, the plot's and the panel's colours, the ``--style`` choices (the
options table, hence the CLI, the config file and the panel) and the neural
conditioning's one-hot style vector. Adding a style is adding one record to
:data:`BUILTIN` (in :mod:`.style_builtin`; the record's types are in
:mod:`.style_types`) or calling :func:`register` at run time; nothing else.

The order of the records is part of trained neural adapters: the descriptor
vector carries a one-hot style in this order, and adapters store the list
they were trained with (see ``neural.conditioning.style_order``). Append new
styles at the end; never reorder or rename the built-in ones.

This module imports nothing heavy (the errors module only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar, overload

from .errors import OptionError
from .style_builtin import BUILTIN
from .style_types import (  # noqa: F401  (the registry's names: every stage imports the types from here)
    APPROACHES,
    AROUSAL_BANDS,
    AROUSAL_SPLIT,
    BASS_FIGURES,
    BREAKDOWN_DRUMS,
    CUT_HITS,
    FILLS,
    HARMONY_RHYTHMS,
    IMPACTS,
    SEVENTHS,
    VALENCE_BANDS,
    VALENCE_SPLIT,
    FormSpec,
    Groove,
    HarmonyMelody,
    MixSpec,
    Style,
)

#: The built-in names, in order: the style list of adapters saved before they recorded theirs.
BUILTIN_NAMES: tuple[str, ...] = tuple(s.name for s in BUILTIN)
#: The style whose keys serve a record that lists none.
FALLBACK_TONICS = "acoustic"

_registry: dict[str, Style] = {s.name: s for s in BUILTIN}
_version = 0  # bumped by register / unregister: the views rebuild


def register(style: Style, replace: bool = False) -> Style:
    """Add ``style`` to the registry (after the others) and return it.

    A name already registered is refused unless ``replace`` (a built-in style
    is never replaced). Its mood cells and prompt words take precedence over
    the earlier styles'. The options table, the CLI and the panel read the
    registry when they are built, so the new name is a ``--style`` choice from
    then on.
    """
    global _version
    if not isinstance(style, Style):
        raise OptionError(f"register: a Style record, not {type(style).__name__}.")
    if style.name in _registry:
        if style.name in BUILTIN_NAMES:
            raise OptionError(f"style {style.name!r} is built in: register a new name.")
        if not replace:
            raise OptionError(f"style {style.name!r} is registered already (replace=True to swap it).")
        del _registry[style.name]
    _registry[style.name] = style
    _version += 1
    return style


def unregister(name: str) -> None:
    """Remove a style added by :func:`register` (the built-in ones stay)."""
    global _version
    if name in BUILTIN_NAMES:
        raise OptionError(f"style {name!r} is built in and cannot be removed.")
    if name not in _registry:
        raise OptionError(f"unknown style '{name}': choose one of {', '.join(_registry)}.")
    del _registry[name]
    _version += 1


def get(name: str) -> Style:
    """The record of ``name``; an ``OptionError`` that lists the choices otherwise."""
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown style '{name}': choose one of {', '.join(_registry)}.") from None


def names() -> tuple[str, ...]:
    """The registered names, built-in first, in registry order."""
    return tuple(_registry)


def all_styles() -> tuple[Style, ...]:
    """The registered records, in registry order."""
    return tuple(_registry.values())


def valence_band(valence: float) -> str:
    """``"negative"`` (<= -0.2), ``"positive"`` (>= 0.2) or ``"neutral"``."""
    return (
        "negative"
        if valence <= VALENCE_SPLIT[0]
        else "positive"
        if valence >= VALENCE_SPLIT[1]
        else "neutral"
    )


def arousal_band(arousal: float) -> str:
    """``"high"`` (>= 0.45), ``"mid"`` (>= -0.2) or ``"low"``."""
    return "high" if arousal >= AROUSAL_SPLIT[1] else "mid" if arousal >= AROUSAL_SPLIT[0] else "low"


def style_for_mood(valence: float, arousal: float) -> str:
    """The style whose mood cell holds (valence, arousal), both in [-1, 1].

    With the built-in styles:

    ============  ==================  =================  ==================
    arousal       valence <= -0.2     in between         valence >= 0.2
    ============  ==================  =================  ==================
    >= 0.45       electronic          rock               corporate-upbeat
    -0.2..0.45    cinematic           lo-fi              acoustic
    < -0.2        cinematic           ambient            ambient
    ============  ==================  =================  ==================
    """
    cells = _cells()
    return cells.get((valence_band(valence), arousal_band(arousal)), next(iter(_registry)))


_T = TypeVar("_T")
_cache: dict[str, tuple[int, object]] = {}


def _cached(key: str, build: Callable[[], _T]) -> _T:
    hit = _cache.get(key)
    if hit is None or hit[0] != _version:
        hit = (_version, build())
        _cache[key] = hit
    return hit[1]  # type: ignore[return-value]


def _cells() -> dict[tuple[str, str], str]:
    def build() -> dict[tuple[str, str], str]:
        return {cell: s.name for s in _registry.values() for cell in s.moods}  # later ones win

    return _cached("cells", build)


class Live(Mapping[str, _T]):
    """A read-only mapping from style names (or prompt words) to one field,
    rebuilt from the registry whenever it changes: the tables that other
    modules keep (``rhythm.STYLE_TEMPO``, ``analysis.plot.STYLE_COLOURS``, ...)."""

    def __init__(self, key: str, build: Callable[[], dict[str, _T]]):
        self._key, self._build = key, build

    def _data(self) -> dict[str, _T]:
        return _cached(self._key, self._build)

    def __getitem__(self, k: str) -> _T:
        return self._data()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data()!r})"


class Names(Sequence[str]):
    """The registered style names as a live, read-only sequence (the
    ``--style`` choices): it reads the registry each time it is used."""

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return names()[i]

    def __len__(self) -> int:
        return len(_registry)

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __contains__(self, x: object) -> bool:
        return x in _registry

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return repr(names())


#: The names, live.
NAMES = Names()
#: name -> tempo range (BPM).
TEMPO: Live[tuple[float, float]] = Live("tempo", lambda: {s.name: s.tempo for s in _registry.values()})
#: name -> colour (``#rrggbb``).
COLOURS: Live[str] = Live("colour", lambda: {s.name: s.colour for s in _registry.values()})
#: name -> record.
RECORDS: Live[Style] = Live("records", lambda: dict(_registry))
#: prompt word -> name (a later style's words win).
PROMPT_WORDS: Live[str] = Live(
    "prompt", lambda: {w: s.name for s in _registry.values() for w in s.prompt_words}
)
