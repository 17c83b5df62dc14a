"""Read an editor's timeline into a frozen :class:`~vidmusician.core.model.Timeline`.

Any file an installed OpenTimelineIO adapter reads works (.otio, .otioz, FCP 7
XML, CMX 3600 EDL, ...). Shots are the edit points of the *composited picture*:
video tracks are stacked (upper tracks cover lower ones, gaps and disabled clips
are transparent, nothing at all is black), nested stacks and tracks (compound
clips) are resolved recursively, and every place where the visible source
changes is an edit point. Record times count from the timeline's first frame,
whatever its start timecode.
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
from ..errors import InputError, NoVideoError, OptionError, UnsupportedFormatError
from ..model import Anchor, InputSource, Marker, Shot, Timeline
from . import guard

RT = otio.opentime.RationalTime

#: Anchor strengths by what made the edit point (documented in the README).
STRENGTH_CUT = 1.0
STRENGTH_THROUGH_EDIT = 0.25  # same media continues: no visible change
STRENGTH_TRANSITION = 0.6
STRENGTH_MARKER = 0.8

#: File extensions read as plain video (cuts come from PySceneDetect).
VIDEO_SUFFIXES = frozenset(
    [
        ".mp4",
        ".mov",
        ".m4v",
        ".mkv",
        ".avi",
        ".webm",
        ".mxf",
        ".mts",
        ".m2ts",
        ".ts",
        ".wmv",
        ".mpg",
        ".mpeg",
        ".flv",
        ".3gp",
        ".ogv",
    ]
)

EDL_DEFAULT_RATE = 24.0


# --------------------------------------------------------------------------- formats


def timeline_formats() -> dict[str, str]:
    """Installed OTIO adapters that read files: ``{".suffix": adapter_name}``."""
    out: dict[str, str] = {}
    for adapter in otio.plugins.ActiveManifest().adapters:
        try:
            if not adapter.has_feature("read"):
                continue
        except Exception:  # a broken plugin must not break reading others
            continue
        for suffix in adapter.suffixes:
            out.setdefault("." + suffix.lower(), adapter.name)
    return out


def input_kind(path: str | os.PathLike[str]) -> str:
    """``"video"`` or the OTIO adapter name that reads ``path``.

    Raises
    ------
    UnsupportedFormatError
        When no reader handles the extension; the message lists those installed.
    """
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    formats = timeline_formats()
    if suffix in formats:
        return formats[suffix]
    listed = ", ".join(sorted(formats))
    videos = ", ".join(sorted(VIDEO_SUFFIXES))
    raise UnsupportedFormatError(
        f"{path}: no reader for '{suffix or '(no extension)'}' files. "
        f"Timelines: {listed} (from the installed OpenTimelineIO adapters). "
        f"Videos: {videos}. Export the timeline as OTIO, FCP 7 XML or EDL, "
        "or install the OpenTimelineIO adapter for this format."
    )


#: Folder bundles OTIO reads (``content.otio`` and ``media/`` inside).
FOLDER_BUNDLES = frozenset([".otiod"])


def check_readable(path: Path) -> None:
    import stat

    if not path.exists():
        if path.is_symlink():
            raise InputError(f"{path}: a symbolic link to {os.readlink(path)}, which does not exist.")
        raise InputError(f"{path}: no such file. Check the path.")
    if path.is_dir():
        if path.suffix.lower() in FOLDER_BUNDLES:
            if not (path / "content.otio").is_file():
                raise InputError(
                    f"{path}: an .otiod bundle holds content.otio, and this folder has none. "
                    "Export the timeline again."
                )
            return
        raise InputError(f"{path}: is a folder; give a timeline or video file.")
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        what = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise InputError(
            f"{path}: is {what}, not a file; VidMusician reads timeline and video files. "
            "Save the timeline or video to a file and give that."
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot be read (permission denied).")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes). Export the timeline again.")


def media_folder(path: Path, adapter: str, timeline: Any = None) -> Path:
    """The folder that relative media paths of this timeline are relative to.

    For an .otioz bundle the media lives inside the zip, where no decoder can
    read it: the media files that ``timeline`` references are unpacked once
    into the cache (keyed by path, size and time; within the bundle limits
    and the cache's size limit, see :mod:`.cache`) and that folder is
    returned. The bundle itself is never changed.
    """
    if adapter == "otiod":  # a folder bundle: media paths are relative to it
        return path
    if adapter != "otioz":
        return path.parent
    from .cache import referenced_media, unpack_bundle

    return unpack_bundle(path, referenced_media(timeline) if timeline is not None else ())


def edl_encoding(path: Path) -> str:
    """How an EDL's text is encoded: ``utf-8``, else ``latin-1`` (Avid and
    older systems write clip names in Latin-1; EDL readers fall back to it)."""
    try:
        path.read_bytes().decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"
    except OSError:
        return "utf-8"


def _text_read(p: Path) -> tuple[str, str] | None:
    """(text, encoding) of a timeline that OTIO cannot be handed by name: an
    EDL that is not UTF-8 (read as Latin-1), or any file whose own name is not
    UTF-8 (OTIO's C++ reader takes only UTF-8 paths). None: read it by name."""
    try:
        str(p).encode("utf-8")
        named = True
    except UnicodeEncodeError:
        named = False
    if named and (p.suffix.lower() != ".edl" or edl_encoding(p) == "utf-8"):
        return None
    data = p.read_bytes()
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_otio(path: str | os.PathLike[str], rate: float | None = None) -> tuple[Any, str]:
    """Read ``path`` with the OTIO adapter for its extension.

    Parameters
    ----------
    path : path-like
        The timeline file; never modified.
    rate : float > 0, optional
        Frame rate (fps) for formats that do not carry one (EDL). The EDL
        adapter otherwise assumes 24 fps.

    Returns
    -------
    (otio.schema.Timeline, adapter_name)
    """
    p = Path(path)
    check_readable(p)
    adapter = input_kind(p)
    if adapter == "video":
        raise InputError(f"{p}: is a video, not a timeline.")
    if rate is not None and not units.valid_rate(rate):
        raise OptionError(
            f"--rate {rate}: not a usable frame rate; give frames per second between "
            f"{units.MIN_RATE:g} and {units.MAX_RATE:g} (for example 24, 25, 29.97)."
        )
    kwargs: dict[str, Any] = {}
    if adapter == "cmx_3600":
        kwargs["rate"] = rate if rate is not None else EDL_DEFAULT_RATE
    try:
        guard.check_timeline(p, adapter)  # before OTIO's C++ JSON reader sees it
        if adapter == "otioz":  # content.otio streamed out through the bundle limits
            with guard.bundle_timeline(p) as content:
                result = otio.adapters.read_from_file(str(content), adapter_name="otio_json")
        elif adapter in ("cmx_3600", "otio_json") and _text_read(p):
            text, _ = _text_read(p)  # type: ignore[misc]
            result = otio.adapters.read_from_string(text, adapter_name=adapter, **kwargs)
        else:
            result = otio.adapters.read_from_file(str(p), adapter_name=adapter, **kwargs)
    except InputError:
        raise  # the structural checks' own words
    except RecursionError as e:
        raise InputError(
            f"{p}: nested too deeply to read (Python's recursion limit); refused. "
            "The file is damaged or was not written by an editor."
        ) from e
    except otio.exceptions.UnsupportedSchemaError as e:
        raise InputError(
            f"{p}: written by a newer OpenTimelineIO than this one "
            f"({otio.__version__}): {e}. Upgrade OpenTimelineIO, or export the timeline "
            "for an older OTIO version."
        ) from e
    except Exception as e:
        what = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = ""
        if adapter == "cmx_3600" and "Frame rate mismatch" in what:
            hint = (
                f" The EDL's timecodes do not fit {kwargs['rate']:g} fps: pass its "
                "frame rate with --rate (for example --rate 25 or --rate 30)."
            )
        raise InputError(
            f"{p}: cannot be read as {adapter.replace('_', ' ')}: {what}.{hint}"
            f"{'' if hint else ' The file may be corrupt or not what its extension says.'}"
        ) from e
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise NoVideoError(f"{p}: holds no timeline.")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise InputError(f"{p}: holds a {type(result).__name__}, not a timeline. Export a sequence/timeline.")
    return result, adapter


# --------------------------------------------------------------------------- compositing


@dataclass
class _Seg:
    """A stretch of record time showing one leaf item (None = black)."""

    start: float  # record frames (float, exact until rounding)
    end: float
    item: Any  # otio Clip or None
    src_start: Any  # RationalTime in the item's own time at ``start``
    track: str


def _is_enabled(item: Any) -> bool:
    if not getattr(item, "enabled", True):
        return False
    # The FCP XML adapter keeps Premiere's <enabled>FALSE</enabled> in metadata only.
    fcp: Any = getattr(item, "metadata", {}).get("fcp_xml")
    return not (hasattr(fcp, "get") and str(fcp.get("enabled", "TRUE")).upper() == "FALSE")


class _Compositor:
    """Walks a timeline's video tracks and collects the visible picture."""

    def __init__(self, rate: float):
        self.rate = rate
        self.transitions: list[tuple[float, float, str]] = []  # (frame, duration_frames, label)
        self.markers: list[Marker] = []

    def f(self, t: Any) -> float:
        """RationalTime -> float frames at the timeline rate."""
        return float(t.rescaled_to(self.rate).value)

    # An item's own time t maps to record frames as f(t) + offset.
    def walk(self, item: Any, ws: Any, we: Any, offset: float, track: str) -> list[_Seg]:
        """Visible segments of ``item`` over its own time window ``[ws, we)``."""
        if not _is_enabled(item) or self.f(we) - self.f(ws) <= 0:
            return []
        self._markers(item, ws, we, offset)
        if isinstance(item, otio.schema.Gap):
            return []
        if isinstance(item, otio.schema.Clip):
            return [_Seg(self.f(ws) + offset, self.f(we) + offset, item, ws, track)]
        if isinstance(item, otio.schema.Track):
            return self._composite(item, ws, we, offset, item.name, stacked=False)
        if isinstance(item, otio.schema.Stack):
            return self._composite(item, ws, we, offset, track, stacked=True)
        return []  # unknown item kinds show nothing

    def _composite(self, comp: Any, ws: Any, we: Any, offset: float, track: str, stacked: bool) -> list[_Seg]:
        """Visible segments of a Track (children in sequence) or a Stack (children
        layered, first at the bottom) over the window ``[ws, we)`` of its own time.

        Child positions are summed here in one pass (``range_in_parent`` would
        sum them again for every child).
        """
        out: list[_Seg] = []
        zero = RT(0, self.rate)
        pos = zero
        for idx, child in enumerate(comp):
            if isinstance(child, otio.schema.Transition):
                if not stacked and _is_enabled(child) and ws <= pos <= we:
                    self._transition(comp, idx, child, self.f(pos) + offset)
                continue
            dur = child.duration()
            start = zero if stacked else pos
            pos = pos if stacked else pos + dur
            lo, hi = max(start, ws), min(start + dur, we)
            if self.f(hi) - self.f(lo) <= 0:
                continue
            origin = child.trimmed_range().start_time
            name = child.name if stacked and isinstance(child, otio.schema.Track) else track
            segs = self.walk(
                child,
                origin + (lo - start),
                origin + (hi - start),
                offset + self.f(start) - self.f(origin),
                name,
            )
            if stacked:
                out = _paint(out, segs, self.rate)
            else:
                out.extend(segs)
        return out

    def _transition(self, track: Any, idx: int, tr: Any, frame: float) -> None:
        prev = _neighbour_name(track, idx, -1)
        nxt = _neighbour_name(track, idx, +1)
        dur = self.f(tr.in_offset + tr.out_offset)
        self.transitions.append((frame, dur, f"{tr.name or tr.transition_type}: {prev} -> {nxt}"))

    def top_level(self, timeline: Any) -> list[_Seg]:
        """Composite the timeline's video tracks over ``[0, duration)``.

        Top-level tracks are placed at 0 and their own ``source_range`` offset is
        ignored, as ``otio.algorithms.flatten_stack`` does (the EDL adapter stores
        the record-in timecode there as a negative start).
        """
        out: list[_Seg] = []
        ws, we = RT(-1e12, self.rate), RT(1e12, self.rate)
        for tr in timeline.video_tracks():
            if not _is_enabled(tr):
                continue
            self._markers(tr, None, None, 0.0, scope="track")
            out = _paint(out, self._composite(tr, ws, we, 0.0, tr.name, stacked=False), self.rate)
        return out

    def _markers(self, item: Any, ws: Any, we: Any, offset: float, scope: str | None = None) -> None:
        for m in getattr(item, "markers", []):
            t = m.marked_range.start_time
            if ws is not None and not (ws <= t < we):
                continue
            frame = self.f(t) + offset
            sc = scope or ("clip" if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) else "track")
            self.markers.append(
                Marker(
                    time_s=frame / self.rate,
                    frame=int(round(frame)),
                    name=m.name,
                    color=str(m.color or ""),
                    duration_s=self.f(m.marked_range.duration) / self.rate,
                    scope=sc,  # type: ignore[arg-type]
                )
            )


def _neighbour_name(track: Any, idx: int, step: int) -> str:
    j = idx + step
    while 0 <= j < len(track):
        if not isinstance(track[j], otio.schema.Transition):
            return track[j].name or ("black" if isinstance(track[j], otio.schema.Gap) else "?")
        j += step
    return "black"


def _paint(base: list[_Seg], layer: list[_Seg], rate: float) -> list[_Seg]:
    """``base`` with ``layer`` laid over it, in one sweep.

    Both lists are sorted and non-overlapping; where ``layer`` covers ``base``
    it wins, and what shows of ``base`` keeps its source time advanced.
    """
    out: list[_Seg] = []
    j = 0
    for s in base:
        while j < len(layer) and layer[j].end <= s.start:
            j += 1
        pos = s.start
        k = j
        while k < len(layer) and layer[k].start < s.end:
            if layer[k].start > pos:
                out.append(_piece(s, pos, layer[k].start, rate))
            pos = max(pos, layer[k].end)
            k += 1
        if pos < s.end:
            out.append(_piece(s, pos, s.end, rate))
    out.extend(layer)
    out.sort(key=lambda s: s.start)
    return out


def _piece(s: _Seg, a: float, b: float, rate: float) -> _Seg:
    """The part ``[a, b)`` of segment ``s``, its source time advanced to match."""
    src = s.src_start if a == s.start or s.src_start is None else s.src_start + RT(a - s.start, rate)
    return _Seg(a, b, s.item, src, s.track)


def _fill_black(segs: list[_Seg], total: float) -> list[_Seg]:
    """Cover ``[0, total)``: holes become black segments."""
    out: list[_Seg] = []
    pos = 0.0
    for s in segs:
        if s.start > pos:
            out.append(_Seg(pos, s.start, None, None, ""))
        out.append(s)
        pos = max(pos, s.end)
    if pos < total:
        out.append(_Seg(pos, total, None, None, ""))
    return out


# --------------------------------------------------------------------------- media


def _local_path(url: str, base_dir: Path) -> tuple[str, bool]:
    """(path or URL as shown, exists) for a media reference's target URL."""
    if not url:
        return "", False
    local = units.url_to_path(url)
    if local is None:  # http://, s3://, ...
        return url, False
    path = Path(local)
    if not path.is_absolute() and not (len(url) > 1 and url[1] == ":"):
        path = base_dir / path
    try:
        return str(path), path.is_file()
    except OSError:
        return str(path), False


def _media_of(clip: Any, base_dir: Path) -> tuple[str, str | None, bool, float | None]:
    """(kind, media, media_found, media_start_s) of a clip."""
    ref = clip.media_reference
    start = None
    ar = getattr(ref, "available_range", None)
    if ar is not None:
        start = units.seconds(ar.start_time)
    if isinstance(ref, otio.schema.GeneratorReference):
        return "generator", None, False, start
    if isinstance(ref, otio.schema.ExternalReference):
        path, found = _local_path(ref.target_url, base_dir)
        return "clip", path or None, found, start
    if isinstance(ref, otio.schema.ImageSequenceReference):
        first, found = _local_path(ref.target_url_for_image_number(0), base_dir)
        shown = ref.abstract_target_url("#" * max(1, ref.frame_zero_padding))
        return "clip", _local_path(shown, base_dir)[0] if first else shown, found, start
    return "clip", None, False, start


# --------------------------------------------------------------------------- build


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


def _timeline_rate(t: Any, fmt: str, rate: float | None) -> float:
    if fmt == "cmx_3600":
        return float(rate if rate is not None else EDL_DEFAULT_RATE)
    if t.global_start_time is not None and t.global_start_time.rate > 0:
        return float(t.global_start_time.rate)
    for clip in t.find_clips():
        sr = clip.source_range
        if sr is not None and sr.duration.rate > 0:
            return float(sr.duration.rate)
    d = t.duration()
    return float(d.rate) if d.rate > 0 else 24.0


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


def _edl_mismatch_warning(path: Path, mode: EdlFrameMode) -> str:
    events = mode.mismatched
    shown = ", ".join(map(str, events[:5])) + (f" and {len(events) - 5} more" if len(events) > 5 else "")
    counted = "non-drop-frame (:)" if mode.header_drop else "drop-frame (;)"
    return (
        f"{path.name} says '{mode.header}' but {wording.plural(len(events), 'event')} ({shown}) "
        f"{'uses' if len(events) == 1 else 'use'} {counted} timecodes: each timecode is read as its own "
        "separator says (as OpenTimelineIO's EDL reader does), and the music EDL's record times are "
        "written as the picture's, under the same FCM line."
    )


def _start_frame(t: Any, fmt: str, rate: float) -> int:
    if t.global_start_time is not None:
        return units.frames(t.global_start_time, rate)
    if fmt == "cmx_3600":
        # the EDL adapter keeps the first record-in as a negative track start
        for tr in t.video_tracks():
            if tr.source_range is not None and tr.source_range.start_time.value < 0:
                return -units.frames(tr.source_range.start_time, rate)
    return 0


def from_otio(
    t: Any,
    source: InputSource,
    base_dir: Path | None = None,
) -> Timeline:
    """Build a :class:`Timeline` from an in-memory OTIO timeline.

    Parameters
    ----------
    t : otio.schema.Timeline
        Read only; never modified.
    source : InputSource
        Where ``t`` came from (kept for write-back).
    base_dir : Path, optional
        Folder that relative media paths are relative to (default: the
        timeline file's folder).
    """
    path = Path(source.path)
    base = base_dir if base_dir is not None else path.parent
    check_numbers(t, path)
    rate = _timeline_rate(t, source.format, source.rate_override)
    if not units.valid_rate(rate):
        raise InputError(
            f"{path}: frame rate {rate:g} fps is not usable (expected "
            f"{units.MIN_RATE:g}-{units.MAX_RATE:g}). Re-export the timeline, or pass --rate."
        )
    warnings: list[str] = []
    edl_mode = edl_frame_mode(path) if source.format == "cmx_3600" else EdlFrameMode()
    if edl_mode.mismatched and units.has_drop_frame(rate):
        warnings.append(_edl_mismatch_warning(path, edl_mode))
    if not t.video_tracks():
        n_audio = len(t.audio_tracks())
        raise NoVideoError(
            f"{path}: the timeline has no video track"
            + (f" (it holds {n_audio} audio track{'s' if n_audio != 1 else ''})" if n_audio else "")
            + ". VidMusician scores picture: export a timeline that includes the video."
        )
    total = float(t.duration().rescaled_to(rate).value)
    duration_frames = int(round(total))
    if duration_frames <= 0:
        raise NoVideoError(f"{path}: the timeline is empty (duration 0). Export a timeline with clips on it.")

    comp = _Compositor(rate)
    comp._markers(t.tracks, None, None, 0.0, scope="timeline")
    segs = _fill_black(comp.top_level(t), total)

    merged = _merged(segs, duration_frames, rate, path)
    shots = _shots(merged, rate, base)

    anchors = _edit_anchors(shots, merged, comp.transitions, rate)
    markers = sorted(comp.markers, key=lambda m: m.time_s)
    markers = [m for m in markers if 0 <= m.frame <= duration_frames]
    anchors += [Anchor(m.time_s, "marker", STRENGTH_MARKER, m.name, m.duration_s) for m in markers]
    anchors.sort(key=lambda a: (a.time_s, a.kind))

    tl = Timeline(
        name=t.name or path.stem,
        rate=rate,
        duration_frames=duration_frames,
        start_timecode=units.timecode(_start_frame(t, source.format, rate), rate, edl_mode.drop),
        shots=tuple(shots),
        markers=tuple(markers),
        anchors=tuple(anchors),
        source=source,
        warnings=(),
    )
    warnings += _media_warnings(tl)
    if warnings:
        tl = Timeline(**{**tl.__dict__, "warnings": tuple(warnings)})
    return tl


def _merged(segs: list[_Seg], duration_frames: int, rate: float, path: Path) -> list[_Seg]:
    """The composited segments on whole frames, merged where the rounding or
    painting split one clip; at least one clip must be visible."""
    merged: list[_Seg] = []
    for s in segs:
        a, b = int(round(s.start)), min(int(round(s.end)), duration_frames)
        if b <= a:
            continue  # zero-length clips vanish
        if merged and merged[-1].item is s.item and (s.item is None or _contiguous(merged[-1], s, rate)):
            merged[-1].end = b
            continue
        merged.append(_Seg(a, b, s.item, s.src_start, s.track))
    if not merged or all(s.item is None for s in merged):
        raise NoVideoError(
            f"{path}: the video tracks hold no visible clip (only gaps, disabled or "
            "zero-length clips). Enable the clips or export the right timeline."
        )
    return merged


def _shots(merged: list[_Seg], rate: float, base: Path) -> list[Shot]:
    """A :class:`Shot` per segment (gaps included), with its media."""
    shots: list[Shot] = []
    for i, s in enumerate(merged):
        start_s, end_s = s.start / rate, s.end / rate
        if s.item is None:
            shots.append(Shot(i, int(s.start), int(s.end), start_s, end_s, "", "gap"))
            continue
        kind, media, found, media_start = _media_of(s.item, base)
        src0 = units.seconds(s.src_start)
        shots.append(
            Shot(
                index=i,
                start_frame=int(s.start),
                end_frame=int(s.end),
                start_s=start_s,
                end_s=end_s,
                name=s.item.name or "",
                kind=kind,  # type: ignore[arg-type]
                media=media,
                media_found=found,
                source_start_s=src0,
                source_end_s=src0 + (end_s - start_s),
                media_start_s=media_start,
                track=s.track,
            )
        )
    return shots


def _media_warnings(tl: Timeline) -> list[str]:
    """What the editor should hear about media: files not found, clips without a reference."""
    warnings: list[str] = []
    shots = tl.shots
    missing = tl.missing_media
    if missing:
        shown = "\n  ".join(missing[:20]) + (
            f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        warnings.append(
            f"{wording.plural(len(missing), 'referenced media file')} not found; the cuts still come from "
            f"the timeline, but the picture inside them cannot be analysed:\n  {shown}"
        )
    no_ref = sum(1 for s in shots if s.kind == "clip" and s.media is None)
    if no_ref:
        warnings.append(
            f"{wording.plural(no_ref, 'shot')} {'has' if no_ref == 1 else 'have'} no media reference (the cuts still count)."
        )
    return warnings


def _contiguous(a: _Seg, b: _Seg, rate: float) -> bool:
    if a.src_start is None or b.src_start is None:
        return False
    expected = a.src_start + RT(a.end - a.start, rate)
    return abs(float((b.src_start - expected).rescaled_to(rate).value)) < 0.5


def _edit_anchors(
    shots: list[Shot], segs: list[_Seg], transitions: list[tuple[float, float, str]], rate: float
) -> list[Anchor]:
    """One anchor per edit point: a transition where one sits, else a cut."""
    out: list[Anchor] = []
    at_frame = {}
    for tr in reversed(transitions):  # the first one found wins
        at_frame[int(round(tr[0]))] = tr
    for prev, cur, pseg, cseg in zip(shots, shots[1:], segs, segs[1:]):
        frame = cur.start_frame
        trans = at_frame.get(frame)
        label = f"{prev.name or 'black'} -> {cur.name or 'black'}"
        if trans:
            _, dur, tlabel = trans
            out.append(Anchor(frame / rate, "transition", STRENGTH_TRANSITION, tlabel, dur / rate))
            continue
        through = (
            prev.media is not None
            and prev.media == cur.media
            and pseg.src_start is not None
            and cseg.src_start is not None
            and _contiguous(pseg, cseg, rate)
        )
        strength = STRENGTH_THROUGH_EDIT if through else STRENGTH_CUT
        out.append(Anchor(frame / rate, "cut", strength, label + (" (through edit)" if through else "")))
    return out


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


def read_timeline(path: str | os.PathLike[str], rate: float | None = None) -> Timeline:
    """Read a timeline file (not a plain video) into a :class:`Timeline`.

    Parameters
    ----------
    path : path-like
        .otio, .otioz, FCP 7 .xml, .edl, or anything an installed OTIO adapter reads.
    rate : float, optional
        Frames per second for EDLs (default 24, as the EDL adapter assumes).
        Other formats carry their own rate; a rate given for them is ignored
        with a warning. NTSC rates written short (29.97, 23.976) are read as
        the exact ones (30000/1001, 24000/1001).
    """
    if rate is not None:
        rate = units.snap_rate(rate)
    if Path(path).suffix.lower() == ".xml" and Path(path).is_file() and input_kind(path) == "fcp_xml":
        check_fcp_numbers(path)
    t, adapter = read_otio(path, rate)
    src = InputSource(str(Path(path).resolve()), adapter, rate if adapter == "cmx_3600" else None)
    try:
        tl = from_otio(t, src, media_folder(Path(path), adapter, t))
    except RecursionError as e:
        raise InputError(f"{path}: nested too deeply to read (Python's recursion limit); refused.") from e
    notes: list[str] = []
    if adapter == "cmx_3600" and edl_encoding(Path(path)) == "latin-1":
        notes.append(
            f"{Path(path).name} is not UTF-8: read as Latin-1 (ISO 8859-1), as EDL readers do; "
            "check the clip names."
        )
    if adapter == "cmx_3600" and rate is None:
        notes.append(
            f"EDLs carry no frame rate: assumed {EDL_DEFAULT_RATE:g} fps. Pass --rate if the "
            "edit was cut at another rate."
        )
    if rate is not None and adapter != "cmx_3600":
        notes.append(
            f"--rate {rate:g} ignored: this {adapter} timeline carries its own rate ({tl.rate:g} fps)."
        )
    if notes:
        tl = Timeline(**{**tl.__dict__, "warnings": tuple(notes) + tl.warnings})
    return tl
