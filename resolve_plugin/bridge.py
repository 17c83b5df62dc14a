"""The one module that talks to DaVinci Resolve.

Every function takes Resolve's scripting object ``resolve`` as its first
argument (``DaVinciResolveScript.scriptapp("Resolve")``, or the ``resolve``
global a Workspace > Scripts script gets), so a test double can stand in;
nothing connects at import time (:func:`connect` does, when called).

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

What :func:`apply_session` changes
----------------------------------
It adds: a ``VidMusician`` bin in the media pool (the session's WAV files are
imported into it once), new stereo audio tracks named as the command line
names them (``VidMusician Mix``, ``VidMusician Stem <role>``) and the music
clips on them, and, when asked, markers. New stem tracks are switched off
(``Timeline.SetTrackEnable``): the stems are the mix in parts, so the timeline
plays the mix once; switch a stem on (and the mix off) to use it. The editor's
tracks, clips and markers are never changed.

Applying a newer version of the same session (after a shot was regenerated,
or another take chosen) reuses VidMusician's track: a track is *ours* when it
carries the music track's name (or that name with `` 2``, `` 3``...) and every
clip on it plays a file of this session folder. On it, a clip that already is
exactly a piece of the new version (same file, same record frames) stays; a
clip of this session that overlaps a piece that is new is removed (never a
ripple delete) and the new pieces are placed. So only the music under the
changed shot is replaced. A track with the same name holding other clips
(another session's, or the editor's) is left alone and the music goes on a
new track (``VidMusician Mix 2``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio

from vidmusician.core import (
    METADATA_KEY,
    InputError,
    OptionError,
    OutputError,
    ProgressFn,
    Session,
    VidMusicianError,
    fsutil,
    guard,
    plural,
    units,
)
from vidmusician.core import report_progress as report

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

BIN_NAME = "VidMusician"
MARKER_KINDS = ("none", "downbeats", "cuts")
#: customData of the markers VidMusician adds (how it finds them again)
MARKER_TAG = "vidmusician"
#: Resolve's marker colours for the colours write-back uses
MARKER_COLORS = {"GREEN": "Green", "RED": "Red", "BLUE": "Blue", "YELLOW": "Yellow"}
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


# --------------------------------------------------------------------------- the session's music


@dataclass(frozen=True)
class MusicPiece:
    """A stretch of a session's audio file on one music track.

    Attributes
    ----------
    track : str
        The music track's name (``VidMusician Mix``, ``VidMusician Stem drums``).
    path : str
        The WAV file (absolute).
    start, end : int
        Record frames ``[start, end)`` from the timeline's first frame (0).
    source_start : int
        The first frame of the file it plays (frames at the timeline rate;
        every take's files start at the timeline's first frame, so it equals
        ``start``).
    take : int or None
    """

    track: str
    path: str
    start: int
    end: int
    source_start: int
    take: int | None = None


@dataclass(frozen=True)
class SessionMusic:
    """What a session puts on a timeline: its newest timeline version's music tracks."""

    session: Session
    rate: float
    duration_frames: int
    version: int
    tracks: tuple[str, ...]
    pieces: tuple[MusicPiece, ...]
    disabled: tuple[str, ...] = ()  # tracks that go in disabled: the stems (the mix plays them already)


def _url_path(url: str, base: Path) -> str:
    if urllib.parse.urlparse(url).scheme == "file":
        return str(Path(units.url_to_path(url) or url))  # drive letters, UNC hosts, percent-encoding
    p = Path(url)
    return str(p if p.is_absolute() else (base / p).resolve())


def _in_session(file: str, meta: Any, out: Path) -> str:
    """``file`` in the session folder as it is now: the timeline names files by the
    absolute path the session had when written (``metadata["vidmusician"]["session"]``);
    a session folder moved or copied since keeps them at the same place inside it."""
    was = meta.get("session") if hasattr(meta, "get") else None
    if was:
        try:
            rel = Path(file).relative_to(Path(str(was)))
        except ValueError:
            return file
        return str((out / rel).resolve())
    return file


def session_music(session_folder: str | os.PathLike[str]) -> SessionMusic:
    """The music the session's newest timeline version plays, as pieces.

    The pieces are read from that version's ``timeline.otio`` (what the
    command line wrote): every audio track whose metadata carries
    ``vidmusician`` (the mix, and stems when scored with stem tracks), each
    clip's record range and file.
    """
    session = Session.load(session_folder)
    latest = session.timeline
    name = latest.get("files", {}).get("otio")
    if not name:
        raise InputError(
            f"{session.out}: the session's newest timeline has no OTIO file; score the cut again."
        )
    path = session.out / name
    try:
        guard.check_json_file(path)
        t = otio.adapters.read_from_file(str(path), adapter_name="otio_json")
    except VidMusicianError:
        raise
    except Exception as e:
        raise InputError(f"{path}: the session's timeline does not read ({e}). Score the cut again.") from e
    rate = float(session.data["timeline"]["rate"])
    tracks: list[str] = []
    disabled: list[str] = []
    pieces: list[MusicPiece] = []
    for tr in t.audio_tracks():
        if METADATA_KEY not in tr.metadata:
            continue
        tracks.append(tr.name)
        if not tr.enabled or tr.metadata[METADATA_KEY].get("role", "mix") != "mix":
            disabled.append(tr.name)  # a stem (sessions written before stems went in disabled too)
        for c in tr.find_clips(shallow_search=True):
            r = c.range_in_parent()
            a = int(round(r.start_time.rescaled_to(rate).value))
            b = int(round(r.end_time_exclusive().rescaled_to(rate).value))
            src = int(round(c.source_range.start_time.rescaled_to(rate).value))
            meta = c.metadata.get(METADATA_KEY, {})
            file = _in_session(_url_path(c.media_reference.target_url, session.out), meta, session.out)
            pieces.append(MusicPiece(tr.name, file, a, b, src, meta.get("take")))
    if not pieces:
        raise InputError(f"{path}: holds no VidMusician music track. Score the cut again.")
    for p in pieces:
        if not Path(p.path).is_file():
            raise InputError(
                f"{p.path}: a music file of this session is missing. Put it back, or score again."
            )
    return SessionMusic(
        session,
        rate,
        int(session.data["timeline"]["duration_frames"]),
        int(latest["version"]),
        tuple(tracks),
        tuple(pieces),
        tuple(disabled),
    )


# --------------------------------------------------------------------------- apply


@dataclass
class PlacedClip:
    """A clip placed by :func:`apply_session` (frames from the timeline's first frame)."""

    track: str
    track_index: int
    path: str
    start: int
    end: int


@dataclass
class ApplyReport:
    """What :func:`apply_session` did.

    ``tracks`` maps each music track's name in Resolve (``VidMusician Mix``,
    or ``VidMusician Mix 2`` beside another session's) to its (1-based) audio
    track index; ``placed`` are the new clips, ``kept`` how many clips of this
    session were left as they were, ``removed`` how many were replaced;
    ``markers`` the frames (from the timeline's first frame) of the markers added.
    """

    session: str
    timeline: str
    version: int
    tracks: dict[str, int] = field(default_factory=dict)
    new_tracks: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    placed: list[PlacedClip] = field(default_factory=list)
    kept: int = 0
    removed: int = 0
    imported: int = 0
    markers: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"VidMusician: session {self.session} (timeline version {self.version}) on '{self.timeline}':",
            f"  {plural(len(self.placed), 'clip', zero='')} placed, {self.kept} kept, {self.removed} replaced, "
            f"{plural(self.imported, 'file', zero='')} imported into the '{BIN_NAME}' bin",
        ]
        for name, idx in self.tracks.items():
            how = ", ".join(
                w for w, on in (("new", name in self.new_tracks), ("disabled", name in self.disabled)) if on
            )
            lines.append(f"  {name}: audio track A{idx}{f' ({how})' if how else ''}")
        if self.markers:
            lines.append(f"  {plural(len(self.markers), 'marker', zero='')} added")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.normcase(str(Path(a).resolve())) == os.path.normcase(str(Path(b).resolve()))
    except OSError:
        return a == b


def _inside(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def _file_of(item: Any) -> str:
    mpi = item.GetMediaPoolItem() if item is not None else None
    return str(mpi.GetClipProperty("File Path") or "") if mpi else ""


def _music_bin(media_pool: Any) -> Any:
    root = media_pool.GetRootFolder()
    for sub in root.GetSubFolderList() or []:
        if sub.GetName() == BIN_NAME:
            return sub
    made = media_pool.AddSubFolder(root, BIN_NAME)
    if not made:
        raise ResolveError(f"Resolve refused to add the '{BIN_NAME}' bin to the media pool.")
    return made


def _import(media_pool: Any, folder: Any, paths: list[str]) -> tuple[dict[str, Any], int]:
    """MediaPoolItems for ``paths`` in ``folder``: found there, else imported into it."""
    have: dict[str, Any] = {}
    for item in folder.GetClipList() or []:
        fp = str(item.GetClipProperty("File Path") or "")
        if fp:
            have[os.path.normcase(str(Path(fp).resolve()))] = item
    key = {p: os.path.normcase(str(Path(p).resolve())) for p in paths}
    missing = sorted({p for p in paths if key[p] not in have})
    if missing:
        before = media_pool.GetCurrentFolder()
        if not media_pool.SetCurrentFolder(folder):
            raise ResolveError(f"Resolve refused to open the '{BIN_NAME}' bin.")
        try:
            items = media_pool.ImportMedia(missing) or []
        finally:
            if before:
                media_pool.SetCurrentFolder(before)
        for item in items:
            fp = str(item.GetClipProperty("File Path") or "")
            have[os.path.normcase(str(Path(fp).resolve()))] = item
        still = [p for p in missing if key[p] not in have]
        if still:
            raise ResolveError(
                "Resolve did not import " + ", ".join(still) + ". Check that the files are readable "
                "and that Resolve can play WAV files."
            )
    return {p: have[key[p]] for p in paths}, len(missing)


def _ours(items: list[Any], folder: Path) -> bool:
    return all(_inside(_file_of(it), folder) for it in items)


def _find_or_add_track(timeline: Any, name: str, folder: Path, taken: set[int]) -> tuple[int, str, bool]:
    """(audio track index, its name in Resolve, whether it is new) for the music track ``name``."""
    n = int(timeline.GetTrackCount("audio"))
    names = {i: str(timeline.GetTrackName("audio", i) or "") for i in range(1, n + 1)}
    candidates = [name] + [f"{name} {k}" for k in range(2, 100)]
    for cand in candidates:
        idx = next((i for i, nm in names.items() if nm == cand and i not in taken), None)
        if idx is None:
            break  # the first free name: a new track gets it
        if _ours(list(timeline.GetItemListInTrack("audio", idx) or []), folder):
            return idx, cand, False
    used = set(names.values())
    free = next(c for c in candidates if c not in used)
    if not timeline.AddTrack("audio", "stereo"):
        raise ResolveError("Resolve refused to add an audio track to the timeline.")
    idx = int(timeline.GetTrackCount("audio"))
    if idx != n + 1:
        raise ResolveError(f"Resolve added an audio track but now counts {idx} tracks (expected {n + 1}).")
    if not timeline.SetTrackName("audio", idx, free):
        raise ResolveError(f"Resolve refused to name audio track A{idx} '{free}'.")
    return idx, free, True


def _source_frames(item: Any, frames: int, rate: float) -> int:
    """``frames`` of the timeline as frames of the media pool item (an audio file's frames
    count at its own 'FPS', which Resolve sets to the project's rate on import)."""
    fps_raw = str(item.GetClipProperty("FPS") or "").strip()
    m = re.match(r"^(\d+(?:\.\d+)?)", fps_raw)
    if not m:
        return frames
    fps = NTSC.get(m.group(1), float(m.group(1)))
    if fps <= 0 or abs(fps - rate) < 1e-3:
        return frames
    return int(round(frames * fps / rate))


def _check_session_fits(music: SessionMusic, timeline: Any, rate: float) -> list[str]:
    notes = []
    if abs(rate - music.rate) > 0.01:
        raise InputError(
            f"{music.session.out}: scored at {music.rate:.3f} fps, but timeline '{timeline.GetName()}' runs at "
            f"{rate:.3f} fps. Open the timeline this session was scored from, or score this one."
        )
    start, end = int(timeline.GetStartFrame()), int(timeline.GetEndFrame())
    if end - start != music.duration_frames:
        raise InputError(
            f"{music.session.out}: scored from a cut of {music.duration_frames} frames, but timeline "
            f"'{timeline.GetName()}' is {end - start} frames long: the cut changed, or this is another "
            "timeline. Score the timeline again (run VidMusician from the Scripts menu)."
        )
    recorded = music.session.data["timeline"].get("name")
    if recorded and recorded != timeline.GetName():
        notes.append(
            f"the session was scored from a timeline named '{recorded}'; applied to '{timeline.GetName()}'."
        )
    return notes


def apply_session(
    resolve: Any,
    session_folder: str | os.PathLike[str],
    markers: str = "none",
    progress: ProgressFn | None = None,
) -> ApplyReport:
    """Put a session's music on the current Resolve timeline.

    Parameters
    ----------
    resolve : Resolve's scripting object
    session_folder : path-like
        A folder ``vidmusician score`` (or the panel) made for this timeline.
        The pieces are its newest timeline version's (which take plays on
        which frames: see :func:`session_music`).
    markers : "none" | "downbeats" | "cuts"
        ``downbeats``: a green marker on each bar line; ``cuts``: a red one on
        each cut the music hit. VidMusician's earlier markers are removed
        first; ``none`` leaves markers as they are. A frame that already holds
        one of the editor's markers keeps it (a note says so).
    progress : callable(fraction, label), optional

    Returns
    -------
    ApplyReport

    Raises
    ------
    InputError
        The session does not fit this timeline (other rate or length).
    ResolveError
        Nothing is open, or Resolve refused an edit or put a clip elsewhere
        than asked (what this call placed is removed again).
    """
    if markers not in MARKER_KINDS:
        raise OptionError(f"markers {markers!r}: choose one of {', '.join(MARKER_KINDS)}.")
    report(progress, 0.0, "reading the session")
    music = session_music(session_folder)
    folder = music.session.out.resolve()
    project, timeline = current(resolve)
    rate = timeline_rate(timeline)
    rep = ApplyReport(str(folder), str(timeline.GetName()), music.version)
    rep.notes += _check_session_fits(music, timeline, rate)
    start = int(timeline.GetStartFrame())

    report(progress, 0.1, "importing the music")
    media_pool = project.GetMediaPool()
    paths = sorted({p.path for p in music.pieces})
    items, rep.imported = _import(media_pool, _music_bin(media_pool), paths)

    report(progress, 0.3, "placing the music")
    taken: set[int] = set()
    for k, name in enumerate(music.tracks):
        idx, shown, new = _find_or_add_track(timeline, name, folder, taken)
        taken.add(idx)
        rep.tracks[shown] = idx
        if new:
            rep.new_tracks.append(shown)
        wanted = [p for p in music.pieces if p.track == name]
        _place_track(timeline, media_pool, idx, shown, wanted, items, start, rate, rep)
        if new and name in music.disabled:
            _disable_track(timeline, idx, shown, rep)
        report(progress, 0.3 + 0.6 * (k + 1) / len(music.tracks), "placing the music")

    if markers != "none":
        rep.markers = _markers(timeline, music, markers, rate, rep)
    report(progress, 1.0, "done")
    return rep


def _disable_track(timeline: Any, idx: int, name: str, rep: ApplyReport) -> None:
    """Switch a new stem track off (``Timeline.SetTrackEnable``, Resolve 18 and newer): the
    stems are the mix in parts, and played with it they would double it (+6 dB). A stem
    track the editor switched on again is left on when the session is applied again."""
    fn = getattr(timeline, "SetTrackEnable", None)
    ok = False
    if callable(fn):
        try:
            ok = fn("audio", idx, False) is not False
        except Exception:
            ok = False
    if ok:
        rep.disabled.append(name)
    else:
        rep.notes.append(
            f"could not disable track A{idx} '{name}' (this Resolve has no SetTrackEnable): disable it "
            "yourself, or the timeline plays that stem on top of the mix."
        )


def _place_track(
    timeline: Any,
    media_pool: Any,
    idx: int,
    name: str,
    wanted: list[MusicPiece],
    items: dict[str, Any],
    start: int,
    rate: float,
    rep: ApplyReport,
) -> None:
    existing = []
    for it in timeline.GetItemListInTrack("audio", idx) or []:
        existing.append((it, _file_of(it), int(it.GetStart()) - start, int(it.GetEnd()) - start))

    def present(p: MusicPiece) -> bool:
        return any(_same_file(f, p.path) and a == p.start and b == p.end for _, f, a, b in existing)

    new = [p for p in wanted if not present(p)]
    gone = [e for e in existing if any(e[2] < p.end and p.start < e[3] for p in new)]
    rep.kept += len(existing) - len(gone)
    # how to put the removed clips back should Resolve misplace the new ones
    restore = [
        {
            "mediaPoolItem": e[0].GetMediaPoolItem(),
            "startFrame": int(e[0].GetLeftOffset()),
            "endFrame": int(e[0].GetLeftOffset()) + e[3] - e[2],
            "mediaType": 2,
            "trackIndex": idx,
            "recordFrame": start + e[2],
        }
        for e in gone
    ]
    if gone:
        if not timeline.DeleteClips([e[0] for e in gone], False):
            raise ResolveError(f"Resolve refused to remove VidMusician's earlier clips from track '{name}'.")
        rep.removed += len(gone)
    if not new:
        return
    infos = []
    for p in new:
        item = items[p.path]
        src0 = _source_frames(item, p.source_start, rate)
        src1 = src0 + _source_frames(item, p.end - p.start, rate)
        infos.append(
            {
                "mediaPoolItem": item,
                "startFrame": src0,
                "endFrame": src1,
                "mediaType": 2,
                "trackIndex": idx,
                "recordFrame": start + p.start,
            }
        )
    placed = list(media_pool.AppendToTimeline(infos) or [])
    bad = []
    if len(placed) != len(new):
        bad.append(f"Resolve placed {len(placed)} of {len(new)} clips")
    for p, it in zip(new, placed):
        got = (int(it.GetStart()) - start, int(it.GetEnd()) - start)
        if got != (p.start, p.end):
            bad.append(
                f"{Path(p.path).name} landed on frames {got[0]}-{got[1]} instead of {p.start}-{p.end} "
                "(from the timeline's first frame)"
            )
    if bad:
        if placed:
            timeline.DeleteClips(placed, False)  # what this call placed, nothing else
        if restore:  # VidMusician's earlier clips, back where they were
            media_pool.AppendToTimeline(restore)
        raise ResolveError(
            f"track '{name}': " + "; ".join(bad) + ". Nothing of this attempt was left on the timeline. "
            "VidMusician needs a Resolve whose AppendToTimeline takes recordFrame and trackIndex (Resolve 18 "
            "and newer); "
            "if Resolve is that new, check that track A"
            f"{idx} is not locked and try again."
        )
    for p in new:
        rep.placed.append(PlacedClip(name, idx, p.path, p.start, p.end))


def _markers(timeline: Any, music: SessionMusic, kind: str, rate: float, rep: ApplyReport) -> list[int]:
    import json

    from vidmusician.core import plan_markers

    session = music.session
    first = session.take_record(session.selection_record.pieces[0].take)
    plan = json.loads((session.out / first.plan).read_text(encoding="utf-8"))
    existing = timeline.GetMarkers() or {}
    for frame, info in sorted(existing.items()):
        if str((info or {}).get("customData", "")).startswith(MARKER_TAG):
            timeline.DeleteMarkerAtFrame(frame)
    existing = timeline.GetMarkers() or {}
    added = []
    busy = 0
    for m in plan_markers(plan, kind, rate, music.duration_frames):
        if m.frame in existing:
            busy += 1
            continue
        color = MARKER_COLORS.get(m.color.upper(), "Green")
        if timeline.AddMarker(m.frame, color, m.name, "VidMusician", 1, f"{MARKER_TAG}:{kind}"):
            added.append(m.frame)
        else:
            busy += 1
    if busy:
        rep.notes.append(
            f"{plural(busy, 'marker', zero='')} not added: a marker of yours sits on that frame already."
        )
    return added
