"""Read an editor's timeline into a frozen :class:`~vidmusician.core.model.Timeline`.

Any file an installed OpenTimelineIO adapter reads works (.otio, .otioz, FCP 7
XML, CMX 3600 EDL, ...). Shots are the edit points of the *composited picture*
(:mod:`.composite` works out which clip is seen at each frame), and every place
where the visible source changes is an edit point. Record times count from the
timeline's first frame, whatever its start timecode. The times in the file are
checked first (:mod:`.numbers`).

Here: the formats and the reading (:func:`read_otio`), the media paths, and the
building of the Timeline (:func:`from_otio`; :func:`read_timeline` is the entry).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import opentimelineio as otio

from .. import units, wording
from ..errors import InputError, NoVideoError, OptionError, UnsupportedFormatError
from ..model import Anchor, InputSource, Shot, Timeline
from . import guard
from .composite import Compositor, Seg, contiguous, fill_black, merge_frames
from .numbers import EdlFrameMode, check_fcp_numbers, check_numbers, edl_frame_mode, edl_mismatch_warning

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
        warnings.append(edl_mismatch_warning(path, edl_mode))
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

    comp = Compositor(rate)
    comp.collect_markers(t.tracks, None, None, 0.0, scope="timeline")
    segs = fill_black(comp.top_level(t), total)

    merged = merge_frames(segs, duration_frames, rate, path)
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


def _shots(merged: list[Seg], rate: float, base: Path) -> list[Shot]:
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


def _edit_anchors(
    shots: list[Shot], segs: list[Seg], transitions: list[tuple[float, float, str]], rate: float
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
            and contiguous(pseg, cseg, rate)
        )
        strength = STRENGTH_THROUGH_EDIT if through else STRENGTH_CUT
        out.append(Anchor(frame / rate, "cut", strength, label + (" (through edit)" if through else "")))
    return out


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
