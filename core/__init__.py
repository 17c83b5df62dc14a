"""VidMusician's library: timeline, analysis, rhythm, generation, write-back, CLI.

This package is the facade: the pipeline, the types that cross its seams and
what the Qt panel and the Resolve bridge need, by name::

    from vidmusician.core import read_input, analyze, plan, score, regenerate, use_take

``vidmusician.core`` imports nothing heavy (no librosa, OpenCV or torch): every
name below is looked up on first use (:func:`__getattr__`), so a caller pays
only for what it uses. ``vidmusician.ui`` and ``vidmusician.resolve_plugin``
import this module only (``tests/test_layering.py``).

The folders are the data flow: ``io`` (timelines, videos, audio, the cache
and the guards on hostile files) -> ``analysis`` (what the picture offers) ->
``rhythm`` (the tempo map on the cuts) -> ``backends`` (music on the plan:
the arranger, MusicGen) -> ``writeback`` (the music back onto the timeline);
``session`` keeps the takes and runs the pipeline, ``report`` measures and
draws, ``cli`` is the command line. The README's Layout section has more.

``core`` never imports the Qt panel (``vidmusician.ui``), the Resolve bridge
(``vidmusician.resolve_plugin``), Qt or Resolve; torch and audiocraft are
imported only inside the neural backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: name -> (module of this package, attribute); a module's own name when the attribute is None.
#: A tuple of pairs: the first that exists wins (a name on its way from one module to another).
_LAZY: dict[str, tuple[tuple[str, str | None], ...]] = {
    # the pipeline
    "read_input": (("analysis.inputs", "read_input"),),
    "analyze": (("analysis.analyze", "analyze"),),
    "plan": (("rhythm.planning", "plan_for"),),
    "score": (("session.pipeline", "score"),),
    "regenerate": (("session.retake", "regenerate"),),
    "use_take": (("session.retake", "use"),),
    "export": (("session.retake", "export"),),
    "fit": (("rhythm.fit", "fit"),),
    "evaluate": (("report.metrics", "evaluate"),),
    "list_takes": (("session.retake", "list_takes"),),
    "selection_audio": (("session.retake", "selection_audio"),),
    "plan_markers": (("session.pipeline", "plan_markers"),),
    "options_from": (("session.settings", "options_from"),),
    "ScoreOptions": (("session.settings", "ScoreOptions"),),
    "shot_thumbnail": (("analysis.decode", "shot_thumbnail"),),
    # the types
    "Timeline": (("model", "Timeline"),),
    "VideoFeatures": (("model", "VideoFeatures"),),
    "RhythmPlan": (("rhythm.planner", "RhythmPlan"),),
    "Music": (("model", "Music"),),
    "AVAILABLE_BACKENDS": (("backends", "AVAILABLE_BACKENDS"),),
    # sessions
    "Session": (("session.store", "Session"),),
    "Take": (("session.records", "Take"),),
    "Piece": (("session.records", "Piece"),),
    "Selection": (("session.records", "Selection"),),
    "TimelineVersion": (("session.records", "TimelineVersion"),),
    "SessionDamaged": (("session.validate", "SessionDamaged"),),
    "SESSION_FILE": (("session.validate", "SESSION_FILE"),),
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
    "KIND_COLOURS": (("report.plot", "KIND_COLOURS"),),
    "STYLE_COLOURS": (("styles", "COLOURS"),),
    "FORMATS": (("writeback", "FORMATS"),),
    "timeline_writers": (("writeback", "writers"),),
    "METADATA_KEY": (("writeback", "METADATA_KEY"),),
    "QT_XCB_LIBRARIES": (("doctor", "QT_XCB_LIBRARIES"),),
    "qt_platform_hint": (("doctor", "qt_platform_hint"),),
    # modules the interfaces use whole
    "errors": (("errors", None),),
    "fsutil": (("fsutil", None),),
    "guard": (("io.guard", None),),
    "handoff": (("session.handoff", None),),
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
            globals()[name] = module
            return module
        if not hasattr(module, attr) and i + 1 < len(sources):
            continue
        value = getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # pragma: no cover


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what mypy and editors see; nothing here runs
    from . import errors, fsutil, options, units, wording
    from .analysis.analyze import analyze
    from .analysis.decode import shot_thumbnail
    from .analysis.inputs import read_input
    from .backends import AVAILABLE_BACKENDS
    from .doctor import QT_XCB_LIBRARIES, qt_platform_hint
    from .errors import Cancelled, InputError, OptionError, OutputError, VidMusicianError
    from .io import guard
    from .model import Music, Timeline, VideoFeatures
    from .progress import CancelToken, ProgressFn
    from .progress import report as report_progress
    from .report.metrics import evaluate
    from .report.plot import KIND_COLOURS
    from .rhythm.fit import fit
    from .rhythm.planner import RhythmPlan
    from .rhythm.planning import plan_for as plan
    from .session import handoff
    from .session.pipeline import plan_markers, score
    from .session.records import Piece, Selection, Take, TimelineVersion
    from .session.retake import export, list_takes, regenerate, selection_audio
    from .session.retake import use as use_take
    from .session.settings import ScoreOptions, options_from
    from .session.store import Session
    from .session.validate import SESSION_FILE, SessionDamaged
    from .styles import COLOURS as STYLE_COLOURS
    from .wording import plural
    from .writeback import FORMATS, METADATA_KEY
    from .writeback import writers as timeline_writers
