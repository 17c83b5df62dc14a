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
