# VidMusician for DaVinci Resolve: Workspace > Scripts > Utility > VidMusician
#
# install/install.py copies this file into Resolve's Fusion/Scripts/Utility folder as
# VidMusician.py, with VidMusician.json beside it (where VidMusician's own Python
# environment is). The script runs inside Resolve's Python, which may be any Python 3
# and lacks VidMusician's packages, so it is only a shim: when Resolve's Python is the
# environment's version, it imports VidMusician from there and runs
# vidmusician.resolve_plugin.run with Resolve's own `resolve` object; otherwise it runs
# `<environment python> -m vidmusician.resolve_plugin.run --config VidMusician.json`,
# which connects to Resolve itself (Preferences > System > General > External scripting
# using: Local). Everything it does is in vidmusician.resolve_plugin (tested there).
# Stdlib only, Python 3.6 syntax.

import json
import os
import subprocess
import sys

CONFIG_NAME = "VidMusician.json"
CONFIG_FORMAT = "vidmusician-resolve-config"


def say(msg):
    print(msg)
    sys.stdout.flush()


def utility_dirs():
    """Resolve's per-user and system-wide Scripts/Utility folders on this OS."""
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        sub = os.path.join("Blackmagic Design", "DaVinci Resolve", "Fusion", "Scripts", "Utility")
        return [
            os.path.join(home, "Library", "Application Support", sub),
            os.path.join("/Library", "Application Support", sub),
        ]
    if sys.platform.startswith("win"):
        appdata = os.environ.get("APPDATA", os.path.join(home, "AppData", "Roaming"))
        programdata = os.environ.get("PROGRAMDATA", "C:\\ProgramData")
        return [
            os.path.join(
                appdata, "Blackmagic Design", "DaVinci Resolve", "Support", "Fusion", "Scripts", "Utility"
            ),
            os.path.join(programdata, "Blackmagic Design", "DaVinci Resolve", "Fusion", "Scripts", "Utility"),
        ]
    return [
        os.path.join(home, ".local", "share", "DaVinciResolve", "Fusion", "Scripts", "Utility"),
        "/opt/resolve/Fusion/Scripts/Utility",
    ]


def find_config(here=None):
    """The path of VidMusician.json: beside this script, else in Resolve's Utility folders."""
    folders = ([here] if here else []) + utility_dirs()
    for folder in folders:
        path = os.path.join(folder, CONFIG_NAME)
        if os.path.isfile(path):
            return path
    return None


def load_config(path):
    """(config dict, None) or (None, message)."""
    if path is None:
        return None, (
            "VidMusician: its settings (" + CONFIG_NAME + ") are not beside this script. "
            "Install VidMusician with install/install.py (from its source folder), then run this again."
        )
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except (OSError, ValueError) as e:
        return None, "VidMusician: cannot read " + path + " (" + str(e) + "). Run install/install.py again."
    if not isinstance(cfg, dict) or cfg.get("format") != CONFIG_FORMAT:
        return (
            None,
            "VidMusician: " + path + " is not VidMusician's settings file. Run install/install.py again.",
        )
    python = cfg.get("python") or ""
    if not os.path.isfile(python):
        return None, (
            "VidMusician: its Python environment is missing (" + (python or "not set") + "). "
            "Run install/install.py again to set it up."
        )
    return cfg, None


def in_process(cfg):
    """True when VidMusician imports in this Python (same version as the environment's)."""
    want = cfg.get("python_version")
    if want != "{}.{}".format(*sys.version_info[:2]):
        return False
    import site

    for p in cfg.get("site_packages") or []:
        if p not in sys.path:
            site.addsitedir(p)  # reads its .pth files too (an editable install's finder)
    try:
        import vidmusician.resolve_plugin.run  # noqa: F401
    except Exception:
        return False
    return True


def backend_command(cfg, config_path):
    return [cfg["python"], "-m", "vidmusician.resolve_plugin.run", "--config", config_path]


def main(resolve_obj=None, here=None, runner=None):
    """Returns 0 when music was applied, 1 when nothing was, 2 on an error (with a message)."""
    config_path = find_config(here)
    cfg, problem = load_config(config_path)
    if problem:
        say(problem)
        return 2
    if resolve_obj is not None and in_process(cfg):
        from vidmusician.resolve_plugin.run import run

        return run(resolve_obj, cfg["vidmusician"], cfg["sessions"], say=say)
    runner = runner or subprocess.run
    try:
        done = runner(
            backend_command(cfg, config_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
    except OSError as e:
        say(
            "VidMusician: its Python environment did not start ("
            + str(e)
            + "). Run install/install.py again."
        )
        return 2
    for line in (done.stdout or "").splitlines():
        say(line)
    return done.returncode


def _here():
    try:
        return os.path.dirname(os.path.abspath(__file__))
    except NameError:  # Resolve may run the script without __file__
        return None


if not __name__.startswith("vidmusician."):  # run by Resolve (imported by the tests, it waits)
    _resolve = globals().get("resolve")
    if _resolve is None and "bmd" in globals():
        _resolve = globals()["bmd"].scriptapp("Resolve")
    main(_resolve, _here())
