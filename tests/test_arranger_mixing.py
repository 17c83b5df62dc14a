"""The arranger's mix and master (issue 17, item 4), on known answers.

The sidechain dips a part by the set amount at a kick and recovers; the
stems' levels after calibration are the style's balance with two different
SoundFonts; the stereo image and the sub layer are what their formulas say
(a part's width, its stereo double and the reverb return's width give the
L/R correlations their formulas give on noise; the sub's level is the
bass's plus ``sub_db``);
the bus compressor engages on the peaks; an AAC 128k round trip stays under
-1 dBTP at the loudest documented target; ``--loudness -16`` gives -16 LUFS
and is recorded in the take; the stems sum to the mix after all of it.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from vidmusician.core import demo
from vidmusician.core.backends.arranger import mixing
from vidmusician.core.backends.arranger.compose import Note, Score
from vidmusician.core.backends.arranger.styles import get_style
from vidmusician.core.styles import MixSpec

from .conftest import REPO

R = importlib.import_module("vidmusician.core.backends.arranger.render")
M = importlib.import_module("vidmusician.core.backends.arranger.master")
sys.path.insert(0, str(REPO / "benchmark"))
MEASURES = importlib.import_module("music_measures")  # the benchmark's measures, one copy
SR = 48000
FLUID = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def lufs(audio: np.ndarray) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(SR).integrated_loudness(np.asarray(audio, np.float64).T))


def true_peak_dbtp(audio: np.ndarray) -> float:
    return MEASURES.true_peak_dbtp(audio)  # 4x oversampled, as bench_music measures it


def aac_round_trip(audio: np.ndarray) -> np.ndarray:
    """(2, n) through AAC 128 kbit/s in an .m4a and back (PyAV): bench_music's round trip."""
    return MEASURES.aac_round_trip(audio, SR)


@pytest.fixture(scope="module")
def demo_cut(tmp_path_factory):
    return demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]


@pytest.fixture(scope="module")
def cue(demo_cut):
    """The demo cut's plan and a score in a style with drums (electronic: the deepest sidechain)."""
    from vidmusician.core.analysis.analyze import analyze
    from vidmusician.core.backends.arranger import compose_score
    from vidmusician.core.rhythm.planning import plan_for

    f = analyze(demo_cut)
    p, _ = plan_for(f)
    return compose_score(p, f, "electronic", 7), p.duration_s + p.ring_out_s


# --------------------------------------------------------------------------- the sidechain


def test_the_sidechain_dips_by_the_set_amount_at_a_kick_and_recovers():
    kick, depth, release = 1.0, 6.0, 0.15
    g = mixing.duck(np.array([kick]), depth, release, 0, 2 * SR)
    k, att = int(kick * SR), int(round(mixing.DUCK_ATTACK_S * SR))
    assert np.all(g[:k] == 1.0)  # untouched before the kick
    assert 20 * np.log10(g[k + att]) == pytest.approx(-depth, abs=1e-3)  # the full dip after the attack
    assert np.all(np.diff(g[k : k + att]) < 0) and np.all(
        np.diff(g[k + att : k + att + int(release * SR)]) >= 0
    )
    assert np.all(g[k + att + int(release * SR) + 2 :] == 1.0)  # recovered exactly
    # in blocks: the whole signal's gain, sample for sample
    parts = [mixing.duck(np.array([kick]), depth, release, a, a + 7000) for a in range(0, 2 * SR, 7000)]
    assert np.array_equal(np.concatenate(parts)[: 2 * SR], g)


def test_the_kick_ducks_the_pad_and_half_as_much_the_bass_and_not_the_lead():
    score = Score()
    score.parts["drums"] = [Note(0.5, 0.6, 36, 100), Note(0.75, 0.8, 38, 100)]  # a kick and a snare
    spec = dataclasses.replace(get_style("electronic").mix, duck_db=6.0, duck_release_ms=150.0)
    gains = mixing.stem_gains(spec, score, {"pad": -20.0, "bass": -20.0, "lead": -20.0}, SR, SR)
    at = int(0.5 * SR) + int(round(mixing.DUCK_ATTACK_S * SR))
    out = {p: gains.apply(p, 0, np.ones((2, SR), np.float32)) for p in ("pad", "bass", "lead")}
    cal = {p: gains.calibrations[p] for p in out}
    assert 20 * np.log10(out["pad"][0, at] / cal["pad"]) == pytest.approx(-6.0, abs=1e-3)
    assert 20 * np.log10(out["bass"][0, at] / cal["bass"]) == pytest.approx(-3.0, abs=1e-3)
    assert np.all(out["lead"] == np.float32(cal["lead"]))
    assert out["pad"][0, int(0.75 * SR)] == pytest.approx(cal["pad"])  # the snare ducks nothing


# --------------------------------------------------------------------------- the strip


def test_the_stereo_image_and_the_eq():
    x = np.stack([np.full(100, 0.3), np.full(100, 0.1)])
    assert np.allclose(mixing.image_matrix(0.0, 1.0) @ x, x)  # centre, full width: unchanged
    mono = mixing.image_matrix(0.0, 0.0) @ x
    assert np.allclose(mono[0], 0.2) and np.allclose(mono[1], 0.2)  # width 0: the mid on both sides
    left = mixing.image_matrix(-1.0, 0.0) @ x
    assert np.allclose(left[1], 0.0) and np.allclose(left[0], 0.2 * np.sqrt(2))  # constant power, hard left
    from scipy.signal import sosfreqz

    _, h = sosfreqz(mixing.part_eq("pad"), [40.0, 1000.0], fs=SR)
    assert 20 * np.log10(abs(h[0])) < -20 and abs(20 * np.log10(abs(h[1]))) < 0.5  # the pad leaves the lows
    _, h = sosfreqz(mixing.part_eq("bass"), [30.0, 2000.0], fs=SR)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(MixSpec().low_shelf_db[1], abs=0.5)
    assert abs(20 * np.log10(abs(h[1]))) < 0.2
    # a style's own shelf: an 808's boom taken down 3 dB under the corner, the top untouched
    spec = dataclasses.replace(MixSpec(), low_shelf_db=(-3.0, 0.0, 0.0, 0.0, 0.0))
    _, h = sosfreqz(mixing.part_eq("drums", spec), [30.0, 2000.0], fs=SR)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.0, abs=0.5) and abs(20 * np.log10(abs(h[1]))) < 0.2
    assert mixing.part_eq("bass", dataclasses.replace(spec, low_shelf_db=(0.0,) * 5)) is None  # flat


def _strip_out(part: str, x: np.ndarray, block: int | None = None, **mix: object) -> np.ndarray:
    """``x`` (2, n) through ``part``'s strip with the default mix changed by ``mix``, in blocks of ``block``."""
    strip = mixing.Strip(part, dataclasses.replace(MixSpec(), **mix), x.shape[1])
    size = block or x.shape[1]
    return np.concatenate([strip.process(x[:, a : a + size]) for a in range(0, x.shape[1], size)], axis=1)


def test_a_parts_width_sets_the_correlation_of_two_unrelated_channels():
    """Two independent noises (correlation 0) at width w: mid (a + b) / 2 and
    side w (a - b) / 2, so the correlation is (1 - w^2) / (1 + w^2); the lead
    (no EQ below 120 Hz that matters for white noise, centred, no send)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4 * SR)).astype(np.float32) * 0.1
    for w in (0.0, 0.5, 1.0):
        out = _strip_out("lead", x, widths=(0.8, 0.0, 0.7, 0.55, w), sends=(0, 0, 0, 0, 0))
        assert MEASURES.lr_correlation(out) == pytest.approx((1 - w * w) / (1 + w * w), abs=0.02), w


def test_the_stereo_double_widens_a_mono_part_and_leaves_its_mono_sum():
    """Mono noise (correlation 1) with a double of gain g: L = x + g y, R = x - g y
    with y the noise 14 ms later (unrelated to it), high-passed (white noise
    keeps ~99% of its power over 300 Hz): correlation (1 - g^2) / (1 + g^2),
    0.80 at g = 0.33; L + R is the dry part's, sample for sample, in any blocks."""
    rng = np.random.default_rng(4)
    mono = rng.standard_normal(4 * SR).astype(np.float32) * 0.1
    x = np.stack([mono, mono])
    dry = _strip_out("lead", x, sends=(0, 0, 0, 0, 0))
    assert MEASURES.lr_correlation(dry) == pytest.approx(1.0, abs=1e-6)
    for g in (0.33, 0.6):
        doubles = (0.0, 0.0, 0.0, 0.0, g)
        out = _strip_out("lead", x, sends=(0, 0, 0, 0, 0), doubles=doubles)
        assert MEASURES.lr_correlation(out) == pytest.approx((1 - g * g) / (1 + g * g), abs=0.02), g
        assert np.allclose(out[0] + out[1], dry[0] + dry[1], atol=1e-6)  # mono-compatible: no comb
        blocks = _strip_out("lead", x, block=7001, sends=(0, 0, 0, 0, 0), doubles=doubles)
        assert np.allclose(blocks, out, atol=1e-7)  # the delay line carries across blocks
    # the drums' double spreads only their top: a 100 Hz tone stays mono
    t = np.arange(2 * SR) / SR
    tone = np.stack([np.sin(2 * np.pi * 100 * t)] * 2).astype(np.float32)
    out = _strip_out("drums", tone, sends=(0, 0, 0, 0, 0), doubles=(1.0, 0, 0, 0, 0))
    assert MEASURES.lr_correlation(out[:, SR // 2 :]) > 0.99


def test_the_reverb_returns_width_sets_its_correlation():
    """A noise burst's reverb tail: width 0 is mono (correlation 1), width 1 far wider."""
    rng = np.random.default_rng(5)
    x = np.zeros((2, 3 * SR), np.float32)
    x[:, : SR // 10] = rng.standard_normal(SR // 10) * 0.1
    sends = (0.0, 0.0, 0.0, 0.0, 1.0)
    tail = slice(SR // 5, None)  # the return alone: the dry burst is over
    narrow = _strip_out("lead", x, sends=sends, reverb_width=0.0)[:, tail]
    wide = _strip_out("lead", x, sends=sends, reverb_width=1.0)[:, tail]
    half = _strip_out("lead", x, sends=sends, reverb_width=0.5)[:, tail]
    assert MEASURES.lr_correlation(narrow) == pytest.approx(1.0, abs=1e-4)
    assert MEASURES.lr_correlation(wide) < 0.5
    assert MEASURES.lr_correlation(wide) < MEASURES.lr_correlation(half) < 1.0


def test_the_sub_sits_under_the_bass_notes_below_60_hz():
    assert mixing.sub_frequency(28) == pytest.approx(41.2, abs=0.05)  # E1 stays
    assert mixing.sub_frequency(45) == pytest.approx(55.0)  # A2 (110 Hz) an octave down
    assert mixing.sub_frequency(64) == pytest.approx(41.2, abs=0.05)  # E4: three octaves down
    notes = [Note(0.2, 0.7, 40, 127), Note(1.0, 1.5, 43, 64)]
    s = mixing.sub_layer(notes, 1.0, 0, 2 * SR)
    spectrum = np.abs(np.fft.rfft(s)) ** 2
    freqs = np.fft.rfftfreq(len(s), 1 / SR)
    assert spectrum[freqs < 60].sum() > 0.95 * spectrum.sum()
    assert np.all(s[: int(0.2 * SR)] == 0) and np.all(s[int(1.6 * SR) :] == 0)
    assert np.abs(s[int(0.4 * SR) : int(0.6 * SR)]).max() == pytest.approx(1.0, abs=1e-3)  # velocity 127
    parts = [mixing.sub_layer(notes, 1.0, a, min(2 * SR, a + 30001)) for a in range(0, 2 * SR, 30001)]
    assert np.array_equal(np.concatenate(parts), s)  # in blocks: the same samples


def test_the_subs_level_is_the_bass_level_plus_sub_db_and_moves_the_low_share():
    """The sub is calibrated to the bass stem's target plus ``sub_db``: 6 dB
    more puts 6 LU more sub into the bass stem, and a larger share of the
    stem (a 110 Hz tone at the bass's level) below 60 Hz."""
    score = Score()
    score.parts["bass"] = [Note(0.25 + i, 1.0 + i, 45, 100) for i in range(4)]  # A2: the sub at 55 Hz
    t = np.arange(5 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    bass = np.stack([tone, tone])
    base = lufs(bass)
    shares, levels = [], []
    for sub_db in (-12.0, -6.0):
        spec = dataclasses.replace(MixSpec(), sub_db=sub_db, duck_db=0.0, energy_db=0.0)
        gains = mixing.stem_gains(spec, score, {"bass": base}, bass.shape[1], SR)
        sub_only = gains.apply("bass", 0, np.zeros_like(bass))
        assert lufs(sub_only) == pytest.approx(mixing.target_lufs("bass", spec) + sub_db, abs=0.1)
        levels.append(lufs(sub_only))
        shares.append(MEASURES.low_share(gains.apply("bass", 0, bass.copy()), SR))
    assert levels[1] - levels[0] == pytest.approx(6.0, abs=0.1)
    assert 0.0 < shares[0] < shares[1] < 1.0


# --------------------------------------------------------------------------- calibration per SoundFont


@pytest.mark.parametrize("font", ["bundled", "fluid"])
def test_each_stems_level_is_the_styles_balance_whatever_the_font(cue, font):
    import pretty_midi

    path = os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2") if font == "bundled" else FLUID
    if not Path(path).is_file():
        pytest.skip(f"{path} is not installed")
    score, seconds = cue
    style = get_style("electronic")
    # the sidechain and the sub off: what is measured is the calibration alone
    style = dataclasses.replace(
        style, mix=dataclasses.replace(style.mix, duck_db=0.0, sub_db=-100.0, energy_db=0.0)
    )
    stems = R.render(score, style, seconds, path)
    levels = dict(zip(R.PARTS, style.mix.levels, strict=True))
    got = {p: lufs(v) for p, v in stems.items()}
    for part in R.PARTS:  # relative to the drums: the bus turns every stem by the same gain
        assert got[part] - got["drums"] == pytest.approx(levels[part] - levels["drums"], abs=1.0), (part, got)


# --------------------------------------------------------------------------- the bus


def test_the_bus_compressor_engages_on_the_peaks():
    """Steady noise, with a stretch 3 dB louder for a tenth of the time: the
    threshold is the mix's own 80th-percentile level, so the loud stretch
    is turned down by 3 * (1 - 1/3) = 2 dB and the rest not at all."""
    rng = np.random.default_rng(1)
    n = 20 * SR
    x = (rng.standard_normal((2, n)) * 0.05).astype(np.float32)
    x[:, 9 * SR : 11 * SR] *= np.float32(10 ** (3 / 20))
    g = 20 * np.log10(M.compressor_gain(x))
    assert np.median(g[int(9.5 * SR) : int(10.5 * SR)]) == pytest.approx(
        -3.0 * (1 - 1 / M.COMP_RATIO), abs=0.3
    )
    assert np.abs(g[: 8 * SR]).max() < 0.3 and np.abs(g[12 * SR :]).max() < 0.3


def test_the_true_peak_stays_under_minus_1_dbtp_after_aac_at_the_streaming_level(cue):
    score, seconds = cue
    stems = R.render(score, get_style("electronic"), seconds, None, -14.0)
    mix = R.mix_of(stems)
    assert lufs(mix) == pytest.approx(-14.0, abs=1.0)  # the limiter takes up to ~0.8 LU at -14
    # the limiter works on a parabolic estimate (within 0.3 dB of 4x oversampling, test_arranger)
    # with a 0.26 dB margin: the oversampled peak stays within 0.1 dB of the ceiling
    assert true_peak_dbtp(mix) <= M.CEILING_DBTP + 0.1
    assert true_peak_dbtp(aac_round_trip(mix)) <= -1.0
    assert 20 * np.log10(np.abs(mix[:, -480:]).max() + 1e-12) < -60  # the ending still decays: last 10 ms


def test_the_long_path_sums_its_stems_to_the_mix(cue):
    score, seconds = cue
    stems, mix = R.render_long(score, get_style("electronic"), seconds, block=65536, loudness=-16.0)
    total = sum(np.asarray(v, np.float64) for v in stems.values())
    assert np.abs(total - np.asarray(mix, np.float64)).max() <= 1e-6


def test_loudness_minus_16_gives_minus_16_lufs_and_is_recorded(demo_cut, tmp_path):
    from vidmusician.core.session.pipeline import score
    from vidmusician.core.session.settings import ScoreOptions

    s = score(demo_cut, tmp_path / "out", ScoreOptions(seed=7, loudness=-16.0))
    take = s.takes[0]
    assert take["options"]["loudness"] == -16.0
    mix, sr = soundfile.read(tmp_path / "out" / take["files"]["mix"], always_2d=True)
    assert sr == SR and lufs(mix.T) == pytest.approx(-16.0, abs=0.5)
    stems = [soundfile.read(tmp_path / "out" / p, always_2d=True)[0] for p in take["files"]["stems"].values()]
    assert np.abs(sum(stems) - mix).max() < 1e-4  # 24-bit files: the stems still sum to the mix


def test_the_loudness_option_is_checked():
    from vidmusician.core.errors import OptionError
    from vidmusician.core.options import BY_NAME

    opt = BY_NAME["loudness"]
    assert opt.default == -23.0 and "score" in opt.commands
    assert opt.check("-16") == -16.0
    with pytest.raises(OptionError):
        opt.check(0.0)


# --------------------------------------------------------------------------- the fast paths' numbers


def test_the_sidechain_is_each_kicks_dip_formula_to_the_bit():
    """duck places one precomputed dip per kick and raises 10 only where it dips: the
    numbers of the formula evaluated at every sample for every kick (the deeper dip)."""
    rng = np.random.default_rng(2)
    kicks, depth, release = np.sort(rng.uniform(0.0, 6.0, 30)), 6.0, 0.12
    a, b = 1234, 5 * SR
    att, rel = mixing.DUCK_ATTACK_S, release
    env = np.zeros(b - a)
    for s in np.round(kicks * SR).astype(np.int64):
        t = (np.arange(a, b) - s) / SR
        e = np.where(
            t < att, t / att, np.where(t < att + rel, 0.5 + 0.5 * np.cos(np.pi * (t - att) / rel), 0.0)
        )
        env = np.maximum(env, np.where(t >= 0, e, 0.0))
    want = (10 ** (-depth * env / 20)).astype(np.float32)
    got = mixing.duck(kicks, depth, release, a, b)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    cut = 3 * SR + 17  # and blocks cut anywhere are the whole
    halves = np.concatenate(
        [mixing.duck(kicks, depth, release, a, cut), mixing.duck(kicks, depth, release, cut, b)]
    )
    assert np.array_equal(halves.view(np.uint32), want.view(np.uint32))


def test_the_sub_in_blocks_is_each_note_computed_whole():
    """sub_layer computes only a note's samples inside the block: the same numbers as
    the whole note's sine, envelope and release, cut (notes of every length, overlapping)."""
    rng = np.random.default_rng(3)
    notes = []
    for _ in range(60):
        s0 = float(rng.uniform(0.0, 8.0))
        notes.append(Note(s0, s0 + float(rng.choice([0.0, 0.01, 0.3, 2.0])), int(rng.integers(28, 60)), 90))
    notes.sort(key=lambda n: n.start)
    n, level = 9 * SR, 0.7
    want = np.zeros(n)
    for note in notes:
        a0 = int(round(note.start * SR))
        hold = max(0, int(round(note.end * SR)) - a0)
        rel = int(mixing.SUB_RELEASE_S * SR)
        t = np.arange(hold + rel) / SR
        env = np.minimum(1.0, t / mixing.SUB_ATTACK_S)
        env[hold:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, rel))
        wave = (
            level * (note.velocity / 127.0) * env * np.sin(2 * np.pi * mixing.sub_frequency(note.pitch) * t)
        )
        want[a0 : a0 + len(wave)] += wave[: max(0, n - a0)]
    want32 = want.astype(np.float32)
    cuts = [0, 12345, 3 * SR, 3 * SR + 1, 7 * SR, n]
    got = np.concatenate(
        [mixing.sub_layer(notes, level, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    )
    assert np.array_equal(got.view(np.uint32), want32.view(np.uint32))


def test_the_stems_gains_shared_by_block_are_each_stems_own():
    """StemGains.apply computes the envelope, the dips and the sidechain once per block
    for every stem: each stem gets what a fresh StemGains (nothing shared) gives it."""
    import dataclasses as dc

    from vidmusician.core.backends.arranger.envelope import LevelEnvelope

    spec = get_style("electronic").mix
    rng = np.random.default_rng(4)
    n = 3 * SR
    gains = mixing.StemGains(
        spec,
        {p: float(rng.uniform(0.5, 2.0)) for p in mixing.PARTS},
        np.array([0.25, 0.75, 1.25, 2.0]),
        [Note(0.1, 1.0, 40, 100), Note(1.5, 2.9, 45, 80)],
        0.3,
        LevelEnvelope(np.array([0.5, 1.0, 2.0]), np.array([-6.0, 0.0, 0.0]), SR),
        (np.array([1.0, 2.5]), np.array([0.09, 0.09]), np.array([3.0, 2.0])),
    )
    stems = {p: rng.standard_normal((2, n)).astype(np.float32) for p in mixing.PARTS}
    for a in range(0, n, SR):
        for p in mixing.PARTS:
            alone = dc.replace(gains)  # its own, empty cache
            want = alone.apply(p, a, stems[p][:, a : a + SR].copy())
            got = gains.apply(p, a, stems[p][:, a : a + SR].copy())
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (p, a)


def test_the_sub_meter_fed_once_is_the_meter_fed_the_stacked_channels():
    x = np.random.default_rng(6).standard_normal(3 * SR).astype(np.float32)
    one, two = M.LoudnessMeter(len(x), 2, SR), M.LoudnessMeter(len(x), 2, SR)
    one.feed_mono(x)
    two.feed(np.stack([x, x]))
    assert one.result() == two.result()


def test_the_calibration_meter_at_every_other_sample():
    """LoudnessMeter(step=2) is the 24 kHz meter of samples 0, 2, 4, ... whatever the
    blocks (odd-sized ones included)."""
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((2, 5 * SR)) * np.linspace(0.05, 0.5, 5 * SR)).astype(np.float32)
    meter = M.LoudnessMeter(x.shape[1], 2, SR, step=2)
    for a, b in [(0, 12345), (12345, 3 * SR + 1), (3 * SR + 1, x.shape[1])]:
        meter.feed(x[:, a:b])
    want = M.integrated_loudness(np.ascontiguousarray(x[:, ::2]), SR // 2)
    assert abs(meter.result() - want) < 1e-9


def test_the_calibration_meter_reads_a_rendered_stem_as_the_full_rate(cue):
    """On rendered stems (the drums' hats and the lead: the most above 12 kHz) the
    24 kHz reading is the 48 kHz one within 0.05 LU (measured: 0.023 on the drums)."""
    score, seconds = cue
    stems = R.render(score, get_style("electronic"), seconds)
    for part in ("drums", "lead"):
        v = stems[part]
        half = M.LoudnessMeter(v.shape[1], 2, SR, step=2)
        half.feed(v)
        assert abs(half.result() - M.integrated_loudness(v)) < 0.05, part
