"""The arranger, judged by librosa on the demo cut and on made-up timelines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from vidmusician.core import demo
from vidmusician.core.analyze import analyze
from vidmusician.core.arranger import arrange
from vidmusician.core.planning import plan_for
from vidmusician.core.score import ScoreOptions, score

from .test_cli import run


@pytest.fixture(scope="module")
def demo_cut(tmp_path_factory):
    return demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]


@pytest.fixture(scope="module")
def scored(demo_cut, tmp_path_factory):
    out = tmp_path_factory.mktemp("scored") / "out"
    return score(demo_cut, out, ScoreOptions(seed=7))


def read(path):
    y, sr = soundfile.read(path, always_2d=True)
    return y.T, sr


def test_outputs_are_complete_and_aligned(scored):
    out = scored.out
    mix, sr = read(out / "mix.wav")
    assert sr == 48000 and soundfile.info(out / "mix.wav").subtype == "PCM_24"
    stems = {p.stem: read(p)[0] for p in (out / "stems").glob("*.wav")}
    assert set(stems) == {"drums", "bass", "harmony", "pad", "lead"}
    assert {s.shape for s in stems.values()} == {mix.shape}
    plan = json.loads((out / "plan.json").read_text())
    assert mix.shape[1] == round((plan["duration_s"] + plan["ring_out_s"]) * 48000)
    assert (out / "music.mid").is_file() and (out / "timeline.otio").is_file()


def test_quality_judged_by_librosa(scored):
    m = scored.take(1)["metrics"]
    plan_bpm = scored.take(1)["bpm"][0]
    assert abs(m["tempo_bpm"] - plan_bpm) / plan_bpm <= 0.03
    assert m["cut_beat_hit"] >= 0.95
    assert m["cut_accent"] > 2 * m["cut_accent_chance"]


def test_no_clipping_no_gaps_and_stems_sum_to_the_mix(scored):
    import pyloudnorm

    out = scored.out
    mix, _ = read(out / "mix.wav")
    assert np.abs(mix).max() <= 10 ** (-1 / 20)  # peaks under -1 dBFS
    assert pyloudnorm.Meter(48000).integrated_loudness(mix.T) == pytest.approx(-14.0, abs=1.0)
    total = sum(read(p)[0] for p in (out / "stems").glob("*.wav"))
    err = np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix**2))
    assert 20 * np.log10(err + 1e-12) < -40
    plan = json.loads((out / "plan.json").read_text())
    hop = 2400  # 50 ms
    body = mix[:, : int(plan["duration_s"] * 48000)].mean(axis=0)
    rms = np.sqrt(np.mean(body[: len(body) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    quiet = rms < 10 ** (-50 / 20)
    longest = max((len(r) for r in "".join("q" if q else " " for q in quiet).split()), default=0)
    assert longest * 0.05 < 1.0


def test_same_seed_same_bytes_other_seed_other_music(demo_cut, scored, tmp_path):
    again = score(demo_cut, tmp_path / "again", ScoreOptions(seed=7))
    assert (again.out / "mix.wav").read_bytes() == (scored.out / "mix.wav").read_bytes()
    other = score(demo_cut, tmp_path / "other", ScoreOptions(seed=8))
    assert (other.out / "mix.wav").read_bytes() != (scored.out / "mix.wav").read_bytes()


def test_regenerating_a_range_keeps_every_other_bar(demo_cut):
    f = analyze(demo_cut)
    p, style = plan_for(f)
    a = arrange(p, f, style, seed=3)
    downs = p.downbeats_s
    # regenerate a bar where the lead plays (its notes come from the bar's seed)
    lead = a.score.parts["lead"]
    bar = next(b for b in range(len(downs) - 1) if any(downs[b] <= n.start < downs[b + 1] for n in lead))
    lo, hi = float(downs[bar]), float(downs[bar + 1])
    b = arrange(p, f, style, seed=3, regenerate=(lo + 0.01, hi - 0.01), new_seed=99)
    for part in a.score.parts:
        outside_a = [n for n in a.score.parts[part] if n.start < lo - 1e-6 or n.start >= hi - 1e-6]
        outside_b = [n for n in b.score.parts[part] if n.start < lo - 1e-6 or n.start >= hi - 1e-6]
        assert outside_a == outside_b
    inside = [n for n in lead if lo <= n.start < hi]
    inside_b = [n for n in b.score.parts["lead"] if lo <= n.start < hi]
    assert inside != inside_b


@pytest.mark.parametrize(
    "style", ["cinematic", "corporate-upbeat", "electronic", "ambient", "rock", "lo-fi", "acoustic"]
)
def test_every_style_renders_music(demo_cut, style):
    f = analyze(demo_cut)
    p, _ = plan_for(f, style=style)
    music = arrange(p, f, style, seed=1)
    assert np.abs(music.mix).max() > 0.1
    assert all(np.isfinite(s).all() for s in music.stems.values())


def test_bad_input_is_refused_and_leaves_nothing(demo_cut, tmp_path):
    bad_sf = tmp_path / "bad.sf2"
    bad_sf.write_bytes(b"not a soundfont")
    code, _, err = run("score", str(demo_cut), "-o", str(tmp_path / "o1"), "--soundfont", str(bad_sf), "-q")
    assert code == 2 and "SoundFont" in err
    assert not (tmp_path / "o1").exists() and not list(tmp_path.glob(".o1.*"))
    code, _, err = run("score", str(demo_cut), "-o", str(tmp_path / "o2"), "--style", "polka")
    assert code == 2 and "cinematic" in err and not (tmp_path / "o2").exists()
    from .conftest import clip, save, timeline, video_track

    short = save(timeline(video_track(clip("a", 12), clip("b", 12)), start=0), tmp_path / "short.otio")
    code, _, err = run("score", str(short), "-o", str(tmp_path / "o3"))
    assert code == 2 and "shorter than one bar" in err and not (tmp_path / "o3").exists()


def test_true_peak_estimate_matches_4x_oversampling(scored):
    from scipy.signal import resample_poly

    from vidmusician.core.arranger.render import _true_peak_envelope

    mix, _ = read(scored.out / "mix.wav")
    mix = mix[:, : 48000 * 8].astype(np.float32)
    ours = float(_true_peak_envelope(mix).max())
    reference = float(np.abs(resample_poly(mix, 4, 1, axis=1)).max())
    assert abs(20 * np.log10(ours / reference)) < 0.3


def test_music_energy_follows_motion_that_rises_and_falls():
    import librosa

    from vidmusician.core.metrics import SR as EVAL_SR
    from vidmusician.core.metrics import evaluate
    from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
    from vidmusician.core.rhythm import plan

    duration = 48.0
    n = int(duration * 25)
    values = np.clip(np.sin(np.arange(n) / n * 2 * np.pi - np.pi / 2) * 0.5 + 0.5, 0, 1)  # low-high-low
    anchors = tuple(Anchor(t, "cut", 1.0) for t in np.arange(4.0, duration - 2, 4.0))
    tl = Timeline(
        "wave", 24.0, int(duration * 24), "00:00:00:00", (), (), anchors, InputSource("-", "otio_json")
    )
    motion = MotionCurve(0.04, values, values, values, values)
    f = VideoFeatures(tl, motion, (), anchors)
    p = plan(anchors, duration, (110, 130), motion=motion)
    music = arrange(p, f, "corporate-upbeat", seed=2)
    y = librosa.resample(music.mix.mean(axis=0), orig_sr=48000, target_sr=EVAL_SR)
    m = evaluate(y, [a.time_s for a in anchors], duration, motion)
    assert m.energy_corr >= 0.4
    assert m.cut_beat_hit >= 0.95


def test_bus_loudness_is_pyloudnorms(scored):
    import pyloudnorm

    from vidmusician.core.arranger.render import integrated_loudness

    mix, _ = read(scored.out / "mix.wav")
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, 48000 * 7)) * np.linspace(0, 1, 48000 * 7) ** 3  # gates matter
    for audio in (mix.astype(np.float32), (0.1 * noise).astype(np.float32), mix[:1, : 48000 * 3]):
        reference = pyloudnorm.Meter(48000).integrated_loudness(audio.T)
        assert integrated_loudness(audio) == pytest.approx(reference, abs=1e-3)
    assert integrated_loudness(np.zeros((2, 48000), np.float32)) == -np.inf


def test_bus_limiter_only_where_needed_is_the_whole_signals_limiter():
    """The bus evaluates the true peak and filters the limiter's gain only
    around the samples that need it: the result must be the dense one."""
    import importlib

    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    r = importlib.import_module("vidmusician.core.arranger.render")  # the module, not arrange's function

    rng = np.random.default_rng(3)
    n = 48000 * 12
    mix = (rng.standard_normal((2, n)) * 0.05).astype(np.float32)
    spikes = [0, 2, 1500, 2600, 40000, 40900, n - 1, n - 700, *rng.integers(0, n, 200)]
    for p in spikes:  # lone peaks, peaks closer than the limiter's reach, peaks at both ends
        mix[:, p] += rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.5)
    mix[:, 200000:230000] *= 6  # a loud stretch: the compressor and long limiting
    gain, loud = r.bus_gain(mix)

    comp = r.compressor_gain(mix)
    g0 = 10 ** ((r.TARGET_LUFS - loud) / 20)
    peak = r._true_peak_envelope(mix * comp[None, :]) * g0
    need = np.minimum(1.0, 10 ** (r.CEILING_DBTP / 20) * 0.98 / np.maximum(peak, 1e-9))
    assert need.min() < 0.5
    need = uniform_filter1d(minimum_filter1d(need, size=4 * 480), size=480)
    dense = comp * g0 * need
    assert np.abs(20 * np.log10(gain / dense)).max() < 1e-4
    assert (r._true_peak_envelope(mix * gain[None, :]) <= 10 ** (r.CEILING_DBTP / 20)).all()
