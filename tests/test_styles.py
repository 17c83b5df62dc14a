"""The one style registry: a style added as one record is scored with, and
every table that knows styles (mood grid, tempo, arranger, keys, prompt words,
colours, the options table, the panel, neural conditioning) reads it."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from vidmusician.core import styles
from vidmusician.core.errors import InputError, OptionError

from .conftest import clip, save, timeline, video_track
from .test_cli import run

CHIPTUNE = styles.Style(
    name="chiptune",
    tempo=(150.0, 170.0),
    colour="#33cc99",
    moods=(("neutral", "high"),),  # takes rock's cell while registered
    prompt_words=("8bit", "chiptune", "retro"),
    mode="major",
    drums=24,
    bass=39,
    harmony=82,
    pad=94,
    lead=83,
    kick="x.......x.......",
    snare="....x.......x...",
    hats="x.x.x.x.x.x.x.x.",
    harmony_rhythm="arp8",
    progressions_major=((1, 5, 6, 4),),
    progressions_minor=((1, 6, 7, 1),),
    tonics_major=(0, 7, 2, 9, 4, 5),
    tonics_minor=(9, 4, 2, 7, 0, 5),
)


@pytest.fixture
def chiptune():
    styles.register(CHIPTUNE)
    try:
        yield CHIPTUNE
    finally:
        styles.unregister("chiptune")


def test_the_built_in_styles_keep_their_order_and_values():
    from vidmusician.core.analysis.semantics import STYLES
    from vidmusician.core.backends.arranger.styles import STYLES as ARRANGER
    from vidmusician.core.neural.conditioning import DESCRIPTOR_DIM, descriptor_dim
    from vidmusician.core.report.plot import STYLE_COLOURS
    from vidmusician.core.rhythm.planner import STYLE_TEMPO

    order = ("cinematic", "corporate-upbeat", "electronic", "ambient", "rock", "lo-fi", "acoustic")
    assert styles.names() == styles.BUILTIN_NAMES == order  # the neural one-hot's order
    assert tuple(STYLES) == tuple(STYLE_TEMPO) == tuple(STYLE_COLOURS) == tuple(ARRANGER) == order
    assert STYLE_TEMPO["rock"] == (110.0, 150.0) and STYLE_COLOURS["lo-fi"] == "#9c8a6b"
    assert ARRANGER["cinematic"].lead_b == 71 and DESCRIPTOR_DIM == descriptor_dim() == 20


def test_a_record_is_built_by_keyword_and_checked():
    with pytest.raises(TypeError):
        styles.Style("x", (60.0, 90.0))  # type: ignore[misc]
    fields: dict[str, Any] = {f: getattr(CHIPTUNE, f) for f in CHIPTUNE.__dataclass_fields__}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tempo": (170.0, 150.0)}, "tempo"),
        ({"colour": "teal"}, "colour"),
        ({"moods": (("happy", "high"),)}, "mood"),
        ({"kick": "x..x"}, "kick"),
        ({"bass": 128}, "programs"),
        ({"harmony_rhythm": "waltz"}, "harmony_rhythm"),
        ({"name": "Chip Tune"}, "name"),
    ]
    for change, word in cases:
        with pytest.raises(OptionError, match=word):
            styles.Style(**{**fields, **change})
    with pytest.raises(OptionError, match="built in"):
        styles.register(styles.BUILTIN[0])
    with pytest.raises(OptionError, match="built in"):
        styles.unregister("rock")


def test_a_registered_style_reaches_every_table_and_leaves_with_unregister(chiptune, capsys):
    from vidmusician.core import options
    from vidmusician.core.analysis.semantics import STYLES, style_for
    from vidmusician.core.backends.arranger.keys import STYLE_TONICS
    from vidmusician.core.backends.arranger.styles import get_style
    from vidmusician.core.report.plot import STYLE_COLOURS
    from vidmusician.core.rhythm.planner import STYLE_TEMPO
    from vidmusician.core.session.settings import prompt_style

    opt = options.BY_NAME["style"]
    assert styles.names()[-1] == "chiptune" and "chiptune" in STYLES and "chiptune" in opt.choices
    assert opt.check("chiptune") == "chiptune" and get_style("chiptune") is chiptune
    assert STYLE_TEMPO["chiptune"] == (150.0, 170.0) and STYLE_COLOURS["chiptune"] == "#33cc99"
    assert STYLE_TONICS["chiptune"]["major"] == (0, 7, 2, 9, 4, 5)
    assert style_for(0.0, 0.9) == "chiptune" and style_for(0.5, 0.9) == "corporate-upbeat"
    assert prompt_style("a retro game") == "chiptune" and prompt_style("epic") == "cinematic"
    code, out, _ = run("score", "--help")
    assert code == 0 and "chiptune" in out + capsys.readouterr().out  # flags are built when the CLI runs
    with pytest.raises(OptionError, match="registered already"):
        styles.register(chiptune)
    styles.unregister("chiptune")
    try:
        assert "chiptune" not in opt.choices and style_for(0.0, 0.9) == "rock"
        assert "chiptune" not in STYLE_TEMPO and prompt_style("retro") is None
        with pytest.raises(OptionError, match="chiptune"):
            opt.check("chiptune")
    finally:
        styles.register(chiptune)


def test_a_style_added_through_the_registry_alone_is_scored_with(chiptune, tmp_path):
    import pretty_midi

    # a made-up cut of offline media, cuts every 1.5 s (four beats at 160 BPM)
    cut = save(
        timeline(video_track(*(clip(f"s{i}", 36, url=f"gone{i}.mov") for i in range(8))), start=0),
        tmp_path / "cut.otio",
    )
    out = tmp_path / "out"
    code, _, err = run("score", str(cut), "-o", str(out), "--style", "chiptune", "--seed", "3", "-q")
    assert code == 0, err
    plan = json.loads((out / "plan.json").read_text())
    lo, hi = chiptune.tempo
    assert plan["style"] == "chiptune"
    assert plan["tempo_range"] in ([lo, hi], [lo * 0.85, hi * 1.15])  # the range, widened at most 15%
    assert all(plan["tempo_range"][0] - 1e-6 <= b <= plan["tempo_range"][1] + 1e-6 for b in plan["bpm"])
    assert all(lo <= b <= hi for b in plan["bpm"]), plan["bpm"]
    midi = pretty_midi.PrettyMIDI(str(out / "music.mid"))
    melodic = {i.program for i in midi.instruments if not i.is_drum and i.notes}
    assert (
        {chiptune.bass, chiptune.harmony}
        <= melodic
        <= {chiptune.bass, chiptune.harmony, chiptune.pad, chiptune.lead}
    )
    assert any(i.is_drum and i.notes for i in midi.instruments)


def test_the_panel_offers_a_registered_style(chiptune):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    pytest.importorskip("PyQt6.QtWidgets", reason="the panel needs PyQt6 (the ui extra)")
    from PyQt6.QtWidgets import QApplication, QComboBox

    from vidmusician.ui.controls import OptionsForm

    app = QApplication.instance() or QApplication([])
    form = OptionsForm("score")
    try:
        box = form.widgets["style"]
        assert isinstance(box, QComboBox)
        assert [box.itemText(i) for i in range(box.count())][1:] == list(styles.names())
        assert box.itemText(box.count() - 1) == "chiptune"
    finally:
        form.deleteLater()
        app.processEvents()


# --------------------------------------------------------------------------- neural: the trained style list


class _Shot:
    valence, arousal, analysed = 0.0, 0.0, 1

    def __init__(self, style: str):
        self.style = style
        self.descriptors: dict[str, float] = {}


def test_style_order_same_superset_and_different(chiptune):
    from vidmusician.core.neural.conditioning import descriptor_dim, descriptor_vector, style_order

    assert style_order(styles.names()) == (styles.names(), None)
    order, note = style_order(styles.BUILTIN_NAMES)  # trained before chiptune: a prefix of the registry
    assert order == styles.BUILTIN_NAMES and note and "chiptune" in note and "by name" in note
    shuffled = tuple(reversed(styles.names()))
    assert style_order(shuffled)[0] == shuffled  # mapped by name
    with pytest.raises(InputError, match="polka"):
        style_order((*styles.BUILTIN_NAMES, "polka"))
    # the one-hot follows the list it is given: the registry's, or the adapters'
    assert descriptor_dim() == 21 and descriptor_dim(styles.BUILTIN_NAMES) == 20
    new = descriptor_vector(_Shot("chiptune"))
    old = descriptor_vector(_Shot("chiptune"), styles.BUILTIN_NAMES)
    assert len(new) == 21 and new[-1] == 1.0 and len(old) == 20 and old[-7:].sum() == 0.0
    assert descriptor_vector(_Shot("rock"), styles.BUILTIN_NAMES)[13 + 4] == 1.0


def test_adapters_store_their_style_list_and_the_backend_maps_or_refuses(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("audiocraft")
    from vidmusician.core.neural import backend
    from vidmusician.core.neural.adapters import ADAPTER_CONFIG, VidMusicianAdapters, for_model
    from vidmusician.core.neural.backend import Generator
    from vidmusician.core.neural.conditioning import descriptor_dim
    from vidmusician.core.neural.musicgen import debug_model

    mg = debug_model()
    monkeypatch.setattr(backend, "load", lambda name, device="cpu": mg)  # one tiny model for every load
    lm = mg.lm
    for_model(lm, "debug", video_dim=descriptor_dim()).save(tmp_path / "a")
    meta = json.loads((tmp_path / "a" / ADAPTER_CONFIG).read_text())
    assert meta["config"]["styles"] == list(styles.BUILTIN_NAMES)
    assert Generator("debug", str(tmp_path / "a")).notes == []  # the same list: nothing to say

    styles.register(CHIPTUNE)
    try:
        gen = Generator("debug", str(tmp_path / "a"))
        assert gen.styles == styles.BUILTIN_NAMES and "chiptune" in gen.notes[0]
        for_model(lm, "debug", video_dim=descriptor_dim()).save(tmp_path / "b")  # trained with chiptune
    finally:
        styles.unregister("chiptune")
    with pytest.raises(InputError, match="chiptune"):
        Generator("debug", str(tmp_path / "b"))

    # a config saved before the list was recorded reads as the built-in seven
    del meta["config"]["styles"]
    (tmp_path / "a" / ADAPTER_CONFIG).write_text(json.dumps(meta))
    assert VidMusicianAdapters.load(tmp_path / "a").config.styles == styles.BUILTIN_NAMES
