"""The ``binn`` console command: its entry point, exit code and exit-time garbage collection."""

from __future__ import annotations

import gc
import sys
import tomllib
from pathlib import Path

import pytest

from binn.cli import run

ROOT = Path(__file__).resolve().parents[1]


def test_console_script_is_run():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["binn"] == "binn.cli:run"


def test_run_exits_with_the_command_code_and_freezes_the_collector(tmp_path, monkeypatch):
    out = tmp_path / "selection.json"
    argv = ["binn", "select", "--metrics", str(tmp_path / "missing.csv"), "--target", "0.1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as stop:
            run()
        assert stop.value.code == 2  # bad input, as main() returns it
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert not out.exists()
