"""``binn evaluate-pair``: register an ES stack to its ED stack and score it (one command).

It scores with :mod:`analysis.metrics`, so it belongs to analysis (stage arrows point
analysis -> register); the registration options are register's (:func:`register.cli.
add_registrar_options`). Kept light: torch and the loaders are imported in the handler.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from binn.register.cli import METHODS, add_registrar_options
from binn.resample import DEFAULT_SPACING_MM


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn evaluate-pair``."""
    p = subparsers.add_parser(
        "evaluate-pair", help="register an ES stack to its ED stack slice by slice and score it"
    )
    p.add_argument("--fixed-image", type=Path, required=True, metavar="ED.nii.gz")
    p.add_argument("--fixed-labels", type=Path, required=True, metavar="ED_gt.nii.gz")
    p.add_argument("--moving-image", type=Path, required=True, metavar="ES.nii.gz")
    p.add_argument("--moving-labels", type=Path, required=True, metavar="ES_gt.nii.gz")
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--model", type=Path, default=None, help="network checkpoint (binn/l2)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method parameters; for networks refine=N[,refine_lr=..,refine_grid=..]",
    )
    p.add_argument("--layout", choices=["auto", "acdc", "ukbb"], default="auto", help="labels")
    p.add_argument(
        "--size", type=int, default=None, help="crop size, px (default: the model's, or 64)"
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=DEFAULT_SPACING_MM,
        help="in-plane spacing of the grid the images and labels are resampled to, mm",
    )
    add_registrar_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run_evaluate_pair)


def _run_evaluate_pair(args: argparse.Namespace) -> int:
    from binn.analysis.evaluate_pair import evaluate_pair_command

    result = evaluate_pair_command(args)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
