"""From a timeline and its media to :class:`~vidmusician.core.model.VideoFeatures`.

Per media file, the shots' source ranges (plus a few frames of handle) are
merged and each merged range is scanned once (:mod:`.scan`), from the cache
when it was scanned before with the same parameters. Different files may be
scanned in parallel processes. Results are then laid out in record time.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import wording
from ..errors import Cancelled
from ..io.cache import cache_dir
from ..io.timeline import STRENGTH_CUT, STRENGTH_THROUGH_EDIT
from ..model import Anchor, MotionCurve, Shot, ShotFeatures, Timeline, VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report, scaled
from . import semantics
from .decode import MediaError, MediaInfo, file_range, probe
from .motion import visual_beats
from .scan import STAT_NAMES, Scan, ScanParams, cache_key, cut_sized, scan
from .scenes import STRENGTH_SCENE

HOP_S = 1.0 / 25.0
HANDLE_FRAMES = 3  # decoded before and after each range: flow for the first frame
MERGE_GAP_S = 0.25  # ranges of one file closer than this are decoded as one
CUT_RATE_WINDOW_S = 10.0  # edits counted this far either side of a shot's middle


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of the analysis (the CLI's come from ``core.options``)."""

    detector: str = "adaptive"
    threshold: float | None = None  # None: the detector's default
    width: int = 256
    hop_s: float = HOP_S
    use_cache: bool = True
    workers: int = 0  # 0: one process per file up to the number of cores
    clip: str | None = None  # a local CLIP checkpoint: adds embeddings and zero-shot tags

    def scan_params(self) -> ScanParams:
        return ScanParams(width=self.width, detector=self.detector, threshold=self.threshold)


# --------------------------------------------------------------------------- scanning


def scan_cached(
    path: str,
    start_s: float,
    end_s: float,
    rate: float,
    params: ScanParams,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Scan:
    """:func:`.scan.scan`, reading and writing the analysis cache."""
    check(cancel)
    where = cache_dir() / "analysis" / f"{cache_key(path, start_s, end_s, params)}.npz"
    if use_cache and where.is_file():
        try:
            return Scan.load(where)
        except Exception:  # a damaged cache entry is just scanned again
            pass
    result = scan(path, start_s, end_s, rate, params, progress, cancel)
    if use_cache:
        with contextlib.suppress(OSError):  # a read-only cache costs time, not results
            result.save(where)
    return result


def _scan_file(
    path: str,
    intervals: list[tuple[float, float]],
    rate: float,
    params: ScanParams,
    use_cache: bool,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
) -> list[Scan]:
    total = sum(b - a for a, b in intervals) or 1.0
    done = 0.0
    out = []
    for a, b in intervals:
        sub = scaled(progress, done / total, (done + b - a) / total)
        out.append(scan_cached(path, a, b, rate, params, use_cache, sub, cancel))
        done += b - a
    return out


def _merge(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + MERGE_GAP_S:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def canonical(a: float, b: float, info: MediaInfo) -> tuple[float, float]:
    """A decode range as cached: one that reaches the end of the file ends
    one second past it, whatever asked for it (so a whole-file scan made while
    reading a plain video is found again by the analysis)."""
    a = max(0.0, a)
    if b >= info.duration_s - 1e-3:
        b = info.duration_s + 1.0
    return round(a, 3), round(b, 3)


# --------------------------------------------------------------------------- assembling


def analyze_timeline(
    tl: Timeline,
    opts: AnalysisOptions = AnalysisOptions(),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> VideoFeatures:
    """Analyse every shot's picture and lay the results out in record time.

    Media that cannot be analysed (missing, no video, bad codec, a range
    outside the file) leaves its shots without features and gives one
    warning per file; the run goes on.
    """
    warnings: list[str] = []
    params = opts.scan_params()

    by_file, infos, ranges, jobs = _jobs(tl, warnings)
    scans = _run_jobs(jobs, infos, params, opts, progress, cancel, warnings)
    report(progress, 1.0, "analysing picture")

    shot_scan = _shot_scans(by_file, ranges, jobs, scans)

    anchors, note = check_through_edits(tl, shot_scan)
    if note:
        warnings.append(note)
    edits = sorted(x.time_s for x in anchors if x.kind in ("cut", "transition", "scene"))
    _scene_anchors(tl, shot_scan, anchors, edits)

    tr, total, camera, obj, vx, vy = _motion_samples(tl, shot_scan, opts.hop_s)
    values = 1.0 - np.exp(-total / semantics.MOTION_SCALE)
    direction = np.where(np.hypot(vx, vy) > 0.01, np.arctan2(vy, vx), np.nan)
    curve = MotionCurve(opts.hop_s, values, camera, obj, direction)
    anchors += visual_beats(curve, vx, vy, edits)
    anchors.sort(key=lambda x: (x.time_s, x.kind))

    feats = tuple(
        _shot_features(s, shot_scan.get(s.index), tr, total, camera, obj, edits, tl) for s in tl.shots
    )
    clip = None
    if opts.clip:
        clip, feats = _with_clip(opts.clip, tl, shot_scan, feats, cancel)
    return VideoFeatures(tl, curve, feats, tuple(anchors), tuple(warnings), clip)


def _jobs(
    tl: Timeline, warnings: list[str]
) -> tuple[
    dict[str, list[Shot]],
    dict[str, MediaInfo],
    dict[int, tuple[float, float]],
    dict[str, list[tuple[float, float]]],
]:
    """Which shots need which file, and where in it: the shots by file, each
    file's probe, each shot's range in its file (seconds) and the merged
    ranges to decode per file. Media that cannot be read adds a warning."""
    by_file: dict[str, list[Shot]] = {}
    for s in tl.shots:
        if s.kind == "clip" and s.media and s.media_found:
            by_file.setdefault(s.media, []).append(s)
    infos: dict[str, MediaInfo] = {}
    ranges: dict[int, tuple[float, float]] = {}
    jobs: dict[str, list[tuple[float, float]]] = {}
    for path, shots in by_file.items():
        try:
            info = probe(path)
        except MediaError as e:
            warnings.append(
                f"{e}; {wording.plural(len(shots), 'shot')} {'keeps its cut' if len(shots) == 1 else 'keep their cuts'} "
                "but get no picture features."
            )
            continue
        infos[path] = info
        outside = []
        wanted = []
        handle = HANDLE_FRAMES / info.rate
        for s in shots:
            r = file_range(s, info)
            if r is None:
                outside.append(s.index)
                continue
            ranges[s.index] = r
            wanted.append((max(0.0, r[0] - handle), min(info.duration_s + handle, r[1] + handle)))
        if outside:
            warnings.append(
                f"{path}: the source range of {'shot' if len(outside) == 1 else 'shots'} {', '.join(map(str, outside))} lies outside "
                f"the media (0-{info.duration_s:.2f} s); those shots get no picture features."
            )
        if wanted:
            jobs[path] = [canonical(a, b, info) for a, b in _merge(wanted)]
    return by_file, infos, ranges, jobs


def _shot_scans(
    by_file: dict[str, list[Shot]],
    ranges: dict[int, tuple[float, float]],
    jobs: dict[str, list[tuple[float, float]]],
    scans: dict[str, list[Scan]],
) -> dict[int, tuple[Scan, float, float]]:
    """Per shot: the scan that holds it and the shot's part of it (seconds in the file)."""
    shot_scan: dict[int, tuple[Scan, float, float]] = {}
    for path, shots in by_file.items():
        for s in shots:
            if s.index not in ranges or path not in scans:
                continue
            a, b = ranges[s.index]
            for (ia, ib), sc in zip(jobs[path], scans[path]):
                if ia - 1e-6 <= a and b <= ib + 1e-6:
                    shot_scan[s.index] = (sc, a, b)
                    break
    return shot_scan


def _scene_anchors(
    tl: Timeline, shot_scan: dict[int, tuple[Scan, float, float]], anchors: list[Anchor], edits: list[float]
) -> None:
    """Cuts inside the media become scene anchors (added to ``anchors`` and,
    sorted, to ``edits``) where no edit is within a frame."""
    frame = 1.0 / tl.rate
    for s in tl.shots:
        if s.index not in shot_scan:
            continue
        sc, a, b = shot_scan[s.index]
        for c in sc.cuts:
            if a + frame < c < b - frame * 0.5:
                t = s.start_s + (c - a)
                if _nearest(edits, t) > frame * 1.01:
                    anchors.append(
                        Anchor(round(t, 6), "scene", STRENGTH_SCENE, f"scene cut in shot {s.index}")
                    )
                    bisect.insort(edits, t)


def _motion_samples(
    tl: Timeline, shot_scan: dict[int, tuple[Scan, float, float]], hop_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scans' motion in record time, every ``hop_s`` seconds: the sample
    times and the total, camera, object and x/y motion, each shape (n,)."""
    n = max(1, math.ceil(tl.duration_s / hop_s))
    tr = np.arange(n) * hop_s
    total = np.zeros(n)
    camera = np.zeros(n)
    obj = np.zeros(n)
    vx = np.zeros(n)
    vy = np.zeros(n)
    for s in tl.shots:
        if s.index not in shot_scan:
            continue
        sc, a, _ = shot_scan[s.index]
        mask = _span(tr, s.start_s, s.end_s)  # tr is sorted: the shot's samples are one slice
        tm = a + (tr[mask] - s.start_s)
        for dest, src in (
            (total, sc.motion),
            (camera, sc.camera),
            (obj, sc.object),
            (vx, sc.dx),
            (vy, sc.dy),
        ):
            dest[mask] = np.interp(tm, sc.t, src) if len(sc.t) else 0.0
    return tr, total, camera, obj, vx, vy


def _nearest(sorted_times: list[float], t: float) -> float:
    """Distance from ``t`` to the nearest of ``sorted_times`` (inf when empty), by bisection."""
    i = bisect.bisect_left(sorted_times, t)
    near = sorted_times[max(0, i - 1) : i + 1]
    return min((abs(e - t) for e in near), default=math.inf)


def _span(tr: np.ndarray, start_s: float, end_s: float) -> slice:
    """The slice of the sorted sample times ``tr`` with ``start_s <= t < end_s``
    (what the mask ``(tr >= start_s) & (tr < end_s)`` selects, in O(log n))."""
    return slice(int(np.searchsorted(tr, start_s, "left")), int(np.searchsorted(tr, end_s, "left")))


def check_through_edits(
    tl: Timeline, shot_scan: dict[int, tuple[Scan, float, float]]
) -> tuple[list[Anchor], str | None]:
    """The timeline's anchors, with each through edit the picture contradicts made a hard cut.

    A through edit (the same media continuing in the next source frame, as
    the reader sees it) is weak only when the picture really continues.
    Scene detection in an editing tool (Resolve's *Scene Cut Detection*,
    Premiere's *Scene Edit Detection*) cuts a rendered video into such edits,
    each on a real change of picture. Where the scan of the shot after the
    edit saw a cut within a frame of it, or a change into its first frame as
    large as a cut's (:func:`.scan.cut_sized`), the edit becomes a cut of
    strength 1.0 whose label says why.

    Parameters
    ----------
    tl : Timeline
    shot_scan : dict
        Shot index -> (its scan, the shot's source range start and end in
        seconds of media time).

    Returns
    -------
    anchors : list of Anchor
        ``tl.anchors`` with the contradicted through edits replaced.
    note : str or None
        A warning when most edits are through edits that could not be checked
        (their media could not be read).
    """
    first_shot = {s.start_frame: s.index for s in tl.shots}
    frame = 1.0 / tl.rate
    out: list[Anchor] = []
    edits = through = unchecked = 0
    for a in tl.anchors:
        if a.kind in ("cut", "transition"):
            edits += 1
        if a.kind != "cut" or a.strength != STRENGTH_THROUGH_EDIT:
            out.append(a)
            continue
        through += 1
        index = first_shot.get(round(a.time_s * tl.rate))
        found = shot_scan.get(index) if index is not None else None
        if found is None:
            unchecked += 1
            out.append(a)
            continue
        why = _picture_cut(found[0], found[1], frame)
        if why is None:
            out.append(a)
        else:
            label = a.label.replace(" (through edit)", "") + f" (through edit; {why})"
            out.append(Anchor(a.time_s, "cut", STRENGTH_CUT, label, a.duration_s))
    note = None
    if unchecked and through > edits / 2:
        note = (
            f"{through} of {edits} edits are through edits (one media file continuing in "
            f"consecutive source ranges); {unchecked} of them are scored as weak anchors: "
            "the media could not be read to check them. Relink the media so that the picture "
            "can tell which are real cuts (a scene-detected cut of a rendered video is one)."
        )
    return out, note


def _picture_cut(sc: Scan, start_s: float, frame_s: float) -> str | None:
    """Why the picture cuts at media time ``start_s`` (an edit's first frame), or None."""
    if len(sc.cuts) and float(np.min(np.abs(sc.cuts - start_s))) <= frame_s * 1.01:
        return "the picture cuts here"
    if not len(sc.t):
        return None
    i = int(np.argmin(np.abs(sc.t - start_s)))
    if abs(float(sc.t[i]) - start_s) <= frame_s * 0.51 and cut_sized(sc.change, i):
        return "the picture changes like a cut"
    return None


def _with_clip(
    checkpoint: str,
    tl: Timeline,
    shot_scan: dict[int, tuple[Scan, float, float]],
    feats: tuple[ShotFeatures, ...],
    cancel: CancelToken | None,
) -> tuple[object, tuple[ShotFeatures, ...]]:
    """Per-second CLIP embeddings over the timeline and zero-shot tags per shot,
    from the frames the scan kept (no second decode)."""
    from dataclasses import replace

    from ..neural.clip import ClipEncoder, ClipFeatures

    encoder = ClipEncoder.load(checkpoint)
    times, images, owner = [], [], []
    for s in tl.shots:
        if s.index not in shot_scan:
            continue
        sc, a, b = shot_scan[s.index]
        sel = np.flatnonzero((sc.thumb_t >= a - 1e-6) & (sc.thumb_t < b))
        if not len(sel) and len(sc.thumb_t):  # a shot shorter than a second: its nearest frame
            sel = np.array([int(np.argmin(np.abs(sc.thumb_t - (a + b) / 2)))])
        for k in sel:
            times.append(s.start_s + max(0.0, sc.thumb_t[k] - a))
            images.append(sc.thumbs[k])
            owner.append(s.index)
    check(cancel)
    cls, patches = (
        encoder.encode(np.stack(images)) if images else encoder.encode(np.zeros((0, 2, 2, 3), np.uint8))
    )
    owners = np.asarray(owner)
    out = []
    for f in feats:
        mine = cls[owners == f.index] if len(owners) else cls[:0]
        out.append(replace(f, tags=encoder.tags(mine)) if len(mine) else f)
    return ClipFeatures(np.asarray(times), cls, patches, encoder.name), tuple(out)


def _run_jobs(
    jobs: dict[str, list[tuple[float, float]]],
    infos: dict[str, MediaInfo],
    params: ScanParams,
    opts: AnalysisOptions,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    warnings: list[str],
) -> dict[str, list[Scan]]:
    """Scan every file's ranges; in parallel processes when there are several files."""
    total = sum(b - a for rs in jobs.values() for a, b in rs) or 1.0
    workers = opts.workers or min(len(jobs), os.cpu_count() or 1)
    out: dict[str, list[Scan]] = {}
    if workers <= 1 or len(jobs) <= 1:
        done = 0.0
        for path, rs in jobs.items():
            check(cancel)
            length = sum(b - a for a, b in rs)
            sub = scaled(progress, done / total, (done + length) / total)
            try:
                out[path] = _scan_file(path, rs, infos[path].rate, params, opts.use_cache, cancel, sub)
            except MediaError as e:
                warnings.append(f"{e}; its shots keep their cuts but get no picture features.")
            done += length
        return out
    done = 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(_scan_file, path, rs, infos[path].rate, params, opts.use_cache): path
            for path, rs in jobs.items()
        }
        try:
            for fut in as_completed(futures):
                path = futures[fut]
                check(cancel)
                try:
                    out[path] = fut.result()
                except MediaError as e:
                    warnings.append(f"{e}; its shots keep their cuts but get no picture features.")
                done += sum(b - a for a, b in jobs[path])
                report(progress, done / total, "analysing picture")
        except Cancelled:
            for f in futures:
                f.cancel()
            raise
    return out


def _shot_features(
    s: Shot,
    found: tuple[Scan, float, float] | None,
    tr: np.ndarray,
    total: np.ndarray,
    camera: np.ndarray,
    obj: np.ndarray,
    edits: list[float],
    tl: Timeline,
) -> ShotFeatures:
    mid = (s.start_s + s.end_s) / 2
    lo, hi = max(0.0, mid - CUT_RATE_WINDOW_S), min(tl.duration_s, mid + CUT_RATE_WINDOW_S)
    n_edits = bisect.bisect_right(edits, hi) - bisect.bisect_left(edits, lo)  # edits is sorted
    d: dict[str, float] = {"cut_rate": round(60.0 * n_edits / max(hi - lo, 1e-6), 3)}
    analysed = False
    if found is not None:
        sc, a, b = found
        sel = (sc.t >= a - 1e-6) & (sc.t < b)
        rows = sc.stats[sel]
        rows = rows[~np.isnan(rows).any(axis=1)]
        if len(rows) == 0 and sel.any():  # a very short shot: use its nearest sampled frame
            valid = np.flatnonzero(~np.isnan(sc.stats).any(axis=1))
            if len(valid):
                rows = sc.stats[[valid[np.argmin(np.abs(sc.t[valid] - (a + b) / 2))]]]
        if len(rows):
            analysed = True
            for k, name in enumerate(STAT_NAMES):
                d[name] = round(float(rows[:, k].mean()), 4)
            faces = sc.faces[sel]
            faces = faces[~np.isnan(faces)]
            d["faces"] = round(float((faces > 0).mean()), 4) if len(faces) else 0.0
            mask = _span(tr, s.start_s, s.end_s)
            some = mask.stop > mask.start
            m = total[mask] if some else np.zeros(1)
            d["motion"] = round(float(m.mean()), 4)
            d["motion_peak"] = round(float(np.percentile(m, 90)), 4)
            d["camera_motion"] = round(float(camera[mask].mean()) if some else 0.0, 4)
            d["object_motion"] = round(float(obj[mask].mean()) if some else 0.0, 4)
            d["motion_level"] = round(semantics.motion_level(d["motion"]), 4)
    valence, arousal = semantics.mood(d, analysed)
    return ShotFeatures(
        index=s.index,
        analysed=analysed,
        descriptors=d,
        valence=round(valence, 4),
        arousal=round(arousal, 4),
        style=semantics.style_for(valence, arousal),
        prompt=semantics.prompt_words(d, valence, arousal, analysed),
    )


def whole_file_scan(
    path: str | os.PathLike[str],
    opts: AnalysisOptions = AnalysisOptions(),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[MediaInfo, Scan]:
    """Scan a whole video file once (cached): what a plain-video input needs."""
    info = probe(path)
    a, b = canonical(0.0, math.inf, info)
    sc = scan_cached(str(Path(path)), a, b, info.rate, opts.scan_params(), opts.use_cache, progress, cancel)
    return info, sc
