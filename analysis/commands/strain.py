"""``binn strain``: AHA segmental strain of one subject, from its cine or from tracking outputs.

A :class:`~binn.analysis.config.StrainRequest` (:mod:`binn.analysis.config`) names one
source:

- :class:`~binn.analysis.config.SubjectFolder`: an ACDC or UK Biobank subject folder
  (:func:`binn.register.data.loaders.load_subject_folder`);
- :class:`~binn.analysis.config.CineFiles`: a plain 4D cine with the ED label map on the
  same grid, its ED (and optionally ES) frame given as 0-based indices
  (:func:`binn.register.data.loaders.load_cine`);
- :class:`~binn.analysis.config.TrackedFiles`: a subject file (``binn phantom`` / ``binn
  import-cine``) and its ``binn track`` output; nothing is retracked (the workflow's way).

A folder or a cine goes through the loaders' one edge, as ``binn import-cine`` does: the
labels' convention, the slice order (base first, or "undecidable", recorded), the grid
(resampled in-plane to ``spacing_mm``, 2.0 mm by default), then a square crop around the
LV (64 px by default, a network's own size) and tracking frame by frame to ED
(:class:`~binn.analysis.config.StrainTracking`; a network must have been trained on the
grid, a classical method runs the validated setting unless ``--param`` says otherwise).
The grid, the setting and the geometry back to the original image are recorded in the
outputs' ``inputs``.

Then :mod:`binn.analysis.measures.aha` numbers the segments,
:mod:`binn.analysis.measures.strain` computes the curves, peaks, time-to-peak and R_VAE
(with a VAE learnt on the same spacing), and :mod:`binn.analysis.rendering.strain_pages`
writes the output folder (refused if it exists, unless ``force``; ``force`` replaces only a
folder that holds nothing but a strain folder's files).
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
from binn.vocabulary import MYOCARDIUM, get_method

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A subject ready for analysis: ``images (T, Z, H, W)``, ``labels_ed (Z, H, W)``,
    ``spacing (3,)`` mm, tracked ``fields (T', Z, 2, H, W)`` px over ``frames (T',)``;
    ``frame_time_ms``: the cine's frame interval (None: unknown, time in frames);
    ``meta``: the subject's (geometry, slice order); ``registrar``: the tracker (None for
    an existing tracking), whose ``meta`` may record the VAE a network was trained with;
    ``labels_es (Z, H, W)``: the ES labels when the source has them (None otherwise)."""

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
    frame_time_ms: float | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    registrar: Any = None
    labels_es: np.ndarray | None = None


def _registrar(tracking: StrainTracking, vae: Path | None, device: str):
    from binn.register.track import Registrar

    # adapt=N and refine=N use this prior
    prior = vae if get_method(tracking.method).needs_vae else None
    return Registrar(
        tracking.method,
        dict(tracking.params),
        tracking.model,
        None,
        tracking.batch_size,
        device,
        vae=prior,
        spacing_mm=tracking.spacing_mm,
    )


def _geometry_inputs(meta: dict[str, Any]) -> dict[str, Any]:
    """What the subject's ``meta`` says about its grid and slice order, for ``inputs``."""
    keys = ("source_spacing_mm", "source_shape", "slice_order", "slice_order_evidence",
            "label_convention", "geometry")  # fmt: skip
    return {k: meta[k] for k in keys if k in meta}


def _crop_and_track(subject, request: StrainRequest, inputs: dict[str, Any]) -> Prepared:
    """Crop ``subject`` (a :class:`CineSubject` on the grid) square on the LV and track all
    frames with ``request.tracking``."""
    from binn.register.data.crop import crop_subject
    from binn.register.track import track_sequence

    tracking = request.tracking
    if tracking is None:
        raise BinnInputError(None, "a method is needed to track a subject folder or cine")
    registrar = _registrar(tracking, request.vae, request.device)
    size = tracking.size or StrainTracking.default_size
    if registrar.net is not None:
        if tracking.size is not None and tracking.size != registrar.net.image_size:
            raise BinnInputError(
                tracking.model,
                f"network works at {registrar.net.image_size} px, not --size {tracking.size}",
            )
        size = registrar.net.image_size
    cropped, origin = crop_subject(subject, size)
    log.info(
        "%s: tracking %d frames x %d slices with %s (%s) on the %s mm, %d px grid",
        cropped.name, cropped.frames, cropped.slices, tracking.method, registrar.setting,
        tracking.spacing_mm, size,
    )  # fmt: skip
    myo = cropped.labels_ed == MYOCARDIUM
    result = track_sequence(cropped.images, registrar, "all", myo=myo, name=cropped.name)
    es_known = cropped.meta.get("es_frame_1based", True) is not None
    notes = [] if es_known else ["ES frame not given: no ES marker in the curves"]
    notes += [f"refinement stopped early: {f}" for f in result.get("failures", [])]
    if cropped.meta.get("slice_order") == "undecidable_kept":
        notes.append(
            "slice order undecidable from the labels ("
            + str(cropped.meta.get("slice_order_evidence", {}).get("reason"))
            + "): slice z0 taken as basal"
        )
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
            "model": None if registrar.model_path is None else str(registrar.model_path),
            "grid": {"spacing_mm": tracking.spacing_mm, "size_px": size},
            "crop_px": size,
            "crop_origin": origin.tolist(),
            **_geometry_inputs(cropped.meta),
            "frame_time_ms": cropped.meta.get("frame_time_ms"),
            "seconds_tracking": result["seconds"],
            "ms_per_pair": result["ms_per_pair"],
            "vae_recorded_in_model": registrar.meta.get("vae"),
        },
        notes=notes,
        frame_time_ms=cropped.meta.get("frame_time_ms"),
        meta=cropped.meta,
        registrar=registrar,
        labels_es=cropped.labels_es if cropped.labels_es.any() else None,
    )


def _tracking_of(request: StrainRequest) -> StrainTracking:
    if request.tracking is None:
        raise BinnInputError(None, "a method is needed to track a subject folder or cine")
    return request.tracking


def _from_folder(source: SubjectFolder, request: StrainRequest) -> Prepared:
    from binn.register.data.loaders import load_subject_folder

    tracking = _tracking_of(request)
    subject = load_subject_folder(
        source.path, source.layout, source.label_convention, tracking.spacing_mm
    )
    inputs = {"mode": "dir", "dir": str(source.path), "layout": source.layout}
    return _crop_and_track(subject, request, inputs)


def _from_cine(source: CineFiles, request: StrainRequest) -> Prepared:
    from binn.register.data.loaders import load_cine

    tracking = _tracking_of(request)
    subject = load_cine(
        source.cine,
        source.ed_labels,
        source.ed_index,
        source.es_index,
        None,
        source.label_convention,
        tracking.spacing_mm,
    )
    inputs = {
        "mode": "cine",
        "cine": str(source.cine),
        "ed_labels": str(source.ed_labels),
        "ed_frame": source.ed_index + 1,  # 1-based, as --ed-frame and Info.cfg
        "es_frame": None if source.es_index is None else source.es_index + 1,
    }
    return _crop_and_track(subject, request, inputs)


def _from_tracked(source: TrackedFiles, request: StrainRequest) -> Prepared:
    from binn.analysis.measures.evaluate import load_tracking
    from binn.register.data.subject import load_subject

    if request.tracking is not None:
        raise BinnInputError(
            source.fields, "an existing tracking is analysed as it is: no method to track with"
        )
    subject = load_subject(source.data)
    if request.spacing_mm is not None:
        from binn.register.grid import check_same_spacing

        check_same_spacing(
            request.spacing_mm,
            subject.spacing[1:],
            "--spacing-mm",
            "the subject file",
            source.data,
            "import the data onto that grid (binn import-cine --spacing-mm)",
        )
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
            "grid": {
                "spacing_mm": float(np.mean(subject.spacing[1:])),
                "size_px": int(subject.labels_ed.shape[-1]),
            },
            **_geometry_inputs(subject.meta),
            "frame_time_ms": subject.meta.get("frame_time_ms"),
        },
        notes=notes,
        frame_time_ms=subject.meta.get("frame_time_ms"),
        meta=subject.meta,
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


def _vae_for_r_vae(request: StrainRequest, prep: Prepared) -> tuple[Path | None, str]:
    """The VAE that scores R_VAE per frame and the note that says which (or why none):
    ``--vae``, else the one the tracking network records, resolved against the model's
    folder and checked against its recorded digest
    (:func:`binn.register.checkpoint.scoring_vae`), never a file of the current folder."""
    from binn.register.checkpoint import scoring_vae

    if prep.registrar is None:  # --data/--fields: no network here
        return scoring_vae({}, None, request.vae)
    return scoring_vae(prep.registrar.meta, prep.registrar.model_path, request.vae)


def _ed_frame(prep: Prepared) -> int:
    """The 1-based number of the ED frame in the original cine (1 when not recorded)."""
    recorded = prep.meta.get("geometry", {}).get("ed_frame_0based")
    return 1 if recorded is None else int(recorded) + 1


def strain_subject(request: StrainRequest) -> list[Path]:
    """Prepare, analyse and write one subject's strain folder; returns the files written."""
    from binn.analysis.measures.aha import assign_aha
    from binn.analysis.measures.strain import analyse_strain
    from binn.analysis.rendering.strain_pages import STRAIN_FILES, write_strain_outputs
    from binn.io import check_output
    from binn.provenance import provenance
    from binn.register.grid import check_vae_spacing

    out = check_output(request.out, request.force, folder=True, known=STRAIN_FILES)
    prep = prepare(request)
    source = _source_path(request.source)
    aha = assign_aha(prep.labels_ed, prep.spacing[1:], request.anterior_angle, source=source)
    vae_path, vae_note = _vae_for_r_vae(request, prep)
    vae = None
    if vae_path is not None:
        from binn.learn.score import load_vae

        vae = load_vae(vae_path, "cpu" if request.device == "auto" else request.device)
        check_vae_spacing(getattr(vae, "spacing_mm", None), float(prep.spacing[1]), vae_path)
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
        ed_frame=_ed_frame(prep),
        frame_time_ms=prep.frame_time_ms,
        colour_scale=request.colour_scale,
    )
    log.info("%s: strain of %s (%s) written to %s", prep.name, prep.method, prep.setting, out)
    return written


def strain_tracked_subjects(
    pairs: Sequence[TrackedFiles],
    out_dir: Path,
    *,
    vae: Path | None = None,
    anterior_angle: float | None = None,
    device: str = TrackOptions.device,
    force: bool = False,
    spacing_mm: float | None = None,
    colour_scale: str = StrainRequest.colour_scale,
) -> list[Path]:
    """Every subject file with its tracking output, each into the folder
    ``out_dir/<subject file name without .npz>``, in one process (the workflow's way);
    ``spacing_mm``: the grid every subject file must be on (None: each its own)."""
    outs = [Path(out_dir) / Path(p.data).name.removesuffix(".npz") for p in pairs]
    if len(set(outs)) != len(outs):
        raise BinnInputError(out_dir, "two subject files share a file name")
    written: list[Path] = []
    for pair, out in zip(pairs, outs, strict=True):
        request = StrainRequest(
            pair,
            out,
            vae=vae,
            anterior_angle=anterior_angle,
            device=device,
            force=force,
            spacing_mm=spacing_mm,
            colour_scale=colour_scale,
        )
        written += strain_subject(request)
    return written
