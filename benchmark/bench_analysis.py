"""Video analysis speed against decoding alone and PySceneDetect alone.

Run: .venv/bin/python benchmark/bench_analysis.py [--seconds 60] [--size 1920x1080]

Makes (once, kept in the cache folder) an H.264 test video with shots and
motion, then times in one run, best of ``--runs``:

  decode only      PyAV decoding every frame, frame threads on every core, no conversion
  opencv decode    cv2.VideoCapture.read() of every frame (what PySceneDetect decodes with)
  pyscenedetect    scenedetect.detect(path, AdaptiveDetector())
  ours             the full analysis pass: cuts + optical flow + camera/object
                   split + colour statistics + faces (cache off)

and prints each time and the ratios the issue sets targets for:
ours / pyscenedetect (target <= 1.2) and ours / decode only (target <= 1.5).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
from common import best


def make_video(path: Path, seconds: int, size: tuple[int, int], rate: int = 25) -> None:
    """Shots of moving shapes over textured backgrounds; a cut every 2-5 s."""
    import av
    import cv2

    w, h = size
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=rate)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"preset": "veryfast", "crf": "23"}
        n = seconds * rate
        cut, shot = 0, 0
        base = None
        for i in range(n):
            if i >= cut:
                shot += 1
                cut = i + int(rng.integers(2 * rate, 5 * rate))
                colour = rng.integers(20, 235, 3)
                small = rng.integers(0, 255, (h // 40, w // 40, 3)).astype(np.uint8)
                texture = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
                base = np.clip(texture * 0.5 + colour * 0.5, 0, 255).astype(np.uint8)
                pan = rng.uniform(-8, 8)
            assert base is not None
            img = np.roll(base, int(pan * (i % (5 * rate))), axis=1)
            for k in range(6):
                x = int((w / 2 + w / 3 * math.sin(i / (9 + k) + k)) % w)
                y = int((h / 2 + h / 3 * math.cos(i / (7 + k) + 2 * k)) % h)
                cv2.circle(img, (x, y), 40 + 12 * k, (255 - 30 * k, 40 * k, 200), -1)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    tmp.rename(path)


def decode_only(path: Path) -> None:
    """PyAV, frame threads on every core, full decoding (loop filter on)."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        vs.codec_context.thread_count = os.cpu_count() or 2
        for _ in c.decode(vs):
            pass


def opencv_decode(path: Path) -> None:
    import cv2

    cap = cv2.VideoCapture(str(path))
    while cap.grab():
        cap.retrieve()


def pyscenedetect(path: Path) -> None:
    from scenedetect import AdaptiveDetector, detect

    detect(str(path), AdaptiveDetector())


def ours(path: Path) -> None:
    from vidmusician.core.analysis.features import AnalysisOptions, whole_file_scan

    whole_file_scan(path, AnalysisOptions(use_cache=False))


def main() -> None:
    from vidmusician.core.io.cache import cache_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    folder = cache_dir() / "benchmark"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{args.seconds}s_{w}x{h}.mp4"
    if not path.exists():
        t0 = time.perf_counter()
        make_video(path, args.seconds, (w, h))
        print(f"made {path} in {time.perf_counter() - t0:.1f} s")
    results = {}
    for name, fn in (
        ("decode only", decode_only),
        ("opencv decode", opencv_decode),
        ("pyscenedetect", pyscenedetect),
        ("ours", ours),
    ):
        results[name] = best(lambda fn=fn: fn(path), args.runs)
        print(f"{name:<15} {results[name]:7.2f} s  ({args.seconds / results[name]:5.1f}x real time)")
    print(f"ours / pyscenedetect = {results['ours'] / results['pyscenedetect']:.2f}  (target <= 1.2)")
    print(f"ours / decode only   = {results['ours'] / results['decode only']:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
