"""Numbers that are not numbers: options, config files, timeline numbers, and
EDLs whose FCM line disagrees with their timecodes.

Every hostile number is refused once, where it enters (the options table; the
timeline reader), with exit 2 and one line that names it; none reaches the
arithmetic that used to fail with OverflowError, ValueError or MemoryError.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
from pathlib import Path

import opentimelineio as otio
import pytest

from vidmusician.core import options
from vidmusician.core.cli import main
from vidmusician.core.errors import InputError, OptionError
from vidmusician.core.io.numbers import edl_frame_mode
from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.writeback import MusicFile, write_timelines

from .conftest import TIMELINES, clip, needs_shared, save, timeline, video_track, write_wav


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def one_line(code: int, err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("vidmusician: error: "), err
    return lines[0]


@pytest.fixture
def cut(tmp_path) -> Path:
    return save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "cut.otio")


# --------------------------------------------------------------------------- the options table


@pytest.mark.parametrize(
    "flag,value,needle",
    [
        ("--ring-out", "nan", "--ring-out 'nan': not a finite number"),
        ("--max-change", "nan", "--max-change 'nan': not a finite number"),
        ("--flex", "inf", "--flex 'inf': not a finite number"),
        ("--rate", "1e400", "--rate '1e400': not a finite number"),
        ("--seed", "1.5", "--seed '1.5': expected a whole number"),
        ("--seed", "-1", "--seed -1: must be between 0 and 2147483647"),
        ("--bpm", "nan-nan", "--bpm nan-nan: tempos must lie between 20 and 300"),
    ],
)
def test_hostile_option_values_are_refused_on_one_line(cut, tmp_path, flag, value, needle):
    code, _, err = run("score", str(cut), "-o", str(tmp_path / "out"), f"{flag}={value}")
    assert needle in one_line(code, err)
    assert not (tmp_path / "out").exists()


def test_scene_threshold_nan_is_refused(cut):
    code, _, err = run("analyze", str(cut), "--scene-threshold", "nan")
    assert "--scene-threshold 'nan': not a finite number" in one_line(code, err)


def test_the_table_checks_types_not_just_ranges():
    seed, flex, prompt = (options.BY_NAME[n] for n in ("seed", "flex", "prompt"))
    assert seed.check("7") == 7 and seed.check(7) == 7
    assert flex.check(1) == 1.0 and isinstance(flex.check(1), float)
    for bad in (1.5, 2.0, True, False, "1.5", "x", [1]):
        with pytest.raises(OptionError, match="expected a whole number"):
            seed.check(bad, "seed =")
    for bad in (float("nan"), float("inf"), "nan", "-inf", 10**400):
        with pytest.raises(OptionError, match="not a finite number"):
            flex.check(bad)
    with pytest.raises(OptionError, match="expected true or false"):
        options.BY_NAME["cache"].check(1)
    with pytest.raises(OptionError, match="expected text"):
        prompt.check(5)


# --------------------------------------------------------------------------- the config file


@pytest.mark.parametrize(
    "text,needle",
    [
        ("seed = 1.5\n", "seed = 1.5: expected a whole number"),
        ("seed = true\n", "seed = true: expected a whole number"),
        ("[vidmusician]\nmax_change = nan\n", "max_change = nan: not a finite number"),
        ("[vidmusician]\nring_out = inf\n", "ring_out = inf: not a finite number"),
        ("rate = 1e400\n", "rate = inf: not a finite number"),
        ("vidmusician = 5\n", "'vidmusician' is an integer; it must be a table"),
        ("vidmusician = 'x'\n", "'vidmusician' is a string; it must be a table"),
        ("seed = [1]\n", "seed = an array: expected one value"),
        ("vidmusician = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
        ("seed = ", "not a valid TOML config file"),
        ("seed = " + "9" * 5000 + "\n", "not a valid TOML config file (Exceeds the limit (4300 digits)"),
        ("seed = " + "9" * 1000 + "\n", "seed = (a number of about 1001 digits): must be between 0 and"),
    ],
)
def test_a_hostile_config_is_refused_on_one_line(cut, tmp_path, text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, _, err = run("analyze", str(cut), "--config", str(cfg))
    line = one_line(code, err)
    assert str(cfg) in line and needle in line


def test_the_config_reads_only_a_small_regular_file(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# x\n" * 300_000)  # 1.2 MB
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    for path, needle in [
        (Path("/dev/zero"), "not a regular file"),
        (fifo, "not a regular file"),
        (tmp_path, "is a folder"),
        (big, "too large for a config file"),
        (tmp_path / "none.toml", "config file not found"),
    ]:
        with pytest.raises(OptionError, match=needle):
            options.load_config(path)


def test_config_values_are_the_table_s(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[vidmusician]\nseed = 7\nflex = 1\nmax-change = 0.1\n")
    assert options.load_config(cfg) == {"seed": 7, "flex": 1.0, "max_change": 0.1}


# --------------------------------------------------------------------------- timeline numbers


def _otio_with(tmp_path: Path, field: str, value: str) -> Path:
    """simple_cut-like timeline whose first clip's ``field`` (a JSON number) is ``value``, as text."""
    t = timeline(video_track(clip("Clip-001", 48), clip("Clip-002", 24)))
    text = otio.adapters.write_to_string(t, "otio_json")
    data = json.loads(text)
    rng = data["tracks"]["children"][0]["children"][0]["source_range"]
    rng[field]["value"] = "@@"
    path = tmp_path / "t.otio"
    path.write_text(json.dumps(data).replace('"@@"', value))
    return path


@pytest.mark.parametrize(
    "field,value,needle",
    [
        (
            "duration",
            "NaN",
            "clip 'Clip-001' on track 'V1': its source range duration is unusable (nan is not",
        ),
        ("duration", "Infinity", "source range duration is unusable (inf is not a finite number)"),
        ("duration", "1e15", "(1e+15 frames at 24 fps is more than 48 hours)"),
        ("duration", "-3", "its source range duration is unusable (-3 frames is negative)"),
        (
            "start_time",
            "-1e15",
            "source range start is unusable (-1e+15 frames at 24 fps is more than 48 hours)",
        ),
    ],
)
def test_otio_numbers_that_are_not_numbers(tmp_path, field, value, needle):
    path = _otio_with(tmp_path, field, value)
    code, _, err = run("analyze", str(path))
    assert needle in one_line(code, err)


def test_an_otio_rate_of_zero_or_nan(tmp_path):
    t = timeline(video_track(clip("a", 48)))
    data = json.loads(otio.adapters.write_to_string(t, "otio_json"))
    for rate, needle in [("0", "rate 0 is not a frame rate"), ("NaN", "rate nan is not a frame rate")]:
        rng = data["tracks"]["children"][0]["children"][0]["source_range"]
        rng["duration"]["rate"] = "@@"
        path = tmp_path / f"r{rate}.otio"
        path.write_text(json.dumps(data).replace('"@@"', rate))
        with pytest.raises(InputError, match=re.escape(needle)):
            read_timeline(path)


@needs_shared
@pytest.mark.parametrize(
    "name,tag,value,needle",
    [
        ("hiero_xml_export.xml", "timebase", "0", "<timebase>0</timebase> is not a frame rate"),
        ("hiero_xml_export.xml", "in", "1e400", "<in>1e400</in> is not a frame count an edit can have"),
        ("premiere_enable_property.xml", "timebase", "nan", "<timebase>nan</timebase> is not a frame rate"),
        ("sample_just_track.xml", "duration", "inf", "<duration>inf</duration>"),
    ],
)
def test_fcp_xml_numbers_name_the_element_and_line(tmp_path, name, tag, value, needle):
    text = (TIMELINES / name).read_text()
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    assert m
    path = tmp_path / name
    path.write_text(text[: m.start(1)] + value + text[m.end(1) :])
    line = one_line(*run("analyze", str(path))[::2])
    assert needle in line and f"line {text.count(chr(10), 0, m.start()) + 1}:" in line


BAD_JSON = ["0", "NaN", "Infinity", "-Infinity", "1e15", "-1e15", "1e400", "-3"]
BAD_XML = ["0", "NaN", "inf", "1e400", "1e15", "-1e15", "-5", "abc", ""]


def _mutants() -> list[tuple[str, str, tuple[str, ...]]]:
    """Shared timelines with one number changed: a seeded sample of their
    rates, values and FCP XML time elements, and EDLs read at hostile rates."""
    if not TIMELINES.is_dir():
        return []
    out: list[tuple[str, str, tuple[str, ...]]] = []
    rnd = random.Random(6)
    for f in sorted(TIMELINES.glob("*.otio")):
        text = f.read_text()
        for key in ("rate", "value"):
            found = list(re.finditer(rf'"{key}": (-?[0-9.]+)', text))
            for m in rnd.sample(found, min(3, len(found))):
                b = rnd.choice(BAD_JSON)
                out.append(
                    (f"{f.stem}-{key}{m.start()}-{b}.otio", text[: m.start(1)] + b + text[m.end(1) :], ())
                )
    for f in sorted(TIMELINES.glob("*.xml")):
        text = f.read_text()
        for tag in ("timebase", "in", "out", "start", "end", "duration"):
            found = list(re.finditer(rf"<{tag}>([^<]*)</{tag}>", text))
            for m in rnd.sample(found, min(2, len(found))):
                b = rnd.choice(BAD_XML)
                out.append(
                    (f"{f.stem}-{tag}{m.start()}-{b}.xml", text[: m.start(1)] + b + text[m.end(1) :], ())
                )
    for f in sorted(TIMELINES.glob("*.edl")):
        for r in ("0", "nan", "inf", "1e15", "-25"):
            out.append((f"{f.stem}-rate{r}.edl", f.read_text(), ("--rate", r)))
    return out


@needs_shared
def test_mutated_shared_timelines_give_exit_0_or_2_with_one_line(tmp_path):
    mutants = _mutants()
    assert len(mutants) >= 80
    codes: dict[int, int] = {}
    for name, text, extra in mutants:
        path = tmp_path / name
        path.write_text(text)
        code, out, err = run("analyze", str(path), "--json", "-", *extra)
        codes[code] = codes.get(code, 0) + 1
        if code == 2:
            one_line(code, err)
        else:
            assert code == 0, (name, err)
            data = json.loads(out)  # what was accepted is a sane timeline
            assert 1 <= data["rate"] <= 1000 and 0 < data["duration_s"] <= 48 * 3600, name
        path.unlink()
    assert codes.get(2, 0) > len(mutants) // 2


# --------------------------------------------------------------------------- drop frame and non-drop mixed


def _edl(tmp_path: Path, fcm: str, sep: str) -> Path:
    edl = tmp_path / "cut.edl"
    edl.write_text(
        f"TITLE: mixed\nFCM: {fcm}\n\n"
        f"001  AX V C 00:00:00{sep}00 00:00:05{sep}00 01:00:00{sep}00 01:00:05{sep}00\n"
        f"002  AX V C 00:00:10{sep}00 00:00:14{sep}00 01:00:05{sep}00 01:00:09{sep}00\n"
    )
    return edl


@pytest.mark.parametrize(
    "fcm,sep,start,frame",
    [
        ("NON-DROP FRAME", ";", "01:00:00;00", 107892),  # the header says non-drop, the timecodes drop
        ("DROP FRAME", ":", "01:00:00:00", 108000),  # and the reverse
    ],
)
def test_each_event_counts_as_its_own_timecode_and_the_music_edl_follows(tmp_path, fcm, sep, start, frame):
    rate = 30000 / 1001
    edl = _edl(tmp_path, fcm, sep)
    mode = edl_frame_mode(edl)
    assert (mode.header, mode.drop, mode.mismatched) == (f"FCM: {fcm}", sep == ";", (1, 2))
    tl = read_timeline(edl, rate=29.97)
    assert tl.start_timecode == start  # was 00:59:56:12 (and 01:00:03;18 for the reverse)
    assert otio.opentime.from_timecode(tl.start_timecode, rate).value == frame
    assert tl.duration_frames == 270 and [s.start_frame for s in tl.shots] == [0, 150]
    said = [w for w in tl.warnings if "FCM" in w]
    assert len(said) == 1 and f"says 'FCM: {fcm}' but 2 events (1, 2)" in said[0]

    mix = write_wav(tmp_path / "mix.wav", tl.duration_s + 1.0)
    written = write_timelines(tl, [MusicFile("mix", str(mix))], tmp_path / "out", "same")
    lines = Path(written.paths["edl"]).read_text().splitlines()
    assert lines[1] == f"FCM: {fcm}"  # the picture's own line, so any reader counts both alike
    music = next(ln for ln in lines if ln.startswith("001")).split()
    picture = next(ln for ln in edl.read_text().splitlines() if ln.startswith("001")).split()
    assert music[-2] == picture[-2] == start  # as text
    as_frame = [otio.opentime.from_timecode(tc, rate).value for tc in (music[-2], picture[-2])]
    assert as_frame == [frame, frame]  # and as frame: no longer 108 frames (3.6 s) apart
    assert otio.opentime.from_timecode(music[-1], rate).value == frame + 270


def test_an_edl_whose_timecodes_agree_with_its_fcm_line_gets_no_warning(tmp_path):
    tl = read_timeline(_edl(tmp_path, "DROP FRAME", ";"), rate=29.97)
    assert tl.start_timecode == "01:00:00;00" and not [w for w in tl.warnings if "FCM" in w]
    tl = read_timeline(_edl(tmp_path, "NON-DROP FRAME", ":"), rate=25)
    assert tl.start_timecode == "01:00:00:00" and not [w for w in tl.warnings if "FCM" in w]


@pytest.mark.parametrize(
    "key,bad,needle",
    [
        ("frame_step", "0", "frame step 0 is not a whole number of frames from 1"),  # was IndexError, exit 1
        ("frame_step", "-1", "frame step -1 is not"),
        ("frame_zero_padding", "1000000000", "frame number padding 1000000000 is not 0-32 digits"),
    ],
)
def test_an_image_sequence_with_impossible_numbers(tmp_path, key, bad, needle):
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    ref = otio.schema.ImageSequenceReference(
        "file:///tmp/", "f.", ".exr", start_frame=1, frame_step=1, rate=24, frame_zero_padding=4
    )
    t = timeline(
        video_track(otio.schema.Clip("seq", media_reference=ref, source_range=tr(rt(0, 24), rt(48, 24))))
    )
    text = otio.adapters.write_to_string(t, "otio_json")
    text = re.sub(rf'"{key}": [^,\n]+', f'"{key}": {bad}', text, count=1)
    path = tmp_path / "seq.otio"
    path.write_text(text)
    assert f"clip 'seq': its image sequence is unusable ({needle}" in one_line(
        *run("analyze", str(path))[::2]
    )


def test_score_options_made_in_code_go_through_the_table():
    from vidmusician.core.session.settings import ScoreOptions

    ScoreOptions(seed=3, rate=29.97, fmt="fcp7", stem_tracks=True).check()
    for kw, needle in [
        ({"ring_out": float("nan")}, "--ring-out nan: not a finite number"),
        ({"seed": True}, "--seed true: expected a whole number"),
        ({"max_change": 2.0}, "--max-change 2.0: must be between 0 and 0.5"),
    ]:
        with pytest.raises(OptionError, match=re.escape(needle)):
            ScoreOptions(**kw).check()  # type: ignore[arg-type]
