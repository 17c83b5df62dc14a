"""The hand-off file between the panel and Resolve's menu script (core/session/handoff.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from vidmusician.core import handoff
from vidmusician.core.errors import Cancelled, InputError, OptionError
from vidmusician.core.session.handoff import (
    HandoffTimeout,
    PanelExited,
    read,
    wait_for_handoff,
    write_handoff,
)


def test_write_and_read_round_trip(tmp_path):
    path = tmp_path / "handoff.json"
    data = handoff.make("ok", tmp_path / "session", "downbeats")
    write_handoff(path, data)
    assert json.loads(path.read_text()) == {
        "format": "vidmusician-handoff",
        "version": 1,
        "status": "ok",
        "session": str((tmp_path / "session").resolve()),
        "markers": "downbeats",
    }
    assert read(path) == data
    write_handoff(path, handoff.make("cancelled"))  # a message, replaced in one step
    assert read(path) == {"format": "vidmusician-handoff", "version": 1, "status": "cancelled"}
    assert [p.name for p in tmp_path.iterdir()] == ["handoff.json"]  # no temporary left


def test_markers_default_to_none(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(
        json.dumps({"format": "vidmusician-handoff", "version": 1, "status": "ok", "session": "/s"})
    )
    assert read(path)["markers"] == "none"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "ok"}, "not a VidMusician hand-off"),
        ({"format": "vidmusician-handoff", "status": "ok"}, "no valid version"),
        ({"format": "vidmusician-handoff", "version": 2, "status": "ok"}, "newer VidMusician"),
        ({"format": "vidmusician-handoff", "version": 1, "status": "done"}, "not one of ok, cancelled"),
        ({"format": "vidmusician-handoff", "version": 1, "status": "ok"}, "absolute path"),
        (
            {"format": "vidmusician-handoff", "version": 1, "status": "ok", "session": "rel/x"},
            "absolute path",
        ),
        ([1, 2], "not a VidMusician hand-off"),
    ],
)
def test_bad_records_are_refused_clearly(tmp_path, data, message):
    path = tmp_path / "h.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message):
        read(path)
    with pytest.raises(InputError, match=message):
        write_handoff(tmp_path / "out.json", data)  # type: ignore[arg-type]
    assert not (tmp_path / "out.json").exists()


def test_bad_markers_and_broken_files(tmp_path):
    bad = {"format": "vidmusician-handoff", "version": 1, "status": "ok", "session": "/s", "markers": "beats"}
    with pytest.raises(OptionError, match="choose one of none, downbeats, cuts"):
        handoff.validate(bad)
    (tmp_path / "h.json").write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        read(tmp_path / "h.json")
    with pytest.raises(InputError, match="no hand-off file"):
        read(tmp_path / "absent.json")


# --------------------------------------------------------------------------- waiting

WRITER = """
import sys, time
from vidmusician.core.session.handoff import make, write_handoff
time.sleep(float(sys.argv[2]))
write_handoff(sys.argv[1], make(sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None, "cuts"))
time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 0)
"""


def test_waits_for_a_panel_that_writes_after_a_delay(tmp_path):
    path = tmp_path / "handoff.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "0.8", "ok", str(tmp_path / "s"), "30"])
    try:
        t0 = time.monotonic()
        got = wait_for_handoff(path, proc, timeout_s=60, poll_s=0.05)
        assert got["status"] == "ok" and got["markers"] == "cuts" and got["session"] == str(tmp_path / "s")
        assert 0.5 < time.monotonic() - t0 < 30 and proc.poll() is None  # did not wait for it to exit
    finally:
        proc.kill()
        proc.wait()


def test_a_cancelled_panel_says_so(tmp_path):
    path = tmp_path / "handoff.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "0.2", "cancelled"])
    try:
        assert wait_for_handoff(path, proc, timeout_s=60, poll_s=0.05)["status"] == "cancelled"
    finally:
        proc.wait()


def test_a_panel_that_exits_without_writing_stops_the_wait(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"])
    t0 = time.monotonic()
    with pytest.raises(PanelExited, match=r"closed \(exit status 3\) without sending music"):
        wait_for_handoff(tmp_path / "handoff.json", proc, timeout_s=60, poll_s=0.05)
    assert time.monotonic() - t0 < 30


def test_timeout_and_cancel(tmp_path):
    with pytest.raises(HandoffTimeout, match=r"no answer from the VidMusician panel after 0.3 s"):
        wait_for_handoff(tmp_path / "h.json", None, timeout_s=0.3, poll_s=0.05)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Cancelled):
        wait_for_handoff(tmp_path / "h.json", None, cancel=stop, poll_s=0.05)
