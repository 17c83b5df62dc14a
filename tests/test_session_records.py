"""Typed session records: ``Take``, ``Piece``/``Selection`` and ``TimelineVersion``
read from real ``session.json`` files and written back byte for byte; the one
``Session.take_under(shot)`` against the computations it replaced."""

from __future__ import annotations

import json
import shutil

import pytest

from vidmusician.core import Piece, Selection, Session, Take, TimelineVersion, demo, wording
from vidmusician.core.session.pipeline import score
from vidmusician.core.session.retake import list_takes, regenerate, use
from vidmusician.core.session.settings import ScoreOptions


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two real sessions: one just scored, one with two shots regenerated and
    a take put back under a shot (whole takes, regenerated takes and a
    selection of five pieces)."""
    cut = demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]
    plain = tmp_path_factory.mktemp("plain") / "out"
    score(cut, plain, ScoreOptions(seed=5))
    edited = tmp_path_factory.mktemp("edited") / "out"
    shutil.copytree(plain, edited)
    score(cut, edited, ScoreOptions(seed=9), new_take=True)  # take 2, a whole take
    regenerate(edited, 1, seed=3)  # take 3 under shot 1
    regenerate(edited, 3, seed=4)  # take 4 under shot 3
    use(edited, 1, 3)  # take 1 back under shot 3
    return plain, edited


# --------------------------------------------------------------------------- round trips


def test_takes_round_trip_exactly(sessions):
    for out in sessions:
        text = (out / "session.json").read_text(encoding="utf-8")
        data = json.loads(text)
        for t in data["takes"]:
            rec = Take.from_json(t)
            assert rec.to_json() == t
            assert json.dumps(rec.to_json(), indent=2) == json.dumps(t, indent=2)  # key order too
        versions = [TimelineVersion.from_json(v).to_json() for v in data["timelines"]]
        assert json.dumps(versions, indent=2) == json.dumps(data["timelines"], indent=2)
        assert Selection.from_json(data["selection"]).to_json() == data["selection"]
        rebuilt = {
            **data,
            "takes": [Take.from_json(t).to_json() for t in data["takes"]],
            "selection": Selection.from_json(data["selection"]).to_json(),
            "timelines": versions,
        }
        assert json.dumps(rebuilt, indent=2) + "\n" == text  # session.json as Session.save writes it


def test_records_say_what_the_json_says(sessions):
    _, edited = sessions
    s = Session.load(edited)
    recs = s.take_records
    assert [t.id for t in recs] == [1, 2, 3, 4]
    assert [t.kind for t in recs] == ["score", "score", "regenerate", "regenerate"]
    assert [t.shot for t in recs] == [None, None, 1, 3]
    assert recs[2].parent == 2 and recs[2].new_seed == 3 and recs[2].seed_used == 3
    assert recs[0].seed_used == 5 and recs[0].range_frames is None
    assert recs[2].range_frames is not None and recs[2].range_frames[0] < recs[2].range_frames[1]
    assert isinstance(recs[0].bpm, tuple) and len(recs[0].bpm) == 2
    assert s.take_record(3) == recs[2]
    assert s.timeline_versions[-1].to_json() == s.timeline
    assert s.timeline_versions[-1].selection == s.selection_record
    assert len(s.selection_record.pieces) >= 3


def test_a_take_made_in_code_writes_its_fields():
    t = Take(1, "score", "arranger", "calm", "C major", 5, "plan.json", ".", (60, 60), {}, {}, {})
    d = t.to_json()
    head = [
        "id",
        "kind",
        "backend",
        "style",
        "key",
        "seed",
        "plan",
        "folder",
        "bpm",
        "files",
        "metrics",
        "options",
    ]
    assert list(d) == head
    assert "shot" not in d and d["bpm"] == [60, 60]
    assert Take.from_json(d).to_json() == d


def test_selection_pieces():
    sel = Selection.from_json(
        [
            {"start_frame": 0, "end_frame": 10, "take": 1},
            {"start_frame": 10, "end_frame": 20, "take": 2},
            {"start_frame": 20, "end_frame": None, "take": 1},
        ]
    )
    assert [sel.take_at(f) for f in (0, 9, 10, 19, 20, 10**9)] == [1, 1, 2, 2, 1, 1]
    assert sel.takes() == [1, 2]
    assert sel.used(1) == [[0, 10], [20, None]]
    assert sel.piece_at(25) == Piece(20, None, 1) and Piece(20, None, 1).frames(30) == (20, 30)


# --------------------------------------------------------------------------- one answer where there were three


def _old_regenerate_and_use(session, shot):
    """score.regenerate's and score.use's: the take at the shot's middle frame."""
    sh = session.shot(shot)
    return session.take_at((sh["start_frame"] + sh["end_frame"]) // 2)


def _old_panel(session, shot):
    """The panel's ``takes_for_shot``: the take loop over the raw selection."""
    sh = session.shot(shot)
    frame = (sh["start_frame"] + sh["end_frame"]) // 2
    for s in session.data["selection"]:
        if s["start_frame"] <= frame and (s["end_frame"] is None or frame < s["end_frame"]):
            return int(s["take"])
    return int(session.data["selection"][-1]["take"])


def _old_cli_piece(session, shot):
    """``vidmusician takes --use``'s: the piece that plays at the shot's middle."""
    end = session.data["timeline"]["duration_frames"]
    sh = session.shot(shot)
    middle = (sh["start_frame"] + sh["end_frame"]) // 2
    return next(
        (s["start_frame"], end if s["end_frame"] is None else s["end_frame"], s["take"])
        for s in session.selection
        if s["start_frame"] <= middle and (s["end_frame"] is None or middle < s["end_frame"])
    )


def test_take_under_agrees_with_the_three_old_computations(sessions):
    for out in sessions:
        s = Session.load(out)
        n = len(s.data["timeline"]["shots"])
        under = [s.take_under(i).id for i in range(n)]
        assert under == [_old_regenerate_and_use(s, i) for i in range(n)]
        assert under == [_old_panel(s, i) for i in range(n)]
        end = s.data["timeline"]["duration_frames"]
        assert [(*s.piece_under(i).frames(end), s.piece_under(i).take) for i in range(n)] == [
            _old_cli_piece(s, i) for i in range(n)
        ]
    assert len(set(under)) >= 3  # the edited session plays several takes under its shots
    assert under[1] == 3 and under[3] == 1


def test_take_under_a_missing_shot_says_which_there_are(sessions):
    from vidmusician.core import InputError

    with pytest.raises(InputError, match="shots 0-"):
        Session.load(sessions[0]).take_under(99)


# --------------------------------------------------------------------------- one summary for the panel and the console


def _old_panel_summary(t):
    style = t.get("style") or "music"
    if t.get("key"):
        what = f"{style} in {t['key']}"
    elif t.get("model"):
        what = f"{style} ({t['model']})"
    else:
        what = style
    bpm = t.get("bpm") or []
    if len(bpm) == 2 and None not in bpm:
        what += f" at {wording.bpm_range(float(bpm[0]), float(bpm[1]))}"
    return f"take {t.get('id', '?')}: {what}; {wording.beat_hits(t.get('metrics') or {})}"


def _old_cli_music(t):
    what = f"{t['style']} in {t['key']}" if t["key"] else f"{t['style']} ({t.get('model')})"
    return f"{what} at {wording.bpm_range(*t['bpm'])}"


def test_summary_and_music_say_what_the_panel_and_the_console_said(sessions):
    for out in sessions:
        for t in Session.load(out).takes:
            rec = Take.from_json(t)
            # the old line, then (issue 18) the sync window's share and the tempo's steadiness as heard
            m = t.get("metrics") or {}
            assert m.get("cut_sync_hit") is not None and m.get("beat_cv") is not None
            sync = f"; {wording.sync_heard(m)}"
            assert rec.summary() == _old_panel_summary(t) + sync and "within +-40 ms" in sync
            assert rec.music() == _old_cli_music(t)
    musicgen = {"id": 3, "style": "rock", "key": "", "model": "debug", "bpm": [120, 120], "metrics": {}}
    assert wording.take_music(musicgen) == _old_cli_music(musicgen) == "rock (debug) at 120 BPM"


def test_list_takes_rows_are_the_takes_and_where_they_play(sessions):
    _, edited = sessions
    s = Session.load(edited)
    old = [
        {
            **t,
            "used": [[p["start_frame"], p["end_frame"]] for p in s.data["selection"] if p["take"] == t["id"]],
        }
        for t in s.takes
    ]
    assert json.dumps(list_takes(edited)) == json.dumps(old)


def test_a_take_from_before_the_loudness_option_keeps_its_level():
    from vidmusician.core.session.settings import options_from_record

    assert options_from_record({"style": "rock"}).loudness == -14.0  # the bus's fixed target then
    assert options_from_record({"style": "rock", "loudness": -16.0}).loudness == -16.0
