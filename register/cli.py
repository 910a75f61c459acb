"""Command line of the registration stage: ``binn train-reg`` and ``binn track``.

(``binn evaluate-pair`` scores with analysis metrics, so it lives in :mod:`analysis.pair_cli`.)
Kept light: torch, SimpleITK and itk are imported inside the handlers. The train-reg
defaults are the workflow's (``config/config.yaml`` ``register:``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METHODS = ("binn", "l2", "demons", "ffd")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn train-reg`` and ``binn track``."""
    p = subparsers.add_parser("train-reg", help="train the registration network (binn or l2 loss)")
    p.add_argument("--train", type=Path, nargs="+", required=True, metavar="S.npz")
    p.add_argument("--val", type=Path, nargs="+", required=True, metavar="S.npz")
    p.add_argument("--method", choices=["binn", "l2"], required=True)
    p.add_argument("--alpha", type=float, default=1e-3, help="weight of R_VAE (binn)")
    p.add_argument("--lam", type=float, default=0.01, help="weight of ||grad u||^2 (l2)")
    p.add_argument("--vae", type=Path, default=None, help="VAE checkpoint (required for binn)")
    p.add_argument("--out", type=Path, required=True, help="model checkpoint (.pt)")
    p.add_argument("--width", type=float, default=0.25, help="width multiplier (1.0 = paper)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (paper: 1e-4)")
    p.add_argument("--val-every", type=int, default=100, help="validate every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="network training precision; auto = bfloat16 autocast where the device has it"
        " natively, else float32 (tracking always runs float32)",
    )
    p.set_defaults(func=_run_train)

    p = subparsers.add_parser(
        "track", help="register every frame of one or more sequences to their ED frame"
    )
    add_track_arguments(p)
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="FIELDS.npz", help="fields of one subject")
    out.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="one fields file per subject, DIR/<subject file name>",
    )
    p.set_defaults(func=_run_track)


def add_track_arguments(p: argparse.ArgumentParser) -> None:
    """What to track and with which method (``track``, ``track-evaluate``), less the output."""
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="SUBJECT.npz",
        help="subject files; several share one loaded method (--out-dir)",
    )
    p.add_argument("--method", choices=METHODS, default=None)
    p.add_argument("--model", default=None, help="network checkpoint; may contain {setting}")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--selection", type=Path, default=None, metavar="SELECT.json")
    p.add_argument("--frames", choices=["all", "es"], default="all")
    add_registrar_options(p)


def add_registrar_options(p: argparse.ArgumentParser) -> None:
    """Options every registering command shares (``track``, ``evaluate-pair``)."""
    p.add_argument("--batch-size", type=int, default=16, help="pairs per network batch")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda (networks, refinement)")
    p.add_argument(
        "--vae",
        type=Path,
        default=None,
        help="VAE for refining binn fields (default: the one the checkpoint records)",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="classical methods: pairs registered in parallel"
    )


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=None))


def _run_train(args: argparse.Namespace) -> int:
    from binn.register.train import TrainConfig, train_registration

    cfg = TrainConfig(
        method=args.method,
        alpha=args.alpha,
        lam=args.lam,
        width=args.width,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        val_every=args.val_every,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
    )
    result = train_registration(args.train, args.val, cfg, args.out, vae_path=args.vae)
    _print(result)
    return 0


def _run_track(args: argparse.Namespace) -> int:
    from binn.register.track import track_command

    track_command(args)
    return 0
