"""The form's level envelope (arranger.envelope): known answers."""

from __future__ import annotations

import numpy as np

from vidmusician.core.backends.arranger import arrange
from vidmusician.core.backends.arranger.envelope import RAMP_S, level_envelope
from vidmusician.core.backends.arranger.form import plan_form
from vidmusician.core.backends.arranger.render import mix_of
from vidmusician.core.styles import get as get_style

from .test_arranger_form import BAR_S, made_up

SR = 48_000


def test_the_envelope_spans_the_range_and_ramps_into_a_rise_and_out_of_a_fall():
    env = level_envelope([(0.0, 0.0), (2.0, 1.0), (4.0, 0.0)], 8.0, SR)
    assert env is not None
    db = 20 * np.log10(env.gain(0, 6 * SR))
    t = np.arange(6 * SR) / SR
    assert np.allclose(db[t < 2.0 - RAMP_S], -8.0, atol=1e-4)  # the calm bar: -8 dB from the busiest
    assert abs(db[int(2.0 * SR)]) < 1e-3  # the rise ends on the bar line: the drop lands on its downbeat
    assert abs(db[int((2.0 - RAMP_S / 2) * SR)] + 4.0) < 0.01  # half way up half way through the ramp
    assert np.allclose(db[(t >= 2.0) & (t <= 4.0)], 0.0, atol=1e-3)
    assert np.allclose(db[t >= 4.0 + RAMP_S], -8.0, atol=1e-4)  # the fall starts on the bar line
    assert np.max(np.abs(np.diff(db))) < 8.0 / (RAMP_S * SR) * 1.01  # no steps
    # block by block: the same numbers
    blocks = np.concatenate([env.gain(a, min(6 * SR, a + 7919)) for a in range(0, 6 * SR, 7919)])
    assert np.array_equal(blocks, env.gain(0, 6 * SR))
    assert level_envelope([(0.0, 0.3)], 0.0, SR) is None and level_envelope([], 6.0, SR) is None


def test_busy_picture_makes_louder_music_and_the_stems_still_sum_to_the_mix():
    bars = 12
    motion = np.where(np.arange(bars * 4) < bars * 2, 0.05, 0.9)  # calm half, busy half (per beat)
    plan, features = made_up(bars=bars, cuts=(), motion=motion)
    stems = arrange(plan, features, "corporate-upbeat", seed=3)
    mix = np.asarray(stems.mix, np.float64)
    parts = [np.asarray(s, np.float64) for s in stems.stems.values()]
    assert np.abs(mix_of({str(i): p.astype(np.float32) for i, p in enumerate(parts)}) - mix).max() < 1e-6
    half = int(bars / 2 * BAR_S * SR)
    margin = int(BAR_S * SR)  # leave out the bar either side of the step

    def lufs(x):
        return 10 * np.log10(np.mean(x**2))

    calm, busy = lufs(mix[:, margin : half - margin]), lufs(mix[:, half + margin : 2 * half - margin])
    # the envelope (energy_db * 0.59: the halves rank at 0.25 and 0.75) plus the busier
    # arrangement (the calm half at energy 0.2 is no breakdown: breakdowns start under 0.15)
    assert busy - calm >= 4.0, (calm, busy)


def test_the_envelope_is_what_lifts_the_busy_half():
    """Without the envelope the same cue's halves lie closer together (the bus flattens them)."""
    import vidmusician.core.backends.arranger.mixing as mixing

    bars = 12
    motion = np.where(np.arange(bars * 4) < bars * 2, 0.05, 0.9)
    plan, features = made_up(bars=bars, cuts=(), motion=motion)
    half, margin = int(bars / 2 * BAR_S * SR), int(BAR_S * SR)

    def spread() -> float:
        mix = np.asarray(arrange(plan, features, "corporate-upbeat", seed=3).mix, np.float64)
        a, b = mix[:, margin : half - margin], mix[:, half + margin : 2 * half - margin]
        return float(10 * np.log10(np.mean(b**2) / np.mean(a**2)))

    with_env = spread()
    keep = mixing.level_envelope
    mixing.level_envelope = lambda *a, **k: None  # type: ignore[assignment]
    try:
        without = spread()
    finally:
        mixing.level_envelope = keep
    # the envelope puts the busy half energy_db * (its energy - the calm half's) over the calm
    # one (a two-level picture ranks at 0.25 and 0.75: ties share their rank); the bus keeps most
    style = get_style("corporate-upbeat")
    levels = plan_form(plan, style.form, 3).levels
    calm = np.mean([e for t, e in levels if BAR_S <= t < bars / 2 * BAR_S - BAR_S])
    busy = np.mean([e for t, e in levels if bars / 2 * BAR_S + BAR_S <= t < (bars - 1) * BAR_S])
    assert busy - calm > 0.5
    assert with_env - without >= 0.8 * style.mix.energy_db * (busy - calm), (with_env, without, busy, calm)


def test_the_gain_is_the_interpolated_level_on_every_sample():
    """The fast path (one number per flat stretch) gives np.interp's gain to the bit,
    on knots with flats, ramps, a repeated time and blocks cut anywhere."""
    from vidmusician.core.backends.arranger.envelope import LevelEnvelope

    rng = np.random.default_rng(5)
    for trial in range(40):
        k = int(rng.integers(1, 10))
        times = np.sort(rng.uniform(0.0, 2.0, k))
        if k > 2 and trial % 3 == 0:
            times[1] = times[2]  # two knots at one time
        db = rng.choice([-6.0, -3.0, 0.0, -3.0], k)
        env = LevelEnvelope(times, db, SR)
        for a, b in [(0, int(2.2 * SR)), (int(times[0] * SR), int(times[-1] * SR) + 1), (7, 8)]:
            t = (a + np.arange(b - a, dtype=np.float64)) / SR
            want = np.power(10.0, np.interp(t, times, db) / 20.0).astype(np.float32)
            assert np.array_equal(env.gain(a, b).view(np.uint32), want.view(np.uint32)), (trial, a, b)
