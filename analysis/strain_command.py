"""``binn strain``: AHA segmental strain of one subject, from its cine or from tracking outputs.

Three ways in (exactly one):

- ``--dir SUBJECT --layout acdc|ukbb``: a subject folder (:func:`register.data.load_acdc`,
  :func:`register.data.load_ukbb`), cropped square around the LV (``--crop``, default the
  network's size or 96 px), tracked frame by frame to ED with ``--method`` (``--model``
  for networks, ``--param NAME=VALUE`` for method options);
- ``--cine 4D.nii.gz --ed-labels ED.nii.gz``: a plain 4D cine (``--ed-frame`` its ED frame,
  0-based, default 0; ``--es-frame`` optional) with the ED label map on the same grid;
  cropped and tracked as above;
- ``--data SUBJECT.npz --fields FIELDS.npz``: a subject file (``binn phantom``/``binn
  import-cine``) and its ``binn track`` output; nothing is retracked (the workflow's way).

Then :mod:`analysis.aha` numbers the segments, :mod:`analysis.strain` computes the curves,
peaks, time-to-peak and R_VAE (``--vae``), and :mod:`analysis.strain_outputs` writes the
folder ``--out`` (refused if it exists, unless ``--force``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from binn.errors import BinnInputError

log = logging.getLogger(__name__)

DEFAULT_CROP = 96


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A subject ready for analysis: ``images (T, Z, H, W)``, ``labels_ed (Z, H, W)``,
    ``spacing (3,)`` mm, tracked ``fields (T', Z, 2, H, W)`` px over ``frames (T',)``."""

    name: str
    images: np.ndarray
    labels_ed: np.ndarray
    spacing: np.ndarray
    es_index: int | None
    motion: np.ndarray | None
    fields: np.ndarray
    frames: np.ndarray
    method: str
    setting: str
    inputs: dict[str, Any]
    notes: list[str]


def _registrar(args: argparse.Namespace):
    from binn.register.track import Registrar
    from binn.vocabulary import parse_params

    if args.method is None:
        raise BinnInputError(None, "--method is needed to track (--dir or --cine)")
    params = parse_params(args.param)
    model = None if args.model is None else Path(args.model)
    vae = args.vae if args.method == "binn" else None  # refine=N refines under this prior
    return Registrar(args.method, params, model, None, args.batch_size, args.device, vae=vae)


def _crop_and_track(subject, args: argparse.Namespace, es_known: bool, inputs: dict) -> Prepared:
    """Crop ``subject`` (a :class:`CineSubject`) square on the LV and track all frames."""
    from binn.register.data.crop import crop_subject
    from binn.register.track import track_sequence

    registrar = _registrar(args)
    size = args.crop or DEFAULT_CROP
    if registrar.net is not None:
        if args.crop is not None and args.crop != registrar.net.image_size:
            raise BinnInputError(
                args.model,
                f"network works at {registrar.net.image_size} px, not --crop {args.crop}",
            )
        size = registrar.net.image_size
    cropped, origin = crop_subject(subject, size)
    log.info("%s: tracking %d frames x %d slices with %s", cropped.name, cropped.frames,
             cropped.slices, args.method)  # fmt: skip
    myo = cropped.labels_ed == 2
    result = track_sequence(cropped.images, registrar, "all", myo=myo, name=cropped.name)
    notes = [] if es_known else ["ES frame not given: no ES marker in the curves"]
    notes += [f"refinement stopped early: {f}" for f in result.get("failures", [])]
    return Prepared(
        name=cropped.name,
        images=cropped.images,
        labels_ed=cropped.labels_ed,
        spacing=np.asarray(cropped.spacing, np.float64),
        es_index=int(cropped.es_index) if es_known else None,
        motion=None,
        fields=result["fields"],
        frames=result["frames"],
        method=args.method,
        setting=registrar.setting,
        inputs={
            **inputs,
            "method": args.method,
            "setting": registrar.setting,
            "params": registrar.params,
            "model": None if args.model is None else str(args.model),
            "crop_px": size,
            "crop_origin": origin.tolist(),
            "seconds_tracking": result["seconds"],
            "ms_per_pair": result["ms_per_pair"],
            "vae_recorded_in_model": registrar.meta.get("vae"),
        },
        notes=notes,
    )


def _from_dir(args: argparse.Namespace) -> Prepared:
    from binn.register.data.loaders import load_acdc, load_ukbb

    if args.layout is None:
        raise BinnInputError(args.dir, "--dir needs --layout acdc|ukbb")
    loader = load_acdc if args.layout == "acdc" else load_ukbb
    subject = loader(args.dir) if args.labels is None else loader(args.dir, labels=args.labels)
    inputs = {"mode": "dir", "dir": str(args.dir), "layout": args.layout}
    return _crop_and_track(subject, args, True, inputs)


def _from_cine(args: argparse.Namespace) -> Prepared:
    from binn.nifti import load_label_map, load_volume
    from binn.register.data.intensity import normalise_intensity
    from binn.register.data.loaders import detect_convention, to_acdc_labels
    from binn.register.data.subject import CineSubject

    if args.ed_labels is None:
        raise BinnInputError(args.cine, "--cine needs --ed-labels ED.nii.gz")
    cine = load_volume(args.cine, dims=(4,))
    labels = load_label_map(args.ed_labels)
    t_n = cine.data.shape[0]
    if cine.data.shape[1:] != labels.data.shape:
        raise BinnInputError(
            args.ed_labels,
            f"grid {labels.data.shape} (z, y, x) differs from the cine's {cine.data.shape[1:]} "
            f"({args.cine})",
        )
    if not np.allclose(cine.spacing, labels.spacing, rtol=1e-3):
        raise BinnInputError(
            args.ed_labels,
            f"spacing {labels.spacing.tolist()} mm differs from the cine's {cine.spacing.tolist()}",
        )
    if not np.allclose(cine.affine, labels.affine, atol=1e-2):
        raise BinnInputError(args.ed_labels, f"affine differs from that of {args.cine}")
    for name, frame in (("--ed-frame", args.ed_frame), ("--es-frame", args.es_frame)):
        if frame is not None and not 0 <= frame < t_n:
            raise BinnInputError(
                args.cine, f"{name} {frame} is not a frame of the {t_n}-frame cine"
            )
    if t_n < 2:
        raise BinnInputError(args.cine, "the cine has fewer than 2 frames")
    if args.es_frame is not None and args.es_frame == args.ed_frame:
        raise BinnInputError(args.cine, "--es-frame equals --ed-frame")
    convention = args.labels or "auto"
    if convention == "auto":
        convention = detect_convention(labels.data, labels.path)
    lab = to_acdc_labels(labels.data, convention, labels.path)
    if not np.any(lab == 2):
        raise BinnInputError(args.ed_labels, "no myocardium (label 2) on any slice")
    raw = np.roll(cine.data, -args.ed_frame, axis=0).astype(np.float64)
    if not np.all(np.isfinite(raw)):
        raise BinnInputError(args.cine, "cine contains NaN or Inf")
    es_known = args.es_frame is not None
    subject = CineSubject(
        name=Path(args.cine).name.split(".")[0],
        images=normalise_intensity(raw, args.cine),
        labels_ed=lab,
        labels_es=lab,  # not used by the strain analysis
        # the CineSubject contract needs an ES frame; without --es-frame it is dropped below
        es_index=(args.es_frame - args.ed_frame) % t_n if es_known else 1,
        spacing=cine.spacing.copy(),
    )
    inputs = {
        "mode": "cine",
        "cine": str(args.cine),
        "ed_labels": str(args.ed_labels),
        "ed_frame": args.ed_frame,
        "es_frame": args.es_frame,
        "label_convention": convention,
    }
    return _crop_and_track(subject, args, es_known, inputs)


def _from_files(args: argparse.Namespace) -> Prepared:
    from binn.analysis.evaluate import load_tracking
    from binn.register.data.subject import load_subject

    if args.fields is None:
        raise BinnInputError(args.data, "--data needs --fields FIELDS.npz (a binn track output)")
    if args.method is not None or args.model is not None or args.param:
        raise BinnInputError(
            args.fields,
            "--data/--fields analyses an existing tracking: no --method/--model/--param",
        )
    subject = load_subject(args.data)
    track = load_tracking(args.fields)
    z, h, w = subject.labels_ed.shape
    if track.fields.shape[1:] != (z, 2, h, w):
        raise BinnInputError(
            args.fields,
            f"fields {track.fields.shape} do not fit the subject's (Z, H, W) = {(z, h, w)} "
            f"({args.data})",
        )
    if track.frames.min() < 0 or track.frames.max() >= subject.frames:
        raise BinnInputError(
            args.fields,
            f"frames {track.frames.tolist()} are not frames of the {subject.frames}-frame cine "
            f"of {args.data}",
        )
    notes = []
    if track.subject != subject.name:
        notes.append(f"fields are for subject {track.subject!r}, data is {subject.name!r}")
    return Prepared(
        name=subject.name,
        images=subject.images,
        labels_ed=subject.labels_ed,
        spacing=np.asarray(subject.spacing, np.float64),
        es_index=int(subject.es_index),
        motion=subject.motion,
        fields=track.fields,
        frames=track.frames,
        method=track.method,
        setting=track.setting,
        inputs={
            "mode": "files",
            "data": str(args.data),
            "fields": str(args.fields),
            "method": track.method,
            "setting": track.setting,
        },
        notes=notes,
    )


def prepare(args: argparse.Namespace) -> Prepared:
    """Load (and track) the subject named by exactly one of ``--dir``/``--cine``/``--data``."""
    modes = [m for m in ("dir", "cine", "data") if getattr(args, m) is not None]
    if len(modes) != 1:
        raise BinnInputError(None, "give exactly one of --dir, --cine or --data")
    return {"dir": _from_dir, "cine": _from_cine, "data": _from_files}[modes[0]](args)


def strain_command(args: argparse.Namespace) -> list[Path]:
    """``binn strain``: prepare, analyse, write the output folder; returns the files written.

    With ``--out-dir``, each ``--data``/``--fields`` pair gets the folder
    ``DIR/<data file name without .npz>`` in one process (the workflow's way).
    """
    if args.out_dir is not None:
        return _strain_each(args)
    if args.data is not None:
        if len(args.data) != 1 or (args.fields is not None and len(args.fields) != 1):
            raise BinnInputError(args.out, "--out takes one --data/--fields pair; use --out-dir")
        args = argparse.Namespace(
            **{**vars(args), "data": args.data[0], "fields": (args.fields or [None])[0]}
        )
    return _strain_one(args)


def _strain_each(args: argparse.Namespace) -> list[Path]:
    """Every ``--data``/``--fields`` pair of ``--out-dir`` (see :func:`strain_command`)."""
    if args.data is None or args.fields is None or len(args.data) != len(args.fields):
        raise BinnInputError(args.out_dir, "--out-dir needs as many --fields as --data files")
    outs = [args.out_dir / Path(d).name.removesuffix(".npz") for d in args.data]
    if len(set(outs)) != len(outs):
        raise BinnInputError(args.out_dir, "two --data files share a file name")
    written: list[Path] = []
    for data, fields, out in zip(args.data, args.fields, outs, strict=True):
        one = {**vars(args), "data": data, "fields": fields, "out": out, "out_dir": None}
        written += _strain_one(argparse.Namespace(**one))
    return written


def _strain_one(args: argparse.Namespace) -> list[Path]:
    """One subject: prepare, analyse, write ``args.out``."""
    from binn.analysis.aha import assign_aha
    from binn.analysis.strain import analyse_strain
    from binn.analysis.strain_outputs import write_strain_outputs
    from binn.provenance import provenance

    out = Path(args.out)
    if out.exists() and not args.force:
        raise BinnInputError(out, "output folder exists (use --force to replace it)")
    prep = prepare(args)
    source = args.dir or args.ed_labels or args.data
    aha = assign_aha(prep.labels_ed, prep.spacing[1:], args.anterior_angle, source=source)
    vae_path, vae_note = args.vae, "no --vae given"
    recorded = prep.inputs.get("vae_recorded_in_model")
    if vae_path is None and recorded:
        if Path(recorded).is_file():
            vae_path = Path(recorded)
        else:
            vae_note = f"no --vae given, and the VAE the model records ({recorded}) is missing"
    vae = None
    if vae_path is not None:
        from binn.learn.score import load_vae

        vae = load_vae(vae_path, "cpu" if args.device == "auto" else args.device)
        vae_note = f"VAE {vae_path}" + (" (recorded in the model)" if args.vae is None else "")
    analysis = analyse_strain(
        prep.name,
        prep.method,
        prep.setting,
        prep.labels_ed,
        prep.spacing,
        prep.images.shape[0],
        prep.fields,
        prep.frames,
        aha,
        es_index=prep.es_index,
        motion=prep.motion,
        vae=vae,
        vae_note=vae_note,
    )
    inputs = {
        **prep.inputs,
        "vae": None if vae_path is None else str(vae_path),
        "anterior_angle": args.anterior_angle,
    }
    written = write_strain_outputs(
        analysis,
        prep.images,
        prep.fields,
        prep.labels_ed,
        out,
        inputs,
        prep.notes,
        provenance(inputs, None),
        args.force,
    )
    log.info("%s: strain of %s written to %s", prep.name, prep.method, out)
    return written


def add_strain_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``binn strain``."""
    src = p.add_argument_group("input (exactly one of --dir, --cine, --data)")
    src.add_argument("--dir", type=Path, default=None, metavar="SUBJECT", help="subject folder")
    src.add_argument("--layout", choices=["acdc", "ukbb"], default=None, help="--dir layout")
    src.add_argument("--labels", choices=["auto", "acdc", "ukbb"], default=None,
                     help="label convention (default: the layout's; auto for --cine)")  # fmt: skip
    src.add_argument("--cine", type=Path, default=None, metavar="4D.nii.gz")
    src.add_argument("--ed-labels", type=Path, default=None, metavar="ED.nii.gz")
    src.add_argument("--ed-frame", type=int, default=0, help="ED frame of --cine (0-based)")
    src.add_argument("--es-frame", type=int, default=None, help="ES frame of --cine (0-based)")
    src.add_argument("--data", type=Path, nargs="+", default=None, metavar="SUBJECT.npz",
                     help="subject files (several with --out-dir)")  # fmt: skip
    src.add_argument("--fields", type=Path, nargs="+", default=None, metavar="FIELDS.npz",
                     help="binn track output of each --data, in order")  # fmt: skip
    trk = p.add_argument_group("tracking (--dir, --cine)")
    trk.add_argument("--method", choices=["binn", "l2", "demons", "ffd"], default=None)
    trk.add_argument("--model", type=Path, default=None, help="network checkpoint (binn, l2)")
    trk.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="method option, repeatable (e.g. sigma=1.5 for demons)")  # fmt: skip
    trk.add_argument(
        "--crop",
        type=int,
        default=None,
        help=f"crop px (default: the network's, else {DEFAULT_CROP})",
    )
    trk.add_argument("--batch-size", type=int, default=16, help="frames per network batch")
    trk.add_argument("--device", default="auto")
    p.add_argument("--vae", type=Path, default=None, help="VAE checkpoint: R_VAE per frame")
    p.add_argument("--anterior-angle", type=float, default=None, metavar="DEG",
                   help="anterior RV insertion angle (screen degrees: 0 right, 90 up, "
                   "counter-clockwise) instead of the RV label")  # fmt: skip
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="DIR", help="the output folder of one subject")
    out.add_argument("--out-dir", type=Path, metavar="DIR",
                     help="several --data/--fields: DIR/<data file name>/ each")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an existing DIR")
