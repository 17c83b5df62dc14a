"""Structural checks before native parsers, and the bounded .otioz cache, with known answers.

Hostile files are made here: SoundFonts mutated from pretty_midi's TimGM6mb.sf2
(bad sample bounds, bag indices, chunk sizes, truncation), OTIO JSON nested
300 and 20,000 deep, .otioz zip bombs (a 2 GB entry deflated to 2 MB, 100,000
entries, a header that lies about its size). Each is refused with exit status 2
and one line, and leaves nothing behind; the ones that crash tinysoundfont or
OTIO natively are run in a child process so a crash fails the test instead of
killing the session.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from vidmusician.core import guard
from vidmusician.core.cli import main
from vidmusician.core.errors import InputError, OptionError
from vidmusician.core.io import cache
from vidmusician.core.io.timeline import read_timeline

from .conftest import TIMELINES, clip, needs_shared, timeline, video_track

# --------------------------------------------------------------------------- SoundFonts


def _tim() -> Path:
    import pretty_midi

    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def _layout(buf: bytes) -> dict[bytes, tuple[int, int]]:
    """{chunk id or LIST type: (header offset, size)} of a SoundFont's RIFF tree."""

    def chunks(start: int, end: int):
        pos = start
        while pos + 8 <= end:
            yield buf[pos : pos + 4], pos, struct.unpack("<I", buf[pos + 4 : pos + 8])[0]
            pos += 8 + struct.unpack("<I", buf[pos + 4 : pos + 8])[0]

    out = {}
    for cid, pos, size in chunks(12, len(buf)):
        if cid == b"LIST":
            out[buf[pos + 8 : pos + 12]] = (pos, size)
            for c2, p2, s2 in chunks(pos + 12, pos + 8 + size):
                out[c2] = (p2, s2)
    return out


def _put(buf: bytes, off: int, fmt: str, val: int) -> bytes:
    b = bytearray(buf)
    struct.pack_into(fmt, b, off, val)
    return bytes(b)


def _record(lay, name: str, i: int, size: int) -> int:
    return lay[name.encode()][0] + 8 + i * size


def _first_gen(buf: bytes, lay, table: str, oper: int) -> int:
    pos, size = lay[table.encode()]
    for i in range(size // 4):
        o = pos + 8 + 4 * i
        if struct.unpack("<H", buf[o : o + 2])[0] == oper:
            return o
    raise AssertionError(f"no generator {oper} in {table}")


def mutants() -> dict[str, tuple[bytes, str]]:
    """{name: (font bytes, what the refusal says)}."""
    data = _tim().read_bytes()
    lay = _layout(data)
    words = lay[b"smpl"][1] // 2
    s3 = _record(lay, "shdr", 3, 46)
    n_phdr = lay[b"phdr"][1] // 38
    return {
        "sample start past smpl": (
            _put(data, s3 + 20, "<I", words + 10**7),
            "sample 3 ('FluteC#6') points at",
        ),
        "sample end past smpl": (_put(data, s3 + 24, "<I", words + 10**7), "outside the 2893608 samples"),
        "loop past smpl": (_put(data, s3 + 32, "<I", 0xFFFFFFF0), "loop 41130-4294967280"),
        "compressed flag, end past smpl": (
            _put(_put(data, s3 + 44, "<H", 0x10), s3 + 24, "<I", 0xFFFFFFF0),
            "compressed sample 3 ('FluteC#6') spans bytes 32360-4294967280",
        ),
        "pbag generator index past pgen": (
            _put(data, _record(lay, "pbag", 5, 4), "<H", 60000),
            "pbag 6's pgen index (6) is before pbag 5's (60000)",
        ),
        "ibag generator index past igen": (
            _put(data, _record(lay, "ibag", 5, 4), "<H", 65000),
            "ibag 6's igen index (65) is before ibag 5's (65000)",
        ),
        "preset bag index past pbag": (
            _put(data, _record(lay, "phdr", n_phdr - 1, 38) + 24, "<H", 65000),
            "preset bag indices run to 65000, but the pbag table holds 211 records",
        ),
        "instrument bags decreasing": (
            _put(data, _record(lay, "inst", 7, 22) + 20, "<H", 0),
            "instrument 7's ibag index (0) is before instrument 6's (245)",
        ),
        "sample id past shdr": (
            _put(data, _first_gen(data, lay, "igen", 53) + 2, "<H", 60000),
            "an instrument zone names sample 60000, but there are 520",
        ),
        "instrument id past inst": (
            _put(data, _first_gen(data, lay, "pgen", 41) + 2, "<H", 60000),
            "a preset zone names instrument 60000, but there are 210",
        ),
        "pdta size past the file": (
            _put(data, lay[b"pdta"][0] + 4, "<I", lay[b"pdta"][1] + 10**7),
            "chunk 'LIST' at byte 5787332 claims 10206944 bytes",
        ),
        "phdr not whole records": (
            _put(data, lay[b"phdr"][0] + 4, "<I", lay[b"phdr"][1] - 1),
            "pdta 'phdr' is 5205 bytes, not a whole number of 38-byte records",
        ),
        "smpl size past the file": (
            _put(data, lay[b"smpl"][0] + 4, "<I", 0xFFFFFFF0),
            "chunk 'smpl' at byte 108 claims 4294967280 bytes",
        ),
        "truncated in half": (data[: len(data) // 2], "truncated: the RIFF header claims 5994284 bytes"),
        "not a SoundFont": (b"RIFF\x04\x00\x00\x00WAVE", "not a SoundFont (no RIFF 'sfbk' header)"),
    }


#: Mutants that crash tinysoundfont 0.3.7's sfload (SIGSEGV) when nothing checks them first.
NATIVE_CRASHES = ("pbag generator index past pgen", "sample id past shdr", "instrument bags decreasing")

PROBE = r"""
import sys, numpy as np, tinysoundfont
s = tinysoundfont.Synth(samplerate=48000)
sfid = s.sfload(sys.argv[1])
for chan, (bank, prog) in enumerate([(0, 0), (0, 33), (0, 48), (128, 0)]):
    try:
        s.program_select(chan, sfid, bank, prog, is_drums=bank == 128)
    except Exception:
        continue
    for k in (36, 60, 84):
        s.noteon(chan, k, 100)
buf = np.zeros((24000, 2), np.float32)
s.generate(24000, buffer=buf.data.cast("B"))
print(float(np.abs(buf).max()))
"""


def test_the_shipped_font_passes_with_its_counts_and_fast():
    t = time.perf_counter()
    got = guard.check_soundfont(_tim())
    took = time.perf_counter() - t
    assert got == guard.SoundFontInfo(presets=136, instruments=210, samples=520, compressed=False)
    assert took < 0.5  # reads chunk headers and pdta only (measured: under 1 ms)
    assert guard.check_soundfont(_tim()) is got  # remembered per (path, size, mtime)


@pytest.mark.parametrize(
    "path", ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf3/MuseScore_General.sf3"]
)
def test_debian_fonts_pass(path):
    if not Path(path).is_file():
        pytest.skip(f"{path} is not installed")
    t = time.perf_counter()
    info = guard.check_soundfont(path)
    assert time.perf_counter() - t < 1.0
    assert info.presets > 100 and info.compressed == path.endswith(".sf3")


@pytest.mark.parametrize("name", list(mutants()))
def test_each_mutated_font_is_refused_with_what_is_wrong(tmp_path, name):
    data, says = mutants()[name]
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(data)
    with pytest.raises(OptionError) as e:
        guard.check_soundfont(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}: not a usable SoundFont: ") and says in msg and "\n" not in msg


@pytest.mark.parametrize("name", NATIVE_CRASHES)
def test_mutants_that_crash_tinysoundfont_natively_do(tmp_path, name):
    """Why the check exists: unchecked, these end in a segfault inside sfload."""
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(mutants()[name][0])
    proc = subprocess.run([sys.executable, "-c", PROBE, str(bad)], capture_output=True, timeout=120)
    if proc.returncode >= 0:
        pytest.skip(f"this build of tinysoundfont survived it (exit {proc.returncode})")
    assert proc.returncode == -11


def test_score_with_a_bad_soundfont_exits_2_with_one_line_and_leaves_nothing(tmp_path, capsys):
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline(video_track(clip("a", 48), clip("b", 48))), str(src))
    for i, (name, (data, says)) in enumerate(mutants().items()):
        bad = tmp_path / f"bad{i}.sf2"
        bad.write_bytes(data)
        out = tmp_path / "runs" / f"out{i}"
        assert main(["score", str(src), "-o", str(out), "--soundfont", str(bad), "-q"]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and says in err and str(bad) in err, name
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), name


def test_a_crashing_font_through_the_real_command_is_exit_2_not_a_signal(tmp_path):
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline(video_track(clip("a", 48), clip("b", 48))), str(src))
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(mutants()["sample id past shdr"][0])
    out = tmp_path / "runs" / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidmusician.core.cli",
            "score",
            str(src),
            "-o",
            str(out),
            "--soundfont",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "names sample 60000" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("runs/.*partial"))


def test_the_renderer_checks_the_font_itself(tmp_path):
    """The panel reaches the renderer without the command line's early check."""
    from vidmusician.core.backends.arranger.synth import render_part

    bad = tmp_path / "bad.sf2"
    bad.write_bytes(mutants()["sample id past shdr"][0])
    with pytest.raises(OptionError, match="names sample 60000"):
        render_part([], 0, False, 4800, str(bad))


def _sf3(max_frames: int = 2048) -> bytes:
    """TimGM6mb as an SF3: every sample (its first ``max_frames``) an Ogg
    Vorbis stream; shdr start/end in bytes of smpl, loops relative to the
    sample (what MuseScore's sftools write and tinysoundfont decodes)."""
    import soundfile

    data = _tim().read_bytes()
    lay = _layout(data)
    spos, ssize = lay[b"smpl"]
    pcm = np.frombuffer(data[spos + 8 : spos + 8 + ssize], "<i2")
    hpos, hsize = lay[b"shdr"]
    shdr = bytearray(data[hpos + 8 : hpos + 8 + hsize])
    blobs, off = [], 0
    for i in range(hsize // 46 - 1):
        st, en, ls, le, rate = struct.unpack_from("<5I", shdr, 46 * i + 20)
        x = pcm[st:en][:max_frames].astype(np.float32) / 32768
        if x.size == 0:
            x = np.zeros(64, np.float32)
        b = io.BytesIO()
        soundfile.write(b, x, max(rate, 8000), format="OGG", subtype="VORBIS")
        ogg = b.getvalue()
        rel = [min(max(v - st, 0), x.size - 1) for v in (ls, le)]
        struct.pack_into("<4I", shdr, 46 * i + 20, off, off + len(ogg), *rel)
        struct.pack_into("<H", shdr, 46 * i + 44, struct.unpack_from("<H", shdr, 46 * i + 44)[0] | 0x10)
        blobs.append(ogg)
        off += len(ogg)
    smpl = b"".join(blobs)
    smpl += b"\0" * (len(smpl) % 2)
    ppos, psize = lay[b"pdta"]
    pdta = bytearray(data[ppos + 8 : ppos + 8 + psize])
    pdta[hpos - ppos : hpos - ppos + hsize] = shdr
    info = data[lay[b"INFO"][0] : lay[b"INFO"][0] + 8 + lay[b"INFO"][1]]
    sdta = b"sdta" + b"smpl" + struct.pack("<I", len(smpl)) + smpl
    body = (
        info + b"LIST" + struct.pack("<I", len(sdta)) + sdta + b"LIST" + struct.pack("<I", len(pdta)) + pdta
    )
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"sfbk" + body


@pytest.fixture(scope="module")
def sf3_font(tmp_path_factory):
    p = tmp_path_factory.mktemp("sf3") / "tim.sf3"
    p.write_bytes(_sf3())
    return p


def test_an_sf3_passes_and_tinysoundfont_renders_it(sf3_font):
    info = guard.check_soundfont(sf3_font)
    assert info.compressed and info.samples == 520
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(sf3_font)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and float(proc.stdout) > 0.01


def test_an_sf3_whose_ogg_stream_runs_past_smpl_is_refused(sf3_font, tmp_path):
    data = sf3_font.read_bytes()
    lay = _layout(data)
    bad = tmp_path / "bad.sf3"
    bad.write_bytes(_put(data, _record(lay, "shdr", 7, 46) + 24, "<I", lay[b"smpl"][1] + 1))
    with pytest.raises(OptionError, match=r"compressed sample 7 .* outside the \d+-byte sample chunk"):
        guard.check_soundfont(bad)


# --------------------------------------------------------------------------- OTIO JSON depth

_CLIP = otio.adapters.write_to_string(
    otio.schema.Clip(
        name="c",
        media_reference=otio.schema.ExternalReference(target_url="a.mov"),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24)
        ),
    ),
    "otio_json",
    indent=-1,
)


def nested(levels: int) -> str:
    """A timeline whose clip sits ``levels`` tracks and stacks deep (JSON depth 2 * levels + 7, or + 9 when even)."""
    inner = _CLIP
    for i in range(levels):
        kind = "Track.1" if i % 2 == 0 else "Stack.1"
        inner = f'{{"OTIO_SCHEMA":"{kind}","name":"n","kind":"Video","children":[{inner}]}}'
    if levels % 2 == 0:
        inner = f'{{"OTIO_SCHEMA":"Track.1","name":"t","kind":"Video","children":[{inner}]}}'
    return f'{{"OTIO_SCHEMA":"Timeline.1","name":"x","tracks":{{"OTIO_SCHEMA":"Stack.1","name":"s","children":[{inner}]}}}}'


def test_depth_scan_counts_brackets_outside_strings_across_chunk_edges():
    text = b'{"a": "[[[\\"{{{\\\\", "b": [[1, {"c": "]]]"}]], "d": "\\\\\\"[["}'
    assert guard.json_depth([text]) == 4
    for cut in range(1, len(text)):  # every split point: string and escape state carry over
        assert guard.json_depth([text[:cut], text[cut:]]) == 4, cut
    assert guard.json_depth([b"[" * 500], limit=200) > 200  # stops at the first chunk over the limit

    def ref(x):  # the same depth, by recursion (small inputs only)
        items = x.values() if isinstance(x, dict) else x if isinstance(x, list) else None
        return 0 if items is None else 1 + max(map(ref, items), default=0)

    for levels in (3, 4, 40):
        assert (
            guard.json_depth([nested(levels).encode()])
            == ref(json.loads(nested(levels)))
            == 2 * levels + 7 + 2 * (levels % 2 == 0)
        )


@needs_shared
def test_every_shared_timeline_is_far_below_the_depth_limit():
    depths = {p.name: guard.json_depth([p.read_bytes()]) for p in TIMELINES.glob("*.otio")}
    assert max(depths.values()) == 10 == depths["nested_example.otio"]  # the limit is 200
    for p in TIMELINES.glob("*.otio"):
        guard.check_json_file(p)


@pytest.mark.parametrize("levels, deepest", [(150, 309), (10000, None)])
def test_deep_otio_is_refused_by_the_command_with_one_line_and_no_signal(tmp_path, levels, deepest):
    p = tmp_path / "deep.otio"
    p.write_text(nested(levels))  # 300+ (RecursionError unchecked) and 20,000+ JSON levels (a segfault)
    proc = subprocess.run(
        [sys.executable, "-m", "vidmusician.core.cli", "analyze", str(p)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "nested over 200 levels deep" in proc.stderr
    if deepest:
        assert f"at least {deepest};" in proc.stderr


def test_the_recursion_limit_is_an_input_error_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "MAX_JSON_DEPTH", 10**6)
    p = tmp_path / "deep.otio"
    p.write_text(nested(1000))  # 2,009 JSON levels: OTIO reads it, Python's recursion does not
    with pytest.raises(InputError, match="nested too deeply to read"):
        read_timeline(p)


def test_a_deep_content_otio_inside_a_bundle_or_folder_is_refused(tmp_path):
    z = tmp_path / "deep.otioz"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("content.otio", nested(10000))
        zf.writestr("version.txt", "1.0.0")
    with pytest.raises(InputError, match=r"deep.otioz \(content.otio\): nested over 200 levels"):
        read_timeline(z)
    d = tmp_path / "deep.otiod"
    d.mkdir()
    (d / "content.otio").write_text(nested(150))
    with pytest.raises(InputError, match="nested over 200 levels"):
        read_timeline(d)


# --------------------------------------------------------------------------- .otioz bombs


def _raw_zip(path: Path, entries: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip written by hand: (name, stored bytes, method, declared size, crc)
    per entry, so the sizes can lie."""
    out, central = bytearray(), bytearray()
    for name, body, method, size, crc in entries:
        n = name.encode()
        off = len(out)
        out += (
            struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(body), size, len(n), 0) + n
        )
        out += body
        central += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            20,
            20,
            0,
            method,
            0,
            0,
            crc,
            len(body),
            size,
            len(n),
            0,
            0,
            0,
            0,
            0,
            off,
        )
        central += n
    n, tail = len(entries), b""
    if n > 0xFFFF:  # zip64 end record and locator
        at = len(out) + len(central)
        tail = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), len(out))
        tail += struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    short = min(n, 0xFFFF)
    eocd = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, short, short, len(central), len(out), 0)
    path.write_bytes(bytes(out + central + tail + eocd))


def _zeros_deflated(n_mb: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``n_mb`` MiB of zeros, built from one repeated
    full-flush block (seconds for 2 GiB instead of 15 s of compressing), and its CRC."""
    mb = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH) == block  # the state repeats
    stream = first + block * (n_mb - 1) + c.flush()
    crc = 0
    for _ in range(n_mb):
        crc = zlib.crc32(mb, crc)
    return stream, crc


def _content(url: str = "media/shot.mov") -> bytes:
    t = timeline(video_track(clip("a", 24, url=url), clip("b", 24, url=url)))
    return otio.adapters.write_to_string(t, "otio_json").encode()


def _cache_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0


@pytest.fixture(scope="module")
def two_gb_of_zeros():
    return _zeros_deflated(2048)


def test_a_2gb_entry_deflated_to_2mb_is_refused_before_unpacking(tmp_path, two_gb_of_zeros):
    stream, crc = two_gb_of_zeros
    content = _content()
    z = tmp_path / "bomb.otioz"
    _raw_zip(
        z,
        [
            ("content.otio", content, 0, len(content), zlib.crc32(content)),
            ("media/shot.mov", stream, 8, 2048 << 20, crc),
        ],
    )
    assert z.stat().st_size < 3 * 2**20
    t = time.perf_counter()
    assert main(["analyze", str(z), "-q"]) == 2
    assert time.perf_counter() - t < 10
    with pytest.raises(
        InputError, match=r"'media/shot.mov' would unpack to 2048 MB from 2.0 MB \(over 200:1\)"
    ):
        read_timeline(z)
    assert _cache_bytes(tmp_path / "cache") < 2**20


def test_a_header_that_lies_about_its_size_is_stopped_while_unpacking(tmp_path, two_gb_of_zeros):
    stream, crc = two_gb_of_zeros
    content = _content()
    z = tmp_path / "liar.otioz"
    _raw_zip(
        z,
        [
            ("content.otio", content, 0, len(content), zlib.crc32(content)),
            ("media/shot.mov", stream, 8, 3 << 20, crc),  # says 3 MB (a 0.7:1 ratio), is 2 GB
        ],
    )
    with pytest.raises(InputError, match="'media/shot.mov' cannot be unpacked"):
        read_timeline(z)
    assert _cache_bytes(tmp_path / "cache") < 4 * 2**20
    assert not [p for p in (tmp_path / "cache" / "otioz").iterdir()]  # no half-unpacked folder left


def test_100k_entries_are_refused_before_the_directory_is_parsed(tmp_path):
    content = _content()
    entries = [("content.otio", content, 0, len(content), zlib.crc32(content))]
    entries += [(f"media/f{i}", b"", 0, 0, 0) for i in range(100_000)]
    z = tmp_path / "many.otioz"
    _raw_zip(z, entries)
    t = time.perf_counter()
    with pytest.raises(InputError, match="holds 100001 entries, over the limit of 10000"):
        read_timeline(z)
    assert time.perf_counter() - t < 2
    assert _cache_bytes(tmp_path / "cache") == 0


def test_a_huge_content_otio_is_refused_from_its_declared_size(tmp_path):
    z = tmp_path / "big.otioz"
    body = zlib.compress(b"x", 9)[2:-4]
    _raw_zip(z, [("content.otio", body, 8, 1 << 30, 0)])
    with pytest.raises(InputError, match="content.otio would unpack to 1024 MB"):
        read_timeline(z)
    # and one that claims to be small is cut off at what it claims
    content = _content()
    _raw_zip(z, [("content.otio", content + b" " * 100, 0, len(content) // 2, 0)])
    with pytest.raises(InputError, match="content.otio cannot be read"):
        read_timeline(z)


def _bundle(tmp_path: Path, name: str, payload: bytes, extra: dict[str, bytes] | None = None) -> Path:
    media = tmp_path / "src" / name / "shot.mov"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(payload)
    t = timeline(video_track(clip("a", 24, url=media.as_uri()), clip("b", 24, url=media.as_uri())))
    z = tmp_path / f"{name}.otioz"
    if z.exists():
        z.unlink()
    otio.adapters.write_to_file(t, str(z))
    if extra:
        with zipfile.ZipFile(z, "a") as zf:
            for k, v in extra.items():
                zf.writestr(k, v)
    return z


def _folders(tmp_path: Path) -> list[Path]:
    root = tmp_path / "cache" / "otioz"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def test_only_the_media_the_timeline_references_are_unpacked(tmp_path):
    z = _bundle(tmp_path, "cut", b"m" * 1000, {"media/unused.bin": b"u" * 50_000, "notes/readme.txt": b"hi"})
    tl = read_timeline(z)
    (folder,) = _folders(tmp_path)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        ".complete",
        ".source",
        ".used",
        "media/shot.mov",
    ]
    assert tl.shots[0].media == str(folder / "media" / "shot.mov") and tl.shots[0].media_found


def test_a_resaved_bundle_replaces_its_old_copy(tmp_path):
    z = _bundle(tmp_path, "cut", b"1" * 1000)
    read_timeline(z)
    (first,) = _folders(tmp_path)
    for payload in (b"2" * 1200, b"3" * 1400):  # saved again twice
        time.sleep(0.01)
        z = _bundle(tmp_path, "cut", payload)
        read_timeline(z)
    (last,) = _folders(tmp_path)
    assert last != first and (last / "media" / "shot.mov").read_bytes() == b"3" * 1400


def test_over_the_limit_the_bundle_used_longest_ago_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDMUSICIAN_CACHE_LIMIT", "25K")
    a = _bundle(tmp_path, "a", b"a" * 10_000)
    b = _bundle(tmp_path, "b", b"b" * 10_000)
    c = _bundle(tmp_path, "c", b"c" * 10_000)
    read_timeline(a)
    time.sleep(0.02)
    read_timeline(b)
    time.sleep(0.02)
    read_timeline(a)  # a used again: b is now the one used longest ago
    time.sleep(0.02)
    read_timeline(c)
    kept = {(p / ".source").read_text() for p in _folders(tmp_path)}
    assert kept == {str(a.resolve()), str(c.resolve())}
    assert _cache_bytes(tmp_path / "cache") <= 25_000


def test_media_bigger_than_the_whole_cache_limit_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDMUSICIAN_CACHE_LIMIT", "5K")
    z = _bundle(tmp_path, "cut", b"m" * 10_000)
    with pytest.raises(
        InputError,
        match=r"unpack to 10.0 KB, more than the cache's limit of 5.0 KB: raise VIDMUSICIAN_CACHE_LIMIT",
    ):
        read_timeline(z)
    assert _folders(tmp_path) == []


def test_cache_info_and_clear(tmp_path, capsys):
    z = _bundle(tmp_path, "cut", b"m" * 10_000)
    read_timeline(z)
    root = tmp_path / "cache"
    (root / "analysis").mkdir()
    (root / "analysis" / "x.npz").write_bytes(b"a" * 2000)
    (root / "adapters" / "set1").mkdir(parents=True)
    (root / "adapters" / "set1" / "w.safetensors").write_bytes(b"w" * 300)
    assert main(["cache", "--info"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"cache: {root}"
    assert re.search(r"size: 12\.\d KB of a 5\.0 GB limit \(default\)", out)
    assert "otioz/" in out and "1 entry" in out and "analysis/" in out
    assert main(["cache", "--clear"]) == 0
    said = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"freed 12\.\d KB \(2 entries\) from {re.escape(str(root))}; kept adapters/ \(300 bytes\)", said
    )
    assert _folders(tmp_path) == [] and not list((root / "analysis").iterdir())
    assert (root / "adapters" / "set1" / "w.safetensors").read_bytes() == b"w" * 300
    assert main(["cache"]) == 0 and "size: 0 bytes" in capsys.readouterr().out


def test_cache_limit_sizes(monkeypatch):
    assert cache.parse_size("5G") == 5 * 10**9 and cache.parse_size("500M") == 5 * 10**8
    assert cache.parse_size("1048576") == 1048576 and cache.parse_size("1.5T") == 15 * 10**11
    with pytest.raises(OptionError, match="VIDMUSICIAN_CACHE_LIMIT='lots': not a size"):
        cache.parse_size("lots")
    monkeypatch.delenv("VIDMUSICIAN_CACHE_LIMIT", raising=False)
    assert cache.cache_limit() == 5 * 10**9
