"""Attack compensation (arranger.attack): each note's onset, not its note-on, on its place."""

from __future__ import annotations

import numpy as np
import pytest

from vidmusician.core.backends.arranger import attack
from vidmusician.core.backends.arranger.compose import Note, Score
from vidmusician.core.backends.arranger.styles import get_style
from vidmusician.core.backends.arranger.synth import SR, default_soundfont, render_part

FONT = default_soundfont()


def _onset_in(audio: np.ndarray, at_s: float) -> float:
    """The time (s) the rendered (2, n) ``audio`` first reaches half the peak of
    the note that begins near ``at_s``: measured independently of the module."""
    a = int((at_s - 0.06) * SR)
    x = np.abs(audio[:, a : a + int(0.2 * SR)]).max(axis=0)
    w = SR // 1000
    env = np.sqrt(np.convolve(x * x, np.ones(w) / w, "same"))
    return (a + int(np.argmax(env >= 0.5 * env.max()))) / SR


def test_onset_of_known_envelopes():
    sr = 1000 * 48
    t = np.arange(int(0.1 * sr)) / sr
    step = np.where(t >= 0.010, 1.0, 0.0)  # silent 10 ms, then full level
    assert attack.onset_s(step, sr) == pytest.approx(0.010, abs=0.001)
    ramp = np.minimum(t / 0.020, 1.0)  # a 20-ms linear swell: half level at 10 ms
    assert attack.onset_s(ramp, sr) == pytest.approx(0.010, abs=0.001)
    slow = np.minimum(t / 0.5, 1.0)  # a half-second swell: capped
    assert attack.onset_s(slow, sr) == attack.MAX_LEAD_S
    assert attack.onset_s(np.zeros(100), sr) == 0.0


def test_slow_bass_is_moved_and_the_hat_barely():
    bass = attack.lead_s(FONT, 32, False, 40)  # acoustic bass, E2 (TimGM6mb: 18 ms)
    hat = attack.lead_s(FONT, 0, True, 42)
    assert 0.005 < bass <= attack.MAX_LEAD_S
    assert 0.0 <= hat < 0.003


@pytest.mark.parametrize(("program", "pitch"), [(32, 40), (48, 60), (0, 60)])
def test_compensated_note_sounds_on_its_place(program, pitch):
    """Played as written, the bass is heard late; played by ``played``, its
    onset is on the written time within a millisecond."""
    style = get_style("corporate-upbeat")
    at = 0.5
    score = Score(
        parts={
            "drums": [],
            "bass": [Note(at, at + 0.4, pitch, 100, program)],
            "harmony": [],
            "pad": [],
            "lead": [],
        }
    )
    heard = attack.played(score, style, FONT)
    n = int(1.0 * SR)
    written = _onset_in(render_part(score.parts["bass"], program, False, n, FONT), at)
    moved = _onset_in(render_part(heard.parts["bass"], program, False, n, FONT), at)
    assert abs(moved - at) <= 0.0015
    assert written - at >= attack.lead_s(FONT, program, False, pitch) - 0.0015
    assert score.parts["bass"][0].start == at  # the score keeps its time


def test_played_keeps_lengths_and_never_goes_before_zero():
    style = get_style("corporate-upbeat")
    notes = [Note(0.0, 0.3, 40, 100), Note(1.0, 1.25, 43, 90)]
    score = Score(parts={"drums": [], "bass": notes, "harmony": [], "pad": [], "lead": []})
    out = attack.played(score, style, FONT).parts["bass"]
    assert out[0].start == 0.0
    lead = 1.0 - out[1].start
    assert 0.0 < lead <= attack.MAX_LEAD_S
    assert out[1].end - out[1].start == pytest.approx(0.25)


def test_midi_keeps_the_written_times():
    """arrange's MIDI file and score are the written performance, not the compensated one."""
    from vidmusician.core.backends.arranger import arrange
    from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline, VideoFeatures
    from vidmusician.core.rhythm.planner import plan

    anchors = tuple(Anchor(t, "cut", 1.0) for t in (2.0, 4.0, 6.0))
    tl = Timeline("t", 25.0, 200, "00:00:00:00", (), (), anchors, InputSource("-", "otio_json"))
    values = np.full(200, 0.5)
    features = VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), anchors)
    stems = arrange(plan(anchors, 8.0, (100, 128)), features, "corporate-upbeat", seed=3)
    starts = sorted(n.start for n in stems.score.parts["bass"])
    midi = [n.start for inst in stems.midi.instruments for n in inst.notes if not inst.is_drum]
    assert starts and all(min(abs(m - s) for m in midi) < 0.001 for s in starts)
    assert min(abs(m - s) for m in midi for s in starts) < 0.001
