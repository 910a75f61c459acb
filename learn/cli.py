"""Command line of the learn stage: ``binn train-vae``, ``binn plausibility``, ``binn bench vae``.

Every default comes from :mod:`binn.learn.config` (``train-vae``: :class:`TrainConfig`;
``bench vae``: :data:`VAE_BENCH_TRAINING` and :class:`VaeBench`); the handlers turn the
parsed options into typed calls. Kept light: numpy and torch are imported inside the
handlers, so ``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from binn.device import DEVICES
from binn.errors import BinnInputError
from binn.learn.config import (
    AUGMENTATIONS,
    LR_SCHEDULES,
    VAE_BENCH_TRAINING,
    TrainConfig,
    VaeBench,
)

TRAIN = TrainConfig()
BENCH = VaeBench()


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn train-vae`` and ``binn plausibility``."""
    p = subparsers.add_parser(
        "train-vae", help="train the MotionVAE2D biomechanics prior on simulation records"
    )
    p.add_argument("cases", type=Path, nargs="+", metavar="CASES.npz", help="simulation records")
    p.add_argument("--out", type=Path, required=True, help="checkpoint (.pt); artefacts beside it")
    _add_training(p, TRAIN)
    p.add_argument(
        "--latent", type=int, default=TRAIN.latent_dim, help="dimension of the latent space"
    )
    p.add_argument(
        "--mask-dilation",
        type=int,
        default=TRAIN.mask_dilation,
        help="dilation of the ED mask, px",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=TRAIN.val_fraction,
        help="fraction of the cases for validation",
    )
    p.add_argument(
        "--max-norm",
        type=float,
        default=TRAIN.max_norm,
        help="fixed input scale in model units (48 px per px): 1/48 = 1 px/px; the authors' 0.1",
    )
    p.add_argument(
        "--frames-per-case",
        type=int,
        default=TRAIN.frames_per_case,
        help="frames subsampled per case; omitted: all",
    )
    p.add_argument(
        "--augment",
        default=TRAIN.augment,
        choices=AUGMENTATIONS,
        help="random re-orientations: any angle + flips, quarter turns + flips, or none",
    )
    p.add_argument("--nf", type=int, default=TRAIN.nf, help="width of the first convolution")
    _add_device(p, "auto")
    p.add_argument(
        "--failed-table", type=Path, default=None, help="CSV of the skipped failed cases"
    )
    p.add_argument("--no-resume", action="store_true", help="ignore an existing state file")
    p.set_defaults(func=_run_train)

    q = subparsers.add_parser("plausibility", help="R_VAE plausibility score of each frame")
    q.add_argument(
        "fields",
        type=Path,
        metavar="FIELDS.npz",
        help="npz with disp (T, 2, H, W) px, mask (H, W) and optionally spacing (2,) mm",
    )
    q.add_argument("--model", type=Path, required=True, help="VAE checkpoint (.pt)")
    q.add_argument(
        "--spacing-mm",
        type=float,
        default=None,
        help="pixel spacing of the fields, mm (unset: the file's spacing; a file without one "
        "is taken to be on the VAE's grid, which is logged); fields on another spacing than "
        "the VAE's are resampled to its grid",
    )
    q.add_argument("--json", action="store_true", help="print one JSON object")
    _add_device(q, "cpu")
    q.set_defaults(func=_run_plausibility)


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench vae``."""
    p = subparsers.add_parser("vae", help="train a small VAE; plausibility AUC and throughput")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--cases",
        type=Path,
        default=None,
        help="folder of simulation records; omitted: simulate --n-cases synthetic cases",
    )
    p.add_argument("--n-cases", type=int, default=BENCH.n_cases, help="synthetic cases to simulate")
    p.add_argument("--frames", type=int, default=BENCH.frames, help="frames per simulated case")
    _add_training(p, VAE_BENCH_TRAINING)
    p.add_argument("--threads", type=int, default=BENCH.threads, help="torch CPU threads")
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=BENCH.spacing_mm,
        help="in-plane spacing of the simulation grid, mm",
    )
    _add_device(p, BENCH.device)
    ref = p.add_argument_group("an outside field placed among the held-out cases")
    ref.add_argument("--reference-disp", type=Path, default=None, metavar="DISP.npy",
                     help="(T, 2, H, W) px displacement, e.g. the authors' sample")  # fmt: skip
    ref.add_argument("--reference-mask", type=Path, default=None, metavar="MASK.npy",
                     help="(H, W) myocardium mask of --reference-disp")  # fmt: skip
    ref.add_argument("--reference-spacing-mm", type=float, default=None,
                     help="pixel spacing of the reference, mm")  # fmt: skip
    p.set_defaults(func=_run_bench)


def _add_training(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """The options ``train-vae`` and ``bench vae`` share, with ``defaults``' values."""
    p.add_argument(
        "--size", type=int, default=defaults.image_size, help="window H = W, px (a multiple of 16)"
    )
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="training epochs")
    p.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="windows per minibatch"
    )
    p.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    p.add_argument(
        "--lr-schedule",
        default=defaults.lr_schedule,
        choices=LR_SCHEDULES,
        help="learning rate annealed from --lr to 0 over the epochs (half cosine), or constant",
    )
    p.add_argument("--beta", type=float, default=defaults.beta, help="KL weight")
    p.add_argument(
        "--seed", type=int, default=defaults.seed, help="seed of the split and the training"
    )


def _add_device(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--device", default=default, choices=DEVICES, help="torch device (auto: CUDA if present)"
    )


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of a parsed ``binn train-vae`` command line."""
    return TrainConfig(
        image_size=args.size,
        latent_dim=args.latent,
        nf=args.nf,
        beta=args.beta,
        max_norm=args.max_norm,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        mask_dilation=args.mask_dilation,
        val_fraction=args.val_fraction,
        frames_per_case=args.frames_per_case,
        augment=args.augment,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
    )


def bench_training(args: argparse.Namespace) -> TrainConfig:
    """The training of a parsed ``binn bench vae`` command line."""
    return replace(
        VAE_BENCH_TRAINING,
        image_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        beta=args.beta,
        seed=args.seed,
    )


def _run_train(args: argparse.Namespace) -> int:
    from binn.learn.train import train_vae

    train_vae(
        list(args.cases),
        args.out,
        train_config(args),
        args.device,
        args.failed_table,
        resume=not args.no_resume,
    )
    return 0


def _run_plausibility(args: argparse.Namespace) -> int:
    from binn.learn.plausibility import plausibility_on_grid

    result = plausibility_on_grid(args.fields, args.model, args.spacing_mm, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        for t, s in enumerate(result["scores"]):
            print(f"{t}\t{s:.6g}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from binn.learn.bench import Reference, bench_vae

    given = [args.reference_disp, args.reference_mask, args.reference_spacing_mm]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise BinnInputError(
            args.reference_disp or args.reference_mask,
            "--reference-disp, --reference-mask and --reference-spacing-mm go together",
        )
    reference = (
        Reference(args.reference_disp, args.reference_mask, args.reference_spacing_mm)
        if all(v is not None for v in given)
        else None
    )
    bench = VaeBench(
        n_cases=args.n_cases,
        frames=args.frames,
        spacing_mm=args.spacing_mm,
        threads=args.threads,
        device=args.device,
    )
    result = bench_vae(bench_training(args), bench, cases_dir=args.cases, reference=reference)
    print(json.dumps(result) if args.json else result)
    return 0
