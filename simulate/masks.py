"""ES/ED rings from NIfTI label maps (ACDC and UK Biobank layouts), per slice, with input checks.

Every check raises :class:`BinnInputError` naming the file and slice: empty myocardium,
several myocardium components, no LV cavity or an open ring, ring touching the image border,
values that are not those of a label map of the layout. Spacing checks happen in
``binn.nifti``. With ``spacing_mm`` the slice is first resampled in-plane onto the physical
grid (:func:`binn.resample.resample_inplane`, label-linear: no new label values), so
contours, meshes and the raster all live on the grid the VAE and the registration use.
The raster window (``size`` px of the grid) is centred on the ES cavity.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.nifti import load_label_map
from binn.resample import resample_inplane
from binn.simulate.contours import cavity_area_mm2
from binn.simulate.synthetic import RingCase
from binn.vocabulary import BACKGROUND, LABEL_CONVENTIONS

log = logging.getLogger(__name__)

MIN_RING_PIXELS = 20


def extract_ring(
    labels: np.ndarray, label_values: tuple[int, int], source: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(cavity, myocardium)`` uint8 masks of one slice ``(H, W)``; raise unless a closed ring."""
    myo_value, cav_value = label_values
    myo = labels == myo_value
    cav = labels == cav_value
    if myo.sum() < MIN_RING_PIXELS:
        raise BinnInputError(source, f"empty myocardium mask ({int(myo.sum())} px)")
    _, n_myo = ndimage.label(myo, structure=np.ones((3, 3)))
    if n_myo > 1:
        raise BinnInputError(source, f"several myocardium components ({n_myo})")
    if cav.sum() == 0:
        raise BinnInputError(source, "no LV cavity (not a ring)")
    _, n_cav = ndimage.label(cav)
    if n_cav > 1:
        raise BinnInputError(source, f"several LV cavity components ({n_cav})")
    if myo[0].any() or myo[-1].any() or myo[:, 0].any() or myo[:, -1].any():
        raise BinnInputError(source, "the myocardium touches the image border")
    rim = ndimage.binary_dilation(cav) & ~cav
    if np.any(rim & ~myo):
        raise BinnInputError(source, "the myocardium does not close around the cavity (open ring)")
    return cav.astype(np.uint8), myo.astype(np.uint8)


def _load_slice(
    path: Path,
    z: int,
    layout: str,
    label_values: tuple[int, int],
    spacing_mm: float | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Slice ``z`` of a label map, its in-plane spacing (mm) and a source string for errors.

    With ``spacing_mm`` the slice is resampled to square pixels of that spacing (label-linear).
    """
    vol = load_label_map(path)
    convention = LABEL_CONVENTIONS[layout]
    allowed = {BACKGROUND, convention.lv_cavity, convention.myocardium, convention.rv_cavity}
    allowed |= set(label_values)
    extra = set(np.unique(vol.data).tolist()) - allowed
    if extra:
        raise BinnInputError(path, f"not a {layout} label map (unexpected values {sorted(extra)})")
    if not 0 <= z < vol.data.shape[0]:
        raise BinnInputError(path, f"slice {z} out of range (0-{vol.data.shape[0] - 1})")
    source = f"{path} slice {z}"
    if spacing_mm is None:
        return vol.data[z], vol.spacing[1:].copy(), source
    labels, grid = resample_inplane(
        vol.data[z], vol.spacing[1:], spacing_mm, labels=True, source=source
    )
    return labels, grid.spacing_mm.copy(), source


def _crop(mask: np.ndarray, origin: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` window at ``origin`` (may extend past the slice: zero padded)."""
    out = np.zeros((size, size), dtype=mask.dtype)
    r0, c0 = origin
    rs, cs = (
        slice(max(r0, 0), min(r0 + size, mask.shape[0])),
        slice(max(c0, 0), min(c0 + size, mask.shape[1])),
    )
    out[rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0] = mask[rs, cs]
    return out


def load_nifti_ring(
    es_path: Path,
    ed_path: Path | None,
    z: int,
    layout: str,
    label_values: tuple[int, int],
    size: int = 96,
    ed_area_mm2: float | None = None,
    spacing_mm: float | None = None,
) -> RingCase:
    """The ES ring of slice ``z`` cropped to ``size`` px around the cavity, with its ED target.

    The ED target is the smoothed ED cavity area of the same slice of ``ed_path``, or
    ``ed_area_mm2`` when given (one of the two is required). ``spacing_mm``: in-plane
    spacing (mm) of the physical grid both slices are resampled to first (``None``: the
    stored grid); ``crop_origin`` is then in pixels of that grid.
    """
    es_path = Path(es_path)
    labels, spacing, source = _load_slice(es_path, z, layout, label_values, spacing_mm)
    cav, myo = extract_ring(labels, label_values, source)
    if ed_area_mm2 is None:
        if ed_path is None:
            raise BinnInputError(es_path, "an ED label map or an ED area target is needed")
        ed_labels, ed_spacing, ed_source = _load_slice(
            Path(ed_path), z, layout, label_values, spacing_mm
        )
        if ed_labels.shape != labels.shape or not np.allclose(ed_spacing, spacing, rtol=1e-3):
            raise BinnInputError(ed_path, "ED and ES label maps have different grids")
        ed_cav, _ = extract_ring(ed_labels, label_values, ed_source)
        ed_area_mm2 = cavity_area_mm2(ed_cav, spacing, ed_source)
    centre = np.round(ndimage.center_of_mass(cav)).astype(np.int64)
    origin = centre - size // 2
    cav_w, myo_w = _crop(cav, origin, size), _crop(myo, origin, size)
    if myo_w.sum() != myo.sum():
        raise BinnInputError(source, f"the ring does not fit a {size} px window")
    return RingCase(
        cavity=cav_w,
        myocardium=myo_w,
        spacing=spacing.astype(np.float64),
        target_area_mm2=float(ed_area_mm2),
        crop_origin=origin,
        source=source,
    )
