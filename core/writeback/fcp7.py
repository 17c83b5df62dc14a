"""The timeline with music as FCP 7 XML (``--format fcp7``), added to a document without rewriting it.

OpenTimelineIO reads FCP 7 XML well but writes it lossily (stereo pairs
become one track, ``<link>``s go, shared ``<file>``s are merged), so the music
is *spliced into the editor's own bytes*: every original byte stays where it
was, and the additions are whole elements inserted at two places of the
sequence that OTIO's reader takes (the first top-level ``sequence``, else the
first ``children/sequence``):

- the music tracks before ``</audio>`` of the sequence's ``<media>`` (an
  ``<audio>`` is added when the sequence has none);
- sequence ``<marker>``s after ``</media>``.

Each music track is a Premiere-style stereo pair: two ``<track>`` elements
(``currentExplodedTrackIndex`` 0 and 1, ``totalExplodedTrackCount`` 2,
``premiereTrackType="Stereo"``, the name in ``MZ.TrackName``; output channels
1 and 2), each clip on both, reading the file's channel 1 and 2
(``sourcetrack``), the two linked to each other. Every WAV gets one complete
``<file>`` (path URL, duration, rate, timecode and the WAV's format: 48 kHz,
24-bit, 2 channels for VidMusician's) in its first clip; later clips refer to
it by id, as Premiere's own exports do. A disabled track (a stem) says
``<enabled>FALSE</enabled>``, on the track and on each of its clips.

The document is parsed with expat only to find those places: no entity is
expanded (a document that declares entities is refused) and nothing is fetched.
"""

from __future__ import annotations

import codecs
import copy
import pyexpat
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import opentimelineio as otio

from .. import units
from ..errors import InputError, OutputError
from ..model import Timeline
from .registry import NotWritten, WriteJob, Writer
from .tracks import METADATA_KEY, TimelineMarker

#: What every music file is (the arranger's and the splicer's WAVs).
SAMPLE_RATE = units.OUTPUT_SR
DEPTH = 24
CHANNELS = 2
ID_PREFIX = "vidmusician"


@dataclass(frozen=True)
class XmlClip:
    """One music clip: record frames ``[start, end)`` from the sequence's
    first frame, ``source_in`` frames into ``path`` (an absolute path) that
    holds ``file_frames`` frames, of ``channels`` at ``sample_rate`` Hz and
    ``bit_depth`` bits (every VidMusician WAV: 2, 48 000, 24)."""

    name: str
    start: int
    end: int
    source_in: int
    path: str
    file_frames: int
    sample_rate: int = SAMPLE_RATE
    channels: int = CHANNELS
    bit_depth: int = DEPTH


@dataclass(frozen=True)
class XmlTrack:
    """A music track (one stereo pair in the XML)."""

    name: str
    clips: tuple[XmlClip, ...]
    enabled: bool = True


@dataclass(frozen=True)
class XmlMarker:
    """A sequence marker at ``frame`` (from the sequence's first frame)."""

    frame: int
    name: str
    comment: str = "VidMusician"


# --------------------------------------------------------------------------- reading positions


@dataclass
class _El:
    tag: str
    attrs: dict[str, str]
    parent: int  # index into the element list, -1 for the root
    start: int  # byte offset of "<tag"
    end: int = -1  # byte offset just after the element's last ">"
    close: int = -1  # byte offset of "</tag>" (== end for an empty element "<tag/>")
    children: list[int] = field(default_factory=list)


@dataclass
class _Doc:
    data: bytes
    encoding: str
    elements: list[_El]

    def child(self, i: int, tag: str) -> int | None:
        return next((c for c in self.elements[i].children if self.elements[c].tag == tag), None)

    def children(self, i: int, tag: str) -> list[int]:
        return [c for c in self.elements[i].children if self.elements[c].tag == tag]


def _refuse_entities(*_: object) -> None:
    raise InputError(
        "the FCP XML declares entities (<!ENTITY ...>); VidMusician does not expand them. "
        "Export the sequence again from the editing application."
    )


def _scan(data: bytes) -> _Doc:
    p = pyexpat.ParserCreate()
    p.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.EntityDeclHandler = _refuse_entities
    p.UnparsedEntityDeclHandler = _refuse_entities
    p.ExternalEntityRefHandler = lambda *a: 0  # never fetched: an error if referenced
    encoding = ["utf-8"]
    elements: list[_El] = []
    stack: list[int] = []

    def decl(version: str, enc: str | None, standalone: int) -> None:
        if enc:
            encoding[0] = enc

    def start(tag: str, attrs: dict[str, str]) -> None:
        parent = stack[-1] if stack else -1
        elements.append(_El(tag, attrs, parent, p.CurrentByteIndex))
        if parent >= 0:
            elements[parent].children.append(len(elements) - 1)
        stack.append(len(elements) - 1)

    def end(tag: str) -> None:
        el = elements[stack.pop()]
        at = p.CurrentByteIndex
        if data.startswith(b"</", at):
            el.close = at
            el.end = data.index(b">", at) + 1
        else:  # an empty element: expat reports just after "/>"
            el.close = el.end = at

    p.XmlDeclHandler = decl
    p.StartElementHandler = start
    p.EndElementHandler = end
    try:
        p.Parse(data, True)
    except pyexpat.ExpatError as e:
        raise InputError(f"the FCP XML is not well-formed XML ({e}).") from e
    enc = encoding[0].lower()
    if enc.startswith(("utf-16", "utf-32")):
        raise InputError(f"the FCP XML is {encoding[0]}; VidMusician writes into UTF-8 FCP XML only.")
    try:
        codecs.lookup(enc)
    except LookupError as e:
        raise InputError(f"the FCP XML declares an unknown encoding {encoding[0]!r}.") from e
    return _Doc(data, enc, elements)


def _sequence(doc: _Doc) -> int:
    """The sequence OTIO's FCP XML reader takes first."""
    els = doc.elements
    if not els or els[0].tag != "xmeml":
        raise InputError("not an FCP 7 XML document (its root is not <xmeml>).")
    top = doc.child(0, "sequence")
    if top is not None:
        return top
    for i, el in enumerate(els):
        if el.tag == "sequence" and el.parent >= 0 and els[el.parent].tag == "children":
            return i
    raise InputError("the FCP XML holds no sequence.")


# --------------------------------------------------------------------------- writing


def _rate_xml(rate: float) -> str:
    timebase = int(round(rate))
    ntsc = abs(rate - timebase) > 1e-6
    return f"<rate><timebase>{timebase}</timebase><ntsc>{'TRUE' if ntsc else 'FALSE'}</ntsc></rate>"


def path_url(path: str) -> str:
    """A file's URL as Premiere writes them: ``file://localhost/...``."""
    uri = Path(path).resolve().as_uri()  # file:///abs/path (percent-encoded)
    return "file://localhost" + uri[len("file://") :]


class _Ids:
    def __init__(self, used: set[str]):
        self.used = used
        self.n: dict[str, int] = {}

    def new(self, kind: str) -> str:
        while True:
            self.n[kind] = self.n.get(kind, 0) + 1
            name = f"{ID_PREFIX}-{kind}-{self.n[kind]}"
            if name not in self.used:
                self.used.add(name)
                return name


def _file_xml(file_id: str, clip: XmlClip, rate: float) -> list[str]:
    r = _rate_xml(rate)
    return [
        f"<file id={quoteattr(file_id)}>",
        f"\t<name>{escape(Path(clip.path).name)}</name>",
        f"\t<pathurl>{escape(path_url(clip.path))}</pathurl>",
        f"\t{r}",
        f"\t<duration>{clip.file_frames}</duration>",
        "\t<timecode>",
        f"\t\t{r}",
        "\t\t<string>00:00:00:00</string>",
        "\t\t<frame>0</frame>",
        "\t\t<displayformat>NDF</displayformat>",
        "\t</timecode>",
        "\t<media>",
        "\t\t<audio>",
        "\t\t\t<samplecharacteristics>",
        f"\t\t\t\t<depth>{clip.bit_depth}</depth>",
        f"\t\t\t\t<samplerate>{clip.sample_rate}</samplerate>",
        "\t\t\t</samplecharacteristics>",
        f"\t\t\t<channelcount>{clip.channels}</channelcount>",
        "\t\t</audio>",
        "\t</media>",
        "</file>",
    ]


def _tracks_xml(
    tracks: Sequence[XmlTrack], first_index: int, rate: float, ids: _Ids, taken_names: set[str]
) -> list[str]:
    """The ``<track>`` elements (two per music track) as lines, one tab per level."""
    files: dict[str, str] = {}  # path -> file id (defined in its first clip)
    lines: list[str] = []
    for k, tr in enumerate(tracks):
        name = tr.name
        n = 2
        while name in taken_names:
            name = f"{tr.name} {n}"
            n += 1
        taken_names.add(name)
        indices = (first_index + 2 * k, first_index + 2 * k + 1)
        pair_ids = [(ids.new("clipitem"), ids.new("clipitem")) for _ in tr.clips]
        for ch in (0, 1):
            lines.append(
                f"<track MZ.TrackName={quoteattr(name)} currentExplodedTrackIndex={quoteattr(str(ch))} "
                'totalExplodedTrackCount="2" premiereTrackType="Stereo">'
            )
            for j, clip in enumerate(tr.clips):
                if not (0 <= clip.start < clip.end and 0 <= clip.source_in < clip.file_frames):
                    raise OutputError(f"music clip {clip.name!r}: frames {clip.start}-{clip.end} do not fit.")
                lines.append(f'\t<clipitem id={quoteattr(pair_ids[j][ch])} premiereChannelType="stereo">')
                body = [
                    f"<name>{escape(clip.name)}</name>",
                    # a stem's clips are off too, not only its track: Premiere honours a
                    # clip's <enabled> (its own exports write it), a track's is less sure
                    f"<enabled>{'TRUE' if tr.enabled else 'FALSE'}</enabled>",
                    f"<duration>{clip.file_frames}</duration>",
                    _rate_xml(rate),
                    f"<start>{clip.start}</start>",
                    f"<end>{clip.end}</end>",
                    f"<in>{clip.source_in}</in>",
                    f"<out>{clip.source_in + clip.end - clip.start}</out>",
                ]
                if clip.path in files:
                    body.append(f"<file id={quoteattr(files[clip.path])}/>")
                else:
                    files[clip.path] = ids.new("file")
                    body += _file_xml(files[clip.path], clip, rate)
                body += [
                    "<sourcetrack>",
                    "\t<mediatype>audio</mediatype>",
                    f"\t<trackindex>{min(ch + 1, clip.channels)}</trackindex>",  # a mono file: both read it
                    "</sourcetrack>",
                ]
                for c in (0, 1):
                    body += [
                        "<link>",
                        f"\t<linkclipref>{escape(pair_ids[j][c])}</linkclipref>",
                        "\t<mediatype>audio</mediatype>",
                        f"\t<trackindex>{indices[c]}</trackindex>",
                        f"\t<clipindex>{j + 1}</clipindex>",
                        "\t<groupindex>1</groupindex>",
                        "</link>",
                    ]
                lines += ["\t\t" + b for b in body]
                lines.append("\t</clipitem>")
            lines += [
                f"\t<enabled>{'TRUE' if tr.enabled else 'FALSE'}</enabled>",
                "\t<locked>FALSE</locked>",
                f"\t<outputchannelindex>{ch + 1}</outputchannelindex>",
                "</track>",
            ]
    return lines


def _markers_xml(markers: Sequence[XmlMarker]) -> list[str]:
    lines: list[str] = []
    for m in markers:
        lines += [
            "<marker>",
            f"\t<name>{escape(m.name)}</name>",
            f"\t<comment>{escape(m.comment)}</comment>",
            f"\t<in>{m.frame}</in>",
            "\t<out>-1</out>",
            "</marker>",
        ]
    return lines


def _line_start(data: bytes, at: int) -> int | None:
    """The start of ``at``'s line when only blanks precede ``at`` on it."""
    nl = data.rfind(b"\n", 0, at)
    head = data[nl + 1 : at]
    return nl + 1 if head.strip(b" \t") == b"" else None


def _indent_of(data: bytes, at: int) -> str:
    nl = data.rfind(b"\n", 0, at)
    head = data[nl + 1 : at]
    return head.decode("ascii") if head.strip(b" \t") == b"" else ""


def _unit(doc: _Doc) -> str:
    """One level of the document's indentation (a tab, or its spaces)."""
    m = re.search(rb"\n([ \t]+)<", doc.data)
    if not m:
        return "\t"
    return "\t" if m.group(1).startswith(b"\t") else " " * min(len(m.group(1)), 4)


class _Edits:
    def __init__(self, doc: _Doc):
        self.doc = doc
        self.unit = _unit(doc)
        self.edits: list[tuple[int, int, bytes]] = []  # (from, to, new bytes) of the original

    def _block(self, lines: list[str], indent: str) -> str:
        return "".join(indent + ln.replace("\t", self.unit) + "\n" for ln in lines)

    def before_close(self, el: _El, lines: list[str]) -> None:
        """``lines`` as the last children of ``el`` (one level deeper than it)."""
        data = self.doc.data
        indent = _indent_of(data, el.start)
        if el.close == el.end:  # "<tag/>": give it a body
            el_open = data[el.start : el.end].decode(self.doc.encoding)[:-2].rstrip() + ">"
            text = el_open + "\n" + self._block(lines, indent + self.unit) + indent + f"</{el.tag}>"
            self._edit(el.start, el.end, text)
            return
        at = _line_start(data, el.close)
        if at is None:
            self._insert(el.close, "\n" + self._block(lines, indent + self.unit) + indent)
        else:
            self._insert(at, self._block(lines, indent + self.unit))

    def after(self, el: _El, lines: list[str]) -> None:
        """``lines`` as siblings right after ``el``."""
        data = self.doc.data
        indent = _indent_of(data, el.start)
        nl = data.find(b"\n", el.end)
        if nl >= 0 and data[el.end : nl].strip(b" \t\r") == b"":
            self._insert(nl + 1, self._block(lines, indent))
        else:
            self._insert(el.end, "\n" + self._block(lines, indent).rstrip("\n"))

    def _insert(self, at: int, text: str) -> None:
        self._edit(at, at, text)

    def _edit(self, a: int, b: int, text: str) -> None:
        self.edits.append((a, b, text.encode(self.doc.encoding, "xmlcharrefreplace")))

    def apply(self) -> bytes:
        data = self.doc.data
        out, pos = [], 0
        for a, b, text in sorted(self.edits, key=lambda e: (e[0], e[1])):  # stable: in the order made
            out += [data[pos:a], text]
            pos = b
        out.append(data[pos:])
        return b"".join(out)


def add_music(
    document: bytes,
    tracks: Sequence[XmlTrack],
    rate: float,
    markers: Sequence[XmlMarker] = (),
) -> bytes:
    """The FCP 7 XML ``document`` with ``tracks`` and ``markers`` added to its
    sequence; every byte of ``document`` is kept, in order.

    Parameters
    ----------
    document : bytes
        The editor's FCP 7 XML, as exported.
    tracks : sequence of XmlTrack
        Each becomes a stereo pair of audio tracks after the sequence's own.
    rate : float
        The sequence's frame rate (frames of the clips and markers).
    markers : sequence of XmlMarker

    Raises
    ------
    InputError
        Not FCP 7 XML, no sequence, declared entities, or not UTF-8 / an
        ASCII-compatible encoding.
    """
    doc = _scan(document)
    seq_i = _sequence(doc)
    els = doc.elements
    ids = _Ids({el.attrs["id"] for el in els if "id" in el.attrs})
    edits = _Edits(doc)
    media_i = doc.child(seq_i, "media")
    audio_i = doc.child(media_i, "audio") if media_i is not None else None
    existing = doc.children(audio_i, "track") if audio_i is not None else []
    names = {els[t].attrs.get("MZ.TrackName", "") for t in existing}
    track_lines = _tracks_xml(tracks, len(existing) + 1, rate, ids, names) if tracks else []
    if track_lines:
        if audio_i is not None:
            edits.before_close(els[audio_i], track_lines)
        else:
            wrapped = ["<audio>", *["\t" + ln for ln in track_lines], "</audio>"]
            if media_i is not None:
                edits.before_close(els[media_i], wrapped)
            else:
                edits.before_close(els[seq_i], ["<media>", *["\t" + ln for ln in wrapped], "</media>"])
    if markers:
        if media_i is not None:
            edits.after(els[media_i], _markers_xml(markers))
        else:
            edits.before_close(els[seq_i], _markers_xml(markers))
    return edits.apply()


# --------------------------------------------------------------------------- the writer


def fcp_xml(timeline: Timeline, source: Any, result: Any, markers: tuple[TimelineMarker, ...] = ()) -> bytes:
    """The timeline with music as FCP 7 XML, written by *adding* to a document.

    For an FCP 7 XML input the document is the editor's own file, read again:
    every byte of it stays (tracks, clips, links, files, Premiere's
    attributes), the music tracks and markers are spliced in
    (:func:`add_music`). For any other input it is the
    FCP XML adapter's rendering of the editor's timeline (``source``), with the
    music added the same way. ``result`` is :func:`with_music` of ``source``:
    its tracks after ``source``'s are the music.
    """
    rate = timeline.rate
    if timeline.source.format == "fcp_xml":
        document = Path(timeline.source.path).read_bytes()
    else:
        document = otio.adapters.write_to_string(_fcp_ready(source), "fcp_xml").encode("utf-8")
    tracks = []
    for track in list(result.tracks)[len(source.tracks) :]:
        clips = []
        for c in track.find_clips(shallow_search=True):
            r = c.range_in_parent()
            a = units.frames(r.start_time, rate)
            ref = c.media_reference
            fmt = ref.metadata.get(METADATA_KEY, {})
            clips.append(
                XmlClip(
                    name=c.name,
                    start=a,
                    end=a + units.frames(r.duration, rate),
                    source_in=units.frames(c.source_range.start_time, rate),
                    path=_music_path(ref.target_url),
                    file_frames=units.frames(ref.available_range.duration, rate),
                    sample_rate=int(fmt.get("sample_rate", SAMPLE_RATE)),
                    channels=int(fmt.get("channels", 2)),
                    bit_depth=int(fmt.get("bit_depth", 24)),
                )
            )
        tracks.append(XmlTrack(track.name, tuple(clips), enabled=bool(track.enabled)))
    return add_music(document, tracks, rate, [XmlMarker(m.frame, m.name) for m in markers])


def _music_path(url: str) -> str:
    """The local path of a music file's URL (as written by the music tracks)."""
    path = units.url_to_path(url)
    return url if path is None else path


def _fcp_ready(t: Any) -> Any:
    """A copy the FCP XML writer accepts: it crashes on an ExternalReference
    without ``available_range``, so such references get the clip's own source
    range (the least the media must hold). The OTIO output keeps them as read."""
    out = copy.deepcopy(t)
    for c in out.find_clips():
        ref = c.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is None and c.source_range:
            ref.available_range = c.source_range
    return out


def write(job: WriteJob) -> bytes:
    """The document's bytes; :class:`NotWritten` when the editor's document
    is refused (entities, encoding) or the FCP XML adapter fails."""
    try:
        return fcp_xml(job.timeline, job.source, job.result, job.markers)
    except InputError as e:  # the editor's document refused (entities, encoding)
        raise NotWritten(f"FCP 7 XML not written: {e} Use {job.basename}.otio.") from e
    except Exception as e:  # the adapter's own limits; the OTIO is still there
        raise NotWritten(
            f"FCP 7 XML not written: the FCP XML adapter failed on this timeline "
            f"({type(e).__name__}: {e}). Use {job.basename}.otio."
        ) from e


#: Premiere/FCP XML inputs, EDLs (with both the cut and the music) and plain
#: videos (usually imported into an NLE next) get it under ``same``.
WRITER = Writer("fcp7", ".xml", write, same_for=("fcp_xml", "cmx_3600", "video"), same_rank=2)
