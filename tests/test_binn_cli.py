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


def _leaf_commands() -> tuple[
    argparse.ArgumentParser, list[tuple[list[str], argparse.ArgumentParser]]
]:
    """The ``binn`` parser and every runnable command below it: the command's words after
    ``binn`` and its parser (defaults set on a leaf reach :func:`main` through the parser)."""
    parser = build_parser()
    leaves = []
    for each in walk_parsers(parser):
        if each.get_default("func") is not None:
            leaves.append((each.prog.split()[1:], each))
    return parser, leaves


def _value(action: argparse.Action) -> list[str]:
    """One acceptable value of ``action`` as command-line words."""
    if action.choices:
        word = str(next(iter(action.choices)))
    else:
        word = "1"
        try:
            (action.type or str)(word)
        except (TypeError, ValueError):
            word = "x"
    return [] if action.nargs == 0 else [word]


def _minimal_argv(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``words`` plus every required option and positional of ``parser``, with a value."""
    argv = list(words)
    positional = []
    chosen = [g._group_actions[0] for g in parser._mutually_exclusive_groups if g.required]
    for action in _options(parser):
        if not action.option_strings:
            positional += _value(action)
        elif action.required or action in chosen:
            argv += [action.option_strings[0], *_value(action)]
    return argv + positional


def test_the_minimal_command_lines_parse():
    parser, leaves = _leaf_commands()
    assert len(leaves) > 15
    for words, leaf in leaves:
        args = parser.parse_args(_minimal_argv(words, leaf))
        assert args.func is leaf.get_default("func")


def test_ctrl_c_exits_130_without_a_traceback_in_every_command(monkeypatch, capsys):
    """Whatever the command, a KeyboardInterrupt from its handler ends main() with 130 and
    one line saying outputs are atomic."""
    from binn import cli

    parser, leaves = _leaf_commands()

    def interrupted(args):
        raise KeyboardInterrupt

    for _, leaf in leaves:
        leaf.set_defaults(func=interrupted)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(cli, "check_device", lambda device: None)  # a GPU or not
    for words, leaf in leaves:
        assert cli.main(_minimal_argv(words, leaf)) == cli.INTERRUPTED == 130, words
        err = capsys.readouterr().err  # configure_logging logs to stderr
        assert err.count("\n") == 1 and err.endswith(f"ERROR binn: {cli.INTERRUPT_MESSAGE}\n")
    assert "interrupted" in cli.INTERRUPT_MESSAGE and "atomically" in cli.INTERRUPT_MESSAGE


def test_ctrl_c_while_the_command_line_is_built_exits_130(monkeypatch, capsys):
    from binn import cli

    def interrupted(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as stop:
            run()
    finally:
        gc.unfreeze()
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert err == f"binn: {cli.INTERRUPT_MESSAGE}\n" and "Traceback" not in err


def test_a_real_sigint_exits_130_without_a_traceback(tmp_path):
    """The console command interrupted by a real SIGINT while its handler works."""
    import signal
    import subprocess
    import time

    script = tmp_path / "slow.py"
    # a process started in the background of a non-interactive shell (CI) inherits SIGINT
    # ignored, and Python then installs no Ctrl-C handler: restore the terminal's default
    script.write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import binn.analysis.cli as commands\n"
        "def slow(args):\n"
        "    print('working', flush=True)\n"
        "    time.sleep(60)\n"
        "commands._run_select = slow\n"
        "from binn.cli import run\n"
        "sys.argv = ['binn', 'select', '--metrics', 'm.csv', '--out', 'o.json']\n"
        "run()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout.readline() == "working\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted (Ctrl-C)" in err
    assert not (tmp_path / "o.json").exists()


def test_device_cuda_without_cuda_is_refused_before_any_command_runs(monkeypatch, capsys):
    """Every command with --device: ``cuda`` where CUDA is absent exits 2 naming the option
    and what to pass instead; the handler never runs."""
    import torch

    from binn import cli

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    parser, leaves = _leaf_commands()
    ran = []
    with_device = []
    for words, leaf in leaves:
        if any("--device" in a.option_strings for a in leaf._actions):
            with_device.append((words, leaf))
            leaf.set_defaults(func=lambda args: ran.append(args) or 0)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert {"train-reg", "track", "strain", "train-vae"} <= {w[0] for w, _ in with_device}
    for words, leaf in with_device:
        assert cli.main([*_minimal_argv(words, leaf), "--device", "cuda"]) == 2, words
        err = capsys.readouterr().err
        assert "bad input: --device cuda: CUDA is not available" in err
        assert "--device cpu" in err and "Traceback" not in err
        assert cli.main([*_minimal_argv(words, leaf), "--device", "cpu"]) == 0
    assert len(ran) == len(with_device)  # only the cpu runs reached the handlers


def test_the_library_resolves_devices_with_the_same_check(monkeypatch):
    import torch

    from binn.device import check_device, resolve_device
    from binn.errors import BinnInputError
    from binn.learn.score import resolve_device as learn_resolve
    from binn.register.checkpoint import resolve_device as register_resolve

    assert learn_resolve is resolve_device is register_resolve  # one resolution
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    check_device("auto")
    with pytest.raises(BinnInputError, match=r"^--device cuda: CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.version, "cuda", "12.0")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(BinnInputError, match="GPU 2 requested but only 1 GPU"):
        resolve_device("cuda:2")
    with pytest.raises(BinnInputError, match="not a device"):
        resolve_device("cuda:x")
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(BinnInputError, match="has no CUDA support"):
        check_device("cuda", source="device")


def test_check_config_names_file_and_line(tmp_path, capsys):
    """``binn check-config``: a --configfile's YAML syntax error (which Snakemake reports
    without file or line) and unknown keys, named by file and line; good files pass."""
    from binn.cli import main

    repo_config = [str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "real_acdc.yaml")]
    schema = ["--schema", str(ROOT / "config" / "schema.yaml")]
    assert main(["check-config", *repo_config, *schema]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("vae:\n  epochs: [3\nphantom: {}\n")
    assert main(["check-config", str(bad), *schema]) == 2
    assert f"{bad}: line 3, column 8: YAML syntax error" in capsys.readouterr().err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("vae:\n  epochs: 3\n  epoch: 4\n")
    assert main(["check-config", *repo_config[:1], str(unknown), *schema]) == 2
    err = capsys.readouterr().err
    assert f"{unknown}: line 3: unknown key 'vae.epoch' (did you mean 'vae.epochs'?)" in err
    assert "properties" not in err  # the keys beside it, not the schema
    typed = tmp_path / "typed.yaml"
    typed.write_text("vae:\n  epochs: many\n")
    assert main(["check-config", str(typed), *schema]) == 2
    err = capsys.readouterr().err
    assert "vae.epochs: 'many' is not of type 'integer'" in err
    assert "Failed validating" not in err
