"""Sessions: takes, per-shot regeneration, write-back, locks, kills and cancels."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from vidmusician.core import demo
from vidmusician.core.errors import Cancelled
from vidmusician.core.session.pipeline import score
from vidmusician.core.session.retake import list_takes, regenerate, selection_audio, use
from vidmusician.core.session.settings import ScoreOptions
from vidmusician.core.session.splice import SpliceRange, read_pcm, splice
from vidmusician.core.session.store import Session, SessionBusy, locked, set_range
from vidmusician.core.writeback import MIX_TRACK_NAME

from .test_cli import run

SR = 48000


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    return demo.make_demo_cut(tmp_path_factory.mktemp("cut"))["otio"]


@pytest.fixture(scope="module")
def scored(cut, tmp_path_factory):
    out = tmp_path_factory.mktemp("scored") / "out"
    score(cut, out, ScoreOptions(seed=5, stem_tracks=True, fmt="fcp7"))
    return out


@pytest.fixture
def session_copy(scored, tmp_path):
    """A session of our own to change (the scored one stays as it was)."""
    dest = tmp_path / "session"
    shutil.copytree(scored, dest)
    return dest


def music_track(path):
    t = otio.adapters.read_from_file(str(path))
    (track,) = [tr for tr in t.audio_tracks() if tr.name == MIX_TRACK_NAME]
    return t, track


def pieces(track):
    """(start frame, end frame, take) of every clip on a music track."""
    out = []
    for c in track.find_clips(shallow_search=True):
        r = c.range_in_parent()
        out.append(
            (int(r.start_time.value), int(r.end_time_exclusive().value), c.metadata["vidmusician"]["take"])
        )
    return out


# --------------------------------------------------------------------------- units with known answers


def test_set_range_splits_and_merges():
    sel = [{"start_frame": 0, "end_frame": None, "take": 1}]
    sel = set_range(sel, 10, 20, 2)
    assert sel == [
        {"start_frame": 0, "end_frame": 10, "take": 1},
        {"start_frame": 10, "end_frame": 20, "take": 2},
        {"start_frame": 20, "end_frame": None, "take": 1},
    ]
    sel = set_range(sel, 30, None, 3)
    assert [(s["start_frame"], s["end_frame"], s["take"]) for s in sel] == [
        (0, 10, 1),
        (10, 20, 2),
        (20, 30, 1),
        (30, None, 3),
    ]
    sel = set_range(sel, 10, 20, 1)  # back: the neighbours merge
    assert [(s["start_frame"], s["end_frame"], s["take"]) for s in sel] == [(0, 30, 1), (30, None, 3)]
    sel = set_range(sel, 0, None, 4)
    assert sel == [{"start_frame": 0, "end_frame": None, "take": 4}]


def test_splice_is_bit_identical_outside_and_equal_power_inside():
    n = SR * 4
    rng = np.random.default_rng(0)
    old = (rng.integers(-(2**23), 2**23, size=(n, 2)) * 256).astype(np.int32)
    new = np.full((2, n), 0.5, np.float32)
    r = SpliceRange(1.0, 2.0, fade_s=0.05)
    out = splice(old, new, r)
    a0, a, b = r.samples()
    assert (a0, a, b) == (SR - 2400, SR, 2 * SR)
    assert np.array_equal(out[:a0], old[:a0]) and np.array_equal(out[b:], old[b:])
    assert np.all(out[a : b - 2400] == int(0.5 * 2**31))  # the new take alone
    assert np.all(out % 256 == 0)  # still on the 24-bit grid
    # equal power: with the old take silent, the new one rises as sin(pi/2 * x)
    quiet = splice(np.zeros_like(old), new, r)
    mid = a0 + 1200
    assert quiet[mid, 0] / 2**31 == pytest.approx(0.5 * np.sin(np.pi / 4), abs=1e-3)
    assert r.frames(25) == (int((SR - 2400) * 25 // SR), 50)


def test_crossfade_between_takes_playing_the_same_notes_does_not_swell():
    t = np.arange(SR * 3) / SR
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    old = np.round(np.stack([tone, tone], 1) * 2**23).astype(np.int32) * 256
    same = np.stack([tone, tone])  # the new take plays the same before the bar line
    out = splice(old, same, SpliceRange(1.0, 2.0))
    assert np.abs(out.astype(np.float64) - old).max() / 2**31 < 1e-5  # no +3 dB bump
    # unrelated signals: equal power, the level holds through the fade
    noise = np.random.default_rng(1).normal(0, 0.1, size=(2, SR * 3))
    out = splice(np.zeros_like(old), noise, SpliceRange(1.0, 2.0)).astype(np.float64) / 2**31
    old2 = np.round(np.random.default_rng(2).normal(0, 0.1, size=(SR * 3, 2)) * 2**23).astype(np.int32) * 256
    mixed = splice(old2, noise, SpliceRange(1.0, 2.0)).astype(np.float64) / 2**31
    fade = slice(SR - 2400, SR)
    assert np.sqrt(np.mean(mixed[fade] ** 2)) == pytest.approx(0.1, rel=0.1)
    assert np.sqrt(np.mean(out[SR : 2 * SR - 2400] ** 2)) == pytest.approx(0.1, rel=0.05)


# --------------------------------------------------------------------------- score makes a session


def test_score_writes_a_versioned_session(scored, cut):
    s = Session.load(scored)
    d = s.data
    assert d["format"] == "vidmusician-session" and d["version"] == 1
    assert d["input"]["path"] == str(cut.resolve()) and len(d["input"]["identity"]["sha256"]) == 64
    assert [t["id"] for t in d["takes"]] == [1] and d["takes"][0]["folder"] == "."
    t = d["takes"][0]
    assert t["backend"] == "arranger" and t["seed"] == 5 and t["options"]["stem_tracks"] is True
    assert d["selection"] == [{"start_frame": 0, "end_frame": None, "take": 1}]
    assert d["timelines"][0]["files"] == {"otio": "timeline.otio", "fcp7": "timeline.xml"}
    for rel in [t["files"]["mix"], t["files"]["midi"], t["files"]["report"], *t["files"]["stems"].values()]:
        assert (scored / rel).is_file()
    for name in ("plan.json", "analysis.png", "timeline.otio", "timeline.xml"):
        assert (scored / name).is_file()
    assert len(d["timeline"]["shots"]) == 10


def test_music_track_starts_at_frame_0_and_lasts_the_timeline(scored, cut):
    t, track = music_track(scored / "timeline.otio")
    src = otio.adapters.read_from_file(str(cut))
    duration = int(src.duration().value)
    assert pieces(track) == [(0, duration, 1)]
    stems = [tr.name for tr in t.audio_tracks() if tr.name.startswith("VidMusician Stem")]
    assert len(stems) == 5
    (clip,) = track.find_clips()
    info = soundfile.info(str(scored / "mix.wav"))
    assert clip.media_reference.available_range.duration.value == info.frames * 25 // SR  # the tail is there
    for a, b in zip(src.tracks, t.tracks):
        assert otio.adapters.write_to_string(a, "otio_json") == otio.adapters.write_to_string(b, "otio_json")


def test_with_stem_tracks_the_timeline_plays_the_mix_once(scored):
    """The five stems go in disabled (OTIO ``enabled``, FCP XML ``<enabled>FALSE</enabled>``):
    what the written timelines play is ``mix.wav``, sample for sample; played with the
    stems (which sum to the mix) it would be twice as loud."""
    from .test_writeback import played_music

    rate, frames = 25.0, Session.load(scored).data["timeline"]["duration_frames"]
    mix, _ = soundfile.read(str(scored / "mix.wav"), always_2d=True)
    for name in ("timeline.otio", "timeline.xml"):
        played = played_music(scored / name, rate, frames)
        assert np.array_equal(played, mix[: len(played)]), name
        everything = played_music(scored / name, rate, frames, everything=True)
        gain = 20 * np.log10(np.sqrt(np.mean(everything**2)) / np.sqrt(np.mean(played**2)))
        assert gain == pytest.approx(6.02, abs=0.1), name
    xml = (scored / "timeline.xml").read_text()
    # both channels of each stem's pair, and every clip on them (one piece each: one take)
    assert xml.count("<enabled>FALSE</enabled>") == 2 * 5 + 2 * 5
    import xml.etree.ElementTree as ET

    for track in ET.fromstring(xml).iter("track"):
        name = track.get("MZ.TrackName") or ""
        if name.startswith("VidMusician") and name != "VidMusician Mix":
            assert track.findtext("enabled") == "FALSE", name
            assert {c.findtext("enabled") for c in track.iter("clipitem")} == {"FALSE"}, name
        elif name == "VidMusician Mix":
            assert track.findtext("enabled") == "TRUE"
            assert {c.findtext("enabled") for c in track.iter("clipitem")} == {"TRUE"}


def test_scoring_into_a_session_again_is_refused_unless_a_new_take(scored, cut, session_copy):
    code, _, err = run("score", str(cut), "-o", str(scored), "-q")
    assert code == 2 and "holds a session already" in err and "--new-take" in err
    before = {p.name for p in session_copy.iterdir()}
    s = score(cut, session_copy, ScoreOptions(seed=9, fmt="fcp7"), new_take=True)
    assert s.made == 2 and s.data["selection"] == [{"start_frame": 0, "end_frame": None, "take": 2}]
    assert (session_copy / "takes" / "take-002" / "plan.json").is_file()
    assert {p.name for p in session_copy.iterdir()} - before - {".lock"} == {
        "takes",
        "timeline-v2.otio",
        "timeline-v2.xml",
    }
    _, track = music_track(session_copy / "timeline-v2.otio")
    assert {p[2] for p in pieces(track)} == {2}


# --------------------------------------------------------------------------- regeneration


def test_regenerate_one_shot(session_copy):
    before = (session_copy / "session.json").read_bytes()
    shot = 4
    s = regenerate(session_copy, shot, seed=1234)
    take = s.take(2)
    assert s.made == 2 and take["parent"] == 1 and take["shot"] == 4 and take["new_seed"] == 1234
    plan = json.loads((session_copy / "plan.json").read_text())
    downs = np.array(plan["downbeats_s"])
    sh = s.shot(shot)
    start_s, end_s = sh["start_frame"] / 25, sh["end_frame"] / 25
    # widened to bar lines: the bar line at or before the shot's start, at or after its end
    assert take["range_s"][0] == pytest.approx(downs[downs <= start_s + 1e-3].max())
    assert take["range_s"][1] == pytest.approx(downs[downs >= end_s - 1e-3].min())
    a0 = int(round(take["range_s"][0] * SR)) - 2400
    b = int(round(take["range_s"][1] * SR))

    old_files = s.take(1)["files"]
    new_files = take["files"]
    for role in ["mix", *old_files["stems"]]:
        old = read_pcm(session_copy / (old_files["mix"] if role == "mix" else old_files["stems"][role]))
        new = read_pcm(session_copy / (new_files["mix"] if role == "mix" else new_files["stems"][role]))
        assert old.shape == new.shape
        assert np.array_equal(old[:a0], new[:a0]), role
        assert np.array_equal(old[b:], new[b:]), role
    mix = read_pcm(session_copy / new_files["mix"])
    old_mix = read_pcm(session_copy / old_files["mix"])
    diff = (mix[a0:b].astype(np.float64) - old_mix[a0:b]) / 2**31
    loud = np.sqrt(np.mean((old_mix[a0:b].astype(np.float64) / 2**31) ** 2))
    assert np.sqrt(np.mean(diff**2)) > 0.1 * loud  # new music inside, heard (not a rounding change)
    stems = sum(read_pcm(session_copy / p).astype(np.float64) for p in new_files["stems"].values())
    err = np.sqrt(np.mean((stems - mix) ** 2)) / np.sqrt(np.mean(mix.astype(np.float64) ** 2))
    assert 20 * np.log10(err) < -40
    assert np.abs(mix).max() / 2**31 <= 10 ** (-1 / 20)

    # the timeline splits the music track at the frames that hold the change
    f0, f1 = a0 * 25 // SR, -(-b * 25 // SR)
    assert take["range_frames"] == [f0, f1]
    _, track = music_track(session_copy / "timeline-v2.otio")
    duration = s.data["timeline"]["duration_frames"]
    assert pieces(track) == [(0, f0, 1), (f0, f1, 2), (f1, duration, 1)]
    clips = list(track.find_clips())
    assert clips[1].source_range.start_time.value == f0  # the new take's own audio at that frame
    assert clips[1].media_reference.target_url.endswith("takes/take-002/mix.wav")
    # the earlier timeline and session state are kept; only session.json is replaced
    assert (session_copy / "timeline.otio").is_file() and before != (
        session_copy / "session.json"
    ).read_bytes()

    # switch back: take 1 under shot 4, a new timeline version with one piece again
    s = use(session_copy, 1, shot)
    assert s.data["selection"] == [{"start_frame": 0, "end_frame": None, "take": 1}]
    _, track = music_track(session_copy / "timeline-v3.otio")
    assert pieces(track) == [(0, duration, 1)]
    rows = list_takes(session_copy)
    assert [(r["id"], r["used"]) for r in rows] == [(1, [[0, None]]), (2, [])]
    again = use(session_copy, 1, shot)  # already so: no new version
    assert again.made is None and "already" in again.warnings[0]
    assert not (session_copy / "timeline-v4.otio").exists()
    # and back to take 2 through the command line
    code, _, err = run("takes", str(session_copy), "--use", "2", "--shot", "4")
    assert code == 0, err
    _, track = music_track(session_copy / "timeline-v4.otio")
    assert pieces(track) == [(0, f0, 1), (f0, f1, 2), (f1, duration, 1)]


def test_regenerate_default_seed_differs_and_the_fcp_xml_carries_the_split(session_copy):
    code, _, err = run("regenerate", str(session_copy), "--shot", "0", "-q")
    assert code == 0, err
    s = Session.load(session_copy)
    take = s.take(2)
    assert take["new_seed"] != take["seed"]
    # shot 0's bars start at the first downbeat: the pickup before it is a fixed tonic pad
    plan = json.loads((session_copy / "plan.json").read_text())
    assert take["range_s"][0] == pytest.approx(plan["downbeats_s"][0])
    f0, f1 = take["range_frames"]
    xml = otio.adapters.read_from_file(str(session_copy / "timeline-v2.xml"))
    from vidmusician.core.writeback import music_clips

    mix = [(c, t) for name, c, t in music_clips(xml) if "Stem" not in c.name]
    assert [round(t * 25) for _, t in mix] == [0, f0, f1]
    assert "take-002" in mix[1][0].media_reference.target_url
    # version 2 is version 1's document with the split music: the same XML up to the music tracks
    from .test_writeback import played_music

    v1, v2 = (session_copy / "timeline.xml").read_text(), (session_copy / "timeline-v2.xml").read_text()
    head = v1[: v1.index('<track MZ.TrackName="VidMusician Mix"')]
    assert v2.startswith(head)
    played = played_music(session_copy / "timeline-v2.xml", 25.0, s.data["timeline"]["duration_frames"])
    pcm = selection_audio(s).astype(np.float64) / float(1 << 31)
    assert np.abs(played - pcm[: len(played)]).max() < 2**-22  # the selection, once (24-bit)


def test_bad_session_commands_are_clear(session_copy, tmp_path, cut):
    code, _, err = run("regenerate", str(tmp_path), "--shot", "1")
    assert code == 2 and "not a VidMusician session folder" in err
    code, _, err = run("regenerate", str(session_copy), "--shot", "99")
    assert code == 2 and "shots 0-9" in err
    code, _, err = run("takes", str(session_copy), "--use", "7", "--shot", "1")
    assert code == 2 and "no take 7" in err
    code, _, err = run("takes", str(session_copy), "--use", "1")
    assert code == 2 and "--use TAKE and --shot N go together" in err
    code, out, _ = run("takes", str(session_copy))
    assert code == 0 and "timeline version 1" in out


def test_takes_json_and_plot(session_copy, tmp_path):
    regenerate(session_copy, 5, seed=3)
    code, out, err = run("takes", str(session_copy), "--json", "-", "--plot", str(tmp_path / "t.png"))
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["id"], r["kind"], r.get("shot")) for r in rows] == [(1, "score", None), (2, "regenerate", 5)]
    f0, f1 = rows[1]["range_frames"]
    assert rows[0]["used"] == [[0, f0], [f1, None]] and rows[1]["used"] == [[f0, f1]]
    import matplotlib.image

    img = matplotlib.image.imread(tmp_path / "t.png")
    assert img.shape[0] > 400 and img.shape[1] > 1000


def test_a_changed_input_is_refused(cut, tmp_path):
    own = tmp_path / "cut.otio"
    shutil.copy(cut, own)
    out = tmp_path / "out"
    score(own, out, ScoreOptions(seed=1))
    t = otio.adapters.read_from_file(str(own))
    t.name = "re-edited"
    otio.adapters.write_to_file(t, str(own))
    code, _, err = run("regenerate", str(out), "--shot", "1")
    assert code == 2 and "changed since this session was scored" in err
    assert len(Session.load(out).takes) == 1


# --------------------------------------------------------------------------- lock, cancel, kill


def test_a_second_process_waits_or_fails_clearly(session_copy):
    with locked(session_copy):
        with pytest.raises(SessionBusy, match=f"pid {os.getpid()}"):
            regenerate(session_copy, 2)
        code, _, err = run("regenerate", str(session_copy), "--shot", "2")
        assert code == 2 and "another VidMusician process" in err
    assert len(Session.load(session_copy).takes) == 1

    lock = threading.Event()

    def hold():
        with locked(session_copy):
            lock.set()
            time.sleep(0.5)

    th = threading.Thread(target=hold)
    th.start()
    lock.wait()
    s = regenerate(session_copy, 2, wait_s=20)  # waits for the holder, then works
    th.join()
    assert s.made == 2


def test_a_cancelled_regeneration_leaves_nothing(session_copy):
    before = sorted(p.relative_to(session_copy) for p in session_copy.rglob("*"))
    state = (session_copy / "session.json").read_bytes()
    cancel = threading.Event()

    def progress(fraction, label):
        if fraction >= 0.45:
            cancel.set()

    with pytest.raises(Cancelled):
        regenerate(session_copy, 3, progress=progress, cancel=cancel)
    after = sorted(p.relative_to(session_copy) for p in session_copy.rglob("*") if p.name != ".lock")
    assert after == before  # (the lock file stays: removing a lock file races with its next user)
    assert (session_copy / "session.json").read_bytes() == state


def _complete(out) -> Session:
    """The session loads and every file it names is whole."""
    s = Session.load(out)
    frames = soundfile.info(str(out / "mix.wav")).frames
    for t in s.takes:
        for rel in [t["files"]["mix"], *t["files"]["stems"].values()]:
            assert soundfile.info(str(out / rel)).frames == frames
        json.loads((out / t["files"]["report"]).read_text())
    for v in s.data["timelines"]:
        for rel in v["files"].values():
            otio.adapters.read_from_file(str(out / rel))
    return s


def test_sigkill_at_any_moment_leaves_the_session_complete(session_copy):
    env = {**os.environ, "VIDMUSICIAN_DEBUG": "1"}
    cmd = [sys.executable, "-m", "vidmusician.core.cli", "regenerate", str(session_copy), "-q", "--shot"]
    t0 = time.monotonic()
    done = subprocess.run([*cmd, "1"], env=env, capture_output=True, text=True)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(11)
    for k, at in enumerate(sorted(rng.uniform(0.35, 1.0, size=5) * full)):
        p = subprocess.Popen(
            [*cmd, str(2 + k)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(at)
        p.send_signal(signal.SIGKILL)
        p.wait()
        _complete(session_copy)
    # the next run cleans what the killed ones left half-written and goes on
    s = regenerate(session_copy, 8)
    s = _complete(session_copy)
    assert not [p for p in session_copy.rglob(".*") if p.name != ".lock"]
    ids = [t["id"] for t in s.takes]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    folders = sorted(p.name for p in (session_copy / "takes").iterdir())
    assert len(folders) == len(set(folders)) and set(f"take-{i:03d}" for i in ids if i > 1) <= set(folders)


# --------------------------------------------------------------------------- every shared timeline


def _shared_params():
    from .conftest import shared_timelines

    return [p.name for p in shared_timelines()] or ["absent"]


@pytest.mark.parametrize("name", _shared_params())
def test_score_round_trips_every_shared_timeline(name, tmp_path):
    from vidmusician.core.errors import VidMusicianError
    from vidmusician.core.io.timeline import read_timeline
    from vidmusician.core.writeback import music_clips

    from .conftest import TIMELINES
    from .test_io_timeline_shared import RATES

    src = TIMELINES / name
    if not src.is_file():
        pytest.skip("../shared/data is absent")
    digest = src.read_bytes()
    rate = RATES.get(name)
    out = tmp_path / "out"
    try:
        tl = read_timeline(src, rate)
    except VidMusicianError:  # no picture: score says so and writes nothing
        code, _, err = run("score", str(src), "-o", str(out), "-q", *(["--rate", str(rate)] if rate else []))
        assert code == 2 and "no video track" in err and not out.exists()
        return
    if tl.duration_s < 2.0:  # shorter than a bar of the slowest tempo: a clear refusal, nothing written
        code, _, err = run("score", str(src), "-o", str(out), "-q", *(["--rate", str(rate)] if rate else []))
        assert code == 2 and "shorter than one bar" in err
        assert not out.exists() and not list(tmp_path.glob(".out.*"))
        return
    s = score(src, out, ScoreOptions(rate=rate, stem_tracks=True))
    assert src.read_bytes() == digest  # the input is never touched
    original = otio.adapters.read_from_file(str(src), **({"rate": rate} if rate else {}))
    back, track = music_track(out / "timeline.otio")
    n = len(original.tracks)
    assert len(back.tracks) == n + 6  # the mix and five stems
    for a, b in zip(original.tracks, back.tracks):
        assert otio.adapters.write_to_string(a, "otio_json") == otio.adapters.write_to_string(b, "otio_json")
    assert pieces(track) == [(0, tl.duration_frames, 1)]
    (clip,) = track.find_clips()
    assert clip.metadata["vidmusician"]["seed"] == 0 and clip.metadata["vidmusician"]["take"] == 1
    native = s.timeline["files"]
    if src.suffix == ".xml":  # Premiere / FCP 7 XML in, FCP 7 XML out, the music in place
        xml = otio.adapters.read_from_file(str(out / native["fcp7"]))
        mix = [(c, t) for _, c, t in music_clips(xml) if "Stem" not in c.name]
        assert [t for _, t in mix] == [0.0] and round(mix[0][0].duration().value) == tl.duration_frames
        assert read_timeline(out / native["fcp7"]).cut_frames() == tl.cut_frames()
    if src.suffix == ".edl":  # the music as an audio EDL beside the picture EDL
        text = (out / native["edl"]).read_text()
        assert " AA    C " in text and "MIX001" in text  # the stereo mix on audio 1 and 2
        assert "FCM: NON-DROP FRAME" in text.splitlines()[:3]


def test_markers_on_the_cuts_the_music_hit(cut, tmp_path):
    code, _, err = run(
        "score", str(cut), "-o", str(tmp_path / "o"), "--markers", "cuts", "--format", "fcp7", "-q"
    )
    assert code == 0, err
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    hit = sorted(round(a["time_s"] * 25) for a in plan["anchors"] if a["hard"] and a["on"] != "missed")
    assert len(hit) >= 8
    t = otio.adapters.read_from_file(str(tmp_path / "o" / "timeline.otio"))
    ours = [m for m in t.tracks.markers if "vidmusician" in m.metadata]
    assert sorted(int(m.marked_range.start_time.value) for m in ours) == hit
    assert {m.name for m in ours} <= {"cut on a downbeat", "cut on a beat", "cut on a subdivision"}
    assert len(t.tracks.markers) > len(ours)  # the editor's own markers are kept
    xml = otio.adapters.read_from_file(str(tmp_path / "o" / "timeline.xml"))
    in_xml = [m for m in xml.tracks.markers if m.name.startswith("cut on a")]
    assert sorted(int(m.marked_range.start_time.value) for m in in_xml) == hit


def test_downbeat_markers_from_a_plan():
    from vidmusician.core.session.pipeline import plan_markers

    plan = {"downbeats_s": [0.5, 2.5, 4.5, 6.5], "anchors": []}
    got = [(m.frame, m.name) for m in plan_markers(plan, "downbeats", 24, 24 * 6)]
    assert got == [(12, "bar 1"), (60, "bar 2"), (108, "bar 3")]
    assert plan_markers(plan, "none", 24, 1000) == ()


def test_sigkill_during_a_first_score_leaves_no_session_or_a_whole_one(cut, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidmusician.core.cli", "score", str(cut), "-o", str(out), "-q"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.*.partial/stems/*.wav")) and time.monotonic() < deadline:
        time.sleep(0.02)  # kill it while it writes the music
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not out.exists() and list(tmp_path.glob(".out.*.partial"))
    score(cut, out, ScoreOptions(seed=2))  # the next run sweeps the dead run's folder
    assert not list(tmp_path.glob(".out.*"))
    _complete(out)


def test_a_shot_range_ends_on_the_last_bar_line_unless_the_shot_reaches_the_end():
    """Known answers: a plan whose last bar line (7.08 s) falls before the timeline's end
    (10.24 s, the music running on) ends a middle shot on that bar line, not at the end of
    the music (regenerating shot 1 of a Premiere export took every later shot with it);
    a shot that reaches the end takes the tail."""
    from vidmusician.core.session.retake import shot_range

    downs = [0.5, 3.78, 7.08]
    middle = shot_range(downs, 3.24, 7.08, 10.24)
    assert (middle.start_s, middle.end_s) == (0.5, 7.08)
    last = shot_range(downs, 8.8, 10.24, 10.24)
    assert (last.start_s, last.end_s) == (7.08, None)
    ends = shot_range([0.0, 2.0, 4.0], 2.0, 4.0, 4.0)  # the usual plan: a bar line on the last frame
    assert (ends.start_s, ends.end_s) == (2.0, None)
    inner = shot_range([0.0, 2.0, 4.0, 6.0], 0.5, 3.0, 6.0)
    assert (inner.start_s, inner.end_s) == (0.0, 4.0)
    # a shot ending before the end, in the last bar, whose bar line is the timeline's end: the tail too
    before_end = shot_range([0.0, 2.0, 4.0], 2.5, 3.5, 4.0)
    assert (before_end.start_s, before_end.end_s) == (2.0, None)
