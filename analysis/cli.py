"""Command line of the analysis stage, the one module :mod:`binn.cli` reads for it:
``binn evaluate``, ``track-evaluate``, ``select``, ``report``, ``publish``,
``evaluate-pair``, ``export-pretrained``, ``strain`` (:mod:`binn.analysis.strain_cli`) and
``binn bench register``, ``bench strain``, ``bench workflow`` (:mod:`binn.analysis.bench_cli`).

Each handler turns the parsed options into typed calls of :mod:`binn.analysis.commands`,
:mod:`binn.analysis.tables` or :mod:`binn.analysis.rendering`. Kept light: numpy, pandas,
torch and matplotlib are imported inside the handlers, so ``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from binn.analysis import bench_cli, strain_cli
from binn.analysis.config import PairRequest, SelectionRule
from binn.register.cli import add_registrar_options, add_track_arguments
from binn.register.config import validated_settings_text
from binn.vocabulary import method_names


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the analysis stage's commands (see the module docstring)."""
    _add_evaluate(subparsers)
    _add_track_evaluate(subparsers)
    _add_select(subparsers)
    _add_report(subparsers)
    _add_publish(subparsers)
    _add_evaluate_pair(subparsers)
    _add_export_pretrained(subparsers)
    strain_cli.add_commands(subparsers)


def add_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench register``, ``bench strain`` and ``bench workflow``."""
    bench_cli.add_bench(bench_subparsers)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="METRICS.csv",
        help="the metrics table: one row per subject x slice",
    )
    p.add_argument(
        "--curves",
        type=Path,
        default=None,
        metavar="CURVES.csv",
        help="also write per-frame curves (Dice, area change, strain, det J)",
    )
    p.set_defaults(func=_run_evaluate)


def _add_track_evaluate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "track-evaluate",
        help="track every subject with one method setting and evaluate the fields, in one "
        "process (the workflow's tracking job)",
    )
    add_track_arguments(p)
    p.add_argument("--experiment", required=True, help="experiment name written in every row")
    p.add_argument(
        "--out-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="one fields file per subject, DIR/<subject file name>",
    )
    p.add_argument(
        "--metrics",
        type=Path,
        required=True,
        metavar="METRICS.csv",
        help="the metrics table: one row per subject x slice",
    )
    p.add_argument(
        "--curves",
        type=Path,
        default=None,
        metavar="CURVES.csv",
        help="also write per-frame curves",
    )
    p.set_defaults(func=_run_track_evaluate)


def _add_select(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "select",
        help="hyperparameter choice: the setting whose mean |det J - 1| is nearest the target",
    )
    p.add_argument(
        "--metrics",
        type=Path,
        nargs="+",
        required=True,
        metavar="M.csv",
        help="validation metrics tables (binn evaluate) of every setting",
    )
    p.add_argument(
        "--target",
        type=float,
        default=SelectionRule.target,
        help="target mean |det J - 1| over the myocardium",
    )
    p.add_argument(
        "--method",
        choices=method_names(),
        default=None,
        help="method to select for (needed when the metrics hold several)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="SELECT.json",
        help="the chosen setting and every candidate",
    )
    p.set_defaults(func=_run_select)


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="tables (CSV, Markdown), figures (PNG) and summary.md of the experiments"
    )
    p.add_argument(
        "--metrics",
        type=Path,
        nargs="+",
        required=True,
        metavar="M.csv",
        help="metrics tables (binn evaluate) of every experiment",
    )
    p.add_argument(
        "--curves",
        type=Path,
        nargs="*",
        default=[],
        metavar="C.csv",
        help="per-frame curves tables (binn evaluate --curves)",
    )
    p.add_argument(
        "--failed",
        type=Path,
        nargs="*",
        default=[],
        metavar="FAILED.csv",
        help="failed simulation cases table(s)",
    )
    p.add_argument(
        "--selections",
        type=Path,
        nargs="*",
        default=[],
        metavar="S.json",
        help="hyperparameter choices (binn select)",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder of the tables and figures",
    )
    p.add_argument(
        "--summary",
        type=Path,
        default=None,
        metavar="SUMMARY.md",
        help="where summary.md goes (unset: DIR/summary.md)",
    )
    p.add_argument(
        "--regularity",
        nargs="*",
        default=None,
        metavar="EXPERIMENT",
        help="experiments of the accuracy-vs-|det J - 1| figure and tables, in panel order "
        "(unset: every experiment where a method has two settings or more, validation first)",
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


def _add_publish(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "publish",
        help="a results page (and the README's current-results table) from a finished run's "
        "summary.md",
    )
    p.add_argument(
        "--results",
        type=Path,
        required=True,
        metavar="DIR",
        help="the run's results folder (summary.md, config.yaml)",
    )
    p.add_argument(
        "--page", type=Path, required=True, metavar="PAGE.md", help="the results page to write"
    )
    p.add_argument(
        "--readme",
        type=Path,
        default=None,
        metavar="README.md",
        help="also replace the table between its results:start/end markers",
    )
    p.set_defaults(func=_run_publish)


def _add_export_pretrained(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-pretrained",
        help="the selected networks of a run (and their VAE) as shipped float16 models with a "
        "model card",
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="METHOD=PATH",
        help="a network method's checkpoint (may hold {setting}); once per network method",
    )
    p.add_argument(
        "--selection",
        action="append",
        required=True,
        metavar="METHOD=SELECT.json",
        help="the setting binn select chose for the method; once per network method",
    )
    p.add_argument(
        "--test-metrics",
        type=Path,
        nargs="+",
        required=True,
        metavar="METRICS.csv",
        help="metrics of the selected networks on the run's test subjects",
    )
    p.add_argument(
        "--run-config", type=Path, required=True, metavar="CONFIG.yaml", help="the run's config"
    )
    p.add_argument("--out-dir", type=Path, required=True, metavar="DIR", help="where to write")
    p.set_defaults(func=_run_export_pretrained)


def _method_pairs(values: list[str], option: str) -> dict[str, str]:
    """``METHOD=VALUE`` options as a dict; a malformed one or an unknown method is refused."""
    from binn.errors import BinnInputError
    from binn.vocabulary import network_methods

    out = {}
    for value in values:
        method, sep, path = value.partition("=")
        if not sep or method not in network_methods() or not path:
            raise BinnInputError(
                None, f"{option} {value!r}: expected METHOD=PATH, METHOD one of {network_methods()}"
            )
        out[method] = path
    return out


def _run_export_pretrained(args: argparse.Namespace) -> int:
    from binn.analysis.commands.export_pretrained import PretrainedExport, export

    selections = _method_pairs(args.selection, "--selection")
    card = export(
        PretrainedExport(
            models=_method_pairs(args.model, "--model"),
            selections={k: Path(v) for k, v in selections.items()},
            test_metrics=tuple(args.test_metrics),
            run_config=args.run_config,
            out_dir=args.out_dir,
        )
    )
    print(json.dumps({"models": card["models"], "check": card["check"]}))
    return 0


def _add_evaluate_pair(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate-pair", help="register an ES stack to its ED stack slice by slice and score it"
    )
    p.add_argument(
        "--fixed-image",
        type=Path,
        required=True,
        metavar="ED.nii.gz",
        help="ED image stack (3D NIfTI)",
    )
    p.add_argument(
        "--fixed-labels",
        type=Path,
        required=True,
        metavar="ED_gt.nii.gz",
        help="ED label map, on the ED image's grid",
    )
    p.add_argument(
        "--moving-image",
        type=Path,
        required=True,
        metavar="ES.nii.gz",
        help="ES image stack (3D NIfTI)",
    )
    p.add_argument(
        "--moving-labels",
        type=Path,
        required=True,
        metavar="ES_gt.nii.gz",
        help="ES label map, on the ES image's grid",
    )
    p.add_argument("--method", choices=method_names(), required=True, help="tracking method")
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="network checkpoint (network methods); unset: the shipped model (pretrained/)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method parameters; for networks adapt=N and refine=N[,refine_lr=..]; a "
        "classical method's unnamed ones: the setting validated on the 2.0 mm grid "
        f"({validated_settings_text()})",
    )
    p.add_argument(
        "--label-convention",
        choices=strain_cli.LABEL_CONVENTION_CHOICES,
        default=PairRequest.label_convention,
        help="what the label values of the files mean",
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="crop size, px (unset: the network's, else the default grid's)",
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=PairRequest.spacing_mm,
        help="in-plane spacing of the grid the images and labels are resampled to, mm",
    )
    add_registrar_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on one line")
    p.set_defaults(func=_run_evaluate_pair)


def _run_evaluate(args: argparse.Namespace) -> int:
    from binn.analysis.commands.evaluate import evaluate_files

    evaluate_files(args.data, args.fields, args.experiment, args.out, args.curves)
    return 0


def _run_track_evaluate(args: argparse.Namespace) -> int:
    from binn.analysis.commands.evaluate import evaluate_files
    from binn.register.cli import track_request
    from binn.register.track import track_subjects

    fields = track_subjects(track_request(args))
    evaluate_files(args.data, fields, args.experiment, args.metrics, args.curves)
    return 0


def _run_select(args: argparse.Namespace) -> int:
    from binn.analysis.tables.select import select_files

    select_files(args.metrics, args.target, args.out, method=args.method)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from binn.analysis.rendering.report import build_report

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


def _run_publish(args: argparse.Namespace) -> int:
    from binn.analysis.rendering.results_page import publish

    for path in publish(args.results, args.page, args.readme):
        print(path)
    return 0


def _run_evaluate_pair(args: argparse.Namespace) -> int:
    from binn.analysis.commands.pair import evaluate_pair_files
    from binn.register.cli import track_options
    from binn.vocabulary import parse_params

    request = PairRequest(
        fixed_image=args.fixed_image,
        fixed_labels=args.fixed_labels,
        moving_image=args.moving_image,
        moving_labels=args.moving_labels,
        method=args.method,
        params=parse_params(args.param),
        model=args.model,
        size=args.size,
        spacing_mm=args.spacing_mm,
        label_convention=args.label_convention,
        options=track_options(args),
    )
    print(json.dumps(evaluate_pair_files(request), indent=None if args.json else 2))
    return 0
