"""``musicgen.load(folder)`` through audiocraft's real loaders, offline.

A tiny randomly initialised MusicGen is built from a config with audiocraft's
own builders, saved the way audiocraft's release checkpoints are
(``{'xp.cfg': ..., 'best_state': ...}`` in ``state_dict.bin`` and
``compression_state_dict.bin``), and loaded back by ``load``. Nothing is
downloaded: the text conditioner is a lookup table on the ``noop`` tokenizer
(T5 would download weights, the whitespace tokenizer a spaCy model).
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("audiocraft") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("the neural stack (torch, audiocraft) is not installed", allow_module_level=True)

import torch

from vidmusician.core.errors import OptionError
from vidmusician.core.neural.musicgen import COMPRESSION_FILE, LM_FILE, load

pytestmark = pytest.mark.slow  # the neural stack: pytest -m "not slow" is the quick loop

SAMPLE_RATE = 32000
RATIOS = [10, 8, 16]  # hop 1280 samples: 25 Hz at 32 kHz
FRAME_RATE = SAMPLE_RATE // (10 * 8 * 16)
N_Q, CARD = 4, 400


def tiny_config():
    """A complete audiocraft config for a tiny MusicGen, with the key names of
    audiocraft's ``config/`` (model/lm/default, model/lm/musicgen_lm,
    model/encodec/default, conditioner/text2music), sizes shrunk."""
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "device": "cpu",
            "dtype": "float32",
            "sample_rate": SAMPLE_RATE,
            "channels": 1,
            "dataset": {"segment_duration": 30.0},
            # the LM (model/lm/default.yaml + musicgen_lm.yaml)
            "lm_model": "transformer_lm",
            "codebooks_pattern": {
                "modeling": "delay",
                "delay": {"delays": list(range(N_Q)), "flatten_first": 0, "empty_initial": 0},
            },
            "transformer_lm": {
                "dim": 16,
                "num_heads": 4,
                "num_layers": 2,
                "hidden_scale": 4,
                "n_q": N_Q,
                "card": CARD,
                "dropout": 0.0,
                "emb_lr": None,
                "activation": "gelu",
                "norm_first": True,
                "bias_ff": False,
                "bias_attn": False,
                "bias_proj": False,
                "past_context": None,
                "causal": True,
                "custom": False,
                "memory_efficient": True,  # torch's scaled_dot_product_attention, no xformers
                "attention_as_float32": False,
                "layer_scale": None,
                "positional_embedding": "sin",
                "xpos": False,
                "checkpointing": "none",
                "weight_init": "gaussian",
                "depthwise_init": "current",
                "zero_bias_init": True,
                "norm": "layer_norm",
                "cross_attention": False,
                "qk_layer_norm": False,
                "qk_layer_norm_cross": False,
                "attention_dropout": None,
                "kv_repeat": 1,
                "two_step_cfg": False,
            },
            # conditioning (conditioner/text2music.yaml, with a LUT instead of T5)
            "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
            "attribute_dropout": {},
            "fuser": {
                "cross_attention_pos_emb": False,
                "cross_attention_pos_emb_scale": 1,
                "sum": [],
                "prepend": [],
                "cross": ["description"],
                "input_interpolate": [],
            },
            "conditioners": {
                "description": {"model": "lut", "lut": {"n_bins": 128, "dim": 16, "tokenizer": "noop"}},
            },
            # the compression model (model/encodec/default.yaml)
            "compression_model": "encodec",
            "encodec": {
                "autoencoder": "seanet",
                "quantizer": "rvq",
                "sample_rate": "${sample_rate}",
                "channels": "${channels}",
                "causal": False,
                "renormalize": False,
            },
            "seanet": {
                "dimension": 32,
                "channels": "${channels}",
                "causal": "${encodec.causal}",
                "n_filters": 4,
                "n_residual_layers": 1,
                "ratios": RATIOS,
                "activation": "ELU",
                "activation_params": {"alpha": 1.0},
                "norm": "weight_norm",
                "norm_params": {},
                "kernel_size": 7,
                "residual_kernel_size": 3,
                "last_kernel_size": 7,
                "dilation_base": 2,
                "pad_mode": "constant",
                "true_skip": True,
                "compress": 2,
                "lstm": 2,
                "disable_norm_outer_blocks": 0,
                "decoder": {
                    "trim_right_ratio": 1.0,
                    "final_activation": None,
                    "final_activation_params": None,
                },
                "encoder": {},
            },
            "rvq": {
                "n_q": N_Q,
                "q_dropout": False,
                "bins": CARD,
                "decay": 0.99,
                "kmeans_init": False,  # random codebooks now (True leaves them zero until trained)
                "kmeans_iters": 50,
                "threshold_ema_dead_code": 2,
                "orthogonal_reg_weight": 0.0,
                "orthogonal_reg_active_codes_only": False,
            },
            "no_quant": {},
        }
    )


def save_checkpoint(folder):
    """Build the tiny models with audiocraft's builders and save them as a
    MusicGen checkpoint folder; returns their state dicts."""
    from audiocraft.models import builders
    from omegaconf import OmegaConf

    cfg = tiny_config()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        lm = builders.get_lm_model(cfg)
        compression = builders.get_compression_model(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    states = {LM_FILE: lm.state_dict(), COMPRESSION_FILE: compression.state_dict()}
    for file, state in states.items():
        torch.save({"xp.cfg": plain, "best_state": state}, folder / file)
    return states


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("musicgen-tiny")
    return folder, save_checkpoint(folder)


@pytest.fixture(scope="module")
def mg(checkpoint):
    return load(str(checkpoint[0]))


def same(state, module):
    got = module.state_dict()
    return set(got) == set(state) and all(torch.equal(got[k], v) for k, v in state.items())


def test_the_folder_loads_with_the_saved_weights(checkpoint, mg):
    folder, states = checkpoint
    assert mg.name == folder.name
    assert same(states[LM_FILE], mg.lm)
    assert same(states[COMPRESSION_FILE], mg.compression_model)
    assert not mg.lm.training and not mg.compression_model.training
    from audiocraft.models import builders

    fresh = builders.get_lm_model(tiny_config())  # the weights came from the file, not the build
    assert not same(states[LM_FILE], fresh)


def test_the_loaded_model_has_the_configs_rates(mg):
    assert mg.sample_rate == SAMPLE_RATE
    assert mg.frame_rate == FRAME_RATE == 25
    assert mg.audio_channels == 1
    assert mg.lm.n_q == N_Q and mg.lm.card == CARD


def test_the_loaded_model_generates_a_finite_waveform(mg):
    mg.set_generation_params(duration=0.5)
    torch.manual_seed(0)
    with torch.no_grad():
        wav = mg.generate(["calm"])
    frames = int(0.5 * FRAME_RATE)
    assert wav.shape == (1, 1, frames * SAMPLE_RATE // FRAME_RATE)
    assert torch.isfinite(wav).all()


def test_a_checkpoint_of_another_shape_is_an_option_error(tmp_path, checkpoint):
    folder = checkpoint[0]
    (tmp_path / COMPRESSION_FILE).write_bytes((folder / COMPRESSION_FILE).read_bytes())
    pkg = torch.load(folder / LM_FILE)
    pkg["xp.cfg"]["transformer_lm"]["num_layers"] = 3  # the weights hold 2
    torch.save(pkg, tmp_path / LM_FILE)
    with pytest.raises(OptionError, match="cannot load MusicGen"):
        load(str(tmp_path))


def copy_lm(src, dst):
    (dst / LM_FILE).write_bytes((src / LM_FILE).read_bytes())


def test_a_release_export_with_the_config_as_yaml_loads(tmp_path, checkpoint):
    """audiocraft's exporters (utils/export.py, export_legacy.py for the first
    MusicGen release) store the config as a YAML string, with a version."""
    from omegaconf import OmegaConf

    states = checkpoint[1]
    for file, state in states.items():
        pkg = {
            "best_state": state,
            "xp.cfg": OmegaConf.to_yaml(tiny_config()),
            "version": "1.0.0",
            "exported": True,
        }
        torch.save(pkg, tmp_path / file)
    got = load(str(tmp_path))
    assert same(states[LM_FILE], got.lm) and same(states[COMPRESSION_FILE], got.compression_model)


def test_a_compression_package_naming_a_local_codec_loads(tmp_path, checkpoint):
    folder, states = checkpoint
    copy_lm(folder, tmp_path)
    torch.save({"pretrained": str(folder), "exported": True, "version": "1.0.0"}, tmp_path / COMPRESSION_FILE)
    assert same(states[COMPRESSION_FILE], load(str(tmp_path)).compression_model)


def test_a_compression_package_naming_an_uncached_hub_codec_fails_without_the_network(
    tmp_path, checkpoint, monkeypatch
):
    import socket

    looked_up = []

    def no_network(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "the test forbids the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    copy_lm(checkpoint[0], tmp_path)
    torch.save({"pretrained": "vidmusician-tests/no-such-codec"}, tmp_path / COMPRESSION_FILE)
    with pytest.raises(OptionError, match="cannot load MusicGen"):
        load(str(tmp_path))
    assert looked_up == []
