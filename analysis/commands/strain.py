"""``binn strain``: AHA segmental strain of one subject, from its cine or from tracking outputs.

A :class:`~binn.analysis.config.StrainRequest` (:mod:`binn.analysis.config`) names one
source:

- :class:`~binn.analysis.config.SubjectFolder`: an ACDC or UK Biobank subject folder
  (:func:`binn.register.data.loaders.load_subject_folder`), cropped square around the LV
  and tracked frame by frame to ED (:class:`~binn.analysis.config.StrainTracking`);
- :class:`~binn.analysis.config.CineFiles`: a plain 4D cine with the ED label map on the
  same grid, its ED (and optionally ES) frame given as 0-based indices; cropped and tracked
  as above;
- :class:`~binn.analysis.config.TrackedFiles`: a subject file (``binn phantom`` / ``binn
  import-cine``) and its ``binn track`` output; nothing is retracked (the workflow's way).

Then :mod:`binn.analysis.measures.aha` numbers the segments,
:mod:`binn.analysis.measures.strain` computes the curves, peaks, time-to-peak and R_VAE
(with a VAE), and :mod:`binn.analysis.rendering.strain_pages` writes the output folder
(refused if it exists, unless ``force``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from binn.analysis.config import (
    CineFiles,
    StrainRequest,
    StrainTracking,
    SubjectFolder,
    TrackedFiles,
)
from binn.errors import BinnInputError
from binn.register.config import TrackOptions
from binn.vocabulary import AUTO_CONVENTION, MYOCARDIUM, get_method

log = logging.getLogger(__name__)


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


def _registrar(tracking: StrainTracking, vae: Path | None, device: str):
    from binn.register.track import Registrar

    prior = vae if get_method(tracking.method).needs_vae else None  # refine=N uses this prior
    return Registrar(
        tracking.method,
        dict(tracking.params),
        tracking.model,
        None,
        tracking.batch_size,
        device,
        vae=prior,
    )


def _crop_and_track(
    subject, request: StrainRequest, es_known: bool, inputs: dict[str, Any]
) -> Prepared:
    """Crop ``subject`` (a :class:`CineSubject`) square on the LV and track all frames."""
    from binn.register.data.crop import crop_subject
    from binn.register.track import track_sequence

    tracking = request.tracking
    if tracking is None:
        raise BinnInputError(None, "a method is needed to track a subject folder or cine")
    registrar = _registrar(tracking, request.vae, request.device)
    size = tracking.size or StrainTracking.fallback_size
    if registrar.net is not None:
        if tracking.size is not None and tracking.size != registrar.net.image_size:
            raise BinnInputError(
                tracking.model,
                f"network works at {registrar.net.image_size} px, not --size {tracking.size}",
            )
        size = registrar.net.image_size
    cropped, origin = crop_subject(subject, size)
    log.info("%s: tracking %d frames x %d slices with %s", cropped.name, cropped.frames,
             cropped.slices, tracking.method)  # fmt: skip
    myo = cropped.labels_ed == MYOCARDIUM
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
        method=tracking.method,
        setting=registrar.setting,
        inputs={
            **inputs,
            "method": tracking.method,
            "setting": registrar.setting,
            "params": registrar.params,
            "model": None if tracking.model is None else str(tracking.model),
            "crop_px": size,
            "crop_origin": origin.tolist(),
            "seconds_tracking": result["seconds"],
            "ms_per_pair": result["ms_per_pair"],
            "vae_recorded_in_model": registrar.meta.get("vae"),
        },
        notes=notes,
    )


def _from_folder(source: SubjectFolder, request: StrainRequest) -> Prepared:
    from binn.register.data.loaders import load_subject_folder

    subject = load_subject_folder(source.path, source.layout, source.label_convention)
    inputs = {"mode": "dir", "dir": str(source.path), "layout": source.layout}
    return _crop_and_track(subject, request, True, inputs)


def _from_cine(source: CineFiles, request: StrainRequest) -> Prepared:
    from binn.nifti import load_label_map, load_volume
    from binn.register.data.intensity import normalise_intensity
    from binn.register.data.loaders import detect_convention, to_acdc_labels
    from binn.register.data.subject import CineSubject

    cine = load_volume(source.cine, dims=(4,))
    labels = load_label_map(source.ed_labels)
    t_n = cine.data.shape[0]
    if cine.data.shape[1:] != labels.data.shape:
        raise BinnInputError(
            source.ed_labels,
            f"grid {labels.data.shape} (z, y, x) differs from the cine's {cine.data.shape[1:]} "
            f"({source.cine})",
        )
    if not np.allclose(cine.spacing, labels.spacing, rtol=1e-3):
        raise BinnInputError(
            source.ed_labels,
            f"spacing {labels.spacing.tolist()} mm differs from the cine's {cine.spacing.tolist()}",
        )
    if not np.allclose(cine.affine, labels.affine, atol=1e-2):
        raise BinnInputError(source.ed_labels, f"affine differs from that of {source.cine}")
    for name, index in (("ED", source.ed_index), ("ES", source.es_index)):
        if index is not None and not 0 <= index < t_n:
            raise BinnInputError(
                source.cine,
                f"{name} frame {index + 1} (1-based) is not a frame of the {t_n}-frame cine",
            )
    if t_n < 2:
        raise BinnInputError(source.cine, "the cine has fewer than 2 frames")
    if source.es_index is not None and source.es_index == source.ed_index:
        raise BinnInputError(source.cine, "the ES frame is the ED frame")
    convention = source.label_convention
    if convention == AUTO_CONVENTION:
        convention = detect_convention(labels.data, labels.path)
    lab = to_acdc_labels(labels.data, convention, labels.path)
    if not np.any(lab == MYOCARDIUM):
        raise BinnInputError(source.ed_labels, f"no myocardium (label {MYOCARDIUM}) on any slice")
    raw = np.roll(cine.data, -source.ed_index, axis=0).astype(np.float64)
    if not np.all(np.isfinite(raw)):
        raise BinnInputError(source.cine, "cine contains NaN or Inf")
    es_known = source.es_index is not None
    subject = CineSubject(
        name=Path(source.cine).name.split(".")[0],
        images=normalise_intensity(raw, source.cine),
        labels_ed=lab,
        labels_es=lab,  # not used by the strain analysis
        # the CineSubject contract needs an ES frame; without one it is dropped below
        es_index=(source.es_index - source.ed_index) % t_n if es_known else 1,
        spacing=cine.spacing.copy(),
    )
    inputs = {
        "mode": "cine",
        "cine": str(source.cine),
        "ed_labels": str(source.ed_labels),
        "ed_frame": source.ed_index + 1,  # 1-based, as --ed-frame and Info.cfg
        "es_frame": None if source.es_index is None else source.es_index + 1,
        "label_convention": convention,
    }
    return _crop_and_track(subject, request, es_known, inputs)


def _from_tracked(source: TrackedFiles, request: StrainRequest) -> Prepared:
    from binn.analysis.measures.evaluate import load_tracking
    from binn.register.data.subject import load_subject

    if request.tracking is not None:
        raise BinnInputError(
            source.fields, "an existing tracking is analysed as it is: no method to track with"
        )
    subject = load_subject(source.data)
    track = load_tracking(source.fields)
    z, h, w = subject.labels_ed.shape
    if track.fields.shape[1:] != (z, 2, h, w):
        raise BinnInputError(
            source.fields,
            f"fields {track.fields.shape} do not fit the subject's (Z, H, W) = {(z, h, w)} "
            f"({source.data})",
        )
    if track.frames.min() < 0 or track.frames.max() >= subject.frames:
        raise BinnInputError(
            source.fields,
            f"frames {track.frames.tolist()} are not frames of the {subject.frames}-frame cine "
            f"of {source.data}",
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
            "data": str(source.data),
            "fields": str(source.fields),
            "method": track.method,
            "setting": track.setting,
        },
        notes=notes,
    )


def prepare(request: StrainRequest) -> Prepared:
    """Load (and, for a folder or cine, track) the subject of ``request``."""
    source = request.source
    if isinstance(source, SubjectFolder):
        return _from_folder(source, request)
    if isinstance(source, CineFiles):
        return _from_cine(source, request)
    return _from_tracked(source, request)


def _source_path(source: SubjectFolder | CineFiles | TrackedFiles) -> Path:
    """The file that names the subject in messages: the folder, ED labels or subject file."""
    if isinstance(source, SubjectFolder):
        return source.path
    return source.ed_labels if isinstance(source, CineFiles) else source.data


def strain_subject(request: StrainRequest) -> list[Path]:
    """Prepare, analyse and write one subject's strain folder; returns the files written."""
    from binn.analysis.measures.aha import assign_aha
    from binn.analysis.measures.strain import analyse_strain
    from binn.analysis.rendering.strain_pages import write_strain_outputs
    from binn.provenance import provenance

    out = Path(request.out)
    if out.exists() and not request.force:
        raise BinnInputError(out, "output folder exists (use --force to replace it)")
    prep = prepare(request)
    source = _source_path(request.source)
    aha = assign_aha(prep.labels_ed, prep.spacing[1:], request.anterior_angle, source=source)
    vae_path, vae_note = request.vae, "no --vae given"
    recorded = prep.inputs.get("vae_recorded_in_model")
    if vae_path is None and recorded:
        if Path(recorded).is_file():
            vae_path = Path(recorded)
        else:
            vae_note = f"no --vae given, and the VAE the model records ({recorded}) is missing"
    vae = None
    if vae_path is not None:
        from binn.learn.score import load_vae

        vae = load_vae(vae_path, "cpu" if request.device == "auto" else request.device)
        vae_note = f"VAE {vae_path}" + (" (recorded in the model)" if request.vae is None else "")
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
        "anterior_angle": request.anterior_angle,
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
        request.force,
    )
    log.info("%s: strain of %s written to %s", prep.name, prep.method, out)
    return written


def strain_tracked_subjects(
    pairs: Sequence[TrackedFiles],
    out_dir: Path,
    *,
    vae: Path | None = None,
    anterior_angle: float | None = None,
    device: str = TrackOptions.device,
    force: bool = False,
) -> list[Path]:
    """Every subject file with its tracking output, each into the folder
    ``out_dir/<subject file name without .npz>``, in one process (the workflow's way)."""
    outs = [Path(out_dir) / Path(p.data).name.removesuffix(".npz") for p in pairs]
    if len(set(outs)) != len(outs):
        raise BinnInputError(out_dir, "two subject files share a file name")
    written: list[Path] = []
    for pair, out in zip(pairs, outs, strict=True):
        request = StrainRequest(
            pair, out, vae=vae, anterior_angle=anterior_angle, device=device, force=force
        )
        written += strain_subject(request)
    return written
