"""Options table, atomic writes, units."""

from __future__ import annotations

import os

import pytest

from vidmusician.core import fsutil, options, units
from vidmusician.core.errors import OptionError, OutputError


def test_option_checks_type_range_and_choices():
    rate = options.BY_NAME["rate"]
    assert rate.check("25") == 25.0
    with pytest.raises(OptionError, match="between 1 and 1000"):
        rate.check(0)
    with pytest.raises(OptionError, match="expected a number"):
        rate.check("fast")
    with pytest.raises(OptionError, match="choose one of"):
        options.BY_NAME["scene_detector"].check("magic")


def test_resolve_precedence():
    names = ["rate", "scene_detector"]  # a subset of the table
    assert options.resolve({}, {}, names) == {"rate": None, "scene_detector": "adaptive"}
    assert options.resolve({}, {"rate": 30.0}, names)["rate"] == 30.0
    assert options.resolve({"rate": "25"}, {"rate": 30.0}, names)["rate"] == 25.0


def test_config_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("rate = [")
    with pytest.raises(OptionError, match="bad.toml"):
        options.load_config(bad)
    with pytest.raises(OptionError, match="not found"):
        options.load_config(tmp_path / "none.toml")
    ok = tmp_path / "ok.toml"
    ok.write_text("scene-detector = 'content'\n")  # top-level keys and dashes work too
    assert options.load_config(ok) == {"scene_detector": "content"}


def test_atomic_write_never_overwrites_and_cleans_up(tmp_path):
    dest = tmp_path / "out.txt"
    fsutil.write_text(dest, "one")
    with pytest.raises(OutputError):
        fsutil.write_text(dest, "two")
    assert dest.read_text() == "one"

    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        fsutil.write_with(tmp_path / "never.txt", boom)
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        p = fsutil.write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_units():
    assert units.timecode(86400, 24) == "01:00:00:00"
    assert units.timecode(25, 25) == "00:00:01:00"
    assert units.clock(3723.5) == "01:02:03.500"
    assert units.frames(units.RationalTime(48, 24), 25) == 50
    assert not units.valid_rate(0) and not units.valid_rate(float("nan")) and units.valid_rate(23.976)
