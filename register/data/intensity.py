"""Robust per-subject intensity normalisation of cine images to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from binn.errors import BinnInputError

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.5


def robust_window(
    images: np.ndarray,
    source: str | Path | None = None,
    low: float = LOW_PERCENTILE,
    high: float = HIGH_PERCENTILE,
) -> tuple[float, float]:
    """Return the ``(low, high)`` percentiles of ``images`` (one subject, any shape).

    Raises :class:`BinnInputError` naming ``source`` for NaN/Inf or an image without contrast.
    """
    values = np.asarray(images, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise BinnInputError(source, "image contains NaN or Inf")
    lo, hi = np.percentile(values, [low, high])
    if not hi > lo:
        raise BinnInputError(source, f"image has no contrast (percentiles {low}-{high} equal)")
    return float(lo), float(hi)


def normalise_intensity(images: np.ndarray, source: str | Path | None = None) -> np.ndarray:
    """Map ``images`` (e.g. ``(T, Z, H, W)``) linearly to [0, 1] float32 by :func:`robust_window`.

    The 1st and 99.5th percentiles over the whole subject go to 0 and 1; values beyond them
    are clipped, so a few very bright voxels (fat, flow artefacts) do not compress the
    contrast of the heart.
    """
    lo, hi = robust_window(images, source)
    values = (np.asarray(images, dtype=np.float64) - lo) / (hi - lo)
    return np.clip(values, 0.0, 1.0).astype(np.float32)
