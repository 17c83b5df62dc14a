"""``score``: the one pipeline from a cut to music on its timeline, kept as a session.

``score`` reads, analyses, plans, generates (the arranger by default), writes
the take and the timeline with the music, and reports. The command line, the
Qt panel and Resolve all call it, and then :mod:`.retake`'s ``regenerate``
(new music under one shot), ``use`` (switch a shot back to another take) and
``list_takes`` on the session it made (:mod:`.store`). What every take shares
is here too: writing a take's files and a timeline version, the take's record,
and undoing a failed update.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, fsutil, units
from ..analysis.analyze import analyze
from ..errors import InputError, OutputError
from ..io.blockaudio import WavAudio
from ..model import Music, Timeline, VideoFeatures
from ..progress import CancelToken, ProgressFn, check, report, scaled
from ..rhythm.planner import RhythmPlan
from ..rhythm.planning import plan_json
from .settings import ScoreOptions, backend_settings, options_from_record, prompt_style
from .splice import SplicedFile
from .store import TAKES_DIR, Session, check_identity, file_identity, locked, now

# --------------------------------------------------------------------------- pieces


def _features(
    input_path: str, o: ScoreOptions, progress: ProgressFn | None, cancel: CancelToken | None
) -> VideoFeatures:
    return analyze(input_path, o.rate, o.scene_detector, o.scene_threshold, o.cache, o.clip, progress, cancel)


def _plan(feats: VideoFeatures, o: ScoreOptions) -> tuple[RhythmPlan, str]:
    from ..rhythm.planning import plan_for

    return plan_for(
        feats,
        o.style or prompt_style(o.prompt),
        o.bpm,
        o.meter,
        o.flex,
        o.max_change,
        o.ring_out,
        exact=o.exact,
        sync_window_ms=o.sync_window,
    )


def _options(o: ScoreOptions) -> dict[str, Any]:
    return dataclasses.asdict(o)


def plan_markers(plan: dict[str, Any], kind: str, rate: float, duration_frames: int) -> tuple[Any, ...]:
    """Timeline markers from a plan (``plan.json`` contents)."""
    from ..writeback import TimelineMarker

    out = []
    if kind == "downbeats":
        for bar, t in enumerate(plan["downbeats_s"][:-1]):
            out.append(TimelineMarker(int(round(t * rate)), f"bar {bar + 1}", "GREEN"))
    elif kind == "cuts":
        for a in plan["anchors"]:
            if a["hard"] and a["on"] != "missed":
                out.append(TimelineMarker(int(round(a["time_s"] * rate)), f"cut on a {a['on']}", "RED"))
    return tuple(m for m in out if 0 <= m.frame < duration_frames)


def _write_take(
    folder: Path,
    final: Path,
    feats: VideoFeatures,
    plan_data: dict[str, Any],
    music: Music,
    record: dict[str, Any],
    write_plan: bool,
    pcm: dict[str, np.ndarray | SplicedFile] | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Write one take's files into ``folder`` (which becomes ``final``); returns its record.

    ``pcm`` (role -> int32 samples, already spliced, or a long take's
    :class:`~.splice.SplicedFile`, spliced as it is written) replaces the rendered audio.
    Measuring the take (librosa) is most of the time here: ``progress`` shows it.
    """
    report(progress, 0.0, "writing the music")
    from ..io.audio import save_wav
    from ..report.results import measure, write_music

    tracks = 1 + (len(music.stems) if pcm is None else len(pcm) - 1)
    seconds = float(plan_data["duration_s"]) + float(plan_data.get("ring_out_s") or 0.0)
    fsutil.ensure_space(folder, fsutil.audio_bytes(seconds, tracks))  # a full disk is said before writing
    if pcm is None:
        files = write_music(folder, final, music.mix, music.stems, music.midi)
        mix = music.mix
    else:
        files = {}
        for role, data in pcm.items():
            rel = "mix.wav" if role == "mix" else f"stems/{role}.wav"
            if isinstance(data, SplicedFile):
                data.write(folder / rel)
            else:
                save_wav(folder / rel, data)
            files["mix" if role == "mix" else f"stem:{role}"] = str(final / rel)
        if music.midi is not None:
            fsutil.write_with(folder / "music.mid", lambda tmp: music.midi.write(str(tmp)))
            files["midi"] = str(final / "music.mid")
        spliced = pcm["mix"]
        if isinstance(spliced, SplicedFile):  # long: measured from the file, a window at a time
            mix = WavAudio(folder / "mix.wav")
        else:
            mix = units.pcm_to_float(spliced)
    if write_plan:
        fsutil.write_text(folder / "plan.json", json.dumps(plan_data, indent=2) + "\n")
    metrics = measure(feats, mix, scaled(progress, 0.1, 1.0))
    rel = os.path.relpath(final, record["session"])
    take_files = {
        "mix": _rel(files["mix"], record["session"]),
        "stems": {k[5:]: _rel(v, record["session"]) for k, v in files.items() if k.startswith("stem:")},
        "midi": _rel(files["midi"], record["session"]) if "midi" in files else None,
        "report": _rel(str(final / "report.json"), record["session"]),
    }
    take = {k: v for k, v in record.items() if k != "session"}
    bpm = [round(float(min(plan_data["bpm"])), 2), round(float(max(plan_data["bpm"])), 2)]
    take.update({"folder": rel, "bpm": bpm, "files": take_files, "metrics": metrics})
    rep = {**take, "version": __version__}
    fsutil.write_text(folder / "report.json", json.dumps(rep, indent=2) + "\n")
    return take


def _rel(path: str, session: str) -> str:
    return Path(os.path.relpath(path, session)).as_posix()


def _write_timeline(
    session: Session,
    timeline: Timeline,
    version: int,
    where: Callable[[str], str],
    into: Path,
    final_root: Path,
    fmt: str | None = None,
    basename: str | None = None,
) -> dict[str, Any]:
    """Write the timeline for the session's selection (version ``version``)
    into ``into``; ``where(rel)`` says where a session file is right now and
    ``final_root / rel`` where it will be. Returns the version's record.
    ``fmt`` and ``basename`` default to the first take's format and
    ``timeline`` / ``timeline-vN``."""
    from ..writeback import MusicFile, Piece, write_timelines

    data = session.data
    rate = timeline.rate

    def pieces(role: str) -> tuple[Piece, ...]:
        out = []
        for seg in data["selection"]:
            t = session.take(seg["take"])
            rel = t["files"]["mix"] if role == "mix" else t["files"]["stems"][role]
            meta = {"take": t["id"], "seed": t["seed"], "backend": t["backend"]}
            out.append(Piece(where(rel), seg["start_frame"], seg["end_frame"], str(final_root / rel), meta))
        return tuple(out)

    first = session.take(data["selection"][0]["take"])
    opts = options_from_record(first["options"])
    music = [MusicFile("mix", pieces=pieces("mix"))]
    if opts.stem_tracks:
        music += [MusicFile(stem, pieces=pieces(stem)) for stem in first["files"]["stems"]]
    plan = json.loads(Path(where(first["plan"])).read_text(encoding="utf-8"))
    markers = plan_markers(plan, opts.markers, rate, timeline.duration_frames)
    if basename is None:
        basename = "timeline" if version == 1 else f"timeline-v{version}"
    provenance = {"session": str(final_root), "timeline_version": version, "version": __version__}
    written = write_timelines(timeline, music, into, fmt or opts.fmt, provenance, basename, markers)
    return {
        "version": version,
        "created": now(),
        "files": {k: Path(v).name for k, v in written.paths.items()},
        "selection": [dict(s) for s in data["selection"]],
        "notes": list(written.notes),
    }


def _analyse_plan_generate(
    src: Path, opts: ScoreOptions, progress: ProgressFn | None, cancel: CancelToken | None
) -> tuple[VideoFeatures, RhythmPlan, str, Music]:
    """A take's first steps (progress 0 to 0.7): the picture analysed, the plan
    made, the music generated on it; the plan is the one the music kept."""
    feats = _features(str(src), opts, scaled(progress, 0.0, 0.5), cancel)
    p, style = _plan(feats, opts)
    report(progress, 0.5, "generating")
    check(cancel)
    music = _generate(p, feats, style, opts, scaled(progress, 0.5, 0.7), cancel)
    check(cancel)
    return feats, music.plan or p, style, music


def _generate(
    plan: RhythmPlan,
    feats: VideoFeatures,
    style: str,
    o: ScoreOptions,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Music:
    """The whole cue's music from the backend ``o.backend`` names."""
    from .. import backends

    return backends.get(o.backend).generate(plan, feats, backend_settings(o, style), progress, cancel)


def _take_record(
    session_dir: Path,
    take_id: int,
    kind: str,
    o: ScoreOptions,
    music: Music,
    plan_rel: str,
    **extra: Any,
) -> dict[str, Any]:
    """A take's record: its options and the music's provenance."""
    prov = music.provenance
    return {
        "session": str(session_dir),
        "id": take_id,
        "kind": kind,
        "created": now(),
        "backend": prov.backend,
        "model": prov.model,
        "soundfont": prov.soundfont,
        "style": prov.style,
        "key": prov.key,
        "key_number": _key_number(prov.key),
        "seed": prov.seed,
        "bar_seeds": {str(k): v for k, v in sorted(prov.bar_seeds.items())},
        "prompt": o.prompt,
        "options": _options(o),
        "plan": plan_rel,
        "version": __version__,
        **prov.extra,
        **extra,
    }


def _key_number(key: str) -> int | None:
    """pretty_midi's number (0-11 major, 12-23 minor) of a take's key, None when unknown."""
    from ..backends.arranger.keys import Key, parse_key

    if not key:
        return None
    k = parse_key(key)
    return None if k.tonic is None else Key(k.tonic, k.mode).key_number


def _take_key(take: dict[str, Any]) -> str | None:
    """A take's key as ``--key`` text. A take without ``key_number`` was named
    by the old table, which called D "Eb", Eb "E", F "F#", G "Ab" and A "Bb"."""
    from ..backends.arranger.keys import legacy_key

    key = take.get("key") or None
    if key and "key_number" not in take:
        return legacy_key(key)
    return key


def _summary(feats: VideoFeatures) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for a in feats.anchors:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    return {"shots": len(feats.timeline.shots), "anchors": kinds, "warnings": list(feats.warnings)}


def _timeline_record(feats: VideoFeatures) -> dict[str, Any]:
    tl = feats.timeline
    return {
        "name": tl.name,
        "rate": tl.rate,
        "duration_frames": tl.duration_frames,
        "start_timecode": tl.start_timecode,
        "shots": [
            {
                "index": s.index,
                "start_frame": s.start_frame,
                "end_frame": s.end_frame,
                "name": s.name,
                "style": f.style,
                "valence": round(float(f.valence), 3),
                "arousal": round(float(f.arousal), 3),
            }
            for s, f in zip(tl.shots, feats.shots)
        ],
    }


# --------------------------------------------------------------------------- score


def score(
    input_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    opts: ScoreOptions = ScoreOptions(),  # noqa: B008 (frozen: one shared default is safe)
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    new_take: bool = False,
    wait_s: float = 0.0,
) -> Session:
    """Score ``input_path`` into the session folder ``out``.

    A new ``out`` becomes a session with take 1 (it appears only when
    everything is written). An ``out`` that holds a session is refused unless
    ``new_take``: then a whole new take of the same cut is added and the
    timeline gets a new version that plays it.
    """
    out = Path(out)
    opts.check()
    if (out / "session.json").exists():
        if not new_take:
            n = len(Session.load(out).takes)
            raise OutputError(
                f"{out}: holds a session already ({n} take{'s' * (n != 1)}). Add a take with --new-take, "
                f"redo one shot with vidmusician regenerate {out} --shot N, or score into a new folder."
            )
        return _add_take(Path(input_path), out, opts, progress, cancel, wait_s)
    from ..report.plot import plot
    from ..report.results import output_folder

    src = Path(input_path)
    with output_folder(out) as folder:
        identity = file_identity(src) if src.is_file() else {}
        feats, p, style, music = _analyse_plan_generate(src, opts, progress, cancel)
        final = out.resolve()
        record = _take_record(final, 1, "score", opts, music, "plan.json")
        take = _write_take(
            folder, final, feats, plan_json(p, style), music, record, True, None, scaled(progress, 0.7, 0.93)
        )
        data: dict[str, Any] = {
            "format": "vidmusician-session",
            "version": 1,
            "created": now(),
            "input": {
                "path": str(src.resolve()),
                "format": feats.timeline.source.format,
                "identity": identity,
            },
            "timeline": _timeline_record(feats),
            "analysis": _summary(feats),
            "takes": [take],
            "selection": [{"start_frame": 0, "end_frame": None, "take": 1}],
            "timelines": [],
        }
        session = Session(folder, data)

        def where(rel: str) -> str:
            return str(folder / rel)

        report(progress, 0.93, "writing the timeline")
        data["timelines"].append(_write_timeline(session, feats.timeline, 1, where, folder, out.resolve()))
        report(progress, 0.96, "drawing analysis.png")
        plot(feats, folder / "analysis.png", p)
        session.save()
        report(progress, 1.0, "done")
    warnings = (
        tuple(feats.timeline.warnings)
        + tuple(feats.warnings)
        + tuple(p.warnings)
        + tuple(music.warnings)
        + tuple(data["timelines"][-1]["notes"])
    )
    return Session(out, data, made=1, warnings=warnings)


class _Undo:
    """Paths a session update created; removed again if the update fails."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def undo(self) -> None:
        import shutil

        for p in reversed(self.paths):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _new_take_folder(session: Session, take_id: int, undo: _Undo) -> Any:
    from ..report.results import output_folder

    final = session.out / TAKES_DIR / f"take-{take_id:03d}"
    if not final.parent.exists():
        undo.paths.append(final.parent)  # a failed first new take leaves no empty takes/
    undo.paths.append(final)
    return final, output_folder(final)


def _commit(session: Session, timeline: Timeline, undo: _Undo) -> dict[str, Any]:
    """Write the next timeline version for the selection, then session.json."""
    version = session.next_timeline_version()
    before = set(session.out.iterdir())
    root = session.out.resolve()
    try:
        rec = _write_timeline(session, timeline, version, lambda rel: str(root / rel), root, root)
    finally:
        undo.paths += [p for p in session.out.iterdir() if p not in before]
    session.data["timelines"].append(rec)
    session.save()
    return rec


def _add_take(
    src: Path,
    out: Path,
    opts: ScoreOptions,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    wait_s: float,
) -> Session:
    with locked(out, wait_s):
        session = Session.load(out)
        session.sweep()
        rec_in = session.data["input"]
        if src.resolve() != Path(rec_in["path"]):
            raise InputError(
                f"{src}: this session was scored from {rec_in['path']}; a new take must score the same cut. "
                "Score another cut into a new folder."
            )
        if rec_in.get("identity"):
            check_identity(rec_in["path"], rec_in["identity"])
        feats, p, style, music = _analyse_plan_generate(src, opts, progress, cancel)
        take_id = session.next_take_id()
        undo = _Undo()
        try:
            final, folder_cm = _new_take_folder(session, take_id, undo)
            plan_rel = f"{TAKES_DIR}/take-{take_id:03d}/plan.json"
            record = _take_record(session.out.resolve(), take_id, "score", opts, music, plan_rel)
            with folder_cm as folder:
                take = _write_take(
                    folder,
                    final.resolve(),
                    feats,
                    plan_json(p, style),
                    music,
                    record,
                    True,
                    None,
                    scaled(progress, 0.7, 0.95),
                )
            session.data["takes"].append(take)
            session.data["selection"] = [{"start_frame": 0, "end_frame": None, "take": take_id}]
            report(progress, 0.95, "writing the timeline")
            tl = _commit(session, feats.timeline, undo)
        except BaseException:
            undo.undo()
            raise
        report(progress, 1.0, "done")
    return Session(
        out,
        session.data,
        made=take_id,
        warnings=tuple(p.warnings) + tuple(music.warnings) + tuple(tl["notes"]),
    )
