"""Generation backends: the :class:`Backend` protocol and the one registry.

A backend turns a plan and the picture's features into :class:`~..model.Music`.
:meth:`Backend.generate` is the one required method; checking the options,
regenerating a range (by default: generate the whole cue on the new seed,
then ``regenerate`` splices the range in) and the ``doctor`` row have
defaults. The arranger regenerates with bar seeds, MusicGen by continuation.

Adding a backend is one module with a :class:`Backend` subclass and one
:func:`register` line. The options table's ``--backend`` choices, ``doctor``
and the panel read :data:`BACKENDS` (every registered name) and
:data:`AVAILABLE_BACKENDS` (those whose stack is installed). A registry entry
loads its module only when it is used, and its optional stack is found with
``importlib.util.find_spec``, never imported: listing the backends costs
nothing and works with torch absent or hidden.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, overload

from ..errors import OptionError
from ..model import BackendSettings, Music, Span, VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report

#: A ``doctor`` row's status.
Status = Literal["ok", "missing", "error"]


class Backend:
    """A generation backend. Subclass it and define :meth:`generate`.

    ``name`` is its registry name, recorded in every take it makes.
    """

    name: str = ""

    def generate(
        self,
        plan: Any,
        features: VideoFeatures,
        settings: BackendSettings,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        """The music for the whole ``plan`` (a ``rhythm.RhythmPlan``): ``mix`` and
        ``stems`` (2, n) float32 at 48 kHz from the first frame, at least as
        long as the plan with its ring-out. Report to ``progress`` (0..1),
        check ``cancel`` between steps."""
        raise NotImplementedError

    def check(self, settings: BackendSettings) -> None:
        """Refuse options this backend cannot use, before any work (``OptionError``)."""

    def regenerate(
        self,
        features: VideoFeatures,
        settings: BackendSettings,
        span: Span,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Music:
        """New music for ``span`` of the base take, as long as the base take;
        ``regenerate`` keeps the base outside the span. ``settings`` are the
        base take's. The default generates the whole cue on the plan made
        again with the span's seed (the splice keeps only the span)."""
        plan = span.replan()
        report(progress, 0.0, "generating")
        check(cancel)
        music = self.generate(plan, features, replace(settings, seed=span.seed), progress, cancel)
        prov = replace(music.provenance, seed=settings.seed, range_seed=span.seed)
        return replace(music, provenance=prov)

    def doctor(self, settings: BackendSettings | None = None) -> tuple[Status, str]:
        """(status, detail) of ``doctor``'s row: ``ok``, ``missing`` or ``error``;
        ``settings``: what ``score`` would pass (the config file's), when known."""
        return "ok", "usable"


@dataclass(frozen=True)
class Entry:
    """One registered backend.

    Attributes
    ----------
    name : str
    factory : str | callable () -> Backend
        ``"module:Class"`` (a module of this package when it starts with a
        dot), imported on first use, or a callable that makes the backend.
    requires : tuple of str
        Top-level modules its stack needs, looked up (not imported) to say
        whether it is available.
    install : str
        What installs them (said when one is missing).
    """

    name: str
    factory: str | Callable[[], Backend]
    requires: tuple[str, ...] = ()
    install: str = ""

    def unavailable(self) -> str | None:
        """Why this backend cannot run here (a missing module), or None."""
        missing = [m for m in self.requires if _find(m) is None]
        if not missing:
            return None
        what = " and ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        return f"{what} {verb} not installed" + (f" ({self.install})" if self.install else "")

    def make(self) -> Backend:
        if callable(self.factory):
            return self.factory()
        module, _, attr = self.factory.partition(":")
        mod = (
            importlib.import_module(module, __name__)
            if module.startswith(".")
            else importlib.import_module(module)
        )
        return getattr(mod, attr)()


def _find(module: str) -> Any:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a hidden module (sys.modules[name] = None) or a broken parent
        return None


_REGISTRY: dict[str, Entry] = {}
_LOADED: dict[str, Backend] = {}


def register(
    name: str,
    factory: str | Callable[[], Backend],
    requires: tuple[str, ...] = (),
    install: str = "",
) -> None:
    """Add (or replace) the backend ``name``; see :class:`Entry`."""
    _REGISTRY[name] = Entry(name, factory, tuple(requires), install)
    _LOADED.pop(name, None)


def unregister(name: str) -> None:
    """Remove the backend ``name`` (tests that register their own)."""
    _REGISTRY.pop(name, None)
    _LOADED.pop(name, None)


def entries() -> tuple[Entry, ...]:
    """Every registered backend, in registration order."""
    return tuple(_REGISTRY.values())


def get(name: str) -> Backend:
    """The backend ``name``, made on first use; ``OptionError`` when unknown or
    when its stack is not installed (saying which module)."""
    if name in _LOADED:
        return _LOADED[name]
    entry = _REGISTRY.get(name)
    if entry is None:
        raise OptionError(f"--backend {name}: choose one of {', '.join(_REGISTRY)}.")
    why = entry.unavailable()
    if why is not None:
        raise OptionError(f"--backend {name}: {why}.")
    backend = entry.make()
    backend.name = name
    _LOADED[name] = backend
    return backend


class _Names(Sequence[str]):
    """Every registered backend's name, read live (the options table's choices)."""

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return tuple(_REGISTRY)[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __repr__(self) -> str:
        return repr(tuple(_REGISTRY))


class _Available(Mapping[str, Backend]):
    """name -> backend of the registered backends whose stack is installed,
    read live; a backend is made when it is first looked up."""

    def __getitem__(self, name: str) -> Backend:
        entry = _REGISTRY.get(name)
        if entry is None or entry.unavailable() is not None:
            raise KeyError(name)
        return get(name)

    def __iter__(self) -> Iterator[str]:
        return iter([e.name for e in entries() if e.unavailable() is None])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        entry = _REGISTRY.get(name) if isinstance(name, str) else None
        return entry is not None and entry.unavailable() is None

    def __repr__(self) -> str:
        return f"AVAILABLE_BACKENDS({list(self)!r})"


#: Every registered backend's name, in order (``--backend``'s choices).
BACKENDS: Sequence[str] = _Names()

#: The backends that can run here: name -> :class:`Backend`, in registry order.
AVAILABLE_BACKENDS: Mapping[str, Backend] = _Available()


register("arranger", ".arranger.backend:Arranger")
register("musicgen", ".musicgen:MusicGen", requires=("torch", "audiocraft"), install="install/neural.sh")

__all__ = [
    "AVAILABLE_BACKENDS",
    "BACKENDS",
    "Backend",
    "Entry",
    "entries",
    "get",
    "register",
    "unregister",
]
