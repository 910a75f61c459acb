"""Seeded synthetic short-axis LV rings at ES (the embedded default input) with an ED area target.

Sizes are physiological (mm): ES cavity equivalent radius 8-16 mm, wall thickness 7-13 mm,
axis ratio 0.8-1, smooth irregular boundaries from low-order Fourier perturbations, no
papillary muscles; the ED cavity area target is the ES cavity area times a ratio drawn from
1.6-3.0. The incompressible ED ring must stay inside the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as MplPath

from binn.errors import BinnInputError
from simulate.contours import polygon_area


@dataclass(frozen=True)
class RingCase:
    """An ES ring on a pixel grid: ``cavity``/``myocardium`` ``(H, W)`` uint8, ``spacing (2,)`` mm,
    ED cavity area target in mm^2 and where the window sits in its source (``crop_origin``)."""

    cavity: np.ndarray
    myocardium: np.ndarray
    spacing: np.ndarray
    target_area_mm2: float
    crop_origin: np.ndarray
    source: str


def _radius(theta: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """``1 + sum_k a_k cos(k theta + phi_k)`` for k = 2..5 with |a_k| <= amp / k."""
    out = np.ones_like(theta)
    for k in range(2, 6):
        out += rng.uniform(0.0, amp / k) * np.cos(k * theta + rng.uniform(0.0, 2.0 * np.pi))
    return out


def synthetic_ring(seed: int, size: int = 96, spacing_mm: float = 1.8) -> RingCase:
    """The synthetic ES ring of ``seed`` on a ``size`` x ``size`` grid of ``spacing_mm`` pixels."""
    if size < 32:
        raise BinnInputError(f"synth_{seed:04d}", f"image size {size} px is too small (>= 32)")
    if not 0.3 <= spacing_mm <= 5.0:
        raise BinnInputError(f"synth_{seed:04d}", f"absurd pixel spacing {spacing_mm} mm")
    rng = np.random.default_rng(seed)
    r_cav = rng.uniform(8.0, 16.0)
    thickness = rng.uniform(7.0, 13.0)
    ratio_axes = rng.uniform(0.8, 1.0)
    orientation = rng.uniform(0.0, np.pi)
    ed_ratio = rng.uniform(1.6, 3.0)
    theta = np.linspace(0.0, 2.0 * np.pi, 720, endpoint=False)
    r_endo = r_cav * _radius(theta, rng, 0.12)
    r_epi = r_endo + thickness * _radius(theta, rng, 0.25)
    stretch = np.array([np.sqrt(ratio_axes), 1.0 / np.sqrt(ratio_axes)])
    rot = np.array(
        [[np.cos(orientation), -np.sin(orientation)], [np.sin(orientation), np.cos(orientation)]]
    )
    half = (size - 1) / 2.0
    centre = (half + rng.uniform(-2.0, 2.0, size=2)) * spacing_mm

    def curve(r: np.ndarray) -> np.ndarray:
        unit = np.column_stack([np.cos(theta), np.sin(theta)]) * stretch
        return (r[:, None] * unit) @ rot.T + centre

    endo, epi = curve(r_endo), curve(r_epi)
    a_es, a_wall = polygon_area(endo), polygon_area(epi) - polygon_area(endo)
    # Incompressible ED extent: outer radius of the equal-area annulus at the ED cavity area.
    r_ed_outer = np.sqrt((ed_ratio * a_es + a_wall) / np.pi)
    if r_ed_outer + 3.0 * spacing_mm > half * spacing_mm:
        raise BinnInputError(
            f"synth_{seed:04d}", f"ED ring (radius {r_ed_outer:.1f} mm) does not fit {size} px"
        )
    rows, cols = np.mgrid[0:size, 0:size]
    pix = np.column_stack([rows.ravel(), cols.ravel()]) * spacing_mm
    in_endo = MplPath(endo).contains_points(pix).reshape(size, size)
    in_epi = MplPath(epi).contains_points(pix).reshape(size, size)
    return RingCase(
        cavity=in_endo.astype(np.uint8),
        myocardium=(in_epi & ~in_endo).astype(np.uint8),
        spacing=np.array([spacing_mm, spacing_mm]),
        target_area_mm2=float(ed_ratio * a_es),
        crop_origin=np.zeros(2, dtype=np.int64),
        source=f"synth_{seed:04d}",
    )
