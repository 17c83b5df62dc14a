"""Rendering: the score through a SoundFont, effects, and one mix bus.

The entry points: :func:`render` synthesises every part (:mod:`.synth`),
puts their mix through the bus (:mod:`.master`) and the ending, and returns
the stems, which sum to the mix exactly; :func:`to_midi` is the score as
MIDI.

A cue longer than :data:`LONG_S` is rendered by :func:`render_long` instead:
the same computation in blocks, onto disk, with memory bounded whatever
the length (a 2-hour cue peaks under 700 MB for the whole ``score``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import fsutil, units
from ...errors import OptionError
from ...progress import CancelToken, ProgressFn
from .compose import PARTS, Note, Score
from .fx import add_fx
from .master import bus_gain, bus_long
from .mixing import Strip, stem_gains
from .styles import Style
from .synth import _controls, _program, _synth_blocks, default_soundfont

if TYPE_CHECKING:
    from ...io.blockaudio import DiskAudio

SR = units.OUTPUT_SR


def render(
    score: Score, style: Style, duration_s: float, soundfont: str | None = None, loudness: float | None = None
) -> dict[str, np.ndarray]:
    """Stems (2, n) float32 at 48 kHz, all the same length, mixed (:mod:`.mixing`) and
    through the bus, the mix at ``loudness`` LUFS (None: :data:`.master.TARGET_LUFS`).

    The parts are synthesised and put through their channel strips a block
    at a time (:func:`_render_parts`, as :func:`render_long` does, into
    arrays): the same samples as whole signals, with the strips' filters
    and reverbs working in the cache and beside the synthesiser."""
    from concurrent.futures import ThreadPoolExecutor

    from ...io.blockaudio import BLOCK

    sf = soundfont or default_soundfont()
    if not Path(sf).is_file():
        raise OptionError(f"{sf}: SoundFont not found; give an SF2/SF3 file with --soundfont.")
    n = int(round(duration_s * SR))
    sinks = {part: _Stem(n) for part in PARTS}
    strips: dict[str, Strip] = {}  # channel strips (.mixing), metering as they go
    _render_parts(score, style, sinks, sf, BLOCK, lambda label: None, strips, depth=8)
    stems = {part: sinks[part].data for part in PARTS}
    gains = stem_gains(style.mix, score, {p: s.loudness() for p, s in strips.items()}, n, BLOCK)

    def calibrate(a: int) -> None:  # calibration, sidechain, sub (.mixing), a block of every part
        for part in PARTS:  # one after another: they share the block's gains (.mixing.StemGains)
            gains.apply(part, a, stems[part][:, a : a + BLOCK])

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # numpy releases the GIL
        list(pool.map(calibrate, range(0, n, BLOCK)))
        mix = mix_of(stems)
        gain, _ = bus_gain(mix, loudness)
        del mix
        ending(gain, score)
        # each stem is this function's own array
        list(pool.map(lambda v: np.multiply(v, gain[None, :], out=v), stems.values()))
    return stems


class _Stem:
    """A stem in memory that :func:`_render_parts` writes its blocks into (as a
    :class:`~..blockaudio.DiskAudio`); silent where nothing is written."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.data = np.zeros((2, n), np.float32)

    def write(self, a: int, block: np.ndarray) -> None:
        self.data[:, a : a + block.shape[1]] = block


def ending(gain: np.ndarray, score: Score) -> np.ndarray:
    """The bus gain (in place) for the end of the music: from the final strike
    (or, without one, from the last chord's release) on it never rises (a
    compressor or limiter releasing after the strike would turn the decaying
    ring-out back up), and it falls to exactly 0 at the file's end along a
    raised cosine of ``score.fade_s``."""
    n = len(gain)
    since = score.final_s if score.final_s is not None else score.release_s
    if since > 0:
        i = min(n, int(round(since * SR)))
        np.minimum.accumulate(gain[i:], out=gain[i:])
    k = min(n, int(round(score.fade_s * SR)))
    if k > 1:
        gain[n - k :] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k))).astype(np.float32)
    elif n:
        gain[-1] = 0.0
    return gain


def mix_of(stems: dict[str, np.ndarray]) -> np.ndarray:
    """The sum of the stems (float32), added in order: the same numbers as
    ``np.sum(list(stems.values()), axis=0)`` without stacking the stems."""
    it = iter(stems.values())
    mix = np.array(next(it), np.float32)
    for v in it:
        mix += v
    return mix


def to_midi(score: Score, style: Style) -> object:
    """The score as a pretty_midi.PrettyMIDI (one instrument per part): the
    notes that were rendered, with their offs, the key signature (and the
    sections' changes of mode) and the final chord's diminuendo (CC 11)."""
    import pretty_midi

    from .keys import Key

    pm = pretty_midi.PrettyMIDI(resolution=960)  # 0.52 ms ticks: the groove's micro-timing survives the file
    pm.text_events = [pretty_midi.Text(kind, t) for t, kind in sorted(score.hits)]  # the form's hits
    pm.key_signature_changes = [pretty_midi.KeySignature(Key(score.tonic, score.mode).key_number, 0.0)] + [
        pretty_midi.KeySignature(Key(score.tonic, mode).key_number, t) for t, mode in score.modes
    ]
    controls = [pretty_midi.ControlChange(c, v, t) for t, c, v in _controls(score)]
    for part in PARTS:
        program, drums = _program(style, part)
        by_program: dict[int, list[Note]] = {}
        for n in score.parts[part]:
            by_program.setdefault(n.program if n.program >= 0 and not drums else program, []).append(n)
        for prog, notes in sorted(by_program.items(), key=lambda kv: kv[0] != program):
            name = part if prog == program else f"{part} (B sections)"
            inst = pretty_midi.Instrument(program=prog, is_drum=drums, name=name)
            inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
            if not drums:
                inst.control_changes = list(controls)
            pm.instruments.append(inst)
    return pm


# --------------------------------------------------------------------------- long cues, in blocks

#: Cues longer than this are rendered in blocks onto disk (:func:`render_long`);
#: shorter ones in memory (:func:`render`): about 1 GB of arrays at the bound.
LONG_S = 300.0


def render_long(
    score: Score,
    style: Style,
    duration_s: float,
    soundfont: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    block: int | None = None,
    scratch: str | os.PathLike[str] | None = None,
    loudness: float | None = None,
) -> tuple[dict[str, DiskAudio], DiskAudio]:
    """:func:`render`, a block at a time, onto disk: the stems (in
    :data:`PARTS` order) and their mix as :class:`~..blockaudio.DiskAudio`
    in a temporary folder. Memory stays at a few blocks whatever the length.

    Three passes, as the bus needs the whole mix before it can turn a
    sample down: (1) each part through the synthesiser and its effects
    (pedalboard with ``reset=False``, its state carried from block to block),
    onto disk, and the mix of the parts with its level per 64-sample hop and
    mean power (the compressor's input); (2) the compressed mix through the
    loudness meter (:class:`.master.LoudnessMeter`); (3) per block, the limiter on
    the block and a margin of the limiter's reach either side, the ending
    (a running minimum carried across blocks, the fade), and the gain
    applied to every stem, whose sum is the mix. Block by block this is the
    whole-signal computation: the same numbers to within float rounding of
    the mean power and the synthesiser's and effects' block boundaries
    (``tests/test_long_timelines.py`` compares it with :func:`render`).
    ``progress`` hears of every block; ``cancel`` is checked at each one.

    The files (seven of 4 bytes per sample and channel at most: 19 GB for
    two hours) go into a temporary folder in ``scratch`` (default: the
    system's, ``TMPDIR``), checked for room first; it goes when the last of
    the returned audio does.
    """
    from ...io.blockaudio import BLOCK, DiskAudio, TempFolder
    from ...progress import check, report

    size = int(block or BLOCK)
    sf = soundfont or default_soundfont()
    if not Path(sf).is_file():
        raise OptionError(f"{sf}: SoundFont not found; give an SF2/SF3 file with --soundfont.")
    n = int(round(duration_s * SR))
    nblocks = max(1, -(-n // size))
    folder = TempFolder("vidmusician-render-", scratch)
    try:
        fsutil.ensure_space(
            folder.path, 4 * 2 * n * (len(PARTS) + 2), f"{folder.path} (the render's scratch files)"
        )
    except BaseException:
        folder.remove()
        raise
    steps = [0]
    total_steps = len(PARTS) * nblocks + 3 * nblocks

    def tick(label: str) -> None:
        steps[0] += 1
        report(progress, steps[0] / total_steps, label)
        check(cancel)

    stems: dict[str, DiskAudio] = {part: DiskAudio.create(folder, part, 2, n) for part in PARTS}
    strips: dict[str, Strip] = {}  # the parts' channel strips (.mixing), metering as they go
    _render_parts(score, style, stems, sf, size, tick, strips)
    gains = stem_gains(style.mix, score, {p: s.loudness() for p, s in strips.items()}, n, size)
    return stems, bus_long(stems, score, folder, size, tick, gains.apply, loudness)


def _render_parts(
    score: Score,
    style: Style,
    stems: Mapping[str, DiskAudio | _Stem],
    sf: str,
    size: int,
    tick: Callable[[str], None],
    strips: dict[str, Strip],
    depth: int = 2,
) -> None:
    """Pass 1 of :func:`render_long` (and of :func:`render`, into arrays): the
    parts into ``stems``, block by block, through their channel strips (put
    in ``strips``). This thread synthesises (tinysoundfont holds the GIL)
    block ``k`` of every part in turn, each part on its own clone of the
    font; each part's blocks go through its strip in order on a thread of
    its own (numpy, scipy and pedalboard release the GIL), at most ``depth``
    blocks of a part in flight."""
    from concurrent.futures import Future, ThreadPoolExecutor

    n = next(iter(stems.values())).n
    nblocks = max(1, -(-n // size))
    pools: list[ThreadPoolExecutor] = []
    blocks_of: list[Iterator[np.ndarray]] = []

    def finish(start: int, interleaved: np.ndarray, board: Any, out: DiskAudio | _Stem) -> None:
        audio = np.ascontiguousarray(interleaved.T)
        if board is not None:
            audio = board.process(audio, SR, reset=False)
        if out is stems["drums"]:
            audio = add_fx(audio, score.fx, start)  # the booms and risers (.fx) that fall in the block
        out.write(start, audio)

    try:
        lanes: list[tuple[str, Iterator[np.ndarray], ThreadPoolExecutor, Any, list[Future[None]]]] = []
        # the parts with the slowest strips (the reverb sends) first
        for part in ("pad", "lead", "drums", "harmony", "bass"):
            program, drums = _program(style, part)
            if drums and style.drums is None:
                for _ in range(nblocks):
                    tick(f"rendering {part}")
                continue
            controls, tonic = (None, score.tonic) if drums else (_controls(score), None)
            pool = ThreadPoolExecutor(max_workers=1)  # one part's blocks in order; parts side by side
            pools.append(pool)
            blocks = _synth_blocks(score.parts[part], program, drums, n, sf, controls, tonic, size)
            blocks_of.append(blocks)
            lanes.append((part, blocks, pool, strips.setdefault(part, Strip(part, style.mix, n)), []))
        for k in range(nblocks):
            for part, blocks, pool, board, queue in lanes:
                queue.append(pool.submit(finish, k * size, next(blocks), board, stems[part]))
                if len(queue) > depth:  # at most a few blocks of a part in flight
                    queue.pop(0).result()
                tick(f"rendering {part}")
        for lane in lanes:
            for f in lane[4]:
                f.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        for blocks in blocks_of:  # each part's font clone back
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
