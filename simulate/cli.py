"""Command line of the simulate stage: binn simulate, binn verify cylinder, binn bench simulate.

Kept light: numpy, gmsh and dolfinx are imported inside the handlers, so ``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM

log = logging.getLogger(__name__)

DEFAULT_MU_KPA = 36.75
DEFAULT_FRAMES = 25  # = config/config.yaml simulate.frames (the paper: 50)
DEFAULT_MESH_SIZE_MM = 1.5


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn simulate``."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate one case: ES mask -> quad mesh -> neo-Hookean FEM -> rasterised fields",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", type=int, metavar="SEED", help="synthetic ring of this seed")
    src.add_argument("--es-labels", type=Path, metavar="F", help="ES label map (NIfTI)")
    p.add_argument("--ed-labels", type=Path, metavar="F", help="ED label map (NIfTI)")
    p.add_argument("--slice", type=int, metavar="Z", help="slice index (z, base = 0)")
    p.add_argument("--layout", choices=["acdc", "ukbb"], default="acdc")
    p.add_argument(
        "--labels",
        default=None,
        metavar="MYO,CAV",
        help="label values of myocardium and LV cavity in the files (default: layout's)",
    )
    p.add_argument(
        "--ed-area-mm2",
        type=float,
        default=None,
        help="ED cavity area target in mm^2 (instead of --ed-labels)",
    )
    p.add_argument("--out", type=Path, required=True, help="simulation record (.npz)")
    p.add_argument("--xdmf", type=Path, default=None, help="FE time series (default: beside --out)")
    p.add_argument("--case", default=None, help="case name (default: derived from the input)")
    p.add_argument("--mu", type=float, default=DEFAULT_MU_KPA, help="shear modulus, kPa")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="number of frames T")
    p.add_argument("--mesh-size", type=float, default=DEFAULT_MESH_SIZE_MM, help="mm")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE_PX, help="raster window, px")
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=DEFAULT_SPACING_MM,
        help="in-plane spacing of the grid, mm: synthetic rings are rasterised on it, NIfTI "
        "label maps resampled to it",
    )
    p.add_argument(
        "--record-failure",
        action="store_true",
        help="on any failure of the case (bad input, no convergence, gmsh, Qhull, PETSc, ...)"
        " write a status='failed' record with the error type and message, and exit 0",
    )
    p.set_defaults(func=_run_simulate)


def add_verify(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn verify cylinder``."""
    p = subparsers.add_parser("cylinder", help="thick-walled cylinder against the analytic law")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mesh-size", type=float, default=1.0, help="mm")
    p.add_argument("--mu", type=float, default=DEFAULT_MU_KPA, help="kPa")
    p.set_defaults(func=_run_verify)


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench simulate``."""
    p = subparsers.add_parser("simulate", help="per-case simulation time on one core")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--cases", type=int, default=5, help="number of synthetic cases")
    p.add_argument("--frames", type=int, default=50, help="frames per case (the paper's 50)")
    p.set_defaults(func=_run_bench)


def _run_simulate(args: argparse.Namespace) -> int:
    from binn.simulate.pipeline import run_cli_case

    return run_cli_case(args)


def _run_verify(args: argparse.Namespace) -> int:
    from binn.simulate.verify import verify_cylinder

    result = verify_cylinder(mesh_size=args.mesh_size, mu=args.mu)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0 if result["inner_radius_rel_error"] <= 0.005 else 1


def _run_bench(args: argparse.Namespace) -> int:
    from binn.simulate.bench import bench_simulate

    result = bench_simulate(n_cases=args.cases, frames=args.frames)
    print(json.dumps(result) if args.json else result)
    sys.stdout.flush()
    return 0
