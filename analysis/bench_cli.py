"""``binn bench register`` (:mod:`analysis.bench_register`) and ``binn bench workflow``
(:mod:`analysis.bench_workflow`): their command lines.

Kept light: the bench module (numpy, pandas, torch) is imported inside the handler. The
defaults are the default run's (``config/config.yaml``), so the bench measures what the
workflow would choose and report at bench scale.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from binn.analysis import bench_register as B


def add_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench register`` and ``binn bench workflow``."""
    p = bench_subparsers.add_parser(
        "register",
        help="all four methods on held-out phantoms, each at its setting chosen on validation",
        description=B.__doc__.split("\n\n")[0],
    )
    p.add_argument("--json", action="store_true", help="print the JSON object on one line")
    p.add_argument(
        "--methods", nargs="+", choices=B.METHODS, default=list(B.METHODS), help="methods to run"
    )
    for method in B.METHODS:
        p.add_argument(
            f"--{method}",
            nargs="+",
            default=list(B.DEFAULT_SETTINGS[method]),
            metavar="SETTING",
            help=f"{method} settings to choose among on validation (default: the workflow's)",
        )
    p.add_argument(
        "--target",
        type=float,
        default=B.DEFAULT_TARGET,
        help="selection rule: mean |det J - 1| on validation nearest this (binn select)",
    )
    p.add_argument(
        "--vae",
        type=Path,
        default=None,
        help="VAE of binn (binn train-vae, same grid); without it a small one is trained here",
    )
    p.add_argument(
        "--vae-cases", type=int, default=B.DEFAULT_VAE_CASES, help="simulations for that VAE"
    )
    p.add_argument(
        "--vae-epochs", type=int, default=None, help="epochs of that VAE (train-vae's default)"
    )
    p.add_argument("--size", type=int, default=B.DEFAULT_SIZE, help="phantom image size, px")
    p.add_argument("--spacing-mm", type=float, default=B.DEFAULT_SPACING_MM, help="pixel, mm")
    p.add_argument("--frames", type=int, default=B.DEFAULT_FRAMES, help="phantom frames")
    p.add_argument("--slices", type=int, default=B.DEFAULT_SLICES, help="phantom slices")
    p.add_argument("--snr", type=float, default=B.DEFAULT_SNR_DB, metavar="DB", help="SNR, dB")
    for split in ("train", "val", "test"):
        p.add_argument(
            f"--{split}-subjects",
            type=int,
            default=B.DEFAULT_SUBJECTS[split],
            help=f"{split} phantoms",
        )
    p.add_argument("--steps", type=int, default=B.DEFAULT_STEPS, help="steps per network")
    p.add_argument("--lr", type=float, default=B.DEFAULT_LR, help="Adam learning rate")
    p.add_argument("--width", type=float, default=B.DEFAULT_WIDTH, help="network width")
    p.add_argument("--batch-size", type=int, default=B.DEFAULT_BATCH_SIZE)
    p.add_argument("--val-every", type=int, default=B.DEFAULT_VAL_EVERY, help="steps")
    p.add_argument(
        "--threads",
        type=int,
        default=B.DEFAULT_THREADS,
        help="torch threads, and classical pairs registered in parallel",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--work-dir", type=Path, default=None, help="keep (and reuse) simulations, VAE, networks"
    )
    p.set_defaults(func=_run)

    w = bench_subparsers.add_parser(
        "workflow",
        help="where a finished workflow run spent its time (from its benchmark files)",
    )
    w.add_argument("results", type=Path, help="the run's results folder")
    w.add_argument("--json", action="store_true", help="print the JSON object on one line")
    w.set_defaults(func=_run_workflow)


def _run_workflow(args: argparse.Namespace) -> int:
    from binn.analysis.bench_workflow import workflow_time

    print(json.dumps(workflow_time(args.results), indent=None if args.json else 2))
    return 0


def config_from_args(args: argparse.Namespace) -> B.BenchConfig:
    """The :class:`analysis.bench_register.BenchConfig` of parsed ``binn bench register``."""
    return B.BenchConfig(
        settings={m: tuple(getattr(args, m)) for m in args.methods},
        target=args.target,
        size=args.size,
        spacing_mm=args.spacing_mm,
        frames=args.frames,
        slices=args.slices,
        snr_db=args.snr,
        subjects={s: getattr(args, f"{s}_subjects") for s in ("train", "val", "test")},
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


def _run(args: argparse.Namespace) -> int:
    result = B.bench_register(config_from_args(args))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
