"""Connecting to DaVinci Resolve, and its current timeline exported as OTIO.

Every function takes Resolve's scripting object ``resolve`` as its first
argument (``DaVinciResolveScript.scriptapp("Resolve")``, or the ``resolve``
global a Workspace > Scripts script gets), so a test double can stand in;
nothing connects at import time (:func:`connect` does, when called). The
session's music as Resolve will place it is :mod:`.music`; putting it on the
timeline is :mod:`.apply`.

Frames, as Resolve counts them
------------------------------
Resolve numbers a timeline's frames absolutely: a timeline that starts at
01:00:00:00 at 24 fps starts at frame 86 400 (``Timeline.GetStartFrame()``).
``TimelineItem.GetStart()``/``GetEnd()`` and ``AppendToTimeline``'s
``recordFrame`` use those absolute numbers; ``endFrame`` is exclusive;
``Timeline.AddMarker``'s ``frameId`` is an offset from the timeline's first
frame. VidMusician's sessions count record frames from the timeline's first
frame (0); this module adds ``GetStartFrame()`` where Resolve wants it.
Track indices are 1-based.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opentimelineio as otio

from vidmusician.core import (
    METADATA_KEY,
    OutputError,
    VidMusicianError,
    fsutil,
    guard,
)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: NTSC rates as Resolve names them -> exact frames per second
NTSC = {
    "23.976": 24000 / 1001,
    "29.97": 30000 / 1001,
    "47.952": 48000 / 1001,
    "59.94": 60000 / 1001,
    "119.88": 120000 / 1001,
}


class ResolveError(VidMusicianError):
    """Resolve is not reachable, has nothing open, or refused or misdid an edit."""


# --------------------------------------------------------------------------- connecting


def script_module_dirs(platform: str | None = None) -> list[Path]:
    """Where Resolve keeps ``DaVinciResolveScript.py`` on each OS (``RESOLVE_SCRIPT_API`` first)."""
    platform = platform or sys.platform
    out = []
    env = os.environ.get("RESOLVE_SCRIPT_API")
    if env:
        out.append(Path(env) / "Modules")
    if platform == "darwin":
        out.append(
            Path("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting/Modules")
        )
    elif platform.startswith("win"):
        pd = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        out.append(
            Path(pd)
            / "Blackmagic Design"
            / "DaVinci Resolve"
            / "Support"
            / "Developer"
            / "Scripting"
            / "Modules"
        )
    else:
        out += [
            Path("/opt/resolve/Developer/Scripting/Modules"),
            Path("/home/resolve/Developer/Scripting/Modules"),
        ]
    return out


def connect() -> Any:
    """Resolve's scripting object, from a process Resolve did not start.

    Raises
    ------
    ResolveError
        Resolve's scripting module is not found, or Resolve is not running or
        does not accept local scripts.
    """
    try:
        import DaVinciResolveScript as dvr  # type: ignore[import-not-found]
    except ImportError:
        for d in script_module_dirs():
            if (d / "DaVinciResolveScript.py").is_file():
                sys.path.append(str(d))
                break
        try:
            import DaVinciResolveScript as dvr
        except ImportError as e:
            raise ResolveError(
                "DaVinci Resolve's scripting module (DaVinciResolveScript) was not found. Install DaVinci "
                "Resolve, or set RESOLVE_SCRIPT_API to its Developer/Scripting folder."
            ) from e
    resolve = dvr.scriptapp("Resolve")
    if resolve is None:
        raise ResolveError(
            "DaVinci Resolve did not answer. Start Resolve, and set Preferences > System > General > "
            "External scripting using: Local."
        )
    return resolve


def current(resolve: Any) -> tuple[Any, Any]:
    """(project, timeline) open in Resolve now."""
    if resolve is None:
        raise ResolveError("no connection to DaVinci Resolve.")
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise ResolveError(
            "no project is open in DaVinci Resolve. Open a project and a timeline, then run again."
        )
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise ResolveError(
            f"project '{project.GetName()}' has no current timeline. Open the timeline to score, then run again."
        )
    return project, timeline


def timeline_rate(timeline: Any) -> float:
    """The timeline's frame rate in frames per second (NTSC rates exactly, 24000/1001 ...)."""
    raw = str(timeline.GetSetting("timelineFrameRate") or "").strip()
    m = re.match(r"^(\d+(?:\.\d+)?)", raw)
    if not m:
        raise ResolveError(
            f"the timeline's frame rate reads '{raw}', which is not a number of frames per second."
        )
    text = m.group(1)
    rate = NTSC.get(text, float(text))
    if not (math.isfinite(rate) and 1 <= rate <= 1000):
        raise ResolveError(f"the timeline's frame rate {raw} is not usable.")
    return rate


# --------------------------------------------------------------------------- export


def export_timeline(
    resolve: Any, dest_path: str | os.PathLike[str], note: Callable[[str], None] | None = None
) -> Path:
    """Write the current timeline to ``dest_path`` as OTIO and return the path.

    Resolve's own OTIO export (``Timeline.Export(path, resolve.EXPORT_OTIO)``,
    Resolve 18.5 and newer) is used when it works and the file reads back; else
    the timeline is rebuilt from the scripting API (tracks, items, their
    record frames, source offsets and media files) and written with
    OpenTimelineIO. Either way the file's record times start at the
    timeline's start frame (``global_start_time``) and read back into the same
    shots. ``dest_path`` must not exist (nothing is overwritten); ``note``
    hears which way was taken.
    """
    dest = Path(dest_path)
    if dest.exists():
        raise OutputError(f"{dest}: exists already; VidMusician never overwrites. Choose a new file.")
    _, timeline = current(resolve)
    say = note or (lambda _msg: None)
    why = _export_native(resolve, timeline, dest)
    if why is None:
        say(f"exported '{timeline.GetName()}' with Resolve's OTIO export")
        return dest
    t = build_otio(timeline)
    fsutil.write_text(dest, otio.adapters.write_to_string(t, "otio_json"))
    say(f"exported '{timeline.GetName()}' through the scripting API ({why})")
    return dest


def _export_native(resolve: Any, timeline: Any, dest: Path) -> str | None:
    """Try Resolve's OTIO export into ``dest``; None on success, else why not."""
    kind = getattr(resolve, "EXPORT_OTIO", None)
    if kind is None:
        return "this Resolve has no OTIO export; it came with Resolve 18.5"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    except OSError as e:
        raise OutputError(f"{dest.parent}: cannot write here ({e.strerror}). Choose another folder.") from e
    try:
        tmp = tmp_dir / dest.name
        subtype = getattr(resolve, "EXPORT_NONE", None)
        args = (str(tmp), kind) if subtype is None else (str(tmp), kind, subtype)
        try:
            ok = timeline.Export(*args)
        except Exception as e:  # Resolve's objects raise their own kinds
            return f"Resolve's OTIO export failed: {e}"
        if not ok or not tmp.is_file() or tmp.stat().st_size == 0:
            return "Resolve's OTIO export returned no file"
        try:
            guard.check_json_file(tmp)  # before OTIO's C++ reader, which a deep file crashes
            back = otio.adapters.read_from_file(str(tmp), adapter_name="otio_json")
        except Exception as e:  # a newer schema than this OTIO reads, or a broken file
            return f"Resolve's OTIO file does not read here: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        if not isinstance(back, otio.schema.Timeline) or not back.video_tracks():
            return "Resolve's OTIO file holds no video track"
        with fsutil.atomic_path(dest) as part:
            shutil.copyfile(tmp, part)
        return None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _enabled(obj: Any, method: str, *args: Any) -> bool:
    """Call an optional ``Get...Enabled`` method (newer Resolves only); True when absent."""
    fn = getattr(obj, method, None)
    if not callable(fn):
        return True
    try:
        value = fn(*args)
    except Exception:
        return True
    return value is not False


def build_otio(timeline: Any) -> Any:
    """The timeline rebuilt from Resolve's scripting API as an OTIO timeline.

    Each video and audio track becomes a track; items become clips placed at
    their record frames (``GetStart()`` minus the timeline's start frame, gaps
    in between), their source range starts ``GetLeftOffset()`` frames into
    the media (``MediaPoolItem.GetClipProperty("File Path")``) and lasts
    ``GetEnd() - GetStart()`` frames. Items without media (titles,
    generators) keep their place without a media reference.
    """
    rate = timeline_rate(timeline)
    start = int(timeline.GetStartFrame())
    t = otio.schema.Timeline(
        name=str(timeline.GetName() or "Resolve timeline"), global_start_time=RT(start, rate)
    )
    t.metadata[METADATA_KEY] = {
        "exported_by": "vidmusician.resolve_plugin.bridge",
        "start_timecode": str(timeline.GetStartTimecode()),
        "start_frame": start,
    }
    for kind, otio_kind in (("video", otio.schema.TrackKind.Video), ("audio", otio.schema.TrackKind.Audio)):
        for i in range(1, int(timeline.GetTrackCount(kind)) + 1):
            name = _track_name(timeline, kind, i)
            track = otio.schema.Track(name=name, kind=otio_kind)
            track.enabled = _enabled(timeline, "GetIsTrackEnabled", kind, i)
            pos = start
            items = sorted(timeline.GetItemListInTrack(kind, i) or [], key=lambda it: int(it.GetStart()))
            for item in items:
                s, e = int(item.GetStart()), int(item.GetEnd())
                left = int(item.GetLeftOffset() or 0)
                if s < pos:  # overlapping items do not happen on one track; keep what is visible
                    left += pos - s
                    s = pos
                if e <= s:
                    continue
                if s > pos:
                    track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(s - pos, rate))))
                track.append(_clip(item, left, e - s, rate))
                pos = e
            t.tracks.append(track)
    return t


def _track_name(timeline: Any, kind: str, index: int) -> str:
    fn = getattr(timeline, "GetTrackName", None)
    name = fn(kind, index) if callable(fn) else None
    return str(name) if name else f"{kind.title()} {index}"


def _clip(item: Any, left: int, frames: int, rate: float) -> Any:
    mpi = item.GetMediaPoolItem()
    path = str(mpi.GetClipProperty("File Path") or "") if mpi else ""
    ref: Any
    if path:
        right = 0
        fn = getattr(item, "GetRightOffset", None)
        if callable(fn):
            right = max(0, int(fn() or 0))
        url = Path(path).as_uri() if Path(path).is_absolute() else path
        ref = otio.schema.ExternalReference(
            target_url=url, available_range=TR(RT(0, rate), RT(left + frames + right, rate))
        )
    else:
        ref = otio.schema.MissingReference()
    clip = otio.schema.Clip(
        name=str(item.GetName() or ""), media_reference=ref, source_range=TR(RT(left, rate), RT(frames, rate))
    )
    clip.enabled = _enabled(item, "GetClipEnabled")
    return clip
