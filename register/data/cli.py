"""Command line of the cine data: ``binn phantom``, ``binn import-cine``, ``binn split`` and
``binn bench anatomy``.

:mod:`binn.register.cli` registers these commands beside its own (it is the stage's one entry
for :mod:`binn.cli`). Kept light: numpy, scipy and nibabel are imported inside the handlers;
the defaults are :mod:`binn.register.config`'s (the workflow's, so a command run by hand
makes the same data as the default run).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from binn.errors import BinnInputError
from binn.register.config import (
    PHANTOM_FAMILIES,
    AnatomyBenchConfig,
    PhantomConfig,
    SplitConfig,
    SynthCineConfig,
)
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import AUTO_CONVENTION, DATA_LAYOUTS, LABEL_CONVENTIONS

log = logging.getLogger(__name__)

PHANTOM = PhantomConfig()
SYNTH = SynthCineConfig()
SPLIT = SplitConfig()
ANATOMY = AnatomyBenchConfig()
LABEL_CONVENTION_CHOICES = (AUTO_CONVENTION, *LABEL_CONVENTIONS)


def add_data_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn phantom``, ``binn import-cine`` and ``binn split``."""
    _add_phantom(subparsers)
    _add_synth_cine(subparsers)
    _add_import_cine(subparsers)
    _add_split(subparsers)


def _add_phantom(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "phantom", help="synthetic cine subject with ground-truth motion (kinematic model)"
    )
    p.add_argument("--seed", type=int, required=True, help="random seed of the subject")
    p.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--family",
        choices=PHANTOM_FAMILIES,
        default=PHANTOM.family,
        help="appearance/motion family",
    )
    p.add_argument("--frames", type=int, default=PHANTOM.frames, help="frames T over one cycle")
    p.add_argument(
        "--slices", type=int, default=PHANTOM.slices, help="short-axis slices Z (base to apex)"
    )
    p.add_argument("--size", type=int, default=PHANTOM.size, help="grid size H = W, px")
    p.add_argument(
        "--snr",
        dest="snr_db",
        type=float,
        default=PHANTOM.snr_db,
        metavar="DB",
        help="SNR of the blood signal over the noise, dB",
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=PHANTOM.spacing_mm,
        help="in-plane pixel spacing of the grid, mm",
    )
    p.set_defaults(func=_run_phantom)


def _add_import_cine(subparsers: argparse._SubParsersAction) -> None:
    q = subparsers.add_parser(
        "import-cine",
        help="real cine (a subject folder, or a 4D cine with its label maps) -> subject file on "
        "the grid, cropped around the LV",
    )
    src = q.add_argument_group("input (--dir with --layout, or --cine with --ed-labels)")
    src.add_argument("--dir", type=Path, default=None, help="patient / subject folder")
    src.add_argument("--layout", choices=DATA_LAYOUTS, default=None, help="folder layout of --dir")
    add_cine_arguments(src, es_frame_help="ES frame of --cine, 1-based (required)")
    src.add_argument(
        "--es-labels",
        type=Path,
        default=None,
        metavar="ES.nii.gz",
        help="ES label map of --cine (unset: no ES labels, nothing at ES is scored)",
    )
    q.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    q.add_argument("--force", action="store_true", help="replace an existing --out")
    q.add_argument(
        "--spacing-mm",
        type=float,
        default=DEFAULT_SPACING_MM,
        help="in-plane spacing of the grid, mm (images and labels are resampled to it)",
    )
    q.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE_PX,
        help="grid size H = W, px: the crop centred on the LV (on the resampled grid)",
    )
    q.add_argument(
        "--label-convention",
        choices=LABEL_CONVENTION_CHOICES,
        default=None,
        help="what the label values of the files mean; none given: the layout's own for "
        "--dir, auto for --cine",
    )
    q.set_defaults(func=_run_import)


def add_cine_arguments(group: argparse._ArgumentGroup, es_frame_help: str) -> None:
    """The options that name a 4D cine and its ED labels, as ``import-cine`` and ``strain``
    take them: ``--cine``, ``--ed-labels``, 1-based ``--ed-frame`` / ``--es-frame``
    (:func:`one_based` turns them into indices)."""
    group.add_argument(
        "--cine", type=Path, default=None, metavar="4D.nii.gz", help="4D cine (x, y, z, t)"
    )
    group.add_argument(
        "--ed-labels",
        type=Path,
        default=None,
        metavar="ED.nii.gz",
        help="ED label map of --cine, on its grid",
    )
    group.add_argument(
        "--ed-frame", type=int, default=1, help="ED frame of --cine, 1-based (as ACDC's Info.cfg)"
    )
    group.add_argument("--es-frame", type=int, default=None, help=es_frame_help)


def one_based(option: str, frame: int | None) -> int | None:
    """A 1-based ``--ed-frame``/``--es-frame`` as a 0-based index (None stays None)."""
    if frame is None:
        return None
    if frame < 1:
        raise BinnInputError(None, f"{option} {frame}: frames are numbered from 1")
    return frame - 1


def _add_split(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "split", help="deterministic subject-level train/val/test split of a real data folder"
    )
    p.add_argument(
        "--layout", choices=DATA_LAYOUTS, required=True, help="folder layout of the subjects"
    )
    p.add_argument("--data-dir", type=Path, required=True, help="ACDC / UK Biobank folder")
    p.add_argument(
        "--subjects", nargs="*", default=None, help="subject folders to split; none given: all"
    )
    p.add_argument(
        "--test-dir", type=Path, default=None, help="separate test folder (ED/ES frames suffice)"
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=SPLIT.val_fraction,
        help="fraction of the usable subjects that validate",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=SPLIT.test_fraction,
        help="fraction of the usable subjects that test (unused with --test-dir)",
    )
    p.add_argument("--seed", type=int, default=SPLIT.seed, help="seed of the stratified shuffle")
    p.add_argument("--out", type=Path, required=True, metavar="SPLIT.json", help="the split")
    p.add_argument(
        "--table",
        type=Path,
        default=None,
        metavar="SPLIT.csv",
        help="also write one row per subject (excluded ones with their reason)",
    )
    p.set_defaults(func=_run_split)


def _add_synth_cine(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth-cine",
        help="synthetic training cine moved by simulated (FEM) motion, randomised appearance",
    )
    p.add_argument(
        "--cases",
        type=Path,
        nargs="+",
        required=True,
        metavar="CASE.npz",
        help="binn simulate outputs to draw the slices from (failed cases are skipped)",
    )
    p.add_argument("--seed", type=int, required=True, help="random seed of the subject")
    p.add_argument("--out", type=Path, required=True, help="subject file (.npz)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument("--frames", type=int, default=SYNTH.frames, help="frames T over one cycle")
    p.add_argument(
        "--slices", type=int, default=SYNTH.slices, help="slices Z, one simulated case each"
    )
    p.add_argument(
        "--spacing-mm",
        type=float,
        default=SYNTH.spacing_mm,
        help="in-plane spacing of the grid, mm: the simulated cases must be on it",
    )
    p.set_defaults(func=_run_synth_cine)


def _run_synth_cine(args: argparse.Namespace) -> int:
    from binn.io import check_output
    from binn.provenance import provenance
    from binn.register.data.subject import save_subject
    from binn.register.data.synth_cine import load_usable_cases, make_synthetic_cine

    check_output(args.out, args.force)
    cases = load_usable_cases(args.cases, args.spacing_mm)
    subject = make_synthetic_cine(cases, args.seed, frames=args.frames, slices=args.slices)
    config = {
        "command": "synth-cine",
        "cases": [c.name for c in cases],
        "frames": args.frames,
        "slices": args.slices,
        "spacing_mm": args.spacing_mm,
    }
    save_subject(args.out, subject, provenance(config, seed=args.seed))
    log.info(
        "synthetic %s from %d cases (T=%d, ES=%d) -> %s",
        subject.name,
        len(cases),
        subject.frames,
        subject.es_index,
        args.out,
    )
    return 0


def _run_phantom(args: argparse.Namespace) -> int:
    from binn.io import check_output
    from binn.provenance import provenance
    from binn.register.data.phantom import make_phantom
    from binn.register.data.subject import save_subject

    check_output(args.out, args.force)
    config = {
        "command": "phantom",
        "family": args.family,
        "frames": args.frames,
        "slices": args.slices,
        "size": args.size,
        "snr_db": args.snr_db,
        "spacing_mm": args.spacing_mm,
    }
    subject = make_phantom(
        args.seed,
        family=args.family,
        frames=args.frames,
        slices=args.slices,
        size=args.size,
        spacing_mm=args.spacing_mm,
        snr_db=args.snr_db,
    )
    save_subject(args.out, subject, provenance(config, seed=args.seed))
    log.info(
        "phantom %s (T=%d, ES=%d) -> %s", subject.name, subject.frames, subject.es_index, args.out
    )
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from binn.io import check_output
    from binn.provenance import provenance
    from binn.register.data.crop import crop_subject
    from binn.register.data.subject import save_subject

    if (args.dir is None) == (args.cine is None):
        raise BinnInputError(None, "give one input: --dir (with --layout) or --cine")
    check_output(args.out, args.force)
    subject, config = _load_import(args)
    cropped, origin = crop_subject(subject, args.size)
    config.update(command="import-cine", spacing_mm=args.spacing_mm, size=args.size)
    save_subject(args.out, cropped, provenance(config, seed=None))
    log.info(
        "%s: T=%d Z=%d ES=%d, %s -> %s mm pixels, slice order %s, crop origin %s -> %s",
        subject.name,
        subject.frames,
        subject.slices,
        subject.es_index,
        subject.meta.get("source_spacing_mm"),
        subject.spacing[1:].tolist(),
        subject.meta.get("slice_order"),
        origin.tolist(),
        args.out,
    )
    return 0


def _load_import(args: argparse.Namespace):
    """The subject ``import-cine``'s input options name, and their record for provenance."""
    from binn.register.data.loaders import load_cine, load_subject_folder

    if args.dir is not None:
        if args.layout is None:
            raise BinnInputError(args.dir, "--dir needs --layout " + "|".join(DATA_LAYOUTS))
        stray = [o for o in ("ed_labels", "es_labels", "es_frame") if getattr(args, o)]
        if stray:
            raise BinnInputError(args.dir, f"--{stray[0].replace('_', '-')} goes with --cine")
        convention = args.label_convention or args.layout
        subject = load_subject_folder(args.dir, args.layout, convention, args.spacing_mm)
        return subject, {"dir": str(args.dir), "layout": args.layout,
                         "label_convention": convention}  # fmt: skip
    if args.ed_labels is None:
        raise BinnInputError(args.cine, "--cine needs --ed-labels ED.nii.gz")
    if args.es_frame is None:
        raise BinnInputError(args.cine, "--cine needs --es-frame (1-based) for a subject file")
    convention = args.label_convention or AUTO_CONVENTION
    subject = load_cine(
        args.cine,
        args.ed_labels,
        one_based("--ed-frame", args.ed_frame),
        one_based("--es-frame", args.es_frame),
        args.es_labels,
        convention,
        args.spacing_mm,
    )
    config = {
        "cine": str(args.cine),
        "ed_labels": str(args.ed_labels),
        "es_labels": None if args.es_labels is None else str(args.es_labels),
        "ed_frame": args.ed_frame,
        "es_frame": args.es_frame,
        "label_convention": subject.meta.get("label_convention", convention),
    }
    return subject, config


def _run_split(args: argparse.Namespace) -> int:
    from binn.io import write_json, write_text
    from binn.register.data.split import SPLITS, make_split, split_table

    split = make_split(
        args.data_dir,
        args.layout,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        subjects=args.subjects or None,
        test_dir=args.test_dir,
    )
    write_json(args.out, split)
    if args.table is not None:
        write_text(args.table, split_table(split))
    log.info(
        "split of %s: %s; %d excluded -> %s",
        args.data_dir,
        ", ".join(f"{s} {len(split[s])}" for s in SPLITS),
        len(split["excluded"]),
        args.out,
    )
    return 0


def add_data_bench(subparsers: argparse._SubParsersAction) -> None:
    """Register ``binn bench anatomy``."""
    p = subparsers.add_parser(
        "anatomy",
        help="LV wall thickness and cavity radius (mm) of synthetic rings, phantoms and ACDC",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--spacing-mm", type=float, default=ANATOMY.spacing_mm, help="grid spacing, mm")
    p.add_argument("--size", type=int, default=ANATOMY.size, help="grid size H = W, px")
    p.add_argument(
        "--synthetic",
        dest="n_synthetic",
        type=int,
        metavar="N",
        default=ANATOMY.n_synthetic,
        help="number of synthetic rings",
    )
    p.add_argument(
        "--synthetic-seed", type=int, default=ANATOMY.synthetic_seed, help="first synthetic seed"
    )
    p.add_argument(
        "--phantoms",
        dest="n_phantoms",
        type=int,
        metavar="N",
        default=ANATOMY.n_phantoms,
        help="phantoms per family",
    )
    p.add_argument(
        "--slices",
        dest="phantom_slices",
        type=int,
        metavar="N",
        default=ANATOMY.phantom_slices,
        help="slices per phantom",
    )
    p.add_argument(
        "--frames",
        dest="phantom_frames",
        type=int,
        metavar="N",
        default=ANATOMY.phantom_frames,
        help="frames per phantom (ED and ES are measured)",
    )
    p.add_argument(
        "--cases",
        type=Path,
        nargs="*",
        default=ANATOMY.cases,
        help="simulation records (.npz) to add",
    )
    p.add_argument("--acdc", type=Path, default=ANATOMY.acdc, help="folder of ACDC patient folders")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    p.set_defaults(func=_run_bench_anatomy)


def _run_bench_anatomy(args: argparse.Namespace) -> int:
    from binn.io import write_text
    from binn.register.data.anatomy import bench_anatomy, markdown_table

    result = bench_anatomy(
        AnatomyBenchConfig(
            spacing_mm=args.spacing_mm,
            size=args.size,
            n_synthetic=args.n_synthetic,
            synthetic_seed=args.synthetic_seed,
            n_phantoms=args.n_phantoms,
            phantom_slices=args.phantom_slices,
            phantom_frames=args.phantom_frames,
            cases=tuple(args.cases),
            acdc=args.acdc,
        )
    )
    if args.markdown is not None:
        write_text(args.markdown, markdown_table(result))
    print(json.dumps(result) if args.json else markdown_table(result))
    return 0
