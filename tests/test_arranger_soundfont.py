"""The arranger's SoundFont: the search (which font, found how) and loading it once.

Known answers: a font placed in a temporary "system" folder is found; the
ranking puts MuseScore General before FluidR3 GM before any other; a file
that is not a SoundFont is skipped with a note; ``--soundfont`` beats
``VIDMUSICIAN_SOUNDFONT`` beats the system's; with none of them the bundled
TimGM6mb; a render decodes its font once (not once per part; the parts play
clones that share its samples) and a second render in the process not at
all, with the same samples as fresh fonts;
doctor and the take's record say which font and how it was found.
"""

from __future__ import annotations

import importlib
import os
import shutil

import numpy as np
import pytest

from vidmusician.core import backends, demo
from vidmusician.core.errors import OptionError

SF = importlib.import_module("vidmusician.core.backends.arranger.soundfont")
R = importlib.import_module("vidmusician.core.backends.arranger.render")


@pytest.fixture
def system(tmp_path, monkeypatch):
    """An empty temporary "system" folder, the only one searched."""
    folder = tmp_path / "system-sf"
    folder.mkdir()
    monkeypatch.setenv(SF.DIRS_ENV, str(folder))
    return folder


def place(folder, name):
    """A real (small) General MIDI font under ``name`` in ``folder``."""
    return shutil.copyfile(SF.bundled(), folder / name)


def test_a_font_in_a_system_folder_is_found(system):
    p = place(system, "FluidR3_GM.sf2")
    found = SF.find()
    assert (found.path, found.source, found.notes) == (str(p), "system", ())


def test_the_module_tuple_is_the_search_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(SF.DIRS_ENV)
    folder = tmp_path / "Banks"
    folder.mkdir()
    p = place(folder, "Some_GM.sf2")
    monkeypatch.setattr(SF, "SYSTEM_DIRS", ("/nonexistent/soundfonts", str(folder)))
    assert SF.system_dirs() == ("/nonexistent/soundfonts", str(folder))
    assert SF.find().path == str(p)


def test_the_best_font_first_and_a_link_counted_once(system, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    place(system, "A_Other_GM.sf2")
    fluid = place(system, "FluidR3_GM.sf2")
    (system / "default-GM.sf2").symlink_to(fluid)  # Debian's alternatives link: FluidR3, once
    muse = place(other, "MuseScore_General.sf3")
    place(other, "TimGM6mb.sf2")
    (system / "notes.txt").write_text("not a font")

    os.environ[SF.DIRS_ENV] = os.pathsep.join([str(system), str(other)])
    assert [p.rsplit("/", 1)[1] for p in SF.candidates()] == [
        "MuseScore_General.sf3",
        "FluidR3_GM.sf2",
        "A_Other_GM.sf2",
        "TimGM6mb.sf2",
    ]
    assert SF.find().path == str(muse)
    assert SF.rank(system / "default-GM.sf2") == 1  # ranked by what it links to


def test_an_invalid_font_is_skipped_with_a_note(system):
    (system / "MuseScore_General.sf3").write_bytes(b"RIFF\x04\x00\x00\x00junk")
    fluid = place(system, "FluidR3_GM.sf2")
    found = SF.find()
    assert found.path == str(fluid) and found.source == "system"
    assert len(found.notes) == 1 and "MuseScore_General.sf3" in found.notes[0] and "skipped" in found.notes[0]


def test_only_invalid_fonts_fall_back_to_the_bundled_one(system):
    (system / "FluidR3_GM.sf2").write_bytes(b"nonsense")
    found = SF.find()
    assert found.path == SF.bundled() and found.source == "bundled" and len(found.notes) == 1


def test_the_bundled_font_is_the_fallback(system):
    found = SF.find()
    assert found.path == SF.bundled() and found.path.endswith("TimGM6mb.sf2")
    assert (found.source, found.notes) == ("bundled", ())


def test_the_users_fonts_win(system, tmp_path, monkeypatch):
    place(system, "MuseScore_General.sf3")  # the best a system can have
    mine = place(tmp_path, "mine.sf2")
    env = place(tmp_path, "from-env.sf2")
    assert SF.find(str(mine)) == SF.Found(str(mine), "--soundfont")
    monkeypatch.setenv(SF.ENV, str(env))
    assert SF.find() == SF.Found(str(env), "VIDMUSICIAN_SOUNDFONT")
    assert SF.find(str(mine)).source == "--soundfont"  # the flag beats the variable


def test_a_damaged_font_the_user_names_is_an_error(system, tmp_path, monkeypatch):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont")
    place(system, "FluidR3_GM.sf2")
    with pytest.raises(OptionError, match="bad.sf2"):
        SF.find(str(bad))
    monkeypatch.setenv(SF.ENV, str(bad))
    with pytest.raises(OptionError, match="VIDMUSICIAN_SOUNDFONT="):
        SF.find()


@pytest.fixture(scope="module")
def cue(tmp_path_factory):
    from vidmusician.core.analysis.analyze import analyze
    from vidmusician.core.backends.arranger import compose_score
    from vidmusician.core.backends.arranger.styles import get_style
    from vidmusician.core.rhythm.planning import plan_for

    mp = pytest.MonkeyPatch()  # the module fixture runs before the per-test environment
    mp.setenv("VIDMUSICIAN_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        cut = demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]
        f = analyze(cut)
        p, style = plan_for(f)
    finally:
        mp.undo()
    return p, f, compose_score(p, f, style, 7), get_style(style), p.duration_s + p.ring_out_s


@pytest.fixture
def counted(monkeypatch):
    """The loader, counted; no font loaded before."""
    SF.clear()
    calls = []
    real = SF._load

    def load(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(SF, "_load", load)
    yield calls
    SF.clear()


def test_a_render_loads_its_font_once(cue, counted):
    _, _, score, style, _ = cue
    first = R.render(score, style, 8.0)
    assert len(counted) == 1  # five parts, one load
    again = R.render(score, style, 8.0)
    assert len(counted) == 1  # the next render in the process: none
    for part in first:
        assert np.array_equal(first[part], again[part]), part


def test_a_clone_plays_what_a_fresh_font_does(cue, counted, monkeypatch):
    """Every part on a clone of one decoded font, against every part on a font decoded for it alone."""
    _, _, score, style, _ = cue
    cloned = R.render(score, style, 8.0)
    assert len(counted) == 1
    monkeypatch.setattr(SF, "take", SF._load)  # a fresh decode for each part
    fresh = R.render(score, style, 8.0)
    assert len(counted) == 1 + 5  # one for each part: drums, bass, harmony, pad and lead
    for part in cloned:
        assert np.array_equal(cloned[part], fresh[part]), part


def test_a_long_render_decodes_its_font_once(cue, counted):
    """The five parts are synthesised side by side, each on a clone: one decoded font, none left lent."""
    _, _, score, style, _ = cue
    R.render_long(score, style, 8.0, block=65536)
    assert len(counted) == 1
    assert len(SF._loaded) == 1 and not SF._lent


_CLONES_PROBE = """
import json, os
from vidmusician.core.backends.arranger import soundfont as SF

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

path = SF.bundled()
before = rss()
decoded = SF._load(path)
one_decode = rss() - before
first = SF.take(path)  # decodes the font the clones share
before = rss()
clones = [SF.take(path) for _ in range(10)]
ten_clones = rss() - before
print(json.dumps({"one": one_decode, "ten": ten_clones, "lent": len(SF._lent), "loads": SF.loads}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_clones_share_the_decoded_samples():
    """Known answer: a clone costs voices, not samples. Ten clones of a font add
    less to the process than one more decode of it (the samples, as floats).
    Measured in a fresh process: in this one, memory freed by earlier tests
    is reused and a decode need not grow the resident size at all."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _CLONES_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout.strip().splitlines()[-1])
    assert m["lent"] == 11 and m["loads"] == 2  # the decode above, and the one take made
    assert m["one"] > 5 << 20  # TimGM6mb: 6 MB of 16-bit samples, more as floats
    assert m["ten"] < m["one"], m


def test_doctor_says_which_font_and_how_it_was_found(system, tmp_path, monkeypatch):
    status, detail = backends.get("arranger").doctor()
    assert status == "ok" and "TimGM6mb.sf2 (" in detail and f"bundled: {SF.bundled()}" in detail
    fluid = place(system, "FluidR3_GM.sf2")
    (system / "MuseScore_General.sf3").write_bytes(b"nonsense")
    status, detail = backends.get("arranger").doctor()
    assert status == "ok" and f"system: {fluid}" in detail and "skipped" in detail
    mine = place(tmp_path, "mine.sf2")
    monkeypatch.setenv(SF.ENV, str(mine))
    status, detail = backends.get("arranger").doctor()
    assert status == "ok" and f"VIDMUSICIAN_SOUNDFONT: {mine}" in detail


def test_the_take_records_the_font_and_its_source(cue, system, tmp_path):
    from vidmusician.core.model import BackendSettings

    p, f, _, style, _ = cue
    fluid = place(system, "FluidR3_GM.sf2")
    music = backends.get("arranger").generate(p, f, BackendSettings(style.name, seed=7))
    prov = music.provenance
    assert prov.soundfont == "FluidR3_GM.sf2"
    assert prov.extra == {"soundfont_path": str(fluid), "soundfont_source": "system"}
    mine = place(tmp_path, "mine.sf2")
    prov = (
        backends.get("arranger")
        .generate(p, f, BackendSettings(style.name, seed=7, soundfont=str(mine)))
        .provenance
    )
    assert prov.extra == {"soundfont_path": str(mine), "soundfont_source": "--soundfont"}


def test_report_json_names_the_font_and_a_regeneration_keeps_it(system, tmp_path, monkeypatch):
    import json

    from vidmusician.core.session.pipeline import score
    from vidmusician.core.session.retake import regenerate
    from vidmusician.core.session.settings import ScoreOptions

    fluid = place(system, "FluidR3_GM.sf2")
    cut = demo.make_demo_cut(tmp_path / "cut")["otio"]
    s = score(cut, tmp_path / "out", ScoreOptions(seed=7))
    report = json.loads((s.out / s.take(1)["files"]["report"]).read_text())
    assert (report["soundfont"], report["soundfont_path"], report["soundfont_source"]) == (
        "FluidR3_GM.sf2",
        str(fluid),
        "system",
    )
    place(system, "MuseScore_General.sf3")  # a better font installed since: the shot keeps the take's
    s = regenerate(tmp_path / "out", 2)
    t = s.take(2)
    assert (t["soundfont_path"], t["soundfont_source"]) == (str(fluid), "system")


def test_a_font_from_the_config_file_is_named_as_such(system, tmp_path, cue):
    """The config file's font: the score command's settings, the take's record and
    doctor (which reads the config as score does) say "config FILE", not --soundfont."""
    import argparse

    from vidmusician.core.cli.common import settings
    from vidmusician.core.model import BackendSettings
    from vidmusician.core.session.settings import backend_settings, options_from

    p, f, _, style, _ = cue
    place(system, "FluidR3_GM.sf2")
    mine = place(tmp_path, "mine.sf2")
    cfg = tmp_path / "vidmusician.toml"
    cfg.write_text(f'soundfont = "{mine}"\n')
    s = settings(argparse.Namespace(config=str(cfg)), "score")
    assert (s["soundfont"], s["soundfont_source"]) == (str(mine), f"config {cfg}")
    flag = settings(argparse.Namespace(config=str(cfg), soundfont=str(mine)), "score")
    assert "soundfont_source" not in flag  # the flag beats the config: "--soundfont"
    bs = backend_settings(options_from(s), style.name)
    assert bs.soundfont_source == f"config {cfg}"
    status, detail = backends.get("arranger").doctor(bs)
    assert status == "ok" and f"config {cfg}: {mine}" in detail
    prov = (
        backends.get("arranger")
        .generate(
            p, f, BackendSettings(style.name, seed=7, soundfont=str(mine), soundfont_source=f"config {cfg}")
        )
        .provenance
    )
    assert prov.extra == {"soundfont_path": str(mine), "soundfont_source": f"config {cfg}"}
    status, detail = backends.get("arranger").doctor(BackendSettings(None))  # no config: the search
    assert status == "ok" and "system: " in detail
