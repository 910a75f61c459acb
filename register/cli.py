"""Command line of the registration stage: ``binn train-reg``, ``binn track``,
``binn evaluate-pair`` and ``binn bench register``.

Kept light: torch, SimpleITK and itk are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METHODS = ("binn", "l2", "demons", "ffd")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn train-reg``, ``binn track`` and ``binn evaluate-pair``."""
    p = subparsers.add_parser("train-reg", help="train the registration network (binn or l2 loss)")
    p.add_argument("--train", type=Path, nargs="+", required=True, metavar="S.npz")
    p.add_argument("--val", type=Path, nargs="+", required=True, metavar="S.npz")
    p.add_argument("--method", choices=["binn", "l2"], required=True)
    p.add_argument("--alpha", type=float, default=1e-3, help="weight of R_VAE (binn)")
    p.add_argument("--lam", type=float, default=0.01, help="weight of ||grad u||^2 (l2)")
    p.add_argument("--vae", type=Path, default=None, help="VAE checkpoint (required for binn)")
    p.add_argument("--out", type=Path, required=True, help="model checkpoint (.pt)")
    p.add_argument("--width", type=float, default=0.25, help="width multiplier (1.0 = paper)")
    p.add_argument("--steps", type=int, default=2000, help="optimisation steps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--val-every", type=int, default=100, help="validate every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.set_defaults(func=_run_train)

    p = subparsers.add_parser("track", help="register every frame of a sequence to ED")
    p.add_argument("--data", type=Path, required=True, metavar="SUBJECT.npz")
    p.add_argument("--method", choices=METHODS, default=None)
    p.add_argument("--model", default=None, help="network checkpoint; may contain {setting}")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--selection", type=Path, default=None, metavar="SELECT.json")
    p.add_argument("--frames", choices=["all", "es"], default="all")
    p.add_argument("--batch-size", type=int, default=16, help="frames per network batch")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, required=True, metavar="FIELDS.npz")
    p.set_defaults(func=_run_track)

    p = subparsers.add_parser(
        "evaluate-pair", help="register an ES stack to its ED stack slice by slice and score it"
    )
    p.add_argument("--fixed-image", type=Path, required=True, metavar="ED.nii.gz")
    p.add_argument("--fixed-labels", type=Path, required=True, metavar="ED_gt.nii.gz")
    p.add_argument("--moving-image", type=Path, required=True, metavar="ES.nii.gz")
    p.add_argument("--moving-labels", type=Path, required=True, metavar="ES_gt.nii.gz")
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--model", type=Path, default=None, help="network checkpoint (binn/l2)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--layout", choices=["auto", "acdc", "ukbb"], default="auto", help="labels")
    p.add_argument("--size", type=int, default=None, help="crop size (default: model's, or 96)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run_evaluate_pair)


def add_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench register``."""
    p = bench_subparsers.add_parser(
        "register", help="runtime per pair and held-out phantom accuracy of all four methods"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--vae", type=Path, default=None, help="VAE for binn (its size sets --size)")
    p.add_argument("--size", type=int, default=64, help="phantom image size, px")
    p.add_argument("--frames", type=int, default=20, help="phantom frames per sequence")
    p.add_argument("--slices", type=int, default=3, help="phantom slices")
    p.add_argument("--train-subjects", type=int, default=8)
    p.add_argument("--test-subjects", type=int, default=2)
    p.add_argument("--steps", type=int, default=400, help="training steps per network")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument(
        "--alpha",
        type=float,
        default=1e-2,
        help="binn comparison setting (1e-3 left |det J - 1| above l2's at lam 0.01 here)",
    )
    p.add_argument("--lam", type=float, default=0.01)
    p.add_argument("--demons-sigma", type=float, default=1.5)
    p.add_argument("--ffd-grid", type=float, default=8.0)
    p.add_argument("--ffd-penalty", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=32, help="frames per network batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--work-dir", type=Path, default=None, help="keep (and reuse) models here")
    p.set_defaults(func=_run_bench)


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=None))


def _run_train(args: argparse.Namespace) -> int:
    from register.train import TrainConfig, train_registration

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
    )
    result = train_registration(args.train, args.val, cfg, args.out, vae_path=args.vae)
    _print(result)
    return 0


def _run_track(args: argparse.Namespace) -> int:
    from register.track import track_command

    track_command(args)
    return 0


def _run_evaluate_pair(args: argparse.Namespace) -> int:
    from register.evaluate_pair import evaluate_pair_command

    result = evaluate_pair_command(args)
    if args.json:
        _print(result)
    else:
        print(json.dumps(result, indent=2))
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from register.bench import bench_register

    _print(bench_register(args))
    return 0
