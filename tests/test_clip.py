"""The CLIP seam, on a tiny randomly initialised model built from config (nothing downloaded)."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from vidmusician.core.analysis.features import AnalysisOptions, analyze_timeline
from vidmusician.core.errors import OptionError
from vidmusician.core.neural.clip import GENRE_TAGS, MOOD_TAGS, ClipEncoder
from vidmusician.core.timeline import read_timeline

from .conftest import clip, save, timeline, video_track, write_video


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
