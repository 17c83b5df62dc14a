"""install/install.py: the Resolve menu script per OS layout, in a temporary home (no real venvs)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SCRIPT = REPO / "install" / "install.py"
UTILITY = {
    "linux": ".local/share/DaVinciResolve/Fusion/Scripts/Utility",
    "macos": "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility",
    "windows": "AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Utility",
}
SYSTEM = {
    "linux": "/opt/resolve/Fusion/Scripts/Utility",
    "macos": "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility",
    "windows": "ProgramData/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility",
}
VENV = {
    "linux": ".local/share/vidmusician/venv",
    "macos": "Library/Application Support/VidMusician/venv",
    "windows": "AppData/Local/VidMusician/venv",
}
OSES = list(UTILITY)


@pytest.fixture(scope="module")
def inst():
    spec = importlib.util.spec_from_file_location("vidmusician_install", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its contents (None for folders)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))
    }


def run(inst, capsys, *argv):
    code = inst.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("os_name", OSES)
def test_dry_run_prints_the_paths_and_changes_nothing(inst, capsys, tmp_path, os_name):
    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(tmp_path), "--dry-run", "--no-venv")
    assert code == 0
    utility = tmp_path / UTILITY[os_name]
    assert f"would write {utility / 'VidMusician.py'}" in out
    assert f"would write {utility / 'VidMusician.json'}" in out
    assert f"would create folder {utility}" in out
    assert tree(tmp_path) == {}  # nothing made


@pytest.mark.parametrize("os_name", OSES)
def test_dry_run_lists_the_environment_steps(inst, capsys, tmp_path, os_name):
    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(tmp_path), "--dry-run", "--ml")
    assert code == 0
    venv = tmp_path / VENV[os_name]
    assert f"would run: {sys.executable} -m venv {venv}" in out
    assert "[ui,neural]" in out
    assert ("neural.sh" in out) == (os_name != "windows") and ("audiocraft==1.3.0" in out) == (
        os_name == "windows"
    )
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("os_name", OSES)
def test_install_rerun_and_uninstall(inst, capsys, tmp_path, os_name):
    home = tmp_path / "home"
    home.mkdir()
    scripts = home / UTILITY[os_name].rsplit("/", 1)[0]
    (scripts / "Comp").mkdir(parents=True)  # the editor's own scripts folder, with a script in it
    (scripts / "Comp" / "mine.lua").write_text("-- the editor's")
    before = tree(home)

    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(home), "--no-venv")
    assert code == 0, out
    utility = home / UTILITY[os_name]
    script, config = utility / "VidMusician.py", utility / "VidMusician.json"
    assert script.read_bytes() == (REPO / "resolve_plugin" / "menu_script.py").read_bytes()
    cfg = json.loads(config.read_text())
    venv = home / VENV[os_name]
    exe = "Scripts/vidmusician.exe" if os_name == "windows" else "bin/vidmusician"
    py = "Scripts/python.exe" if os_name == "windows" else "bin/python"
    assert cfg["format"] == "vidmusician-resolve-config" and cfg["os"] == os_name
    assert (cfg["venv"], cfg["python"], cfg["vidmusician"]) == (str(venv), str(venv / py), str(venv / exe))
    assert cfg["sessions"] == str(home / "VidMusician")
    assert cfg["created_dirs"] == [str(utility)]  # Scripts existed already
    assert set(tree(home)) == set(before) | {
        UTILITY[os_name],
        f"{UTILITY[os_name]}/VidMusician.py",
        f"{UTILITY[os_name]}/VidMusician.json",
    }
    stamps = (script.stat().st_mtime_ns, config.stat().st_mtime_ns)

    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(home), "--no-venv")
    assert code == 0 and out.count("up to date") == 2 and "write" not in out  # idempotent
    assert (script.stat().st_mtime_ns, config.stat().st_mtime_ns) == stamps

    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(home), "--uninstall", "--dry-run")
    assert code == 0 and f"would remove {script}" in out and script.exists()

    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(home), "--uninstall")
    assert code == 0
    assert tree(home) == before  # exactly what was installed is gone; the editor's files stay
    code, out, _ = run(inst, capsys, "--os", os_name, "--home", str(home), "--uninstall")
    assert code == 0 and "nothing to remove" in out


def test_fresh_home_uninstall_removes_the_folders_it_made(inst, capsys, tmp_path):
    code, _, _ = run(inst, capsys, "--os", "macos", "--home", str(tmp_path), "--no-venv")
    assert code == 0
    cfg = json.loads((tmp_path / UTILITY["macos"] / "VidMusician.json").read_text())
    assert cfg["created_dirs"][0] == str(tmp_path / "Library")
    assert run(inst, capsys, "--os", "macos", "--home", str(tmp_path), "--uninstall")[0] == 0
    assert tree(tmp_path) == {}


def test_an_environment_is_removed_only_when_the_installer_made_it(inst, capsys, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for v in (ours, theirs):
        (v / "bin").mkdir(parents=True)
        (v / "bin" / "python").write_text("")
    (ours / inst.VENV_MARK).write_text("{}")
    home = tmp_path / "home"
    home.mkdir()
    for venv in (ours, theirs):
        assert (
            run(inst, capsys, "--os", "linux", "--home", str(home), "--no-venv", "--venv", str(venv))[0] == 0
        )
        code, out, _ = run(inst, capsys, "--os", "linux", "--home", str(home), "--uninstall")
        assert code == 0
        assert venv.exists() == (venv == theirs)
        assert ("remove the environment" in out) == (venv == ours)
    assert theirs.exists() and not ours.exists()


def test_a_foreign_file_is_never_replaced(inst, capsys, tmp_path):
    utility = tmp_path / UTILITY["linux"]
    utility.mkdir(parents=True)
    (utility / "VidMusician.py").write_text("print('somebody else')\n")
    code, _, err = run(inst, capsys, "--os", "linux", "--home", str(tmp_path), "--no-venv")
    assert code == 2 and "not VidMusician's menu script" in err and "Move it away" in err
    assert (utility / "VidMusician.py").read_text() == "print('somebody else')\n"
    assert not (utility / "VidMusician.json").exists()
    code, out, _ = run(inst, capsys, "--os", "linux", "--home", str(tmp_path), "--uninstall")
    assert code == 0 and (utility / "VidMusician.py").exists() and "kept" in out


@pytest.mark.parametrize("os_name", OSES)
def test_system_wide_folders(inst, capsys, tmp_path, os_name):
    code, out, _ = run(
        inst, capsys, "--os", os_name, "--home", str(tmp_path), "--system", "--dry-run", "--no-venv"
    )
    assert code == 0
    assert SYSTEM[os_name] in out.replace("\\", "/")
    assert tree(tmp_path) == {}


def test_environment_steps(inst, tmp_path):
    lay = inst.Layout("linux", tmp_path / "u", tmp_path / "venv", tmp_path / "s")
    py = str(tmp_path / "venv" / "bin" / "python")
    root = str(inst.ROOT)
    assert inst.venv_steps("/usr/bin/python3.11", lay, ml=False, editable=False) == [
        ["/usr/bin/python3.11", "-m", "venv", str(tmp_path / "venv")],
        [py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [py, "-m", "pip", "install", "--quiet", f"{root}[ui]"],
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "tinysoundfont>=0.3"],
    ]
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    steps = inst.venv_steps("/usr/bin/python3.11", lay, ml=True, editable=True)
    assert steps[0][-1] == "pip"  # the environment exists: not made again
    assert steps[1] == [py, "-m", "pip", "install", "--quiet", "-e", f"{root}[ui,neural]"]
    assert steps[-1] == ["bash", str(inst.ROOT / "install" / "neural.sh"), str(tmp_path / "venv")]
    win = inst.Layout("windows", tmp_path / "u", tmp_path / "w", tmp_path / "s")
    wpy = str(tmp_path / "w" / "Scripts" / "python.exe")
    assert inst.venv_steps("py", win, ml=True, editable=False)[-1] == [
        wpy,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "audiocraft==1.3.0",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--os", "beos"], "--os beos: choose one of linux, macos, windows"),
        (["--home", "/no/such/home"], "--home /no/such/home: no such folder"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(tmp_path, argv, message):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--no-venv", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_shell_wrapper_runs_the_installer(tmp_path):
    proc = subprocess.run(
        [
            "bash",
            str(REPO / "install" / "install.sh"),
            "--os",
            "linux",
            "--home",
            str(tmp_path),
            "--no-venv",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stderr
    assert "would write" in proc.stdout and tree(tmp_path) == {}
