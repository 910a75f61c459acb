"""Command line of the cine data: ``binn phantom`` and ``binn import-cine``.

Kept light: numpy, scipy and nibabel are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn phantom`` and ``binn import-cine``."""
    p = subparsers.add_parser(
        "phantom", help="synthetic cine subject with ground-truth motion (kinematic model)"
    )
    p.add_argument("--seed", type=int, required=True, help="random seed of the subject")
    p.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    p.add_argument("--family", choices=["A", "B"], default="A", help="appearance/motion family")
    p.add_argument("--frames", type=int, default=25, help="frames T over one cycle (20-30)")
    p.add_argument("--slices", type=int, default=3, help="short-axis slices Z (base to apex)")
    p.add_argument("--size", type=int, default=64, help="image size H = W, px")
    p.add_argument(
        "--snr", type=float, default=None, metavar="DB", help="SNR in dB (default: family's)"
    )
    p.add_argument(
        "--spacing-mm", type=float, default=None, help="in-plane pixel spacing (default: family's)"
    )
    p.set_defaults(func=_run_phantom)

    q = subparsers.add_parser(
        "import-cine", help="real cine (ACDC or UK Biobank layout) -> cropped subject file"
    )
    q.add_argument("--dir", type=Path, required=True, help="patient / subject folder")
    q.add_argument("--layout", choices=["acdc", "ukbb"], required=True)
    q.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    q.add_argument("--crop", type=int, default=96, help="crop size centred on the LV, px")
    q.add_argument(
        "--labels",
        choices=["auto", "acdc", "ukbb"],
        default=None,
        help="label convention of the files (default: the layout's)",
    )
    q.set_defaults(func=_run_import)


def _run_phantom(args: argparse.Namespace) -> int:
    from binn.provenance import provenance
    from register.data.phantom import make_phantom
    from register.data.subject import save_subject

    config = {
        "command": "phantom",
        "family": args.family,
        "frames": args.frames,
        "slices": args.slices,
        "size": args.size,
        "snr_db": args.snr,
        "spacing_mm": args.spacing_mm,
    }
    subject = make_phantom(
        args.seed,
        family=args.family,
        frames=args.frames,
        slices=args.slices,
        size=args.size,
        spacing_mm=args.spacing_mm,
        snr_db=args.snr,
    )
    save_subject(args.out, subject, provenance(config, seed=args.seed))
    log.info(
        "phantom %s (T=%d, ES=%d) -> %s", subject.name, subject.frames, subject.es_index, args.out
    )
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from binn.provenance import provenance
    from register.data.crop import crop_subject
    from register.data.loaders import load_acdc, load_ukbb
    from register.data.subject import save_subject

    loader = load_acdc if args.layout == "acdc" else load_ukbb
    labels = args.labels or args.layout
    subject = loader(args.dir, labels=labels)
    cropped, origin = crop_subject(subject, args.crop)
    config = {
        "command": "import-cine",
        "dir": str(args.dir),
        "layout": args.layout,
        "crop": args.crop,
        "labels": labels,
    }
    save_subject(args.out, cropped, provenance(config, seed=None))
    log.info(
        "%s: T=%d Z=%d ES=%d, crop origin %s -> %s",
        subject.name,
        subject.frames,
        subject.slices,
        subject.es_index,
        origin.tolist(),
        args.out,
    )
    return 0
