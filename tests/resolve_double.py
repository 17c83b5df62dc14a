"""A strict test double of DaVinci Resolve's scripting objects.

Written from Blackmagic's scripting README (Resolve 18.5-19): the objects,
method names, argument orders and return types are Resolve's. Where Resolve
would silently return False/None/[] for an impossible edit, so does the
double; where a script misuses the API (a wrong key or type, a 0-based track
index, a method Resolve does not have), the double raises
:class:`ApiMisuse` so that a test fails loudly.

Frames: ``GetStart()``/``GetEnd()`` and ``recordFrame`` are absolute timeline
frames (a timeline at 01:00:00:00 and 24 fps starts at 86 400); ``endFrame``
is exclusive; marker ``frameId`` is an offset from the timeline's start;
track indices are 1-based.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

RATES = {"23.976": 24000 / 1001, "24": 24.0, "25": 25.0, "29.97": 30000 / 1001, "30": 30.0}
AUDIO_TYPES = {"mono", "stereo", "5.1", "5.1film", "7.1", "7.1film"}
COLORS = {
    "Blue",
    "Cyan",
    "Green",
    "Yellow",
    "Red",
    "Pink",
    "Purple",
    "Fuchsia",
    "Rose",
    "Lavender",
    "Sky",
    "Mint",
}
CLIP_INFO_KEYS = {"mediaPoolItem", "startFrame", "endFrame", "mediaType", "trackIndex", "recordFrame"}

_ids = itertools.count(1)


class ApiMisuse(AssertionError):
    """The script called Resolve's API in a way Resolve does not accept."""


def _int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiMisuse(f"{name} must be an int or float, got {type(value).__name__}: {value!r}")


def _str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ApiMisuse(f"{name} must be a string, got {type(value).__name__}: {value!r}")


def timecode_frames(tc: str, rate: str) -> int:
    """Frames of a non-drop-frame timecode at a Resolve rate name (rounded nominal fps)."""
    h, m, s, f = (int(x) for x in tc.replace(";", ":").split(":"))
    fps = round(RATES[rate])
    return ((h * 60 + m) * 60 + s) * fps + f


class Strict:
    """Unknown attributes raise (Resolve's objects have a fixed set of methods)."""

    def __getattr__(self, name: str) -> Any:
        raise ApiMisuse(f"{type(self).__name__} has no method {name}")


# --------------------------------------------------------------------------- media pool


class MediaPoolItem(Strict):
    def __init__(self, path: str, fps: str, frames: int, kind: str):
        self._path = str(path)
        self._id = f"mpi-{next(_ids)}"
        self.props = {
            "File Path": self._path,
            "File Name": Path(path).name,
            "Clip Name": Path(path).name,
            "FPS": fps,
            "Frames": str(frames),
            "Type": kind,
        }
        self.frames = frames
        self.kind = kind  # "Video" | "Audio" | "Video + Audio"

    def GetName(self) -> str:
        return self.props["Clip Name"]

    def GetMediaId(self) -> str:
        return self._id

    def GetClipProperty(self, propertyName: str | None = None) -> Any:
        if propertyName is None:
            return dict(self.props)
        _str("propertyName", propertyName)
        return self.props.get(propertyName, "")

    def __repr__(self) -> str:
        return f"MediaPoolItem({self.props['File Name']})"


class Folder(Strict):
    def __init__(self, name: str):
        self.name = name
        self.clips: list[MediaPoolItem] = []
        self.subfolders: list[Folder] = []

    def GetName(self) -> str:
        return self.name

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)

    def GetSubFolderList(self) -> list[Folder]:
        return list(self.subfolders)


class MediaPool(Strict):
    def __init__(self, project: Project):
        self.project = project
        self.root = Folder("Master")
        self.current = self.root
        self.imports: list[list[str]] = []

    def GetRootFolder(self) -> Folder:
        return self.root

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder: Folder) -> bool:
        if not isinstance(folder, Folder):
            raise ApiMisuse(f"SetCurrentFolder needs a Folder, got {folder!r}")
        self.current = folder
        return True

    def AddSubFolder(self, folder: Folder, name: str) -> Folder | None:
        if not isinstance(folder, Folder):
            raise ApiMisuse(f"AddSubFolder needs a Folder first, got {folder!r}")
        _str("name", name)
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    def ImportMedia(self, items: list[str]) -> list[MediaPoolItem]:
        if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
            raise ApiMisuse(f"ImportMedia takes a list of file paths, got {items!r}")
        self.imports.append(list(items))
        out = []
        for p in items:
            if not Path(p).is_file():
                continue  # Resolve skips what it cannot read
            out.append(self.project.media_item(p, self.current))
        return out

    def AppendToTimeline(self, clip_infos: Any) -> list[TimelineItem]:
        if not isinstance(clip_infos, list) or not all(isinstance(c, dict) for c in clip_infos):
            raise ApiMisuse("AppendToTimeline([{clipInfo}, ...]) takes a list of dicts here")
        tl = self.project.GetCurrentTimeline()
        out = []
        for info in clip_infos:
            unknown = set(info) - CLIP_INFO_KEYS
            if unknown:
                raise ApiMisuse(f"clipInfo has keys Resolve does not know: {sorted(unknown)}")
            item = info.get("mediaPoolItem")
            if not isinstance(item, MediaPoolItem):
                raise ApiMisuse(f"clipInfo['mediaPoolItem'] must be a MediaPoolItem, got {item!r}")
            for k in ("startFrame", "endFrame", "recordFrame", "trackIndex", "mediaType"):
                if k in info:
                    _int(k, info[k])
            media_type = info.get("mediaType", 1 if item.kind != "Audio" else 2)
            if media_type not in (1, 2):
                raise ApiMisuse(f"mediaType is 1 (video only) or 2 (audio only), got {media_type!r}")
            kind = "video" if media_type == 1 else "audio"
            if kind == "video" and item.kind == "Audio":
                return out  # nothing to place: Resolve returns what it placed
            start = int(info.get("startFrame", 0))
            end = int(info.get("endFrame", item.frames))
            if not 0 <= start < end <= item.frames:
                return out
            track = int(info.get("trackIndex", 1))
            if not 1 <= track <= tl.GetTrackCount(kind):
                raise ApiMisuse(
                    f"trackIndex {track}: the timeline has {tl.GetTrackCount(kind)} {kind} tracks (1-based)"
                )
            # frames of the media count at its own FPS; the record length at the timeline's
            length = round((end - start) * tl.rate / RATES[item.props["FPS"]])
            if "recordFrame" in info:
                rec = int(info["recordFrame"])
            else:
                rec = max([tl.start_frame] + [it.end for it in tl.tracks[kind][track - 1]])
            if any(rec < it.end and it.start < rec + length for it in tl.tracks[kind][track - 1]):
                return out  # the double refuses to overwrite; VidMusician never asks it to
            ti = TimelineItem(tl, item, rec, rec + length, start, kind)
            tl.tracks[kind][track - 1].append(ti)
            tl.tracks[kind][track - 1].sort(key=lambda it: it.start)
            out.append(ti)
        return out


# --------------------------------------------------------------------------- timeline


class TimelineItem(Strict):
    def __init__(
        self, tl: Timeline, item: MediaPoolItem | None, start: int, end: int, src: int, kind: str, name=None
    ):
        self.tl = tl
        self.item = item
        self.start = start
        self.end = end
        self.src = src  # first frame of the media it shows
        self.kind = kind
        self.name = name or (item.GetName() if item else "Solid Color")
        self.enabled = True
        self._id = f"ti-{next(_ids)}"

    def GetName(self) -> str:
        return self.name

    def GetStart(self) -> int:
        return self.start

    def GetEnd(self) -> int:
        return self.end

    def GetDuration(self) -> int:
        return self.end - self.start

    def GetLeftOffset(self) -> int:
        return self.src

    def GetRightOffset(self) -> int:
        return max(0, (self.item.frames if self.item else 0) - self.src - (self.end - self.start))

    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        return self.item

    def GetUniqueId(self) -> str:
        return self._id

    def GetClipEnabled(self) -> bool:
        return self.enabled

    def snapshot(self) -> tuple:
        return (
            self._id,
            self.name,
            self.start,
            self.end,
            self.src,
            self.enabled,
            self.item and self.item._path,
        )

    def __repr__(self) -> str:
        return f"TimelineItem({self.name} {self.start}-{self.end})"


class Timeline(Strict):
    def __init__(self, project: Project, name: str, rate: str, start_tc: str = "01:00:00:00"):
        if rate not in RATES:
            raise ValueError(rate)
        self.project = project
        self.name = name
        self.rate_name = rate
        self.rate = RATES[rate]
        self.start_tc = start_tc
        self.start_frame = timecode_frames(start_tc, rate)
        self.tracks: dict[str, list[list[TimelineItem]]] = {"video": [[]], "audio": [[]], "subtitle": []}
        self.track_names: dict[str, list[str]] = {"video": ["Video 1"], "audio": ["Audio 1"], "subtitle": []}
        self.track_enabled: dict[str, list[bool]] = {"video": [True], "audio": [True], "subtitle": []}
        self.audio_types = ["stereo"]
        self.markers: dict[int, dict[str, Any]] = {}
        self.export_unavailable = False  # Export returns False (as when it fails)
        self.exports: list[tuple] = []
        self.deleted: list[TimelineItem] = []

    # ---- building (test side)

    def add_video(
        self, track: int, path: str, record_offset: int, frames: int, source_in: int
    ) -> TimelineItem:
        """A clip of ``path`` on video track ``track`` (1-based) at ``record_offset`` frames from the start."""
        while len(self.tracks["video"]) < track:
            self.tracks["video"].append([])
            self.track_names["video"].append(f"Video {len(self.tracks['video'])}")
            self.track_enabled["video"].append(True)
        item = self.project.media_item(path, self.project.media_pool.root)
        s = self.start_frame + record_offset
        ti = TimelineItem(self, item, s, s + frames, source_in, "video")
        self.tracks["video"][track - 1].append(ti)
        self.tracks["video"][track - 1].sort(key=lambda it: it.start)
        return ti

    def add_audio(
        self, track: int, path: str, record_offset: int, frames: int, source_in: int
    ) -> TimelineItem:
        while len(self.tracks["audio"]) < track:
            self.tracks["audio"].append([])
            self.track_names["audio"].append(f"Audio {len(self.tracks['audio'])}")
            self.track_enabled["audio"].append(True)
            self.audio_types.append("stereo")
        item = self.project.media_item(path, self.project.media_pool.root)
        s = self.start_frame + record_offset
        ti = TimelineItem(self, item, s, s + frames, source_in, "audio")
        self.tracks["audio"][track - 1].append(ti)
        self.tracks["audio"][track - 1].sort(key=lambda it: it.start)
        return ti

    def snapshot(self) -> dict[str, Any]:
        """Everything about the tracks, their names, whether enabled, and clips (to compare before/after)."""
        return {
            kind: [
                (self.track_names[kind][i], self.track_enabled[kind][i], [it.snapshot() for it in tr])
                for i, tr in enumerate(trs)
            ]
            for kind, trs in self.tracks.items()
        }

    # ---- Resolve's API

    def GetName(self) -> str:
        return self.name

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetEndFrame(self) -> int:
        ends = [it.end for trs in self.tracks.values() for tr in trs for it in tr]
        return max([self.start_frame, *ends])

    def GetStartTimecode(self) -> str:
        return self.start_tc

    def GetSetting(self, settingName: str | None = None) -> Any:
        settings = {"timelineFrameRate": self.rate_name, "timelineDropFrameTimecode": "0"}
        if settingName is None:
            return settings
        _str("settingName", settingName)
        return settings.get(settingName, "")

    def _kind(self, trackType: Any) -> str:
        if trackType not in ("video", "audio", "subtitle"):
            raise ApiMisuse(f"trackType is 'video', 'audio' or 'subtitle', got {trackType!r}")
        return str(trackType)

    def _index(self, kind: str, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise ApiMisuse(f"track index must be an int, got {index!r}")
        if not 1 <= index <= len(self.tracks[kind]):
            raise ApiMisuse(f"{kind} track {index}: 1 <= index <= {len(self.tracks[kind])} (1-based)")
        return index

    def GetTrackCount(self, trackType: str) -> int:
        return len(self.tracks[self._kind(trackType)])

    def GetItemListInTrack(self, trackType: str, index: int) -> list[TimelineItem]:
        kind = self._kind(trackType)
        return list(self.tracks[kind][self._index(kind, index) - 1])

    def GetTrackName(self, trackType: str, trackIndex: int) -> str:
        kind = self._kind(trackType)
        return self.track_names[kind][self._index(kind, trackIndex) - 1]

    def SetTrackName(self, trackType: str, trackIndex: int, name: str) -> bool:
        kind = self._kind(trackType)
        _str("name", name)
        self.track_names[kind][self._index(kind, trackIndex) - 1] = name
        return True

    def GetIsTrackEnabled(self, trackType: str, trackIndex: int) -> bool:
        kind = self._kind(trackType)
        return self.track_enabled[kind][self._index(kind, trackIndex) - 1]

    def SetTrackEnable(self, trackType: str, trackIndex: int, enabled: bool) -> bool:
        """``SetTrackEnable(trackType, trackIndex, Bool) --> Bool`` (Resolve 18 and newer):
        a disabled track stays on the timeline and is not played."""
        kind = self._kind(trackType)
        if not isinstance(enabled, bool):
            raise ApiMisuse(f"SetTrackEnable's third argument is a Bool, got {enabled!r}")
        self.track_enabled[kind][self._index(kind, trackIndex) - 1] = enabled
        return True

    def AddTrack(self, trackType: str, subTrackType: Any = None) -> bool:
        kind = self._kind(trackType)
        if kind == "audio":
            sub = subTrackType if subTrackType is not None else "mono"
            if isinstance(sub, dict):
                sub = sub.get("audioType", "mono")
            if sub not in AUDIO_TYPES:
                raise ApiMisuse(f"audio subTrackType {sub!r} is not one of {sorted(AUDIO_TYPES)}")
            self.audio_types.append(sub)
        self.tracks[kind].append([])
        self.track_names[kind].append(f"{kind.title()} {len(self.tracks[kind])}")
        self.track_enabled[kind].append(True)
        return True

    def DeleteClips(self, timelineItems: list[TimelineItem], ripple: bool = False) -> bool:
        if not isinstance(timelineItems, list) or not all(isinstance(t, TimelineItem) for t in timelineItems):
            raise ApiMisuse("DeleteClips([timelineItems], Bool) takes a list of TimelineItems")
        if not isinstance(ripple, bool):
            raise ApiMisuse("DeleteClips' second argument is a Bool")
        for ti in timelineItems:
            for tr in self.tracks[ti.kind]:
                if ti in tr:
                    tr.remove(ti)
                    self.deleted.append(ti)
                    if ripple:  # Resolve closes the gap on every track: the editor's cut would move
                        for tr2 in self.tracks["video"] + self.tracks["audio"]:
                            for other in tr2:
                                if other.start >= ti.end:
                                    other.start -= ti.end - ti.start
                                    other.end -= ti.end - ti.start
        return True

    def GetMarkers(self) -> dict[int, dict[str, Any]]:
        return {k: dict(v) for k, v in self.markers.items()}

    def AddMarker(self, frameId, color, name, note, duration, customData=None) -> bool:
        _int("frameId", frameId)
        _int("duration", duration)
        for k, v in (("color", color), ("name", name), ("note", note)):
            _str(k, v)
        if customData is not None:
            _str("customData", customData)
        if color not in COLORS:
            raise ApiMisuse(f"marker colour {color!r} is not one of Resolve's {sorted(COLORS)}")
        if duration < 1 or frameId in self.markers:
            return False
        if not 0 <= frameId < self.GetEndFrame() - self.start_frame:
            return False
        self.markers[int(frameId)] = {
            "color": color,
            "duration": int(duration),
            "note": note,
            "name": name,
            "customData": customData or "",
        }
        return True

    def DeleteMarkerAtFrame(self, frameNum: int) -> bool:
        _int("frameNum", frameNum)
        return self.markers.pop(int(frameNum), None) is not None

    def Export(self, fileName: str, exportType: Any, exportSubtype: Any = None) -> bool:
        _str("fileName", fileName)
        self.exports.append((fileName, exportType, exportSubtype))
        if exportType != Resolve.EXPORT_OTIO:
            raise ApiMisuse(f"the double exports OTIO only, got exportType {exportType!r}")
        if self.export_unavailable:
            return False
        Path(fileName).write_text(otio.adapters.write_to_string(self._as_otio(), "otio_json"))
        return True

    def _as_otio(self) -> Any:
        """What Resolve's OTIO export writes: record times from global_start_time, file URLs."""
        r = self.rate
        t = otio.schema.Timeline(name=self.name, global_start_time=RT(self.start_frame, r))
        for kind, okind in (("video", otio.schema.TrackKind.Video), ("audio", otio.schema.TrackKind.Audio)):
            for i, tr in enumerate(self.tracks[kind]):
                track = otio.schema.Track(name=self.track_names[kind][i], kind=okind)
                track.enabled = self.track_enabled[kind][i]
                pos = self.start_frame
                for it in tr:
                    if it.start > pos:
                        track.append(otio.schema.Gap(source_range=TR(RT(0, r), RT(it.start - pos, r))))
                    ref = otio.schema.ExternalReference(
                        target_url=Path(it.item._path).as_uri(),
                        available_range=TR(RT(0, r), RT(it.item.frames, r)),
                    )
                    track.append(
                        otio.schema.Clip(
                            name=it.name,
                            media_reference=ref,
                            source_range=TR(RT(it.src, r), RT(it.end - it.start, r)),
                        )
                    )
                    pos = it.end
                t.tracks.append(track)
        return t


# --------------------------------------------------------------------------- project and app


class Project(Strict):
    def __init__(self, name: str):
        self.name = name
        self.media_pool = MediaPool(self)
        self.timelines: list[Timeline] = []
        self.current: Timeline | None = None

    def new_timeline(self, name: str, rate: str, start_tc: str = "01:00:00:00") -> Timeline:
        tl = Timeline(self, name, rate, start_tc)
        self.timelines.append(tl)
        self.current = tl
        return tl

    def media_item(self, path: str, folder: Folder) -> MediaPoolItem:
        """The media pool item for ``path`` (Resolve sets an audio file's FPS to the project's rate)."""
        rate = self.current.rate_name if self.current else "24"
        suffix = Path(path).suffix.lower()
        if suffix in (".wav", ".aif", ".aiff", ".mp3", ".flac"):
            info = soundfile.info(str(path))
            frames = int(info.frames * RATES[rate] // info.samplerate)
            kind = "Audio"
        else:
            frames = 100_000
            kind = "Video"
        item = MediaPoolItem(path, rate, frames, kind)
        folder.clips.append(item)
        return item

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.current

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, idx: int) -> Timeline:
        _int("idx", idx)
        return self.timelines[idx - 1]


class ProjectManager(Strict):
    def __init__(self, project: Project | None):
        self.project = project

    def GetCurrentProject(self) -> Project | None:
        return self.project


class Resolve(Strict):
    EXPORT_OTIO = 21  # an opaque constant, as Resolve's are
    EXPORT_NONE = 0

    def __init__(self, project: Project | None = None, otio_export: bool = True):
        self.project = project if project is not None else Project("VidMusician test")
        self.pm = ProjectManager(self.project)
        self.otio_export = otio_export

    def __getattribute__(self, name: str) -> Any:
        if name == "EXPORT_OTIO" and not object.__getattribute__(self, "otio_export"):
            return None  # Resolve before 18.5: no such constant (Resolve's proxies read it as None)
        return object.__getattribute__(self, name)

    def GetProjectManager(self) -> ProjectManager:
        return self.pm

    def GetProductName(self) -> str:
        return "DaVinci Resolve Studio"

    def GetVersionString(self) -> str:
        return "19.0.3.7"
