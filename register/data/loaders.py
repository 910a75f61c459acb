"""Real cine loaders: ACDC and UK Biobank layouts, or a bare ED/ES pair, -> :class:`CineSubject`.

Every file goes through :func:`binn.nifti.load_volume` / :func:`binn.nifti.load_label_map`
(the one place NIfTI axes are reordered to ``[t, z, y, x]``). The sequence is rolled so
that frame 0 is ED; intensities are normalised per subject to [0, 1] (robust
percentiles); labels are mapped to ACDC values. All grids (4D cine, ED/ES images and
labels) must share shape, spacing and affine; anything else (mixed in-plane spacings
included) is a :class:`BinnInputError` naming the offending file, raised before anything
is resampled or written. Slices without myocardium are kept (the evaluation reports them).

Two steps at the edge, after the checks (``docs/interfaces.md``):
- **slice order**: after loading, z = 0 is basal. A stack stored apex first (ED LV cavity
  area growing with z, :mod:`register.data.orientation`) is flipped; ``meta["slice_order"]``
  says what was done.
- **physical grid**: with ``spacing_mm``, every array is resampled in-plane to square
  pixels of that spacing (:mod:`register.data.resample`: images linear, labels
  label-linear, z unchanged); ``spacing`` is then ``(z, spacing_mm, spacing_mm)`` and
  ``meta["source_spacing_mm"]`` the stored one. Without it, the stored grid is kept.

Layouts (:data:`binn.vocabulary.DATA_LAYOUTS`, :func:`load_subject_folder`); the label
values of each dataset are :data:`binn.vocabulary.LABEL_CONVENTIONS`:
- ACDC ``patientXXX/``: ``patientXXX_4d.nii.gz`` (x, y, z, t), ``Info.cfg`` (``ED``/``ES``
  1-based frame numbers, :func:`binn.vocabulary.read_acdc_info`),
  ``patientXXX_frameNN.nii.gz`` and ``..._frameNN_gt.nii.gz``.
- UK Biobank ``subject/``: ``sa.nii.gz`` (x, y, z, t), ``sa_ED.nii.gz``, ``sa_ES.nii.gz``,
  ``label_sa_ED.nii.gz``, ``label_sa_ES.nii.gz`` (1 LV cavity, 2 myocardium, 3 RV).
Without the 4D cine (only ED and ES frames), the subject is a 2-frame sequence (ES = 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.nifti import Volume, load_label_map, load_volume
from binn.register.data.crop import crop_subject
from binn.register.data.intensity import normalise_intensity
from binn.register.data.orientation import orient_subject
from binn.register.data.resample import resample_subject
from binn.register.data.subject import CineSubject, validate_subject
from binn.vocabulary import (
    ACDC,
    AUTO_CONVENTION,
    BACKGROUND,
    DATA_LAYOUTS,
    LABEL_CONVENTIONS,
    LV_CAVITY,
    MYOCARDIUM,
    RV_CAVITY,
    STORED_LABELS,
    UKBB,
    LabelConvention,
    read_acdc_info,
)

log = logging.getLogger(__name__)

SPACING_RTOL = 1e-3
AFFINE_ATOL_MM = 1e-2


def load_acdc(
    patient_dir: str | Path,
    label_convention: str = ACDC.name,
    spacing_mm: float | None = None,
) -> CineSubject:
    """Load an ACDC patient folder (see the module docstring) as a :class:`CineSubject`.

    ``label_convention``: what the values of the ``_gt`` files mean (``acdc``, ``ukbb`` or
    ``auto``, :data:`binn.vocabulary.LABEL_CONVENTIONS`). ``spacing_mm``: in-plane target
    spacing (mm) of the physical grid; ``None`` keeps the stored grid. z = 0 is basal on
    return.
    """
    folder = Path(patient_dir)
    if not folder.is_dir():
        raise BinnInputError(folder, "patient folder does not exist")
    info = read_acdc_info(folder / "Info.cfg")
    ed, es = info.ed, info.es
    frame_file = _frame_finder(folder)
    ed_image, es_image = frame_file(ed, False), frame_file(es, False)
    subject = _native_pair(
        ed_image,
        frame_file(ed, True),
        es_image,
        frame_file(es, True),
        label_convention,
        name=folder.name,
    )
    cine_files = sorted(folder.glob("*_4d.nii.gz")) + sorted(folder.glob("*_4d.nii"))
    if not cine_files:
        log.warning("%s: no *_4d.nii.gz, using the ED and ES frames only (T = 2)", folder)
        return _on_grid(subject, spacing_mm)
    cine = load_volume(cine_files[0], dims=(4,))
    ed_vol = load_volume(ed_image)
    _check_grid(cine, ed_vol, spatial_only=True)
    frames = cine.data.shape[0]
    if not (1 <= ed <= frames and 1 <= es <= frames) or ed == es:
        raise BinnInputError(
            folder / "Info.cfg",
            f"ED {ed} / ES {es} are not two distinct frames of the {frames}-frame cine",
        )
    if _matching_frame(cine, ed_vol) != ed - 1:
        log.warning("%s: %s is not frame %d of the cine", folder, ed_image.name, ed)
    if info.n_frames is not None and info.n_frames != frames:
        log.warning(
            "%s: Info.cfg NbFrame %d but the cine has %d frames", folder, info.n_frames, frames
        )
    sequence = np.roll(cine.data, -(ed - 1), axis=0)
    full = _assemble(
        subject,
        sequence,
        (es - ed) % frames,
        cine.path,
        {"ed_frame_1based": ed, "es_frame_1based": es},
    )
    return _on_grid(full, spacing_mm)


def load_ukbb(
    subject_dir: str | Path,
    label_convention: str = UKBB.name,
    spacing_mm: float | None = None,
) -> CineSubject:
    """Load a UK Biobank subject folder (see the module docstring) as a :class:`CineSubject`.

    The ED and ES frames of ``sa.nii.gz`` are found by matching ``sa_ED``/``sa_ES`` to its
    frames. ``label_convention``: what the values of the ``label_sa_*`` files mean (default
    ``ukbb``). ``spacing_mm``: in-plane target spacing (mm); ``None`` keeps the stored grid.
    z = 0 is basal on return.
    """
    folder = Path(subject_dir)
    if not folder.is_dir():
        raise BinnInputError(folder, "subject folder does not exist")
    names = {k: _nifti(folder, k) for k in ("sa_ED", "sa_ES", "label_sa_ED", "label_sa_ES")}
    subject = _native_pair(
        names["sa_ED"],
        names["label_sa_ED"],
        names["sa_ES"],
        names["label_sa_ES"],
        label_convention,
        name=folder.name,
    )
    try:
        cine_path = _nifti(folder, "sa")
    except BinnInputError:
        log.warning("%s: no sa.nii.gz, using the ED and ES frames only (T = 2)", folder)
        return _on_grid(subject, spacing_mm)
    cine = load_volume(cine_path, dims=(4,))
    ed_vol, es_vol = load_volume(names["sa_ED"]), load_volume(names["sa_ES"])
    _check_grid(cine, ed_vol, spatial_only=True)
    ed = _matching_frame(cine, ed_vol)
    es = _matching_frame(cine, es_vol)
    frames = cine.data.shape[0]
    if ed == es:
        raise BinnInputError(
            names["sa_ES"], f"matches the same frame ({ed}) of {cine_path} as sa_ED"
        )
    sequence = np.roll(cine.data, -ed, axis=0)
    full = _assemble(
        subject,
        sequence,
        (es - ed) % frames,
        cine.path,
        {"ed_frame_0based": ed, "es_frame_0based": es},
    )
    return _on_grid(full, spacing_mm)


def load_pair(
    ed_image: str | Path,
    ed_labels: str | Path,
    es_image: str | Path,
    es_labels: str | Path,
    label_convention: str = AUTO_CONVENTION,
    name: str | None = None,
    size: int | None = None,
    spacing_mm: float | None = None,
) -> CineSubject:
    """Load ED and ES stacks (3D NIfTI) with their label maps as a 2-frame subject (ES = 1).

    ``label_convention``: what the values of the label files mean, ``acdc``, ``ukbb`` or
    ``auto`` (:func:`detect_convention`: the label of 1 and 3 that the myocardium (2)
    encloses is the LV cavity). All four grids must
    match. ``spacing_mm``: in-plane target spacing (mm) of the physical grid, applied
    before the crop; ``None`` keeps the stored grid. ``size``: if given, the subject is
    cropped to ``size x size`` px centred on the LV (:func:`register.data.crop.crop_subject`;
    the origin, on the resampled grid, is in ``meta["crop_origin"]``). z = 0 is basal.
    """
    subject = _on_grid(
        _native_pair(ed_image, ed_labels, es_image, es_labels, label_convention, name),
        spacing_mm,
    )
    return subject if size is None else crop_subject(subject, size)[0]


LAYOUT_LOADERS: dict[str, Callable[..., CineSubject]] = {
    ACDC.name: load_acdc,
    UKBB.name: load_ukbb,
}


def load_subject_folder(
    folder: str | Path,
    layout: str,
    label_convention: str | None = None,
    spacing_mm: float | None = None,
) -> CineSubject:
    """Load a subject folder of ``layout`` (:data:`binn.vocabulary.DATA_LAYOUTS`: ``acdc``
    or ``ukbb``, where the files are) with :func:`load_acdc` or :func:`load_ukbb`.

    ``label_convention`` (``acdc``, ``ukbb``, ``auto``): what the label values mean; ``None``
    takes the layout's own. ``spacing_mm``: in-plane target spacing (mm); ``None`` keeps
    the stored grid.
    """
    if layout not in DATA_LAYOUTS:
        raise BinnInputError(folder, f"unknown layout {layout!r} (known: {DATA_LAYOUTS})")
    loader = LAYOUT_LOADERS[layout]
    return loader(folder, label_convention or layout, spacing_mm)


def _native_pair(
    ed_image: str | Path,
    ed_labels: str | Path,
    es_image: str | Path,
    es_labels: str | Path,
    label_convention: str,
    name: str | None,
) -> CineSubject:
    """The checked 2-frame subject on the stored grid, in the stored slice order."""
    known = (*LABEL_CONVENTIONS, AUTO_CONVENTION)
    if label_convention not in known:
        raise ValueError(f"unknown label convention {label_convention!r} (known: {known})")
    vols = [
        load_volume(ed_image),
        load_label_map(ed_labels),
        load_volume(es_image),
        load_label_map(es_labels),
    ]
    for vol in vols[1:]:
        _check_grid(vols[0], vol)
    for vol in (vols[0], vols[2]):
        if not np.all(np.isfinite(vol.data)):
            raise BinnInputError(vol.path, "image contains NaN or Inf")
    convention = (
        detect_convention(vols[1].data, vols[1].path)
        if label_convention == AUTO_CONVENTION
        else label_convention
    )
    lab_ed = to_acdc_labels(vols[1].data, convention, vols[1].path)
    lab_es = to_acdc_labels(vols[3].data, convention, vols[3].path)
    if not np.any(lab_ed == MYOCARDIUM):
        raise BinnInputError(vols[1].path, f"no myocardium (label {MYOCARDIUM}) on any slice")
    empty = [z for z in range(lab_ed.shape[0]) if not np.any(lab_ed[z] == MYOCARDIUM)]
    if empty:
        log.info("%s: slices %s have no ED myocardium (kept)", vols[1].path, empty)
    raw = np.stack([vols[0].data, vols[2].data]).astype(np.float64)
    subject = CineSubject(
        name=name or Path(ed_image).name.split(".")[0],
        images=normalise_intensity(raw, vols[0].path),
        labels_ed=lab_ed,
        labels_es=lab_es,
        es_index=1,
        spacing=vols[0].spacing.copy(),
        meta={
            "source": "nifti",
            "files": [str(v.path) for v in vols],
            "label_convention": convention,
            "affine": vols[0].affine.tolist(),
            "slices_without_myocardium": empty,
        },
    )
    return validate_subject(subject, source=vols[0].path)


def _on_grid(subject: CineSubject, spacing_mm: float | None) -> CineSubject:
    """The loaders' edge: z = 0 basal (flip if stored apex first), then the physical grid."""
    return resample_subject(orient_subject(subject), spacing_mm)


def detect_convention(labels: np.ndarray, source: str | Path | None = None) -> str:
    """Return ``acdc`` or ``ukbb``: which of labels 1 and 3 the myocardium (2) encloses
    (the LV cavity's value of each convention of :data:`binn.vocabulary.LABEL_CONVENTIONS`).

    For each candidate, the fraction of its outer 4-neighbours labelled 2 is measured; the LV
    cavity scores near 1, the RV far less. Ambiguous maps raise :class:`BinnInputError`.
    """
    by_cavity = {c.lv_cavity: c.name for c in LABEL_CONVENTIONS.values()}
    score = {}
    for value in by_cavity:
        mask = labels == value
        ring = ndimage.binary_dilation(mask, structure=_in_plane_cross()) & ~mask
        score[value] = (labels[ring] == MYOCARDIUM).mean() if ring.any() else 0.0
    best, other = sorted(score, key=score.get, reverse=True)[:2]
    if score[best] < 0.5 or score[best] - score[other] < 0.2:
        described = ", or ".join(f"{v} as in {n}" for v, n in by_cavity.items())
        raise BinnInputError(
            source,
            f"cannot tell the label convention (LV cavity {described}): enclosure scores {score}",
        )
    return by_cavity[best]


def to_acdc_labels(labels: np.ndarray, convention: str, source: str | Path) -> np.ndarray:
    """Map a label map of ``convention`` (``acdc``/``ukbb``) to binn's (ACDC) values, uint8."""
    bad = np.setdiff1d(np.unique(labels), STORED_LABELS)
    if bad.size:
        raise BinnInputError(
            source, f"label values {bad.tolist()} are not cardiac labels {STORED_LABELS}"
        )
    return _to_stored(LABEL_CONVENTIONS[convention])[labels]


def _to_stored(convention: LabelConvention) -> np.ndarray:
    """Look-up table ``(4,)`` uint8: a value of ``convention`` -> binn's (ACDC) value."""
    table = np.zeros(max(STORED_LABELS) + 1, dtype=np.uint8)
    table[BACKGROUND] = BACKGROUND
    table[convention.rv_cavity] = RV_CAVITY
    table[convention.myocardium] = MYOCARDIUM
    table[convention.lv_cavity] = LV_CAVITY
    return table


def _in_plane_cross() -> np.ndarray:
    cross = np.zeros((1, 3, 3), dtype=bool)
    cross[0, 1, :] = cross[0, :, 1] = True
    return cross


def _assemble(
    pair: CineSubject, sequence: np.ndarray, es_index: int, cine_path: Path, extra: dict
) -> CineSubject:
    """Replace the 2-frame ``pair``'s images by the normalised full ``sequence`` (ED first)."""
    if not np.all(np.isfinite(sequence)):
        raise BinnInputError(cine_path, "cine contains NaN or Inf")
    meta = {**pair.meta, "cine": str(cine_path), **extra}
    subject = CineSubject(
        name=pair.name,
        images=normalise_intensity(sequence, cine_path),
        labels_ed=pair.labels_ed,
        labels_es=pair.labels_es,
        es_index=int(es_index),
        spacing=pair.spacing,
        meta=meta,
    )
    return validate_subject(subject, source=cine_path)


def _check_grid(ref: Volume, other: Volume, spatial_only: bool = False) -> None:
    """Raise naming ``other`` unless it lies on the grid of ``ref`` (shape, spacing, affine)."""
    ref_shape = ref.data.shape[-3:] if spatial_only else ref.data.shape
    other_shape = other.data.shape[-3:] if spatial_only else other.data.shape
    if ref_shape != other_shape:
        raise BinnInputError(
            other.path, f"grid {other_shape} (z, y, x) differs from {ref_shape} of {ref.path.name}"
        )
    if not np.allclose(ref.spacing, other.spacing, rtol=SPACING_RTOL, atol=0.0):
        raise BinnInputError(
            other.path,
            f"spacing {other.spacing.tolist()} mm differs from "
            f"{ref.spacing.tolist()} of {ref.path.name}",
        )
    if not np.allclose(ref.affine, other.affine, rtol=0.0, atol=AFFINE_ATOL_MM):
        raise BinnInputError(
            other.path,
            f"affine differs from that of {ref.path.name} (not the same grid or orientation)",
        )


def _matching_frame(cine: Volume, frame: Volume) -> int:
    """Index of the cine frame closest (mean absolute difference) to the 3D ``frame``."""
    target = frame.data.astype(np.float64)
    err = np.array([np.abs(f.astype(np.float64) - target).mean() for f in cine.data])
    best = int(err.argmin())
    scale = float(np.abs(frame.data).mean()) or 1.0
    if err[best] > 1e-3 * scale:
        log.warning(
            "%s matches frame %d of %s only approximately (mean |diff| %.3g)",
            frame.path.name,
            best,
            cine.path.name,
            err[best],
        )
    return best


def _frame_finder(folder: Path):
    """Return ``f(frame_1based, labels) -> path`` of ACDC ``*_frameNN[_gt].nii[.gz]`` files."""

    def find(frame: int, labels: bool) -> Path:
        stem = f"_frame{frame:02d}{'_gt' if labels else ''}"
        for suffix in (".nii.gz", ".nii"):
            hits = sorted(folder.glob(f"*{stem}{suffix}"))
            if hits:
                return hits[0]
        raise BinnInputError(folder, f"no *{stem}.nii.gz file (ACDC layout)")

    return find


def _nifti(folder: Path, stem: str) -> Path:
    """``folder/stem.nii.gz`` (or ``.nii``); raise naming it when neither exists."""
    for suffix in (".nii.gz", ".nii"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    raise BinnInputError(folder / f"{stem}.nii.gz", "file does not exist")
