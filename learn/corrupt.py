"""Implausible counterparts of a field, for checking that R_VAE separates mechanics from nonsense.

Each corruption keeps the field's grid and (where it replaces the field) its size, so the
score cannot win by looking at size alone. Easy ones, which the gradient energy alone
mostly flags:
- ``smooth_random``: a random smooth field (Gaussian-filtered noise, compressible) with the
  same RMS displacement over the mask as the original;
- ``folded``: the original plus a localised bump that folds the wall (det F < 0 there);
- ``shuffled_gradients``: the original's gradient vectors permuted among the mask pixels
  (a gradient-level corruption, scored with :func:`learn.score.gradient_score`).

Hard ones, with the original's gradient energy ``||grad u * M||^2`` (so a scorer of the
gradient energy alone cannot rank them):
- ``compressible``: a smooth random curl-free field ``grad phi`` (pure dilatation, mean
  ``|det J - 1|`` far above the simulations') scaled to the original's gradient energy;
- ``strain_reversed``: ``-u``, the strain's sign reversed to first order: the cavity grows
  past its ED size while the wall thins, which no simulated frame (ED is the largest
  cavity) does;
- ``mask_swapped``: the original field scored with another case's ED myocardium mask,
  scaled to the original's gradient energy over its own band. Unscaled, a swap onto a ring
  where the field has decayed (a small heart's field on a larger ring) is a nearly still,
  volume-keeping field: a plausible early frame at any phase (R_VAE of no motion is 0),
  which tests the field's size, not its mechanics.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EASY_CORRUPTIONS = ("smooth_random", "folded", "shuffled_gradients")
HARD_CORRUPTIONS = ("compressible", "strain_reversed", "mask_swapped")
CORRUPTIONS = EASY_CORRUPTIONS + HARD_CORRUPTIONS


def _rms(field: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(field[:, mask] ** 2, axis=0))))


def _grad(field: np.ndarray) -> np.ndarray:
    """``(2, H, W)`` px -> ``(4, H, W)`` px/px with the shared operator."""
    from binn.learn.gradients import displacement_gradient

    return displacement_gradient(field[None].astype(np.float64))[0]


def _energy(field: np.ndarray, band: np.ndarray) -> float:
    """``sum over band of ||grad u||^2`` (px/px squared) of a ``(2, H, W)`` field."""
    return float(np.sum(_grad(field)[:, band] ** 2))


def mean_abs_det_j_minus_1(field: np.ndarray, mask: np.ndarray) -> float:
    """Mean ``|det(I + grad u) - 1|`` over ``mask`` (bool ``(H, W)``) of a ``(2, H, W)`` field."""
    g = _grad(field)
    det = (1.0 + g[0]) * (1.0 + g[3]) - g[1] * g[2]
    return float(np.mean(np.abs(det[mask] - 1.0)))


def smooth_random(
    field: np.ndarray, mask: np.ndarray, rng: np.random.Generator, sigma_px: float = 4.0
) -> np.ndarray:
    """Random smooth ``(2, H, W)`` field, RMS over ``mask`` (bool ``(H, W)``) as ``field``'s."""
    noise = rng.standard_normal(field.shape)
    smooth = np.stack([ndimage.gaussian_filter(n, sigma_px) for n in noise])
    return (smooth * (_rms(field, mask) / max(_rms(smooth, mask), 1e-12))).astype(field.dtype)


def compressible(
    field: np.ndarray, band: np.ndarray, rng: np.random.Generator, sigma_px: float = 3.0
) -> np.ndarray:
    """Smooth random curl-free ``(2, H, W)`` field with ``field``'s gradient energy over ``band``.

    ``u = grad (G_sigma * noise)``: its Jacobian is the (symmetric) Hessian of a smooth
    potential, so ``det J - 1`` is of the order of the gradient itself (a simulated,
    nearly incompressible field of the same energy has ``det J - 1`` near 0).
    """
    phi = ndimage.gaussian_filter(rng.standard_normal(field.shape[1:]), sigma_px)
    u = np.stack(np.gradient(phi))
    scale = np.sqrt(_energy(field, band) / max(_energy(u, band), 1e-30))
    return (u * scale).astype(field.dtype)


def mask_swapped(field: np.ndarray, band: np.ndarray, other_band: np.ndarray) -> np.ndarray:
    """``field`` scaled so its gradient energy over ``other_band`` (another case's dilated
    myocardium, bool ``(H, W)``) equals the energy over its own ``band``; ``(2, H, W)``."""
    scale = np.sqrt(_energy(field, band) / max(_energy(field, other_band), 1e-30))
    return (field * scale).astype(field.dtype)


def strain_reversed(field: np.ndarray) -> np.ndarray:
    """``-u``: the same gradient energy, the strain's sign reversed to first order."""
    return -field


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


def compressible_noise(
    shape: tuple[int, int],
    rng: np.random.Generator,
    amplitude_px: float = 0.45,
    sigma_px: float = 1.5,
) -> np.ndarray:
    """Small smooth random curl-free ``(2, H, W)`` float32 field, ``max |u| = amplitude_px``.

    What an under-regularised registration leaves where the true motion is nearly zero:
    sub-pixel displacements whose Jacobian is far from volume preserving (with the defaults
    mean ``|det J - 1|`` ~ 0.1 although ``|u| <= 0.45`` px).
    """
    phi = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px)
    u = np.stack(np.gradient(phi))
    return (u * (amplitude_px / max(float(np.abs(u).max()), 1e-30))).astype(np.float32)
