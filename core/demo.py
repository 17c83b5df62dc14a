"""The bundled demo: a short cut made from media that OpenCV draws on the spot.

Nothing binary ships with the package: three source clips (a calm night sky,
a busy warm street of moving blocks, a green forest panned by the camera) are
written with OpenCV, and a 30-second cut between them, with a dissolve and a
marker, is written as OTIO and FCP 7 XML. The cut points are known exactly,
so the demo doubles as test material.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opentimelineio as otio

from . import fsutil
from .errors import OutputError
from .progress import CancelToken, ProgressFn, check, report, scaled

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

RATE = 25
SIZE = (640, 360)  # width, height
SOURCE_FRAMES = 250  # 10 s per source clip


@dataclass(frozen=True)
class DemoShot:
    source: str  # "night" | "street" | "forest"
    source_in: int  # first frame in the source clip
    frames: int


#: The cut: 10 shots, 750 frames (30 s at 25 fps).
SHOTS: tuple[DemoShot, ...] = (
    DemoShot("night", 20, 75),
    DemoShot("street", 30, 75),
    DemoShot("forest", 10, 50),
    DemoShot("night", 120, 50),
    DemoShot("street", 120, 75),  # a dissolve from the shot before leads into it
    DemoShot("forest", 100, 50),
    DemoShot("night", 180, 50),
    DemoShot("street", 40, 75),
    DemoShot("forest", 150, 100),
    DemoShot("night", 60, 150),
)
DISSOLVE_BEFORE_SHOT = 4  # index of the shot that a 10-frame dissolve leads into
DISSOLVE_HALF = 5  # frames each side of the cut point
MARKER_FRAME = 325
MARKER_NAME = "hit"


def cut_frames() -> list[int]:
    """Record frames of the demo's edit points (the dissolve's cut point included)."""
    out, pos = [], 0
    for shot in SHOTS[:-1]:
        pos += shot.frames
        out.append(pos)
    return out


def _frame(source: str, i: int) -> np.ndarray:
    """Frame ``i`` of a source clip, BGR uint8 of shape (height, width, 3)."""
    import cv2

    w, h = SIZE
    t = i / RATE
    rng = np.random.default_rng({"night": 1, "street": 2, "forest": 3}[source])
    if source == "night":
        fade = np.linspace(0.0, 1.0, h)[:, None, None]
        img = (np.array([60, 20, 10]) * (1 - fade) + np.array([25, 8, 4]) * fade) * np.ones((1, w, 1))
        img = img.astype(np.uint8)
        stars = rng.uniform(0, 1, size=(40, 3))
        for sx, sy, sp in stars:
            x = int((sx * w + t * (4 + 6 * sp)) % w)
            cv2.circle(img, (x, int(sy * h * 0.8)), 1 + int(2 * sp), (220, 220, 255), -1)
        cv2.circle(img, (int(w * 0.75), int(h * 0.25)), 28, (200, 230, 245), -1)
    elif source == "street":
        img = np.full((h, w, 3), (40, 110, 200), np.uint8)  # warm orange (BGR)
        for k in range(14):
            speed = 60 + 25 * (k % 5)
            x = int((rng.uniform(0, w) + (speed if k % 2 else -speed) * t) % (w + 80)) - 80
            y = int(h * (0.2 + 0.6 * rng.uniform()))
            col = tuple(int(c) for c in rng.integers(30, 255, 3))
            cv2.rectangle(img, (x, y), (x + 70, y + 30), col, -1)
    else:  # forest: the camera pans across a textured wood
        tex = _forest_texture()
        x0 = int(40.0 * t + 15.0 * math.sin(t)) % (tex.shape[1] - w)
        img = np.ascontiguousarray(tex[:h, x0 : x0 + w])
        cv2.circle(img, (int(w / 2 + 120 * math.sin(t * 2)), int(h * 0.7)), 22, (90, 200, 240), -1)
    cv2.putText(img, f"{source} {i:03d}", (10, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return img


_TEXTURE: list[np.ndarray] = []


def _forest_texture() -> np.ndarray:
    """A wide strip of wood: trunks of varied width and shade over leafy noise."""
    import cv2

    if not _TEXTURE:
        w, h = SIZE
        rng = np.random.default_rng(3)
        noise = rng.integers(0, 255, (h // 6, (w * 2) // 6, 1)).astype(np.uint8)
        leaves = cv2.resize(noise, (w * 2, h), interpolation=cv2.INTER_CUBIC)[..., None]
        img = (np.array([30, 90, 40]) + leaves * np.array([0.2, 0.5, 0.2])).astype(np.uint8)
        for _ in range(30):
            x = int(rng.integers(0, w * 2 - 30))
            shade = int(rng.integers(25, 70))
            cv2.rectangle(
                img, (x, 0), (x + int(rng.integers(8, 30)), h), (shade // 2, shade, shade // 2 + 10), -1
            )
        _TEXTURE.append(img)
    return _TEXTURE[0]


def write_source(path: Path, source: str, frames: int = SOURCE_FRAMES) -> None:
    """Write one source clip (MPEG-4 Part 2 in .mp4, readable everywhere OpenCV is)."""
    import cv2

    with fsutil.atomic_path(path, suffix=path.suffix) as tmp:
        vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), RATE, SIZE)
        if not vw.isOpened():
            raise OutputError(f"{path}: OpenCV cannot write MPEG-4 video here.")
        for i in range(frames):
            vw.write(_frame(source, i))
        vw.release()


def build_timeline(media: dict[str, Path]) -> otio.schema.Timeline:
    """The demo cut as OTIO: one video track, a dissolve, a marker."""
    t = otio.schema.Timeline(name="VidMusician demo", global_start_time=RT(3600 * RATE, RATE))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    available = TR(RT(0, RATE), RT(SOURCE_FRAMES, RATE))
    refs = {
        name: otio.schema.ExternalReference(target_url=p.resolve().as_uri(), available_range=available)
        for name, p in media.items()
    }
    for idx, shot in enumerate(SHOTS):
        if idx == DISSOLVE_BEFORE_SHOT:
            track.append(
                otio.schema.Transition(
                    name="Cross Dissolve",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=RT(DISSOLVE_HALF, RATE),
                    out_offset=RT(DISSOLVE_HALF, RATE),
                )
            )
        track.append(
            otio.schema.Clip(
                name=f"{shot.source}.mp4",
                media_reference=refs[shot.source].clone(),
                source_range=TR(RT(shot.source_in, RATE), RT(shot.frames, RATE)),
            )
        )
    t.tracks.append(track)
    t.tracks.markers.append(
        otio.schema.Marker(name=MARKER_NAME, marked_range=TR(RT(MARKER_FRAME, RATE), RT(0, RATE)))
    )
    return t


def make_demo_cut(
    folder: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Path]:
    """Write the demo media and timelines into ``folder``.

    Returns
    -------
    dict
        ``{"otio": path, "fcp7": path, "<source>": media path, ...}``
    """
    folder = Path(folder)
    media_dir = folder / "media"
    media: dict[str, Path] = {}
    names = sorted({s.source for s in SHOTS})
    for k, name in enumerate(names):
        check(cancel)
        report(progress, k / len(names), "drawing demo media")
        media[name] = media_dir / f"{name}.mp4"
        write_source(media[name], name)
    report(progress, 1.0, "drawing demo media")
    t = build_timeline(media)
    otio_path = fsutil.write_text(folder / "demo_cut.otio", otio.adapters.write_to_string(t, "otio_json"))
    xml_path = fsutil.write_text(folder / "demo_cut.xml", otio.adapters.write_to_string(t, "fcp_xml"))
    return {"otio": otio_path, "fcp7": xml_path, **media}


def run_demo(
    out: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    note: Callable[[str], None] = print,
) -> str:
    """``vidmusician demo OUT``: make the demo cut in ``OUT`` and run the pipeline on it.

    Returns a short summary for the user. ``OUT`` must be new or empty.
    """
    from .analysis.analyze import analyze, to_json

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out}: exists and is not an empty folder. Choose a new folder for the demo.")
    files = make_demo_cut(out / "demo", scaled(progress, 0.0, 0.3), cancel)
    note(f"demo cut written: {files['otio']} (and {files['fcp7'].name} for Premiere)")
    from .session.pipeline import score
    from .session.settings import ScoreOptions

    feats = analyze(files["otio"], progress=scaled(progress, 0.3, 0.4), cancel=cancel)
    fsutil.write_text(out / "analysis.json", json.dumps(to_json(feats), indent=2) + "\n")
    session = score(
        files["otio"], out / "score", ScoreOptions(seed=1, fmt="fcp7"), scaled(progress, 0.4, 1.0), cancel
    )
    report(progress, 1.0, "scored")
    from .wording import bpm_range, duration, heard, landings, plural

    tl = feats.timeline
    take = session.take(1)
    m = take["metrics"]
    plan = json.loads((out / "score" / "plan.json").read_text())
    visual = sum(a.kind == "motion" for a in feats.anchors)
    return (
        f"{tl.name}: {plural(len(tl.shots), 'shot')} over {duration(tl.duration_s)}, "
        f"{plural(visual, 'visual beat')}\n"
        f"scored: {take['style']} in {take['key']} at {bpm_range(*take['bpm'])}; {landings(plan)}\n"
        f"heard (librosa): {heard(m, accents=True)}\n"
        f"listen: {out / 'score' / 'mix.wav'}; import {out / 'score' / 'timeline.xml'} (Premiere/Resolve) or "
        f"timeline.otio; stems in {out / 'score' / 'stems'}\n"
        f"redo the music under one shot: vidmusician regenerate {out / 'score'} --shot N"
    )
