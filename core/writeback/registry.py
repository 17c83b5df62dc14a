"""The one registry of timeline writers: ``--format`` name -> extension, writer.

A :class:`Writer` turns a :class:`WriteJob` (the editor's timeline, the same
timeline with the music on it, the markers) into a file's contents. Adding an
output format is one :func:`register` call: ``--format``'s choices
(:data:`FORMATS`), what ``same`` writes for each input (:func:`formats_for`),
:func:`~vidmusician.core.writeback.write_timelines` and ``score.export``'s
file names all read this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from ..errors import OptionError

if TYPE_CHECKING:
    from ..model import Timeline
    from .tracks import TimelineMarker


@dataclass(frozen=True)
class WriteJob:
    """What a writer is given.

    Attributes
    ----------
    timeline : Timeline
        The editor's cut as read (its source file, format, rate, start timecode).
    source : otio.schema.Timeline
        The editor's timeline as OTIO, read again from its file (never changed).
    result : otio.schema.Timeline
        ``source`` with the music on new audio tracks after its own
        (:func:`~vidmusician.core.writeback.with_music`).
    markers : tuple of TimelineMarker
        The markers added to ``result``.
    basename : str
        The files' stem (``timeline``, ``timeline-v2``).
    """

    timeline: Timeline
    source: Any
    result: Any
    markers: tuple[TimelineMarker, ...]
    basename: str


class NotWritten(Exception):
    """A writer cannot write this timeline; its message is the note the user
    reads (the OTIO beside it is written all the same)."""


@dataclass(frozen=True)
class Writer:
    """One output format.

    Attributes
    ----------
    name : str
        The ``--format`` value (``fcp7``).
    extension : str
        The file's extension, with its dot (``.xml``): ``BASENAME + extension``.
    write : callable
        ``write(job) -> str | bytes``: the file's contents (text is written
        as UTF-8). Raises :class:`NotWritten` when it cannot; other
        exceptions are errors.
    always : bool
        Written whatever ``--format`` says (the OTIO).
    same_for : tuple of str
        The input formats (``Timeline.source.format``: ``fcp_xml``,
        ``cmx_3600``, ``video``, ...) for which ``--format same`` writes it.
    same_rank : int
        Its place among the files ``same`` writes (lower first).
    note : str, optional
        Said whenever the file is written; ``{name}`` (the file's name) and
        ``{basename}`` are filled in.
    """

    name: str
    extension: str
    write: Callable[[WriteJob], str | bytes]
    always: bool = False
    same_for: tuple[str, ...] = ()
    same_rank: int = 0
    note: str | None = None


_WRITERS: dict[str, Writer] = {}

#: The ``--format`` value that writes the input's own format(s).
SAME = "same"


def register(writer: Writer, replace: bool = False) -> Writer:
    """Add ``writer`` (an existing name is refused unless ``replace``); returns it."""
    if writer.name == SAME or not writer.name or not writer.extension.startswith("."):
        raise ValueError(
            f"writer {writer.name!r}: needs a name other than 'same' and an extension like '.csv'"
        )
    if writer.name in _WRITERS and not replace:
        raise ValueError(f"a writer named {writer.name!r} is registered already")
    _WRITERS[writer.name] = writer
    return writer


def unregister(name: str) -> None:
    """Remove the writer ``name`` (nothing happens when there is none)."""
    _WRITERS.pop(name, None)


def writers() -> tuple[Writer, ...]:
    """Every registered writer, in registration order."""
    return tuple(_WRITERS.values())


def get(name: str) -> Writer:
    """The writer ``name``; ``OptionError`` naming the choices when there is none."""
    try:
        return _WRITERS[name]
    except KeyError:
        raise OptionError(f"--format {name}: choose one of {', '.join(FORMATS)}.") from None


def extension(name: str) -> str:
    """The file extension (``.xml``) of the format ``name``."""
    return get(name).extension


class _Formats(Sequence[str]):
    """``same`` and the registered writers' names, read from the registry
    each time it is looked at (a writer registered later is a choice too)."""

    def _names(self) -> tuple[str, ...]:
        return (SAME, *_WRITERS)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(_WRITERS) + 1

    def __contains__(self, value: object) -> bool:
        return value == SAME or value in _WRITERS

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


#: ``--format`` values: ``same`` and every registered writer (live).
FORMATS: Sequence[str] = _Formats()


def formats_for(timeline: Timeline, fmt: str) -> list[str]:
    """The formats ``--format fmt`` writes for ``timeline``: the ``always``
    writers (the OTIO), then ``fmt``, or for ``same`` the writers whose
    ``same_for`` holds the input's format, by ``same_rank``."""
    if fmt not in FORMATS:
        raise OptionError(f"--format {fmt}: choose one of {', '.join(FORMATS)}.")
    out = [w.name for w in _WRITERS.values() if w.always]
    if fmt != SAME:
        return out if fmt in out else [*out, fmt]
    native = timeline.source.format
    same = sorted(
        (w for w in _WRITERS.values() if native in w.same_for and w.name not in out),
        key=lambda w: w.same_rank,
    )
    return out + [w.name for w in same]
