"""The ``binn`` command line: one entry point whose subcommands come from the stage packages.

Each module named in ``CLI_MODULES`` defines, where it has them, ``add_commands(subparsers)``,
``add_bench(bench_subparsers)`` (-> ``binn bench <name>``) and
``add_verify(verify_subparsers)`` (-> ``binn verify <case>``). A subcommand
stores its handler as ``func``; the handler returns the process exit code.

Checked once for every command after parsing: ``--device`` (``cuda`` where CUDA is absent
is refused with exit code 2 before any work, :func:`binn.device.check_device`). Ctrl-C
stops any command with exit code 130 and one line, no traceback: every output binn writes
appears only when complete (:func:`binn.io.atomic_path`), so nothing half written is left.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

from binn import __version__
from binn.device import check_device
from binn.errors import BinnInputError, ConvergenceError
from binn.logs import configure_logging

#: exit code of a command stopped by Ctrl-C (128 + SIGINT, what shells report)
INTERRUPTED = 130
INTERRUPT_MESSAGE = (
    "interrupted (Ctrl-C): stopped before finishing; files are written atomically, so "
    "every output already there is complete and none is half written; rerun to finish"
)

CLI_MODULES = (
    "binn.simulate.cli",
    "binn.learn.cli",
    "binn.register.cli",
    "binn.analysis.cli",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every ``--help`` of binn: descriptions as written, and each option's default
    (``(default: X)``) after its help, unless the default is None."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from the stage packages' ``cli`` modules; every parser and
    subparser shows defaults in its help (:class:`HelpFormatter`)."""
    import importlib

    parser = argparse.ArgumentParser(prog="binn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"binn {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING"],
        help="messages of this level and above are logged",
    )
    parser.add_argument("--log-file", default=None, help="also write the log to this file")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = commands.add_parser("bench", help="benchmarks that print one JSON object")
    bench_commands = bench.add_subparsers(dest="bench", required=True, metavar="STAGE")
    verify = commands.add_parser("verify", help="verification against analytic solutions")
    verify_commands = verify.add_subparsers(dest="verify", required=True, metavar="CASE")
    for name in CLI_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "add_commands"):
            module.add_commands(commands)
        if hasattr(module, "add_bench"):
            module.add_bench(bench_commands)
        if hasattr(module, "add_verify"):
            module.add_verify(verify_commands)
    add_check_config(commands)
    for each in walk_parsers(parser):
        each.formatter_class = HelpFormatter
    return parser


def add_check_config(commands: argparse._SubParsersAction) -> None:
    """``binn check-config``: the workflow's config checks on files, before a run.

    Snakemake reads ``--configfile`` files before the Snakefile and reports a YAML syntax
    error in one without its file or line; this command names both.
    """
    p = commands.add_parser(
        "check-config",
        help="check workflow config files: YAML syntax, repeated and unknown keys, values",
        description=add_check_config.__doc__,
    )
    p.add_argument(
        "files",
        nargs="+",
        help="config files (YAML or JSON), merged in this order as Snakemake merges them "
        "(the workflow reads config/config.yaml first, then each --configfile)",
    )
    p.add_argument("--schema", default="config/schema.yaml", help="the workflow's JSON schema")
    p.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    """Check ``args.files`` one by one, then their merge; log what was checked."""
    from snakemake.common.configfile import load_configfile
    from snakemake.utils import update_config

    from binn.workflow.config import canonical_config, check_config_files, validate_config

    check_config_files(args.files, args.schema)
    merged: dict = {}
    for path in args.files:
        update_config(merged, load_configfile(path))
    validate_config(merged, args.schema, f"the config merged from {', '.join(args.files)}")
    canonical_config(merged)
    logging.getLogger("binn").info("config ok: %s", ", ".join(args.files))
    return 0


def walk_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every subparser below it, depth first (each once)."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += walk_parsers(sub)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``binn`` command line; return the exit code.

    Exit codes: 0 success, 2 bad input (the message names the file or option; a ``--device``
    naming CUDA where it is absent included), 3 solver failure, 130 interrupted (Ctrl-C).
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_file)
    log = logging.getLogger("binn")
    try:
        device = getattr(args, "device", None)
        if isinstance(device, str):
            check_device(device)
        return int(args.func(args) or 0)
    except BinnInputError as exc:
        log.error("bad input: %s", exc)
        return 2
    except ConvergenceError as exc:
        log.error("solver failure: %s", exc)
        return 3
    except KeyboardInterrupt:
        log.error(INTERRUPT_MESSAGE)
        return INTERRUPTED


def run() -> None:
    """The ``binn`` console command: :func:`main` on ``sys.argv``, then exit with its code.

    Ctrl-C before logging is set up (while the command line is assembled) exits 130 with
    the same one line on stderr as later (:data:`INTERRUPT_MESSAGE`), no traceback.

    Before exiting, the garbage collector's objects are frozen (``gc.freeze``), so the
    interpreter's last collections do not traverse the ~200,000 objects that importing
    torch (and ITK, dolfinx) created, only to free them as the process ends: that saves
    about 0.5 s of a 3 s workflow job. Every output is already written (atomically) and
    ``atexit`` handlers (log flushing, PETSc) still run.
    """
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"binn: {INTERRUPT_MESSAGE}", file=sys.stderr)
        code = INTERRUPTED
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
