"""The breath before a hit (arranger.hitpoint): known shapes of the held parts' dip."""

from __future__ import annotations

import numpy as np
import pytest

from vidmusician.core.backends.arranger import hitpoint
from vidmusician.core.backends.arranger.mixing import StemGains
from vidmusician.core.styles import MixSpec

SR = hitpoint.SR


def _db(g: float) -> float:
    return 20 * np.log10(g)


def _at(gain: np.ndarray, t: float) -> float:
    return float(gain[int(round(t * SR))])


def test_an_impact_dips_the_full_depth_and_is_back_on_the_hit():
    plan = hitpoint.dips([(1.0, "impact")], 12.0)
    g = hitpoint.gain(plan, 0, 2 * SR)
    assert _at(g, 1.0 - hitpoint.PRE_S - 0.001) == 1.0  # before the breath
    assert _db(_at(g, 1.0 - 0.03)) == pytest.approx(-12.0, abs=0.01)  # held at its depth
    assert _at(g, 1.0) == 1.0 and np.all(g[SR:] == 1.0)  # the hit and after: untouched
    assert _db(_at(g, 1.0 - hitpoint.RISE_S / 2)) == pytest.approx(-6.0, abs=0.3)  # half way up
    assert np.all(np.abs(np.diff(_db(g[int(0.9 * SR) : SR]))) < 1.0)  # no step: no click


def test_crashes_dip_less_risers_not_at_all():
    crash = hitpoint.gain(hitpoint.dips([(1.0, "crash")], 10.0), 0, 2 * SR)
    assert _db(_at(crash, 0.97)) == pytest.approx(-10.0 * hitpoint.PLAIN_SHARE, abs=0.01)
    riser = hitpoint.gain(hitpoint.dips([(1.0, "riser")], 10.0), 0, 2 * SR)
    assert np.all(riser == 1.0)
    assert np.all(hitpoint.gain(hitpoint.dips([(1.0, "impact")], 0.0), 0, 2 * SR) == 1.0)


def test_fast_hits_take_shorter_breaths():
    """Hits 0.1 s apart: each dip is 0.4 of the gap (40 ms), not 90 ms."""
    at, length, _ = hitpoint.dips([(1.0, "stab"), (1.1, "stab")], 6.0)
    assert list(at) == [1.0, 1.1]
    assert length[1] == pytest.approx(hitpoint.SHARE_OF_GAP * 0.1)
    g = hitpoint.gain((at, length, _), 0, 2 * SR)
    assert _at(g, 1.1 - 0.045) == 1.0 and _at(g, 1.1 - 0.02) < 0.7


def test_blocks_agree_with_the_whole_signal():
    plan = hitpoint.dips([(0.5, "impact"), (0.9, "crash"), (1.21, "stab"), (0.05, "impact")], 9.0)
    whole = hitpoint.gain(plan, 0, 2 * SR)
    parts = np.concatenate([hitpoint.gain(plan, a, min(2 * SR, a + 1000)) for a in range(0, 2 * SR, 1000)])
    assert np.array_equal(whole, parts)
    assert whole[0] == 1.0 and _at(whole, 0.03) < 0.5  # a hit at 50 ms: its dip starts at 0, no earlier
    assert hitpoint.dips([(0.05, "impact")], 9.0)[1][0] == pytest.approx(0.05)


def test_the_mix_dips_the_held_parts_and_not_the_drums():
    plan = hitpoint.dips([(1.0, "impact")], 12.0)
    gains = StemGains(MixSpec(), {}, np.zeros(0), [], 0.0, None, plan)
    a = int(0.9 * SR)
    pad = gains.apply("pad", a, np.ones((2, SR // 5), np.float32))
    drums = gains.apply("drums", a, np.ones((2, SR // 5), np.float32))
    assert pad.min() == pytest.approx(10 ** (-12 / 20), rel=1e-4) and np.all(drums == 1.0)
