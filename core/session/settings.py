"""What ``score`` is asked for: :class:`ScoreOptions`, built from the options
table's settings (:func:`options_from`) or from a take's stored options
(:func:`options_from_record`), and the part a backend reads of them
(:func:`backend_settings`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import OptionError
from ..model import BackendSettings
from ..options import BY_NAME


@dataclass(frozen=True)
class ScoreOptions:
    """Everything ``score`` needs besides the input and the session folder.

    Each field is the options table's option of the same name
    (:data:`~vidmusician.core.options.OPTIONS`: its type, range and help);
    a take keeps them as its ``options`` record.

    Attributes
    ----------
    style : str, optional
        The music style (None: what the picture or the prompt suggests).
    prompt : str
        Words that steer style, mode and density (and MusicGen's text prompt).
    bpm : str, optional
        The tempo range ``"MIN-MAX"`` or one tempo, BPM (None: the style's).
    seed : int
        The arrangement's seed, 0 to 2**31 - 1: the same seed, the same music.
    key : str, optional
        The arranger's key (``"D minor"``, ``"F#m"``, ``"major"``; None: chosen).
    meter : str
        The time signature, ``"4/4"``, ``"3/4"`` ...
    flex : float
        Tempo freedom, 0 to 1 (0: one constant tempo that hits the most cuts).
    max_change : float
        The largest tempo change between beats, a fraction (0.06 = 6%).
    exact : bool
        Every hard cut on the grid within 1 ms (the exact planner) instead of a steady tempo.
    sync_window : float
        How near a beat a cut counts as on it, +- milliseconds.
    ring_out : float
        Seconds the music may ring on after the last frame.
    soundfont : str, optional
        An SF2/SF3 SoundFont file (None: the arranger's search, ``arranger.soundfont.find``).
    loudness : float
        The music's integrated loudness, LUFS (default -23: EBU R128's
        programme level, see the options table's ``loudness``).
    fmt : str
        The timeline format written beside the OTIO (option ``format``;
        ``"same"``: the input's).
    stem_tracks : bool
        Also put every stem on its own audio track.
    markers : str
        Timeline markers: ``"none"``, ``"downbeats"`` or ``"cuts"``.
    backend : str
        What writes the music: ``"arranger"`` or ``"musicgen"``.
    model : str, optional
        The MusicGen checkpoint (a folder, a cached Hugging Face name or ``"debug"``).
    adapters : str, optional
        A folder of trained VidMusician modules (``vidmusician train``).
    rate : float, optional
        Frames per second of an EDL (None: 24).
    scene_detector : str
        PySceneDetect's detector that finds the cuts of a plain video.
    scene_threshold : float, optional
        That detector's threshold (None: its own).
    cache : bool
        Reuse the analysis of media scanned before.
    clip : str, optional
        A local CLIP checkpoint for embeddings and zero-shot tags.
    """

    style: str | None = None
    prompt: str = ""
    bpm: str | None = None
    seed: int = 0
    key: str | None = None
    meter: str = "4/4"
    flex: float = 1.0
    max_change: float = 0.06
    exact: bool = False
    sync_window: float = 40.0
    ring_out: float = 2.0
    soundfont: str | None = None
    soundfont_source: str | None = None  # where soundfont came from: None (--soundfont) or "config FILE"
    loudness: float = -23.0
    fmt: str = "same"
    stem_tracks: bool = False
    markers: str = "none"
    backend: str = "arranger"
    model: str | None = None
    adapters: str | None = None
    rate: float | None = None
    scene_detector: str = "adaptive"
    scene_threshold: float | None = None
    cache: bool = True
    clip: str | None = None

    def check(self) -> None:
        """Refuse bad choices before any work."""
        from ..backends.arranger.styles import get_style
        from ..writeback import FORMATS

        for f in dataclasses.fields(self):  # the options table's types and ranges, as for a flag
            opt = BY_NAME.get("format" if f.name == "fmt" else f.name)
            if opt is not None:
                opt.check(getattr(self, f.name))
        if self.style:
            get_style(self.style)
        BY_NAME["backend"].check(self.backend)
        BY_NAME["markers"].check(self.markers)
        BY_NAME["key"].check(self.key)
        from .. import backends

        backends.get(self.backend).check(backend_settings(self, self.style))
        if self.fmt not in FORMATS:
            raise OptionError(f"--format {self.fmt}: choose one of {', '.join(FORMATS)}.")


def backend_settings(o: ScoreOptions, style: str | None) -> BackendSettings:
    """What the backend reads of ``o``, with the style planning chose."""
    return BackendSettings(
        style,
        o.prompt,
        o.seed,
        o.key,
        o.meter,
        o.soundfont,
        o.model,
        o.adapters,
        loudness=o.loudness,
        soundfont_source=o.soundfont_source,
    )


def options_from(settings: dict[str, Any]) -> ScoreOptions:
    """ScoreOptions from settings of the options table (``options.resolve``):
    what the command line and the panel both call."""
    names = {f.name for f in dataclasses.fields(ScoreOptions)}
    values = {("fmt" if k == "format" else k): v for k, v in settings.items()}
    values = {k: v for k, v in values.items() if k in names}
    values["prompt"] = values.get("prompt") or ""
    return ScoreOptions(**values)


def options_from_record(d: dict[str, Any]) -> ScoreOptions:
    """ScoreOptions from a take's stored ``options`` (keys it no longer knows are dropped).

    A take made before ``--loudness`` existed was levelled to -14 LUFS: it keeps that level."""
    names = {f.name for f in dataclasses.fields(ScoreOptions)}
    values = {k: v for k, v in d.items() if k in names}
    values.setdefault("loudness", LOUDNESS_BEFORE_THE_OPTION)
    return ScoreOptions(**values)


#: The level every take had before ``--loudness`` (the bus's fixed target then).
LOUDNESS_BEFORE_THE_OPTION = -14.0


def prompt_style(prompt: str | None) -> str | None:
    """The first style a prompt word names ("epic" -> cinematic), if any."""
    from ..backends.arranger.styles import PROMPT_STYLE

    for word in (prompt or "").lower().split():
        if word.strip(",.") in PROMPT_STYLE:
            return PROMPT_STYLE[word.strip(",.")]
    return None
