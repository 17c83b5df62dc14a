"""A session's takes after ``score``: :func:`regenerate` (new music under one
shot), :func:`use` (play another take under a shot), :func:`export` (the
newest timeline to a file of your choice), :func:`list_takes` and
:func:`selection_audio` (what the timeline plays)."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import units
from ..errors import InputError, OptionError, OutputError
from ..model import Music, Span, Timeline, VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report, scaled
from ..rhythm.planner import RhythmPlan
from .pipeline import (
    _commit,
    _features,
    _new_take_folder,
    _plan,
    _take_key,
    _take_record,
    _Undo,
    _write_take,
    _write_timeline,
)
from .settings import ScoreOptions, backend_settings, options_from_record
from .splice import SR, SplicedFile, SpliceRange
from .store import Session, check_identity, locked, set_range


def shot_range(
    downbeats_s: np.ndarray, start_s: float, end_s: float, duration_s: float | None = None
) -> SpliceRange:
    """The bars under a shot: from the bar line at or before its first frame
    to the bar line at or after its end (the music's tail when that is the
    timeline's end, ``duration_s``; a plan whose last bar line falls before
    the end, the music running on, ends a shot there on that bar line)."""
    from ..backends.arranger import bars_in

    downs = np.asarray(downbeats_s, float)
    bars = bars_in(downs, start_s, end_s)
    if not bars:  # a shot shorter than the tolerance: the bar it starts in
        bars = [max(0, int(np.searchsorted(downs, start_s, side="right")) - 1)]
    last = bars[-1] + 1
    # the last bar line on the timeline's end: the tail (the ring-out) goes with the last bar
    to_end = last > len(downs) - 1 or (
        last == len(downs) - 1
        and (duration_s is None or end_s >= duration_s - 1e-3 or downs[-1] >= duration_s - 1e-3)
    )
    end = None if to_end else float(downs[last])
    return SpliceRange(float(downs[bars[0]]), end)


def _session_context(
    session: Session, take_id: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> tuple[VideoFeatures, dict[str, Any], ScoreOptions]:
    """Analysis (from the cache) and the stored plan of a take."""
    rec_in = session.data["input"]
    if rec_in.get("identity"):
        check_identity(rec_in["path"], rec_in["identity"])
    take = session.take(take_id)
    o = options_from_record(take["options"])
    feats = _features(rec_in["path"], o, progress, cancel)
    session.check_cut(feats.timeline)
    stored = json.loads((session.out / take["plan"]).read_text(encoding="utf-8"))
    return feats, stored, o


def _replan(
    feats: VideoFeatures, o: ScoreOptions, stored: dict[str, Any], take_id: int, session: Session
) -> tuple[RhythmPlan, str]:
    """The plan a take was made on, made again and checked against the stored one."""
    p, style = _plan(feats, o)
    if len(stored["downbeats_s"]) != len(p.downbeats_s) or not np.allclose(
        stored["downbeats_s"], p.downbeats_s, atol=1e-5
    ):
        raise InputError(
            f"{session.out}: the cut's analysis now gives another beat grid than take {take_id}'s "
            "(the media changed, or another VidMusician version plans differently). "
            "Score the cut into a new folder."
        )
    return p, style


def regenerate(
    out: str | os.PathLike[str],
    shot: int,
    seed: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    wait_s: float = 0.0,
) -> Session:
    """New music under shot ``shot``: a new take, bit-identical to the take it
    replaces outside the shot's bars (crossfades aside), and a new timeline
    version that plays it under the shot."""
    from .. import backends
    from .splice import read_pcm

    out = Path(out)
    with locked(out, wait_s):
        session = Session.load(out)
        session.sweep()
        base_id, base = _base_take(session, shot)
        feats, stored, o = _session_context(session, base_id, scaled(progress, 0.0, 0.4), cancel)
        s = feats.timeline.shots[shot]
        rng = shot_range(np.asarray(stored["downbeats_s"]), s.start_s, s.end_s, feats.timeline.duration_s)
        take_id = session.next_take_id()
        pick = np.random.default_rng([base["seed"], shot, take_id])
        new_seed = int(seed) if seed is not None else int(pick.integers(2**31))
        old = _OldTake.of(session, base)
        o = dataclasses.replace(o, key=_take_key(base) or o.key)  # the shot keeps the take's key
        kept_font = not o.soundfont and os.path.isfile(str(base.get("soundfont_path") or ""))
        if kept_font:  # and its font, found as the take's was
            o = dataclasses.replace(o, soundfont=str(base["soundfont_path"]))

        def base_mix() -> np.ndarray:
            pcm = old.pcm["mix"] if old.pcm else read_pcm(old.paths["mix"])
            return units.pcm_to_float(pcm)

        span = Span(
            rng.start_s,
            rng.end_s,
            new_seed,
            seed is not None,
            shot,
            base,
            pick,
            lambda: _replan(feats, o, stored, base_id, session)[0],
            base_mix,
        )
        music = backends.get(base["backend"]).regenerate(
            feats, backend_settings(o, base["style"]), span, scaled(progress, 0.45, 0.8), cancel
        )
        new_seed = new_seed if music.provenance.range_seed is None else music.provenance.range_seed
        warnings = list(music.warnings)
        gain = old.matching_gain(music, rng)
        check(cancel)
        report(progress, 0.8, "splicing")
        pcm = old.spliced(music, rng, gain)
        f0, f1 = rng.frames(feats.timeline.rate)
        record = {
            "parent": base_id,
            "shot": shot,
            "new_seed": new_seed,
            "range_s": [rng.start_s, rng.end_s],
            "fade_s": rng.fade_s,
            "range_frames": [f0, f1],
            "gain": round(gain, 6),
        }
        if kept_font:
            record["soundfont_source"] = base.get("soundfont_source")
        tl = _add_regenerated(session, take_id, feats, stored, o, music, base["plan"], record, pcm, progress)
        report(progress, 1.0, "done")
    return Session(out, session.data, made=take_id, warnings=tuple(warnings) + tuple(tl["notes"]))


def _base_take(session: Session, shot: int) -> tuple[int, dict[str, Any]]:
    """The take that plays under ``shot`` (its id and record), refused when its backend is missing."""
    from .. import backends

    base_id = session.take_under(shot).id
    base = session.take(base_id)
    if base["backend"] not in backends.AVAILABLE_BACKENDS:
        raise OptionError(
            f"take {base_id} was made by the {base['backend']} backend, which is not installed."
        )
    return base_id, base


@dataclass(frozen=True)
class _OldTake:
    """The audio of the take a regeneration replaces: ``paths`` (role -> WAV;
    ``mix`` and every stem), ``pcm`` (role -> int32 samples; empty when
    ``long``: a take longer than the renderer's block, spliced a block at a
    time from its files)."""

    paths: dict[str, Path]
    pcm: dict[str, np.ndarray]
    long: bool

    @classmethod
    def of(cls, session: Session, base: dict[str, Any]) -> _OldTake:
        from ..backends.arranger.render import LONG_S
        from .splice import read_pcm, wav_frames

        old_paths = {"mix": session.out / base["files"]["mix"]}
        old_paths.update({k: session.out / v for k, v in base["files"]["stems"].items()})
        long = wav_frames(old_paths["mix"]) > LONG_S * SR  # spliced a block at a time
        old = {} if long else {role: read_pcm(path) for role, path in old_paths.items()}
        return cls(old_paths, old, long)

    def matching_gain(self, music: Music, rng: SpliceRange) -> float:
        """The gain that matches the new music's level to the old take's around the range."""
        from .splice import matching_gain, matching_gain_file

        if music.matched:
            return 1.0
        if self.long:
            return matching_gain_file(self.paths["mix"], music.mix, rng)
        return matching_gain(self.pcm["mix"], np.asarray(music.mix), rng)

    def spliced(self, music: Music, rng: SpliceRange, gain: float) -> dict[str, np.ndarray | SplicedFile]:
        """Every role of the old take with ``music`` spliced in over ``rng``."""
        from .splice import splice

        new = {"mix": music.mix, **music.stems}
        if self.long:
            return {role: SplicedFile(self.paths[role], new[role], rng, gain) for role in self.paths}
        return {role: splice(self.pcm[role], np.asarray(new[role]), rng, gain) for role in self.pcm}


def _add_regenerated(
    session: Session,
    take_id: int,
    feats: VideoFeatures,
    stored: dict[str, Any],
    o: ScoreOptions,
    music: Music,
    plan_rel: str,
    extra: dict[str, Any],
    pcm: dict[str, np.ndarray | SplicedFile],
    progress: ProgressFn | None,
) -> dict[str, Any]:
    """Write the regenerated take (its record gets ``extra``), play it over its
    ``range_frames`` and write the next timeline version; returns that version's record."""
    f0, f1 = extra["range_frames"]
    undo = _Undo()
    try:
        final, folder_cm = _new_take_folder(session, take_id, undo)
        record = _take_record(session.out.resolve(), take_id, "regenerate", o, music, plan_rel, **extra)
        with folder_cm as folder:
            take = _write_take(
                folder,
                final.resolve(),
                feats,
                stored,
                music,
                record,
                False,
                pcm,
                scaled(progress, 0.8, 0.95),
            )
        session.data["takes"].append(take)
        session.data["selection"] = set_range(session.data["selection"], f0, f1, take_id)
        report(progress, 0.95, "writing the timeline")
        return _commit(session, feats.timeline, undo)
    except BaseException:
        undo.undo()
        raise


def use(
    out: str | os.PathLike[str],
    take_id: int,
    shot: int,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    wait_s: float = 0.0,
) -> Session:
    """Play take ``take_id`` under shot ``shot`` (the same bars a regeneration
    of that shot takes); writes a new timeline version."""
    out = Path(out)
    with locked(out, wait_s):
        session = Session.load(out)
        session.sweep()
        take = session.take(take_id)
        sh = session.shot(shot)
        if take.get("shot") == shot and take.get("range_frames"):
            f0, f1 = take["range_frames"]
        else:
            plan = json.loads((session.out / take["plan"]).read_text(encoding="utf-8"))
            rate = session.data["timeline"]["rate"]
            rng = shot_range(
                np.asarray(plan["downbeats_s"]),
                sh["start_frame"] / rate,
                sh["end_frame"] / rate,
                session.data["timeline"]["duration_frames"] / rate,
            )
            f0, f1 = rng.frames(rate)
        base = session.take(session.take_under(shot).id)
        rec_in = session.data["input"]
        if rec_in.get("identity"):
            check_identity(rec_in["path"], rec_in["identity"])
        check(cancel)
        feats = _features(rec_in["path"], options_from_record(base["options"]), progress, cancel)
        selection = set_range(session.data["selection"], f0, f1, take_id)
        if selection == session.data["selection"]:
            return Session(
                out,
                session.data,
                warnings=(f"take {take_id} plays under shot {shot} already; nothing changed.",),
            )
        session.data["selection"] = selection
        undo = _Undo()
        try:
            tl = _commit(session, feats.timeline, undo)
        except BaseException:
            undo.undo()
            raise
    return Session(out, session.data, made=tl["version"], warnings=tuple(tl["notes"]))


def selection_audio(session: Session, role: str = "mix") -> np.ndarray:
    """What the newest timeline plays on the ``role`` track (``mix`` or a stem
    name): each selection range cut from its take's file at the frame
    boundaries, exactly as an editing application plays the clips.

    Returns int32 [shape=(n, channels)] on the 24-bit grid, 48 kHz, as long
    as the takes' files (the ring-out tail included).
    """
    from .splice import read_pcm

    rate = float(session.data["timeline"]["rate"])
    pieces = session.selection_record.pieces
    files: dict[int, np.ndarray] = {}
    for p in pieces:
        if p.take not in files:
            t = session.take_record(p.take)
            rel = t.files["mix"] if role == "mix" else t.files["stems"].get(role)
            if rel is None:
                raise InputError(f"{session.out}: take {t.id} has no {role} stem.")
            files[p.take] = read_pcm(session.out / rel)
    n = max(len(a) for a in files.values())
    out = np.zeros((n, next(iter(files.values())).shape[1]), np.int32)
    for p in pieces:
        a = int(round(p.start_frame * SR / rate))
        b = n if p.end_frame is None else min(n, int(round(p.end_frame * SR / rate)))
        src = files[p.take]
        b_src = min(b, len(src))
        out[a:b_src] = src[a:b_src]
    return out


def export(
    out: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    fmt: str | None = None,
    timeline: Timeline | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, str]:
    """Write the session's newest timeline (what its selection plays) to
    ``dest``: a file path whose stem names the files, e.g.
    ``~/edit/music.otio`` writes ``music.otio`` and, for ``fmt`` (default: the
    session's format), ``music.xml`` or ``music.edl`` beside it. The music
    clips point at the session's audio files. Never overwrites.

    Returns ``{format: path}`` of the files written.
    """
    from ..writeback import FORMATS

    session = Session.load(out)
    dest = Path(dest)
    if fmt is not None and fmt not in FORMATS:
        raise OptionError(f"format {fmt}: choose one of {', '.join(FORMATS)}.")
    if not dest.parent.is_dir():
        raise OutputError(f"{dest.parent}: no such folder; choose a folder that exists.")
    if timeline is None:
        rec_in = session.data["input"]
        if rec_in.get("identity"):
            check_identity(rec_in["path"], rec_in["identity"])
        first = session.take(session.selection[0]["take"])
        timeline = _features(rec_in["path"], options_from_record(first["options"]), progress, cancel).timeline
    check(cancel)
    from ..writeback import extension, formats_for, writers

    stem = dest.stem if dest.suffix.lower() in {w.extension for w in writers()} else dest.name
    first_opts = options_from_record(session.take(session.selection[0]["take"])["options"])
    there = [
        dest.parent / (stem + extension(f))
        for f in formats_for(timeline, fmt or first_opts.fmt)
        if (dest.parent / (stem + extension(f))).exists()
    ]
    if there:
        raise OutputError(f"{there[0]}: exists already; VidMusician never overwrites. Choose another name.")
    root = session.out.resolve()
    record = _write_timeline(
        session,
        timeline,
        session.timeline["version"],
        lambda rel: str(root / rel),
        dest.parent,
        root,
        fmt=fmt,
        basename=stem,
    )
    return {k: str(dest.parent / v) for k, v in record["files"].items()}


def list_takes(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every take with where the selection plays it (frame ranges)."""
    session = Session.load(out)
    selection = session.selection_record
    return [{**t.to_json(), "used": selection.used(t.id)} for t in session.take_records]
