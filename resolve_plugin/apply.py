"""The session's music put on the current Resolve timeline: :func:`apply_session`.

Frames and track indices are as :mod:`.bridge` describes them (record frames
from the timeline's first frame; Resolve's absolute frames add
``GetStartFrame()``; tracks are 1-based).

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

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidmusician.core import (
    InputError,
    OptionError,
    ProgressFn,
    plural,
)
from vidmusician.core import report_progress as report

from .bridge import NTSC, ResolveError, current, timeline_rate
from .music import MusicPiece, SessionMusic, session_music

BIN_NAME = "VidMusician"
MARKER_KINDS = ("none", "downbeats", "cuts")
#: customData of the markers VidMusician adds (how it finds them again)
MARKER_TAG = "vidmusician"
#: Resolve's marker colours for the colours write-back uses
MARKER_COLORS = {"GREEN": "Green", "RED": "Red", "BLUE": "Blue", "YELLOW": "Yellow"}


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
