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

Every path records where the grid sits in the original image (``meta["geometry"]``,
:class:`register.data.geometry.Geometry`: original shape, spacing and affine, the flip,
the resampling, later the crop), so tracked motion maps back to the file
(:func:`register.data.geometry.displacement_in_original`).

Inputs: a plain 4D cine with its ED (and optionally ES) label map and frame numbers
(:func:`load_cine`), a bare ED/ES pair (:func:`load_pair`), or a subject folder of a layout
(:data:`binn.vocabulary.DATA_LAYOUTS`, :func:`load_subject_folder`); the label values of
each dataset are :data:`binn.vocabulary.LABEL_CONVENTIONS`:
- ACDC ``patientXXX/``: ``patientXXX_4d.nii.gz`` (x, y, z, t), ``Info.cfg`` (``ED``/``ES``
  1-based frame numbers, :func:`binn.vocabulary.read_acdc_info`),
  ``patientXXX_frameNN.nii.gz`` and ``..._frameNN_gt.nii.gz``.
- UK Biobank ``subject/``: ``sa.nii.gz`` (x, y, z, t), ``sa_ED.nii.gz``, ``sa_ES.nii.gz``,
  ``label_sa_ED.nii.gz``, ``label_sa_ES.nii.gz`` (1 LV cavity, 2 myocardium, 3 RV).
Without the 4D cine (only ED and ES frames), the subject is a 2-frame sequence (ES = 1).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.nifti import Volume, load_label_map, load_volume
from binn.register.data.crop import crop_subject
from binn.register.data.geometry import Geometry
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
        cine,
        ed - 1,
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
        cine,
        ed,
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


def load_cine(
    cine: str | Path,
    ed_labels: str | Path,
    ed_index: int = 0,
    es_index: int | None = None,
    es_labels: str | Path | None = None,
    label_convention: str = AUTO_CONVENTION,
    spacing_mm: float | None = None,
    name: str | None = None,
) -> CineSubject:
    """Load a plain 4D cine (x, y, z, t) with its ED label map (and optionally the ES one).

    ``ed_index``/``es_index``: 0-based frames of the cine (``es_index`` None: unknown; the
    subject then has the placeholder ES frame 1 and ``meta["es_frame_1based"]`` None, for
    callers that need no ES, such as ``binn strain``). ``es_labels`` needs ``es_index``;
    without it, ``labels_es`` are empty (no ES myocardium: nothing at ES is scored) and
    ``meta["es_labels"]`` is None. The label maps must lie on the cine's grid (shape,
    spacing, affine). The sequence is rolled so that frame 0 is ED; then the same edge as
    every loader: the labels' convention (``auto``: decided from the ED map), z = 0 basal
    (or "undecidable", recorded), the grid (``spacing_mm``; None keeps the stored one).
    """
    volume = load_volume(cine, dims=(4,))
    frames = volume.data.shape[0]
    ed_vol = load_label_map(ed_labels)
    _check_grid(volume, ed_vol, spatial_only=True)
    es_vol = None
    if es_labels is not None:
        if es_index is None:
            raise BinnInputError(es_labels, "ES labels need the ES frame (--es-frame)")
        es_vol = load_label_map(es_labels)
        _check_grid(volume, es_vol, spatial_only=True)
    if frames < 2:
        raise BinnInputError(volume.path, "the cine has fewer than 2 frames")
    for what, index in (("ED", ed_index), ("ES", es_index)):
        if index is not None and not 0 <= index < frames:
            raise BinnInputError(
                volume.path,
                f"{what} frame {index + 1} (1-based) is not a frame of the {frames}-frame cine",
            )
    if es_index is not None and es_index == ed_index:
        raise BinnInputError(volume.path, f"the ES frame is the ED frame ({ed_index + 1})")
    es_or_next = (ed_index + 1) % frames if es_index is None else es_index
    images = [_frame(volume, ed_index), _frame(volume, es_or_next)]
    empty = Volume(np.zeros_like(ed_vol.data), ed_vol.spacing, ed_vol.affine, ed_vol.path)
    pair = _pair_subject(
        (images[0], ed_vol, images[1], es_vol if es_vol is not None else empty),
        label_convention,
        name or volume.path.name.split(".")[0],
        decide_from=(ed_vol,) if es_vol is None else (ed_vol, es_vol),
    )
    meta = {
        "source": "cine",
        "ed_labels": str(ed_vol.path),
        "es_labels": None if es_vol is None else str(es_vol.path),
        "ed_frame_1based": ed_index + 1,
        "es_frame_1based": None if es_index is None else es_index + 1,
    }
    sequence = np.roll(volume.data, -ed_index, axis=0)
    subject = _assemble(pair, sequence, (es_or_next - ed_index) % frames, volume, ed_index, meta)
    return _on_grid(subject, spacing_mm)


def _frame(cine: Volume, index: int) -> Volume:
    """Frame ``index`` of a 4D cine as a 3D volume (the cine's grid and path)."""
    return Volume(cine.data[index], cine.spacing, cine.affine, cine.path)


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
    vols = (
        load_volume(ed_image),
        load_label_map(ed_labels),
        load_volume(es_image),
        load_label_map(es_labels),
    )
    for vol in vols[1:]:
        _check_grid(vols[0], vol)
    return _pair_subject(vols, label_convention, name or Path(ed_image).name.split(".")[0])


def _pair_subject(
    vols: tuple[Volume, Volume, Volume, Volume],
    label_convention: str,
    name: str,
    decide_from: tuple[Volume, ...] | None = None,
) -> CineSubject:
    """The 2-frame subject of checked volumes (ED image, ED labels, ES image, ES labels on
    one grid): finite images, labels in binn's values (``auto``: decided from
    ``decide_from``, default both label maps), myocardium in ED, the native geometry."""
    known = (*LABEL_CONVENTIONS, AUTO_CONVENTION)
    if label_convention not in known:
        raise ValueError(f"unknown label convention {label_convention!r} (known: {known})")
    for vol in (vols[0], vols[2]):
        if not np.all(np.isfinite(vol.data)):
            raise BinnInputError(vol.path, "image contains NaN or Inf")
    convention = (
        decide_convention(decide_from or (vols[1], vols[3]))
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
        name=name,
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
            "source_spacing_mm": vols[0].spacing[1:].tolist(),
            "source_shape": list(vols[0].data.shape[-2:]),
            "geometry": Geometry.native(
                vols[0].data.shape[-3:], vols[0].spacing, vols[0].affine
            ).record(),
            "slices_without_myocardium": empty,
        },
    )
    return validate_subject(subject, source=vols[0].path)


def _on_grid(subject: CineSubject, spacing_mm: float | None) -> CineSubject:
    """The loaders' edge: z = 0 basal (flip if stored apex first), then the physical grid."""
    return resample_subject(orient_subject(subject), spacing_mm)


def enclosure_scores(labels: np.ndarray) -> dict[int, float]:
    """For each LV-cavity candidate value (1, 3), the fraction of its outer 4-neighbours
    labelled myocardium (2): near 1 for the LV cavity, far less for the RV."""
    scores = {}
    for convention in LABEL_CONVENTIONS.values():
        mask = labels == convention.lv_cavity
        ring = ndimage.binary_dilation(mask, structure=_in_plane_cross()) & ~mask
        scores[convention.lv_cavity] = (
            float((labels[ring] == MYOCARDIUM).mean()) if ring.any() else 0.0
        )
    return scores


def _convention_of(labels: np.ndarray) -> str | None:
    """The convention :func:`detect_convention` decides for ``labels``, None if ambiguous.

    A map with myocardium but neither cavity value (myocardium only) reads the same in
    every convention (its values mean the same): the first convention is returned."""
    by_cavity = {c.lv_cavity: c.name for c in LABEL_CONVENTIONS.values()}
    if not np.isin(labels, list(by_cavity)).any() and (labels == MYOCARDIUM).any():
        return next(iter(LABEL_CONVENTIONS))
    score = enclosure_scores(labels)
    best, other = sorted(score, key=score.get, reverse=True)[:2]
    if score[best] < 0.5 or score[best] - score[other] < 0.2:
        return None
    return by_cavity[best]


def detect_convention(labels: np.ndarray, source: str | Path | None = None) -> str:
    """Return ``acdc`` or ``ukbb``: which of labels 1 and 3 the myocardium (2) encloses
    (the LV cavity's value of each convention of :data:`binn.vocabulary.LABEL_CONVENTIONS`).

    For each candidate, the fraction of its outer 4-neighbours labelled 2 is measured; the LV
    cavity scores near 1, the RV far less. A map with neither value reads the same in every
    convention. Ambiguous maps raise :class:`BinnInputError` naming ``source``, its label
    counts and the scores."""
    convention = _convention_of(np.asarray(labels))
    if convention is None:
        raise BinnInputError(source, _ambiguous((labels,), (source,)))
    return convention


def decide_convention(label_maps: Sequence[Volume]) -> str:
    """The label convention of one subject's label maps (ED first): decided by the first
    map that decides it (:func:`detect_convention`); when none does, the error names every
    file with its label counts and enclosure scores, and the option that settles it."""
    for vol in label_maps:
        convention = _convention_of(vol.data)
        if convention is not None:
            return convention
    raise BinnInputError(
        label_maps[0].path,
        _ambiguous([v.data for v in label_maps], [v.path for v in label_maps]),
    )


def _ambiguous(maps: Sequence[np.ndarray], sources: Sequence[object]) -> str:
    """The plain message of an undecidable label convention (see :func:`decide_convention`)."""
    names = {c.lv_cavity: c.name for c in LABEL_CONVENTIONS.values()}
    parts = []
    for labels, source in zip(maps, sources, strict=True):
        values, counts = np.unique(np.asarray(labels), return_counts=True)
        count = ", ".join(f"{int(v)}: {int(n)} px" for v, n in zip(values, counts, strict=True))
        scores = ", ".join(
            f"{v} {100 * s:.0f} %" for v, s in enclosure_scores(np.asarray(labels)).items()
        )
        name = Path(str(source)).name if source is not None else "labels"
        parts.append(f"{name} holds {count}; myocardium ({MYOCARDIUM}) borders {scores}")
    options = " or ".join(f"{v} ({n})" for v, n in names.items())
    return (
        "cannot tell the label convention (which label is the LV cavity: "
        + options
        + "): "
        + "; ".join(parts)
        + f". Pass --label-convention {'|'.join(LABEL_CONVENTIONS)}"
    )


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
    pair: CineSubject,
    sequence: np.ndarray,
    es_index: int,
    cine: Volume,
    ed_frame: int,
    extra: dict,
) -> CineSubject:
    """Replace the 2-frame ``pair``'s images by the normalised full ``sequence`` (ED first,
    the ``cine`` rolled so its 0-based ``ed_frame`` comes first); the geometry records
    that frame, and ``meta["frame_time_ms"]`` the cine's frame interval (None: unknown)."""
    if not np.all(np.isfinite(sequence)):
        raise BinnInputError(cine.path, "cine contains NaN or Inf")
    meta = {
        **pair.meta,
        "cine": str(cine.path),
        "frame_time_ms": cine.frame_time_ms,
        **extra,
    }
    if "geometry" in meta:
        geometry = Geometry.from_record(meta["geometry"])
        meta["geometry"] = dataclasses.replace(
            geometry, ed_frame=int(ed_frame), original_frames=int(sequence.shape[0])
        ).record()
    subject = CineSubject(
        name=pair.name,
        images=normalise_intensity(sequence, cine.path),
        labels_ed=pair.labels_ed,
        labels_es=pair.labels_es,
        es_index=int(es_index),
        spacing=pair.spacing,
        meta=meta,
    )
    return validate_subject(subject, source=cine.path)


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
