"""``binn strain``: its options, and their conversion into a typed
:class:`~binn.analysis.commands.strain.StrainRequest`.

One grid: ``--dir`` and ``--cine`` are resampled to ``--spacing-mm`` (default the grid's
2.0 mm) and cropped to ``--size`` (default 64 px, a network's own); ``--data`` files are
checked against ``--spacing-mm`` when it is given.

Frame numbers on the command line are 1-based, as in ACDC's ``Info.cfg``; the library takes
0-based indices. Kept light: the analysis modules are imported inside the handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from binn.analysis.config import COLOUR_SCALES, StrainRequest, StrainTracking
from binn.device import DEVICES
from binn.errors import BinnInputError
from binn.register.config import TrackOptions
from binn.register.data.cli import add_cine_arguments, one_based
from binn.resample import DEFAULT_SPACING_MM
from binn.vocabulary import AUTO_CONVENTION, DATA_LAYOUTS, LABEL_CONVENTIONS, method_names

LABEL_CONVENTION_CHOICES = (AUTO_CONVENTION, *LABEL_CONVENTIONS)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn strain``."""
    p = subparsers.add_parser(
        "strain",
        help="AHA segmental radial/circumferential strain of one subject: CSV, JSON, "
        "curves, bull's-eye, contour GIFs, HTML",
    )
    src = p.add_argument_group("input (exactly one of --dir, --cine, --data)")
    src.add_argument(
        "--dir", type=Path, default=None, metavar="SUBJECT", help="subject folder (with --layout)"
    )
    src.add_argument(
        "--layout",
        choices=DATA_LAYOUTS,
        default=None,
        help="folder layout of --dir: where its files are",
    )
    src.add_argument(
        "--label-convention",
        choices=LABEL_CONVENTION_CHOICES,
        default=None,
        help="what the label values mean (unset: the layout's own for --dir, auto for --cine)",
    )
    add_cine_arguments(src, es_frame_help="ES frame of --cine, 1-based (unset: no ES marker)")
    src.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=None,
        metavar="SUBJECT.npz",
        help="subject files (several with --out-dir)",
    )
    src.add_argument(
        "--fields",
        type=Path,
        nargs="+",
        default=None,
        metavar="FIELDS.npz",
        help="binn track output of each --data, in order",
    )
    trk = p.add_argument_group("tracking (--dir, --cine)")
    trk.add_argument(
        "--method",
        choices=method_names(),
        default=None,
        help=f"tracking method (unset: {StrainTracking.default_method})",
    )
    trk.add_argument(
        "--model",
        type=Path,
        default=None,
        help="network checkpoint (network methods; unset: the shipped model in pretrained/)",
    )
    trk.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method option, repeatable (e.g. sigma=1.5 for demons); unset: the setting the "
        f"workflow validated on the {DEFAULT_SPACING_MM} mm grid ({_validated()})",
    )
    trk.add_argument(
        "--size",
        type=int,
        default=None,
        help="square crop around the LV on the grid, px (unset: the network's size, else "
        f"{StrainTracking.default_size})",
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=None,
        help="in-plane grid spacing, mm: --dir/--cine are resampled to it (unset: "
        f"{DEFAULT_SPACING_MM}); --data files must be on it (unset: their own); a network "
        "and a VAE must have been trained on it",
    )
    trk.add_argument(
        "--batch-size", type=int, default=StrainTracking.batch_size, help="frames per network batch"
    )
    trk.add_argument(
        "--device",
        choices=DEVICES,
        default=TrackOptions.device,
        help="torch device of the networks and the VAE (auto: the VAE on the CPU)",
    )
    p.add_argument(
        "--vae",
        type=Path,
        default=None,
        help="VAE checkpoint: R_VAE per frame (unset: the one the model records)",
    )
    p.add_argument(
        "--anterior-angle",
        type=float,
        default=None,
        metavar="DEG",
        help="anterior RV insertion angle (screen degrees: 0 right, 90 up, "
        "counter-clockwise) instead of the RV label",
    )
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="DIR", help="the output folder of one subject")
    out.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="several --data/--fields: DIR/<data file name>/ each",
    )
    p.add_argument(
        "--colour-scale",
        choices=COLOUR_SCALES,
        default=StrainRequest.colour_scale,
        help="bull's-eye colours: fixed (the same scale for every subject, so subjects "
        "compare by colour) or scaled to this subject's values",
    )
    p.add_argument("--force", action="store_true", help="replace an existing DIR")
    p.set_defaults(func=_run)


def _tracking(args: argparse.Namespace):
    """The :class:`StrainTracking` of ``--method``/``--model``/``--param``/``--size``."""
    from binn.vocabulary import parse_params

    return StrainTracking(
        StrainTracking.default_method if args.method is None else args.method,
        parse_params(args.param),
        args.model,
        args.size,
        args.batch_size,
        DEFAULT_SPACING_MM if args.spacing_mm is None else args.spacing_mm,
    )


def _validated() -> str:
    """The validated classical settings, for the help text."""
    from binn.register.config import validated_settings_text

    return validated_settings_text()


def _source(args: argparse.Namespace):
    """The one source the options name (``--dir``, ``--cine`` or one ``--data`` file)."""
    from binn.analysis.commands.strain import CineFiles, SubjectFolder, TrackedFiles

    modes = [m for m in ("dir", "cine", "data") if getattr(args, m) is not None]
    if len(modes) != 1:
        raise BinnInputError(None, "give exactly one of --dir, --cine or --data")
    if args.dir is not None:
        if args.layout is None:
            raise BinnInputError(args.dir, "--dir needs --layout acdc|ukbb")
        return SubjectFolder(args.dir, args.layout, args.label_convention)
    if args.cine is not None:
        if args.ed_labels is None:
            raise BinnInputError(args.cine, "--cine needs --ed-labels ED.nii.gz")
        return CineFiles(
            args.cine,
            args.ed_labels,
            one_based("--ed-frame", args.ed_frame),
            one_based("--es-frame", args.es_frame),
            args.label_convention or AUTO_CONVENTION,
        )
    if len(args.data) != 1 or (args.fields is not None and len(args.fields) != 1):
        raise BinnInputError(args.out, "--out takes one --data/--fields pair; use --out-dir")
    return TrackedFiles(args.data[0], _fields(args)[0])


def _fields(args: argparse.Namespace) -> list[Path]:
    """``--fields``, checked to be given without tracking options."""
    if args.fields is None:
        raise BinnInputError(args.data[0], "--data needs --fields FIELDS.npz (a binn track output)")
    if args.method is not None or args.model is not None or args.param:
        raise BinnInputError(
            args.fields[0],
            "--data/--fields analyses an existing tracking: no --method/--model/--param",
        )
    return args.fields


def _run(args: argparse.Namespace) -> int:
    from binn.analysis.commands.strain import (
        StrainRequest,
        TrackedFiles,
        strain_subject,
        strain_tracked_subjects,
    )

    common = {"vae": args.vae, "anterior_angle": args.anterior_angle, "device": args.device,
              "force": args.force, "spacing_mm": args.spacing_mm,
              "colour_scale": args.colour_scale}  # fmt: skip
    if args.out_dir is not None:
        if args.data is None or args.fields is None or len(args.data) != len(args.fields):
            raise BinnInputError(args.out_dir, "--out-dir needs as many --fields as --data files")
        pairs = [TrackedFiles(d, f) for d, f in zip(args.data, _fields(args), strict=True)]
        written = strain_tracked_subjects(pairs, args.out_dir, **common)
    else:
        source = _source(args)
        tracking = None if isinstance(source, TrackedFiles) else _tracking(args)
        if tracking is not None:
            common["spacing_mm"] = tracking.spacing_mm
        written = strain_subject(StrainRequest(source, args.out, tracking, **common))
    for path in written:
        print(path)
    return 0
