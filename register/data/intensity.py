"""Robust per-subject intensity normalisation of cine images to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from binn.errors import BinnInputError

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.5


def normalise_intensity(
    images: np.ndarray,
    source: str | Path | None = None,
    low: float = LOW_PERCENTILE,
    high: float = HIGH_PERCENTILE,
) -> np.ndarray:
    """Map ``images`` (any shape, e.g. ``(T, Z, H, W)``) linearly to [0, 1], float32.

    The ``low`` and ``high`` percentiles over the whole array (one subject) go to 0 and 1;
    values beyond them are clipped, so a few very bright voxels (fat, flow artefacts) do not
    compress the contrast of the heart. Raises :class:`BinnInputError` naming ``source`` for
    NaN/Inf or an image without contrast.
    """
    values = np.asarray(images, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise BinnInputError(source, "image contains NaN or Inf")
    lo, hi = np.percentile(values, [low, high])
    if not hi > lo:
        raise BinnInputError(source, f"image has no contrast (percentiles {low}-{high} equal)")
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
