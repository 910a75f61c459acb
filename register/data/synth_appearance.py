"""Randomised appearance of the synthetic training cine (after SynthMorph, Hoffmann et al.,
IEEE TMI 2022, and voxelmorph's ``labels_to_image`` generator).

Each slice draws one :class:`Appearance` and keeps it over its frames (one acquisition):
- per-tissue mean intensities: with probability :data:`BSSFP_PROBABILITY` bSSFP-like
  (bright blood 0.65-1, dark myocardium 0.05-0.35, trabeculae and RV wall like the
  myocardium), else every tissue uniform in [0, 1] (blood and myocardium at least
  :data:`MIN_CONTRAST` apart, so that the myocardium is visible at all); surroundings and
  air always random;
- texture: a smooth unit field (0.5-3 px) fixed in the tissue (it moves with it), gain
  0-0.25 per tissue;
- partial volume: in-plane by rendering at :data:`SUPERSAMPLE` x the grid and averaging;
  through-plane by mixing (0-35 %) the slice with itself scaled about the LV by a factor
  that grows with the slice thickness (5-10 mm): the neighbouring anatomy of a tapering
  ventricle;
- acquisition: a native in-plane spacing of 1.0-3.0 mm (down-sampled to it and back to the
  grid), Gaussian blur 0-0.8 px, gamma exp(N(0, 0.25)), a smooth multiplicative bias field
  (0-40 %), Rician noise of 12-30 dB SNR (blood over sigma); then the same robust [0, 1]
  window as real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from binn.register.data.intensity import robust_window
from binn.register.data.phantom import bias_field
from binn.register.data.synth_anatomy import (
    AIR,
    LV_BLOOD,
    LV_MYOCARDIUM,
    RV_BLOOD,
    RV_WALL,
    TRABECULAE,
)

BSSFP_PROBABILITY = 0.5
MIN_CONTRAST = 0.15
SUPERSAMPLE = 2
NATIVE_SPACING_MM = (1.0, 3.0)
SLICE_MM = (5.0, 10.0)
SNR_DB = (12.0, 30.0)


@dataclass(frozen=True)
class Appearance:
    """How one slice looks (module docstring). ``means``/``gains`` ``(N,)`` per tissue;
    ``texture (H, W)`` unit-std, on the ED grid; ``centre (2,)`` px the LV centre."""

    means: np.ndarray
    gains: np.ndarray
    texture: np.ndarray
    bssfp: bool
    through_plane_mix: float
    through_plane_scale: float
    centre: np.ndarray
    native_spacing_mm: float
    blur_px: float
    gamma: float
    bias_amplitude: float
    snr_db: float


def tissue_means(rng: np.random.Generator, tissues: int) -> tuple[np.ndarray, bool]:
    """Mean intensity ``(tissues,)`` of every tissue and whether they are bSSFP-like."""
    means = rng.uniform(0.0, 1.0, tissues)
    means[AIR] = rng.uniform(0.0, 0.05)
    bssfp = bool(rng.uniform() < BSSFP_PROBABILITY)
    if bssfp:
        means[LV_BLOOD] = rng.uniform(0.65, 1.0)
        means[RV_BLOOD] = min(1.0, means[LV_BLOOD] * rng.uniform(0.85, 1.05))
        means[LV_MYOCARDIUM] = rng.uniform(0.05, 0.35)
        means[TRABECULAE] = means[LV_MYOCARDIUM] * rng.uniform(0.8, 1.3)
        means[RV_WALL] = means[LV_MYOCARDIUM] * rng.uniform(0.8, 1.3)
    else:
        while abs(means[LV_BLOOD] - means[LV_MYOCARDIUM]) < MIN_CONTRAST:
            means[LV_MYOCARDIUM] = rng.uniform(0.0, 1.0)
    return means, bssfp


def sample_appearance(
    rng: np.random.Generator, tissues: int, shape: tuple[int, int], centre: np.ndarray
) -> Appearance:
    """Draw the appearance of a slice of ``tissues`` tissues on a ``shape`` grid."""
    means, bssfp = tissue_means(rng, tissues)
    sigma = rng.uniform(0.5, 3.0)
    texture = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    slice_mm = rng.uniform(*SLICE_MM)
    return Appearance(
        means=means,
        gains=rng.uniform(0.0, 0.25, tissues),
        texture=texture / max(texture.std(), 1e-9),
        bssfp=bssfp,
        through_plane_mix=float(rng.uniform(0.0, 0.35)),
        through_plane_scale=float(1.0 + rng.choice([-1.0, 1.0]) * 0.008 * slice_mm),
        centre=np.asarray(centre, dtype=np.float64),
        native_spacing_mm=float(rng.uniform(*NATIVE_SPACING_MM)),
        blur_px=float(rng.uniform(0.0, 0.8)),
        gamma=float(np.exp(rng.normal(0.0, 0.25))),
        bias_amplitude=float(rng.uniform(0.0, 0.4)),
        snr_db=float(rng.uniform(*SNR_DB)),
    )


def fine_points(shape: tuple[int, int]) -> np.ndarray:
    """Centres ``(2, S*H, S*W)`` of the :data:`SUPERSAMPLE`-fold sub-pixels, in grid px."""
    axes = [(np.arange(SUPERSAMPLE * n) + 0.5) / SUPERSAMPLE - 0.5 for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def _intensity(tissue: np.ndarray, look: Appearance, positions: np.ndarray) -> np.ndarray:
    """Noise-free intensity at ED ``positions (2, ...)`` px: tissue mean and texture."""
    kind = ndimage.map_coordinates(tissue, positions.reshape(2, -1), order=0, mode="nearest")
    texture = ndimage.map_coordinates(look.texture, positions.reshape(2, -1), order=1)
    value = look.means[kind] * (1.0 + look.gains[kind] * texture)
    return value.reshape(positions.shape[1:])


def render_clean(tissue: np.ndarray, look: Appearance, positions: np.ndarray) -> np.ndarray:
    """One frame ``(H, W)`` without acquisition effects, from the ED positions ``(2, S*H,
    S*W)`` px of its sub-pixels: partial volume in-plane and through-plane."""
    value = _intensity(tissue, look, positions)
    centre = look.centre[:, None, None]
    neighbour = _intensity(tissue, look, centre + (positions - centre) * look.through_plane_scale)
    value = (1.0 - look.through_plane_mix) * value + look.through_plane_mix * neighbour
    h, w = tissue.shape
    return value.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean(axis=(1, 3))


def acquire(
    rng: np.random.Generator, clean: np.ndarray, look: Appearance, spacing: float, name: str
) -> np.ndarray:
    """The acquired frames ``(T, H, W)`` float32 in [0, 1] of ``clean (T, H, W)``: native
    resolution, blur, gamma, bias, Rician noise, robust window (one per slice)."""
    frames, h, w = clean.shape
    image = np.clip(clean, 0.0, None) ** look.gamma
    factor = spacing / look.native_spacing_mm
    if factor < 0.98:
        small = ndimage.zoom(image, (1.0, factor, factor), order=1, grid_mode=True, mode="nearest")
        back = (1.0, h / small.shape[1], w / small.shape[2])
        image = ndimage.zoom(small, back, order=1, grid_mode=True, mode="nearest")[:, :h, :w]
    image = ndimage.gaussian_filter(image, (0.0, look.blur_px, look.blur_px))
    image = image * bias_field(rng, 1, h, look.bias_amplitude)[0][None]
    sigma = max(float(look.means.max()), 0.05) / 10.0 ** (look.snr_db / 20.0)
    noise = rng.standard_normal((2, frames, h, w)) * sigma
    noisy = np.hypot(image + noise[0], noise[1])
    lo, hi = robust_window(noisy, name)
    return np.clip((noisy - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
