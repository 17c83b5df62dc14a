"""The MusicGen backend's VidMusician modules on a tiny random MusicGen (CPU, seconds)."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("audiocraft") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("the neural stack (torch, audiocraft) is not installed", allow_module_level=True)

import torch

from vidmusician.core.errors import InputError, OptionError
from vidmusician.core.neural.adapters import VidMusicianAdapters, for_model
from vidmusician.core.neural.musicgen import debug_model, load

pytestmark = pytest.mark.slow  # the neural stack: pytest -m "not slow" is the quick loop


@pytest.fixture(scope="module")
def mg():
    return debug_model()


def conditions(lm, n):
    from audiocraft.modules.conditioners import ConditioningAttributes

    attrs = [ConditioningAttributes(text={"description": "calm piano"}) for _ in range(n)]
    return lm.condition_provider(lm.condition_provider.tokenize(attrs))


def perturbed(adapters, scale=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapters.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return adapters


def test_debug_model_is_built_offline_and_is_the_same_every_time(mg):
    again = debug_model()
    a = dict(mg.lm.named_parameters())
    assert all(torch.equal(p, a[n]) for n, p in again.lm.named_parameters())
    assert mg.sample_rate == 32000 and mg.frame_rate == 25


def test_untrained_modules_leave_the_logits_unchanged(mg):
    lm = mg.lm
    codes = torch.randint(0, 400, (2, 4, 30), generator=torch.Generator().manual_seed(1))
    cond = conditions(lm, 2)
    with torch.no_grad():
        base = lm(codes, [], cond)
    adapters = for_model(lm, "debug").attach(lm)
    try:
        adapters.condition(torch.randn(2, 6, 16), torch.randn(2, 40, 2))
        with torch.no_grad():
            got = lm(codes, [], cond)
        assert (got - base).abs().max().item() <= 1e-5
        perturbed(adapters)  # the test can fail: trained modules change the logits
        with torch.no_grad():
            changed = lm(codes, [], cond)
        assert (changed - base).abs().max().item() > 1e-2
    finally:
        adapters.detach()
    with torch.no_grad():
        assert torch.equal(lm(codes, [], cond), base)  # detached: MusicGen as it was


def test_streaming_gets_the_conditioning_of_its_own_position(mg):
    lm = mg.lm
    s = 24
    seq = torch.randint(0, 400, (1, 4, s), generator=torch.Generator().manual_seed(2))
    cond = conditions(lm, 1)
    adapters = perturbed(for_model(lm, "debug")).attach(lm)
    try:
        rhythm = torch.zeros(1, s, 2)
        rhythm[0, ::6, 0] = 1.0  # impulses every 6 steps
        adapters.condition(torch.randn(1, 4, 16, generator=torch.Generator().manual_seed(3)), rhythm)
        with torch.no_grad():
            full = lm(seq, [], cond)
            steps = []
            with lm.streaming():
                for t in range(s):
                    steps.append(lm(seq[:, :, t : t + 1], [], cond))
        streamed = torch.cat(steps, dim=2)
        assert (streamed - full).abs().max().item() <= 1e-5
        # the slice matters: the same steps fed a shifted curve differ
        adapters.condition(
            torch.randn(1, 4, 16, generator=torch.Generator().manual_seed(3)), rhythm.roll(3, 1)
        )
        with torch.no_grad():
            shifted = lm(seq, [], cond)
        assert (shifted - full).abs().max().item() > 1e-3
    finally:
        adapters.detach()


def test_only_the_new_modules_train_and_they_save_and_load(mg, tmp_path):
    lm = mg.lm
    adapters = perturbed(for_model(lm, "debug"))
    n1, n2 = adapters.count(1), adapters.count(2)
    assert 0 < n1 < n2
    base_params = sum(p.numel() for p in lm.parameters())
    assert n2 < base_params  # parameter-efficient even on the tiny model
    trainable = {id(p) for p in adapters.trainable(2)}
    assert not trainable & {id(p) for p in lm.parameters()}
    adapters.save(tmp_path / "a")
    loaded = VidMusicianAdapters.load(tmp_path / "a")
    assert loaded.config == adapters.config
    video, rhythm = torch.randn(1, 3, 16), torch.randn(1, 20, 2)
    seq = torch.randint(0, 400, (1, 4, 20), generator=torch.Generator().manual_seed(4))
    cond = conditions(lm, 1)
    outs = []
    for a in (adapters, loaded):
        a.attach(lm)
        a.condition(video, rhythm)
        with torch.no_grad():
            outs.append(lm(seq, [], cond))
        a.detach()
    assert torch.equal(outs[0], outs[1])


def test_bad_adapter_files_and_models_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="needs adapters.json"):
        VidMusicianAdapters.load(tmp_path)
    (tmp_path / "adapters.json").write_text('{"format": "vidmusician-adapters", "config": {}}')
    (tmp_path / "adapters.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="not readable"):
        VidMusicianAdapters.load(tmp_path)
    with pytest.raises(OptionError, match="lacks state_dict.bin and compression_state_dict.bin"):
        load(str(tmp_path))
    with pytest.raises(OptionError, match="not in the local Hugging Face cache"):
        load("facebook/musicgen-nonexistent")
    (tmp_path / "state_dict.bin").write_bytes(b"garbage")
    (tmp_path / "compression_state_dict.bin").write_bytes(b"garbage")
    with pytest.raises(OptionError, match="cannot load MusicGen from"):
        load(str(tmp_path))


# --------------------------------------------------------------------------- conditioning (numpy)


def test_change_curve_known_answers():
    import numpy as np

    from vidmusician.core.neural.conditioning import change_curve

    p = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    d = change_curve(p)
    # d_0 = 1; same direction 0; a right angle 1; still frames count as unchanged
    assert d.tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    assert change_curve(np.array([[1.0, 0.0], [-1.0, 0.0]]))[1] == pytest.approx(2.0)  # reversal


def test_rhythm_curve_puts_cuts_at_their_steps_and_semantics_follow_the_shots(tmp_path):
    import numpy as np

    from vidmusician.core import demo
    from vidmusician.core.analysis.analyze import analyze
    from vidmusician.core.neural.conditioning import DESCRIPTOR_DIM, rhythm, semantic
    from vidmusician.core.rhythm.planner import hard_cut_times

    feats = analyze(demo.make_demo_cut(tmp_path)["otio"])
    r = rhythm(feats, 50.0, feats.timeline.duration_s)
    assert r.shape == (int(np.ceil(feats.timeline.duration_s * 50)), 2)
    cuts = hard_cut_times(feats.anchors)
    assert sorted(np.flatnonzero(r[:, 1]).tolist()) == sorted({int(round(t * 50)) for t in cuts})
    assert r[0, 0] == 1.0 and np.all((r[:, 0] >= 0) & (r[:, 0] <= 2))
    sem, kind = semantic(feats)
    assert kind == "descriptors" and sem.shape == (int(np.ceil(feats.timeline.duration_s)), DESCRIPTOR_DIM)
    for s in feats.timeline.shots:  # every second carries the vector of the shot under it
        sec = int(s.start_s + 0.5) if s.end_s - s.start_s >= 1 else None
        if sec is not None and s.start_s <= sec + 0.5 < s.end_s:
            assert np.array_equal(sem[sec], sem[int(np.floor(s.start_s + 0.5))])


# --------------------------------------------------------------------------- the backend in a session


def test_score_with_musicgen_debug_writes_a_complete_session_and_regenerates_a_shot(tmp_path):
    import json

    import numpy as np
    import opentimelineio as otio
    import soundfile

    from vidmusician.core import demo
    from vidmusician.core.session.splice import read_pcm
    from vidmusician.core.session.store import Session

    from .test_cli import run

    cut = demo.make_demo_cut(tmp_path / "cut")["otio"]
    out = tmp_path / "out"
    code, _, err = run("score", str(cut), "-o", str(out), "--backend", "musicgen", "--model", "debug", "-q")
    assert code == 0, err
    s = Session.load(out)
    t = s.take(1)
    assert (
        t["backend"] == "musicgen"
        and t["model"] == "debug"
        and t["text"].startswith(t["style"].replace("-", " "))
    )
    info = soundfile.info(str(out / "mix.wav"))
    plan = json.loads((out / "plan.json").read_text())
    assert info.samplerate == 48000 and info.subtype == "PCM_24"
    assert info.frames == round((plan["duration_s"] + plan["ring_out_s"]) * 48000)
    mix, _ = soundfile.read(str(out / "mix.wav"))
    assert np.abs(mix).max() <= 10 ** (-1 / 20) and np.sqrt(np.mean(mix**2)) > 1e-3
    back = otio.adapters.read_from_file(str(out / "timeline.otio"))
    assert any(tr.name == "VidMusician Mix" for tr in back.audio_tracks())

    code, _, err = run("regenerate", str(out), "--shot", "4", "--seed", "5", "-q")
    assert code == 0, err
    s = Session.load(out)
    t2 = s.take(2)
    assert t2["parent"] == 1 and t2["backend"] == "musicgen"
    a0 = int(round(t2["range_s"][0] * 48000)) - 2400
    b = int(round(t2["range_s"][1] * 48000))
    old, new = read_pcm(out / "mix.wav"), read_pcm(out / t2["files"]["mix"])
    assert np.array_equal(old[:a0], new[:a0]) and np.array_equal(old[b:], new[b:])
    assert not np.array_equal(old[a0:b], new[a0:b])


def test_musicgen_needs_a_model(tmp_path):
    from .test_cli import run

    code, _, err = run("score", "x.otio", "-o", str(tmp_path / "o"), "--backend", "musicgen")
    assert code == 2 and "--model" in err


def test_doctor_finds_cached_checkpoints_and_adapter_sets(tmp_path, mg):
    from vidmusician.core.neural import status

    for repo, files in (
        ("facebook/musicgen-small", ("state_dict.bin", "compression_state_dict.bin")),
        ("openai/clip-vit-base-patch32", ("config.json",)),
        ("someone/other", ("x.bin",)),
    ):
        base = tmp_path / "hub" / ("models--" + repo.replace("/", "--"))
        (base / "refs").mkdir(parents=True)
        (base / "refs" / "main").write_text("abc")
        snap = base / "snapshots" / "abc"
        snap.mkdir(parents=True)
        for f in files:
            blob = base / "blobs" / f"{f}.blob"
            blob.parent.mkdir(exist_ok=True)
            blob.write_bytes(b"x")
            (snap / f).symlink_to(blob)
    musicgen, clip = status.cached_models(str(tmp_path / "hub"))
    assert musicgen == ["facebook/musicgen-small"] and clip == ["openai/clip-vit-base-patch32"]
    for_model(mg.lm, "debug").save(tmp_path / "runs" / "a")
    (tmp_path / "runs" / "b").mkdir()
    (tmp_path / "runs" / "b" / "adapters.json").write_text("{")
    found = status.adapter_sets(tmp_path / "runs")
    assert [(p.rsplit("/", 1)[-1], d) for p, d in found] == [
        ("a", "stage 1 on debug, descriptors"),
        ("b", "unreadable adapters.json"),
    ]
    ok, version = status.audiocraft_imports()
    assert ok and version == "1.3.0"
