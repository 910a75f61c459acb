"""End-diastolic anatomy of the cine phantom: an analytic short-axis stack.

Every quantity is in pixels of the ED grid. A slice holds, painted back to front: textured
surrounding tissue, a sector of bright epicardial fat, the RV (dark thin wall around a
bright elliptic cavity, cut by the LV), the LV myocardium (dark ring), the LV cavity
(bright blood) and two dark papillary muscles inside it (labelled as LV cavity, as in
ACDC). The boundaries are functions of ``(r, theta)`` about the LV centre, so the
anatomy can be evaluated at any real-valued point, which is what rendering a deformed
frame needs. Edges are anti-aliased analytically (area fraction of a 1-px box across a
straight edge).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from binn.vocabulary import LV_CAVITY, MYOCARDIUM, RV_CAVITY

TEXTURE_PAD_PX = 24


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """Per-slice shape parameters (arrays ``(Z,)``, px / rad) and region intensities.

    ``texture``: ``(Z, H + 2 * TEXTURE_PAD_PX, W + 2 * TEXTURE_PAD_PX)`` float32, unit-std
    smooth random field sampled at ``(y + pad, x + pad)``.
    """

    centre_y: np.ndarray
    centre_x: np.ndarray
    r_endo: np.ndarray
    shape_e1: np.ndarray
    shape_p1: np.ndarray
    shape_e2: np.ndarray
    shape_p2: np.ndarray
    wall: np.ndarray
    wall_e: np.ndarray
    wall_p: np.ndarray
    rv_y: np.ndarray
    rv_x: np.ndarray
    rv_angle: np.ndarray
    rv_a: np.ndarray
    rv_b: np.ndarray
    rv_wall: float
    pm_angles: np.ndarray  # (Z, 2)
    pm_radius: np.ndarray
    fat_angle: np.ndarray
    fat_half_width: float
    fat_thickness: float
    intensity: dict[str, float]
    texture_gain: dict[str, float]
    texture: np.ndarray


def endo_radius(anat: Anatomy, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """ED endocardial radius (px) of slice ``z`` in direction ``theta`` (arrays, same shape)."""
    return anat.r_endo[z] * (
        1.0
        + anat.shape_e1[z] * np.cos(theta - anat.shape_p1[z])
        + anat.shape_e2[z] * np.cos(2.0 * theta - anat.shape_p2[z])
    )


def epi_radius(anat: Anatomy, z: np.ndarray, theta: np.ndarray, r_en: np.ndarray) -> np.ndarray:
    """ED epicardial radius (px): endocardial radius ``r_en`` plus the local wall thickness."""
    return r_en + anat.wall[z] * (1.0 + anat.wall_e[z] * np.cos(theta - anat.wall_p[z]))


def polar(anat: Anatomy, z: np.ndarray, y: np.ndarray, x: np.ndarray):
    """Return ``(r, theta)`` of points ``(y, x)`` about the LV centre of slice ``z``."""
    dy = y - anat.centre_y[z]
    dx = x - anat.centre_x[z]
    return np.hypot(dy, dx), np.arctan2(dy, dx)


def rv_radius(anat: Anatomy, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Normalised elliptic radius of ``(y, x)`` in the RV ellipse of slice ``z`` (1 on its edge)."""
    dy = y - anat.rv_y[z]
    dx = x - anat.rv_x[z]
    c, s = np.cos(anat.rv_angle[z]), np.sin(anat.rv_angle[z])
    along = dx * c + dy * s
    across = -dx * s + dy * c
    return np.hypot(along / anat.rv_a[z], across / anat.rv_b[z])


def _inside(signed_distance: np.ndarray) -> np.ndarray:
    """Area fraction of a 1-px box inside a straight edge at ``signed_distance`` px (<0 inside)."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def evaluate(anat: Anatomy, z: np.ndarray, y: np.ndarray, x: np.ndarray):
    """Evaluate the ED anatomy at real-valued points: ``(intensity float32, labels uint8)``.

    ``z`` (int slice index), ``y``, ``x`` (px) are arrays of one shape; intensities are the
    noise-free, unblurred tissue values (before bias field and noise), labels ACDC values
    sampled at the point (no anti-aliasing).
    """
    r, theta = polar(anat, z, y, x)
    r_en = endo_radius(anat, z, theta)
    r_ep = epi_radius(anat, z, theta, r_en)
    rho = rv_radius(anat, z, y, x)
    rv_scale = np.sqrt(anat.rv_a[z] * anat.rv_b[z])
    pad = TEXTURE_PAD_PX
    tex = ndimage.map_coordinates(
        anat.texture, [z.astype(np.float64), y + pad, x + pad], order=1, mode="nearest"
    )
    val, gain = anat.intensity, anat.texture_gain

    img = val["background"] * (1.0 + gain["background"] * tex)
    fat_dist = np.abs(np.angle(np.exp(1j * (theta - anat.fat_angle[z]))))
    in_fat = _inside(r - (r_ep + anat.fat_thickness)) * (fat_dist < anat.fat_half_width)
    img += in_fat * (val["fat"] - img)
    img += _inside((rho - 1.0) * rv_scale - anat.rv_wall) * (val["rv_wall"] - img)
    img += _inside((rho - 1.0) * rv_scale) * (val["rv_blood"] * (1.0 + gain["blood"] * tex) - img)
    img += _inside(r - r_ep) * (val["myocardium"] * (1.0 + gain["myocardium"] * tex) - img)
    img += _inside(r - r_en) * (val["blood"] * (1.0 + gain["blood"] * tex) - img)
    for k in range(anat.pm_angles.shape[1]):
        ang = anat.pm_angles[z, k]
        pm_r = 0.62 * anat.r_endo[z]
        pm_y = anat.centre_y[z] + pm_r * np.sin(ang)
        pm_x = anat.centre_x[z] + pm_r * np.cos(ang)
        dist = np.hypot(y - pm_y, x - pm_x) - anat.pm_radius[z]
        img += _inside(dist) * (anat.pm_radius[z] > 0) * (val["myocardium"] - img)

    labels = np.zeros(r.shape, dtype=np.uint8)
    labels[(rho < 1.0) & (r >= r_ep)] = RV_CAVITY
    labels[(r >= r_en) & (r < r_ep)] = MYOCARDIUM
    labels[r < r_en] = LV_CAVITY
    return img.astype(np.float32), labels


def smooth_texture(
    rng: np.random.Generator, slices: int, size: int, scales_px: tuple[float, float]
) -> np.ndarray:
    """Unit-std smooth random field ``(Z, size + 2 pad, size + 2 pad)``: fine + coarse scale."""
    shape = (slices, size + 2 * TEXTURE_PAD_PX, size + 2 * TEXTURE_PAD_PX)
    fields = []
    for sigma, weight in zip(scales_px, (0.6, 1.0), strict=True):
        f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(0, sigma, sigma))
        fields.append(weight * f / f.std())
    tex = fields[0] + fields[1]
    return (tex / tex.std()).astype(np.float32)
