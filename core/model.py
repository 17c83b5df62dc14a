"""Plain, frozen data that crosses the seams between stages.

Times here are float seconds from the timeline's first frame (record time)
unless a name says frames; frame numbers count from 0 at the first frame,
whatever the timeline's start timecode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnchorKind = Literal["cut", "transition", "marker", "scene", "motion"]
ANCHOR_KINDS: tuple[str, ...] = ("cut", "transition", "marker", "scene", "motion")

ShotKind = Literal["clip", "gap", "generator"]


@dataclass(frozen=True)
class Shot:
    """One stretch of the composited picture between two edit points.

    Attributes
    ----------
    index : int >= 0
        Position in the timeline, from 0 (the index ``regenerate --shot`` takes).
    start_frame, end_frame : int
        Record range in frames at the timeline rate, end exclusive.
    start_s, end_s : float
        The same range in seconds from the timeline's first frame.
    name : str
        The clip's name (empty for a gap).
    kind : "clip" | "gap" | "generator"
        A gap is a shot of black; a generator is a synthetic source (bars, solid).
    media : str | None
        Local path (or URL when not a local file) of the source media, if any.
    media_found : bool
        True when ``media`` is a local file that exists.
    source_start_s, source_end_s : float | None
        Source range in the media's own time, seconds (None for gaps).
    media_start_s : float | None
        Start of the media's available range in its own time, seconds, when
        known (a media file's first frame is there; subtract it to get a
        position in the file).
    track : str
        Name of the video track the picture comes from.
    """

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    name: str
    kind: ShotKind
    media: str | None = None
    media_found: bool = False
    source_start_s: float | None = None
    source_end_s: float | None = None
    media_start_s: float | None = None
    track: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Marker:
    """A timeline, track or clip marker, in record time."""

    time_s: float
    frame: int
    name: str
    color: str = ""
    duration_s: float = 0.0
    scope: Literal["timeline", "track", "clip"] = "timeline"


@dataclass(frozen=True)
class Anchor:
    """A point the music should respect.

    Attributes
    ----------
    time_s : float
        Seconds from the timeline's first frame.
    kind : "cut" | "transition" | "marker" | "scene" | "motion"
    strength : float in [0, 1]
        How strongly the music should mark it (1 = a hard cut between shots).
    label : str
        A short human description ("clip_A -> clip_B", a marker's name, ...).
    duration_s : float
        Length of a transition around its cut point (0 for a cut).
    """

    time_s: float
    kind: AnchorKind
    strength: float
    label: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class InputSource:
    """Where a timeline came from, enough to read it again unchanged."""

    path: str
    format: str  # OTIO adapter name, or "video" for a plain video file
    rate_override: float | None = None


@dataclass(frozen=True)
class Timeline:
    """The editor's cut as VidMusician sees it.

    Attributes
    ----------
    name : str
    rate : float > 0
        Frames per second of the record side.
    duration_frames : int > 0
    start_timecode : str
        Timecode of the first frame (e.g. ``01:00:00:00``); record times in
        this package are counted from that frame, not from 00:00:00:00.
    shots : tuple of Shot
        Edit points of the composited picture, in order, covering the whole
        duration.
    markers : tuple of Marker
    anchors : tuple of Anchor
        Cuts, transitions, markers (and for a plain video, detected scenes),
        sorted by time.
    source : InputSource
    warnings : tuple of str
        Things the user should know that did not stop reading.
    """

    name: str
    rate: float
    duration_frames: int
    start_timecode: str
    shots: tuple[Shot, ...]
    markers: tuple[Marker, ...]
    anchors: tuple[Anchor, ...]
    source: InputSource
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return self.duration_frames / self.rate

    @property
    def missing_media(self) -> tuple[str, ...]:
        """Referenced local media that cannot be found, each once, in order."""
        seen: dict[str, None] = {}
        for s in self.shots:
            if s.media and not s.media_found:
                seen.setdefault(s.media, None)
        return tuple(seen)

    def cut_frames(self) -> tuple[int, ...]:
        """Record frames of every edit point between shots."""
        return tuple(s.start_frame for s in self.shots[1:])


@dataclass(frozen=True)
class MotionCurve:
    """Motion over the whole timeline in record time, on a fixed hop.

    Attributes
    ----------
    hop_s : float
        Seconds between values (1/25 s by default); value i is at ``i * hop_s``.
    values : ndarray [shape=(n,)]
        Motion intensity in [0, 1]: ``1 - exp(-m / 0.25)`` of the total motion
        ``m`` in frame widths per second (a pan across the frame in 4 s gives
        m = 0.25, intensity 0.63). 0 over gaps and unanalysed shots.
    camera, object : ndarray [shape=(n,)]
        Camera motion (global affine part of the flow) and object motion (the
        residual), frame widths per second.
    direction : ndarray [shape=(n,)]
        Angle of the mean motion vector, radians (0 = right, pi/2 = down);
        NaN where nearly still.
    """

    hop_s: float
    values: Any
    camera: Any
    object: Any
    direction: Any

    def at(self, time_s: float) -> float:
        """Intensity at ``time_s`` (nearest hop)."""
        i = int(round(time_s / self.hop_s))
        return float(self.values[min(max(i, 0), len(self.values) - 1)]) if len(self.values) else 0.0


@dataclass(frozen=True)
class ShotFeatures:
    """What one shot looks like and how it feels (no model weights).

    Attributes
    ----------
    index : int
        The shot's index in the timeline.
    analysed : bool
        False when its picture could not be read (gap, missing media, bad
        range); then only ``cut_rate`` is measured and the mood rests on it.
    descriptors : dict of str -> float
        brightness, contrast, saturation, colourfulness (0..1), warmth (-1..1),
        motion, motion_peak, camera_motion, object_motion (frame widths per
        second), motion_level (0..1), cut_rate (edits per minute around the
        shot), faces (share of sampled frames with a face, 0..1).
    valence, arousal : float in [-1, 1]
        Mood estimate (formula in ``core/analysis/semantics.py``).
    style : str
        Suggested music style.
    prompt : tuple of str
        A few mood words ("dark", "calm", "energetic", ...).
    """

    index: int
    analysed: bool
    descriptors: dict[str, float]
    valence: float
    arousal: float
    style: str
    prompt: tuple[str, ...]
    tags: tuple[str, ...] = ()  # zero-shot CLIP mood and genre words, when CLIP ran


@dataclass(frozen=True)
class VideoFeatures:
    """Everything analysis found, for the planner and the backends.

    ``timeline`` is the input's (for a plain video, already cut into its
    scenes); ``anchors`` holds the timeline's anchors plus the detected
    ``scene`` cuts and ``motion`` beats, sorted by time.
    """

    timeline: Timeline
    motion: MotionCurve
    shots: tuple[ShotFeatures, ...]
    anchors: tuple[Anchor, ...]
    warnings: tuple[str, ...] = ()
    clip: Any = None  # neural.clip.ClipFeatures when a CLIP checkpoint was given


@dataclass(frozen=True)
class Provenance:
    """What a take records about how its music was made (``session.json``'s take).

    Attributes
    ----------
    backend : str
        The registry name of the backend (``arranger``, ``musicgen``, ...).
    style : str
        The style the music was made in.
    key : str
        The key it is in ("D minor"), empty when unknown.
    seed : int
        The take's seed (a regeneration keeps its base take's).
    model : str | None
        The checkpoint a neural backend loaded.
    soundfont : str | None
        The SoundFont's file name (the arranger).
    bar_seeds : dict of int -> int
        Bars written on their own seeds by regenerations (the arranger).
    range_seed : int | None
        A regeneration's seed for its range (the one it used, when it drew again).
    extra : dict of str -> Any
        The backend's own record fields (MusicGen: ``adapters``, ``text``).
    """

    backend: str
    style: str
    key: str = ""
    seed: int = 0
    model: str | None = None
    soundfont: str | None = None
    bar_seeds: dict[int, int] = field(default_factory=dict)
    range_seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Music:
    """What a backend made, one type for every backend.

    Attributes
    ----------
    mix : Audio [shape=(2, n)]
        float32 at 48 kHz from the timeline's first frame (a long arrangement's
        is a ``blockaudio.DiskAudio``, read in blocks).
    stems : dict of str -> Audio [shape=(2, n)]
        The parts, same rate, length and start as ``mix`` (empty for MusicGen).
    midi : pretty_midi.PrettyMIDI | None
        The notes (the arranger).
    provenance : Provenance
    plan : RhythmPlan | None
        The plan the music follows when it is not the score's (MusicGen's is
        the one its music was fitted to).
    matched : bool
        A regeneration whose new range already matches the base take's level
        (spliced without a loudness-matching gain).
    warnings : tuple of str
    """

    mix: Any
    stems: dict[str, Any]
    midi: Any
    provenance: Provenance
    plan: Any = None
    matched: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendSettings:
    """What a backend reads of the options (``score.ScoreOptions``).

    ``style`` is the style planning chose (None while the options are only
    being checked, before analysis); ``seed`` the seed to generate with.
    """

    style: str | None
    prompt: str = ""
    seed: int = 0
    key: str | None = None
    meter: str = "4/4"
    soundfont: str | None = None
    model: str | None = None
    adapters: str | None = None
    loudness: float | None = None  # the mix's integrated loudness, LUFS (``--loudness``; None: the backend's)
    soundfont_source: str | None = None  # None: ``--soundfont``; "config FILE": the config file


@dataclass(frozen=True)
class Span:
    """A range of a take to make again (``regenerate``).

    Attributes
    ----------
    start_s : float
        Its start, a bar line, seconds from the first frame.
    end_s : float | None
        Its end, a bar line, or None for the music's end.
    seed : int
        The new seed.
    seed_given : bool
        True when the user chose ``seed`` (a backend warns rather than draws again).
    shot : int
        The shot it lies under.
    base : dict
        The base take's record (``session.json``).
    draw : numpy.random.Generator
        Where a backend draws further seeds from.
    replan : callable () -> RhythmPlan
        The plan the base take was made on, made again and checked against
        the stored one (raises ``InputError`` when the grid changed).
    base_mix : callable () -> ndarray [shape=(2, n)]
        The base take's mix, float32 at 48 kHz.
    """

    start_s: float
    end_s: float | None
    seed: int
    seed_given: bool
    shot: int
    base: dict[str, Any]
    draw: Any
    replan: Any
    base_mix: Any


@dataclass(frozen=True)
class Meter:
    """A time signature: ``beats`` per bar, each divided into ``subdivision`` grid steps."""

    name: str
    beats: int
    subdivision: int

    @property
    def steps(self) -> int:
        return self.beats * self.subdivision


METERS = {"4/4": Meter("4/4", 4, 4), "3/4": Meter("3/4", 3, 4), "6/8": Meter("6/8", 2, 3)}
