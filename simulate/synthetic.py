"""Seeded synthetic short-axis LV rings at ES (the embedded default input) with an ED area target.

Every size is drawn in mm, then rasterised on the physical grid (``size`` px of
``spacing_mm``), so the anatomy is the same on any grid. The ranges match the ACDC
development set (``binn bench anatomy``, 30 subjects of all five groups, per slice with a
closed ring: ES cavity radius 19.1 +- 8.1 mm, ES wall 12.6 +- 4.7 mm, ED/ES cavity area
ratio median 2.1): ES cavity radius 8-30 mm, ES wall thickness 7-17 mm, axis ratio 0.8-1,
smooth irregular boundaries from low-order Fourier perturbations, no papillary muscles;
the ED cavity area target is the ES cavity area times a ratio drawn from 1.3-3.0. The
incompressible ED ring must stay inside the image (3 px margin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as MplPath

from binn.errors import BinnInputError
from binn.simulate.contours import polygon_area

ES_CAVITY_RADIUS_MM = (8.0, 30.0)
"""Range of the ES cavity radius (mm, before the boundary perturbation)."""
ES_WALL_MM = (7.0, 17.0)
"""Range of the ES wall thickness (mm)."""
ED_ES_AREA_RATIO = (1.3, 3.0)
"""Range of the ED / ES cavity area ratio (the ED target)."""


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
    """The synthetic ES ring of ``seed`` on a ``size`` x ``size`` grid of ``spacing_mm`` pixels.

    The shape (mm) depends on ``seed`` only; the grid only decides how it is rasterised.
    Raises :class:`BinnInputError` when the ED ring would not fit the window.
    """
    if size < 32:
        raise BinnInputError(f"synth_{seed:04d}", f"image size {size} px is too small (>= 32)")
    if not 0.3 <= spacing_mm <= 5.0:
        raise BinnInputError(f"synth_{seed:04d}", f"absurd pixel spacing {spacing_mm} mm")
    rng = np.random.default_rng(seed)
    r_cav = rng.uniform(*ES_CAVITY_RADIUS_MM)
    thickness = rng.uniform(*ES_WALL_MM)
    ratio_axes = rng.uniform(0.8, 1.0)
    orientation = rng.uniform(0.0, np.pi)
    ed_ratio = rng.uniform(*ED_ES_AREA_RATIO)
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
