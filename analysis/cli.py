"""Command line of the analysis stage: ``binn evaluate``, ``binn track-evaluate``,
``binn select``, ``binn report``, ``binn strain`` and ``binn bench strain``.

Kept light: numpy, pandas, torch and matplotlib are imported inside the handlers, so
``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_TARGET = 0.1


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn evaluate``, ``binn select``, ``binn report`` and ``binn strain``."""
    p = subparsers.add_parser(
        "evaluate",
        help="metrics per subject x slice (and curves per frame) of tracking outputs",
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="S.npz",
        help="subject files (images, ED/ES labels, optional ground-truth motion)",
    )
    p.add_argument(
        "--fields",
        type=Path,
        nargs="+",
        required=True,
        metavar="F.npz",
        help="tracking outputs, paired with the subjects by subject name",
    )
    p.add_argument("--experiment", required=True, help="experiment name written in every row")
    p.add_argument("--out", type=Path, required=True, metavar="METRICS.csv")
    p.add_argument(
        "--curves",
        type=Path,
        default=None,
        metavar="CURVES.csv",
        help="also write per-frame curves (Dice, area change, strain, det J)",
    )
    p.set_defaults(func=_run_evaluate)

    from binn.register.cli import add_track_arguments

    p = subparsers.add_parser(
        "track-evaluate",
        help="track every subject with one method setting and evaluate the fields, in one "
        "process (the workflow's tracking job)",
    )
    add_track_arguments(p)
    p.add_argument("--experiment", required=True, help="experiment name written in every row")
    p.add_argument("--out-dir", type=Path, required=True, metavar="DIR",
                   help="one fields file per subject, DIR/<subject file name>")  # fmt: skip
    p.add_argument("--metrics", type=Path, required=True, metavar="METRICS.csv")
    p.add_argument("--curves", type=Path, default=None, metavar="CURVES.csv",
                   help="also write per-frame curves")  # fmt: skip
    p.set_defaults(func=_run_track_evaluate, out=None)

    p = subparsers.add_parser(
        "select",
        help="hyperparameter choice: the setting whose mean |det J - 1| is nearest the target",
    )
    p.add_argument("--metrics", type=Path, nargs="+", required=True, metavar="M.csv")
    p.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help="target mean |det J - 1| over the myocardium (default 0.1)",
    )
    p.add_argument(
        "--method", default=None, help="method to select for (needed when the metrics hold several)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="SELECT.json")
    p.set_defaults(func=_run_select)

    p = subparsers.add_parser(
        "report", help="tables (CSV, Markdown), figures (PNG) and summary.md of the experiments"
    )
    p.add_argument("--metrics", type=Path, nargs="+", required=True, metavar="M.csv")
    p.add_argument("--curves", type=Path, nargs="*", default=[], metavar="C.csv")
    p.add_argument(
        "--failed",
        type=Path,
        nargs="*",
        default=[],
        metavar="FAILED.csv",
        help="failed simulation cases table(s)",
    )
    p.add_argument("--selections", type=Path, nargs="*", default=[], metavar="S.json")
    p.add_argument("--out-dir", type=Path, required=True, metavar="DIR")
    p.add_argument(
        "--summary",
        type=Path,
        default=None,
        metavar="SUMMARY.md",
        help="where summary.md goes (default: DIR/summary.md)",
    )
    p.add_argument(
        "--regularity",
        nargs="*",
        default=None,
        metavar="EXPERIMENT",
        help="experiments of the accuracy-vs-|det J - 1| figure and tables, in panel order "
        "(default: every experiment where a method has two settings or more, validation first)",
    )
    p.add_argument(
        "--split",
        type=Path,
        default=None,
        metavar="SPLIT.json",
        help="data split (binn split): subjects per split and group, exclusions",
    )
    p.add_argument(
        "--strain-dirs",
        type=Path,
        nargs="*",
        default=[],
        metavar="DIR",
        help="binn strain output folders (or folders of them) to link and summarise",
    )
    p.add_argument(
        "--config",
        type=Path,
        nargs="*",
        default=[],
        metavar="CONFIG.yaml",
        help="configuration file(s) of the run, named and hashed in summary.md",
    )
    p.set_defaults(func=_run_report)

    from binn.analysis.strain_command import add_strain_arguments

    p = subparsers.add_parser(
        "strain",
        help="AHA segmental radial/circumferential strain of one subject: CSV, JSON, "
        "curves, bull's-eye, contour GIFs, HTML",
    )
    add_strain_arguments(p)
    p.set_defaults(func=_run_strain)


def add_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench strain``."""
    p = bench_subparsers.add_parser(
        "strain",
        help="phantoms: per-segment peak strain error per method and hypokinesis detection",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--subjects", type=int, default=8, help="held-out phantoms")
    p.add_argument("--family", choices=["A", "B"], default="A")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--slices", type=int, default=3)
    p.add_argument("--size", type=int, default=64, help="px (a network's size wins)")
    p.add_argument(
        "--methods",
        type=lambda s: [m for m in s.split(",") if m],
        default=["demons", "ffd"],
        help="classical methods, comma-separated (default demons,ffd)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help="a network to include, e.g. binn=model.pt (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_run_bench_strain)


def _run_evaluate(args: argparse.Namespace) -> int:
    from binn.analysis.evaluate import evaluate_files

    evaluate_files(args.data, args.fields, args.experiment, args.out, args.curves)
    return 0


def _run_track_evaluate(args: argparse.Namespace) -> int:
    from binn.analysis.evaluate import evaluate_files
    from binn.register.track import track_command

    fields = track_command(args)
    evaluate_files(args.data, fields, args.experiment, args.metrics, args.curves)
    return 0


def _run_select(args: argparse.Namespace) -> int:
    from binn.analysis.select import select_files

    select_files(args.metrics, args.target, args.out, method=args.method)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from binn.analysis.report import build_report

    written = build_report(
        args.metrics,
        args.curves,
        args.failed,
        args.selections,
        args.out_dir,
        summary=args.summary,
        regularity_panels=args.regularity,
        split=args.split,
        strain_dirs=args.strain_dirs,
        configs=args.config,
    )
    for path in written:
        print(path)
    return 0


def _run_strain(args: argparse.Namespace) -> int:
    from binn.analysis.strain_command import strain_command

    for path in strain_command(args):
        print(path)
    return 0


def _run_bench_strain(args: argparse.Namespace) -> int:
    import json

    from binn.analysis.strain_bench import bench_strain

    result = bench_strain(args)
    print(json.dumps(result, indent=2 if not args.json else None))
    return 0
