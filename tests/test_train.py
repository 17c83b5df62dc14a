"""Training VidMusician's modules (core/neural/train/) on a tiny random MusicGen (CPU).

The two learning tests train on synthetic tasks whose answer is known, and
can fail: the rhythm path must predict the tokens at the cuts, the semantic
path the class of the clip from its video vectors, clearly better than the
same model without that information. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading

import numpy as np
import pytest

if importlib.util.find_spec("audiocraft") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("the neural stack (torch, audiocraft) is not installed", allow_module_level=True)

import torch

from tests.conftest import write_video, write_wav
from vidmusician.core.cli import main
from vidmusician.core.errors import Cancelled, OptionError
from vidmusician.core.io.audio import load as load_audio
from vidmusician.core.neural.adapters import VidMusicianAdapters, for_model
from vidmusician.core.neural.musicgen import debug_model
from vidmusician.core.neural.train import (
    Example,
    Trainer,
    TrainOptions,
    load_checkpoint,
    make_batch,
    onset_curve,
    scan,
    token_losses,
)

pytestmark = pytest.mark.slow  # the neural stack: pytest -m "not slow" is the quick loop

K, T, RATE = 4, 40, 25.0  # the debug model's codebooks; 1.6 s windows at its 25 Hz
#: the tasks' and the training's seed; developed with 0-3 (VIDMUSICIAN_TRAIN_SEED=1 pytest ...)
SEED = int(os.environ.get("VIDMUSICIAN_TRAIN_SEED", "0"))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: one thread is several times faster than two here."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def trained(examples, stage, seed, steps=300, lr=3e-2, video_dim=8):
    mg = debug_model()
    torch.manual_seed(seed)
    adapters = for_model(mg.lm, "debug", video_dim=video_dim, stage=stage)
    opts = TrainOptions(
        stage=stage, steps=steps, batch=8, lr=lr, seconds=T / RATE, text_dropout=0.0, seed=seed
    )
    trainer = Trainer(mg, adapters, opts)
    trainer.fit(examples)
    trainer.adapters.eval()
    return mg, trainer


def losses(mg, trainer, examples, zero_rhythm=False):
    batch = make_batch(examples, [0] * len(examples), T, RATE, [None] * len(examples))
    if zero_rhythm:
        batch.rhythm = torch.zeros_like(batch.rhythm)
    with torch.no_grad():
        ce, mask = token_losses(mg, trainer.adapters, batch)
    return ce, mask


# --------------------------------------------------------------------------- learning: rhythm path


def cut_clips(task_seed: int, seed: int, n: int) -> list[Example]:
    """Clips of T steps cut at random frames (4-13 frames apart). Between cuts every
    codebook holds one random code (16..399); a cut frame carries an onset code
    (one per codebook, 0..15; the task's). The rhythm curve: cut impulses in channel 1; the
    change curve in channel 0 (1 at the cuts and at frame 0, small motion elsewhere)."""
    task = np.random.default_rng(10_000 + task_seed)
    onset = task.integers(0, 16, K)
    video = task.standard_normal((2, 8)).astype(np.float32)  # the same picture vector for every clip
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        codes = np.zeros((K, T), np.int64)
        curve = np.zeros((T, 2), np.float32)
        curve[:, 0] = rng.uniform(0.0, 0.1, T)
        curve[0, 0] = 1.0
        t = 0
        while t < T:
            length = int(rng.integers(4, 14))
            codes[:, t : t + length] = rng.integers(16, 400, K)[:, None]
            if t > 0:
                codes[:, t] = onset
                curve[t] = 1.0
            t += length
        out.append(Example(codes, video, curve, None, f"clip{i}"))
    return out


def test_rhythm_path_predicts_the_tokens_at_the_cuts():
    """Stage 2 against stage 1 trained the same way (the model without the rhythm
    path), on fresh clips, at the cut frames of every codebook (under the delay
    pattern codebook k of frame t is predicted at step t + k; the rhythm path
    gives every step the curve at s, s-1, ..., so each codebook finds its frame)."""
    train, test = cut_clips(SEED, SEED, 128), cut_clips(SEED, SEED + 500, 64)
    cut = torch.from_numpy(np.stack([e.rhythm[:, 1] > 0 for e in test]))
    figures = {}
    for name, stage in (("rhythm path (stage 2)", 2), ("no rhythm path (stage 1)", 1)):
        mg, trainer = trained(train, stage, SEED)
        ce, mask = losses(mg, trainer, test)
        per = [round(ce[:, k][mask[:, k] & cut].mean().item(), 2) for k in range(K)]
        figures[name] = torch.tensor(per), ce[mask & ~cut[:, None, :]]
        print(f"\n{name}: cut-frame CE per codebook {per}, elsewhere {figures[name][1].mean():.3f}")
        if stage == 2:
            zeroed, zmask = losses(mg, trainer, test, zero_rhythm=True)
            zper = [zeroed[:, k][zmask[:, k] & cut].mean().item() for k in range(K)]
            figures["rhythm zeroed"] = torch.tensor(zper), zeroed[zmask & ~cut[:, None, :]]
        trainer.close()
    with_r, without, zeroed = (
        figures[k][0] for k in ("rhythm path (stage 2)", "no rhythm path (stage 1)", "rhythm zeroed")
    )
    elsewhere = figures["rhythm path (stage 2)"][1].mean().item()
    elsewhere_without = figures["no rhythm path (stage 1)"][1].mean().item()
    print(
        f"every codebook at {int(cut.sum())} cuts: {with_r.mean():.2f} nats with the rhythm path, "
        f"{without.mean():.2f} without (stage 1), {zeroed.mean():.2f} with its curve zeroed; elsewhere "
        f"{elsewhere:.3f} vs {elsewhere_without:.3f} (uniform 1/400: {np.log(400):.2f})"
    )
    assert torch.all(with_r < without - 1.0)  # seed 0: [2.84, 2.42, 2.05, 2.92] vs [5.66, 5.14, 5.62, 5.64]
    assert torch.all(with_r < zeroed - 1.0)  # the curve itself carries it, not a prior learnt on the side
    # and it does not buy the cuts with the rest: elsewhere about as good as without it. The width-16
    # test model pays a little there (seed 0: 6.18 vs 6.04 nats on random codes, ~ln 384)
    assert elsewhere < elsewhere_without + 0.3


# --------------------------------------------------------------------------- learning: semantic path


def class_clips(task_seed: int, seed: int, n: int, palette: int = 4) -> list[Example]:
    """Two classes of clips: class c has video vectors v_c (+ noise) and tokens
    drawn from its own palette of ``palette`` codes (two disjoint random sets, the task's)."""
    task = np.random.default_rng(20_000 + task_seed)
    vectors = task.standard_normal((2, 8)).astype(np.float32)
    sets = task.permutation(400)[: 2 * palette].reshape(2, palette)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = i % 2
        codes = sets[c][rng.integers(0, palette, (K, T))]
        video = (vectors[c] + 0.1 * rng.standard_normal((2, 8))).astype(np.float32)
        out.append(Example(codes, video, None, None, f"class{c}-{i}"))
    return out


def test_semantic_path_predicts_the_class_of_the_clip():
    """Stage 1; fresh clips with their own class's video vectors against the
    other class's. Palettes of 4 codes: the tiny debug model (width 16, frozen
    output layer) cannot express a split into codebook halves, measured at
    6.003 vs 6.010 nats; a real MusicGen's width is 1024 or more."""
    train, test = class_clips(SEED, SEED, 128), class_clips(SEED, SEED + 500, 64)
    swapped = [Example(e.codes, test[i ^ 1].video, None, None) for i, e in enumerate(test)]
    mg, trainer = trained(train, 1, SEED)
    figures = {}
    for name, ex in (("own vectors", test), ("swapped vectors", swapped)):
        ce, mask = losses(mg, trainer, ex)
        p = torch.exp(-ce)  # probability of the true token
        figures[name] = (ce[mask].mean().item(), p[mask].mean().item())
    trainer.close()
    (right, p_right), (wrong, p_wrong) = figures["own vectors"], figures["swapped vectors"]
    print(
        f"\nsemantic path: {right:.3f} nats per token with the clip's own video vectors, {wrong:.3f} with the "
        f"other class's; mean p(true token) {p_right:.4f} vs {p_wrong:.4f} (uniform over the palette 0.25, "
        f"over the codebook 0.0025)"
    )
    assert right < wrong - 0.4  # seeds 0-7: 5.28-5.63 vs 6.20-7.08 nats, gaps 0.64-1.80
    assert p_right > 1.3 * p_wrong  # seeds 0-7: 1.7-4.5 times
    assert right < np.log(400) - 0.2  # better than knowing nothing (uniform: 5.99)


# --------------------------------------------------------------------------- checkpoints


def test_a_resumed_run_takes_the_same_steps_as_an_uninterrupted_one(tmp_path):
    data = cut_clips(7, 7, 16)
    opts = TrainOptions(stage=2, steps=6, batch=2, lr=1e-2, seconds=T / RATE, checkpoint_every=2, seed=3)

    def new():
        mg = debug_model()
        torch.manual_seed(0)
        return mg, Trainer(mg, for_model(mg.lm, "debug", video_dim=8, stage=2), opts)

    _, whole = new()
    labels = []
    whole.fit(data, data[:4], progress=lambda f, label: labels.append(label))
    whole.close()
    assert any("loss" in label for label in labels)
    final = {n: p.detach().clone() for n, p in whole.adapters.named_parameters()}

    _, first = new()
    stop = threading.Event()
    run = tmp_path / "run"
    with pytest.raises(Cancelled, match="cancelled at step 3; continue it with --resume"):
        first.fit(data, data[:4], run, lambda f, label: stop.set() if first.step == 3 else None, stop)
    first.close()
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 3
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-0000002", "checkpoint-0000003"]
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.bin"))  # nothing pickled

    mg = debug_model()
    adapters, folder, state = load_checkpoint(run, mg)
    again = Trainer(mg, adapters, opts)
    again.restore(folder)
    assert again.step == 3 and state["step"] == 3
    for (n, a), b in zip(again.adapters.named_parameters(), first.adapters.parameters()):
        assert torch.equal(a, b), n
    saved, restored = first.optimizer.state_dict(), again.optimizer.state_dict()
    assert saved["param_groups"] == restored["param_groups"]
    for i, st in saved["state"].items():
        for k, v in st.items():
            assert torch.equal(v, restored["state"][i][k]), (i, k)
    again.fit(data, data[:4], run)
    again.close()
    assert again.step == 6 and [s for s, _ in again.history.train] == list(range(6))
    for n, p in again.adapters.named_parameters():
        assert torch.allclose(p, final[n], atol=1e-6), n
    assert [v for _, v in again.history.train] == pytest.approx([v for _, v in whole.history.train], abs=1e-6)
    loaded = VidMusicianAdapters.load(run / "adapters")  # what score --adapters reads: the last step's
    assert loaded.config.stage == 2
    for n, p in loaded.named_parameters():
        assert torch.allclose(p, final[n], atol=1e-6), n


# --------------------------------------------------------------------------- data and the command line


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        write_video(folder / f"clip{i}.mp4", [25], 50)
        write_wav(folder / f"clip{i}.wav", 2.0)
    return folder


def run_cli(*args):
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(["-q", *map(str, args)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_trains_resumes_and_starts_stage_2_from_stage_1(data, tmp_path):
    run = tmp_path / "run"
    code, out, err = run_cli("train", data, "-o", run, "--steps", 2, "--batch", 2, "--seconds", 1)
    assert code == 0, err
    assert "trainable parameters: " in out and "(stage 1: semantic path and LoRA)" in out
    assert "step 2: train loss " in out and "validation loss " in out and "1 held out" in out
    assert f"adapters: {run / 'adapters'}" in out
    log = json.loads((run / "train.json").read_text())
    assert log["step"] == 2 and log["trainable"] > 0 and len(log["data"]["val"]) == 1
    stage1 = VidMusicianAdapters.load(run / "adapters")
    assert stage1.config.stage == 1 and stage1.config.feature == "descriptors"
    # the tokens and features were cached: the cache holds one entry per clip
    assert len(list((tmp_path / "cache" / "train").glob("*.safetensors"))) == 2

    code, out, err = run_cli("train", data, "-o", run, "--resume", "--steps", 3)
    assert code == 0, err
    assert "step 3: " in out and json.loads((run / "train.json").read_text())["step"] == 3
    code, _, err = run_cli("train", data, "-o", run, "--steps", 3)
    assert code == 2 and "exists already" in err and "--resume" in err
    code, _, err = run_cli("train", data, "-o", run, "--resume", "--lr", "0.1")
    assert code == 2 and "--lr differs" in err

    run2 = tmp_path / "run2"
    code, out, err = run_cli(
        "train", data, "-o", run2, "--stage", 2, "--init", run / "adapters", "--steps", 1, "--batch", 2
    )
    assert code == 0, err
    assert "(stage 2: semantic path, LoRA and rhythm path)" in out
    stage2 = VidMusicianAdapters.load(run2 / "adapters")
    assert stage2.config.stage == 2
    n1 = int(out.split("trainable parameters: ")[1].split()[0].replace(",", ""))
    assert n1 == stage2.count(2) > stage1.count(1)


def test_cli_bad_data_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("train", empty, "-o", tmp_path / "r1")
    assert code == 2 and "no videos in it" in err
    silent = tmp_path / "silent"
    silent.mkdir()
    write_video(silent / "clip.mp4", [10], 25)  # OpenCV writes no audio track
    code, _, err = run_cli("train", silent, "-o", tmp_path / "r2")
    assert code == 2 and "none of its videos has music (clip.mp4)" in err and "clip.wav" in err
    code, _, err = run_cli("train", tmp_path / "missing", "-o", tmp_path / "r3")
    assert code == 2 and "not a folder" in err
    code, _, err = run_cli("train", silent, "-o", tmp_path / "r4", "--music-only")
    assert code == 2 and "--stage 2" in err
    code, _, err = run_cli("train", silent, "-o", tmp_path / "r5", "--music-only", "--stage", 2)
    assert code == 2 and "no music in it" in err
    assert not any((tmp_path / f"r{i}").exists() for i in range(1, 6))
    code, _, err = run_cli("train", silent, "-o", empty, "--resume")
    assert code == 2 and "no checkpoint in it to resume" in err
    with pytest.raises(OptionError, match="--steps"):
        TrainOptions(steps=0).check()


def test_a_video_with_its_own_audio_track_is_its_own_music(tmp_path):
    import av

    path = tmp_path / "own.mp4"
    with av.open(str(path), "w") as c:
        v = c.add_stream("mpeg4", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i in range(25):
            img = np.full((48, 64, 3), 40 + 8 * i, np.uint8)
            for pkt in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)
        for k in range(0, len(tone), 1024):
            f = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, k
            for pkt in a.encode(f):
                c.mux(pkt)
        for s in (v, a):
            for pkt in s.encode():
                c.mux(pkt)
    sources, warnings = scan(tmp_path)
    assert [(s.name, s.music, s.video) for s in sources] == [("own.mp4", path, path)] and not warnings
    # an audio file beside the video wins over its track (which may hold dialogue)
    (tmp_path / "both.mp4").write_bytes(path.read_bytes())
    write_wav(tmp_path / "both.wav", 1.0)
    sources, _ = scan(tmp_path)
    assert [(s.name, s.music.name) for s in sources] == [("both.mp4", "both.wav"), ("own.mp4", "own.mp4")]
    assert [s.name for s in scan(tmp_path, music_only=True)[0]] == ["both.wav", "own.mp4"]
    y = load_audio(path, 32000)
    assert y.shape[0] == 1 and abs(y.shape[1] - 32000) < 1500
    spectrum = np.abs(np.fft.rfft(y[0, 4000:28000]))
    assert abs(np.argmax(spectrum) * 32000 / 24000 - 440) < 3  # the tone, resampled to 32 kHz


def test_music_only_curve_marks_the_music_onsets_and_trains_the_rhythm_path(tmp_path):
    """A click every half second: the curve peaks at the clicks and the impulses
    (the stand-in for cuts) fall on clicks, half a second apart at least. Then a
    music-only run on it trains the rhythm path alone."""
    import soundfile

    sr = 32000
    clicks = np.arange(0.25, 4.0, 0.5)
    y = np.zeros(4 * sr, np.float32)
    for t in clicks:
        i = int(t * sr)
        y[i : i + 400] += np.hanning(800)[400:] * np.sin(2 * np.pi * 1000 * np.arange(400) / sr)
    curve = onset_curve(y[None], sr, RATE, 100)
    assert curve.shape == (100, 2) and curve.min() >= 0 and curve.max() == pytest.approx(1.0)
    steps = clicks * RATE
    near = lambda k: np.min(np.abs(steps - k)) <= 1.0  # noqa: E731
    strong = np.nonzero(curve[:, 0] > 0.3)[0]
    assert all(near(k) for k in strong) and len({int(round(k)) // 12 for k in strong}) >= 6
    impulses = np.nonzero(curve[:, 1])[0]
    assert len(impulses) >= 4 and all(near(k) for k in impulses) and np.diff(impulses).min() >= 12
    silence = onset_curve(np.zeros((1, sr)), sr, RATE, 25)
    assert not silence.any()

    (tmp_path / "music").mkdir()
    soundfile.write(tmp_path / "music" / "clicks.wav", y, sr)
    run = tmp_path / "run"
    code, out, err = run_cli(
        "train", tmp_path / "music", "-o", run, "--music-only", "--stage", 2, "--steps", 1, "--seconds", 1
    )
    assert code == 0, err
    assert "(stage 2: rhythm path, from the music's onsets)" in out and "validation loss" in out
    adapters = VidMusicianAdapters.load(run / "adapters")
    rhythm = sum(p.numel() for p in (*adapters.rhythm_in.parameters(), *adapters.rhythm_blocks.parameters()))
    assert f"trainable parameters: {rhythm:,} " in out
    assert adapters.rhythm_in.weight.abs().sum() > 0  # it moved from its zero start


# --------------------------------------------------------------------------- mixed precision


def test_mixed_precision_trains_like_fp32_and_keeps_its_scaler_across_resume(tmp_path):
    """--precision bf16 / fp16 (what ``auto`` picks on a GPU) run under CPU
    autocast here: the same code path, device type aside. The forward pass
    really runs in the low precision, the trained parameters stay fp32, the
    loss falls as in fp32, and fp16's gradient scaler is checkpointed."""
    data = cut_clips(7, 7, 32)

    def run(precision, folder=None, steps=30):
        mg = debug_model()
        torch.manual_seed(0)
        opts = TrainOptions(
            stage=2, steps=steps, batch=8, lr=3e-2, seconds=T / RATE, text_dropout=0.0, seed=0,
            precision=precision, checkpoint_every=steps,
        )  # fmt: skip
        trainer = Trainer(mg, for_model(mg.lm, "debug", video_dim=8, stage=2), opts)
        seen = set()
        hook = mg.lm.transformer.layers[0].self_attn.register_forward_hook(
            lambda m, i, o: seen.add((o[0] if isinstance(o, tuple) else o).dtype)
        )
        trainer.fit(data, data[:8], folder)
        hook.remove()
        trainer.close()
        return trainer, seen

    reference, seen = run("fp32")
    assert seen == {torch.float32} and reference.scaler is None
    first = reference.history.train[0][1]
    last = np.mean([v for _, v in reference.history.train[-5:]])
    assert last < first - 0.1  # it learns at all (seed 0: 6.19 -> ~6.0)
    for precision, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        trainer, seen = run(precision, tmp_path / precision)
        assert seen == {dtype}, precision  # autocast is on: not a silent fp32 run
        assert all(p.dtype == torch.float32 for p in trainer.params)
        assert (trainer.scaler is not None) == (precision == "fp16")
        values = [v for _, v in trainer.history.train]
        assert np.all(np.isfinite(values))
        assert np.mean(values[-5:]) == pytest.approx(last, abs=0.05), precision
        assert trainer.history.val and abs(trainer.history.val[-1][1] - reference.history.val[-1][1]) < 0.05

    # fp16: the scaler's state (scale, growth tracker) comes back with the checkpoint
    mg = debug_model()
    adapters, folder, _ = load_checkpoint(tmp_path / "fp16", mg)
    again = Trainer(mg, adapters, trainer.options)
    assert again.scaler.get_scale() == 65536.0  # a fresh scaler's, before restore
    again.restore(folder)
    assert again.scaler.state_dict() == trainer.scaler.state_dict()
    again.close()
    with pytest.raises(OptionError, match="--precision: one of auto, fp32, bf16, fp16"):
        TrainOptions(precision="half").check()
