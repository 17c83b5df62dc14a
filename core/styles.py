"""The one style registry: every music style is one :class:`Style` record.

Everything that knows about styles reads this table: the analysis' mood ->
style quadrant (:func:`style_for_mood`), the planner's tempo ranges, the
arranger's instruments, grooves, harmony and keys, the prompt words that name
a style, the plot's and the panel's colours, the ``--style`` choices (the
options table, hence the CLI, the config file and the panel) and the neural
conditioning's one-hot style vector. Adding a style is adding one record to
:data:`BUILTIN` (or calling :func:`register` at run time); nothing else.

The order of the records is part of trained neural adapters: the descriptor
vector carries a one-hot style in this order, and adapters store the list
they were trained with (see ``neural.conditioning.style_order``). Append new
styles at the end; never reorder or rename the built-in ones.

This module imports nothing heavy (the errors module only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, overload

from .errors import OptionError

#: Valence bands of the mood grid: negative (<= -0.2), neutral (in between), positive (>= 0.2).
VALENCE_BANDS = ("negative", "neutral", "positive")
#: Arousal bands of the mood grid: low (< -0.2), mid (-0.2 up to 0.45), high (>= 0.45).
AROUSAL_BANDS = ("low", "mid", "high")
VALENCE_SPLIT = (-0.2, 0.2)
AROUSAL_SPLIT = (-0.2, 0.45)

HARMONY_RHYTHMS = ("block", "arp8", "offbeat", "strum")
_PATTERN = re.compile(r"^[x.]{16}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


#: The ``fill`` vocabularies of :class:`Groove`.
FILLS = ("toms", "roll", "pickup", "none")
_ACCENT = re.compile(r"^[0-9]{16}$")


@dataclass(frozen=True, kw_only=True)
class Groove:
    """How a style's band plays its patterns: accents, ornaments, feel and fills
    (the arranger's :mod:`~vidmusician.core.backends.arranger.groove`).

    Attributes
    ----------
    kick_accent, snare_accent, hats_accent : str
        Velocity maps: 16 digits per 4/4 bar (sixteenths), digit ``d`` scales
        the hit's velocity by ``(d + 1) / 10`` (9: full, 4: half). The hats'
        map also shapes the ride and the percussion.
    ghosts : float
        Chance (0..1, at full intensity) of a snare ghost note (velocity 20-40)
        on each sixteenth next to a backbeat.
    open_hat : float
        Chance (0..1) of an open hat on the last off-beat of an ordinary bar;
        a style with any (> 0) always opens it before a fill's phrase end.
    ride : bool
        The ride cymbal instead of the closed hats in B sections and intense bars.
    perc, perc_steps : int, str
        A General MIDI percussion key (54 tambourine, 69 cabasa, 70 maracas,
        39 hand clap; 0: none) and its 16-step pattern (``"x"`` / ``"."``).
    swing : float
        Where the off-beat of each pair falls, as a share of the pair
        (0.5 straight, 0.66 triplet swing; 0.5..0.75).
    swing_unit : 8 | 16
        The pairs that swing: eighths in a beat (8) or sixteenths in an eighth (16).
    jitter_ms : float
        Std of the drums' random timing (ms, 0..15); the pitched parts get half.
    kick_ms, snare_ms, hats_ms, bass_ms, comp_ms : float
        Each instrument's place against the beat (ms, + behind, -: ahead);
        ``comp_ms`` is the harmony's and the lead's.
    fill : "toms" | "roll" | "pickup" | "none"
        The fill vocabulary at phrase ends and section changes.
    fill_every : int
        Bars per phrase: a fill ends each (of one beat; of two every 8 bars
        and before a section change).
    """

    kick_accent: str = "9666866686668666"
    snare_accent: str = "5555955555559555"
    hats_accent: str = "8464846484648464"
    ghosts: float = 0.0
    open_hat: float = 0.0
    ride: bool = False
    perc: int = 0
    perc_steps: str = "................"
    swing: float = 0.5
    swing_unit: int = 8
    jitter_ms: float = 0.0
    kick_ms: float = 0.0
    snare_ms: float = 0.0
    hats_ms: float = 0.0
    bass_ms: float = 0.0
    comp_ms: float = 0.0
    fill: str = "pickup"
    fill_every: int = 4

    def __post_init__(self) -> None:
        for name in ("kick_accent", "snare_accent", "hats_accent"):
            if not _ACCENT.match(getattr(self, name)):
                raise OptionError(f"groove {name} {getattr(self, name)!r}: 16 digits 0-9.")
        if not _PATTERN.match(self.perc_steps) or not (self.perc == 0 or 35 <= self.perc <= 81):
            raise OptionError(
                "groove perc: 0 or a General MIDI percussion key 35-81, perc_steps 16 of x and '.'."
            )
        if not (0 <= self.ghosts <= 1 and 0 <= self.open_hat <= 1 and 0.5 <= self.swing <= 0.75):
            raise OptionError("groove: ghosts and open_hat lie in 0..1, swing in 0.5..0.75.")
        offsets = (self.kick_ms, self.snare_ms, self.hats_ms, self.bass_ms, self.comp_ms)
        if (
            self.swing_unit not in (8, 16)
            or not 0 <= self.jitter_ms <= 15
            or any(abs(o) > 30 for o in offsets)
        ):
            raise OptionError("groove: swing_unit 8 or 16, jitter_ms 0..15, offsets within 30 ms.")
        if self.fill not in FILLS or self.fill_every < 2:
            raise OptionError(f"groove fill {self.fill!r}: one of {', '.join(FILLS)}, fill_every at least 2.")


@dataclass(frozen=True, kw_only=True)
class MixSpec:
    """A style's mix (``arranger.mixing``). Parts in the order drums, bass, harmony, pad, lead.

    Attributes
    ----------
    levels : tuple of 5 float
        Each stem's loudness (LU, BS.1770 gated) relative to the others,
        measured on the rendered stem and set whatever the SoundFont: 0 is
        forward, -8 well under (a pad).
    sends : tuple of 5 float
        Each part's send (0..1, linear) into the one reverb every part shares.
    room : float
        The shared reverb's room size (0..1).
    duck_db : float
        The sidechain from the kick: the dip (dB, 0..12) of the pad and the
        harmony at each kick (the bass: half of it); 0: none.
    duck_release_ms : float
        How long the dip takes to recover (20..1000 ms).
    sub_db : float
        The sine sub under the bass notes (energy below 60 Hz), LU relative to
        the bass stem's level; -60 or less: none.
    """

    levels: tuple[float, float, float, float, float] = (0.0, -2.0, -3.0, -8.0, -3.0)
    sends: tuple[float, float, float, float, float] = (0.06, 0.0, 0.15, 0.3, 0.22)
    room: float = 0.6
    duck_db: float = 2.0
    duck_release_ms: float = 150.0
    sub_db: float = -8.0

    def __post_init__(self) -> None:
        if len(self.levels) != 5 or len(self.sends) != 5 or any(not -30 <= v <= 10 for v in self.levels):
            raise OptionError("mix: 5 levels (-30..10 LU), 5 sends: drums, bass, harmony, pad, lead.")
        if any(not 0.0 <= s <= 1.0 for s in self.sends) or not 0.0 <= self.room <= 1.0:
            raise OptionError("mix: sends and room lie in 0..1.")
        if not (0.0 <= self.duck_db <= 12.0 and 20.0 <= self.duck_release_ms <= 1000.0):
            raise OptionError("mix: duck_db 0..12 dB, duck_release_ms 20..1000.")


#: The bass figures of :class:`HarmonyMelody`.
BASS_FIGURES = ("drive", "pump", "root-fifth", "long", "whole", "walk")
#: The seventh chords of :class:`HarmonyMelody`: follow ``Style.sevenths``, none, V7 only, every degree.
SEVENTHS = ("", "none", "dominant", "diatonic")
#: The bass's approach notes into the next chord's root.
APPROACHES = ("none", "chromatic", "diatonic", "both")


@dataclass(frozen=True, kw_only=True)
class HarmonyMelody:
    """How a style writes its chords, its bass line and its topline (the
    arranger's ``harmony`` and ``melody`` modules).

    Attributes
    ----------
    sus2, sus4, add9 : tuple of int
        Scale degrees (1-7) whose chord replaces its third by the major second
        (sus2) or the perfect fourth (sus4), or adds the major ninth (add9).
        A colour that is not consonant on a degree (a sus4 that would be an
        augmented fourth, a minor ninth) is left out there.
    sevenths : "" | "none" | "dominant" | "diatonic"
        Seventh chords: ``""`` follows ``Style.sevenths`` (diatonic or none);
        none; a dominant seventh on a major V only; every degree (maj7, m7, V7).
    ninths : bool
        Seventh chords also carry their ninth (where it is a major ninth).
    power : bool
        The harmony part plays power chords (root and fifth, doubled), the pad the triads.
    flat_seven : bool
        Degree 7 of a major key is bVII (the mixolydian chord of rock), not vii dim.
    bass : "drive" | "pump" | "root-fifth" | "long" | "whole" | "walk"
        The bass figure: driving eighths on the root; off-beat eighths and
        octave pumping; root-fifth; long low roots; whole notes; root-fifth
        walking quarters with passing notes.
    bass_low : int
        The lowest MIDI note of the bass roots (28 = E1, the electric bass's
        lowest string): roots lie in the octave above it, fifths and octaves over them.
    approach : "none" | "chromatic" | "diatonic" | "both"
        The bass's approach note into the next chord's root, on the last
        eighth (or beat, walking) before a chord change.
    motif_bars : int
        The topline's motif: 1 or 2 bars; 0: the section's seed chooses.
    """

    sus2: tuple[int, ...] = ()
    sus4: tuple[int, ...] = ()
    add9: tuple[int, ...] = ()
    sevenths: str = ""
    ninths: bool = False
    power: bool = False
    flat_seven: bool = False
    bass: str = "root-fifth"
    bass_low: int = 28
    approach: str = "diatonic"
    motif_bars: int = 0

    def __post_init__(self) -> None:
        if any(not 1 <= d <= 7 for d in (*self.sus2, *self.sus4, *self.add9)):
            raise OptionError("harmony_melody: sus2, sus4 and add9 list scale degrees 1-7.")
        if self.sevenths not in SEVENTHS or self.approach not in APPROACHES:
            raise OptionError(f"harmony_melody: sevenths one of {SEVENTHS}, approach one of {APPROACHES}.")
        if self.bass not in BASS_FIGURES or not 28 <= self.bass_low <= 43:
            raise OptionError(f"harmony_melody: bass one of {', '.join(BASS_FIGURES)}, bass_low 28 (E1)..43.")
        if self.motif_bars not in (0, 1, 2):
            raise OptionError("harmony_melody: motif_bars 1, 2 or 0 (the seed chooses).")


#: What a style's ordinary hard cut gets (:class:`FormSpec`): a crash cymbal, or a staccato chord.
CUT_HITS = ("crash", "stab")
#: Whether a style's breakdowns drop the drums, thin them to a soft pulse, or keep them.
BREAKDOWN_DRUMS = ("out", "sparse", "keep")
#: The impact on strong cuts: kick, crash, low boom and stab; the same without the boom; or a stab.
IMPACTS = ("full", "soft", "stab")


@dataclass(frozen=True, kw_only=True)
class FormSpec:
    """A style's form (``arranger.form``): how the arrangement follows the picture.

    Attributes
    ----------
    intro_bars : int
        Bars of sparse intro (pad, and the bass if ``intro_bass``) before the
        drums enter; a strong cut inside them ends the intro early. 0: none.
    intro_bass : bool
        The bass plays in the intro.
    build_bars : int
        Bars of build before an impact (rising level, a snare roll in the
        last one, a riser). 0: no builds.
    breakdown_below : float
        Energy (0..1, per video) under which a run of two bars or more is a
        breakdown (pad, bass and lead). 0: no breakdowns.
    breakdown_drums : "out" | "sparse" | "keep"
        What the drums do in a breakdown.
    impact : "full" | "soft" | "stab"
        The impact on strong cuts (strength >= 0.9): kick + crash + a low boom
        + a stab; the same without the boom; a stab (and a crash) only.
    riser : bool
        A synthesised noise riser leads into each impact that has a build.
    cut_hit : "crash" | "stab"
        What every other hard cut gets.
    impact_gap_bars : int
        At least this many bars between two full impacts (the strong cuts in
        between get the ordinary cut hit): a boom on every cut of a fast cut
        is mud, not emphasis.
    contrast : float
        0..1: the share of a bar's energy that is its rank in the video (the
        rest is the picture's absolute motion), so quiet footage still uses
        the whole range and a calm film stays calmer than an action one.
    """

    intro_bars: int = 2
    intro_bass: bool = True
    build_bars: int = 2
    breakdown_below: float = 0.3
    breakdown_drums: str = "out"
    impact: str = "full"
    riser: bool = True
    cut_hit: str = "crash"
    impact_gap_bars: int = 4
    contrast: float = 0.75

    def __post_init__(self) -> None:
        if not (0 <= self.intro_bars <= 16 and 0 <= self.build_bars <= 4 and 1 <= self.impact_gap_bars <= 64):
            raise OptionError("form: intro_bars 0..16, build_bars 0..4, impact_gap_bars 1..64.")
        if not (0.0 <= self.breakdown_below <= 1.0 and 0.0 <= self.contrast <= 1.0):
            raise OptionError("form: breakdown_below and contrast lie in 0..1.")
        if (
            self.breakdown_drums not in BREAKDOWN_DRUMS
            or self.impact not in IMPACTS
            or self.cut_hit not in CUT_HITS
        ):
            raise OptionError(
                f"form: breakdown_drums one of {BREAKDOWN_DRUMS}, impact one of {IMPACTS}, "
                f"cut_hit one of {CUT_HITS}."
            )


@dataclass(frozen=True, kw_only=True)
class Style:
    """One music style: what every stage of the pipeline knows about it.

    Built by keyword only (``Style(name="rock", tempo=(110.0, 150.0), ...)``);
    the values are checked on construction (an ``OptionError`` says which).

    Attributes
    ----------
    name : str
        The ``--style`` name (lower case, no spaces: ``"lo-fi"``).
    tempo : (float, float)
        The planner's tempo range in BPM, slower first (20..300). The plan may
        widen it by 15% either side when that puts clearly more cuts on beats.
    colour : str
        ``"#rrggbb"``: the style's colour in ``analysis.png`` and the panel's
        timeline.
    moods : tuple of (valence band, arousal band)
        The cells of the analysis' mood grid that suggest this style
        (:data:`VALENCE_BANDS` x :data:`AROUSAL_BANDS`, see
        :func:`style_for_mood`). Empty: the picture never suggests it (only
        ``--style`` or a prompt word chooses it). A style registered later
        takes the cells it names from the earlier ones.
    prompt_words : tuple of str
        ``--prompt`` words that choose this style (``"epic"`` -> cinematic).
    mode : "major" | "minor"
        The arranger's default mode; the picture's mood may flip it per section.
    drums : int or None
        General MIDI drum kit program (bank 128, 0-based); None: no drums.
    bass, harmony, pad, lead : int
        General MIDI programs (0-based) of the arranger's parts.
    harmony_b, lead_b : int
        The harmony's and the lead's programs in B sections (-1: the same).
    kick, snare, hats : str
        Drum patterns: 16 steps per 4/4 bar (sixteenths), ``"x"`` a hit,
        ``"."`` a rest; other meters read the first steps they need.
    harmony_rhythm : "block" | "arp8" | "offbeat" | "strum"
        How the harmony part plays its chords.
    progressions_major, progressions_minor : tuple of tuple of int
        Chord progressions as scale degrees (1-7) of the mode; one is picked
        per cue.
    sevenths : bool
        Chords carry their seventh.
    bars_per_chord : int
        Bars each chord of a progression lasts.
    lead_density : float
        Chance (0..1) that a lead step sounds at full intensity.
    mix : MixSpec
        The mix: stem levels, reverb sends, sidechain, sub (:class:`MixSpec`).
    tonics_major, tonics_minor : tuple of int
        Six tonics (pitch classes, C = 0) per mode that suit the style's
        instruments, the best first (``arranger.keys``); empty: the acoustic
        style's.
    groove : Groove
        How the patterns are played: velocity maps, ghost notes, open hats,
        ride, percussion, swing, micro-timing and fills (:class:`Groove`).
    form : FormSpec
        The form: intro, builds, breakdowns, impacts and risers (:class:`FormSpec`).
    harmony_melody : HarmonyMelody
        Chord colour, the bass line and the topline (:class:`HarmonyMelody`).
    """

    name: str
    tempo: tuple[float, float]
    colour: str
    moods: tuple[tuple[str, str], ...] = ()
    prompt_words: tuple[str, ...] = ()
    # the arranger: instruments
    mode: str
    drums: int | None
    bass: int
    harmony: int
    pad: int
    lead: int
    harmony_b: int = -1
    lead_b: int = -1
    # grooves
    kick: str
    snare: str
    hats: str
    harmony_rhythm: str
    # harmony and voicing
    progressions_major: tuple[tuple[int, ...], ...]
    progressions_minor: tuple[tuple[int, ...], ...]
    sevenths: bool = False
    bars_per_chord: int = 1
    lead_density: float = 0.4
    mix: MixSpec = field(default_factory=MixSpec)
    tonics_major: tuple[int, ...] = field(default=())
    tonics_minor: tuple[int, ...] = field(default=())
    groove: Groove = field(default_factory=lambda: Groove())
    form: FormSpec = field(default_factory=FormSpec)
    harmony_melody: HarmonyMelody = field(default_factory=HarmonyMelody)

    def __post_init__(self) -> None:
        def bad(what: str) -> OptionError:
            return OptionError(f"style {self.name!r}: {what}")

        if not self.name or self.name != self.name.strip().lower() or " " in self.name:
            raise bad("a name is lower case, without spaces.")
        lo, hi = self.tempo
        if not (20 <= lo <= hi <= 300):
            raise bad(f"tempo {self.tempo}: two BPM between 20 and 300, the slower first.")
        if not _COLOUR.match(self.colour):
            raise bad(f"colour {self.colour!r}: write it #rrggbb.")
        for v, a in self.moods:
            if v not in VALENCE_BANDS or a not in AROUSAL_BANDS:
                raise bad(
                    f"mood cell ({v!r}, {a!r}): valence one of {VALENCE_BANDS}, arousal one of {AROUSAL_BANDS}."
                )
        if self.mode not in ("major", "minor"):
            raise bad(f"mode {self.mode!r}: major or minor.")
        programs = [self.bass, self.harmony, self.pad, self.lead] + (
            [self.drums] if self.drums is not None else []
        )
        if any(not 0 <= p <= 127 for p in programs) or any(
            not -1 <= p <= 127 for p in (self.harmony_b, self.lead_b)
        ):
            raise bad("General MIDI programs are 0..127 (-1 for harmony_b / lead_b: the same).")
        for part in ("kick", "snare", "hats"):
            if not _PATTERN.match(getattr(self, part)):
                raise bad(f"{part} {getattr(self, part)!r}: 16 steps of 'x' (hit) and '.' (rest).")
        if self.harmony_rhythm not in HARMONY_RHYTHMS:
            raise bad(f"harmony_rhythm {self.harmony_rhythm!r}: one of {', '.join(HARMONY_RHYTHMS)}.")
        for progs in (self.progressions_major, self.progressions_minor):
            if not progs or any(not p or any(not 1 <= d <= 7 for d in p) for p in progs):
                raise bad("progressions: at least one per mode, of scale degrees 1-7.")
        if self.bars_per_chord < 1 or not 0.0 <= self.lead_density <= 1.0:
            raise bad("bars_per_chord is at least 1 and lead_density lies in 0..1.")
        for tonics in (self.tonics_major, self.tonics_minor):
            if tonics and (len(tonics) < 4 or any(not 0 <= t <= 11 for t in tonics)):
                raise bad("tonics: none, or at least four (six is usual) pitch classes 0..11 per mode.")

    def tonics(self, mode: str) -> tuple[int, ...]:
        """The tonics for ``mode`` ("major" | "minor"); empty when the record lists none."""
        return self.tonics_major if mode == "major" else self.tonics_minor


#: The built-in styles, in the order the neural conditioning's one-hot uses (append only).
BUILTIN: tuple[Style, ...] = (
    Style(
        name="cinematic",
        harmony_melody=HarmonyMelody(sus2=(4,), add9=(1, 6), sevenths="none", bass="long", approach="none"),
        tempo=(70.0, 110.0),
        colour="#4c4c8a",
        mix=MixSpec(levels=(-3, -3, 0, -3, -2), sends=(0.15, 0.02, 0.3, 0.4, 0.3), room=0.85, duck_db=1),
        moods=(("negative", "mid"), ("negative", "low")),
        prompt_words=("epic", "cinematic", "dramatic", "dark"),
        mode="minor",
        drums=48,
        bass=43,
        harmony=48,
        pad=89,
        lead=60,
        harmony_b=49,
        lead_b=71,
        kick="x.........x.....",
        snare="....x.......x...",
        hats="........x.......",
        harmony_rhythm="block",
        progressions_major=((1, 5, 6, 4), (1, 4, 6, 5)),
        progressions_minor=((1, 6, 3, 7), (1, 4, 6, 5)),
        sevenths=False,
        bars_per_chord=2,
        lead_density=0.35,
        # strings ring in their open-string keys (D, G, A, C), horns prefer flats
        tonics_major=(2, 0, 7, 3, 5, 10),
        tonics_minor=(2, 0, 7, 4, 5, 1),
        groove=Groove(
            ghosts=0.0,
            ride=True,
            jitter_ms=6.0,
            snare_ms=2.0,
            bass_ms=3.0,
            comp_ms=2.0,
            fill="toms",
            fill_every=8,
        ),
        form=FormSpec(intro_bars=4, cut_hit="stab"),
    ),
    Style(
        name="corporate-upbeat",
        harmony_melody=HarmonyMelody(add9=(1,), sevenths="none", bass="root-fifth", approach="none"),
        tempo=(100.0, 128.0),
        colour="#f2b134",
        mix=MixSpec(levels=(0, -2, -2, -9, -3), room=0.5, sub_db=-5),
        moods=(("positive", "high"),),
        prompt_words=("corporate", "upbeat", "happy"),
        mode="major",
        drums=0,
        bass=33,
        harmony=0,
        pad=89,
        lead=11,
        harmony_b=4,
        lead_b=73,
        kick="x.......x.......",
        snare="....x.......x...",
        hats="x.x.x.x.x.x.x.x.",
        harmony_rhythm="offbeat",
        progressions_major=((1, 5, 6, 4), (1, 4, 5, 4), (6, 4, 1, 5)),
        progressions_minor=((1, 6, 3, 7),),
        sevenths=False,
        bars_per_chord=1,
        lead_density=0.5,
        # bright pop-piano keys
        tonics_major=(7, 2, 0, 9, 4, 5),
        tonics_minor=(9, 4, 11, 2, 6, 1),
        groove=Groove(
            ghosts=0.1,
            open_hat=0.25,
            perc=54,
            perc_steps="....x.......x...",
            jitter_ms=5.0,
            hats_ms=-2.0,
            bass_ms=2.0,
            comp_ms=1.0,
        ),
        form=FormSpec(build_bars=1, breakdown_drums="sparse", impact="soft", impact_gap_bars=8),
    ),
    Style(
        name="electronic",
        harmony_melody=HarmonyMelody(add9=(1, 6), sevenths="none", bass="pump", approach="none"),
        tempo=(118.0, 132.0),
        colour="#7a3fa0",
        mix=MixSpec(levels=(0, -1, -4, -7, -3), duck_db=6, duck_release_ms=180, sub_db=-20),
        moods=(("negative", "high"),),
        prompt_words=("electronic", "edm", "techno", "synth"),
        mode="minor",
        drums=25,
        bass=38,
        harmony=81,
        pad=90,
        lead=80,
        harmony_b=87,
        lead_b=84,
        kick="x...x...x...x...",
        snare="....x.......x...",
        hats="..x...x...x...x.",
        harmony_rhythm="arp8",
        progressions_major=((1, 5, 6, 4),),
        progressions_minor=((1, 6, 7, 1), (1, 4, 6, 7)),
        sevenths=False,
        bars_per_chord=1,
        lead_density=0.45,
        # the keys dance tracks sit in most (F minor, A minor, G minor, F# and C# minor)
        tonics_major=(5, 7, 9, 0, 2, 8),
        tonics_minor=(5, 9, 7, 6, 1, 2),
        groove=Groove(
            kick_accent="9555955595559555",
            hats_accent="5595559555955595",
            open_hat=0.5,
            perc=39,
            perc_steps="....x.......x...",
            jitter_ms=0.5,
            fill="roll",
            fill_every=8,
        ),
        form=FormSpec(intro_bars=4, impact_gap_bars=8),
    ),
    Style(
        name="ambient",
        harmony_melody=HarmonyMelody(
            sus2=(2, 5), add9=(1, 4, 6), sevenths="none", bass="whole", approach="none"
        ),
        tempo=(60.0, 90.0),
        colour="#7fb8c9",
        mix=MixSpec(levels=(0, -6, -2, 0, -4), sends=(0.2, 0.05, 0.4, 0.5, 0.45), room=0.9, duck_db=0),
        moods=(("neutral", "low"), ("positive", "low")),
        prompt_words=("ambient", "calm", "dreamy"),
        mode="major",
        drums=None,
        bass=32,
        harmony=88,
        pad=89,
        lead=91,
        harmony_b=92,
        lead_b=79,
        kick="................",
        snare="................",
        hats="................",
        harmony_rhythm="block",
        progressions_major=((1, 4, 1, 5), (1, 6, 4, 5)),
        progressions_minor=((1, 6, 4, 5),),
        sevenths=True,
        bars_per_chord=2,
        lead_density=0.2,
        # pads and choir: any key reads well; mid-register tonics keep the pad clear
        tonics_major=(4, 2, 6, 1, 9, 0),
        tonics_minor=(1, 6, 4, 2, 11, 9),
        groove=Groove(jitter_ms=3.0, fill="none"),
        form=FormSpec(intro_bars=4, intro_bass=False, breakdown_below=0.4, impact="stab", cut_hit="stab"),
    ),
    Style(
        name="rock",
        harmony_melody=HarmonyMelody(
            sevenths="none", power=True, flat_seven=True, bass="drive", approach="chromatic"
        ),
        tempo=(110.0, 150.0),
        colour="#c0392b",
        mix=MixSpec(levels=(0, -2, -1, -9, -3), sends=(0.05, 0, 0.1, 0.25, 0.18), room=0.45, duck_db=1.5),
        moods=(("neutral", "high"),),
        prompt_words=("rock", "sport", "sports", "action"),
        mode="major",
        drums=0,
        bass=34,
        harmony=29,
        pad=48,
        lead=30,
        harmony_b=27,
        lead_b=29,
        kick="x.....x.x.......",
        snare="....x.......x...",
        hats="x.x.x.x.x.x.x.x.",
        harmony_rhythm="strum",
        progressions_major=((1, 7, 4, 1), (1, 4, 5, 4), (6, 4, 1, 5)),
        progressions_minor=((1, 7, 6, 7), (1, 6, 7, 1)),
        sevenths=False,
        bars_per_chord=1,
        lead_density=0.5,
        # guitar keys: open low strings (E, A, D) under the chords
        tonics_major=(4, 9, 2, 7, 0, 11),
        tonics_minor=(4, 9, 11, 2, 6, 7),
        groove=Groove(
            hats_accent="9575957595759575",
            ghosts=0.15,
            open_hat=0.3,
            ride=True,
            jitter_ms=6.0,
            snare_ms=3.0,
            hats_ms=-2.0,
            bass_ms=2.0,
            comp_ms=3.0,
            fill="toms",
        ),
        form=FormSpec(intro_bars=1, build_bars=1, breakdown_drums="sparse", impact="soft"),
    ),
    Style(
        name="lo-fi",
        harmony_melody=HarmonyMelody(sevenths="diatonic", ninths=True, bass="walk", approach="both"),
        tempo=(70.0, 95.0),
        colour="#9c8a6b",
        mix=MixSpec(levels=(-1, -2, 0, -8, -4), room=0.5),
        moods=(("neutral", "mid"),),
        prompt_words=("lofi", "lo-fi", "chill", "jazzy"),
        mode="major",
        drums=0,
        bass=33,
        harmony=4,
        pad=89,
        lead=11,
        harmony_b=11,
        lead_b=66,
        kick="x......x..x.....",
        snare="....x.......x...",
        hats="x.x.x.x.x.x.x.x.",
        harmony_rhythm="offbeat",
        progressions_major=((2, 5, 1, 6), (1, 6, 2, 5)),
        progressions_minor=((1, 4, 7, 3),),
        sevenths=True,
        bars_per_chord=1,
        lead_density=0.3,
        # electric piano and vibes: the flat keys of jazz harmony
        tonics_major=(5, 10, 3, 8, 1, 0),
        tonics_minor=(0, 5, 7, 2, 10, 3),
        groove=Groove(
            kick_accent="9555555765855555",
            snare_accent="5555855555558555",
            hats_accent="7353635373536353",
            ghosts=0.35,
            open_hat=0.15,
            perc=69,
            perc_steps="..x...x...x...x.",
            swing=0.60,
            jitter_ms=7.0,
            snare_ms=8.0,
            hats_ms=3.0,
            bass_ms=6.0,
            comp_ms=5.0,
        ),
        form=FormSpec(build_bars=1, breakdown_drums="sparse", impact="stab", riser=False, cut_hit="stab"),
    ),
    Style(
        name="acoustic",
        harmony_melody=HarmonyMelody(
            sus4=(5,), add9=(1, 4), sevenths="none", bass="walk", approach="diatonic"
        ),
        tempo=(80.0, 120.0),
        colour="#6a9f4a",
        mix=MixSpec(levels=(-4, -3, 0, -8, -3), duck_db=1, sub_db=-6),
        moods=(("positive", "mid"),),
        prompt_words=("acoustic", "folk", "warm"),
        mode="major",
        drums=0,
        bass=32,
        harmony=25,
        pad=48,
        lead=73,
        harmony_b=24,
        lead_b=75,
        kick="x.......x.......",
        snare="....x.......x...",
        hats="x...x...x...x...",
        harmony_rhythm="arp8",
        progressions_major=((1, 4, 6, 5), (1, 5, 6, 4)),
        progressions_minor=((1, 6, 3, 7),),
        sevenths=False,
        bars_per_chord=1,
        lead_density=0.4,
        # steel-string and nylon guitar keys
        tonics_major=(7, 2, 0, 9, 4, 5),
        tonics_minor=(4, 9, 11, 2, 6, 7),
        groove=Groove(
            hats_accent="8565756585657565",
            ghosts=0.25,
            perc=70,
            perc_steps="x.x.x.x.x.x.x.x.",
            swing=0.58,
            jitter_ms=6.0,
            snare_ms=4.0,
            bass_ms=4.0,
            comp_ms=4.0,
        ),
        form=FormSpec(build_bars=1, impact="stab", riser=False, cut_hit="stab", impact_gap_bars=8),
    ),
)

#: The built-in names, in order: the style list of adapters saved before they recorded theirs.
BUILTIN_NAMES: tuple[str, ...] = tuple(s.name for s in BUILTIN)
#: The style whose keys serve a record that lists none.
FALLBACK_TONICS = "acoustic"

_registry: dict[str, Style] = {s.name: s for s in BUILTIN}
_version = 0  # bumped by register / unregister: the views rebuild


def register(style: Style, replace: bool = False) -> Style:
    """Add ``style`` to the registry (after the others) and return it.

    A name already registered is refused unless ``replace`` (a built-in style
    is never replaced). Its mood cells and prompt words take precedence over
    the earlier styles'. The options table, the CLI and the panel read the
    registry when they are built, so the new name is a ``--style`` choice from
    then on.
    """
    global _version
    if not isinstance(style, Style):
        raise OptionError(f"register: a Style record, not {type(style).__name__}.")
    if style.name in _registry:
        if style.name in BUILTIN_NAMES:
            raise OptionError(f"style {style.name!r} is built in: register a new name.")
        if not replace:
            raise OptionError(f"style {style.name!r} is registered already (replace=True to swap it).")
        del _registry[style.name]
    _registry[style.name] = style
    _version += 1
    return style


def unregister(name: str) -> None:
    """Remove a style added by :func:`register` (the built-in ones stay)."""
    global _version
    if name in BUILTIN_NAMES:
        raise OptionError(f"style {name!r} is built in and cannot be removed.")
    if name not in _registry:
        raise OptionError(f"unknown style '{name}': choose one of {', '.join(_registry)}.")
    del _registry[name]
    _version += 1


def get(name: str) -> Style:
    """The record of ``name``; an ``OptionError`` that lists the choices otherwise."""
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown style '{name}': choose one of {', '.join(_registry)}.") from None


def names() -> tuple[str, ...]:
    """The registered names, built-in first, in registry order."""
    return tuple(_registry)


def all_styles() -> tuple[Style, ...]:
    """The registered records, in registry order."""
    return tuple(_registry.values())


def valence_band(valence: float) -> str:
    """``"negative"`` (<= -0.2), ``"positive"`` (>= 0.2) or ``"neutral"``."""
    return (
        "negative"
        if valence <= VALENCE_SPLIT[0]
        else "positive"
        if valence >= VALENCE_SPLIT[1]
        else "neutral"
    )


def arousal_band(arousal: float) -> str:
    """``"high"`` (>= 0.45), ``"mid"`` (>= -0.2) or ``"low"``."""
    return "high" if arousal >= AROUSAL_SPLIT[1] else "mid" if arousal >= AROUSAL_SPLIT[0] else "low"


def style_for_mood(valence: float, arousal: float) -> str:
    """The style whose mood cell holds (valence, arousal), both in [-1, 1].

    With the built-in styles:

    ============  ==================  =================  ==================
    arousal       valence <= -0.2     in between         valence >= 0.2
    ============  ==================  =================  ==================
    >= 0.45       electronic          rock               corporate-upbeat
    -0.2..0.45    cinematic           lo-fi              acoustic
    < -0.2        cinematic           ambient            ambient
    ============  ==================  =================  ==================
    """
    cells = _cells()
    return cells.get((valence_band(valence), arousal_band(arousal)), next(iter(_registry)))


_T = TypeVar("_T")
_cache: dict[str, tuple[int, object]] = {}


def _cached(key: str, build: Callable[[], _T]) -> _T:
    hit = _cache.get(key)
    if hit is None or hit[0] != _version:
        hit = (_version, build())
        _cache[key] = hit
    return hit[1]  # type: ignore[return-value]


def _cells() -> dict[tuple[str, str], str]:
    def build() -> dict[tuple[str, str], str]:
        return {cell: s.name for s in _registry.values() for cell in s.moods}  # later ones win

    return _cached("cells", build)


class Live(Mapping[str, _T]):
    """A read-only mapping from style names (or prompt words) to one field,
    rebuilt from the registry whenever it changes: the tables that other
    modules keep (``rhythm.STYLE_TEMPO``, ``analysis.plot.STYLE_COLOURS``, ...)."""

    def __init__(self, key: str, build: Callable[[], dict[str, _T]]):
        self._key, self._build = key, build

    def _data(self) -> dict[str, _T]:
        return _cached(self._key, self._build)

    def __getitem__(self, k: str) -> _T:
        return self._data()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data()!r})"


class Names(Sequence[str]):
    """The registered style names as a live, read-only sequence (the
    ``--style`` choices): it reads the registry each time it is used."""

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return names()[i]

    def __len__(self) -> int:
        return len(_registry)

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __contains__(self, x: object) -> bool:
        return x in _registry

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return repr(names())


#: The names, live.
NAMES = Names()
#: name -> tempo range (BPM).
TEMPO: Live[tuple[float, float]] = Live("tempo", lambda: {s.name: s.tempo for s in _registry.values()})
#: name -> colour (``#rrggbb``).
COLOURS: Live[str] = Live("colour", lambda: {s.name: s.colour for s in _registry.values()})
#: name -> record.
RECORDS: Live[Style] = Live("records", lambda: dict(_registry))
#: prompt word -> name (a later style's words win).
PROMPT_WORDS: Live[str] = Live(
    "prompt", lambda: {w: s.name for s in _registry.values() for w in s.prompt_words}
)
