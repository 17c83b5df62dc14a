"""The backend registry: a backend added by one register line scores and regenerates."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vidmusician.core import backends, demo, options
from vidmusician.core.errors import OptionError
from vidmusician.core.model import Music, Provenance
from vidmusician.core.session.pipeline import score
from vidmusician.core.session.retake import regenerate
from vidmusician.core.session.settings import ScoreOptions
from vidmusician.core.session.splice import read_pcm

SR = 48000
CLICK_S = 0.01


class Toy(backends.Backend):
    """A click on every beat of the plan; the seed sets the click's pitch."""

    def generate(self, plan, features, settings, progress=None, cancel=None):
        n = int(round((plan.duration_s + plan.ring_out_s) * SR))
        y = np.zeros((2, n), np.float32)
        t = np.arange(int(CLICK_S * SR)) / SR
        freq = 500.0 + settings.seed % 1000
        click = (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.003)).astype(np.float32)
        for b in plan.beats_s:
            a = int(round(b * SR))
            k = min(len(click), n - a)
            y[:, a : a + k] += click[:k]
        prov = Provenance(self.name, str(settings.style), "", settings.seed)
        return Music(y, {"click": y.copy()}, None, prov)


@pytest.fixture
def toy():
    backends.register("toy", Toy)  # the one line a new backend needs
    yield
    backends.unregister("toy")


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    return demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]


def onsets(mix: np.ndarray) -> np.ndarray:
    """Seconds where a click starts: the first loud sample after 50 ms of quiet."""
    loud = np.flatnonzero(np.abs(mix[:, 0]) > 0.05 * (1 << 31))
    starts = loud[np.r_[True, np.diff(loud) > 0.05 * SR]]
    return starts / SR


def test_a_toy_backend_scores_and_regenerates_through_the_registry_alone(toy, cut, tmp_path):
    assert "toy" in options.BY_NAME["backend"].choices and "toy" in backends.AVAILABLE_BACKENDS
    out = tmp_path / "out"
    s = score(cut, out, ScoreOptions(backend="toy", seed=3, stem_tracks=True))
    (take,) = s.data["takes"]
    assert (
        take["backend"] == "toy"
        and take["seed"] == 3
        and take["files"]["stems"] == {"click": "stems/click.wav"}
    )
    plan = json.loads((out / "plan.json").read_text())
    mix = read_pcm(out / "mix.wav")
    heard = onsets(mix)
    beats = np.asarray(plan["beats_s"])
    beats = beats[beats < len(mix) / SR]
    assert len(heard) == len(beats)
    assert np.abs(heard - beats).max() < 0.001  # a click on every beat, to the millisecond

    # the default regeneration: the whole cue on a new seed, spliced in under the shot
    r = regenerate(out, 2, seed=11)
    t2 = r.data["takes"][-1]
    assert t2["backend"] == "toy" and t2["parent"] == 1 and t2["new_seed"] == 11 and t2["shot"] == 2
    new = read_pcm(out / t2["files"]["mix"])
    a, b = (int(round(x * SR)) for x in t2["range_s"])
    fade = int(round(t2["fade_s"] * SR)) + 1
    assert np.array_equal(new[: a - fade], mix[: a - fade]) and np.array_equal(
        new[b + fade :], mix[b + fade :]
    )
    assert not np.array_equal(
        new[a + fade : b - fade], mix[a + fade : b - fade]
    )  # another pitch under the shot
    assert np.abs(onsets(new) - beats).max() < 0.001  # still on the beats


def test_unknown_and_uninstalled_backends_are_clear_errors(toy, monkeypatch):
    with pytest.raises(OptionError, match="choose one of arranger, musicgen, toy"):
        ScoreOptions(backend="nope").check()
    backends.register("toy", Toy, requires=("no_such_module_xyz",), install="pip install xyz")
    assert "toy" in backends.BACKENDS and "toy" not in backends.AVAILABLE_BACKENDS
    with pytest.raises(
        OptionError, match=r"--backend toy: no_such_module_xyz is not installed \(pip install xyz\)"
    ):
        ScoreOptions(backend="toy").check()
    from vidmusician.core import doctor
    from vidmusician.core.neural import status

    monkeypatch.setattr(status, "audiocraft_imports", lambda: (True, "1.3.0"))  # no child process here
    (row,) = [c for c in doctor._backends() if c.name == "backend: toy"]
    assert row.status == "missing" and "no_such_module_xyz is not installed" in row.detail


def test_backend_checks_refuse_what_they_cannot_use():
    with pytest.raises(OptionError, match="--model and --adapters are for --backend musicgen"):
        ScoreOptions(model="debug").check()
    if "musicgen" in backends.AVAILABLE_BACKENDS:
        with pytest.raises(OptionError, match="needs --model"):
            ScoreOptions(backend="musicgen").check()
        with pytest.raises(OptionError, match="--key is the arranger's"):
            ScoreOptions(backend="musicgen", model="debug", key="D minor").check()


def test_the_registry_lists_backends_without_importing_their_stacks():
    code = r"""
import sys
sys.modules["torch"] = None
from vidmusician.core.backends import AVAILABLE_BACKENDS, BACKENDS, entries
from vidmusician.core.doctor import checks
print(list(BACKENDS), list(AVAILABLE_BACKENDS))
print([e.unavailable() for e in entries()])
print([(c.status, c.detail) for c in checks() if c.name == "backend: musicgen"])
assert sys.modules.get("torch") is None and "audiocraft" not in sys.modules
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    names, reasons, row = p.stdout.strip().splitlines()
    assert names == "['arranger', 'musicgen'] ['arranger']"
    assert reasons == "[None, 'torch is not installed (install/neural.sh)']"
    assert row == "[('missing', 'torch is not installed (install/neural.sh)')]"


def test_available_backends_list_arranger_and_musicgen_when_its_stack_is_found():
    import importlib.util

    names = list(backends.AVAILABLE_BACKENDS)
    assert names[0] == "arranger"
    has_stack = all(importlib.util.find_spec(m) is not None for m in ("torch", "audiocraft"))
    assert ("musicgen" in names) == has_stack
    assert isinstance(backends.AVAILABLE_BACKENDS["arranger"], backends.Backend)
