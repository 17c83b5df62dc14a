"""Music quality of the arranger (issue 17): every style on fixed made-up cuts, beside the targets.

Run: .venv/bin/python benchmark/bench_music.py [--soundfont PATH] [--styles a,b] [--quick] [--json PATH]

Each style is arranged (seed 1) on three made-up timelines of ``--seconds``
(default 45 s) with fixed seeds: slow (a cut every 2-4 s), medium (1-2 s) and
fast (0.4-1.2 s), the picture's motion rising and falling. Per cue it measures
(benchmark/music_measures.py): integrated loudness, loudness range (EBU Tech
3342) and the short-term loudness spread; the true peak after an AAC 128 kbit/s
round trip; the share of energy below 60 Hz; the L/R correlation; the drum
notes against the plan's grid, the final strike (on the last frame) aside:
median |deviation|, the micro-timing spread once each grid phase's offset
(swing) is taken off, and the swing offset;
the in-bar velocity spread; the harmony's voice motion per chord change; the
share of bars with a lead note (the final strike aside); the key heard
(Krumhansl-Schmuckler on chroma_cqt) against the key named; the level of the
last 10 ms and the ring-out's fall. The score measures read the arranger's
Score, so they are exact. Then one 3-minute cue (``--speed-minutes``) gives the
render speed (stems + mix, x real time, best of 2).

Targets (issue 17): LRA 3-7 LU, below 60 Hz 10-30%, L/R correlation
0.80-0.95, drum micro-timing 5-15 ms, voice motion <= 6 semitones, a topline
in every cue (read here as a lead note in at least half the bars), key named =
key heard, true peak <= -1 dBTP after AAC, >= 50x real time; and (the issue's
ending test) the last 10 ms below -60 dBFS. A style's figure is the mean of its
cues (the true peak and the tail: the highest); the key and the topline pass
only when every cue does. The "all" row is the same over every cue, and the
summary counts the styles that pass each target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import music_measures as mm
from common import best

from vidmusician.core import VideoFeatures, plan
from vidmusician.core.backends.arranger import arrange
from vidmusician.core.model import Anchor, InputSource, MotionCurve, Timeline

#: cut spacing (s) of the three made-up timelines, and their seeds
PACES = {"slow": ((2.0, 4.0), 11), "medium": ((1.0, 2.0), 12), "fast": ((0.4, 1.2), 13)}
TOPLINE_MIN = 0.5  # a lead note in at least half the bars
SEED = 1


@dataclass(frozen=True)
class Target:
    """One printed figure: its key in the cue's record, heading, format and pass test."""

    key: str
    head: str
    fmt: str
    ok: Callable[[float], bool] | None
    goal: str
    all_cues: bool = False  # passes only if every cue passes (key, topline)
    worst: bool = False  # the figure is the highest of the cues (peaks, tail), not their mean


TARGETS = (
    Target("integrated_lufs", "LUFS", "{:6.1f}", None, "-"),
    Target("lra_lu", "LRA", "{:5.1f}", lambda v: 3.0 <= v <= 7.0, "3-7 LU"),
    Target("st_std_lu", "ST sd", "{:5.1f}", None, "-"),
    Target("energy_follow", "follow", "{:6.2f}", lambda v: v >= 0.5, ">= 0.5"),
    Target("aac_tp_dbtp", "TP AAC", "{:6.2f}", lambda v: v <= -1.0, "<= -1 dBTP", worst=True),
    Target("low_pct", "<60Hz", "{:5.1f}", lambda v: 10.0 <= v <= 30.0, "10-30 %"),
    Target("lr_corr", "L/R", "{:5.2f}", lambda v: 0.80 <= v <= 0.95, "0.80-0.95"),
    Target("drum_dev_ms", "dev ms", "{:6.1f}", None, "-"),
    Target("drum_jitter_ms", "jitter", "{:6.1f}", lambda v: 5.0 <= v <= 15.0, "5-15 ms"),
    Target("drum_swing_ms", "swing", "{:6.1f}", None, "-"),
    Target("vel_spread", "vel sd", "{:6.1f}", None, "-"),
    Target("voice_motion", "voice", "{:5.1f}", lambda v: v <= 6.0, "<= 6 st"),
    Target("lead_share", "lead", "{:5.2f}", lambda v: v >= TOPLINE_MIN, f">= {TOPLINE_MIN} bars", True),
    Target("key_match", "key", "{:4.0%}", lambda v: v >= 1.0, "named = heard", True),
    Target("tail_dbfs", "tail", "{:6.1f}", lambda v: v <= -60.0, "<= -60 dBFS", worst=True),
    Target("ring_fall_db", "fall", "{:5.1f}", None, "-"),
)


def features(duration: float, spacing: tuple[float, float], seed: int) -> VideoFeatures:
    """A made-up timeline: cuts ``spacing`` seconds apart (on frames, 24 fps), motion rising and
    falling, no shots (the style's keys alike)."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(*spacing, int(duration / spacing[0]) + 2))
    times = np.round(times[times < duration - 1.0] * 24) / 24
    anchors = tuple(Anchor(float(t), "cut", 1.0) for t in times)
    tl = Timeline(
        "bench", 24.0, int(duration * 24), "00:00:00:00", (), (), anchors, InputSource("-", "otio_json")
    )
    n = int(duration * 25)
    phase = rng.uniform(0, 2 * np.pi)
    values = np.clip(0.5 + 0.4 * np.sin(np.arange(n) / n * 4 * np.pi + phase) + rng.normal(0, 0.05, n), 0, 1)
    return VideoFeatures(tl, MotionCurve(0.04, values, values, values, values), (), anchors)


def measure_cue(style: str, pace: str, seconds: float, soundfont: str | None) -> dict[str, object]:
    """Arrange ``style`` on the ``pace`` timeline and measure it."""
    spacing, seed = PACES[pace]
    f = features(seconds, spacing, seed)
    p, _ = plan(f, style)
    t0 = time.perf_counter()
    stems = arrange(p, f, style, seed=SEED, soundfont=soundfont)
    render_s = time.perf_counter() - t0
    mix = np.asarray(stems.mix, np.float32)
    sr = stems.sr
    score = stems.score
    sub = int(p.meter.subdivision)
    rec: dict[str, object] = {"style": style, "pace": pace, "cuts": len(f.anchors), "render_s": render_s}
    rec["bpm"] = float(np.median(p.bpm))
    rec.update(mm.loudness(mix, sr))
    # the picture's motion against the music's loudness over 1 s windows (Spearman, issue 18 item 3)
    rec["energy_follow"] = mm.energy_follow(mix, sr, f.motion.values, f.motion.hop_s, seconds)
    rec["tp_dbtp"] = mm.true_peak_dbtp(mix)
    rec["aac_tp_dbtp"] = mm.true_peak_dbtp(mm.aac_round_trip(mix, sr))
    rec["low_pct"] = 100.0 * mm.low_share(mix, sr)
    rec["lr_corr"] = mm.lr_correlation(mix)
    timing = {
        part: mm.score_onset_deviation(score, p.grid_s, part, sub, score.final_s, float(p.beats_s[0]))
        for part in ("drums", "bass", "harmony")
    }
    rec["timing"] = timing
    rec["drum_dev_ms"] = timing["drums"]["median_abs_ms"]
    rec["drum_jitter_ms"] = timing["drums"]["jitter_ms"]
    rec["drum_swing_ms"] = timing["drums"]["swing_ms"]
    vel = mm.velocity_spread(score, p.downbeats_s)
    rec["velocity_by_part"] = vel
    rec["vel_spread"] = vel["mean"]
    vm = mm.voice_motion(score, p.downbeats_s, "harmony")
    rec["voice"] = vm
    rec["voice_motion"] = vm["mean"]
    rec["pad_voice_motion"] = mm.voice_motion(score, p.downbeats_s, "pad")["mean"]
    rec["lead_share"] = mm.lead_presence(score, p.downbeats_s, "lead", before_s=score.final_s)
    named = mm.normalise_key(score.key_name)
    heard, r = mm.estimate_key(mix, sr)
    rec.update(key_named=named, key_heard=heard, key_r=r, key_match=float(heard == named))
    rec["key_relative"] = heard == mm.relative_key(named)
    rec.update(mm.tail(mix, sr, p.duration_s))
    return rec


def speed(style: str, minutes: float, soundfont: str | None) -> dict[str, float]:
    """Stems + mix of a ``minutes`` cue (medium pace), best of 2: seconds of music per second
    of rendering."""
    seconds = minutes * 60
    f = features(seconds, PACES["medium"][0], 20)
    p, _ = plan(f, style)
    t = best(lambda: arrange(p, f, style, seed=SEED, soundfont=soundfont), 2)
    music = seconds + p.ring_out_s
    return {"style": style, "music_s": music, "render_s": t, "x_real_time": music / t}  # type: ignore[dict-item]


def summarise(cues: list[dict[str, object]]) -> dict[str, float]:
    """Each figure over ``cues``: the mean, or the highest where the target is a ceiling."""
    out = {}
    for t in TARGETS:
        values = [float(c[t.key]) for c in cues]  # type: ignore[arg-type]
        out[t.key] = float(max(values) if t.worst else np.mean(values))
    return out


def passes(t: Target, value: float, cues: list[dict[str, object]]) -> bool | None:
    if t.ok is None:
        return None
    if t.all_cues:
        return all(t.ok(float(c[t.key])) for c in cues)  # type: ignore[arg-type]
    return t.ok(value)


def print_table(rows: list[tuple[str, list[dict[str, object]]]]) -> dict[str, dict[str, object]]:
    """Print one line per row (a style, or "all") and each figure's PASS/FAIL; return them."""
    name_w = max(len(n) for n, _ in rows) + 1
    widths = [max(len(t.fmt.format(0.0)) + 1, len(t.goal), len(t.head)) for t in TARGETS]
    print(f"{'':{name_w}}" + " ".join(f"{t.head:>{w}}" for t, w in zip(TARGETS, widths, strict=True)))
    print(f"{'target':{name_w}}" + " ".join(f"{t.goal:>{w}}" for t, w in zip(TARGETS, widths, strict=True)))
    out: dict[str, dict[str, object]] = {}
    for name, cues in rows:
        means = summarise(cues)
        cells, verdicts = [], {}
        for t, w in zip(TARGETS, widths, strict=True):
            ok = passes(t, means[t.key], cues)
            mark = " " if ok is None else ("+" if ok else "!")
            verdicts[t.key] = None if ok is None else ("PASS" if ok else "FAIL")
            cells.append(f"{t.fmt.format(means[t.key])}{mark}".rjust(w))
        print(f"{name:{name_w}}" + " ".join(cells))
        out[name] = {"figures": means, "verdicts": verdicts, "cues": len(cues)}
    print("(+ PASS, ! FAIL; no mark: no target)")
    return out


def print_verdicts(table: dict[str, dict[str, object]], styles: list[str]) -> None:
    print("\nper measure: target, overall figure, verdict, styles passing")
    for t in TARGETS:
        if t.ok is None:
            continue
        n = [table[s]["verdicts"][t.key] for s in styles].count("PASS")  # type: ignore[index]
        overall = table["all"]
        print(
            f"  {t.head:7} {t.goal:>14}  {t.fmt.format(overall['figures'][t.key]):>7}  "  # type: ignore[index]
            f"{overall['verdicts'][t.key]}  {n}/{len(styles)} styles"  # type: ignore[index]
        )


def main() -> None:
    from vidmusician.core.styles import names

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--soundfont", default=None, help="the arranger's SoundFont (default: its own choice)")
    ap.add_argument("--styles", default="", help="comma-separated styles (default: all)")
    ap.add_argument("--quick", action="store_true", help="20 s cues and a 1-minute speed cue")
    ap.add_argument("--seconds", type=float, default=45.0, help="length of each measured cue")
    ap.add_argument("--speed-minutes", type=float, default=3.0)
    ap.add_argument("--speed-style", default="corporate-upbeat")
    ap.add_argument("--json", default=None, help="write every figure to this file")
    args = ap.parse_args()
    styles = [s.strip() for s in args.styles.split(",") if s.strip()] or list(names())
    seconds, speed_min = (20.0, 1.0) if args.quick else (args.seconds, args.speed_minutes)
    from vidmusician.core.backends.arranger.synth import default_soundfont

    font = args.soundfont or f"{default_soundfont()} (the arranger's search)"
    print(
        f"music benchmark: {len(styles)} styles x {len(PACES)} paces, {seconds:g} s cues, seed {SEED}, font {font}"
    )
    cues: list[dict[str, object]] = []
    t_all = time.perf_counter()
    for style in styles:
        for pace in PACES:
            c = measure_cue(style, pace, seconds, args.soundfont)
            cues.append(c)
            print(
                f"  {style:17} {pace:6} {c['cuts']:3} cuts {c['bpm']:5.1f} BPM  key named {c['key_named']:9} "
                f"heard {c['key_heard']:9}{' (relative)' if c['key_relative'] else ''}  "
                f"lead {c['lead_share']:.2f}  {c['render_s']:.1f} s",
                flush=True,
            )
    print(f"measured in {time.perf_counter() - t_all:.0f} s\n")
    rows = [(s, [c for c in cues if c["style"] == s]) for s in styles] + [("all", cues)]
    table = print_table(rows)
    print_verdicts(table, styles)
    sp = speed(args.speed_style, speed_min, args.soundfont)
    ok = sp["x_real_time"] >= 50.0
    print(
        f"\nrender speed: {sp['music_s']:.0f} s of {args.speed_style} (stems + mix) in {sp['render_s']:.2f} s: "
        f"{sp['x_real_time']:.1f}x real time (target >= 50x with the better SoundFont): {'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        doc = {
            "soundfont": args.soundfont,
            "seconds": seconds,
            "seed": SEED,
            "targets": {t.key: t.goal for t in TARGETS},
            "table": table,
            "speed": {**sp, "verdict": "PASS" if ok else "FAIL"},
            "cues": cues,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
