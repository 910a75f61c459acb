"""Slice order of a short-axis stack from its labels: is slice 0 basal or apical?

binn's contract: **after loading, z = 0 is the most basal slice** (as ACDC and UK Biobank
usually store it). The loaders decide it on the ED labels and flip a stack stored apex
first, at the edge, once. The cue is the ED LV cavity-area trend: the cavity shrinks from
base to apex, so a least-squares line of cavity area over the slices that hold myocardium
falls with z when the stack is base first and rises when it is apex first. The cavity is
what the labels hold: the LV cavity label where the map has one, else the region the
myocardium encloses (a myocardium-only map, as a rough hand-drawn mask is). When neither
gives a trend (too few slices, no cavity, a flat trend), the order is **undecidable**: it
is said in the log, recorded in ``meta["slice_order"]`` and the stack is kept as stored.
(The affine cannot tell: the direction of the LV long axis is not in the file.)
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy import ndimage

from binn.register.data.subject import CineSubject, validate_subject
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

log = logging.getLogger(__name__)

MIN_SLICES = 3
"""Fewer myocardial slices than this carry no usable trend (undecidable)."""
MIN_RELATIVE_SLOPE = 0.01
"""|slope| below this fraction of the mean cavity area per slice is no trend either."""

BASE_FIRST = "base_first"
APEX_FIRST_FLIPPED = "apex_first_flipped"
UNDECIDABLE = "undecidable_kept"
"""The values of ``meta["slice_order"]``: kept base first, flipped, or undecidable (kept)."""

CUE_LABEL = "lv_cavity_label"
CUE_ENCLOSED = "enclosed_by_myocardium"


@dataclasses.dataclass(frozen=True)
class SliceOrder:
    """What the ED labels say about the slice order.

    ``base_first``: True, False, or None (undecidable); ``cue``: the cavity used
    (:data:`CUE_LABEL`, :data:`CUE_ENCLOSED`, or None when there is none); ``slope``: px of
    cavity area per slice (NaN without two myocardial slices); ``mean_area``: px per
    myocardial slice; ``slices``: how many slices hold myocardium; ``reason``: why it is
    undecidable (empty when decided).
    """

    base_first: bool | None
    cue: str | None
    slope: float
    mean_area: float
    slices: int
    reason: str = ""

    def record(self) -> dict:
        """The JSON record of the evidence (``meta["slice_order_evidence"]``)."""
        return {
            "cue": self.cue,
            "slope_px_per_slice": None if not np.isfinite(self.slope) else self.slope,
            "mean_cavity_area_px": self.mean_area,
            "myocardial_slices": self.slices,
            "reason": self.reason or None,
        }


def cavity_areas(labels_ed: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The ED LV cavity area (px) of every slice that holds myocardium.

    ``labels_ed``: ``(Z, H, W)`` ACDC labels. Returns ``(z, area, cue)``: the myocardial
    slice indices, their cavity areas (float64) and the cue (:data:`CUE_LABEL` when the map
    holds the LV cavity label on one of them, else :data:`CUE_ENCLOSED`: the holes of the
    myocardium; None when neither finds any cavity).
    """
    labels_ed = np.asarray(labels_ed)
    myo = labels_ed == MYOCARDIUM
    z = np.flatnonzero(myo.any(axis=(1, 2)))
    cavity = labels_ed[z] == LV_CAVITY
    if cavity.any():
        return z, cavity.sum(axis=(1, 2)).astype(np.float64), CUE_LABEL
    enclosed = np.array(
        [(ndimage.binary_fill_holes(myo[k]) & ~myo[k]).sum() for k in z], dtype=np.float64
    )
    return z, enclosed, (CUE_ENCLOSED if enclosed.any() else None)


def cavity_area_slope(labels_ed: np.ndarray) -> tuple[float, float, int]:
    """Least-squares slope of the ED LV cavity area (px per slice) over the myocardial slices.

    ``labels_ed``: ``(Z, H, W)`` ACDC labels; the cavity is :func:`cavity_areas`'. Returns
    ``(slope, mean_area, n_slices)``; ``slope`` is NaN with fewer than two myocardial slices.
    """
    z, area, _ = cavity_areas(labels_ed)
    if len(z) < 2:
        return float("nan"), float(area.mean()) if len(z) else 0.0, len(z)
    slope = float(np.polyfit(z.astype(np.float64), area, 1)[0])
    return slope, float(area.mean()), len(z)


def slice_order(labels_ed: np.ndarray) -> SliceOrder:
    """Decide the slice order from the ED labels (see the module docstring)."""
    cue = cavity_areas(labels_ed)[2]
    slope, mean_area, n = cavity_area_slope(labels_ed)
    if n < MIN_SLICES:
        reason = f"{n} slice(s) hold myocardium, {MIN_SLICES} are needed for a trend"
    elif cue is None:
        reason = "no LV cavity label and no closed myocardial ring: no cavity to measure"
    elif not np.isfinite(slope) or abs(slope) < MIN_RELATIVE_SLOPE * mean_area:
        reason = (
            f"the cavity area ({cue}) has no trend over z (slope {slope:.3g} px per slice, "
            f"mean {mean_area:.3g} px)"
        )
    else:
        return SliceOrder(bool(slope < 0.0), cue, slope, mean_area, n)
    return SliceOrder(None, cue, slope, mean_area, n, reason)


def base_first(labels_ed: np.ndarray) -> bool | None:
    """``True`` if the stack is stored base first, ``False`` if apex first, ``None`` if
    undecidable (:func:`slice_order`)."""
    return slice_order(labels_ed).base_first


def flip_affine(affine: np.ndarray, slices: int) -> np.ndarray:
    """NIfTI ``(4, 4)`` affine of the stack with its slice (z, third voxel) axis reversed."""
    m = np.eye(4)
    m[2, 2], m[2, 3] = -1.0, slices - 1.0
    return np.asarray(affine, dtype=np.float64) @ m


def orient_subject(subject: CineSubject) -> CineSubject:
    """``subject`` with z = 0 basal: flipped along z when its ED labels say apex first.

    ``meta["slice_order"]`` records what was done: :data:`BASE_FIRST` (kept),
    :data:`APEX_FIRST_FLIPPED`, or :data:`UNDECIDABLE` (kept as stored, logged as
    "undecidable" with the reason); ``meta["slice_order_evidence"]`` the cue and the trend.
    The affine and the geometry in ``meta`` (when present) follow the flip.
    """
    order = slice_order(subject.labels_ed)
    meta = {**subject.meta, "slice_order_evidence": order.record()}
    if order.base_first is None:
        log.warning(
            "%s: slice order undecidable from the ED labels (%s); kept as stored, z = 0 taken "
            "as basal",
            subject.name,
            order.reason,
        )
        return dataclasses.replace(subject, meta={**meta, "slice_order": UNDECIDABLE})
    if order.base_first:
        log.info("%s: stored base first (ED cavity, %s, shrinks with z)", subject.name, order.cue)
        return dataclasses.replace(subject, meta={**meta, "slice_order": BASE_FIRST})
    log.info(
        "%s: stored apex first (ED cavity, %s, grows with z); flipped so z = 0 is basal",
        subject.name,
        order.cue,
    )
    meta["slice_order"] = APEX_FIRST_FLIPPED
    if "affine" in meta:
        meta["affine"] = flip_affine(np.asarray(meta["affine"]), subject.slices).tolist()
    if "geometry" in meta:
        from binn.register.data.geometry import Geometry

        meta["geometry"] = Geometry.from_record(meta["geometry"]).flipped_z().record()

    def flip(array: np.ndarray | None, axis: int) -> np.ndarray | None:
        return None if array is None else np.ascontiguousarray(np.flip(array, axis=axis))

    return validate_subject(
        dataclasses.replace(
            subject,
            images=flip(subject.images, 1),
            labels_ed=flip(subject.labels_ed, 0),
            labels_es=flip(subject.labels_es, 0),
            motion=flip(subject.motion, 1),
            labels=flip(subject.labels, 1),
            meta=meta,
        )
    )
