"""Long timelines: rendering, writing, measuring and splicing in blocks, with bounded memory.

Known answers: the block-wise render of a cue is the in-memory render, bit
for bit; the block-wise bus is the whole signal's bus (bus_gain + ending);
a DiskAudio writes the same WAV bytes as the array; a splice made a block
at a time is the in-memory splice's file, byte for byte; and scoring a
20-minute timeline peaks within 25% of the RSS of a 6-minute one.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile

from vidmusician.core import demo
from vidmusician.core.io.audio import save_wav
from vidmusician.core.io.blockaudio import DiskAudio, TempFolder, WavAudio
from vidmusician.core.session.splice import (
    SplicedFile,
    SpliceRange,
    matching_gain,
    matching_gain_file,
    read_pcm,
    splice,
)

R = importlib.import_module("vidmusician.core.backends.arranger.render")  # the module, not arrange's function
S = importlib.import_module("vidmusician.core.backends.arranger.synth")
M = importlib.import_module("vidmusician.core.backends.arranger.master")
REPO = Path(__file__).resolve().parents[1]
SR = 48000


@pytest.fixture(scope="module")
def cue(tmp_path_factory):
    from vidmusician.core.analysis.analyze import analyze
    from vidmusician.core.backends.arranger import compose_score
    from vidmusician.core.backends.arranger.styles import get_style
    from vidmusician.core.rhythm.planning import plan_for

    cut = demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]
    f = analyze(cut)
    p, style = plan_for(f)
    return compose_score(p, f, style, 7), get_style(style), p.duration_s + p.ring_out_s


def test_the_block_render_is_the_in_memory_render(cue):
    score, style, seconds = cue
    stems = R.render(score, style, seconds)
    mix = R.mix_of(stems)
    seen = []
    long_stems, long_mix = R.render_long(
        score, style, seconds, block=65536, progress=lambda f, s: seen.append(f)
    )
    assert list(long_stems) == list(stems)
    for part, audio in stems.items():  # 65,536-sample blocks: 24 of them, every boundary inside the music
        assert np.array_equal(np.asarray(long_stems[part]), audio), part
    assert np.array_equal(np.asarray(long_mix), mix)
    assert long_mix.peak() == pytest.approx(float(np.abs(mix).max()))
    blocks = -(-long_mix.n // 65536)
    assert len(seen) == 8 * blocks and seen == sorted(seen) and seen[-1] == 1.0  # each block of each pass


def test_the_synthesiser_in_blocks_is_the_synthesiser_whole(cue):
    score, style, seconds = cue
    n = int(round(seconds * SR))
    program, drums = S._program(style, "lead")
    whole = S._synth(score.parts["lead"], program, drums, n, S.default_soundfont(), S._controls(score))
    for block in (64000, 65536, 100_003):  # not only multiples of the synthesiser's 64-sample step
        parts = list(
            S._synth_blocks(
                score.parts["lead"], program, drums, n, S.default_soundfont(), S._controls(score), None, block
            )
        )
        assert [len(p) for p in parts[:-1]] == [block] * (len(parts) - 1)
        assert np.array_equal(np.concatenate(parts), whole)


def test_the_block_bus_is_the_whole_signals_bus():
    """Spikes the limiter must catch at and across block boundaries, a loud
    stretch for the compressor, a strike and a ring-out for the ending."""
    from vidmusician.core.backends.arranger.compose import Score

    rng = np.random.default_rng(3)
    size, n = 8192 * 8, 8192 * 8 * 9 + 12345
    a = (rng.standard_normal((2, n)) * 0.04).astype(np.float32)
    b = (rng.standard_normal((2, n)) * 0.03).astype(np.float32)
    for p in [0, 2, size - 1, size, 2 * size - 700, 3 * size + 300, n - 1, n - 700, *rng.integers(0, n, 100)]:
        a[:, p] += rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.5)
    a[:, 200_000:260_000] *= 6
    t = np.arange(n - 400_000) / SR
    b[:, 400_000:] += (0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t / 0.8)).astype(np.float32)
    score = Score(final_s=400_000 / SR, fade_s=0.15)

    mix = a + b
    gain, _ = M.bus_gain(mix)
    R.ending(gain, score)
    folder = TempFolder()
    stems = {}
    for name, x in (("a", a), ("b", b)):
        stems[name] = DiskAudio.create(folder, name, 2, n)
        stems[name].write(0, x)
    out = M.bus_long(stems, score, folder, size)
    np.testing.assert_allclose(np.asarray(stems["a"]), a * gain, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out), a * gain + b * gain, rtol=0, atol=2e-6)
    assert np.asarray(out)[:, -1].tolist() == [0.0, 0.0]
    assert (M._true_peak_envelope(np.asarray(out)) <= 10 ** (M.CEILING_DBTP / 20)).all()


def test_the_compressor_gain_in_blocks_is_the_ramp_between_hop_centres():
    """Known answer: the gain between hop centres, as the whole signal's ramp
    gives it (the formula the bus used before blocks), for every block size."""
    rng = np.random.default_rng(0)
    hop, half = 64, 32
    w = ((np.arange(hop) + 0.5) / hop).astype(np.float32)
    for m in (1, 2, 5, 1001):
        g = rng.uniform(0.5, 1, m).astype(np.float32)
        for n in (m * 64 - 40, m * 64, m * 64 + 13, m * 64 + 100):
            want = np.full(n, g[-1], np.float32)
            want[: min(half, n)] = g[0]
            if m > 1:
                ramp = (g[:-1, None] + (g[1:] - g[:-1])[:, None] * w[None, :]).ravel()[: max(0, n - half)]
                want[half : half + len(ramp)] = ramp
            for size in (7, 64, 100, 4096, n):
                got = np.concatenate([M._hop_gain_samples(g, n, a, a + size) for a in range(0, n, size)])
                assert np.array_equal(got, want), (m, n, size)


def test_the_loudness_meter_in_blocks():
    rng = np.random.default_rng(0)
    n = 48000 * 9 + 77
    x = (rng.standard_normal((2, n)) * np.linspace(0, 1, n) ** 3).astype(np.float32)
    whole = M.integrated_loudness(x)
    for block in (65536, 3 * 65536, 50_000):
        meter = M.LoudnessMeter(n, 2)
        for a in range(0, n, block):
            meter.feed(x[:, a : a + block])
        got = meter.result()
        assert got == whole if block % 65536 == 0 else got == pytest.approx(whole, abs=1e-9)


def test_a_disk_audio_writes_the_arrays_wav(tmp_path):
    rng = np.random.default_rng(1)
    folder = TempFolder()
    for peak in (0.5, 1.4):  # the second is scaled down to 0.97, in both
        x = (rng.uniform(-1, 1, (2, 900_001)) * peak).astype(np.float32)
        d = DiskAudio.create(folder, f"x{peak}", 2, x.shape[1])
        d.write(0, x)
        save_wav(tmp_path / f"mem{peak}.wav", x)
        save_wav(tmp_path / f"disk{peak}.wav", d)
        assert (tmp_path / f"mem{peak}.wav").read_bytes() == (tmp_path / f"disk{peak}.wav").read_bytes()
        back = WavAudio(tmp_path / f"disk{peak}.wav")
        assert back.shape == x.shape
        assert np.array_equal(
            back.read(400_000, 400_100),
            soundfile.read(tmp_path / f"mem{peak}.wav", dtype="float32")[0][400_000:400_100].T,
        )


@pytest.mark.parametrize("rng_s", [(7.3, 11.0), (7.3, None), (0.0, 3.2)])
def test_a_splice_in_blocks_is_the_in_memory_splice(tmp_path, rng_s):
    rng = np.random.default_rng(2)
    n = 1_000_003  # three blocks and a bit
    old = (np.round(rng.uniform(-0.5, 0.5, (n, 2)) * (1 << 23)).astype(np.int32) << 8).astype(np.int32)
    save_wav(tmp_path / "old.wav", old)
    new = (rng.standard_normal((2, n - 5000)) * 0.2).astype(np.float32)  # shorter: silence past its end
    r = SpliceRange(*rng_s)
    folder = TempFolder()
    disk = DiskAudio.create(folder, "new", 2, new.shape[1])
    disk.write(0, new)

    old_pcm = read_pcm(tmp_path / "old.wav")
    gain = matching_gain(old_pcm, new, r)
    assert matching_gain_file(tmp_path / "old.wav", disk, r) == pytest.approx(gain, rel=1e-9)
    save_wav(tmp_path / "mem.wav", splice(old_pcm, new, r, gain))
    SplicedFile(tmp_path / "old.wav", disk, r, gain).write(tmp_path / "disk.wav")
    assert (tmp_path / "mem.wav").read_bytes() == (tmp_path / "disk.wav").read_bytes()


def test_a_long_mix_is_measured_in_windows(cue, tmp_path, monkeypatch):
    """The windowed measure, on a mix cut into 10-second windows, hears what
    the one pass hears."""
    from vidmusician.core.analysis.analyze import analyze
    from vidmusician.core.report import results

    cut = demo.make_demo_cut(tmp_path / "cut")["otio"]
    f = analyze(cut)
    score, style, seconds = cue
    mix = R.mix_of(R.render(score, style, seconds))
    whole = results.measure(f, mix)
    monkeypatch.setattr(results, "MEASURE_WINDOW_S", 10.0)
    windows = results.measure(f, mix)
    assert windows["n_cuts"] == whole["n_cuts"]
    assert windows["cut_beat_hit"] >= 0.9 and whole["cut_beat_hit"] >= 0.9
    # the same tempo, or the same one an octave off: 60 BPM with busy eighths is heard at
    # 60 in one 10-s window and 120 in the next (results.octave_median folds them)
    octaves = np.log2(windows["tempo_bpm"] / whole["tempo_bpm"])
    assert abs(octaves - round(octaves)) <= np.log2(1.05)
    assert windows["energy_corr"] == pytest.approx(whole["energy_corr"], abs=0.05)


def test_the_long_path_writes_the_short_paths_bytes(tmp_path, monkeypatch):
    """Score the demo cut and regenerate a shot twice: as it is (in memory)
    and with the long path's thresholds lowered to 5 s (rendered, written,
    spliced and measured in blocks). Every WAV of both takes is the same bytes."""
    from vidmusician.core.backends import arranger
    from vidmusician.core.report import results
    from vidmusician.core.session.pipeline import score
    from vidmusician.core.session.retake import regenerate

    cut = demo.make_demo_cut(tmp_path / "cut")["otio"]
    runs = {}
    calls = []
    real = arranger.render_long

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    for name in ("memory", "blocks"):
        if name == "blocks":
            monkeypatch.setattr(arranger, "render_long", spy)
            monkeypatch.setattr(R, "LONG_S", 5.0)
            monkeypatch.setattr(arranger, "LONG_S", 5.0)
            monkeypatch.setattr(results, "MEASURE_WINDOW_S", 12.0)
        out = tmp_path / name
        score(cut, out)
        s = regenerate(out, 2, seed=11)
        runs[name] = (out, s)
    (a, sa), (b, sb) = runs["memory"], runs["blocks"]
    assert len(calls) == 2  # the take and the regenerated one went the long way
    assert sa.take(2)["gain"] == pytest.approx(sb.take(2)["gain"], abs=2e-6)
    for take in (1, 2):
        files = sa.take(take)["files"]
        for rel in [files["mix"], *files["stems"].values()]:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), (take, rel)
    assert sb.take(1)["metrics"]["cut_beat_hit"] >= 0.9


SCORE_AND_MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    sys.path.insert(0, {bench!r})
    from pathlib import Path
    from bench_long import make_long_timeline
    from vidmusician.core.session.pipeline import score
    t = make_long_timeline(Path(sys.argv[1]) / "t.otio", int(sys.argv[2]), seconds=float(sys.argv[3]))
    s = score(t, Path(sys.argv[1]) / "out")
    take = s.takes[0]
    # the peak of this program's own memory: VmHWM. (ru_maxrss is not: on Linux a child
    # inherits its parent's peak at the fork, and pytest's grows to over a GB in the suite.)
    status = Path("/proc/self/status")
    hwm = [l for l in status.read_text().splitlines() if l.startswith("VmHWM:")] if status.exists() else []
    peak = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"rss_mb": peak / 1024,
                      "hit": take["metrics"]["cut_beat_hit"]}}))
    """
)


def _score_in_child(tmp: Path, clips: int, seconds: float) -> dict:
    tmp.mkdir()
    code = SCORE_AND_MEASURE.format(bench=str(REPO / "benchmark"))
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp), str(clips), str(seconds)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    mix = soundfile.info(str(tmp / "out" / "mix.wav"))
    assert mix.samplerate == 48000 and mix.subtype == "PCM_24" and mix.duration > seconds
    stems = sorted((tmp / "out" / "stems").glob("*.wav"))
    assert len(stems) == 5 and {soundfile.info(str(p)).frames for p in stems} == {mix.frames}
    return out


def test_memory_stays_bounded_as_the_timeline_grows(tmp_path):
    """A 6-minute and a 20-minute timeline (media offline), both past the
    five minutes from which the music is rendered, written and measured in
    blocks: the longer one peaks within 25% of the shorter's RSS (it would
    be 3.3x if memory grew with the length), and both under 1 GB. (Two
    hours, measured by hand: see the README's Benchmarks.)"""
    short = _score_in_child(tmp_path / "short", 150, 360.0)
    long = _score_in_child(tmp_path / "long", 500, 1200.0)
    assert short["hit"] >= 0.9 and long["hit"] >= 0.9
    assert long["rss_mb"] < 1.25 * short["rss_mb"], (short, long)
    assert long["rss_mb"] < 1024, long


# --------------------------------------------------------------------------- analysis and planning, linear


def test_bisections_are_the_brute_force_answers():
    from vidmusician.core.analysis import features
    from vidmusician.core.rhythm import planner as rhythm

    rng = np.random.default_rng(4)
    times = np.sort(rng.uniform(0, 100, 500))
    times[10] = times[11]  # equal times: argmin takes the first
    for t in [*rng.uniform(-5, 105, 300), times[0], times[-1], times[10], (times[20] + times[21]) / 2]:
        assert features._nearest(list(times), t) == min(abs(e - t) for e in times)
        assert rhythm._nearest(times, t) == int(np.argmin(np.abs(times - t)))
        span = features._span(times, t, t + 7.5)
        assert np.array_equal(times[span], times[(times >= t) & (times < t + 7.5)])
    assert features._nearest([], 1.0) == float("inf")


def test_shots_count_the_edits_around_them_as_before(tmp_path):
    """Known answer: each shot's cut_rate is the brute-force count of edits
    within 10 s of its middle, on a 2,000-clip timeline."""
    sys.path.insert(0, str(REPO / "benchmark"))
    from bench_long import make_long_timeline

    from vidmusician.core.analysis.features import CUT_RATE_WINDOW_S, AnalysisOptions, analyze_timeline
    from vidmusician.core.io.timeline import read_timeline

    tl = read_timeline(str(make_long_timeline(tmp_path / "t.otio", 2000)))
    f = analyze_timeline(tl, AnalysisOptions(use_cache=False))
    edits = [a.time_s for a in f.anchors if a.kind in ("cut", "transition", "scene")]
    for s, feat in zip(tl.shots, f.shots):
        mid = (s.start_s + s.end_s) / 2
        lo, hi = max(0.0, mid - CUT_RATE_WINDOW_S), min(tl.duration_s, mid + CUT_RATE_WINDOW_S)
        count = sum(1 for e in edits if lo <= e <= hi)
        assert feat.descriptors["cut_rate"] == round(60.0 * count / max(hi - lo, 1e-6), 3)


def test_a_killed_runs_scratch_folder_is_swept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = tmp_path / f"vidmusician-render-{int(dead.stdout)}-abc"
    left.mkdir()
    (left / "pad.f32").write_bytes(b"\0" * 16)
    mine = TempFolder("vidmusician-render-", tmp_path)
    other = tmp_path / "vidmusician-render-notapid"
    other.mkdir()
    TempFolder("vidmusician-render-", tmp_path)
    assert not left.exists() and mine.path.exists() and other.exists()
    mine.remove()
    assert not mine.path.exists()
