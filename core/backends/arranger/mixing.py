"""The mix: each part's channel strip, the shared reverb, the level calibration
per SoundFont and the sidechain from the kick.

Every step is per stem and linear in it (filters, a reverb, gains, a sum with
a sine layer), so the stems still sum to the mix and a cue rendered in blocks
(:func:`.render.render_long`) is the cue rendered whole, sample for sample:

1. :class:`Strip` (per part, after the synthesiser): EQ (a high-pass on the pad and the harmony so the bass owns the low
   end; a low shelf on the kick and the bass, thin in GM fonts), the stereo
   image (:data:`PAN` and the style's
   :attr:`~vidmusician.core.styles.MixSpec.widths`: the bass mono, the pad
   and the harmony spread as wide as the style wants), the stereo double
   (:attr:`~vidmusician.core.styles.MixSpec.doubles`: the part's centre
   delayed :data:`DOUBLE_MS` and high-passed, added as side signal: a wide
   image from a mono patch that stays centred and sums to mono unchanged,
   the overheads' spread on the drums' top end), and the return of the
   part's send into the one reverb every part shares (the same settings for
   all, its width the style's
   :attr:`~vidmusician.core.styles.MixSpec.reverb_width`, the part's send
   level in front of it: since the reverb is linear, each stem carries its
   own send's return). The mix's L/R correlation (0.80-0.95 in the issue's
   target) is set by these widths: the mono low end carries most of the
   energy, so the spread parts' side signal decides it.
2. :func:`calibration` (per part, once the stem is rendered): the gain that
   sets the stem's loudness (BS.1770, gated, measured on the rendered stem,
   block by block for long cues) to the style's balance
   (:attr:`~vidmusician.core.styles.MixSpec.levels`), whatever the SoundFont.
   A sine sub an octave or two under the bass notes (energy below 60 Hz,
   which General MIDI basses lack) joins the bass stem, calibrated on its own
   to the bass's level plus :attr:`~vidmusician.core.styles.MixSpec.sub_db`.
3. :func:`duck` (per part, per sample): the sidechain, a gain envelope from
   the kick's note times that dips the pad and the harmony (and the bass by
   half as much) by :attr:`~vidmusician.core.styles.MixSpec.duck_db` with a
   fast attack and a raised-cosine release.

The mix bus that follows (compressor, loudness, true peak) is :mod:`.master`'s.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ... import units
from ...styles import MixSpec
from . import hitpoint
from .compose import PARTS, Note, Score
from .envelope import LevelEnvelope, level_envelope

SR = units.OUTPUT_SR
KICKS = (35, 36)  # GM bass drums

#: The level (LUFS) a stem at balance 0 LU is calibrated to before the bus; the
#: bus then sets the mix's loudness, so only the differences between parts matter.
REFERENCE_LUFS = -20.0
#: Pan per part (-1 left .. 1 right, constant power); the width is the style's (MixSpec.widths).
PAN = {"drums": 0.0, "bass": 0.0, "harmony": -0.2, "pad": 0.15, "lead": 0.0}
#: The stereo double's delay (ms): past the comb's worst (a few ms), under an echo (~30 ms).
DOUBLE_MS = 14.0
#: The double's high-pass (Hz) per part, default :data:`DOUBLE_HIGH_PASS_HZ`: the low end
#: stays mono; on the drums only the top (hats, cymbals, the snare's crack) spreads.
DOUBLE_HIGH_PASS = {"drums": 4000.0}
DOUBLE_HIGH_PASS_HZ = 300.0
#: High-pass corner (Hz) per part; None: none. The pad and harmony leave the low end to the bass.
HIGH_PASS = {"harmony": 150.0, "pad": 180.0, "lead": 120.0}
#: The low shelf's corner (Hz); its gain per part is the style's (MixSpec.low_shelf_db: GM kicks
#: and basses are thin below 100 Hz, an 808's boom is not).
LOW_SHELF_HZ = 90.0
#: The shared reverb (pedalboard's freeverb): one set of settings for every part (its width the style's).
REVERB_DAMPING = 0.5
#: The send is high-passed here (Hz) before the reverb: no low-end wash.
SEND_HIGH_PASS = 250.0
#: The sub layer: each bass note's fundamental taken down by octaves into this band (Hz).
SUB_BAND = (32.0, 64.0)
SUB_ATTACK_S, SUB_RELEASE_S = 0.008, 0.06
#: The stems' (and the sub's) loudness for the calibration is metered on every
#: METER_STEP-th sample (.master.LoudnessMeter's ``step``: 24 kHz): half the work,
#: the reading within 0.005 LU of the full rate's on bench_music's 3-min cue (FluidR3) and
#: 0.023 LU on the demo's electronic drums (TimGM6mb), the most above 12 kHz.
METER_STEP = 2
#: The channel strip's float64 chain runs on pieces this long (samples): they stay in the cache.
PIECE = 32768
#: The sidechain's attack (s); the release is the style's.
DUCK_ATTACK_S = 0.004
#: Parts the kick ducks, with the share of the style's depth each gets.
DUCKED = {"pad": 1.0, "harmony": 1.0, "bass": 0.5}


def _shelf_sos(freq: float, gain_db: float) -> np.ndarray:
    """A second-order low shelf (RBJ cookbook, S = 1) as one SOS row."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / SR
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / 2 * math.sqrt(2.0)
    sa = 2 * math.sqrt(a) * alpha
    b0 = a * ((a + 1) - (a - 1) * cw + sa)
    b1 = 2 * a * ((a - 1) - (a + 1) * cw)
    b2 = a * ((a + 1) - (a - 1) * cw - sa)
    a0 = (a + 1) + (a - 1) * cw + sa
    a1 = -2 * ((a - 1) + (a + 1) * cw)
    a2 = (a + 1) + (a - 1) * cw - sa
    return np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]])


def _high_pass_sos(freq: float) -> np.ndarray:
    from scipy.signal import butter

    return np.asarray(butter(2, freq, "highpass", fs=SR, output="sos"), np.float64)


def part_eq(part: str, spec: MixSpec | None = None) -> np.ndarray | None:
    """The part's EQ in the style's mix ``spec`` (None: the default mix) as second-order sections (None: flat)."""
    shelf = float((spec or MixSpec()).low_shelf_db[PARTS.index(part)])
    rows = []
    if part in HIGH_PASS:
        rows.append(_high_pass_sos(HIGH_PASS[part]))
    if shelf != 0.0:
        rows.append(_shelf_sos(LOW_SHELF_HZ, shelf))
    return np.concatenate(rows) if rows else None


def image_matrix(pan: float, width: float) -> np.ndarray:
    """(2, 2): out = M @ (L, R). Mid/side with the side scaled by ``width``,
    then a constant-power pan (1, 1 at the centre)."""
    theta = (pan + 1) * math.pi / 4
    gl, gr = math.cos(theta) * math.sqrt(2), math.sin(theta) * math.sqrt(2)
    ms = np.array([[0.5 * (1 + width), 0.5 * (1 - width)], [0.5 * (1 - width), 0.5 * (1 + width)]])
    return np.diag([gl, gr]) @ ms


def sub_frequency(pitch: int) -> float:
    """The sub's frequency under a note of MIDI ``pitch``: its fundamental
    taken down by octaves into :data:`SUB_BAND` (E1, 41.2 Hz, stays)."""
    f = 440.0 * 2 ** ((pitch - 69) / 12)
    while f >= SUB_BAND[1]:
        f /= 2
    return f


@functools.lru_cache(maxsize=4)
def _release_curve(rel: int) -> np.ndarray:
    """The sub's release: a raised cosine of ``rel`` samples (float64, read-only)."""
    curve = 0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, rel))
    curve.setflags(write=False)
    return curve


def _sub_span(note: Note, level: float, lo: int, hi: int) -> np.ndarray:
    """Samples ``[lo, hi)`` (absolute indices, float64) of a note's sub: a
    sine with a short attack, held to the note's end, then a short release;
    each sample from its offset into the note alone, so any cut of the note
    gives the whole note's samples."""
    start = int(round(note.start * SR))
    hold = max(0, int(round(note.end * SR)) - start)
    rel = int(SUB_RELEASE_S * SR)
    t = np.arange(lo - start, hi - start) / SR
    env = np.minimum(1.0, t / SUB_ATTACK_S)
    if rel and hi - start > hold:
        k = max(hold, lo - start) - (lo - start)  # the first of t's samples in the release
        env[k:] *= _release_curve(rel)[lo - start + k - hold : hi - start - hold]
    amp = level * (note.velocity / 127.0)
    wave = amp * env
    wave *= np.sin(2 * math.pi * sub_frequency(note.pitch) * t)
    return wave


def _sub_note(note: Note, level: float) -> tuple[int, np.ndarray]:
    """A note's sub: its first sample and its samples (float64), a sine
    with a short attack, held to the note's end, then a short release."""
    a = int(round(note.start * SR))
    m = max(0, int(round(note.end * SR)) - a) + int(SUB_RELEASE_S * SR)
    return a, _sub_span(note, level, a, a + m)


def sub_layer(notes: list[Note], level: float, a: int, b: int) -> np.ndarray:
    """Samples ``[a, b)`` (float32, mono) of the sine sub under ``notes``.
    Each sample is computed from its offset into its note alone (the part
    of a note in the block, not the whole note), so any split into blocks
    gives the whole signal's samples."""
    out = np.zeros(max(0, b - a), np.float64)
    rel = int(SUB_RELEASE_S * SR)
    for note in notes:
        start = int(round(note.start * SR))
        if start >= b:
            continue
        lo, hi = max(a, start), min(b, start + max(0, int(round(note.end * SR)) - start) + rel)
        if hi > lo:
            out[lo - a : hi - a] += _sub_span(note, level, lo, hi)
    return out.astype(np.float32)


def kick_times(score: Score) -> np.ndarray:
    """The kick drum's note starts (s), sorted."""
    return np.array(sorted(n.start for n in score.parts.get("drums", ()) if n.pitch in KICKS), np.float64)


@functools.lru_cache(maxsize=8)
def _duck_shape(release_s: float) -> np.ndarray:
    """One kick's dip (0..1, float64, read-only) at samples 0, 1, ... after it:
    up over :data:`DUCK_ATTACK_S`, back along a raised cosine of ``release_s``."""
    att, rel = DUCK_ATTACK_S, max(release_s, 1e-3)
    t = np.arange(int(math.ceil((att + rel) * SR)) + 1) / SR
    e = np.where(
        t < att, t / att, np.where(t < att + rel, 0.5 + 0.5 * np.cos(math.pi * (t - att) / rel), 0.0)
    )
    e.setflags(write=False)
    return e


def duck(kicks_s: np.ndarray, depth_db: float, release_s: float, a: int, b: int) -> np.ndarray:
    """The sidechain's gain on samples ``[a, b)`` (float32): at each kick it
    falls over :data:`DUCK_ATTACK_S` to ``-depth_db`` dB, then comes back to
    exactly 1 along a raised cosine of ``release_s``; overlapping kicks: the
    deeper dip. Computed from the sample index alone (each kick's dip is one
    shape, :func:`_duck_shape`, placed at its sample), so blocks agree with
    the whole signal."""
    m = max(0, b - a)
    if depth_db <= 0 or len(kicks_s) == 0 or m == 0:
        return np.ones(m, np.float32)
    shape = _duck_shape(release_s)
    span = len(shape)
    env = np.zeros(m, np.float64)
    starts = np.round(kicks_s * SR).astype(np.int64)
    lo_k, hi_k = np.searchsorted(starts, [a - span, b])
    for s in starts[lo_k:hi_k].tolist():
        lo, hi = max(a, s), min(b, s + span)
        if hi > lo:
            np.maximum(env[lo - a : hi - a], shape[lo - s : hi - s], out=env[lo - a : hi - a])
    out = np.ones(m, np.float32)
    dipped = np.flatnonzero(env > 0.0)  # elsewhere the gain is 10 ** -0 == 1 exactly
    if len(dipped):
        out[dipped] = 10 ** (-depth_db * env[dipped] / 20)
    return out


class Double:
    """A part's stereo double, fed consecutive blocks: the side signal
    ``gain`` times the block's centre (L + R) / 2 delayed :data:`DOUBLE_MS`
    and high-passed at ``high_pass`` Hz; added to L and taken from R, it
    widens the part and leaves L + R (the mono sum) as it was. The delay
    line's and the filter's state carry across blocks."""

    def __init__(self, gain: float, high_pass: float = DOUBLE_HIGH_PASS_HZ) -> None:
        self.gain = gain
        self.line = np.zeros(int(round(DOUBLE_MS * SR / 1000)), np.float64)
        self.sos = _high_pass_sos(high_pass)
        self.zi = np.zeros((1, len(self.sos), 2))  # sosfilt's state, as master.sosfilt_inplace keeps it

    def side(self, x: np.ndarray) -> np.ndarray:
        """The side signal (m,) float64 for the next block ``x`` (2, m)."""
        from .master import sosfilt_inplace

        m, d = x.shape[1], len(self.line)
        both = np.empty(d + m)
        both[:d] = self.line
        np.add(x[0], x[1], out=both[d:])
        both[d:] *= 0.5
        self.line = both[m : m + d].copy()
        side = both[None, :m]
        sosfilt_inplace(self.sos, side, self.zi)
        side *= self.gain
        return side[0]


class Strip:
    """A part's channel strip (EQ, image, double, reverb return), fed its synthesised
    audio in consecutive blocks with :meth:`process` (the pedalboard-style
    ``process(audio, sr, reset=False)`` the block render calls); the
    filters' and the reverb's state carry across, and the output is metered
    (BS.1770) on the way for :func:`calibration`. ``n``: the stem's length."""

    def __init__(self, part: str, spec: MixSpec, n: int) -> None:
        import pedalboard

        from .master import LoudnessMeter

        self.part, self.spec = part, spec
        self.sos = part_eq(part, spec)
        self.zi = None if self.sos is None else np.zeros((2, len(self.sos), 2))  # (master.sosfilt_inplace)
        i = PARTS.index(part)
        self.image = image_matrix(PAN.get(part, 0.0), float(spec.widths[i]))
        self.double = (
            Double(float(spec.doubles[i]), DOUBLE_HIGH_PASS.get(part, DOUBLE_HIGH_PASS_HZ))
            if spec.doubles[i] > 0
            else None
        )
        self.send = float(spec.sends[i])
        self.reverb = (
            pedalboard.Reverb(
                room_size=spec.room,
                damping=REVERB_DAMPING,
                wet_level=1.0,
                dry_level=0.0,
                width=float(spec.reverb_width),
            )
            if self.send > 0
            else None
        )
        self.send_sos = _high_pass_sos(SEND_HIGH_PASS)
        self.send_zi = np.zeros((2, len(self.send_sos), 2))
        self.meter = LoudnessMeter(n, 2, SR, METER_STEP) if n > SR // 2 else None

    def process(self, audio: np.ndarray, sr: int = SR, reset: bool = False) -> np.ndarray:
        """The next block (2, m) float32 through the strip; (2, m) float32.
        The float64 chain (EQ, image, double, the send's filter) runs on
        pieces of :data:`PIECE` samples that stay in the cache, in place (the
        filters without copies), the numbers of the whole block computed
        expression by expression; the reverb and the meter take the block."""
        m = audio.shape[1]
        out = np.empty((2, m), np.float32)
        send = None if self.reverb is None else np.empty((2, m), np.float32)
        work = np.empty(4 * min(m, PIECE) + min(m, PIECE))  # x and y (2, k) each, and one row
        for lo in range(0, m, PIECE):
            hi = min(m, lo + PIECE)
            self._piece(audio[:, lo:hi], work, out[:, lo:hi], None if send is None else send[:, lo:hi])
        if self.reverb is not None and send is not None:
            out += self.reverb.process(send, SR, reset=False)
        if self.meter is not None:
            self.meter.feed(out)
        return out

    def _piece(self, audio: np.ndarray, work: np.ndarray, out: np.ndarray, send: np.ndarray | None) -> None:
        """The strip's float64 chain on ``audio`` (2, k) into ``out`` and (its
        filtered send) ``send``, ``work`` the scratch space."""
        from .master import sosfilt_inplace

        k = audio.shape[1]
        x, y, tmp = work[: 2 * k].reshape(2, k), work[2 * k : 4 * k].reshape(2, k), work[4 * k : 5 * k]
        np.copyto(x, audio)  # float32 to float64, as astype
        if self.sos is not None and self.zi is not None:
            sosfilt_inplace(self.sos, x, self.zi)
        (a, b), (c, d) = self.image
        np.add(np.multiply(x[0], a, out=y[0]), np.multiply(x[1], b, out=tmp), out=y[0])
        np.add(np.multiply(x[0], c, out=y[1]), np.multiply(x[1], d, out=tmp), out=y[1])
        if self.double is not None:
            side = self.double.side(y)
            y[0] += side
            y[1] -= side
        np.copyto(out, y, casting="same_kind")  # float64 to float32, as astype
        if send is not None:
            np.multiply(y, self.send, out=y)
            sosfilt_inplace(self.send_sos, y, self.send_zi)
            np.copyto(send, y, casting="same_kind")

    def loudness(self) -> float:
        """The integrated loudness (LUFS) of everything processed; -70 when too short."""
        return self.meter.result() if self.meter is not None else -70.0


def target_lufs(part: str, spec: MixSpec) -> float:
    """The loudness (LUFS) the part's stem is calibrated to before the bus."""
    return REFERENCE_LUFS + float(dict(zip(PARTS, spec.levels, strict=True))[part])


def calibration(part: str, spec: MixSpec, loudness: float) -> float:
    """The gain that takes a stem measured at ``loudness`` (LUFS) to its
    target (:func:`target_lufs`); 1 for a silent stem (-inf, or under -70)."""
    if not np.isfinite(loudness) or loudness < -70.0:
        return 1.0
    return float(10 ** ((target_lufs(part, spec) - loudness) / 20))


def sub_loudness(notes: list[Note], n: int, size: int) -> float:
    """The integrated loudness (LUFS) of the sub layer at level 1 (both
    channels), computed ``size`` samples at a time."""
    from .master import LoudnessMeter

    if n <= SR // 2 or not notes:
        return -np.inf
    meter = LoudnessMeter(n, 2, SR, METER_STEP)
    for a in range(0, n, size):
        meter.feed_mono(sub_layer(notes, 1.0, a, min(n, a + size)))  # on both channels
    return meter.result()


@dataclass(frozen=True)
class StemGains:
    """What the mix does to each rendered stem before the bus: its
    calibration gain, the sidechain, and (the bass) the sub layer, itself
    calibrated to the bass's target plus ``spec.sub_db``."""

    spec: MixSpec
    calibrations: dict[str, float]
    kicks_s: np.ndarray
    sub_notes: list[Note]
    sub_gain: float
    envelope: LevelEnvelope | None = None  # the form's level envelope (.envelope), on every stem alike
    #: the breaths before the form's hits (.hitpoint.dips), on the held parts
    hit_dips: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _cache: tuple[OrderedDict[tuple[object, ...], np.ndarray | None], threading.Lock] = field(
        default_factory=lambda: (OrderedDict(), threading.Lock()), init=False, compare=False, repr=False
    )

    def sidechain(self, part: str, a: int, b: int) -> np.ndarray:
        """The sidechain's gain (float32) on samples ``[a, b)`` of ``part``."""
        share = DUCKED.get(part, 0.0)
        if share == 0.0 or self.spec.duck_db <= 0 or len(self.kicks_s) == 0:
            return np.ones(max(0, b - a), np.float32)
        return duck(self.kicks_s, share * self.spec.duck_db, self.spec.duck_release_ms / 1000, a, b)

    def apply(self, part: str, a: int, v: np.ndarray) -> np.ndarray:
        """Samples ``[a, a + m)`` of ``part``'s stem, ``v`` (2, m) float32,
        with the mix applied (in place; returned): the calibration times the
        sidechain, and under the bass the sub (through the same sidechain).
        The gains every stem of a kind shares (the level envelope, the dips,
        the sidechain at one depth) are computed once per block for all of
        them (:meth:`_shared`): the same numbers as computed for each."""
        b = a + v.shape[1]
        share = DUCKED.get(part, 0.0) if self.spec.duck_db > 0 and len(self.kicks_s) else 0.0
        d = self._shared(share, self.hit_dips is not None and part in hitpoint.DIPPED, a, b)
        cal = np.float32(self.calibrations.get(part, 1.0))
        if d is None:  # a gain of exactly 1 on every sample
            np.multiply(v, cal, out=v)
        else:
            np.multiply(v, (d * cal)[None, :], out=v)
        if part == "bass" and self.sub_notes and self.sub_gain > 0:
            sub = sub_layer(self.sub_notes, self.sub_gain, a, b)
            if d is not None:
                sub *= d
            v += sub[None, :]
        return v

    def _cached(self, key: tuple[object, ...], make: Callable[[], np.ndarray | None]) -> np.ndarray | None:
        """``make()``, kept for the next calls with ``key`` (the last few blocks' gains)."""
        cache, lock = self._cache
        with lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = make()
        with lock:
            cache[key] = value
            while len(cache) > _CACHED:
                cache.popitem(last=False)
        return value

    def _shared(self, share: float, dipped: bool, a: int, b: int) -> np.ndarray | None:
        """The product of the sidechain at ``share`` of the depth, the level
        envelope and (``dipped``) the hit dips on ``[a, b)``, in that order, as
        every stem of that kind gets it (float32, not to be changed); None
        where it is 1 throughout."""

        def make() -> np.ndarray | None:
            d = None
            if share > 0.0:
                d = duck(self.kicks_s, share * self.spec.duck_db, self.spec.duck_release_ms / 1000, a, b)
            if self.envelope is not None:
                env = self._cached(("envelope", a, b), lambda: self.envelope.gain(a, b))  # type: ignore[union-attr]
                d = env if d is None else d * env
            if dipped:
                dips = self._cached(("dips", a, b), lambda: hitpoint.gain(self.hit_dips, a, b))  # type: ignore[arg-type]
                d = dips if d is None else d * dips
            return d

        return self._cached((share, dipped, a, b), make)


#: How many of the shared gains (:meth:`StemGains._shared`) are kept: a few blocks' worth.
_CACHED = 24


def stem_gains(spec: MixSpec, score: Score, loudness: dict[str, float], n: int, size: int) -> StemGains:
    """The stems' gains from their measured loudness (part -> LUFS, as
    :meth:`Strip.loudness` gives it); the sub layer measured ``size``
    samples at a time."""
    bass = [note for note in score.parts.get("bass", []) if note.pitch > 0]
    sub_gain = 0.0
    if bass and spec.sub_db > -60 and np.isfinite(loudness.get("bass", -np.inf)):
        sub_l = sub_loudness(bass, n, size)
        if np.isfinite(sub_l) and sub_l > -70:
            sub_gain = float(10 ** ((target_lufs("bass", spec) + spec.sub_db - sub_l) / 20))
    return StemGains(
        spec,
        {p: calibration(p, spec, v) for p, v in loudness.items()},
        kick_times(score),
        bass,
        sub_gain,
        level_envelope(score.levels, spec.energy_db, SR),
        hitpoint.dips(score.hits, spec.hit_dip_db),
    )
