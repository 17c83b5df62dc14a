"""The Resolve bridge against a strict double of Resolve's scripting API.

A timeline at 01:00:00:00 (23.976 and 29.97 fps) with three shots on V1, an
overlay on V2 and the editor's dialogue on A1 is exported, scored with the
arranger and applied; per-shot regenerations are applied on top. Known
answers: record frames from the session's selection, the timeline's start
frame (86 400 at 23.976, 108 000 at 29.97), and the editor's tracks unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from vidmusician.core.errors import InputError, OptionError, OutputError
from vidmusician.core.io.timeline import read_timeline
from vidmusician.core.session.pipeline import score
from vidmusician.core.session.retake import regenerate
from vidmusician.core.session.settings import ScoreOptions
from vidmusician.core.session.store import Session
from vidmusician.resolve_plugin import bridge, music
from vidmusician.resolve_plugin.apply import apply_session
from vidmusician.resolve_plugin.bridge import ResolveError, export_timeline

from .conftest import write_video, write_wav
from .resolve_double import RATES, Project, Resolve

START = {"23.976": 86400, "29.97": 108000}
DURATION = 240  # frames
CUTS = (60, 130, 200, 220)  # V1 cuts at 60 and 130; the V2 overlay covers 200-220


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """One source video per rate (colours change at its frames 80 and 160) and a dialogue WAV."""
    d = tmp_path_factory.mktemp("media")
    out = {}
    for name, rate in (("23.976", RATES["23.976"]), ("29.97", RATES["29.97"])):
        out[name] = write_video(d / f"source-{name}.mp4", [80, 160], 320, fps=rate)
    out["dialogue"] = write_wav(d / "dialogue.wav", 5.0)
    return out


def make_resolve(media, rate: str, otio_export: bool = True) -> tuple[Resolve, object]:
    project = Project("Film")
    tl = project.new_timeline("Cut 3", rate)
    src = str(media[rate])
    tl.add_video(1, src, 0, 60, 0)
    tl.add_video(1, src, 60, 70, 90)
    tl.add_video(1, src, 130, 110, 170)
    tl.add_video(2, src, 200, 20, 10)  # an overlay: two more cuts
    tl.add_audio(1, str(media["dialogue"]), 0, 100, 0)
    tl.markers[30] = {"color": "Blue", "duration": 1, "note": "", "name": "editor's", "customData": ""}
    return Resolve(project, otio_export=otio_export), tl


@pytest.fixture(scope="module")
def scored(media, tmp_path_factory):
    """rate -> (exported cut, session folder scored from it), made once per rate."""
    out = {}
    for rate in ("23.976", "29.97"):
        d = tmp_path_factory.mktemp(f"scored-{rate}")
        resolve, _ = make_resolve(media, rate)
        cut = export_timeline(resolve, d / "cut.otio")
        score(cut, d / "session", ScoreOptions(seed=3))
        out[rate] = (cut, d / "session")
    return out


@pytest.fixture
def session(scored, tmp_path, request):
    rate = request.param
    src = scored[rate][1]
    dest = tmp_path / "session"
    shutil.copytree(src, dest)
    return rate, dest


def clips_on(tl, index):
    """(record offset start, end, file) of every clip on audio track ``index``."""
    return [
        (
            it.GetStart() - tl.GetStartFrame(),
            it.GetEnd() - tl.GetStartFrame(),
            it.GetMediaPoolItem().GetClipProperty("File Path"),
        )
        for it in tl.GetItemListInTrack("audio", index)
    ]


def expected_pieces(folder):
    """(start, end, file) the session's selection says (frames from the timeline's first frame)."""
    s = Session.load(folder)
    out = []
    for seg in s.selection:
        end = DURATION if seg["end_frame"] is None else seg["end_frame"]
        out.append((seg["start_frame"], end, str((folder / s.take(seg["take"])["files"]["mix"]).resolve())))
    return out


def editor_part(snapshot, n_video=2, n_audio=1):
    return {"video": snapshot["video"][:n_video], "audio": snapshot["audio"][:n_audio]}


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize("rate", ["23.976", "29.97"])
def test_export_reads_back_into_the_cut(media, tmp_path, rate):
    resolve, tl = make_resolve(media, rate)
    before = tl.snapshot()
    path = export_timeline(resolve, tmp_path / "cut.otio")
    assert tl.exports and tl.exports[0][1] == Resolve.EXPORT_OTIO
    back = read_timeline(path)
    assert back.cut_frames() == CUTS
    assert back.duration_frames == DURATION
    start = otio.adapters.read_from_file(str(path)).global_start_time
    assert start.value == START[rate] and start.rate == pytest.approx(RATES[rate])
    assert back.rate == pytest.approx(RATES[rate])
    assert [s.source_start_s for s in back.shots][:3] == pytest.approx(
        [0, 90 / RATES[rate], 170 / RATES[rate]]
    )
    assert tl.snapshot() == before  # exporting changes nothing
    with pytest.raises(OutputError, match="never overwrites"):
        export_timeline(resolve, path)


@pytest.mark.parametrize("rate", ["23.976", "29.97"])
@pytest.mark.parametrize("how", ["no-otio-export", "export-fails"])
def test_fallback_export_through_the_api_reads_into_the_same_shots(media, tmp_path, rate, how):
    resolve, tl = make_resolve(media, rate)
    native = read_timeline(export_timeline(resolve, tmp_path / "native.otio"))
    if how == "no-otio-export":
        resolve, tl = make_resolve(media, rate, otio_export=False)
    else:
        tl.export_unavailable = True
    notes = []
    path = export_timeline(resolve, tmp_path / "api.otio", note=notes.append)
    assert "through the scripting API" in notes[0]
    assert ("18.5" in notes[0]) == (how == "no-otio-export")
    back = read_timeline(path)
    assert back.cut_frames() == native.cut_frames() == CUTS
    assert back.duration_frames == DURATION
    assert otio.adapters.read_from_file(str(path)).global_start_time.value == START[rate]
    assert [(s.start_frame, s.end_frame, s.media, s.source_start_s) for s in back.shots] == [
        (s.start_frame, s.end_frame, s.media, pytest.approx(s.source_start_s)) for s in native.shots
    ]
    assert not list(tmp_path.glob(".api.otio*"))  # no temporary left behind


def test_bridge_is_inert_at_import_and_clear_without_a_project(tmp_path):
    code = (
        "import sys; import vidmusician.resolve_plugin.bridge; "
        "assert not {'DaVinciResolveScript', 'PyQt6', 'torch'} & set(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
    nothing_open = Resolve()
    nothing_open.pm.project = None
    with pytest.raises(ResolveError, match="no project is open"):
        export_timeline(nothing_open, tmp_path / "x.otio")
    with pytest.raises(ResolveError, match="has no current timeline"):
        export_timeline(Resolve(Project("Empty")), tmp_path / "x.otio")
    assert not (tmp_path / "x.otio").exists()


# --------------------------------------------------------------------------- apply


@pytest.mark.parametrize("session", ["23.976", "29.97"], indirect=True)
def test_apply_places_the_music_and_changes_nothing_else(media, session):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    before = tl.snapshot()
    progress = []
    rep = apply_session(resolve, folder, markers="none", progress=lambda f, label: progress.append(f))
    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert rep.tracks == {"VidMusician Mix": 2} and rep.new_tracks == ["VidMusician Mix"]
    assert tl.GetTrackName("audio", 2) == "VidMusician Mix" and tl.audio_types[1] == "stereo"
    mix = str((folder / "mix.wav").resolve())
    assert clips_on(tl, 2) == [(0, DURATION, mix)]
    (item,) = tl.GetItemListInTrack("audio", 2)
    assert item.GetStart() == START[rate] and item.GetEnd() == START[rate] + DURATION
    assert item.GetLeftOffset() == 0  # the file's first frame is the timeline's first frame
    after = tl.snapshot()
    assert editor_part(after) == editor_part(before)  # the editor's tracks and clips, untouched
    assert len(after["audio"]) == 2 and len(after["video"]) == 2
    assert tl.markers == {30: before_markers()}  # markers="none": the editor's marker only
    bin_ = [f for f in resolve.project.media_pool.root.GetSubFolderList() if f.GetName() == "VidMusician"]
    assert len(bin_) == 1 and [c.GetClipProperty("File Path") for c in bin_[0].GetClipList()] == [mix]
    assert resolve.project.media_pool.GetCurrentFolder() is resolve.project.media_pool.root  # put back
    assert "1 clip placed" in rep.summary()


def before_markers():
    return {"color": "Blue", "duration": 1, "note": "", "name": "editor's", "customData": ""}


@pytest.mark.parametrize("session", ["23.976", "29.97"], indirect=True)
def test_regenerated_shots_replace_only_the_music_under_them(media, session):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    before = tl.snapshot()
    apply_session(resolve, folder)
    (first,) = tl.GetItemListInTrack("audio", 2)

    regenerate(folder, 1)  # shot 1 = frames 60-130
    rep = apply_session(resolve, folder)
    want = expected_pieces(folder)
    assert len(want) == 3 and want[1][2].endswith("take-002/mix.wav")
    assert want[1][0] <= 60 and want[1][1] >= 130  # the bars under the shot
    assert clips_on(tl, 2) == want
    assert rep.tracks == {"VidMusician Mix": 2} and rep.new_tracks == []  # the same track
    assert (rep.removed, rep.kept, len(rep.placed)) == (1, 0, 3)
    assert first in tl.deleted
    assert editor_part(tl.snapshot()) == editor_part(before)
    assert tl.GetTrackCount("audio") == 2
    kept_ids = {it.GetUniqueId(): (it.GetStart(), it.GetEnd()) for it in tl.GetItemListInTrack("audio", 2)}

    regenerate(folder, 3)  # the last V1 shot (130-200): the music before it stays where it is
    rep = apply_session(resolve, folder)
    want = expected_pieces(folder)
    assert clips_on(tl, 2) == want
    untouched = [it for it in tl.GetItemListInTrack("audio", 2) if it.GetUniqueId() in kept_ids]
    assert rep.kept == len(untouched) >= 1 and rep.removed == 3 - rep.kept
    for it in untouched:
        assert kept_ids[it.GetUniqueId()] == (it.GetStart(), it.GetEnd())
    assert editor_part(tl.snapshot()) == editor_part(before)

    again = apply_session(resolve, folder)  # the same version once more: nothing to do
    assert (len(again.placed), again.removed, again.kept) == (0, 0, len(want))
    assert clips_on(tl, 2) == want
    imported = [p for batch in resolve.project.media_pool.imports for p in batch]
    assert len(imported) == len(set(imported)) == 3  # each take's file imported once


@pytest.mark.parametrize("session", ["23.976"], indirect=True)
@pytest.mark.parametrize("kind", ["downbeats", "cuts"])
def test_markers_where_asked_and_the_editors_kept(media, session, kind):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    plan = json.loads((folder / "plan.json").read_text())
    r = RATES[rate]
    if kind == "downbeats":
        want = {round(t * r) for t in plan["downbeats_s"][:-1]}
    else:
        want = {round(a["time_s"] * r) for a in plan["anchors"] if a["hard"] and a["on"] != "missed"}
    want = {f for f in want if 0 <= f < DURATION}
    assert want
    tl.markers[min(want)] = {"color": "Blue", "duration": 1, "note": "", "name": "mine", "customData": ""}
    rep = apply_session(resolve, folder, markers=kind)
    ours = {f for f, m in tl.markers.items() if m["customData"].startswith("vidmusician")}
    assert ours == want - {min(want)} and set(rep.markers) == ours
    assert tl.markers[min(want)]["name"] == "mine" and tl.markers[30]["name"] == "editor's"
    assert any("not added: a marker of yours" in n for n in rep.notes)
    colour = "Green" if kind == "downbeats" else "Red"
    assert {tl.markers[f]["color"] for f in ours} == {colour}
    apply_session(resolve, folder, markers=kind)  # again: ours replaced, not doubled
    assert {f for f, m in tl.markers.items() if m["customData"].startswith("vidmusician")} == ours


@pytest.mark.parametrize("session", ["29.97"], indirect=True)
def test_another_sessions_track_is_left_alone(media, session, tmp_path):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    apply_session(resolve, folder)
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    snap = tl.snapshot()
    rep = apply_session(resolve, other)
    assert rep.tracks == {"VidMusician Mix 2": 3}
    assert tl.snapshot()["audio"][:2] == snap["audio"][:2]
    assert clips_on(tl, 3) == [(0, DURATION, str((other / "mix.wav").resolve()))]


@pytest.mark.parametrize("session", ["23.976"], indirect=True)
def test_a_session_that_does_not_fit_the_timeline_is_refused(media, session):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    tl.add_video(1, str(media[rate]), 240, 24, 0)  # the cut grew by a second
    with pytest.raises(InputError, match="240 frames.*264 frames long"):
        apply_session(resolve, folder)
    resolve, tl = make_resolve(media, "29.97")
    with pytest.raises(InputError, match="23.976 fps.*29.970 fps"):
        apply_session(resolve, folder)
    with pytest.raises(OptionError, match="choose one of none, downbeats, cuts"):
        apply_session(resolve, folder, markers="beats")
    assert tl.GetTrackCount("audio") == 1  # nothing was added before the refusal
    with pytest.raises(InputError, match="not a VidMusician session folder"):
        apply_session(resolve, folder / "stems")


@pytest.mark.parametrize("session", ["23.976"], indirect=True)
def test_a_clip_placed_elsewhere_is_a_clear_error_and_is_taken_back(media, session, monkeypatch):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    pool = resolve.project.media_pool
    real = pool.AppendToTimeline

    def like_resolve_before_18_1(infos):  # recordFrame and trackIndex ignored: appended after A1's last clip
        return real([{k: v for k, v in i.items() if k not in ("recordFrame", "trackIndex")} for i in infos])

    monkeypatch.setattr(pool, "AppendToTimeline", like_resolve_before_18_1, raising=False)
    before = tl.snapshot()
    with pytest.raises(ResolveError, match=r"landed on frames 100-340 instead of 0-240.*Resolve 18 "):
        apply_session(resolve, folder)
    assert tl.GetItemListInTrack("audio", 2) == []  # what it placed was taken back
    assert editor_part(tl.snapshot()) == editor_part(before)

    monkeypatch.setattr(pool, "AppendToTimeline", real)  # music on the track, then a misplacing Resolve
    apply_session(resolve, folder)
    regenerate(folder, 1)
    placed_before = clips_on(tl, 2)
    calls = []

    def misplaces_the_new_pieces(infos):
        calls.append(infos)
        if len(calls) == 1:
            return real([{**i, "recordFrame": i["recordFrame"] + 1000} for i in infos])
        return real(infos)  # putting VidMusician's earlier clip back

    monkeypatch.setattr(pool, "AppendToTimeline", misplaces_the_new_pieces)
    with pytest.raises(ResolveError, match="landed on frames 1000-"):
        apply_session(resolve, folder)
    assert clips_on(tl, 2) == placed_before  # the earlier music is back where it was
    assert editor_part(tl.snapshot()) == editor_part(before)


def test_timeline_rate_names():
    class T:
        def __init__(self, v):
            self.v = v

        def GetSetting(self, name):
            assert name == "timelineFrameRate"
            return self.v

    assert bridge.timeline_rate(T("23.976")) == 24000 / 1001
    assert bridge.timeline_rate(T("29.97 DF")) == 30000 / 1001
    assert bridge.timeline_rate(T("25")) == 25.0
    with pytest.raises(ResolveError, match="not a number"):
        bridge.timeline_rate(T(""))


def test_session_music_matches_the_written_timeline(scored):
    _, folder = scored["23.976"]
    m = music.session_music(folder)
    t = otio.adapters.read_from_file(str(folder / "timeline.otio"))
    assert m.tracks == ("VidMusician Mix",) and m.version == 1
    assert [(p.start, p.end, p.source_start, p.take) for p in m.pieces] == [(0, DURATION, 0, 1)]
    assert len(t.audio_tracks()) == 2  # the editor's dialogue and the mix


def test_a_deeply_nested_session_timeline_is_refused_before_otio_reads_it(scored, tmp_path):
    """OTIO's C++ reader crashes on very deep JSON: the bridge checks the depth first."""
    _, folder = scored["23.976"]
    dest = tmp_path / "session"
    shutil.copytree(folder, dest)
    text = (dest / "timeline.otio").read_text()
    (dest / "timeline.otio").write_text(
        text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 20000 + "]" * 20000 + ", ", 1)
    )
    with pytest.raises(InputError, match="nested over 200 levels"):
        music.session_music(dest)


# --------------------------------------------------------------------------- the menu's round trip

FAKE_PANEL = """
import shutil, sys
from vidmusician.core.session.handoff import make, write_handoff
src, session, handoff, status = sys.argv[1:5]
if status == "ok":
    shutil.copytree(src, session)
    write_handoff(handoff, make("ok", session, "downbeats"))
elif status == "cancelled":
    write_handoff(handoff, make("cancelled"))
else:
    sys.exit(1)  # closed without a word
"""


def fake_panel(scored_session, status, seen):
    def launch(argv):
        seen.append(argv)
        _exe, verb, exported, o, session, h, handoff = argv
        assert (verb, o, h) == ("panel", "-o", "--handoff")
        assert read_timeline(exported).cut_frames() == CUTS  # the panel gets the exported cut
        return subprocess.Popen(
            [sys.executable, "-c", FAKE_PANEL, str(scored_session), session, handoff, status]
        )

    return launch


def test_menu_round_trip_applies_what_the_panel_sends(media, scored, tmp_path):
    from vidmusician.resolve_plugin import run

    resolve, tl = make_resolve(media, "23.976")
    before = tl.snapshot()
    exe = tmp_path / "venv" / "bin" / "vidmusician"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    seen, lines = [], []
    code = run.run(
        resolve, exe, tmp_path / "sessions", fake_panel(scored["23.976"][1], "ok", seen), lines.append, 60
    )
    assert code == 0, lines
    (argv,) = seen
    assert argv[0] == str(exe)
    work = tmp_path / "sessions" / "Cut 3"
    (stamp,) = list(work.iterdir())
    assert argv[2:] == [
        str(stamp / "cut.otio"),
        "-o",
        str(stamp / "session"),
        "--handoff",
        str(stamp / "handoff.json"),
    ]
    assert clips_on(tl, 2) == [(0, DURATION, str((stamp / "session" / "mix.wav").resolve()))]
    assert any(m["customData"].startswith("vidmusician") for m in tl.markers.values())  # downbeats, as sent
    assert editor_part(tl.snapshot()) == editor_part(before)
    assert "1 clip placed" in lines[-1]


@pytest.mark.parametrize(
    ("status", "says"), [("cancelled", "closed without sending"), ("exit", "exit status 1")]
)
def test_menu_round_trip_without_music_changes_nothing(media, scored, tmp_path, status, says):
    from vidmusician.resolve_plugin import run

    resolve, tl = make_resolve(media, "29.97")
    before = tl.snapshot()
    exe = tmp_path / "vidmusician"
    exe.write_text("")
    lines = []
    code = run.run(resolve, exe, tmp_path / "s", fake_panel(scored["29.97"][1], status, []), lines.append, 60)
    assert code == 1 and says in lines[-1]
    assert tl.snapshot() == before and tl.markers == {30: before_markers()}


def test_menu_round_trip_errors_are_messages(media, tmp_path):
    from vidmusician.resolve_plugin import run

    resolve, _ = make_resolve(media, "23.976")
    lines = []
    assert run.run(resolve, tmp_path / "absent", tmp_path / "s", say=lines.append) == 2
    assert "install/install.py" in lines[-1] and not (tmp_path / "s").exists()
    nothing = Resolve()
    nothing.pm.project = None
    (tmp_path / "vm").write_text("")
    assert run.run(nothing, tmp_path / "vm", tmp_path / "s", say=lines.append) == 2
    assert "no project is open" in lines[-1]
    assert run.safe_name("A/B: cut 3?") == "A_B_ cut 3_"
    assert run.vidmusician_exe("/v", windows=True).parts[-2:] == ("Scripts", "vidmusician.exe")
    assert run.vidmusician_exe("/v", windows=False).parts[-2:] == ("bin", "vidmusician")


def test_menu_script_shim(tmp_path, monkeypatch, capsys):
    from vidmusician.resolve_plugin import menu_script as m

    monkeypatch.setattr(m, "utility_dirs", lambda: [str(tmp_path / "none")])
    assert m.main(None, str(tmp_path)) == 2
    assert "install/install.py" in capsys.readouterr().out
    cfg_path = tmp_path / "VidMusician.json"
    cfg = {"format": "vidmusician-resolve-config", "python": str(tmp_path / "gone" / "python")}
    cfg_path.write_text(json.dumps(cfg))
    assert m.main(None, str(tmp_path)) == 2
    assert "Python environment is missing" in capsys.readouterr().out
    cfg.update(
        python=sys.executable,
        vidmusician="/x/vidmusician",
        sessions=str(tmp_path / "s"),
        python_version="2.7",
    )
    cfg_path.write_text(json.dumps(cfg))
    calls = []

    def runner(argv, **kw):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 1, "VidMusician: the panel was closed\n")

    assert m.main(object(), str(tmp_path), runner) == 1  # another Python version: the backend's own process
    assert calls == [[sys.executable, "-m", "vidmusician.resolve_plugin.run", "--config", str(cfg_path)]]
    assert "panel was closed" in capsys.readouterr().out
    cfg["python_version"] = "{}.{}".format(*sys.version_info[:2])
    cfg_path.write_text(json.dumps(cfg))
    got = []
    monkeypatch.setattr("vidmusician.resolve_plugin.run.run", lambda *a, **k: got.append(a) or 0)
    resolve = object()
    assert m.main(resolve, str(tmp_path), runner) == 0  # same version: in Resolve's own process
    assert got == [(resolve, "/x/vidmusician", str(tmp_path / "s"))] and len(calls) == 1


def test_menu_script_is_python36_syntax():
    import ast

    from .conftest import REPO

    src = (REPO / "resolve_plugin" / "menu_script.py").read_text()
    ast.parse(src, feature_version=(3, 6))
    assert "import vidmusician" not in src.split("def in_process")[0]  # nothing but stdlib at the top


def test_stem_tracks_each_get_a_track_of_their_own(media, tmp_path):
    resolve, tl = make_resolve(media, "23.976")
    before = tl.snapshot()
    cut = export_timeline(resolve, tmp_path / "cut.otio")
    s = score(cut, tmp_path / "session", ScoreOptions(seed=3, stem_tracks=True))
    stems = sorted(s.take(1)["files"]["stems"])
    rep = apply_session(resolve, tmp_path / "session")
    names = ["VidMusician Mix", *(f"VidMusician Stem {r}" for r in s.take(1)["files"]["stems"])]
    assert list(rep.tracks) == names and list(rep.tracks.values()) == list(range(2, 2 + len(names)))
    assert len(stems) >= 3
    for name, idx in rep.tracks.items():
        assert tl.GetTrackName("audio", idx) == name
        ((a, b, path),) = clips_on(tl, idx)
        assert (a, b) == (0, DURATION)
        role = name.rsplit(" ", 1)[-1]
        assert path.endswith("mix.wav" if name.endswith("Mix") else f"stems/{role}.wav")
        # the stems are the mix in parts: switched off, so the timeline plays the mix once
        assert tl.GetIsTrackEnabled("audio", idx) is name.endswith("Mix")
    assert rep.disabled == names[1:] and "(new, disabled)" in rep.summary()
    assert editor_part(tl.snapshot()) == editor_part(before)
    # applied again, a stem the editor switched back on stays on
    tl.SetTrackEnable("audio", rep.tracks[names[1]], True)
    again = apply_session(resolve, tmp_path / "session")
    assert again.disabled == [] and tl.GetIsTrackEnabled("audio", rep.tracks[names[1]]) is True


# --------------------------------------------------------------------------- vidmusician resolve ...


def cli(*args):
    import io

    from vidmusician.core.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["-q", *map(str, args)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("session", ["29.97"], indirect=True)
def test_resolve_command_exports_and_applies_through_the_running_resolve(
    media, session, monkeypatch, tmp_path
):
    rate, folder = session
    resolve, tl = make_resolve(media, rate)
    monkeypatch.setattr(bridge, "connect", lambda: resolve)
    code, out, err = cli("resolve", "export", tmp_path / "cut.otio")
    assert code == 0, err
    assert [s.start_frame for s in read_timeline(tmp_path / "cut.otio").shots] == [0, 60, 130, 200, 220]
    code, out, err = cli("resolve", "apply", folder, "--markers", "downbeats")
    assert code == 0, err
    assert "1 clip placed" in out
    assert clips_on(tl, 2) == [(0, DURATION, str((folder / "mix.wav").resolve()))]
    assert any(m["customData"].startswith("vidmusician") for m in tl.markers.values())


def test_resolve_command_without_resolve_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(
        bridge,
        "connect",
        lambda: (_ for _ in ()).throw(ResolveError("DaVinci Resolve did not answer. Start Resolve.")),
    )
    code, _, err = cli("resolve", "apply", tmp_path)
    assert code == 2 and err.strip() == "vidmusician: error: DaVinci Resolve did not answer. Start Resolve."


def test_menu_round_trip_with_the_real_panel_process(media, tmp_path):
    """The menu's round trip starting the real ``vidmusician panel`` (offscreen,
    drawn once after generating, then closed without Send): the panel takes the
    command line run.py gives it, scores the exported cut into the session
    folder, and its hand-off says "cancelled", so the timeline is unchanged."""
    import os

    pytest.importorskip("PyQt6.QtWidgets")
    from vidmusician.resolve_plugin import run

    resolve, tl = make_resolve(media, "23.976")
    before = tl.snapshot()
    exe = Path(sys.executable).with_name("vidmusician")
    png = tmp_path / "panel.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    launched = []

    def launch(argv):
        launched.append(argv)
        return subprocess.Popen([*argv, "--screenshot", str(png), "--after", "generate"], env=env)

    lines = []
    code = run.run(resolve, exe, tmp_path / "sessions", launch, lines.append, 300)
    assert code == 1 and "closed without sending" in lines[-1], lines
    (argv,) = launched
    session = Path(argv[argv.index("-o") + 1])
    assert [t["id"] for t in Session.load(session).takes] == [1]  # the panel really scored the export
    assert json.loads(Path(argv[argv.index("--handoff") + 1]).read_text())["status"] == "cancelled"
    assert png.is_file()
    assert tl.snapshot() == before
