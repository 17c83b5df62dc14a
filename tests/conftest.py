"""Shared test helpers: made-up media and timelines with known answers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDMUSICIAN_SHARED", REPO.parent / "shared")) / "data"
TIMELINES = SHARED / "timelines"
VIDEOS = SHARED / "video"

# The arranger's font is the bundled TimGM6mb whatever this machine has installed
# (no system folders searched, no user font), for every fixture scope and child process.
os.environ["VIDMUSICIAN_SOUNDFONT_DIRS"] = ""
os.environ.pop("VIDMUSICIAN_SOUNDFONT", None)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test gets an empty analysis cache and panel settings of its own (never the user's)."""
    monkeypatch.setenv("VIDMUSICIAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VIDMUSICIAN_PANEL_SETTINGS", str(tmp_path / "panel.ini"))


needs_shared = pytest.mark.skipif(not TIMELINES.is_dir(), reason="../shared/data is absent")


def shared_timelines() -> list[Path]:
    if not TIMELINES.is_dir():
        return []
    return sorted(p for p in TIMELINES.iterdir() if p.suffix in {".otio", ".xml", ".edl"})


def write_video(path: Path, cuts: list[int], n_frames: int, fps: float = 25.0, size=(160, 96)) -> Path:
    """A video whose picture cuts at the given frames: each shot a different
    colour with a moving bar, so the detectors see content, not just flat fields."""
    import cv2

    w, h = size
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40), (40, 200, 200), (200, 40, 200)]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    assert vw.isOpened()
    bounds = [0, *cuts, n_frames]
    for shot, (a, b) in enumerate(zip(bounds, bounds[1:])):
        for i in range(a, b):
            img = np.full((h, w, 3), colours[shot % len(colours)], np.uint8)
            x = (i * 3) % w
            cv2.rectangle(img, (x, h // 3), (x + 12, 2 * h // 3), (255, 255, 255), -1)
            vw.write(img)
    vw.release()
    return path


def write_wav(path: Path, seconds: float, sr: int = 48000) -> Path:
    import soundfile

    t = np.arange(int(seconds * sr)) / sr
    soundfile.write(str(path), 0.1 * np.sin(2 * np.pi * 440 * t), sr, subtype="PCM_24")
    return path


def clip(name: str, frames: int, rate: float = 24, start: int = 0, url: str | None = None, enabled=True):
    ref = (
        otio.schema.ExternalReference(target_url=url, available_range=TR(RT(0, rate), RT(10_000, rate)))
        if url
        else None
    )
    c = otio.schema.Clip(name=name, media_reference=ref, source_range=TR(RT(start, rate), RT(frames, rate)))
    c.enabled = enabled
    return c


def gap(frames: int, rate: float = 24):
    return otio.schema.Gap(source_range=TR(RT(0, rate), RT(frames, rate)))


def timeline(*tracks, rate: float = 24, start: int | None = None, name: str = "test"):
    t = otio.schema.Timeline(name=name, global_start_time=None if start is None else RT(start, rate))
    for tr in tracks:
        t.tracks.append(tr)
    return t


def video_track(*items, name: str = "V1"):
    tr = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
    for it in items:
        tr.append(it)
    return tr


def save(t, path: Path) -> Path:
    otio.adapters.write_to_file(t, str(path))
    return path
