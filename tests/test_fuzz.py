"""The command line under hostile input: a few hundred seeded mutants, each must
end in exit 0, or exit 2 with one error line; never a signal, a traceback or a
hang; memory bounded; nothing written outside the output and the cache.

``VIDMUSICIAN_FUZZ_SEED`` picks another set of mutants (the default is fixed,
so a failure here is reproducible); ``VIDMUSICIAN_FUZZ_SCALE`` multiplies the
number of timeline mutants.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest

from . import fuzz
from .conftest import TIMELINES, clip, save, shared_timelines, timeline, video_track

SEED = int(os.environ.get("VIDMUSICIAN_FUZZ_SEED", "15"))
SCALE = float(os.environ.get("VIDMUSICIAN_FUZZ_SCALE", "1"))
PEAK_RSS_MB = 2500  # the worker's peak over every case (librosa and a render included)

GOOD_CONFIG = """[vidmusician]
seed = 3
style = "rock"
bpm = "90-130"
ring_out = 2.0
max_change = 0.06
"""


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _soundfont() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _font_mutants(data: bytes, rng: random.Random, n: int) -> list[tuple[bytes, str]]:
    """SoundFonts broken where tinysoundfont trusts them: the preset data
    (``pdta``), chunk sizes, sample bounds, a truncated file."""
    pdta = data.find(b"pdta")
    shdr = data.find(b"shdr")
    smpl = data.find(b"smpl")
    out: list[tuple[bytes, str]] = []
    for k in range(n):
        b = bytearray(data)
        kind = k % 5
        if kind == 0:  # bytes flipped in the preset and instrument records
            for _ in range(rng.randint(4, 40)):
                b[rng.randrange(pdta, len(b))] = rng.randrange(256)
        elif kind == 1:  # sample headers pointing past the samples
            for _ in range(rng.randint(1, 6)):
                rec = shdr + 8 + 46 * rng.randrange(max(1, (len(b) - shdr - 8) // 46 - 1))
                field = rec + 20 + 4 * rng.randrange(4)  # start, end, loop start, loop end
                b[field : field + 4] = rng.randrange(2**31, 2**32).to_bytes(4, "little")
        elif kind == 2:  # a chunk size that lies
            at = rng.choice((4, smpl + 4, pdta - 4, shdr + 4))
            b[at : at + 4] = rng.choice((0, 1, 2**31 - 1, 2**32 - 1)).to_bytes(4, "little")
        elif kind == 3:
            b = b[: rng.randrange(pdta, len(b))]
        else:  # bag and generator indices out of order or out of range
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(pdta, len(b) - 2)
                b[at : at + 2] = rng.choice((0xFFFF, 0x8000, 0)).to_bytes(2, "little")
        out.append((bytes(b), ("pdta bytes", "sample bounds", "chunk size", "truncated", "indices")[kind]))
    return out


def _session_mutants(doc: dict, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """session.json with a field removed, retyped or pointed outside the folder."""
    paths: list[tuple] = []

    def walk(x, path):
        paths.append(path)
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, (*path, k))
        elif isinstance(x, list):
            for i, v in enumerate(x[:3]):
                walk(v, (*path, i))

    walk(doc, ())
    paths = [p for p in paths if p]
    hostile = [None, -1, 0, "abc", [], {}, 1.5, True, "../../../../etc/passwd", "/etc/hostname", 10**30]
    out: list[tuple[str, str]] = []
    for k in range(n):
        d = json.loads(json.dumps(doc))
        path = rng.choice(paths)
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        if k % 3 == 0:
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
            what = f"without {'.'.join(map(str, path))}"
        else:
            parent[path[-1]] = rng.choice(hostile)
            what = f"{'.'.join(map(str, path))} = {parent[path[-1]]!r}"
        out.append((json.dumps(d), what))
    text = json.dumps(doc)
    for _ in range(max(2, n // 8)):
        data, op = fuzz.mutate(text.encode(), rng)
        out.append((data.decode("utf-8", "replace"), op))
    return out


def _config_mutants(rng: random.Random) -> list[tuple[str, str]]:
    out = [(GOOD_CONFIG, "good")]
    for key in ("seed", "ring_out", "max_change", "flex", "bpm", "style", "stem_tracks", "scene_threshold"):
        for value in ("nan", "inf", "-1", "1.5", "true", '"x"', "[1, 2]", "{ a = 1 }", "1e400", "0"):
            out.append((f"[vidmusician]\n{key} = {value}\n", f"{key} = {value}"))
    out.append(("vidmusician = 5\n", "vidmusician a number"))
    out.append(("[vidmusician]\nseed = " + "[" * 50_000 + "]" * 50_000 + "\n", "deep array"))
    out.append(("\xff\xfe[vidmusician", "not UTF-8"))
    for _ in range(10):
        data, op = fuzz.mutate(GOOD_CONFIG.encode(), rng)
        out.append((data.decode("utf-8", "replace"), op))
    rng.shuffle(out)
    return out[:40]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    from vidmusician.core import cli

    rng = random.Random(SEED)
    root = tmp_path_factory.mktemp("fuzz")
    inputs, outs = root / "inputs", root / "outs"
    home, tmp, cache = root / "home", root / "tmp", root / "cache"
    for d in (inputs, outs, home, tmp, cache):
        d.mkdir()
    cases: list[fuzz.Case] = []

    def out(name: str) -> str:
        return str(outs / f"{len(cases):04d}-{name}")

    # a small cut of offline media: reading, planning and scoring stay quick
    small = save(
        timeline(
            video_track(
                clip("a", 30, url="/offline/a.mov"), clip("b", 40, url="/offline/b.mov"), clip("c", 26)
            )
        ),
        inputs / "small.otio",
    )

    # 1. timelines: mutants of every real export
    per_file = max(1, round(30 * SCALE))
    for src in shared_timelines():
        data = src.read_bytes()
        for k in range(per_file):
            mutant, op = fuzz.mutate(data, rng)
            p = inputs / f"{src.stem}-{k:02d}-{op}{src.suffix}"
            p.write_bytes(mutant)
            rate = ["--rate", "25"] if src.suffix == ".edl" else []
            if k % 15 == 4:
                argv = ["score", str(p), "-o", out("score"), "--quiet", *rate]
            elif k % 2:
                argv = ["plan", str(p), "--json", out("plan.json"), "--quiet", *rate]
            else:
                argv = ["analyze", str(p), "--json", out("analysis.json"), "--quiet", *rate]
            cases.append(fuzz.Case(f"{src.name} {op} #{k} ({argv[0]})", tuple(argv)))
    for d in (300, 5000, 20_000):  # the depths that crashed OTIO's reader
        p = inputs / f"deep-{d}.otio"
        p.write_bytes(fuzz.deep_nesting(small.read_bytes(), rng, d))
        cases.append(fuzz.Case(f"otio nested {d} deep", ("analyze", str(p), "--quiet")))

    # mutants of a cut short enough to score each one
    for k in range(12):
        mutant, op = fuzz.mutate(small.read_bytes(), rng)
        p = inputs / f"small-{k:02d}-{op}.otio"
        p.write_bytes(mutant)
        cases.append(
            fuzz.Case(f"small.otio {op} #{k} (score)", ("score", str(p), "-o", out("score"), "--quiet"))
        )

    # 2. options on the command line
    for flag in ("--ring-out", "--max-change", "--flex", "--seed", "--bpm", "--scene-threshold"):
        for value in ("nan", "inf", "-1", "1e400", "1.5", "0", "abc", "90-60"):
            argv = ["plan", str(small), flag, value, "--json", out("plan.json"), "--quiet"]
            cases.append(fuzz.Case(f"plan {flag} {value}", tuple(argv)))

    # 3. config files
    for k, (text, what) in enumerate(_config_mutants(rng)):
        p = inputs / f"config-{k:02d}.toml"
        p.write_text(text, encoding="utf-8", errors="surrogateescape")
        argv = ["plan", str(small), "--config", str(p), "--json", out("plan.json"), "--quiet"]
        cases.append(fuzz.Case(f"config {what}", tuple(argv)))
    for special in ("/dev/zero", "/dev/null"):
        if os.path.exists(special):
            cases.append(fuzz.Case(f"config {special}", ("plan", str(small), "--config", special, "--quiet")))

    # 4. SoundFonts
    font = _soundfont()
    for k, (data, what) in enumerate(_font_mutants(font.read_bytes(), rng, 10)):
        p = inputs / f"font-{k:02d}.sf2"
        p.write_bytes(data)
        cases.append(
            fuzz.Case(
                f"soundfont {what} #{k}",
                ("score", str(small), "-o", out("font"), "--soundfont", str(p), "--quiet"),
            )
        )

    # 5. tampered sessions
    session = root / "session"
    assert cli.main(["score", str(small), "-o", str(session), "--quiet", "--seed", "1"]) == 0
    doc = json.loads((session / "session.json").read_text())
    for k, (text, what) in enumerate(_session_mutants(doc, rng, 40)):
        copy = outs / f"session-{k:02d}"  # a session is an output: takes may be added
        shutil.copytree(session, copy)
        (copy / "session.json").write_text(text)
        if k % 10 == 3:
            argv = ["regenerate", str(copy), "--shot", "1", "--quiet"]
        elif k % 3 == 1:
            argv = ["takes", str(copy), "--use", "1", "--shot", "0", "--quiet"]
        else:
            argv = ["takes", str(copy), "--quiet"]
        cases.append(fuzz.Case(f"session {what} ({argv[0]})", tuple(argv)))

    before = _digest(inputs)
    env = {
        **os.environ,
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "VIDMUSICIAN_CACHE": str(cache),
    }
    env.pop("VIDMUSICIAN_DEBUG", None)
    outcomes = fuzz.run_cases(cases, root / "work", env)
    return root, cases, outcomes, before


def test_every_mutant_ends_in_exit_0_or_a_one_line_error(fuzzed):
    _, cases, outcomes, _ = fuzzed
    assert len(outcomes) == len(cases)
    problems = [(o.case.name, o.problem()) for o in outcomes if o.problem()]
    tally = Counter(o.status for o in outcomes)
    assert not problems, f"{len(problems)} of {len(cases)} cases failed ({dict(tally)}):\n" + "\n".join(
        f"  {name}: {why}" for name, why in problems[:40]
    )
    assert tally[2] > len(cases) / 4  # the mutants really are hostile
    assert tally[0] > 10  # and some still read


def test_memory_stays_bounded(fuzzed):
    _, _, outcomes, _ = fuzzed
    peak = max(o.rss_mb for o in outcomes)
    assert peak < PEAK_RSS_MB, f"peak RSS {peak:.0f} MB"


def test_nothing_is_written_outside_the_output_and_the_cache(fuzzed):
    root, _, outcomes, before = fuzzed
    assert _digest(root / "inputs") == before  # inputs are only read
    assert not list((root / "work" / "cwd").iterdir())
    # matplotlib keeps its font list in the user's cache, as it does for any program that plots
    home = [p for p in (root / "home").rglob("*") if p.is_file() and "matplotlib" not in p.parts]
    assert not home, home[:5]
    assert not list((root / "tmp").iterdir()), sorted(p.name for p in (root / "tmp").iterdir())
    left = [p for p in (root / "outs").rglob("*") if ".partial" in p.name]
    assert not left, left[:5]
    failed = {
        o.case.argv[o.case.argv.index("-o") + 1] for o in outcomes if o.status == 2 and "-o" in o.case.argv
    }
    assert not [f for f in failed if Path(f).exists() and any(Path(f).iterdir())]


@pytest.mark.skipif(not TIMELINES.is_dir(), reason="../shared/data is absent")
def test_the_real_timelines_themselves_read(fuzzed):
    """The unmutated exports are not refused by the checks that refuse their mutants."""
    from vidmusician.core.analysis.analyze import analyze

    for src in shared_timelines():
        rate = 25 if src.suffix == ".edl" else None
        try:
            analyze(src, rate=rate)
        except Exception as e:  # the two sub-frame and audio-only timelines are refused, as before
            assert "no picture" in str(e) or "video" in str(e) or "short" in str(e), (src.name, e)


def test_the_harness_sees_a_crash_and_a_hang_and_goes_on(tmp_path):
    """A worker killed by a signal or stuck is charged to its case, and the cases after it still run."""
    cases = [
        fuzz.Case("ok", ("--version",)),
        fuzz.Case("segfault", ("__harness__", "signal", str(int(signal.SIGSEGV)))),
        fuzz.Case("bad option", ("plan", "--no-such-flag")),
        fuzz.Case("hang", ("__harness__", "sleep", "30")),
        fuzz.Case("ok again", ("doctor", "--no-such-flag")),
    ]
    outcomes = fuzz.run_cases(cases, tmp_path / "work", dict(os.environ), timeout_s=3.0)
    assert [o.case.name for o in outcomes] == [c.name for c in cases]
    assert outcomes[1].signal == signal.SIGSEGV and outcomes[1].problem() == "killed by signal 11"
    assert outcomes[3].status is None and outcomes[3].problem() == "hung"
    assert outcomes[2].status == 2 and outcomes[2].problem() is None
    assert outcomes[4].status == 2
