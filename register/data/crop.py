"""Square in-plane crop of a cine subject centred on the LV (padded where the image is smaller)."""

from __future__ import annotations

import dataclasses

import numpy as np

from binn.errors import BinnInputError
from binn.register.data.geometry import Geometry
from binn.register.data.intensity import normalise_intensity
from binn.register.data.subject import CineSubject, validate_subject
from binn.resample import DEFAULT_SIZE_PX
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
    subject: CineSubject, size: int = DEFAULT_SIZE_PX, renormalise: bool = True
) -> tuple[CineSubject, np.ndarray]:
    """Crop every array of ``subject`` to ``size x size`` px centred on the ED LV.

    Returns the cropped subject and the crop origin ``(2,) int64`` (row, col of the
    window's first pixel in the source grid; negative where the window starts outside it).
    ``meta`` records the origin (``crop_origin``), ``crop_size``, the shape it was cut from
    (``grid_shape``) and moves ``affine`` and ``geometry`` (when present) to the window.
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
        meta=_cropped_meta(subject.meta, subject.shape, origin, size),
    )
    return validate_subject(cropped), origin


def _cropped_meta(meta: dict, shape: tuple[int, int], origin: np.ndarray, size: int) -> dict:
    """``meta`` after the crop: its origin and size, the in-plane ``grid_shape`` it was cut
    from (``source_shape`` stays the stored image's), and the affine and ``geometry``
    moved to the window."""
    out = {
        **meta,
        "crop_origin": origin.tolist(),
        "crop_size": int(size),
        "grid_shape": list(shape),
        "source_shape": meta.get("source_shape", list(shape)),
    }
    shift = np.eye(4)
    shift[0, 3], shift[1, 3] = int(origin[1]), int(origin[0])
    if "affine" in out:
        out["affine"] = (np.asarray(out["affine"], dtype=np.float64) @ shift).tolist()
    if "geometry" in out:
        out["geometry"] = Geometry.from_record(out["geometry"]).cropped(origin, size).record()
    return out


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
