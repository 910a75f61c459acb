"""Command line of the cine data: ``binn phantom``, ``binn import-cine``, ``binn bench anatomy``.

Kept light: numpy, scipy and nibabel are imported inside the handlers. The defaults are
those of the workflow's embedded configuration (``config/config.yaml``: ``grid`` and
``phantom``), so a command run by hand makes the same data as the default run.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM

log = logging.getLogger(__name__)

DEFAULT_FRAMES = 20
DEFAULT_SLICES = 3
DEFAULT_SNR_DB = 20.0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn phantom`` and ``binn import-cine``."""
    p = subparsers.add_parser(
        "phantom", help="synthetic cine subject with ground-truth motion (kinematic model)"
    )
    p.add_argument("--seed", type=int, required=True, help="random seed of the subject")
    p.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    p.add_argument("--family", choices=["A", "B"], default="A", help="appearance/motion family")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames T over one cycle")
    p.add_argument(
        "--slices", type=int, default=DEFAULT_SLICES, help="short-axis slices Z (base to apex)"
    )
    p.add_argument("--size", type=int, default=DEFAULT_SIZE_PX, help="image size H = W, px")
    p.add_argument("--snr", type=float, default=DEFAULT_SNR_DB, metavar="DB", help="SNR in dB")
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=DEFAULT_SPACING_MM,
        help="in-plane pixel spacing of the grid, mm",
    )
    p.set_defaults(func=_run_phantom)

    q = subparsers.add_parser(
        "import-cine", help="real cine (ACDC or UK Biobank layout) -> cropped subject file"
    )
    q.add_argument("--dir", type=Path, required=True, help="patient / subject folder")
    q.add_argument("--layout", choices=["acdc", "ukbb"], required=True)
    q.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    q.add_argument(
        "--spacing-mm",
        type=float,
        default=DEFAULT_SPACING_MM,
        help="in-plane spacing of the grid, mm (images and labels are resampled to it)",
    )
    q.add_argument(
        "--crop",
        type=int,
        default=DEFAULT_SIZE_PX,
        help="crop size centred on the LV, px (on the resampled grid)",
    )
    q.add_argument(
        "--labels",
        choices=["auto", "acdc", "ukbb"],
        default=None,
        help="label convention of the files (default: the layout's)",
    )
    q.set_defaults(func=_run_import)


def _run_phantom(args: argparse.Namespace) -> int:
    from binn.provenance import provenance
    from binn.register.data.phantom import make_phantom
    from binn.register.data.subject import save_subject

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
    from binn.register.data.crop import crop_subject
    from binn.register.data.loaders import load_acdc, load_ukbb
    from binn.register.data.subject import save_subject

    loader = load_acdc if args.layout == "acdc" else load_ukbb
    labels = args.labels or args.layout
    subject = loader(args.dir, labels=labels, spacing_mm=args.spacing_mm)
    cropped, origin = crop_subject(subject, args.crop)
    config = {
        "command": "import-cine",
        "dir": str(args.dir),
        "layout": args.layout,
        "spacing_mm": args.spacing_mm,
        "crop": args.crop,
        "labels": labels,
    }
    save_subject(args.out, cropped, provenance(config, seed=None))
    log.info(
        "%s: T=%d Z=%d ES=%d, %s mm px, crop origin %s -> %s",
        subject.name,
        subject.frames,
        subject.slices,
        subject.es_index,
        subject.spacing[1:].tolist(),
        origin.tolist(),
        args.out,
    )
    return 0


def add_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench anatomy``."""
    p = subparsers.add_parser(
        "anatomy",
        help="LV wall thickness and cavity radius (mm) of synthetic rings, phantoms and ACDC",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--spacing-mm", type=float, default=DEFAULT_SPACING_MM, help="grid, mm")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE_PX, help="grid size, px")
    p.add_argument("--synthetic", type=int, default=50, help="number of synthetic rings")
    p.add_argument("--synthetic-seed", type=int, default=1000, help="first synthetic seed")
    p.add_argument("--phantoms", type=int, default=10, help="phantoms per family")
    p.add_argument("--slices", type=int, default=DEFAULT_SLICES, help="slices per phantom")
    p.add_argument(
        "--cases", type=Path, nargs="*", default=[], help="simulation records (.npz) to add"
    )
    p.add_argument("--acdc", type=Path, default=None, help="folder of ACDC patient folders")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    p.set_defaults(func=_run_bench_anatomy)


def _run_bench_anatomy(args: argparse.Namespace) -> int:
    from binn.io import write_text
    from binn.register.data.anatomy import bench_anatomy, markdown_table

    result = bench_anatomy(
        spacing_mm=args.spacing_mm,
        size=args.size,
        n_synthetic=args.synthetic,
        synthetic_seed=args.synthetic_seed,
        n_phantoms=args.phantoms,
        phantom_slices=args.slices,
        cases=args.cases,
        acdc=args.acdc,
    )
    if args.markdown is not None:
        write_text(args.markdown, markdown_table(result))
    print(json.dumps(result) if args.json else markdown_table(result))
    return 0
