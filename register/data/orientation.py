"""Slice order of a short-axis stack from its geometry: is slice 0 basal or apical?

binn's contract: **after loading, z = 0 is the most basal slice** (as ACDC and UK Biobank
usually store it). The loaders check it on the ED labels and flip a stack stored apex
first, at the edge, once. The geometry used is the ED LV cavity-area trend: the cavity
shrinks from base to apex, so a least-squares line of cavity area over the slices that hold
myocardium falls with z when the stack is base first and rises when it is apex first. (The
affine cannot tell: the direction of the LV long axis is not in the file.)
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from binn.register.data.subject import CineSubject, validate_subject
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

log = logging.getLogger(__name__)

MIN_SLICES = 3
"""Fewer myocardial slices than this carry no usable trend (the order is kept as stored)."""
MIN_RELATIVE_SLOPE = 0.01
"""|slope| below this fraction of the mean cavity area per slice is no trend either."""


def cavity_area_slope(labels_ed: np.ndarray) -> tuple[float, float, int]:
    """Least-squares slope of the ED LV cavity area (px per slice) over the myocardial slices.

    ``labels_ed``: ``(Z, H, W)`` ACDC labels. Returns ``(slope, mean_area, n_slices)``;
    ``slope`` is NaN with fewer than two myocardial slices.
    """
    labels_ed = np.asarray(labels_ed)
    z = np.flatnonzero((labels_ed == MYOCARDIUM).any(axis=(1, 2)))
    area = (labels_ed[z] == LV_CAVITY).sum(axis=(1, 2)).astype(np.float64)
    if len(z) < 2:
        return float("nan"), float(area.mean()) if len(z) else 0.0, len(z)
    slope = float(np.polyfit(z.astype(np.float64), area, 1)[0])
    return slope, float(area.mean()), len(z)


def base_first(labels_ed: np.ndarray) -> bool | None:
    """``True`` if the stack is stored base first, ``False`` if apex first, ``None`` if unknown.

    Unknown: fewer than :data:`MIN_SLICES` myocardial slices, or a cavity-area slope smaller
    than :data:`MIN_RELATIVE_SLOPE` times the mean cavity area per slice.
    """
    slope, mean_area, n = cavity_area_slope(labels_ed)
    if n < MIN_SLICES or not np.isfinite(slope) or abs(slope) < MIN_RELATIVE_SLOPE * mean_area:
        return None
    return bool(slope < 0.0)


def flip_affine(affine: np.ndarray, slices: int) -> np.ndarray:
    """NIfTI ``(4, 4)`` affine of the stack with its slice (z, third voxel) axis reversed."""
    m = np.eye(4)
    m[2, 2], m[2, 3] = -1.0, slices - 1.0
    return np.asarray(affine, dtype=np.float64) @ m


def orient_subject(subject: CineSubject) -> CineSubject:
    """``subject`` with z = 0 basal: flipped along z when its ED labels say apex first.

    ``meta["slice_order"]`` records what was done: ``"base_first"`` (kept),
    ``"apex_first_flipped"`` or ``"unknown_kept"`` (no usable cavity-area trend; kept as
    stored, logged). The affine in ``meta`` (when present) follows the flip.
    """
    order = base_first(subject.labels_ed)
    if order is None:
        log.warning(
            "%s: slice order not decidable from the ED cavity areas; kept as stored (z = 0 basal)",
            subject.name,
        )
        return dataclasses.replace(subject, meta={**subject.meta, "slice_order": "unknown_kept"})
    if order:
        return dataclasses.replace(subject, meta={**subject.meta, "slice_order": "base_first"})
    log.info(
        "%s: stored apex first (ED cavity grows with z); flipped so z = 0 is basal", subject.name
    )
    meta = {**subject.meta, "slice_order": "apex_first_flipped"}
    if "affine" in meta:
        meta["affine"] = flip_affine(np.asarray(meta["affine"]), subject.slices).tolist()

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
