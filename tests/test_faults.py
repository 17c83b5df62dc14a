"""Faults of the user's environment and odd inputs: exit 2 with a message that
says what happened, exit 128 + the signal when cancelled, and never anything
half-written under a final name.

Disk full is tested twice: on a real, small tmpfs where this process may
mount one (root on Linux; skipped elsewhere), and by injecting the errno into
the write layer, which always runs.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vidmusician.core import fsutil
from vidmusician.core.cli import main
from vidmusician.core.errors import DiskError

from .conftest import REPO, TIMELINES, clip, needs_shared, save, timeline, video_track, write_video

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file system behaviour")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A 3 s cut (cuts at frames 25 and 50, 25 fps): scores to 5 s of music
    (3 s and the 2 s ring-out), a mix and 5 stems of 1.44 MB each."""
    return write_video(tmp_path_factory.mktemp("media") / "cut.mp4", [25, 50], 75)


@pytest.fixture(scope="module")
def long_media(tmp_path_factory) -> Path:
    """A 20 s cut: every stage of score takes a while."""
    return write_video(tmp_path_factory.mktemp("media") / "long.mp4", [100, 250, 400], 500)


def leftovers(folder: Path) -> list[str]:
    """Temporary names VidMusician writes under (``.x.part``, ``.OUT.pid.x.partial``)."""
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith((".part", ".partial")))


# --------------------------------------------------------------------------- a real small disk


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, timeout=20
    )
    return r.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size)``: a fresh tmpfs of that size (``"2m"``); skips
    where mounting is not permitted."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        if not _mount_tmpfs(where, size):
            pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its disk is full (to the last byte)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert fsutil.free_bytes(folder) == 0


def test_score_onto_a_full_disk_says_so_before_writing_audio(small_disk, media):
    disk = small_disk("2m")
    out = disk / "out"
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 2, err
    assert f"the disk holding {out} is full" in err
    assert "MB free; needed about 8.6 MB)" in err  # 48000 x 3 B x 2 ch x 6 files x 5 s = 8.64e6
    assert "internal error" not in err and "Traceback" not in err
    assert os.listdir(disk) == []  # no OUT, no .OUT.*.partial


def test_audio_estimate_is_the_issue_formula():
    # 48 kHz x 24-bit x 2 channels x (1 + 5 stems) x 5 s, plus a WAV header each
    assert fsutil.audio_bytes(5.0, 6) == 48000 * 3 * 2 * 6 * 5 + 64 * 6
    assert fsutil.megabytes(8.64e6) == "8.6 MB" and fsutil.megabytes(123.4e6) == "123 MB"


def test_disk_filling_during_the_write_real_libsndfile(small_disk, media, monkeypatch):
    """The estimate passes (it is told there is room) and libsndfile itself
    runs out of space: its 'System error' is read as the ENOSPC it is."""
    disk = small_disk("4m")
    out = disk / "out"
    monkeypatch.setattr(fsutil, "ensure_space", lambda *a, **k: None)
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 2, err
    assert f"the disk holding {out} is full" in err and "LibsndfileError" not in err
    assert os.listdir(disk) == []


def test_analyze_json_onto_a_full_disk(small_disk, media):
    disk = small_disk("1m")
    fill(disk)
    before = sorted(os.listdir(disk))
    dest = disk / "a.json"
    code, _, err = run("analyze", str(media), "--json", str(dest))
    assert code == 2 and f"the disk holding {disk} is full" in err, err
    assert sorted(os.listdir(disk)) == before  # said before the analysis; nothing written


def test_regenerate_and_use_on_a_full_disk_leave_the_session_as_it_was(small_disk, media):
    disk = small_disk("24m")
    out = disk / "out"
    assert run("score", str(media), "-o", str(out), "--quiet")[0] == 0
    assert run("regenerate", str(out), "--shot", "1", "--quiet")[0] == 0
    session = (out / "session.json").read_bytes()
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    fill(disk)
    code, _, err = run("regenerate", str(out), "--shot", "0", "--quiet")
    assert code == 2 and "is full" in err and "needed about" in err, err
    code, _, err = run("takes", str(out), "--use", "1", "--shot", "1", "--quiet")
    assert code == 2 and "is full" in err, err
    assert (out / "session.json").read_bytes() == session
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == files


# --------------------------------------------------------------------------- injected (always runs)


@pytest.mark.parametrize(
    "code_,words",
    [
        (errno.ENOSPC, "is full"),
        (errno.EDQUOT, "quota"),
        (errno.EIO, "input/output error"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
        (errno.EFBIG, "too large for this file system"),
    ],
)
def test_write_refused_by_the_file_system_is_exit_2(tmp_path, monkeypatch, code_, words):
    """Every atomic write fsyncs: failing there stands for any refused write."""
    t = save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "cut.otio")
    dest = tmp_path / "a.json"

    def refuse(fd: int) -> None:
        raise OSError(code_, os.strerror(code_))

    monkeypatch.setattr(os, "fsync", refuse)
    code, _, err = run("analyze", str(t), "--json", str(dest))
    assert code == 2 and words in err and "internal error" not in err, err
    assert not dest.exists() and leftovers(tmp_path) == []


def test_libsndfile_system_error_is_read_for_its_errno(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    from soundfile import _ffi  # type: ignore[attr-defined]

    dest = tmp_path / "mix.wav"

    def writer(tmp: Path) -> None:
        _ffi.errno = errno.EROFS
        raise soundfile.LibsndfileError(2)  # SF_ERR_SYSTEM: "System error."

    with pytest.raises(DiskError, match="read-only file system") as e:
        fsutil.write_with(dest, writer)
    assert e.value.errno == errno.EROFS and isinstance(e.value, OSError)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_score_injected_disk_full_names_out_free_and_needed(tmp_path, media, monkeypatch):
    monkeypatch.setattr(fsutil, "free_bytes", lambda path: 3_000_000)
    out = tmp_path / "out"
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 2, err
    assert f"the disk holding {out} is full (3.0 MB free; needed about 8.6 MB)" in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_score_injected_enospc_mid_write_removes_the_partial_folder(tmp_path, media, monkeypatch):
    import soundfile

    real = soundfile.write
    calls = []

    def write(path, *a, **k):
        calls.append(path)
        if len(calls) == 3:  # the second stem: the folder is half written
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(path, *a, **k)

    monkeypatch.setattr(soundfile, "write", write)
    out = tmp_path / "out"
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 2 and f"the disk holding {out} is full" in err, err
    assert len(calls) == 3 and not out.exists() and leftovers(tmp_path) == []


def test_fit_checks_the_space_for_the_fitted_music(tmp_path, media, monkeypatch):
    import soundfile

    sr = 48000
    y = np.zeros(sr * 10)
    for i in range(20):  # clicks at 120 BPM
        a = int(i * 0.5 * sr)
        y[a : a + 2000] += np.sin(np.arange(2000) / 3) * np.exp(-np.arange(2000) / 300)
    music = tmp_path / "clicks.wav"
    soundfile.write(str(music), np.stack([y, y], 1) * 0.5, sr, subtype="PCM_24")
    monkeypatch.setattr(fsutil, "free_bytes", lambda path: 1_500_000)
    out = tmp_path / "out"
    code, _, err = run("fit", str(music), str(media), "-o", str(out), "--quiet")
    assert code == 2 and f"the disk holding {out} is full (1.5 MB free; needed about" in err, err
    assert not out.exists() and leftovers(tmp_path) == []


@posix
def test_names_too_long_for_the_file_system(tmp_path, media):
    long = "n" * 300
    code, _, err = run("score", str(media), "-o", str(tmp_path / long), "--quiet")
    assert code == 2 and "too long for the file system (300 bytes" in err, err
    code, _, err = run("analyze", str(media), "--json", str(tmp_path / (long + ".json")))
    assert code == 2 and "too long" in err and "internal error" not in err, err
    # 250 characters is a legal name: the temporary one beside it must not break it
    dest = tmp_path / ("m" * 245 + ".json")
    code, _, err = run("analyze", str(media), "--json", str(dest), "--quiet")
    assert code == 0 and dest.is_file(), err


def test_environment_error_passes_other_errors_by():
    assert fsutil.environment_error(ValueError("x")) is None
    assert fsutil.environment_error(OSError(errno.ENOENT, "gone")) is None
    e = fsutil.environment_error(OSError(errno.ENOSPC, "full", "/x/.out.12.abcdefgh.partial/stems/a.wav"))
    assert e is not None and str(e).startswith("the disk holding /x/out is full")


def test_cache_write_on_a_full_disk_costs_time_not_results(tmp_path, media, monkeypatch):
    """DiskError is an OSError: a failed write of the analysis cache is still shrugged off."""
    from vidmusician.core.analysis import scan

    def full(self, path):
        raise DiskError("the disk holding the cache is full", errno.ENOSPC)

    monkeypatch.setattr(scan.Scan, "save", full)
    code, out, err = run("analyze", str(media), "--json", "-")
    assert code == 0, err
    assert len(json.loads(out)["shots"]) == 3


# --------------------------------------------------------------------------- signals


def _start(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # every stage's progress line, from the first second on (the command
    # line shows none before a second has passed): the moments to signal at
    child = (
        "import sys; from vidmusician.core import cli; cli.console.PLAIN_DELAY_S = 0.0; sys.exit(cli.main())"
    )
    return subprocess.Popen(
        [sys.executable, "-c", child, *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], needle: str, timeout: float = 120.0) -> list[str]:
    """Lines of stderr until one holds ``needle`` (a progress stage)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    proc.kill()
    raise AssertionError(f"never saw {needle!r}: {seen}")


@posix
@pytest.mark.parametrize(
    "sig,stage,status",
    [
        (signal.SIGTERM, "generating", 143),
        (signal.SIGTERM, "measuring the music", 143),  # librosa's first use
        (signal.SIGINT, "measuring the music", 130),
        (signal.SIGTERM, "writing the timeline", 143),
    ],
)
def test_signal_during_score_cancels_and_leaves_nothing(tmp_path, long_media, sig, stage, status):
    out = tmp_path / "out"
    proc = _start("score", str(long_media), "-o", str(out))
    _wait_for(proc, stage)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "vidmusician: cancelled" in err and "Traceback" not in err
    assert not out.exists() and leftovers(tmp_path) == []


@posix
def test_sigterm_during_regenerate_leaves_the_session_as_it_was(tmp_path, long_media):
    out = tmp_path / "out"
    assert run("score", str(long_media), "-o", str(out), "--quiet")[0] == 0
    session = (out / "session.json").read_bytes()
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != ".lock")
    proc = _start("regenerate", str(out), "--shot", "1")
    _wait_for(proc, "measuring the music")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "cancelled" in err, err
    assert (out / "session.json").read_bytes() == session
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != ".lock") == files


def _swallow_in_a_ctypes_callback() -> None:
    """What numba's compilation sometimes does to a Ctrl-C: the signal lands
    while C code calls back into Python, the KeyboardInterrupt is raised in
    the callback, and ctypes can only print it; the C code goes on."""
    libc = ctypes.CDLL(None)
    cmp_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    fired = []

    def compare(a, b):  # type: ignore[no-untyped-def]
        if not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, inside the callback
        return a[0] - b[0]

    values = (ctypes.c_int * 4)(3, 1, 2, 0)
    libc.qsort(values, 4, ctypes.sizeof(ctypes.c_int), cmp_t(compare))
    assert fired and list(values) == [0, 1, 2, 3]  # the C code finished


@posix
def test_ctrl_c_swallowed_in_a_ctypes_callback_still_cancels(tmp_path, media, monkeypatch):
    from vidmusician.core.report import metrics

    real = metrics.evaluate

    def evaluate(*a, **k):  # inside measure, after librosa's first use
        _swallow_in_a_ctypes_callback()
        return real(*a, **k)

    monkeypatch.setattr(metrics, "evaluate", evaluate)
    out = tmp_path / "out"
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 130 and "vidmusician: cancelled." in err, err
    assert "Exception ignored" not in err and "error:" not in err
    assert not out.exists() and leftovers(tmp_path) == []


@posix
def test_interrupt_a_library_swallowed_after_the_work_still_exits_130(tmp_path, monkeypatch):
    from vidmusician.core.cli import analyze as cli_analyze

    t = save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "cut.otio")
    real = cli_analyze._print_summary

    def summary(*a, **k):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass  # a library that catches everything
        return real(*a, **k)

    monkeypatch.setattr(cli_analyze, "_print_summary", summary)
    code, _, err = run("analyze", str(t))
    assert code == 130 and "cancelled" in err, err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_cancel_token_says_cancelled_not_error(tmp_path, monkeypatch):
    from vidmusician.core.cli import analyze as cli_analyze
    from vidmusician.core.errors import Cancelled

    def cancelled(*a, **k):
        raise Cancelled("cancelled")

    monkeypatch.setattr(cli_analyze, "analyzed", cancelled)
    code, _, err = run("analyze", str(tmp_path / "x.otio"))
    assert code == 130 and err.strip() == "vidmusician: cancelled."


# --------------------------------------------------------------------------- point 10: smaller


def test_two_frame_video_analyses(tmp_path):
    v = write_video(tmp_path / "two.mp4", [], 2)
    code, out, err = run("analyze", str(v), "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["shots"]) == 1 and data["anchors"] == []
    code, _, err = run("score", str(v), "-o", str(tmp_path / "out"), "--quiet")
    assert code == 2 and "shorter than one bar" in err  # handled, not a crash


def test_motion_novelty_of_one_and_two_hops():
    from vidmusician.core.analysis.motion import novelty
    from vidmusician.core.model import MotionCurve

    for n in (0, 1, 2, 3, 7):
        values = np.linspace(0.0, 1.0, n)
        z = np.zeros(n)
        curve = MotionCurve(0.04, values, z, z, z)
        nov = novelty(curve, np.zeros(n), np.zeros(n))
        assert nov.shape == (n,)
    # unchanged for n >= 3: the centred three-hop mean, zero beyond the ends
    v = np.array([0.0, 0.3, 0.9, 0.3])
    z = np.zeros(4)
    nov = novelty(MotionCurve(0.04, v, z, z, z), z, z)
    s = np.convolve(v, np.ones(3) / 3, mode="same")
    assert np.allclose(nov, np.maximum(0, np.diff(s, prepend=s[:1])))


def _latin1_edl(tmp_path: Path) -> Path:
    data = (TIMELINES / "25fps.edl").read_bytes()
    data = data.replace(b"FROM CLIP NAME:  sq001_s002", b"FROM CLIP NAME:  Caf\xe9 sq001_s002", 1)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    p = tmp_path / "latin1.edl"
    p.write_bytes(data)
    return p


@needs_shared
def test_latin1_edl_is_read_as_latin1_with_a_note(tmp_path):
    code, out, err = run("analyze", str(_latin1_edl(tmp_path)), "--rate", "25", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert data["shots"][1]["name"] == "Café sq001_s002"
    assert [a["time_s"] for a in data["anchors"]] == [161 / 25, 361 / 25, 447 / 25]  # as the UTF-8 one
    assert "not UTF-8: read as Latin-1" in err


@posix
def test_output_through_a_dangling_symlink_is_refused_before_the_work(tmp_path, media, monkeypatch):
    from vidmusician.core.session import pipeline as score

    def no_work(*a, **k):
        raise AssertionError("analysed before refusing the output")

    monkeypatch.setattr(score, "_features", no_work)
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "nowhere")
    code, _, err = run("score", str(media), "-o", str(link), "--quiet")
    assert code == 2 and "symbolic link" in err and "does not exist" in err, err
    assert not (tmp_path / "nowhere").exists() and leftovers(tmp_path) == []
    jlink = tmp_path / "a.json"
    jlink.symlink_to(tmp_path / "nowhere.json")
    code, _, err = run("analyze", str(media), "--json", str(jlink))
    assert code == 2 and "symbolic link" in err, err
    assert not (tmp_path / "nowhere.json").exists()


def _bytes_name(folder: Path, stem: bytes, suffix: str) -> Path:
    name = os.fsdecode(os.fsencode(str(folder)) + b"/" + stem + suffix.encode())
    try:
        Path(name).touch()
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    Path(name).unlink()
    return Path(name)


@posix
def test_file_names_that_are_not_utf8(tmp_path):
    t = _bytes_name(tmp_path, b"caf\xe9", ".otio")
    save(timeline(video_track(clip("a", 48), clip("b", 24))), tmp_path / "ok.otio")
    t.write_bytes((tmp_path / "ok.otio").read_bytes())
    code, out, err = run("analyze", str(t), "--json", "-")
    assert code == 0, err
    assert len(json.loads(out)["shots"]) == 2
    v = _bytes_name(tmp_path, b"clip\xff", ".mp4")
    write_video(tmp_path / "v.mp4", [25], 50).rename(v)
    code, out, err = run("analyze", str(v), "--json", "-")
    assert code == 0, err
    assert json.loads(out)["input"] == str(v)
    bad = _bytes_name(tmp_path, b"bad\xe9", ".otio")
    bad.write_bytes(b"{oops")
    code, _, err = run("analyze", str(bad))
    assert code == 2 and "incompatible function arguments" not in err and "\\udce9" in err, err


def test_media_without_streams_says_it_is_damaged(tmp_path):
    v = write_video(tmp_path / "v.mp4", [25], 50)
    data = bytearray(v.read_bytes())
    i = data.find(b"trak")
    assert i > 0
    data[i : i + 4] = b"free"  # the index (moov) lists no track any more
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    code, _, err = run("analyze", str(broken))
    assert code == 2 and "damaged or unfinished" in err and "moov" in err, err
    assert "nothing only" not in err


@posix
def test_fifo_and_device_are_named_not_empty(tmp_path):
    fifo = tmp_path / "cut.otio"
    os.mkfifo(fifo)
    code, _, err = run("analyze", str(fifo))  # would block if it were opened
    assert code == 2 and "named pipe (FIFO)" in err and "empty" not in err, err
    dev = tmp_path / "dev.mp4"
    dev.symlink_to("/dev/null")
    code, _, err = run("analyze", str(dev))
    assert code == 2 and "is a device" in err and "empty" not in err, err


def test_soundfont_folder_is_not_reported_missing(tmp_path, media):
    code, _, err = run("score", str(media), "-o", str(tmp_path / "out"), "--soundfont", str(tmp_path))
    assert code == 2 and "not found" not in err and "SF2" in err, err


def test_otiod_bundle_is_read(tmp_path):
    import opentimelineio as otio

    v = write_video(tmp_path / "v.mp4", [25], 50)
    t = timeline(video_track(clip("a", 48, url=v.as_uri()), clip("b", 24, url=v.as_uri(), start=48)), rate=24)
    bundle = tmp_path / "cut.otiod"
    otio.adapters.write_to_file(t, str(bundle))
    assert (bundle / "content.otio").is_file() and (bundle / "media" / "v.mp4").is_file()
    v.unlink()  # only the bundle's copy is left
    code, out, err = run("analyze", str(bundle), "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert [s["media_found"] for s in data["shots"]] == [True, True]
    assert data["shots"][0]["media"] == str(bundle / "media" / "v.mp4")
    assert [a["time_s"] for a in data["anchors"] if a["kind"] == "cut"] == [2.0]
    (tmp_path / "empty.otiod").mkdir()
    code, _, err = run("analyze", str(tmp_path / "empty.otiod"))
    assert code == 2 and "content.otio" in err


def _vfr_video(path: Path) -> Path:
    """25 fps nominal; every third frame held 400 ms (a screen recording):
    60 frames over 9.6 s, 6.25 fps on average."""
    av = pytest.importorskip("av")
    from fractions import Fraction

    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
    s.time_base = Fraction(1, 1000)
    t = 0
    for i in range(60):
        f = av.VideoFrame.from_ndarray(np.full((96, 160, 3), (i * 4) % 255, np.uint8), format="rgb24")
        f.pts, f.time_base = t, Fraction(1, 1000)
        t += 40 if i % 3 else 400
        for pk in s.encode(f):
            c.mux(pk)
    for pk in s.encode():
        c.mux(pk)
    c.close()
    return path


def test_variable_frame_rate_video_uses_the_nominal_rate(tmp_path):
    from vidmusician.core.analysis.decode import probe

    v = _vfr_video(tmp_path / "vfr.mp4")
    info = probe(v)
    assert info.rate == pytest.approx(6.25) and info.nominal_rate == 25 and info.variable_rate
    code, out, err = run("analyze", str(v), "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert data["rate"] == 25 and data["duration_s"] == pytest.approx(9.72, abs=0.05)
    out_dir = tmp_path / "out"
    code, _, err = run("score", str(v), "-o", str(out_dir), "--format", "fcp7", "--quiet")
    assert code == 0 and "FCP 7 XML not written" not in err, err
    assert (out_dir / "timeline.xml").is_file()


def test_constant_rate_video_keeps_its_frames(tmp_path):
    from vidmusician.core.analysis.video import detect_cuts

    v = write_video(tmp_path / "v.mp4", [25, 50], 75)
    assert detect_cuts(v) == (25.0, 75, [25, 50])


# --------------------------------------------------------------------------- busy sessions


@pytest.fixture(scope="module")
def session(tmp_path_factory, media) -> Path:
    out = tmp_path_factory.mktemp("session") / "out"
    code, _, err = run("score", str(media), "-o", str(out), "--quiet")
    assert code == 0, err
    return out


def test_score_new_take_waits_like_regenerate(session, media):
    from vidmusician.core.session.store import locked

    with locked(session):
        t0 = time.monotonic()
        code, _, err = run("score", str(media), "-o", str(session), "--new-take", "--wait", "0.5")
        assert time.monotonic() - t0 >= 0.5
    assert code == 2 and f"another VidMusician process (pid {os.getpid()})" in err, err
    assert "--wait" in err

    held = threading.Event()

    def hold() -> None:
        with locked(session):
            held.set()
            time.sleep(1.0)

    th = threading.Thread(target=hold)
    th.start()
    held.wait(5)
    code, out, err = run("score", str(media), "-o", str(session), "--new-take", "--wait", "30", "--quiet")
    th.join()
    assert code == 0 and "take 2" in out, err


def test_busy_message_without_a_recorded_pid(tmp_path):
    import fcntl

    from vidmusician.core.session.store import SessionBusy, locked

    folder = tmp_path / "s"
    folder.mkdir()
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a holder that has not written its pid yet
        with pytest.raises(SessionBusy) as e, locked(folder):
            pass
    finally:
        os.close(fd)
    assert "another VidMusician process is working" in str(e.value) and "pid" not in str(e.value)


def test_lock_holder_record_is_never_empty_or_mixed(tmp_path):
    path = tmp_path / ".lock"
    path.write_text("12345678901234567890123\n")  # an older, longer record
    fd = os.open(path, os.O_RDWR)
    try:
        fsutil.write_holder(fd)
    finally:
        os.close(fd)
    assert fsutil.lock_holder(path) == os.getpid()
    assert len(path.read_bytes()) == 21
    path.write_text("")
    t0 = time.monotonic()
    assert fsutil.lock_holder(path, wait_s=0.2) is None and time.monotonic() - t0 >= 0.2


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_wait_refuses_what_would_never_end(session, value, capsys):
    code, _, _ = run("regenerate", str(session), "--shot", "1", "--wait", value)
    assert code == 2 and "argument --wait" in capsys.readouterr().err  # argparse's usage error
