"""A cine subject resampled in-plane onto the physical grid (square pixels of ``spacing_mm``).

Images are interpolated linearly, label maps label-linearly (no new label values), slices
and frames are untouched; see :mod:`binn.resample` for the geometry (field of view and
centre kept). The subject's ``spacing`` becomes ``(z, spacing_mm, spacing_mm)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from binn.errors import BinnInputError
from binn.register.data.geometry import Geometry
from binn.register.data.subject import CineSubject, validate_subject
from binn.resample import resample_inplane, resampled_affine


def resample_subject(subject: CineSubject, spacing_mm: float | None) -> CineSubject:
    """``subject`` on square ``spacing_mm`` pixels (unchanged when ``None`` or already there).

    Subjects with ground-truth ``motion`` (phantoms, px of their own grid) are generated on
    the grid and not resampled: asking for another spacing raises :class:`BinnInputError`.
    ``meta`` records ``source_spacing_mm`` (row, col) and ``source_shape`` (H, W) of the
    stored image, the resampled ``affine``, and the step in ``geometry``
    (:class:`register.data.geometry.Geometry`).
    """
    if spacing_mm is None:
        return subject
    yx = np.asarray(subject.spacing[1:], dtype=np.float64)
    images, grid = resample_inplane(subject.images, yx, spacing_mm, source=subject.name)
    if grid.identity:
        return subject
    if subject.motion is not None:
        raise BinnInputError(
            subject.name,
            f"has ground-truth motion on {yx.tolist()} mm pixels; generate it at {spacing_mm} mm",
        )

    def labels(array: np.ndarray | None) -> np.ndarray | None:
        if array is None:
            return None
        return resample_inplane(array, yx, spacing_mm, labels=True, source=subject.name)[0]

    meta = {
        **subject.meta,
        "source_spacing_mm": subject.meta.get("source_spacing_mm", yx.tolist()),
        "source_shape": subject.meta.get("source_shape", list(subject.shape)),
    }
    if "affine" in meta:
        meta["affine"] = resampled_affine(np.asarray(meta["affine"]), grid).tolist()
    if "geometry" in meta:
        meta["geometry"] = Geometry.from_record(meta["geometry"]).resampled(grid).record()
    out = dataclasses.replace(
        subject,
        images=np.clip(images, 0.0, 1.0).astype(np.float32),
        labels_ed=labels(subject.labels_ed),
        labels_es=labels(subject.labels_es),
        labels=labels(subject.labels),
        spacing=np.array([subject.spacing[0], *grid.spacing_mm]),
        meta=meta,
    )
    return validate_subject(out)
