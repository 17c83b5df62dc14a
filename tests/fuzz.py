"""A seeded fuzzer for the command line: mutants of real files, run through ``main``.

Mutants are made from the real timelines in ``../shared/data/timelines`` (and
from a small timeline, a SoundFont, a session and config files made here), by
operators that each stand for a way files go bad in the wild: flipped and
dropped bytes, truncation, hostile numbers (``0``, ``NaN``, ``1e400``, ...)
in place of real ones, nesting far deeper than any tool writes, very long
names, bytes that are not UTF-8.

The cases run in one worker process (``python -m tests.fuzz WORKDIR``), one
after another through :func:`vidmusician.core.cli.main`, so that the package
is imported once. The worker writes a line before and after each case; a
worker killed by a signal (native code crashing) or stuck is recorded against
the case it was running and restarted after it. :func:`run_cases` returns one
:class:`Outcome` per case.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Numbers a hostile or broken file puts where a real one was.
HOSTILE_NUMBERS = (
    "0",
    "-1",
    "-0",
    "NaN",
    "nan",
    "Infinity",
    "1e400",
    "1e15",
    "-1e15",
    "99999999999999999999",
    "1e-9",
    "abc",
    "",
)


# --------------------------------------------------------------------------- mutation operators


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def drop_span(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    a = rng.randrange(len(data))
    return data[:a] + data[a + rng.randint(1, min(200, len(data) - a)) :]


def repeat_span(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 400))
    return data[:b] + data[a:b] * rng.randint(2, 50) + data[b:]


_NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


def hostile_number(data: bytes, rng: random.Random) -> bytes:
    """One to three numbers replaced by :data:`HOSTILE_NUMBERS`."""
    spots = list(_NUMBER.finditer(data))
    if not spots:
        return flip_bytes(data, rng)
    out = data
    for m in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 3))), key=lambda m: -m.start()):
        out = out[: m.start()] + rng.choice(HOSTILE_NUMBERS).encode() + out[m.end() :]
    return out


def deep_nesting(data: bytes, rng: random.Random, depth: int | None = None) -> bytes:
    """A value nested ``depth`` deep (300 or 20,000): JSON arrays, or XML elements."""
    depth = depth or rng.choice((300, 20_000))
    text = data.lstrip()
    if text.startswith(b"{") or text.startswith(b"["):
        i = data.find(b":")  # the first value of the first key
        if i < 0:
            return b"[" * depth + b"]" * depth
        j = i + 1
        return data[:j] + b"[" * depth + b"1" + b"]" * depth + b"," + data[j:].split(b",", 1)[-1]
    i = data.rfind(b"</")
    if i < 0:
        return data + b"<a>" * depth
    return data[:i] + b"<a>" * depth + b"</a>" * depth + data[i:]


def long_names(data: bytes, rng: random.Random) -> bytes:
    """A quoted string or element text replaced by 100,000 characters."""
    spots = list(re.finditer(rb'"[^"\n]{1,60}"|>[^<\n]{1,60}<', data))
    if not spots:
        return data + b"x" * 100_000
    m = rng.choice(spots)
    q0, q1 = data[m.start() : m.start() + 1], data[m.end() - 1 : m.end()]
    return data[: m.start()] + q0 + b"x" * 100_000 + q1 + data[m.end() :]


def not_utf8(data: bytes, rng: random.Random) -> bytes:
    """Latin-1 and invalid bytes in place of a few characters."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if b:
            i = rng.randrange(len(b))
            b[i : i + 1] = rng.choice((b"\xe9", b"\xff\xfe", b"\xc3", b"\x00"))
    return bytes(b)


OPERATORS = (
    flip_bytes,
    truncate,
    drop_span,
    repeat_span,
    hostile_number,
    hostile_number,
    deep_nesting,
    long_names,
    not_utf8,
)


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    op = rng.choice(OPERATORS)
    return op(data, rng), op.__name__


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Case:
    """One run of the command line: ``argv`` (paths absolute), and what it is."""

    name: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: int | None  # None: the worker died (signal) or hung
    signal: int | None
    stderr: str
    seconds: float
    rss_mb: float  # the worker's peak resident memory after the case

    def problem(self) -> str | None:
        """What is wrong with this outcome (None: exit 0, or exit 2 with one error line)."""
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        if self.status is None:
            return "hung"
        if self.status not in (0, 2):
            return f"exit {self.status}: {self.stderr.strip()[-300:]}"
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            return f"traceback: {self.stderr.strip()[-300:]}"
        if self.status == 2:
            errors = [ln for ln in self.stderr.splitlines() if "error:" in ln]
            if len(errors) != 1:
                return f"exit 2 with {len(errors)} error lines: {self.stderr.strip()[-300:]}"
        return None


def run_cases(cases: list[Case], work: Path, env: dict[str, str], timeout_s: float = 60.0) -> list[Outcome]:
    """Run ``cases`` in a worker process with ``env`` (restarted after a crash or hang)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "cases.json").write_text(json.dumps([list(c.argv) for c in cases]))
    log = work / "log.jsonl"
    outcomes: dict[int, Outcome] = {}
    start = 0
    cwd = work / "cwd"
    cwd.mkdir(exist_ok=True)
    while start < len(cases):
        if log.exists():
            log.unlink()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz", str(work), str(start)],
            cwd=str(REPO),
            env={**env, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        running: int | None = None
        began = time.monotonic()
        seen = 0
        while True:
            lines = log.read_text().splitlines() if log.exists() else []
            for line in lines[seen:]:
                if not line.endswith("}"):
                    break  # being written
                rec = json.loads(line)
                seen += 1
                if rec["event"] == "start":
                    running, began = rec["i"], time.monotonic()
                else:
                    i = rec["i"]
                    outcomes[i] = Outcome(
                        cases[i], rec["status"], None, rec["stderr"], rec["seconds"], rec["rss_mb"]
                    )
                    running = None
            code = proc.poll()
            if code is not None:
                break
            if running is not None and time.monotonic() - began > timeout_s:
                proc.kill()
                proc.wait()
                code = None
                break
            time.sleep(0.02)
        proc.stderr.close() if proc.stderr else None
        if running is None:
            if code not in (0, None):
                raise RuntimeError(f"the fuzz worker failed outside any case (exit {code})")
            break
        sig = -code if code is not None and code < 0 else None
        outcomes[running] = Outcome(cases[running], None, sig, "", time.monotonic() - began, 0.0)
        start = running + 1
    done = [outcomes[i] for i in range(len(cases)) if i in outcomes]
    summary = [
        {
            "case": o.case.name,
            "status": o.status,
            "signal": o.signal,
            "seconds": round(o.seconds, 2),
            "stderr": o.stderr[-300:],
            "rss_mb": o.rss_mb,
        }
        for o in done
    ]
    (work / "summary.json").write_text(json.dumps(summary, indent=1))
    return done


def _peak_kb() -> int:
    """This process's own peak resident memory (KiB): ``VmHWM``, which starts
    afresh at exec. ``ru_maxrss`` would not do: on Linux a child inherits its
    parent's peak at the fork (pytest's, over a GB late in the suite)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _worker(work: Path, start: int) -> None:
    from vidmusician.core import cli

    os.chdir(work / "cwd")
    cases = json.loads((work / "cases.json").read_text())
    with open(work / "log.jsonl", "a", encoding="utf-8") as log:
        for i in range(start, len(cases)):
            log.write(json.dumps({"event": "start", "i": i}) + "\n")
            log.flush()
            out, err = io.StringIO(), io.StringIO()
            t0 = time.perf_counter()
            try:
                if cases[i][0] == "__harness__":  # the harness's own test: die or hang on purpose
                    if cases[i][1] == "signal":
                        os.kill(os.getpid(), int(cases[i][2]))
                    time.sleep(float(cases[i][2]))
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    status = cli.main(cases[i], out=out, err=err)
            except SystemExit as e:  # pragma: no cover - main returns its status
                status = int(e.code or 0) if not isinstance(e.code, str) else 1
            except BaseException as e:  # the case's outcome, whatever it is
                status, err = 1, io.StringIO(f"escaped main: {type(e).__name__}: {e}")
            rss = _peak_kb() / 1024.0
            rec = {
                "event": "done",
                "i": i,
                "status": status,
                "stderr": err.getvalue()[-4000:],
                "seconds": round(time.perf_counter() - t0, 3),
                "rss_mb": round(rss, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _worker(Path(sys.argv[1]), int(sys.argv[2]))
