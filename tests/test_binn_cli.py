"""The ``binn`` console command: entry point, exit code, exit-time garbage collection, and
the help and option names of every command."""

from __future__ import annotations

import argparse
import gc
import sys
import tomllib
from pathlib import Path

import pytest

from binn.cli import HelpFormatter, build_parser, run, walk_parsers
from binn.vocabulary import (
    AUTO_CONVENTION,
    DATA_LAYOUTS,
    LABEL_CONVENTIONS,
    METHODS,
    method_names,
    network_methods,
)
from tests.workflow_helpers import TOY_METHOD

DEVICES = ("auto", "cpu", "cuda")
CONVENTIONS = (AUTO_CONVENTION, *LABEL_CONVENTIONS)

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


def _all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the ``binn`` command line: binn, each command, bench X, verify X."""
    return [(p.prog, p) for p in walk_parsers(build_parser())]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options and arguments a person types (not --help, --version, subcommands)."""
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


def _rendered(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help of one option as ``--help`` renders it, on one line."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def test_every_command_is_reached():
    progs = {prog for prog, _ in _all_parsers()}
    for command in ("simulate", "train-vae", "train-reg", "track-evaluate", "split",
                    "import-cine", "phantom", "select", "strain", "report"):  # fmt: skip
        assert f"binn {command}" in progs
    assert any(p.startswith("binn bench ") for p in progs)
    assert any(p.startswith("binn verify ") for p in progs)


def test_every_option_has_help_and_shows_its_default():
    missing, no_default, by_hand = [], [], []
    for prog, parser in _all_parsers():
        assert parser.formatter_class is HelpFormatter, prog
        for action in _options(parser):
            name = f"{prog} {'/'.join(action.option_strings) or action.dest}"
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(name)
                continue
            if "(default" in action.help:
                by_hand.append(name)
            shown = action.default not in (None, argparse.SUPPRESS)
            if shown and "(default: " not in _rendered(parser, action):
                no_default.append(name)
    assert not missing, f"options without help: {missing}"
    assert not by_hand, f"defaults written by hand (the formatter shows them): {by_hand}"
    assert not no_default, f"defaults not shown: {no_default}"


def test_the_default_shown_is_the_default():
    parser = build_parser()
    (log_level,) = [a for a in parser._actions if "--log-level" in a.option_strings]
    assert "(default: INFO)" in _rendered(parser, log_level)
    (log_file,) = [a for a in parser._actions if "--log-file" in a.option_strings]
    assert "(default" not in _rendered(parser, log_file)  # None is no default to show


def test_the_option_vocabulary_holds():
    """One name per idea across commands (README, docs/interfaces.md): --size for the grid
    size, --label-convention / --label-values for label values, --layout for folders."""
    problems = []
    for prog, parser in _all_parsers():
        for action in _options(parser):
            strings = set(action.option_strings)
            retired = strings & {"--crop", "--image-size", "--labels"}
            if retired:
                problems.append(f"{prog}: {sorted(retired)}")
            if "--device" in strings and set(action.choices or ()) != set(DEVICES):
                problems.append(f"{prog} --device choices {action.choices}")
            if "--layout" in strings and not set(action.choices or ("?",)) <= set(DATA_LAYOUTS):
                problems.append(f"{prog} --layout choices {action.choices}")
            if "--label-convention" in strings and set(action.choices or ()) != set(CONVENTIONS):
                problems.append(f"{prog} --label-convention choices {action.choices}")
    assert not problems, problems


def test_method_choices_are_the_vocabularys(monkeypatch):
    """A method registered in binn.vocabulary alone is a choice of every --method(s)
    (the training command offers the network methods)."""
    monkeypatch.setitem(METHODS, TOY_METHOD.name, TOY_METHOD)
    offered = {}
    for prog, parser in _all_parsers():
        for action in _options(parser):
            if {"--method", "--methods"} & set(action.option_strings) and action.choices:
                offered[prog] = tuple(action.choices)
    assert offered and TOY_METHOD.name in method_names()
    wrong = {p: c for p, c in offered.items() if c not in (method_names(), network_methods())}
    assert not wrong, wrong
    assert TOY_METHOD.name in offered["binn track-evaluate"]
