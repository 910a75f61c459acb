"""Command line of the simulate stage: binn simulate, binn verify cylinder, binn bench simulate.

Every default comes from :mod:`binn.simulate.config` (or the grid's, :mod:`binn.resample`);
the handlers turn the parsed options into typed calls. Kept light: gmsh and dolfinx are
imported inside the handlers, so ``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.simulate.bench import BENCH_SEEDS
from binn.simulate.config import (
    CYLINDER_MESH_SIZE_MM,
    LabelMapRing,
    SimulationRequest,
    SimulationSettings,
    SyntheticRing,
)
from binn.vocabulary import DATA_LAYOUTS

DEFAULTS = SimulationSettings()


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
    p.add_argument("--slice", type=int, metavar="Z", help="slice of --es-labels (z, base = 0)")
    p.add_argument(
        "--layout",
        choices=DATA_LAYOUTS,
        default=DATA_LAYOUTS[0],
        help="subject folder layout of --es-labels: names the case and gives the label values",
    )
    p.add_argument(
        "--label-values",
        default=None,
        metavar="MYO,CAVITY",
        help="label values of myocardium and LV cavity in the files; omitted: the layout's",
    )
    p.add_argument(
        "--ed-area-mm2",
        type=float,
        default=None,
        help="ED cavity area target in mm^2 (instead of --ed-labels)",
    )
    p.add_argument("--out", type=Path, required=True, help="simulation record (.npz)")
    p.add_argument(
        "--xdmf", type=Path, default=None, help="FE time series (.xdmf); omitted: beside --out"
    )
    p.add_argument("--case", default=None, help="case name; omitted: synth_SEED or SUBJECT_zSLICE")
    _add_mu(p)
    _add_frames(p)
    _add_mesh_size(p)
    p.add_argument("--size", type=int, default=DEFAULT_SIZE_PX, help="raster grid size, px")
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


def _add_mu(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mu", type=float, default=DEFAULTS.mu_kpa, help="shear modulus, kPa")


def _add_frames(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--frames", type=int, default=DEFAULTS.frames, help="frames T of the pressure sweep"
    )


def _add_mesh_size(p: argparse.ArgumentParser, default: float = DEFAULTS.mesh_size_mm) -> None:
    p.add_argument("--mesh-size", type=float, default=default, help="mesh size, mm")


def add_verify(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn verify cylinder``."""
    p = subparsers.add_parser("cylinder", help="thick-walled cylinder against the analytic law")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_mu(p)
    _add_mesh_size(p, CYLINDER_MESH_SIZE_MM)
    p.set_defaults(func=_run_verify)


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench simulate``."""
    p = subparsers.add_parser("simulate", help="per-case simulation time on one core")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--cases",
        type=int,
        default=len(BENCH_SEEDS),
        help=f"number of synthetic cases (seeds 0-{len(BENCH_SEEDS) - 1})",
    )
    _add_frames(p)
    _add_mesh_size(p)
    p.set_defaults(func=_run_bench)


def simulation_request(args: argparse.Namespace) -> SimulationRequest:
    """The typed request of a parsed ``binn simulate`` command line."""
    ring: SyntheticRing | LabelMapRing
    if args.synthetic is not None:
        ring = SyntheticRing(args.synthetic)
    else:
        if args.slice is None:
            raise BinnInputError(args.es_labels, "--slice is required with --es-labels")
        ring = LabelMapRing(
            es_labels=args.es_labels,
            slice_index=args.slice,
            ed_labels=args.ed_labels,
            layout=args.layout,
            label_values=parse_label_values(args.label_values),
        )
    return SimulationRequest(
        ring=ring,
        out=args.out,
        settings=SimulationSettings(args.mu, args.frames, args.mesh_size),
        size=args.size,
        spacing_mm=args.spacing_mm,
        ed_area_mm2=args.ed_area_mm2,
        case=args.case,
        xdmf=args.xdmf,
        record_failure=args.record_failure,
    )


def parse_label_values(text: str | None) -> tuple[int, int] | None:
    """``"MYO,CAVITY"`` -> ``(myo, cavity)``; None stays None (the layout's values)."""
    if text is None:
        return None
    try:
        myo, cav = (int(v) for v in text.split(","))
    except ValueError as exc:
        raise BinnInputError(
            None, f"--label-values must be 'MYO,CAVITY' integers, got {text!r}"
        ) from exc
    if myo == cav or min(myo, cav) <= 0:
        raise BinnInputError(
            None, f"--label-values needs two distinct positive values, got {text!r}"
        )
    return myo, cav


def _run_simulate(args: argparse.Namespace) -> int:
    from binn.simulate.pipeline import run_simulation

    return run_simulation(simulation_request(args))


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

    result = bench_simulate(n_cases=args.cases, frames=args.frames, mesh_size=args.mesh_size)
    print(json.dumps(result) if args.json else result)
    sys.stdout.flush()
    return 0
