"""Square in-plane crop of a cine subject centred on the LV (padded where the image is smaller)."""

from __future__ import annotations

import dataclasses

import numpy as np

from binn.errors import BinnInputError
from binn.register.data.intensity import normalise_intensity
from binn.register.data.subject import CineSubject, validate_subject
from binn.vocabulary import LV_CAVITY, MYOCARDIUM


def lv_centre(labels_ed: np.ndarray) -> np.ndarray:
    """Centroid ``(y, x)`` px of the ED LV (cavity + myocardium) over all slices, ``(2,)``.

    ``labels_ed``: ``(Z, H, W)`` ACDC labels. Raises :class:`BinnInputError` when no slice
    holds LV labels (nothing to centre on).
    """
    mask = np.isin(labels_ed, (MYOCARDIUM, LV_CAVITY))
    if not mask.any():
        raise BinnInputError(None, "no LV cavity or myocardium in the ED labels to centre on")
    _, ys, xs = np.nonzero(mask)
    return np.array([ys.mean(), xs.mean()])


def crop_subject(
    subject: CineSubject, size: int = 96, renormalise: bool = True
) -> tuple[CineSubject, np.ndarray]:
    """Crop every array of ``subject`` to ``size x size`` px centred on the ED LV.

    Returns the cropped subject and the crop origin ``(2,) int64`` (row, col of the
    window's first pixel in the source grid; negative where the window starts outside it).
    Where the window leaves the image, images, labels and motion are padded with zeros.
    ``renormalise`` re-applies the robust [0, 1] normalisation to the cropped images, so
    crops of a small and of a large field of view get the same intensity range.
    """
    if size < 8:
        raise ValueError(f"crop size {size} px is too small")
    try:
        centre = lv_centre(subject.labels_ed)
    except BinnInputError as exc:
        raise BinnInputError(subject.name, exc.reason) from exc
    origin = np.round(centre - size / 2.0).astype(np.int64)

    def window(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else crop_window(array, origin, size)

    images = window(subject.images)
    if renormalise:
        images = normalise_intensity(images, subject.name)
    cropped = dataclasses.replace(
        subject,
        images=images,
        labels_ed=window(subject.labels_ed),
        labels_es=window(subject.labels_es),
        motion=window(subject.motion),
        labels=window(subject.labels),
        meta={
            **subject.meta,
            "crop_origin": origin.tolist(),
            "crop_size": size,
            "source_shape": list(subject.shape),
        },
    )
    return validate_subject(cropped), origin


def crop_window(array: np.ndarray, origin: np.ndarray, size: int) -> np.ndarray:
    """Cut ``array[..., oy:oy+size, ox:ox+size]`` (last two axes), zero-padding outside."""
    h, w = array.shape[-2:]
    out = np.zeros((*array.shape[:-2], size, size), dtype=array.dtype)
    oy, ox = (int(v) for v in origin)
    y0, y1 = max(oy, 0), min(oy + size, h)
    x0, x1 = max(ox, 0), min(ox + size, w)
    if y1 > y0 and x1 > x0:
        out[..., y0 - oy : y1 - oy, x0 - ox : x1 - ox] = array[..., y0:y1, x0:x1]
    return out
