"""``score``: the one pipeline from a cut to music on its timeline, kept as a session.

``score`` reads, analyses, plans, generates (the arranger by default), writes
the take and the timeline with the music, and reports. The command line, the
Qt panel and Resolve all call it, and then :func:`regenerate` (new music under
one shot), :func:`use` (switch a shot back to another take) and
:func:`list_takes` on the session it made (:mod:`.session`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, fsutil, units
from ..analysis.analyze import analyze
from ..errors import InputError, OptionError, OutputError
from ..io.blockaudio import WavAudio
from ..model import BackendSettings, Music, Span, Timeline, VideoFeatures
from ..options import BY_NAME
from ..progress import CancelToken, ProgressFn, check, report, scaled
from ..rhythm.planner import RhythmPlan
from ..rhythm.planning import plan_json
from .splice import SR, SplicedFile, SpliceRange
from .store import TAKES_DIR, Session, check_identity, file_identity, locked, now, set_range


@dataclass(frozen=True)
class ScoreOptions:
    style: str | None = None
    prompt: str = ""
    bpm: str | None = None
    seed: int = 0
    key: str | None = None
    meter: str = "4/4"
    flex: float = 1.0
    max_change: float = 0.06
    ring_out: float = 2.0
    soundfont: str | None = None
    fmt: str = "same"
    stem_tracks: bool = False
    markers: str = "none"
    backend: str = "arranger"
    model: str | None = None
    adapters: str | None = None
    rate: float | None = None
    scene_detector: str = "adaptive"
    scene_threshold: float | None = None
    cache: bool = True
    clip: str | None = None

    def check(self) -> None:
        """Refuse bad choices before any work."""
        from ..backends.arranger.styles import get_style
        from ..writeback import FORMATS

        for f in dataclasses.fields(self):  # the options table's types and ranges, as for a flag
            opt = BY_NAME.get("format" if f.name == "fmt" else f.name)
            if opt is not None:
                opt.check(getattr(self, f.name))
        if self.style:
            get_style(self.style)
        BY_NAME["backend"].check(self.backend)
        BY_NAME["markers"].check(self.markers)
        BY_NAME["key"].check(self.key)
        from .. import backends

        backends.get(self.backend).check(_settings(self, self.style))
        if self.fmt not in FORMATS:
            raise OptionError(f"--format {self.fmt}: choose one of {', '.join(FORMATS)}.")


def _settings(o: ScoreOptions, style: str | None) -> BackendSettings:
    """What the backend reads of ``o``, with the style planning chose."""
    return BackendSettings(style, o.prompt, o.seed, o.key, o.meter, o.soundfont, o.model, o.adapters)


def options_from(settings: dict[str, Any]) -> ScoreOptions:
    """ScoreOptions from settings of the options table (``options.resolve``):
    what the command line and the panel both call."""
    names = {f.name for f in dataclasses.fields(ScoreOptions)}
    values = {("fmt" if k == "format" else k): v for k, v in settings.items()}
    values = {k: v for k, v in values.items() if k in names}
    values["prompt"] = values.get("prompt") or ""
    return ScoreOptions(**values)


def prompt_style(prompt: str | None) -> str | None:
    """The first style a prompt word names ("epic" -> cinematic), if any."""
    from ..backends.arranger.styles import PROMPT_STYLE

    for word in (prompt or "").lower().split():
        if word.strip(",.") in PROMPT_STYLE:
            return PROMPT_STYLE[word.strip(",.")]
    return None


# --------------------------------------------------------------------------- pieces


def _features(
    input_path: str, o: ScoreOptions, progress: ProgressFn | None, cancel: CancelToken | None
) -> VideoFeatures:
    return analyze(input_path, o.rate, o.scene_detector, o.scene_threshold, o.cache, o.clip, progress, cancel)


def _plan(feats: VideoFeatures, o: ScoreOptions) -> tuple[RhythmPlan, str]:
    from ..rhythm.planning import plan_for

    return plan_for(
        feats, o.style or prompt_style(o.prompt), o.bpm, o.meter, o.flex, o.max_change, o.ring_out
    )


def _options(o: ScoreOptions) -> dict[str, Any]:
    return dataclasses.asdict(o)


def _from_record(d: dict[str, Any]) -> ScoreOptions:
    names = {f.name for f in dataclasses.fields(ScoreOptions)}
    return ScoreOptions(**{k: v for k, v in d.items() if k in names})


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
    opts = _from_record(first["options"])
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

    return backends.get(o.backend).generate(plan, feats, _settings(o, style), progress, cancel)


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
    opts: ScoreOptions = ScoreOptions(),
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
        feats = _features(str(src), opts, scaled(progress, 0.0, 0.5), cancel)
        p, style = _plan(feats, opts)
        report(progress, 0.5, "generating")
        check(cancel)
        music = _generate(p, feats, style, opts, scaled(progress, 0.5, 0.7), cancel)
        p = music.plan or p
        check(cancel)
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
        feats = _features(str(src), opts, scaled(progress, 0.0, 0.5), cancel)
        p, style = _plan(feats, opts)
        report(progress, 0.5, "generating")
        check(cancel)
        music = _generate(p, feats, style, opts, scaled(progress, 0.5, 0.7), cancel)
        p = music.plan or p
        check(cancel)
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


# --------------------------------------------------------------------------- regenerate and use


def shot_range(downbeats_s: np.ndarray, start_s: float, end_s: float) -> SpliceRange:
    """The bars under a shot: from the bar line at or before its first frame
    to the bar line at or after its end (the music's tail when that is the
    timeline's end)."""
    from ..backends.arranger import bars_in

    downs = np.asarray(downbeats_s, float)
    bars = bars_in(downs, start_s, end_s)
    if not bars:  # a shot shorter than the tolerance: the bar it starts in
        bars = [max(0, int(np.searchsorted(downs, start_s, side="right")) - 1)]
    last = bars[-1] + 1
    end = None if last >= len(downs) - 1 else float(downs[last])
    return SpliceRange(float(downs[bars[0]]), end)


def _session_context(
    session: Session, take_id: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> tuple[VideoFeatures, dict[str, Any], ScoreOptions]:
    """Analysis (from the cache) and the stored plan of a take."""
    rec_in = session.data["input"]
    if rec_in.get("identity"):
        check_identity(rec_in["path"], rec_in["identity"])
    take = session.take(take_id)
    o = _from_record(take["options"])
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
    from ..backends.arranger.render import LONG_S
    from .splice import matching_gain, matching_gain_file, read_pcm, splice, wav_frames

    out = Path(out)
    with locked(out, wait_s):
        session = Session.load(out)
        session.sweep()
        base_id = session.take_under(shot).id
        base = session.take(base_id)
        if base["backend"] not in backends.AVAILABLE_BACKENDS:
            raise OptionError(
                f"take {base_id} was made by the {base['backend']} backend, which is not installed."
            )
        feats, stored, o = _session_context(session, base_id, scaled(progress, 0.0, 0.4), cancel)
        s = feats.timeline.shots[shot]
        rng = shot_range(np.asarray(stored["downbeats_s"]), s.start_s, s.end_s)
        take_id = session.next_take_id()
        pick = np.random.default_rng([base["seed"], shot, take_id])
        new_seed = int(seed) if seed is not None else int(pick.integers(2**31))
        old_paths = {"mix": session.out / base["files"]["mix"]}
        old_paths.update({k: session.out / v for k, v in base["files"]["stems"].items()})
        long = wav_frames(old_paths["mix"]) > LONG_S * SR  # spliced a block at a time
        old = {} if long else {role: read_pcm(path) for role, path in old_paths.items()}
        o = dataclasses.replace(o, key=_take_key(base) or o.key)  # the shot keeps the take's key

        def base_mix() -> np.ndarray:
            pcm = old["mix"] if old else read_pcm(old_paths["mix"])
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
            feats, _settings(o, base["style"]), span, scaled(progress, 0.45, 0.8), cancel
        )
        new_seed = new_seed if music.provenance.range_seed is None else music.provenance.range_seed
        warnings = list(music.warnings)
        if music.matched:
            gain = 1.0
        elif long:
            gain = matching_gain_file(old_paths["mix"], music.mix, rng)
        else:
            gain = matching_gain(old["mix"], np.asarray(music.mix), rng)
        check(cancel)
        report(progress, 0.8, "splicing")
        new = {"mix": music.mix, **music.stems}
        pcm: dict[str, np.ndarray | SplicedFile]
        if long:
            pcm = {role: SplicedFile(old_paths[role], new[role], rng, gain) for role in old_paths}
        else:
            pcm = {role: splice(old[role], np.asarray(new[role]), rng, gain) for role in old}
        f0, f1 = rng.frames(feats.timeline.rate)
        undo = _Undo()
        try:
            final, folder_cm = _new_take_folder(session, take_id, undo)
            record = _take_record(
                session.out.resolve(),
                take_id,
                "regenerate",
                o,
                music,
                base["plan"],
                parent=base_id,
                shot=shot,
                new_seed=new_seed,
                range_s=[rng.start_s, rng.end_s],
                fade_s=rng.fade_s,
                range_frames=[f0, f1],
                gain=round(gain, 6),
            )
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
            tl = _commit(session, feats.timeline, undo)
        except BaseException:
            undo.undo()
            raise
        report(progress, 1.0, "done")
    return Session(out, session.data, made=take_id, warnings=tuple(warnings) + tuple(tl["notes"]))


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
                np.asarray(plan["downbeats_s"]), sh["start_frame"] / rate, sh["end_frame"] / rate
            )
            f0, f1 = rng.frames(rate)
        base = session.take(session.take_under(shot).id)
        rec_in = session.data["input"]
        if rec_in.get("identity"):
            check_identity(rec_in["path"], rec_in["identity"])
        check(cancel)
        feats = _features(rec_in["path"], _from_record(base["options"]), progress, cancel)
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
        timeline = _features(rec_in["path"], _from_record(first["options"]), progress, cancel).timeline
    check(cancel)
    from ..writeback import extension, formats_for, writers

    stem = dest.stem if dest.suffix.lower() in {w.extension for w in writers()} else dest.name
    first_opts = _from_record(session.take(session.selection[0]["take"])["options"])
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
