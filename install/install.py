#!/usr/bin/env python3
"""Install VidMusician for DaVinci Resolve (macOS, Windows, Linux). Standard library only.

    python install/install.py              VidMusician's environment + the menu script, for you
    python install/install.py --system     the menu script for every user of this computer
    python install/install.py --ml         also the neural (MusicGen) backend
    python install/install.py --no-venv    only the menu script (the environment exists already)
    python install/install.py --dry-run    print what it would do, change nothing
    python install/install.py --uninstall  remove what it installed, nothing else

It does two things, both safe to run again:

1. a virtual environment (default: a per-user data folder; ``--venv DIR``
   to choose) holding VidMusician with its panel (``pip install .[ui]``), and
   with ``--ml`` the neural stack (``install/neural.sh`` on macOS and Linux,
   the same pip commands on Windows);
2. Resolve's menu entry Workspace > Scripts > Utility > VidMusician: the file
   ``VidMusician.py`` (``resolve_plugin/menu_script.py``) and its settings
   ``VidMusician.json`` (where the environment is) in Resolve's
   ``Fusion/Scripts/Utility`` folder.

Exit status 0 on success, 2 on bad input (with a message saying what to do),
1 when a step it runs fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MENU_SOURCE = ROOT / "resolve_plugin" / "menu_script.py"
SCRIPT_NAME = "VidMusician.py"
CONFIG_NAME = "VidMusician.json"
CONFIG_FORMAT = "vidmusician-resolve-config"
SCRIPT_MARK = "# VidMusician for DaVinci Resolve"  # the menu script's first line: how we know it is ours
VENV_MARK = "vidmusician-installer.json"  # written into a venv this installer created
OSES = ("linux", "macos", "windows")
MIN_PYTHON = (3, 11)
AUDIOCRAFT = "audiocraft==1.3.0"


class Refused(Exception):
    """Bad input or a situation the user must resolve: the message says what to do (exit 2)."""


@dataclass
class Layout:
    """Where things go for one OS and home folder."""

    os: str
    utility: Path  # Resolve's Fusion/Scripts/Utility
    venv: Path
    sessions: Path

    @property
    def script(self) -> Path:
        return self.utility / SCRIPT_NAME

    @property
    def config(self) -> Path:
        return self.utility / CONFIG_NAME


@dataclass
class Actions:
    """What a run did or (dry run) would do, one line each."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(("would " if self.dry_run else "") + line)


def this_os() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


def scripts_folder(os_name: str, home: Path, system: bool, env: dict[str, str] | None = None) -> Path:
    """Resolve's ``Fusion/Scripts`` folder (per user, or ``system``-wide).

    ``home`` given explicitly (``--home``) also stands for the Windows
    per-user folders (``APPDATA`` = ``HOME/AppData/Roaming``).
    """
    env = dict(os.environ if env is None else env)
    bmd = ("Blackmagic Design", "DaVinci Resolve")
    if os_name == "macos":
        base = Path("/Library") if system else home / "Library"
        return base.joinpath("Application Support", *bmd, "Fusion", "Scripts")
    if os_name == "windows":
        if system:
            return Path(env.get("PROGRAMDATA", r"C:\ProgramData")).joinpath(*bmd, "Fusion", "Scripts")
        appdata = Path(env["APPDATA"]) if "APPDATA" in env else home / "AppData" / "Roaming"
        return appdata.joinpath(*bmd, "Support", "Fusion", "Scripts")
    if system:
        return Path("/opt/resolve/Fusion/Scripts")
    return home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"


def default_venv(os_name: str, home: Path, env: dict[str, str]) -> Path:
    if os_name == "macos":
        return home / "Library" / "Application Support" / "VidMusician" / "venv"
    if os_name == "windows":
        local = Path(env["LOCALAPPDATA"]) if "LOCALAPPDATA" in env else home / "AppData" / "Local"
        return local / "VidMusician" / "venv"
    data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"
    return data / "vidmusician" / "venv"


def layout(args: argparse.Namespace) -> Layout:
    os_name = args.os or this_os()
    if os_name not in OSES:
        raise Refused(f"--os {os_name}: choose one of {', '.join(OSES)}.")
    if args.home is not None:
        home = Path(args.home).expanduser()
        if not home.is_dir():
            raise Refused(f"--home {args.home}: no such folder. Give an existing folder.")
        env: dict[str, str] = {}  # a given home stands for the per-user folders too
    else:
        home = Path.home()
        env = dict(os.environ)
    utility = scripts_folder(os_name, home, args.system, env) / "Utility"
    venv = Path(args.venv).expanduser() if args.venv else default_venv(os_name, home, env)
    sessions = Path(args.sessions).expanduser() if args.sessions else home / "VidMusician"
    return Layout(os_name, utility, venv.absolute(), sessions.absolute())


def venv_python(venv: Path, os_name: str) -> Path:
    return venv / "Scripts" / "python.exe" if os_name == "windows" else venv / "bin" / "python"


def venv_vidmusician(venv: Path, os_name: str) -> Path:
    return venv / "Scripts" / "vidmusician.exe" if os_name == "windows" else venv / "bin" / "vidmusician"


def venv_steps(python: str, lay: Layout, ml: bool, editable: bool) -> list[list[str]]:
    """The commands that set up the environment (run in order)."""
    py = str(venv_python(lay.venv, lay.os))
    extras = "ui,neural" if ml else "ui"
    target = f"{ROOT}[{extras}]"
    steps = []
    if not Path(py).is_file():
        steps.append([python, "-m", "venv", str(lay.venv)])
    steps += [
        [py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [py, "-m", "pip", "install", "--quiet", *(["-e"] if editable else []), target],
        # the SoundFont renderer without pyaudio (playback only; it needs system headers to build)
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "tinysoundfont>=0.3"],
    ]
    if ml:
        if lay.os == "windows":  # what install/neural.sh does, less its Linux-only library fix
            steps.append([py, "-m", "pip", "install", "--quiet", "--no-deps", AUDIOCRAFT])
        else:
            steps.append(["bash", str(ROOT / "install" / "neural.sh"), str(lay.venv)])
    return steps


def python_facts(python: Path) -> dict[str, object]:
    """The environment's Python version and site-packages (the menu script's in-process test)."""
    code = (
        "import json, sys, sysconfig; p = sysconfig.get_paths(); "
        "print(json.dumps({'python_version': '%d.%d' % sys.version_info[:2], "
        "'site_packages': sorted({p['purelib'], p['platlib']})}))"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        return dict(json.loads(out.stdout))
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def config_for(lay: Layout, created_dirs: list[Path]) -> dict[str, object]:
    py = venv_python(lay.venv, lay.os)
    cfg: dict[str, object] = {
        "format": CONFIG_FORMAT,
        "version": 1,
        "os": lay.os,
        "venv": str(lay.venv),
        "python": str(py),
        "vidmusician": str(venv_vidmusician(lay.venv, lay.os)),
        "sessions": str(lay.sessions),
        "installed": [str(lay.script), str(lay.config)],
        "created_dirs": [str(d) for d in created_dirs],
    }
    if py.is_file():
        cfg.update(python_facts(py))
    return cfg


def _write(dest: Path, data: bytes) -> None:
    """Replace ``dest`` in one step (a temporary beside it, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _ours(script: Path) -> bool:
    try:
        with open(script, encoding="utf-8", errors="replace") as fh:
            return fh.readline().startswith(SCRIPT_MARK)
    except OSError:
        return False


def _read_config(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == CONFIG_FORMAT else None


def _paths(value: object) -> list[Path]:
    return [Path(str(x)) for x in value] if isinstance(value, list) else []


def _permission(e: OSError, where: Path, system: bool) -> Refused:
    hint = (
        "run it as an administrator (sudo on macOS and Linux), or install for yourself only (without --system)"
        if system
        else "check the folder's permissions"
    )
    return Refused(f"cannot write to {where} ({e.strerror or e}): {hint}.")


def install(args: argparse.Namespace) -> int:
    lay = layout(args)
    act = Actions(args.dry_run)
    if not MENU_SOURCE.is_file():
        raise Refused(f"{MENU_SOURCE}: missing. Run this installer from a complete copy of VidMusician.")
    if lay.script.exists() and not _ours(lay.script):
        raise Refused(
            f"{lay.script}: exists and is not VidMusician's menu script. Move it away, then run again."
        )
    if lay.config.exists() and _read_config(lay.config) is None:
        raise Refused(
            f"{lay.config}: exists and is not VidMusician's settings file. Move it away, then run again."
        )

    # 1. the environment
    if not args.no_venv:
        python = args.python or sys.executable
        if args.python is None and sys.version_info < MIN_PYTHON:
            raise Refused(
                f"VidMusician needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is "
                f"{sys.version.split()[0]}. Run the installer with a newer Python, or pass --python PATH."
            )
        created_venv = not venv_python(lay.venv, lay.os).is_file()
        for step in venv_steps(python, lay, args.ml, args.editable):
            act.say("run: " + " ".join(step))
            if not args.dry_run and subprocess.run(step).returncode != 0:
                print(f"install: this step failed: {' '.join(step)}", file=sys.stderr)
                return 1
        if created_venv:
            act.say(f"mark {lay.venv} as made by this installer")
            if not args.dry_run:
                (lay.venv / VENV_MARK).write_text(
                    json.dumps({"format": "vidmusician-venv", "version": 1}) + "\n"
                )
    elif not venv_python(lay.venv, lay.os).is_file():
        print(
            f"note: no VidMusician environment at {lay.venv} yet; the menu script will say so until one is "
            "installed there (run without --no-venv, or pass --venv DIR)."
        )

    # 2. the menu script and its settings
    created: list[Path] = []
    missing = lay.utility
    while not missing.exists():
        created.append(missing)
        missing = missing.parent
    created.reverse()  # outermost first
    old = _read_config(lay.config) if lay.config.exists() else None
    if old:  # folders an earlier run created stay on the list (for --uninstall)
        earlier = _paths(old.get("created_dirs"))
        created = earlier + [d for d in created if d not in earlier]
    for d in created:
        if not d.exists():
            act.say(f"create folder {d}")
    try:
        if not args.dry_run:
            lay.utility.mkdir(parents=True, exist_ok=True)
        cfg = (json.dumps(config_for(lay, created), indent=2) + "\n").encode()
        for path, data in ((lay.script, MENU_SOURCE.read_bytes()), (lay.config, cfg)):
            if path.exists() and path.read_bytes() == data:
                print(f"up to date: {path}")
            else:
                act.say(f"write {path}")
                if not args.dry_run:
                    _write(path, data)
    except PermissionError as e:
        raise _permission(e, lay.utility, args.system) from e
    if not args.dry_run:
        print(f"VidMusician is in DaVinci Resolve's Workspace > Scripts > Utility menu ({lay.script}).")
    return 0


def uninstall(args: argparse.Namespace) -> int:
    lay = layout(args)
    act = Actions(args.dry_run)
    cfg = _read_config(lay.config)
    if cfg is None and not lay.script.exists():
        print(f"nothing to remove: VidMusician is not installed in {lay.utility}.")
        return 0
    removing: set[Path] = set()
    try:
        if lay.script.exists():
            if _ours(lay.script):
                act.say(f"remove {lay.script}")
                removing.add(lay.script)
                if not args.dry_run:
                    lay.script.unlink()
            else:
                print(f"kept {lay.script}: it is not VidMusician's menu script.")
        if cfg is not None:
            act.say(f"remove {lay.config}")
            removing.add(lay.config)
            if not args.dry_run:
                lay.config.unlink()
            for d in reversed(_paths(cfg.get("created_dirs"))):
                if d.is_dir() and all(p in removing for p in d.iterdir()):
                    act.say(f"remove empty folder {d}")
                    removing.add(d)
                    if not args.dry_run:
                        d.rmdir()
            venv = Path(str(cfg.get("venv") or ""))
            if not args.no_venv and cfg.get("venv") and (venv / VENV_MARK).is_file():
                act.say(f"remove the environment {venv}")
                if not args.dry_run:
                    shutil.rmtree(venv)
    except PermissionError as e:
        raise _permission(e, lay.utility, args.system) from e
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="install.py",
        description="Install VidMusician and its DaVinci Resolve menu script (Workspace > Scripts > Utility).",
    )
    ap.add_argument(
        "--system", action="store_true", help="the menu script for every user (needs administrator rights)"
    )
    ap.add_argument("--ml", action="store_true", help="also the neural backend (MusicGen; large download)")
    ap.add_argument(
        "--no-venv", action="store_true", help="only the menu script; the environment is left as it is"
    )
    ap.add_argument("--venv", help="where the environment goes (default: a per-user data folder)")
    ap.add_argument("--python", help="the Python (3.11+) that makes the environment (default: this one)")
    ap.add_argument(
        "--sessions", help="where the menu script keeps its work folders (default: ~/VidMusician)"
    )
    ap.add_argument(
        "--editable", action="store_true", help="install this source folder in place (developers)"
    )
    ap.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
    ap.add_argument("--uninstall", action="store_true", help="remove what this installer installed")
    ap.add_argument("--os", help="lay things out for this OS: linux, macos or windows (default: this one)")
    ap.add_argument("--home", help="use this folder as the home folder (tests, staging)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # argparse printed what is wrong; bad input is exit status 2
        return 2 if e.code else 0
    try:
        return uninstall(args) if args.uninstall else install(args)
    except Refused as e:
        print(f"install: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
