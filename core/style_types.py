"""The style records' types: :class:`Style` and the parts a style sets for each
stage of the arranger (:class:`Groove`, :class:`MixSpec`, :class:`HarmonyMelody`,
:class:`FormSpec`), with the vocabularies they are checked against.

The registry is :mod:`vidmusician.core.styles`; the built-in records are in
:mod:`vidmusician.core.style_builtin`. This module imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    energy_db : float
        The level envelope (``arranger.envelope``): dB between a beat of
        energy 0 (the picture's calmest) and one of energy 1 (its busiest),
        the same gain on every stem before the bus, ramping between beats
        (0..12; 0: none).
    widths : tuple of 5 float
        Each part's stereo width as synthesised: the gain (0..2) on its side
        signal (L - R) / 2; 0: mono, 1: as the SoundFont renders it.
    doubles : tuple of 5 float
        Each part's stereo double (0..1): its centre, delayed 14 ms and
        high-passed, added as side signal at this gain; width from a mono
        part that stays centred (two noise-like channels at 0.33: L/R
        correlation 0.8). 0: none.
    reverb_width : float
        The reverb return's width (0..1): 1 as wide as the reverb makes it, 0
        mono (a wide room under a centred mix, or a narrow one).
    low_shelf_db : tuple of 5 float
        Each part's low shelf (dB, -12..12) under 90 Hz, before its level is
        set: GM kicks and basses are thin there, an 808's boom is not; 0: flat.
    hit_dip_db : float
        The breath before each hit of the form (``arranger.hitpoint``): the
        held parts dip this far (dB, 0..18) in the last 90 ms before an impact
        (crashes and stabs: 70% of it) and are back on the hit; 0: none.
    """

    levels: tuple[float, float, float, float, float] = (0.0, -2.0, -3.0, -8.0, -3.0)
    sends: tuple[float, float, float, float, float] = (0.06, 0.0, 0.15, 0.3, 0.22)
    room: float = 0.6
    duck_db: float = 2.0
    duck_release_ms: float = 150.0
    sub_db: float = -8.0
    energy_db: float = 7.0
    widths: tuple[float, float, float, float, float] = (0.8, 0.0, 0.7, 0.55, 0.5)
    doubles: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    reverb_width: float = 1.0
    low_shelf_db: tuple[float, float, float, float, float] = (4.0, 3.0, 0.0, 0.0, 0.0)
    hit_dip_db: float = 6.0

    def __post_init__(self) -> None:
        if len(self.levels) != 5 or len(self.sends) != 5 or any(not -30 <= v <= 10 for v in self.levels):
            raise OptionError("mix: 5 levels (-30..10 LU), 5 sends: drums, bass, harmony, pad, lead.")
        if any(not 0.0 <= s <= 1.0 for s in self.sends) or not 0.0 <= self.room <= 1.0:
            raise OptionError("mix: sends and room lie in 0..1.")
        if not (0.0 <= self.duck_db <= 12.0 and 20.0 <= self.duck_release_ms <= 1000.0):
            raise OptionError("mix: duck_db 0..12 dB, duck_release_ms 20..1000.")
        if not 0.0 <= self.energy_db <= 12.0:
            raise OptionError("mix: energy_db 0..12 dB.")
        if len(self.widths) != 5 or len(self.doubles) != 5 or any(not 0.0 <= w <= 2.0 for w in self.widths):
            raise OptionError("mix: 5 widths (0..2) and 5 doubles: drums, bass, harmony, pad, lead.")
        if any(not 0.0 <= d <= 1.0 for d in self.doubles) or not 0.0 <= self.reverb_width <= 1.0:
            raise OptionError("mix: doubles and reverb_width lie in 0..1.")
        if len(self.low_shelf_db) != 5 or any(not -12.0 <= g <= 12.0 for g in self.low_shelf_db):
            raise OptionError("mix: 5 low shelves (-12..12 dB): drums, bass, harmony, pad, lead.")
        if not 0.0 <= self.hit_dip_db <= 18.0:
            raise OptionError("mix: hit_dip_db 0..18 dB.")


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
    breakdown_below: float = 0.15
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
