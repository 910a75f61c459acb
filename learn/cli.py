"""Command line of the learn stage: ``binn train-vae``, ``binn plausibility``, ``binn bench vae``.

Kept light: numpy and torch are imported inside the handlers, so ``binn --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM

# The defaults of the default workflow (config/config.yaml, ``vae:``), CPU-sized; the
# paper's are --image-size 96 --lr 1e-4 --batch-size 32 (config/paper.yaml).
DEFAULT_IMAGE_SIZE = DEFAULT_SIZE_PX  # the grid's window
DEFAULT_LATENT = 32
DEFAULT_BETA = 1e-5
DEFAULT_LR = 1e-3
DEFAULT_LR_SCHEDULE = "cosine"  # learn.train.LR_SCHEDULES[0] (not imported: keeps --help fast)
DEFAULT_EPOCHS = 30
DEFAULT_BATCH_SIZE = 32
BENCH_BATCH_SIZE = 8  # bench vae: more optimiser steps in its short CPU run
BENCH_EPOCHS = 90  # bench vae: chosen over 30 and 150 on 49 other simulated cases (seeds 40-89)
DEFAULT_MASK_DILATION = 3
DEFAULT_VAL_FRACTION = 0.25
DEFAULT_MAX_NORM = 1.0 / 48.0  # learn.model.DEFAULT_MAX_NORM (not imported: keeps --help fast)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn train-vae`` and ``binn plausibility``."""
    p = subparsers.add_parser(
        "train-vae", help="train the MotionVAE2D biomechanics prior on simulation records"
    )
    p.add_argument("cases", type=Path, nargs="+", metavar="CASES.npz", help="simulation records")
    p.add_argument("--out", type=Path, required=True, help="checkpoint (.pt); artefacts beside it")
    p.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE, help="crop size, px")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam learning rate")
    _add_lr_schedule(p)
    p.add_argument("--beta", type=float, default=DEFAULT_BETA, help="KL weight")
    p.add_argument("--latent", type=int, default=DEFAULT_LATENT, help="latent dimension")
    p.add_argument(
        "--mask-dilation",
        type=int,
        default=DEFAULT_MASK_DILATION,
        help="dilation of the ED mask, px",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=DEFAULT_VAL_FRACTION,
        help="fraction of cases for validation",
    )
    p.add_argument(
        "--max-norm",
        type=float,
        default=DEFAULT_MAX_NORM,
        help="fixed input scale in model units (48 px per px): default 1/48 = 1 px/px; authors 0.1",
    )
    p.add_argument(
        "--frames-per-case", type=int, default=None, help="subsample frames (default: all)"
    )
    p.add_argument(
        "--augment",
        default="rigid",
        choices=["rigid", "dihedral", "none"],
        help="random re-orientations: any angle + flips, quarter turns + flips, or none",
    )
    p.add_argument("--nf", type=int, default=32, help="width of the first convolution")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--failed-table", type=Path, default=None, help="CSV of skipped failed cases")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing state file")
    p.set_defaults(func=_run_train)

    q = subparsers.add_parser("plausibility", help="R_VAE plausibility score of each frame")
    q.add_argument("fields", type=Path, metavar="FIELDS.npz", help="npz with disp and mask")
    q.add_argument("--model", type=Path, required=True, help="VAE checkpoint (.pt)")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    q.set_defaults(func=_run_plausibility)


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench vae``."""
    p = subparsers.add_parser("vae", help="train a small VAE; plausibility AUC and throughput")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--cases", type=Path, default=None, help="folder of simulation records (default: simulate)"
    )
    p.add_argument("--n-cases", type=int, default=20, help="synthetic cases to simulate")
    p.add_argument("--frames", type=int, default=20, help="frames per simulated case")
    p.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    p.add_argument("--epochs", type=int, default=BENCH_EPOCHS)
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam learning rate")
    _add_lr_schedule(p)
    p.add_argument("--batch-size", type=int, default=BENCH_BATCH_SIZE, help="windows per minibatch")
    p.add_argument("--beta", type=float, default=DEFAULT_BETA, help="KL weight")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--spacing-mm", type=float, default=DEFAULT_SPACING_MM, help="simulation grid, mm/px"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ref = p.add_argument_group("an outside field placed among the held-out cases")
    ref.add_argument("--reference-disp", type=Path, default=None, metavar="DISP.npy",
                     help="(T, 2, H, W) px displacement, e.g. the authors' sample")  # fmt: skip
    ref.add_argument("--reference-mask", type=Path, default=None, metavar="MASK.npy",
                     help="(H, W) myocardium mask of --reference-disp")  # fmt: skip
    ref.add_argument("--reference-spacing-mm", type=float, default=None,
                     help="pixel spacing of the reference, mm")  # fmt: skip
    p.set_defaults(func=_run_bench)


def _add_lr_schedule(p: argparse.ArgumentParser) -> None:
    """``--lr-schedule``, shared by ``train-vae`` and ``bench vae``."""
    p.add_argument(
        "--lr-schedule",
        default=DEFAULT_LR_SCHEDULE,
        choices=["cosine", "constant"],  # learn.train.LR_SCHEDULES
        help="learning rate annealed from --lr to 0 over the epochs (half cosine), or constant",
    )


def _run_train(args: argparse.Namespace) -> int:
    from binn.learn.train import train_from_cli

    return train_from_cli(args)


def _run_plausibility(args: argparse.Namespace) -> int:
    from binn.learn.score import plausibility_scores

    scores = plausibility_scores(args.fields, args.model, device=args.device)
    if args.json:
        print(json.dumps({"scores": scores}))
    else:
        for t, s in enumerate(scores):
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
    result = bench_vae(
        spacing_mm=args.spacing_mm,
        reference=reference,
        cases_dir=args.cases,
        n_cases=args.n_cases,
        image_size=args.image_size,
        epochs=args.epochs,
        frames=args.frames,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        batch_size=args.batch_size,
        beta=args.beta,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
    )
    print(json.dumps(result) if args.json else result)
    return 0
