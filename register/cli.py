"""Command line of the registration stage, its one entry for :mod:`binn.cli`: ``binn
train-reg``, ``binn track`` and ``binn export-displacement``, and the cine data's ``binn
phantom``, ``binn import-cine``, ``binn split`` and ``binn bench anatomy``
(:mod:`binn.register.data.cli`).

(``binn evaluate-pair`` and ``binn track-evaluate`` score with analysis metrics, so they live
in :mod:`binn.analysis`; they share the options of :func:`add_track_arguments` and
:func:`add_registrar_options` and build their request with :func:`track_request`.)
The defaults are :mod:`binn.register.config`'s, the method choices the vocabulary's
(:mod:`binn.vocabulary`). Kept light: torch, SimpleITK and itk are imported inside the
handlers. Only this module and :mod:`binn.register.data.cli` see parsed arguments; they
call typed library functions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from binn.device import DEVICES
from binn.errors import BinnInputError
from binn.register.config import (
    PRECISIONS,
    SHIPPED,
    TRACK_FRAMES,
    TrackOptions,
    TrainConfig,
    validated_settings_text,
)
from binn.register.data.cli import add_data_bench, add_data_commands
from binn.vocabulary import get_method, method_names, network_methods, parse_params

if TYPE_CHECKING:  # the handlers import the library (torch) when they run
    from binn.register.track import TrackRequest

TRAIN = TrainConfig()
TRACK = TrackOptions()


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the stage's commands: the cine data's, ``train-reg`` and ``track``."""
    add_data_commands(subparsers)
    _add_train(subparsers)
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
    p.add_argument(
        "--nifti",
        type=Path,
        default=None,
        metavar="DISP.nii.gz",
        help="also write the displacement (mm, world RAS+ components, u_t at each ED voxel: "
        "I_t(x + u_t(x)) ~ I_ED(x)) on the original image's voxels with its affine, as a "
        "(x, y, z, t, 3) NIfTI that ITK-SNAP / 3D Slicer / ParaView show in place (one subject)",
    )
    p.set_defaults(func=_run_track)
    e = subparsers.add_parser(
        "export-displacement",
        help="a binn track fields file as a NIfTI displacement in the original image's space",
    )
    e.add_argument("fields", type=Path, metavar="FIELDS.npz", help="a binn track output")
    e.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DISP.nii.gz",
        help="(x, y, z, t, 3) mm, world RAS+ components, with the original image's affine",
    )
    e.add_argument("--force", action="store_true", help="replace an existing --out")
    e.set_defaults(func=_run_export)


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register the stage's benchmarks (``binn bench anatomy``)."""
    add_data_bench(subparsers)


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-reg",
        help=f"train a registration network ({', '.join(network_methods())})",
    )
    p.add_argument(
        "--train", type=Path, nargs="+", required=True, metavar="S.npz", help="training subjects"
    )
    p.add_argument(
        "--val", type=Path, nargs="+", required=True, metavar="S.npz", help="validation subjects"
    )
    p.add_argument(
        "--method", choices=network_methods(), required=True, help="network method to train"
    )
    p.add_argument("--alpha", type=float, default=TRAIN.alpha, help="weight of R_VAE (binn)")
    p.add_argument("--lam", type=float, default=TRAIN.lam, help="weight of ||grad u||^2 (l2)")
    prior = ", ".join(m for m in network_methods() if get_method(m).needs_vae)
    p.add_argument("--vae", type=Path, default=None, help=f"VAE checkpoint (required for {prior})")
    p.add_argument("--out", type=Path, required=True, help="model checkpoint (.pt)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--width", type=float, default=TRAIN.width, help="width multiplier (1.0 = paper)"
    )
    p.add_argument("--steps", type=int, default=TRAIN.steps, help="optimisation steps")
    p.add_argument(
        "--batch-size", type=int, default=TRAIN.batch_size, help="pairs per optimisation step"
    )
    p.add_argument("--lr", type=float, default=TRAIN.lr, help="Adam learning rate (paper: 1e-4)")
    p.add_argument("--val-every", type=int, default=TRAIN.val_every, help="validate every N steps")
    p.add_argument(
        "--val-pairs",
        type=int,
        default=TRAIN.val_pairs,
        help="validation pairs at most (a fixed, seeded subsample)",
    )
    p.add_argument("--seed", type=int, default=TRAIN.seed, help="seed of weights and batches")
    p.add_argument(
        "--init",
        default=TRAIN.init,
        metavar="MODEL",
        help=f"fine-tune: start from this checkpoint of the same method, width and grid "
        f"('{SHIPPED}': the shipped model); unset: random weights",
    )
    p.add_argument("--device", choices=DEVICES, default=TRAIN.device, help="torch device")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=TRAIN.precision,
        help="network training precision; auto = bfloat16 autocast where the device has it"
        " natively, else float32 (tracking always runs float32)",
    )
    p.set_defaults(func=_run_train)


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
    p.add_argument(
        "--method",
        choices=method_names(),
        default=None,
        help="tracking method (or the one --selection names)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="network checkpoint; may contain {setting} (--selection); unset: the shipped "
        "model (pretrained/)",
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
        "--selection",
        type=Path,
        default=None,
        metavar="SELECT.json",
        help="the method and setting binn select chose",
    )
    p.add_argument(
        "--frames",
        choices=TRACK_FRAMES,
        default=TRACK.frames,
        help="register the whole sequence or the ES frame only to ED",
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=TRACK.spacing_mm,
        help="in-plane grid spacing the subject files must be on, mm (unset: the one they "
        "share); a network must have been trained on it",
    )
    add_registrar_options(p)


def add_registrar_options(p: argparse.ArgumentParser) -> None:
    """Options every registering command shares (``track``, ``evaluate-pair``)."""
    p.add_argument(
        "--batch-size", type=int, default=TRACK.batch_size, help="pairs per network batch"
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        default=TRACK.device,
        help="torch device (networks, refinement)",
    )
    p.add_argument(
        "--vae",
        type=Path,
        default=TRACK.vae,
        help="VAE for refining binn fields; none given: the one the checkpoint records",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=TRACK.threads,
        help="classical methods: pairs registered in parallel",
    )


def track_options(args: argparse.Namespace) -> TrackOptions:
    """The :class:`TrackOptions` of parsed :func:`add_registrar_options` (and ``--frames``,
    where the command has it)."""
    return TrackOptions(
        frames=getattr(args, "frames", TRACK.frames),
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        vae=args.vae,
        spacing_mm=getattr(args, "spacing_mm", TRACK.spacing_mm),
    )


def track_request(args: argparse.Namespace) -> TrackRequest:
    """The typed request of parsed :func:`add_track_arguments` plus ``--out FIELDS.npz``
    (one subject) or ``--out-dir DIR`` (``DIR/<subject file name>`` each)."""
    from binn.register.track import TrackRequest

    out = getattr(args, "out", None)
    if out is not None:
        if len(args.data) != 1:
            raise BinnInputError(
                out, f"--out takes one subject, got {len(args.data)}; use --out-dir"
            )
        outs = (out,)
    else:
        outs = tuple(args.out_dir / p.name for p in args.data)
        if len(set(outs)) != len(outs):
            raise BinnInputError(args.out_dir, "two --data files share a file name")
    return TrackRequest(
        data=tuple(args.data),
        outs=outs,
        method=args.method,
        params=parse_params(args.param),
        selection=args.selection,
        model=args.model,
        options=track_options(args),
        nifti=getattr(args, "nifti", None),
    )


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=None))


def _run_train(args: argparse.Namespace) -> int:
    from binn.io import check_output
    from binn.register.train import train_registration

    cfg = TrainConfig(
        method=args.method,
        alpha=args.alpha,
        lam=args.lam,
        width=args.width,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        val_every=args.val_every,
        val_pairs=args.val_pairs,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        init=args.init,
    )
    check_output(args.out, args.force)
    result = train_registration(args.train, args.val, cfg, args.out, vae_path=args.vae)
    _print(result)
    return 0


def _run_track(args: argparse.Namespace) -> int:
    from binn.register.track import track_subjects

    track_subjects(track_request(args))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from binn.io import check_output, load_npz
    from binn.register.track import export_displacement

    check_output(args.out, args.force)
    fields = load_npz(args.fields, required={"fields": 5, "frames": 1})
    print(export_displacement(fields, args.out, args.fields))
    return 0
