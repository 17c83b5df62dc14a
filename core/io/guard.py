"""Cheap structural checks before an untrusted file reaches native code.

OpenTimelineIO's JSON reader (C++) and tinysoundfont's SoundFont loader (C)
trust what they read: an OTIO file nested 20,000 deep overflows the C++
reader's stack (a segfault, exit 139, nothing printed), a few hundred levels
end in Python's RecursionError, and a SoundFont whose bag or sample indices
point outside their tables makes ``sfload`` read or write outside its
buffers. So every such file is looked at here first, cheaply, and refused
with one line that names the file and what is wrong (exit status 2):

* OTIO JSON (``.otio``, the ``content.otio`` of an ``.otioz`` bundle or an
  ``.otiod`` folder): a streaming scan counts bracket depth outside strings
  (never a recursive parse) and refuses more than :data:`MAX_JSON_DEPTH`
  levels or more than :data:`MAX_TIMELINE_BYTES` bytes.
* ``.otioz`` bundles: the zip's central directory is checked before anything
  is read (entry count, sizes, compression ratio, unsafe names), and the
  sizes are enforced again while reading, since a header can lie.
* SoundFonts (SF2, and SF3 with Ogg Vorbis samples): the RIFF structure as
  the SoundFont 2.04 specification defines it and as tinysoundfont walks it
  (``sfbk`` with ``LIST INFO``/``sdta``/``pdta``; the nine ``pdta`` tables
  with their record sizes; every bag, generator, modulator, instrument and
  sample index monotonic and inside its table; every sample's points inside
  the ``smpl`` chunk). Only the chunk headers and ``pdta`` are read: a
  148 MB font takes milliseconds. Results are remembered per (path, size,
  modification time).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import InputError, OptionError

#: Deepest bracket nesting accepted in OTIO JSON. Real timelines nest 8-10
#: deep (the deepest shared sample, nested_example.otio, is 10); OTIO's own
#: reader ends in RecursionError from about 2,000 and segfaults near 40,000.
MAX_JSON_DEPTH = 200

#: Largest OTIO JSON accepted (a timeline of thousands of clips is a few MB;
#: OTIO holds about twice the file's size in memory while reading it).
MAX_TIMELINE_BYTES = 256 * 1024 * 1024

#: .otioz limits, checked on the central directory before extracting.
MAX_BUNDLE_ENTRIES = 10_000
#: Highest compression ratio of an entry larger than RATIO_FLOOR_BYTES (a
#: deflate bomb reaches about 1000:1; JSON and media stay far below 100:1).
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 4 * 1024 * 1024

BUNDLE_TIMELINE = "content.otio"

_CHUNK = 1 << 20


# --------------------------------------------------------------------------- JSON


def json_depth(chunks: Iterable[bytes], limit: int = 2**62) -> int:
    """The deepest bracket nesting of the JSON text (``[``/``{`` outside
    strings), or the first depth above ``limit`` it reaches, where it stops
    reading. Vectorised per chunk: the string state and trailing
    backslashes carry across chunks."""
    depth, deepest, in_str, carry = 0, 0, False, 0  # carry: backslashes ending the previous chunk
    for chunk in chunks:
        if not chunk:
            continue
        a = np.frombuffer(chunk, np.uint8)
        idx = np.arange(a.size)
        is_bs = a == 92
        last_other = np.maximum.accumulate(np.where(is_bs, -1, idx))  # last non-backslash at or before i
        q = np.flatnonzero(a == 34)
        if q.size:
            prev = q - 1
            before = np.where(prev >= 0, last_other[np.maximum(prev, 0)], -1)
            n_bs = prev - before + np.where(before < 0, carry, 0)
            quotes = q[n_bs % 2 == 0]  # quotes not escaped
        else:
            quotes = q
        br = np.flatnonzero((a == 91) | (a == 123) | (a == 93) | (a == 125))
        if br.size:
            outside = (np.searchsorted(quotes, br) + int(in_str)) % 2 == 0
            kinds = a[br[outside]]
            if kinds.size:
                d = depth + np.cumsum(np.where((kinds == 91) | (kinds == 123), 1, -1))
                deepest = max(deepest, int(d.max()))
                if deepest > limit:
                    return deepest
                depth = int(d[-1])
        in_str ^= bool(quotes.size % 2)
        carry = carry + a.size if last_other[-1] < 0 else a.size - 1 - int(last_other[-1])
    return deepest


def _read_chunks(f: IO[bytes], name: str, max_bytes: int) -> Iterator[bytes]:
    """``f`` in chunks, refusing more than ``max_bytes`` (counted, not declared)."""
    total = 0
    while True:
        chunk = f.read(_CHUNK)
        if not chunk:
            return
        total += len(chunk)
        if total > max_bytes:
            raise InputError(
                f"{name}: the timeline is over {max_bytes // 2**20} MB of OTIO JSON; refused before "
                "parsing (real timelines are a few MB). Export it again."
            )
        yield chunk


def _too_deep(name: str, limit: int, deepest: int) -> InputError:
    return InputError(
        f"{name}: nested over {limit} levels deep (at least {deepest}; real timelines nest about 10): "
        "refused before parsing. The file is damaged or was not written by an editor."
    )


def check_json_file(path: str | os.PathLike[str], limit: int | None = None) -> None:
    """Refuse an OTIO JSON file nested over ``limit`` (default :data:`MAX_JSON_DEPTH`)
    or over :data:`MAX_TIMELINE_BYTES` (its size checked first, without reading)."""
    limit = MAX_JSON_DEPTH if limit is None else limit
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_TIMELINE_BYTES:
        raise InputError(
            f"{p}: {size / 2**20:.0f} MB of OTIO JSON, over the {MAX_TIMELINE_BYTES // 2**20} MB "
            "limit: refused before parsing (real timelines are a few MB)."
        )
    with open(p, "rb") as f:
        deepest = json_depth(_read_chunks(f, str(p), MAX_TIMELINE_BYTES), limit)
    if deepest > limit:
        raise _too_deep(str(p), limit, deepest)


def check_timeline(path: str | os.PathLike[str], adapter: str) -> None:
    """The structural check for a timeline file that OTIO's JSON reader will
    parse (``otio_json``; ``otiod``: its content.otio; ``otioz``: see
    :func:`bundle_timeline`). Other adapters (XML, EDL) parse in Python."""
    p = Path(path)
    if adapter == "otio_json":
        check_json_file(p)
    elif adapter == "otiod":
        inner = p / BUNDLE_TIMELINE
        if inner.is_file():
            check_json_file(inner)


# --------------------------------------------------------------------------- .otioz


@dataclass(frozen=True)
class BundleEntry:
    name: str
    size: int  # declared uncompressed size
    compressed: int


def _unsafe(name: str) -> bool:
    parts = Path(name).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _too_many(path: str | os.PathLike[str], n: int) -> InputError:
    return InputError(
        f"{path}: the bundle holds {n} entries, over the limit of {MAX_BUNDLE_ENTRIES}: refused "
        "before unpacking (a bundle holds one timeline and its media)."
    )


def bundle_entries(path: str | os.PathLike[str], zf: zipfile.ZipFile) -> dict[str, BundleEntry]:
    """The bundle's entries from its central directory, after the limits:
    entry count, unsafe names, the timeline's size and every entry's
    compression ratio. Nothing is decompressed."""
    infos = zf.infolist()
    if len(infos) > MAX_BUNDLE_ENTRIES:
        raise _too_many(path, len(infos))
    out: dict[str, BundleEntry] = {}
    for info in infos:
        if _unsafe(info.filename):
            raise InputError(f"{path}: the bundle holds an unsafe path '{info.filename}'; refused.")
        if info.is_dir():
            continue
        size, comp = info.file_size, info.compress_size
        if info.filename == BUNDLE_TIMELINE and size > MAX_TIMELINE_BYTES:
            raise InputError(
                f"{path}: its {BUNDLE_TIMELINE} would unpack to {size / 2**20:.0f} MB, over the "
                f"{MAX_TIMELINE_BYTES // 2**20} MB limit: refused before unpacking."
            )
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(comp, 1):
            raise InputError(
                f"{path}: '{info.filename}' would unpack to {size / 2**20:.0f} MB from "
                f"{comp / 2**20:.1f} MB (over {MAX_RATIO}:1): refused as a zip bomb before unpacking."
            )
        out[info.filename] = BundleEntry(info.filename, size, comp)
    if BUNDLE_TIMELINE not in out:
        raise InputError(f"{path}: not an OTIO bundle (no {BUNDLE_TIMELINE} inside).")
    return out


def _declared_entries(path: str | os.PathLike[str]) -> int | None:
    """The entry count in the zip's end record (zip64 too), read before
    zipfile parses the whole central directory (a million entries would
    take seconds and hundreds of MB)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None  # zipfile says what is wrong
    n = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    loc = at - 20
    if n == 0xFFFF and loc >= 0 and tail[loc : loc + 4] == b"PK\x06\x07":
        with open(path, "rb") as f:
            f.seek(struct.unpack("<Q", tail[loc + 8 : loc + 16])[0])
            rec = f.read(56)
        if rec[:4] == b"PK\x06\x06" and len(rec) == 56:
            n = struct.unpack("<Q", rec[32:40])[0]
    return n


def open_bundle(path: str | os.PathLike[str]) -> zipfile.ZipFile:
    """The bundle as a ZipFile, once its end record's entry count is within
    :data:`MAX_BUNDLE_ENTRIES`."""
    try:
        n = _declared_entries(path)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror}).") from e
    if n is not None and n > MAX_BUNDLE_ENTRIES:
        raise _too_many(path, n)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .otioz bundle ({e}).") from e


@contextlib.contextmanager
def bundle_timeline(path: str | os.PathLike[str]) -> Iterator[Path]:
    """An .otioz bundle's content.otio as a temporary file, streamed out
    through the bundle limits and the depth scan (its bytes counted as they
    come; never whole in memory), for OTIO to read from disk."""
    tmp = Path(tempfile.mkdtemp(prefix="vidmusician-otioz-"))
    try:
        dest = tmp / BUNDLE_TIMELINE
        name = f"{path} ({BUNDLE_TIMELINE})"
        with open_bundle(path) as zf:
            bundle_entries(path, zf)
            try:
                with zf.open(BUNDLE_TIMELINE) as f, open(dest, "wb") as out:

                    def through() -> Iterator[bytes]:
                        for chunk in _read_chunks(f, name, MAX_TIMELINE_BYTES):
                            out.write(chunk)
                            yield chunk

                    deepest = json_depth(through(), MAX_JSON_DEPTH)
            except (zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as e:  # bad CRC, truncated, ...
                raise InputError(f"{path}: its {BUNDLE_TIMELINE} cannot be read ({e}).") from e
            except OSError as e:
                raise InputError(f"{path}: its {BUNDLE_TIMELINE} cannot be read ({e.strerror or e}).") from e
        if deepest > MAX_JSON_DEPTH:
            raise _too_deep(name, MAX_JSON_DEPTH, deepest)
        yield dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_entry(zf: zipfile.ZipFile, entry: BundleEntry, dest: Path, path: str | os.PathLike[str]) -> int:
    """Stream ``entry`` to ``dest``, never writing more than it declared
    (a lying header is refused mid-way). Returns the bytes written."""
    written = 0
    try:
        with zf.open(entry.name) as src, open(dest, "wb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > entry.size:
                    raise InputError(
                        f"{path}: '{entry.name}' unpacks to more than the {entry.size} bytes it declares; "
                        "refused (the bundle is damaged or hostile)."
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as e:
        raise InputError(f"{path}: '{entry.name}' cannot be unpacked ({e}).") from e
    return written


# --------------------------------------------------------------------------- SoundFont

#: pdta tables in file order, with their record sizes (SoundFont 2.04, 7.2-7.10).
_PDTA = (
    ("phdr", 38),
    ("pbag", 4),
    ("pmod", 10),
    ("pgen", 4),
    ("inst", 22),
    ("ibag", 4),
    ("imod", 10),
    ("igen", 4),
    ("shdr", 46),
)
_GEN_INSTRUMENT, _GEN_SAMPLE_ID = 41, 53

_checked: dict[tuple[str, int, int], SoundFontInfo] = {}


@dataclass(frozen=True)
class SoundFontInfo:
    presets: int
    instruments: int
    samples: int
    compressed: bool  # SF3: Ogg Vorbis samples (offsets in bytes of compressed data)


class _Bad(Exception):
    pass


def _chunks(f: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(id, data offset, size) of the RIFF chunks in [start, end), as
    tinysoundfont reads them: an id whose first byte is printable, a size
    that fits inside the parent; no padding."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            raise _Bad(f"truncated: a chunk header at byte {pos} runs past the end of the file")
        cid, size = head[:4], struct.unpack("<I", head[4:])[0]
        if not (32 < cid[0] < 122):
            raise _Bad(f"a chunk at byte {pos} has no valid id ({cid!r})")
        if pos + 8 + size > end:
            raise _Bad(
                f"chunk '{cid.decode('latin-1')}' at byte {pos} claims {size} bytes, past the end of "
                f"{'the file' if end else 'its parent'} (truncated or damaged)"
            )
        yield cid, pos + 8, size
        pos += 8 + size


def _list_type(f: IO[bytes], offset: int, size: int) -> bytes:
    if size < 4:
        raise _Bad(f"a LIST chunk at byte {offset - 8} is too short for its type")
    f.seek(offset)
    return f.read(4)


def _check_bags(owner: str, starts: np.ndarray, bag: str, n_bags: int) -> None:
    """``starts`` (each owner's first bag, the terminal record last) must not
    decrease and must stay inside the bag table: tinysoundfont walks bag
    ``starts[i]`` up to ``starts[i + 1]`` and reads the bag after each."""
    if starts.size and np.any(np.diff(starts.astype(np.int64)) < 0):
        i = int(np.flatnonzero(np.diff(starts.astype(np.int64)) < 0)[0])
        raise _Bad(
            f"{owner} {i + 1}'s {bag} index ({int(starts[i + 1])}) is before {owner} {i}'s ({int(starts[i])})"
        )
    if starts.size and int(starts[-1]) > n_bags - 1:
        raise _Bad(
            f"{owner} bag indices run to {int(starts[-1])}, but the {bag} table holds {n_bags} records"
        )
    if starts.size and int(starts[0]) != 0:
        raise _Bad(f"the first {owner}'s {bag} index is {int(starts[0])}, not 0")


def _check_refs(bags: np.ndarray, bag: str, field: int, what: str, n: int) -> None:
    col = bags[:, field].astype(np.int64)
    if col.size and np.any(np.diff(col) < 0):
        i = int(np.flatnonzero(np.diff(col) < 0)[0])
        raise _Bad(f"{bag} {i + 1}'s {what} index ({int(col[i + 1])}) is before {bag} {i}'s ({int(col[i])})")
    if col.size and int(col[-1]) > n:
        raise _Bad(f"{bag} {what} indices run to {int(col[-1])}, but the {what} table holds {n} records")


def _parse_soundfont(f: IO[bytes], file_size: int) -> SoundFontInfo:
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise _Bad("not a SoundFont (no RIFF 'sfbk' header)")
    riff_size = struct.unpack("<I", head[4:8])[0]
    if 8 + riff_size > file_size:
        raise _Bad(f"truncated: the RIFF header claims {8 + riff_size} bytes, the file has {file_size}")
    lists = _lists(f, riff_size)
    smpl_bytes = _sample_bytes(f, lists[b"sdta"])
    tables = _tables(f, lists[b"pdta"])
    records = _records(tables)
    phdr, inst, shdr = records[0], records[1], records[6]
    _check_indices(tables, records)
    compressed = _check_points(shdr, smpl_bytes)
    return SoundFontInfo(len(phdr) - 1, len(inst) - 1, len(shdr) - 1, compressed)


def _lists(f: IO[bytes], riff_size: int) -> dict[bytes, tuple[int, int]]:
    """The RIFF's LIST chunks by type (offset, size); INFO, sdta and pdta must be there."""
    lists: dict[bytes, tuple[int, int]] = {}
    for cid, off, size in _chunks(f, 12, 8 + riff_size):
        if cid != b"LIST":
            continue  # tinysoundfont skips other chunks
        kind = _list_type(f, off, size)
        lists.setdefault(kind, (off + 4, size - 4))
    for kind in (b"INFO", b"sdta", b"pdta"):
        if kind not in lists:
            raise _Bad(f"no LIST '{kind.decode()}' chunk")
    return lists


def _sample_bytes(f: IO[bytes], sdta: tuple[int, int]) -> int:
    """The size of LIST sdta's sample chunk, in bytes."""
    off, size = sdta
    smpl = None
    for cid, coff, csize in _chunks(f, off, off + size):
        if cid == b"smpl" and smpl is None:
            smpl = (coff, csize)
    if smpl is None:
        raise _Bad("no sample data (no 'smpl' chunk in LIST sdta)")
    smpl_bytes = smpl[1]
    return smpl_bytes


def _tables(f: IO[bytes], pdta: tuple[int, int]) -> dict[str, bytes]:
    """LIST pdta's tables by name, each whole records and with its least count."""
    off, size = pdta
    tables: dict[str, bytes] = {}
    for cid, coff, csize in _chunks(f, off, off + size):
        name = cid.decode("latin-1")
        rec = dict(_PDTA).get(name)
        if rec is None or name in tables:
            continue
        if csize % rec:
            raise _Bad(f"pdta '{name}' is {csize} bytes, not a whole number of {rec}-byte records")
        f.seek(coff)
        data = f.read(csize)
        if len(data) < csize:
            raise _Bad(f"truncated inside pdta '{name}'")
        tables[name] = data
    for name, _ in _PDTA:
        if name not in tables:
            raise _Bad(f"pdta has no '{name}' table")
    need = {"phdr": 2, "inst": 2, "shdr": 1, "pbag": 1, "ibag": 1, "pgen": 1, "igen": 1, "pmod": 1, "imod": 1}
    for name, n in need.items():
        have = len(tables[name]) // dict(_PDTA)[name]
        if have < n:
            raise _Bad(f"pdta '{name}' holds {have} records; a SoundFont needs at least {n}")
    return tables


def _records(tables: dict[str, bytes]) -> tuple[np.ndarray, ...]:
    """phdr, inst, pbag, ibag, pgen, igen and shdr as numpy records (pairs for the bags and generators)."""
    phdr = np.frombuffer(
        tables["phdr"],
        np.dtype([("name", "S20"), ("preset", "<u2"), ("bank", "<u2"), ("bag", "<u2"), ("rest", "V12")]),
    )
    inst = np.frombuffer(tables["inst"], np.dtype([("name", "S20"), ("bag", "<u2")]))
    pbag = np.frombuffer(tables["pbag"], "<u2").reshape(-1, 2)
    ibag = np.frombuffer(tables["ibag"], "<u2").reshape(-1, 2)
    pgen = np.frombuffer(tables["pgen"], "<u2").reshape(-1, 2)
    igen = np.frombuffer(tables["igen"], "<u2").reshape(-1, 2)
    shdr = np.frombuffer(
        tables["shdr"],
        np.dtype(
            [
                ("name", "S20"),
                ("start", "<u4"),
                ("end", "<u4"),
                ("loop_start", "<u4"),
                ("loop_end", "<u4"),
                ("rate", "<u4"),
                ("pitch", "u1"),
                ("correction", "i1"),
                ("link", "<u2"),
                ("type", "<u2"),
            ]
        ),
    )
    return phdr, inst, pbag, ibag, pgen, igen, shdr


def _check_indices(tables: dict[str, bytes], records: tuple[np.ndarray, ...]) -> None:
    """Every index from one table into another lands inside it (``records``: :func:`_records`)."""
    phdr, inst, pbag, ibag, pgen, igen, shdr = records
    n_pmod, n_imod = len(tables["pmod"]) // 10, len(tables["imod"]) // 10
    _check_bags("preset", phdr["bag"], "pbag", len(pbag))
    _check_bags("instrument", inst["bag"], "ibag", len(ibag))
    _check_refs(pbag, "pbag", 0, "pgen", len(pgen))
    _check_refs(pbag, "pbag", 1, "pmod", n_pmod)
    _check_refs(ibag, "ibag", 0, "igen", len(igen))
    _check_refs(ibag, "ibag", 1, "imod", n_imod)
    # the generators that index other tables (tinysoundfont reads shdr[id] unchecked,
    # and inst[id + 1] for an instrument id)
    used_pgen = pgen[: int(pbag[-1, 0])]
    bad = used_pgen[(used_pgen[:, 0] == _GEN_INSTRUMENT) & (used_pgen[:, 1] >= len(inst) - 1)]
    if bad.size:
        raise _Bad(f"a preset zone names instrument {int(bad[0, 1])}, but there are {len(inst) - 1}")
    used_igen = igen[: int(ibag[-1, 0])]
    bad = used_igen[(used_igen[:, 0] == _GEN_SAMPLE_ID) & (used_igen[:, 1] >= len(shdr) - 1)]
    if bad.size:
        raise _Bad(f"an instrument zone names sample {int(bad[0, 1])}, but there are {len(shdr) - 1}")


def _check_points(shdr: np.ndarray, smpl_bytes: int) -> bool:
    """Every sample's points lie inside the sample chunk; True when the samples are compressed (SF3)."""
    # sample points, without the terminal record
    s = shdr[:-1]
    compressed = (s["type"] & 0x30) != 0
    c, pcm = s[compressed], s[~compressed]
    if c.size:  # SF3: start/end are byte offsets of each Ogg stream in smpl
        bad_c = (c["start"].astype(np.int64) + 4 > c["end"]) | (c["end"].astype(np.int64) > smpl_bytes)
        if np.any(bad_c):
            i = int(np.flatnonzero(compressed)[np.flatnonzero(bad_c)[0]])
            raise _Bad(
                f"compressed sample {i} ('{_name(s[i])}') spans bytes {int(s[i]['start'])}-{int(s[i]['end'])}, "
                f"outside the {smpl_bytes}-byte sample chunk"
            )
    if pcm.size:  # 16-bit PCM: points count samples of smpl
        words = smpl_bytes // 2
        st, en = pcm["start"].astype(np.int64), pcm["end"].astype(np.int64)
        ls, le = pcm["loop_start"].astype(np.int64), pcm["loop_end"].astype(np.int64)
        bad_p = (st > en) | (en > words) | (ls > words) | (le > words)
        if np.any(bad_p):
            i = int(np.flatnonzero(~compressed)[np.flatnonzero(bad_p)[0]])
            r = s[i]
            raise _Bad(
                f"sample {i} ('{_name(r)}') points at {int(r['start'])}-{int(r['end'])} (loop "
                f"{int(r['loop_start'])}-{int(r['loop_end'])}), outside the {words} samples of its sample chunk"
            )
    return bool(c.size)


def _name(rec: np.void) -> str:
    return bytes(rec["name"]).split(b"\0")[0].decode("latin-1", "replace")


def check_soundfont(path: str | os.PathLike[str]) -> SoundFontInfo:
    """Check a SoundFont's structure before tinysoundfont loads it.

    Raises
    ------
    OptionError
        One line naming the file and what is wrong (exit status 2).
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise OptionError(
            f"{p}: SoundFont not found ({e.strerror}); give an SF2/SF3 file with --soundfont."
        ) from e
    if not p.is_file():
        raise OptionError(f"{p}: not a file; give an SF2/SF3 file with --soundfont.")
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    hit = _checked.get(key)
    if hit is not None:
        return hit
    try:
        with open(p, "rb") as f:
            info = _parse_soundfont(f, st.st_size)
    except _Bad as e:
        raise OptionError(f"{p}: not a usable SoundFont: {e}. Give an intact SF2/SF3 file.") from None
    except OSError as e:
        raise OptionError(f"{p}: cannot be read ({e.strerror}).") from e
    _checked[key] = info
    return info
