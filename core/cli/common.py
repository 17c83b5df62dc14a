"""What the command groups share: flags from the options table, settings,
output checks, JSON output and the analysis step."""

from __future__ import annotations

import argparse
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import options
from ..errors import OptionError

if TYPE_CHECKING:
    from ..model import VideoFeatures
    from .console import Console

#: what every command's ``func`` is: ``func(args, console, cancel) -> exit status``
Args = argparse.Namespace


def add_options(p: argparse.ArgumentParser, command: str) -> None:
    """Flags from the one options table (``core.options``)."""
    for opt in options.for_command(command):
        kwargs: dict[str, Any] = {"dest": opt.name, "default": None}
        default = f" (default: {opt.default})" if opt.default is not None else ""
        if opt.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = str  # checked by the table, with its message
            kwargs["metavar"] = opt.metavar or opt.name.upper()
            if opt.choices:
                kwargs["metavar"] = "{" + ",".join(map(str, opt.choices)) + "}"
        p.add_argument(opt.flag, help=opt.help + default, **kwargs)


def add_force(p: argparse.ArgumentParser, what: str = "a --json or --plot file") -> None:
    p.add_argument("--force", action="store_true", help=f"replace {what} that exists already (atomically)")


def add_result_args(p: argparse.ArgumentParser) -> None:
    """What every command that writes a result folder takes."""
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="a new folder for the result")


def wait_seconds(text: str) -> float:
    """``--wait S``: seconds, 0 to a day (not negative, not nan, which would wait forever)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text}: give seconds from 0 to 86400 (a day)")
    return value


def add_wait(p: argparse.ArgumentParser, help: str = "wait up to S seconds for a busy session") -> None:
    p.add_argument("--wait", type=wait_seconds, default=0.0, metavar="S", help=help)


def settings(args: Args, command: str) -> dict[str, Any]:
    """The command's options: explicit flag > config file > the table's default
    (and, when the config file names the SoundFont, ``soundfont_source``)."""
    path = args.config or os.environ.get("VIDMUSICIAN_CONFIG")
    config = options.load_config(path)
    names = [o.name for o in options.for_command(command)]
    explicit = {n: getattr(args, n, None) for n in names}
    out = options.resolve(explicit, config, names)
    if "soundfont" in names and explicit.get("soundfont") is None and config.get("soundfont"):
        from ..backends.arranger.soundfont import config_source

        out["soundfont_source"] = config_source(str(path))
    return out


def check_outputs(args: Args, *names: str) -> None:
    """Before any work: every report or picture the command will write
    (``--json FILE``, ``--plot FILE``) can be written (``--force`` replaces)."""
    from .. import fsutil

    force = bool(getattr(args, "force", False))
    given = [(n, getattr(args, n, None)) for n in names]
    files = [(n, p) for n, p in given if p is not None and p != "-"]
    for i, (n, p) in enumerate(files):
        for m, q in files[:i]:
            if Path(p).absolute() == Path(q).absolute():
                raise OptionError(f"--{m} and --{n} both name {p}; give each its own file.")
    for _, p in files:
        fsutil.check_output(p, force)


def emit_json(data: Any, dest: str, console: Console, force: bool = False) -> None:
    """``data`` as JSON to ``dest`` (a file, or ``-``: stdout)."""
    from .. import fsutil

    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8: JSON's own escapes keep it
        text = json.dumps(data, indent=2) + "\n"
    if dest == "-":
        console.out.write(text)
        console.out.flush()
    else:
        fsutil.write_text(dest, text, overwrite=force)
        console.note(f"wrote {dest}")


def warn_analysis(feats: VideoFeatures, console: Console) -> None:
    """The reader's and the analysis' warnings (missing media, unreadable frames)."""
    console.close()
    for w in feats.timeline.warnings + feats.warnings:
        console.warn(w)


def analyzed(
    args: Args, console: Console, cancel: threading.Event, command: str
) -> tuple[VideoFeatures, dict[str, Any]]:
    """Analyse ``args.input`` with the command's settings; its warnings shown."""
    from ..analysis.analyze import analyze_with

    s = settings(args, command)
    feats = analyze_with(args.input, s, console.progress, cancel)
    warn_analysis(feats, console)
    return feats, s
