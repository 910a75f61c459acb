"""Implausible counterparts of a field, for checking that R_VAE separates mechanics from nonsense.

Each corruption keeps the field's grid and mask and (where it replaces the field) its
magnitude, so the score cannot win by looking at size alone:
- ``smooth_random``: a random smooth field (Gaussian-filtered noise, compressible) with the
  same RMS over the mask as the original;
- ``folded``: the original plus a localised bump that folds the wall (det F < 0 there);
- ``shuffled_gradients``: the original's gradient vectors permuted among the mask pixels
  (a gradient-level corruption, scored with :func:`learn.score.gradient_score`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CORRUPTIONS = ("smooth_random", "folded", "shuffled_gradients")


def _rms(field: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(field[:, mask] ** 2, axis=0))))


def smooth_random(
    field: np.ndarray, mask: np.ndarray, rng: np.random.Generator, sigma_px: float = 4.0
) -> np.ndarray:
    """Random smooth ``(2, H, W)`` field, RMS over ``mask`` (bool ``(H, W)``) as ``field``'s."""
    noise = rng.standard_normal(field.shape)
    smooth = np.stack([ndimage.gaussian_filter(n, sigma_px) for n in noise])
    return (smooth * (_rms(field, mask) / max(_rms(smooth, mask), 1e-12))).astype(field.dtype)


def folded(
    field: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    sigma_px: float = 2.5,
    peak_strain: float = 2.0,
) -> np.ndarray:
    """``field`` plus a Gaussian bump at a random mask pixel that folds the tissue there.

    The bump ``A exp(-|x-p|^2 / 2 sigma^2) e`` has maximal directional derivative
    ``A / (sigma sqrt(e))`` = ``peak_strain`` (> 1 gives det F < 0 next to ``p``).
    """
    rows, cols = np.nonzero(mask)
    k = rng.integers(rows.size)
    theta = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(theta), np.sin(theta)])
    amp = peak_strain * sigma_px * np.sqrt(np.e)
    r, c = np.meshgrid(np.arange(field.shape[1]), np.arange(field.shape[2]), indexing="ij")
    bump = amp * np.exp(-((r - rows[k]) ** 2 + (c - cols[k]) ** 2) / (2 * sigma_px**2))
    return (field + direction[:, None, None] * bump).astype(field.dtype)


def shuffled_gradients(grad: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(4, H, W)`` gradients with the 4-vectors of the ``mask`` pixels randomly permuted."""
    out = grad.copy()
    vecs = grad[:, mask]
    out[:, mask] = vecs[:, rng.permutation(vecs.shape[1])]
    return out
