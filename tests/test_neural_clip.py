"""The CLIP seam, on a tiny randomly initialised model built from config (nothing downloaded)."""

from __future__ import annotations

import argparse
import json
import string

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from vidmusician.core.analysis.features import AnalysisOptions, analyze_timeline
from vidmusician.core.errors import OptionError
from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.neural.clip import GENRE_TAGS, MOOD_TAGS, ClipEncoder

from .conftest import clip, save, timeline, video_track, write_video

pytestmark = pytest.mark.slow  # the neural stack: pytest -m "not slow" is the quick loop


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A CLIP of 32-wide layers with a character-level tokenizer, saved as a checkpoint folder."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny_clip")
    tokens = [
        "<|startoftext|>",
        "<|endoftext|>",
        *string.ascii_lowercase,
        *(c + "</w>" for c in string.ascii_lowercase),
    ]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=40,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
        ),
        projection_dim=16,
    )
    CLIPModel(cfg).save_pretrained(folder)
    return folder


def test_encoder_shapes_and_normalised_embeddings(tiny_clip):
    enc = ClipEncoder.load(tiny_clip)
    frames = np.random.default_rng(0).integers(0, 255, (5, 144, 256, 3)).astype(np.uint8)
    cls, patches = enc.encode(frames, batch=2)
    assert cls.shape == (5, 16) and patches.shape == (5, 16, 32)  # (32/8)^2 patches
    assert np.allclose(np.linalg.norm(cls, axis=1), 1.0, atol=1e-5)
    again, _ = enc.encode(frames)
    assert np.allclose(cls, again, atol=1e-5)  # deterministic, batch size does not matter
    probs = enc.zero_shot(cls, MOOD_TAGS)
    assert probs.shape == (5, len(MOOD_TAGS)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    tags = enc.tags(cls)
    assert len(tags) == 6 and set(tags[:3]) <= set(MOOD_TAGS) and set(tags[3:]) <= set(GENRE_TAGS)


def test_analysis_with_clip_gives_per_second_embeddings_and_tags(tiny_clip, tmp_path):
    v = write_video(tmp_path / "v.mp4", [], 100)  # 4 s
    t = timeline(
        video_track(clip("a", 50, rate=25, url=v.as_uri()), clip("b", 50, rate=25, start=50, url=v.as_uri())),
        rate=25,
        start=0,
    )
    tl = read_timeline(save(t, tmp_path / "t.otio"))
    f = analyze_timeline(tl, AnalysisOptions(clip=str(tiny_clip)))
    assert f.clip is not None
    assert len(f.clip.times_s) == 4 and f.clip.cls.shape == (4, 16)
    assert np.allclose(f.clip.times_s, [0, 1, 2, 3], atol=0.05)
    assert all(len(s.tags) == 6 for s in f.shots)
    plain = analyze_timeline(tl, AnalysisOptions())
    assert plain.clip is None and all(s.tags == () for s in plain.shots)
    assert [s.valence for s in plain.shots] == [s.valence for s in f.shots]  # CLIP adds, changes nothing


def test_missing_checkpoint_says_where_it_looked(tmp_path):
    with pytest.raises(OptionError, match="no CLIP checkpoint folder"):
        ClipEncoder.load(tmp_path / "nope")
    with pytest.raises(OptionError, match="Hugging Face cache"):
        ClipEncoder.load("someone/not-cached-clip")


def test_cli_clip_flag_with_a_bad_path_exits_2(tmp_path):
    from .test_cli import run

    v = write_video(tmp_path / "v.mp4", [], 25)
    code, _, err = run("analyze", str(v), "--clip", str(tmp_path / "missing"), "--quiet")
    assert code == 2 and "CLIP checkpoint" in err and "Traceback" not in err


# --- open_clip / OpenAI checkpoints, converted to transformers at load ----------------------------


def _tiny_model(act="quick_gelu", v_heads=2, t_heads=2, width=128, seed=1):
    """A random transformers CLIP with every weight perturbed (LayerNorms and biases included)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=64,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            num_attention_heads=t_heads,
            max_position_embeddings=20,
            hidden_act=act,
            bos_token_id=62,
            eos_token_id=63,
            pad_token_id=0,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            num_attention_heads=v_heads,
            hidden_act=act,
        ),
        projection_dim=24,
    )
    model = CLIPModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _open_clip_state(model):
    """The model's weights in OpenAI/open_clip layout (the inverse of the loader's mapping)."""
    import torch

    hf = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {}
    towers = (
        ("vision_model.encoder.layers.", "visual.transformer.resblocks.", model.config.vision_config),
        ("text_model.encoder.layers.", "transformer.resblocks.", model.config.text_config),
    )
    for src, dst, cfg in towers:
        for i in range(cfg.num_hidden_layers):
            s, d = f"{src}{i}.", f"{dst}{i}."
            for p in ("weight", "bias"):
                out[d + f"attn.in_proj_{p}"] = torch.cat(
                    [hf.pop(s + f"self_attn.{x}_proj.{p}") for x in "qkv"]
                )
                out[d + f"attn.out_proj.{p}"] = hf.pop(s + f"self_attn.out_proj.{p}")
                out[d + f"ln_1.{p}"] = hf.pop(s + f"layer_norm1.{p}")
                out[d + f"ln_2.{p}"] = hf.pop(s + f"layer_norm2.{p}")
                out[d + f"mlp.c_fc.{p}"] = hf.pop(s + f"mlp.fc1.{p}")
                out[d + f"mlp.c_proj.{p}"] = hf.pop(s + f"mlp.fc2.{p}")
    out["visual.class_embedding"] = hf.pop("vision_model.embeddings.class_embedding")
    out["visual.positional_embedding"] = hf.pop("vision_model.embeddings.position_embedding.weight")
    out["visual.conv1.weight"] = hf.pop("vision_model.embeddings.patch_embedding.weight")
    out["visual.proj"] = hf.pop("visual_projection.weight").T.contiguous()
    out["token_embedding.weight"] = hf.pop("text_model.embeddings.token_embedding.weight")
    out["positional_embedding"] = hf.pop("text_model.embeddings.position_embedding.weight")
    out["text_projection"] = hf.pop("text_projection.weight").T.contiguous()
    out["logit_scale"] = hf.pop("logit_scale")
    for p in ("weight", "bias"):
        out[f"visual.ln_pre.{p}"] = hf.pop(f"vision_model.pre_layrnorm.{p}")
        out[f"visual.ln_post.{p}"] = hf.pop(f"vision_model.post_layernorm.{p}")
        out[f"ln_final.{p}"] = hf.pop(f"text_model.final_layer_norm.{p}")
    assert not hf, sorted(hf)  # every weight mapped
    return out


def _open_clip_config(model, quick_gelu):
    v, t = model.config.vision_config, model.config.text_config
    cfg = {
        "embed_dim": model.config.projection_dim,
        "vision_cfg": {
            "image_size": v.image_size,
            "layers": v.num_hidden_layers,
            "width": v.hidden_size,
            "patch_size": v.patch_size,
            "head_width": v.hidden_size // v.num_attention_heads,
            "mlp_ratio": v.intermediate_size / v.hidden_size,
        },
        "text_cfg": {
            "context_length": t.max_position_embeddings,
            "vocab_size": t.vocab_size,
            "width": t.hidden_size,
            "heads": t.num_attention_heads,
            "layers": t.num_hidden_layers,
        },
    }
    if quick_gelu:
        cfg["quick_gelu"] = True
    return {"model_cfg": cfg, "preprocess_cfg": {"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]}}


def _save(state, path):
    import torch
    from safetensors.torch import save_file

    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def _assert_same_as(original, path, act):
    """Loading ``path`` gives the original's image embeddings, patch features and text features."""
    import torch

    frames = np.random.default_rng(3).integers(0, 255, (3, 48, 64, 3)).astype(np.uint8)
    want_cls, want_patches = ClipEncoder(original, None, "original").encode(frames)
    enc = ClipEncoder.load(path)
    assert enc.model.config.vision_config.hidden_act == act
    assert enc.model.config.text_config.hidden_act == act
    cls, patches = enc.encode(frames)
    assert cls.shape == want_cls.shape and patches.shape == want_patches.shape == (3, 16, 128)
    np.testing.assert_allclose(cls, want_cls, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(patches, want_patches, rtol=1e-5, atol=1e-5)
    ids = torch.tensor([[62, 5, 9, 63, 0, 0], [62, 17, 63, 0, 0, 0]])  # end of text is the highest id
    with torch.inference_mode():
        want = original.text_projection(original.text_model(input_ids=ids).pooler_output)
        got = enc.model.text_projection(enc.model.text_model(input_ids=ids).pooler_output)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert enc.model.logit_scale.item() == pytest.approx(original.logit_scale.item())
    return enc


@pytest.mark.parametrize("weights", ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
def test_open_clip_folder_matches_the_original_model(tmp_path, weights):
    model = _tiny_model(act="gelu", v_heads=4, t_heads=2)  # head_width 32, not OpenAI's 64
    (tmp_path / "open_clip_config.json").write_text(json.dumps(_open_clip_config(model, quick_gelu=False)))
    _save(_open_clip_state(model), tmp_path / weights)
    enc = _assert_same_as(model, tmp_path, act="gelu")
    assert enc.tokenizer is None and enc.tags(np.ones((1, 24), np.float32)) == ()


def test_open_clip_folder_with_quick_gelu_and_a_tokenizer_beside(tmp_path):
    model = _tiny_model(act="quick_gelu")
    (tmp_path / "open_clip_config.json").write_text(json.dumps(_open_clip_config(model, quick_gelu=True)))
    _save(_open_clip_state(model), tmp_path / "open_clip_model.safetensors")
    tokens = [
        "<|startoftext|>",
        "<|endoftext|>",
        *string.ascii_lowercase,
        *(c + "</w>" for c in string.ascii_lowercase),
    ]
    (tmp_path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    enc = _assert_same_as(model, tmp_path, act="quick_gelu")
    assert enc.tokenizer is not None
    cls, _ = enc.encode(np.zeros((2, 40, 40, 3), np.uint8))
    assert len(enc.tags(cls)) == 6


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_openai_single_file_matches_the_original_model(tmp_path, suffix):
    model = _tiny_model(act="quick_gelu")  # OpenAI's layout: heads = width // 64, QuickGELU
    path = _save(_open_clip_state(model), tmp_path / f"ViT-tiny{suffix}")
    _assert_same_as(model, path, act="quick_gelu")


def test_open_clip_training_checkpoint_with_module_prefixes(tmp_path):
    import torch

    model = _tiny_model(act="gelu")
    state = {"module." + k: v for k, v in _open_clip_state(model).items()}
    torch.save({"epoch": 3, "name": "run", "state_dict": state}, tmp_path / "epoch_3.pt")
    _assert_same_as(model, tmp_path / "epoch_3.pt", act="gelu")


def test_openai_torchscript_release(tmp_path):
    import warnings

    import torch

    model = _tiny_model(act="quick_gelu")
    root = torch.nn.Module()
    for key, value in _open_clip_state(model).items():
        *path, name = key.split(".")
        m = root
        for part in path:
            if not hasattr(m, part):
                m.add_module(part, torch.nn.Module())
            m = getattr(m, part)
        m.register_parameter(name, torch.nn.Parameter(value.half(), requires_grad=False))  # as released
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(root), str(tmp_path / "ViT-tiny.pt"))
    enc = ClipEncoder.load(tmp_path / "ViT-tiny.pt")
    assert enc.model.config.vision_config.hidden_act == "quick_gelu"
    assert next(enc.model.parameters()).dtype == torch.float32
    cls, patches = enc.encode(np.zeros((1, 32, 32, 3), np.uint8))
    assert cls.shape == (1, 24) and patches.shape == (1, 16, 128)


def test_open_clip_resnet_towers_are_refused(tmp_path):
    import torch

    resnet = {
        "visual.conv1.weight": torch.zeros(32, 3, 3, 3),
        "visual.layer1.0.conv1.weight": torch.zeros(64, 32, 1, 1),
        "visual.attnpool.c_proj.weight": torch.zeros(16, 64),
        "token_embedding.weight": torch.zeros(64, 32),
    }
    with pytest.raises(OptionError, match="ModifiedResNet.*supported: .*ViT"):
        ClipEncoder.load(_save(resnet, tmp_path / "RN50.pt"))
    folder = tmp_path / "rn50"
    folder.mkdir()
    model = _tiny_model()
    cfg = _open_clip_config(model, quick_gelu=True)
    cfg["model_cfg"]["vision_cfg"]["layers"] = [3, 4, 6, 3]
    (folder / "open_clip_config.json").write_text(json.dumps(cfg))
    _save(_open_clip_state(model), folder / "open_clip_model.safetensors")
    with pytest.raises(OptionError, match="ModifiedResNet"):
        ClipEncoder.load(folder)


def test_bad_open_clip_checkpoints_give_option_errors(tmp_path):
    model = _tiny_model()
    state = _open_clip_state(model)
    good_pt = _save(state, tmp_path / "good.pt")
    good_st = _save(state, tmp_path / "good.safetensors")
    for name, data in (
        ("garbage.pt", b"not a checkpoint at all" * 10),
        ("cut.pt", good_pt.read_bytes()[: good_pt.stat().st_size // 2]),
        ("cut.safetensors", good_st.read_bytes()[: good_st.stat().st_size // 2]),
        ("garbage.safetensors", b"\x00" * 100),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(OptionError, match="cannot read .* as a checkpoint"):
            ClipEncoder.load(tmp_path / name)
    import torch

    torch.save({"args": argparse.Namespace(lr=1.0), "state_dict": {}}, tmp_path / "pickled.pt")
    with pytest.raises(OptionError, match="holds Python objects besides tensors"):
        ClipEncoder.load(tmp_path / "pickled.pt")
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(OptionError, match="not a CLIP checkpoint file"):
        ClipEncoder.load(tmp_path / "model.onnx")
    no_proj = {k: v for k, v in state.items() if k != "visual.proj"}
    with pytest.raises(OptionError, match="no 'visual.proj'"):
        ClipEncoder.load(_save(no_proj, tmp_path / "no_proj.pt"))
    odd = dict(state, **{"visual.transformer.resblocks.1.mlp.c_fc.weight": state["visual.proj"]})
    with pytest.raises(OptionError, match="has shape"):
        ClipEncoder.load(_save(odd, tmp_path / "odd.pt"))
    extra = dict(state, **{"visual.transformer.resblocks.0.ls_1.gamma": torch.ones(128)})
    with pytest.raises(OptionError, match="no CLIP ViT counterpart.*ls_1.gamma"):
        ClipEncoder.load(_save(extra, tmp_path / "extra.pt"))

    folder = tmp_path / "mismatch"
    folder.mkdir()
    cfg = _open_clip_config(model, quick_gelu=True)
    cfg["model_cfg"]["vision_cfg"]["width"] = 64
    (folder / "open_clip_config.json").write_text(json.dumps(cfg))
    _save(state, folder / "open_clip_pytorch_model.bin")
    with pytest.raises(OptionError, match="says vision_cfg.width 64 but the weights have 128"):
        ClipEncoder.load(folder)
    (folder / "open_clip_pytorch_model.bin").unlink()
    with pytest.raises(OptionError, match="needs open_clip_model.safetensors or open_clip_pytorch_model.bin"):
        ClipEncoder.load(folder)
