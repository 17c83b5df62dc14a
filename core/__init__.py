"""VidMusician's library: timeline, analysis, rhythm, generation, write-back, CLI.

This package is the facade: the pipeline, the types that cross its seams and
what the Qt panel and the Resolve bridge need, by name::

    from vidmusician.core import read_input, analyze, plan, score, regenerate, use_take

``vidmusician.core`` imports nothing heavy (no librosa, OpenCV or torch): every
name below is looked up on first use (:func:`__getattr__`), so a caller pays
only for what it uses. ``vidmusician.ui`` and ``vidmusician.resolve_plugin``
import this module only (``tests/test_layering.py``).

``score``, ``analyze`` and ``fit`` are both modules of this package and the
functions the facade names: the modules are callable, and calling one calls
its namesake (``score(src, out)`` is ``score.score(src, out)``), so
``vidmusician.core.score.list_takes`` keeps working beside ``score(...)``.

``core`` never imports the Qt panel (``vidmusician.ui``), the Resolve bridge
(``vidmusician.resolve_plugin``), Qt or Resolve; torch and audiocraft are
imported only inside the neural backend.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: name -> (module of this package, attribute); a module's own name when the attribute is None.
#: A tuple of pairs: the first that exists wins (a name on its way from one module to another).
_LAZY: dict[str, tuple[tuple[str, str | None], ...]] = {
    # the pipeline
    "read_input": (("inputs", "read_input"),),
    "analyze": (("analyze", None),),
    "plan": (("planning", "plan_for"),),
    "score": (("score", None),),
    "regenerate": (("score", "regenerate"),),
    "use_take": (("score", "use"),),
    "export": (("score", "export"),),
    "fit": (("fit", None),),
    "evaluate": (("metrics", "evaluate"),),
    "list_takes": (("score", "list_takes"),),
    "selection_audio": (("score", "selection_audio"),),
    "plan_markers": (("score", "plan_markers"),),
    "options_from": (("score", "options_from"),),
    "ScoreOptions": (("score", "ScoreOptions"),),
    "shot_thumbnail": (("analysis.decode", "shot_thumbnail"),),
    # the types
    "Timeline": (("model", "Timeline"),),
    "VideoFeatures": (("model", "VideoFeatures"),),
    "RhythmPlan": (("rhythm", "RhythmPlan"),),
    "Music": (("model", "Music"),),
    "AVAILABLE_BACKENDS": (("backends", "AVAILABLE_BACKENDS"),),
    # sessions
    "Session": (("session", "Session"),),
    "Take": (("session", "Take"),),
    "Piece": (("session", "Piece"),),
    "Selection": (("session", "Selection"),),
    "TimelineVersion": (("session", "TimelineVersion"),),
    "SessionDamaged": (("session", "SessionDamaged"),),
    "SESSION_FILE": (("session", "SESSION_FILE"),),
    # errors
    "VidMusicianError": (("errors", "VidMusicianError"),),
    "InputError": (("errors", "InputError"),),
    "OptionError": (("errors", "OptionError"),),
    "OutputError": (("errors", "OutputError"),),
    "Cancelled": (("errors", "Cancelled"),),
    # progress and cancel
    "ProgressFn": (("progress", "ProgressFn"),),
    "CancelToken": (("progress", "CancelToken"),),
    "report_progress": (("progress", "report"),),
    # what the panel and the bridge show and write
    "plural": (("wording", "plural"),),
    "KIND_COLOURS": (("analysis.plot", "KIND_COLOURS"),),
    "STYLE_COLOURS": (("styles", "COLOURS"),),
    "FORMATS": (("writeback", "FORMATS"),),
    "timeline_writers": (("writeback", "writers"),),
    "METADATA_KEY": (("writeback", "METADATA_KEY"),),
    "QT_XCB_LIBRARIES": (("doctor", "QT_XCB_LIBRARIES"),),
    "qt_platform_hint": (("doctor", "qt_platform_hint"),),
    # modules the interfaces use whole
    "errors": (("errors", None),),
    "fsutil": (("fsutil", None),),
    "guard": (("guard", None),),
    "handoff": (("handoff", None),),
    "options": (("options", None),),
    "units": (("units", None),),
    "wording": (("wording", None),),
}

#: The facade: the names above (``tests/test_facade.py`` checks that the two agree).
__all__ = [
    "AVAILABLE_BACKENDS",
    "FORMATS",
    "KIND_COLOURS",
    "METADATA_KEY",
    "QT_XCB_LIBRARIES",
    "SESSION_FILE",
    "STYLE_COLOURS",
    "CancelToken",
    "Cancelled",
    "InputError",
    "Music",
    "OptionError",
    "OutputError",
    "Piece",
    "ProgressFn",
    "RhythmPlan",
    "ScoreOptions",
    "Selection",
    "Session",
    "SessionDamaged",
    "Take",
    "Timeline",
    "TimelineVersion",
    "VidMusicianError",
    "VideoFeatures",
    "__version__",
    "analyze",
    "errors",
    "evaluate",
    "export",
    "fit",
    "fsutil",
    "guard",
    "handoff",
    "list_takes",
    "options",
    "options_from",
    "plan",
    "plan_markers",
    "plural",
    "qt_platform_hint",
    "read_input",
    "regenerate",
    "report_progress",
    "score",
    "selection_audio",
    "shot_thumbnail",
    "timeline_writers",
    "units",
    "use_take",
    "wording",
]

#: The modules that are also the facade's functions (called, they call their namesake).
_CALLABLE = frozenset({"analyze", "fit", "score"})


class _CallableModule(types.ModuleType):
    """A module that, called, calls the function of its own name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Facade(types.ModuleType):
    """This package: the import system's ``setattr(package, "score", module)``
    makes the module callable (whoever imports it first)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CALLABLE and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade


def __getattr__(name: str) -> Any:
    """The facade's names, imported on first use (then kept in the package)."""
    sources = _LAZY.get(name)
    if sources is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for i, (mod, attr) in enumerate(sources):
        try:
            module = importlib.import_module(f".{mod}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{mod}" or i + 1 == len(sources):
                raise
            continue
        if attr is None:
            return module  # the import set it on the package already
        if not hasattr(module, attr) and i + 1 < len(sources):
            continue
        value = getattr(module, attr)
        if name not in _CALLABLE:
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # pragma: no cover


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what mypy and editors see; nothing here runs
    from . import errors, fsutil, guard, handoff, options, units, wording
    from .analysis.decode import shot_thumbnail
    from .analysis.plot import KIND_COLOURS
    from .analyze import analyze
    from .backends import AVAILABLE_BACKENDS
    from .doctor import QT_XCB_LIBRARIES, qt_platform_hint
    from .errors import Cancelled, InputError, OptionError, OutputError, VidMusicianError
    from .fit import fit
    from .inputs import read_input
    from .metrics import evaluate
    from .model import Music, Timeline, VideoFeatures
    from .planning import plan_for as plan
    from .progress import CancelToken, ProgressFn
    from .progress import report as report_progress
    from .rhythm import RhythmPlan
    from .score import (
        ScoreOptions,
        export,
        list_takes,
        options_from,
        plan_markers,
        regenerate,
        score,
        selection_audio,
    )
    from .score import use as use_take
    from .session import SESSION_FILE, Piece, Selection, Session, SessionDamaged, Take, TimelineVersion
    from .styles import COLOURS as STYLE_COLOURS
    from .wording import plural
    from .writeback import FORMATS, METADATA_KEY
    from .writeback import writers as timeline_writers
