"""``binn bench register``, ``bench strain`` and ``bench workflow``: their options, and their
conversion into :class:`~binn.analysis.config.BenchConfig` and
:class:`~binn.analysis.config.StrainBenchConfig`.

Kept light: the bench modules (numpy, pandas, torch) are imported inside the handlers. The
defaults are the dataclasses' (``bench register``: the default run's, so the bench measures
what the workflow would choose and report at bench scale).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from binn.analysis.config import BenchConfig, CohortStrainBenchConfig, StrainBenchConfig
from binn.device import DEVICES
from binn.errors import BinnInputError
from binn.register.config import PHANTOM_FAMILIES
from binn.vocabulary import DATA_LAYOUTS, classical_methods, method_names, network_methods

SPLITS = ("train", "val", "test")
REGISTER = BenchConfig()
STRAIN = StrainBenchConfig()
COHORT = CohortStrainBenchConfig(data_dir=Path())


def add_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench register``, ``bench strain``, ``bench strain-cohort`` and
    ``bench workflow``."""
    _add_register(bench_subparsers)
    _add_strain(bench_subparsers)
    _add_strain_cohort(bench_subparsers)
    w = bench_subparsers.add_parser(
        "workflow",
        help="where a finished workflow run spent its time (from its benchmark files)",
    )
    w.add_argument("results", type=Path, help="the run's results folder")
    w.add_argument("--json", action="store_true", help="print the JSON object on one line")
    w.set_defaults(func=_run_workflow)


def _add_register(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "register",
        help="every method on held-out phantoms, each at its setting chosen on validation",
    )
    p.add_argument("--json", action="store_true", help="print the JSON object on one line")
    methods = method_names()
    p.add_argument(
        "--methods",
        nargs="+",
        choices=methods,
        default=[m for m in methods if m in REGISTER.settings],
        help="methods to run",
    )
    for method in methods:
        p.add_argument(
            f"--{method}",
            nargs="+",
            default=list(REGISTER.settings.get(method, ())),
            metavar="SETTING",
            help=f"{method} settings to choose among on validation",
        )
    p.add_argument(
        "--target",
        type=float,
        default=REGISTER.target,
        help="selection rule: mean |det J - 1| on validation nearest this",
    )
    p.add_argument(
        "--vae",
        type=Path,
        default=REGISTER.vae,
        help="VAE of binn (binn train-vae, same grid); unset: a small one is trained here",
    )
    p.add_argument(
        "--vae-cases", type=int, default=REGISTER.vae_cases, help="simulations for that VAE"
    )
    p.add_argument(
        "--vae-epochs",
        type=int,
        default=REGISTER.vae_epochs,
        help="epochs of that VAE (unset: train-vae's default)",
    )
    p.add_argument("--size", type=int, default=REGISTER.size, help="phantom image size, px")
    p.add_argument(
        "--spacing-mm", type=float, default=REGISTER.spacing_mm, help="phantom pixel spacing, mm"
    )
    p.add_argument("--frames", type=int, default=REGISTER.frames, help="phantom frames")
    p.add_argument("--slices", type=int, default=REGISTER.slices, help="phantom slices")
    p.add_argument(
        "--snr", type=float, default=REGISTER.snr_db, metavar="DB", help="phantom SNR, dB"
    )
    for split in SPLITS:
        p.add_argument(
            f"--{split}-subjects",
            type=int,
            default=REGISTER.subjects[split],
            help=f"{split} phantoms",
        )
    p.add_argument("--steps", type=int, default=REGISTER.steps, help="steps per network")
    p.add_argument("--lr", type=float, default=REGISTER.lr, help="Adam learning rate")
    p.add_argument("--width", type=float, default=REGISTER.width, help="network width")
    p.add_argument(
        "--batch-size", type=int, default=REGISTER.batch_size, help="pairs per training step"
    )
    p.add_argument(
        "--val-every",
        type=int,
        default=REGISTER.val_every,
        help="training steps between validations",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=REGISTER.threads,
        help="torch threads, and classical pairs registered in parallel",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=REGISTER.seed,
        help="phantom seeds (the workflow's) and training seed",
    )
    p.add_argument("--device", choices=DEVICES, default=REGISTER.device, help="torch device")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=REGISTER.work_dir,
        help="keep (and reuse) simulations, VAE, networks",
    )
    p.set_defaults(func=_run_register)


def _add_strain(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "strain",
        help="phantoms: per-segment peak strain error per method and hypokinesis detection",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--subjects", type=int, default=STRAIN.subjects, help="held-out phantoms")
    p.add_argument(
        "--family", choices=PHANTOM_FAMILIES, default=STRAIN.family, help="phantom family"
    )
    p.add_argument("--frames", type=int, default=STRAIN.frames, help="phantom frames")
    p.add_argument("--slices", type=int, default=STRAIN.slices, help="phantom slices")
    p.add_argument(
        "--size",
        type=int,
        default=STRAIN.size,
        help="phantom image size, px (a network's size wins)",
    )
    p.add_argument(
        "--methods",
        type=_comma_list,
        default=",".join(STRAIN.methods),
        help=f"classical methods, comma-separated (of {','.join(classical_methods())})",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help="a network to include, e.g. binn=model.pt (repeatable; of "
        f"{','.join(network_methods())})",
    )
    p.add_argument("--seed", type=int, default=STRAIN.seed, help="first phantom seed offset")
    p.add_argument(
        "--device", choices=DEVICES, default=STRAIN.device, help="torch device of the networks"
    )
    p.set_defaults(func=_run_strain)


def _add_strain_cohort(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "strain-cohort",
        help="a labelled cine folder: peak strain per method and pathology group, beside "
        "published normal values and the labels' ring-model strain",
    )
    p.add_argument("--json", action="store_true", help="print the JSON object on one line")
    p.add_argument("--dir", type=Path, required=True, help="folder of subject folders")
    p.add_argument("--layout", choices=DATA_LAYOUTS, default=COHORT.layout, help="folder layout")
    p.add_argument(
        "--groups",
        type=_comma_list,
        default=None,
        help="pathology groups to include, comma-separated (e.g. NOR; unset: all)",
    )
    p.add_argument(
        "--methods",
        type=_comma_list,
        default=",".join(COHORT.methods),
        help="classical methods at their validated settings, comma-separated",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help="a network to include, e.g. binn=model.pt (repeatable)",
    )
    p.add_argument(
        "--refine",
        type=int,
        default=COHORT.refine,
        help="also each network refined by this many steps (0: unrefined only)",
    )
    p.add_argument(
        "--adapt",
        type=int,
        default=COHORT.adapt,
        help="also each network adapted to each subject by this many steps (0: not adapted)",
    )
    p.add_argument("--spacing-mm", type=float, default=COHORT.spacing_mm, help="grid spacing, mm")
    p.add_argument("--size", type=int, default=COHORT.size, help="grid size, px")
    p.add_argument("--limit", type=int, default=None, help="at most this many subjects per group")
    p.add_argument("--device", choices=DEVICES, default=COHORT.device, help="torch device")
    p.set_defaults(func=_run_strain_cohort)


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(m for m in text.split(",") if m)


def register_config(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` of parsed ``binn bench register`` options."""
    return BenchConfig(
        settings={m: tuple(getattr(args, m)) for m in args.methods},
        target=args.target,
        size=args.size,
        spacing_mm=args.spacing_mm,
        frames=args.frames,
        slices=args.slices,
        snr_db=args.snr,
        subjects={s: getattr(args, f"{s}_subjects") for s in SPLITS},
        steps=args.steps,
        lr=args.lr,
        width=args.width,
        batch_size=args.batch_size,
        val_every=args.val_every,
        threads=args.threads,
        vae=args.vae,
        vae_cases=args.vae_cases,
        vae_epochs=args.vae_epochs,
        seed=args.seed,
        device=args.device,
        work_dir=args.work_dir,
    )


def _models(items: list[str]) -> dict[str, Path]:
    """Repeated ``--model METHOD=PATH`` -> ``{method: path}``."""
    models = {}
    for item in items:
        method, sep, path = item.partition("=")
        if not sep:
            raise BinnInputError(None, f"--model {item!r}: expected METHOD=PATH")
        models[method] = Path(path)
    return models


def strain_config(args: argparse.Namespace) -> StrainBenchConfig:
    """The :class:`StrainBenchConfig` of parsed ``binn bench strain`` options."""
    models = _models(args.model)
    return StrainBenchConfig(
        subjects=args.subjects,
        family=args.family,
        frames=args.frames,
        slices=args.slices,
        size=args.size,
        methods=tuple(args.methods),
        models=models,
        seed=args.seed,
        device=args.device,
    )


def _run_register(args: argparse.Namespace) -> int:
    from binn.analysis.commands.bench_register import bench_register

    result = bench_register(register_config(args))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _run_strain(args: argparse.Namespace) -> int:
    from binn.analysis.commands.bench_strain import bench_strain

    result = bench_strain(strain_config(args))
    print(json.dumps(result, indent=2 if not args.json else None))
    return 0


def _run_strain_cohort(args: argparse.Namespace) -> int:
    from binn.analysis.commands.bench_strain_cohort import bench_strain_cohort

    cfg = CohortStrainBenchConfig(
        data_dir=args.dir,
        layout=args.layout,
        groups=args.groups,
        methods=tuple(args.methods),
        models=_models(args.model),
        refine=args.refine,
        adapt=args.adapt,
        spacing_mm=args.spacing_mm,
        size=args.size,
        limit=args.limit,
        device=args.device,
    )
    print(json.dumps(bench_strain_cohort(cfg), indent=None if args.json else 2))
    return 0


def _run_workflow(args: argparse.Namespace) -> int:
    from binn.analysis.commands.bench_workflow import workflow_time

    print(json.dumps(workflow_time(args.results), indent=None if args.json else 2))
    return 0
