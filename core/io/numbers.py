"""The numbers a timeline file carries, checked before anything computes with them.

Hostile-number validation (:func:`check_numbers` on the OTIO timeline,
:func:`check_fcp_numbers` on FCP 7 XML text: rates, times and lengths no real
edit has are refused, naming the element), and how a CMX 3600 EDL counts its
frames (:func:`edl_frame_mode`: drop or non-drop, per its ``FCM:`` lines and
each event's timecodes).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from .. import units, wording
from ..errors import InputError


def _describe(item: Any, track: str) -> str:
    """An item as an editor finds it: ``clip 'A001' on track 'V1'``."""
    kind = {
        otio.schema.Clip: "clip",
        otio.schema.Gap: "gap",
        otio.schema.Transition: "transition",
        otio.schema.Track: "track",
        otio.schema.Stack: "stack",
    }.get(type(item), type(item).__name__.lower())
    shown = " ".join(str(getattr(item, "name", "") or "").split())  # one line, whatever the file holds
    name = f" '{shown[:80]}'" if shown else ""
    track = " ".join(track.split())[:80]
    where = f" on track '{track}'" if track and not isinstance(item, otio.schema.Track) else ""
    return f"{kind}{name}{where}"


def _time_fields(item: Any) -> list[tuple[str, Any]]:
    """(label, RationalTime) of every time an item carries that reading uses."""
    out: list[tuple[str, Any]] = []

    def rng(label: str, r: Any) -> None:
        if r is not None:
            out.extend([(f"{label} start", r.start_time), (f"{label} duration", r.duration)])

    if isinstance(item, otio.schema.Transition):
        out += [("in offset", item.in_offset), ("out offset", item.out_offset)]
    else:
        rng("source range", getattr(item, "source_range", None))
    ref = getattr(item, "media_reference", None)
    if ref is not None:
        rng("media's available range", getattr(ref, "available_range", None))
    for m in getattr(item, "markers", []) or []:
        rng(f"marker '{m.name}'" if m.name else "marker", m.marked_range)
    return out


def check_numbers(t: Any, path: str | os.PathLike[str]) -> None:
    """Refuse a timeline any of whose times is not a number a real edit has
    (``InputError`` naming the element and the number): every rate positive
    and finite, every value finite, every time within 48 hours of zero
    (:func:`units.time_problem`). Run before anything computes with them."""

    def check(label: str, where: str, rt: Any) -> None:
        problem = units.time_problem(rt)
        if problem is None and rt.value < 0 and label in ("source range duration", "in offset", "out offset"):
            problem = f"{rt.value:g} frames is negative"  # what the picture's length is made of
        if problem:
            raise InputError(
                f"{path}: {where}: its {label} is unusable ({problem}). The file is corrupt; "
                "export the timeline again."
            )

    if t.global_start_time is not None:
        check("start time", "the timeline", t.global_start_time)

    def walk(comp: Any, track: str) -> None:
        for label, rt in _time_fields(comp):
            check(label, _describe(comp, track), rt)
        for child in comp:
            name = child.name if isinstance(child, otio.schema.Track) else track
            if isinstance(child, otio.schema.Track | otio.schema.Stack):
                walk(child, name)
                continue
            for label, rt in _time_fields(child):
                check(label, _describe(child, track), rt)

    walk(t.tracks, "")
    for clip in t.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ImageSequenceReference):
            rate, step, first, pad = ref.rate, ref.frame_step, ref.start_frame, ref.frame_zero_padding
            problem = (
                f"rate {rate:g} is not a frame rate"
                if not (math.isfinite(rate) and 0 < rate <= units.MAX_RATE)
                else f"frame step {step} is not a whole number of frames from 1"
                if step < 1
                else f"first frame {first} is negative"
                if first < 0
                else f"frame number padding {pad} is not 0-32 digits"
                if not 0 <= pad <= 32
                else None
            )
            if problem:
                raise InputError(
                    f"{path}: {_describe(clip, '')}: its image sequence is unusable ({problem}). "
                    "The file is corrupt; export the timeline again."
                )
    try:
        total = t.duration()
    except Exception as e:  # OTIO's own arithmetic on what passed the checks above
        raise InputError(f"{path}: the timeline's length cannot be computed ({e}). Export it again.") from e
    problem = units.time_problem(total)
    if problem:
        raise InputError(f"{path}: the timeline is too long to be an edit ({problem}). Export it again.")


_FCP_NUMBER = re.compile(rb"<(timebase|in|out|start|end|duration)>\s*([^<]{0,64}?)\s*</\1>")


def check_fcp_numbers(path: str | os.PathLike[str]) -> None:
    """Refuse an FCP 7 XML whose time numbers no edit has, naming the element
    and its line, before the adapter computes with them: a ``<timebase>`` that
    is not a frame rate (``0``, ``nan``), or an ``<in>``/``<out>``/``<start>``/
    ``<end>``/``<duration>`` that is not finite or lies beyond 48 hours at
    the fastest rate (``1e400``). What does not parse as a number is left to
    the adapter."""
    data = Path(path).read_bytes()
    bound = units.MAX_TIME_S * units.MAX_RATE
    for m in _FCP_NUMBER.finditer(data):
        tag, text = m.group(1).decode(), m.group(2).decode("utf-8", "replace")
        try:
            v = float(text)
        except ValueError:
            continue
        if tag == "timebase":
            bad = not (math.isfinite(v) and units.MIN_RATE <= v <= units.MAX_RATE)
        else:
            bad = not (math.isfinite(v) and abs(v) <= bound)
        if bad:
            line = data.count(b"\n", 0, m.start()) + 1
            what = "a frame rate" if tag == "timebase" else "a frame count an edit can have"
            raise InputError(
                f"{path}: line {line}: <{tag}>{text}</{tag}> is not {what}. The file is corrupt; "
                "export the timeline again."
            )


_EDL_EVENT = re.compile(r"^\s*\d{1,6}\s")
_EDL_TC = re.compile(r"\b\d{2}:\d{2}:\d{2}([:;.,])\d{2}\b")


@dataclass(frozen=True)
class EdlFrameMode:
    """How an EDL counts its frames.

    Attributes
    ----------
    header : str or None
        The first ``FCM:`` line as written (``FCM: NON-DROP FRAME``), None when it has none.
    header_drop : bool or None
        What that line says (True = drop frame).
    drop : bool or None
        How the first event's record timecode counts: ``;`` (or ``.``/``,``)
        before the frames is drop frame, ``:`` non-drop. This is how OTIO's
        EDL reader reads each timecode, whatever the ``FCM:`` line says; None
        when there is no event.
    mismatched : tuple of int
        Event numbers whose timecodes count otherwise than the ``FCM:`` line in
        force above them says.
    """

    header: str | None = None
    header_drop: bool | None = None
    drop: bool | None = None
    mismatched: tuple[int, ...] = ()


def edl_frame_mode(path: str | os.PathLike[str]) -> EdlFrameMode:
    """The frame counting of the CMX 3600 EDL at ``path`` (:class:`EdlFrameMode`).

    Each event's timecodes count as their own separator says (the per-event
    rule the EDL's readers follow); an ``FCM:`` line sets the mode the
    timecodes below it should use, and an event that disagrees is listed.
    """
    header: str | None = None
    header_drop: bool | None = None
    current: bool | None = None
    first: bool | None = None
    mismatched: list[int] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                text = line.strip()
                if text.upper().startswith("FCM:"):
                    current = "NON" not in text.upper()
                    if header is None:
                        header, header_drop = text, current
                    continue
                if not _EDL_EVENT.match(line):
                    continue
                seps = [m.group(1) for m in _EDL_TC.finditer(line)]
                if len(seps) < 2:
                    continue
                drops = {sep != ":" for sep in seps}
                rec_drop = seps[-2] != ":"  # the record-in timecode
                if first is None:
                    first = rec_drop
                if current is not None and (len(drops) > 1 or current not in drops):
                    mismatched.append(int(text.split()[0]))
    except OSError:
        pass
    return EdlFrameMode(header, header_drop, first, tuple(mismatched))


def edl_mismatch_warning(path: Path, mode: EdlFrameMode) -> str:
    events = mode.mismatched
    shown = ", ".join(map(str, events[:5])) + (f" and {len(events) - 5} more" if len(events) > 5 else "")
    counted = "non-drop-frame (:)" if mode.header_drop else "drop-frame (;)"
    return (
        f"{path.name} says '{mode.header}' but {wording.plural(len(events), 'event')} ({shown}) "
        f"{'uses' if len(events) == 1 else 'use'} {counted} timecodes: each timecode is read as its own "
        "separator says (as OpenTimelineIO's EDL reader does), and the music EDL's record times are "
        "written as the picture's, under the same FCM line."
    )
