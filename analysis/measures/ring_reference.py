"""Strain from the expert labels alone, no tracking: the ring model of each slice.

Each slice's LV at ED and at ES is read as a circular ring with the same areas as its labels:
endocardial radius ``r_endo = sqrt(A_cavity / pi)``, epicardial radius
``r_epi = sqrt((A_cavity + A_myocardium) / pi)``. Between ED (reference) and ES:

- radial strain ``wall_ES / wall_ED - 1``, the wall thickening (``wall = r_epi - r_endo``);
- circumferential strain ``r_mid_ES / r_mid_ED - 1``, the shortening of the mid-wall
  circumference (``r_mid = (r_endo + r_epi) / 2``).

Both are engineering (stretch - 1) strains of the ring, independent of any tracker. They are
a check on the size of the motion a tracker recovers, not the same quantity as its
pixel-mean Lagrangian strain: labels include the through-plane motion of the base (the ES
slice cuts the ventricle at another height) and the in-plane myocardial area is not
conserved (long-axis shortening thickens the wall in plane), which a ring ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from binn.vocabulary import LV_CAVITY, MYOCARDIUM


@dataclass(frozen=True)
class RingStrain:
    """Ring-model strain of one slice (dimensionless) and the ring's ED geometry (mm)."""

    radial: float
    circ: float
    wall_ed_mm: float
    myocardium_area_ratio: float


def ring_radii_mm(labels: np.ndarray, spacing_mm: float) -> tuple[float, float]:
    """``(r_endo, r_epi)`` mm of a ``(H, W)`` label map (ACDC values) with square pixels of
    ``spacing_mm``: the radii of circles with the cavity's and cavity + myocardium's areas."""
    pixel_area = float(spacing_mm) ** 2
    cavity = float((labels == LV_CAVITY).sum()) * pixel_area
    myocardium = float((labels == MYOCARDIUM).sum()) * pixel_area
    return float(np.sqrt(cavity / np.pi)), float(np.sqrt((cavity + myocardium) / np.pi))


def ring_strain(
    labels_ed: np.ndarray, labels_es: np.ndarray, spacing_mm: float, min_pixels: int = 20
) -> RingStrain | None:
    """Ring-model strain of one slice from its ED and ES ``(H, W)`` label maps (ACDC values);
    None when either frame has fewer than ``min_pixels`` myocardium pixels or no cavity (the
    base left the slice, or the apex has no cavity)."""
    for labels in (labels_ed, labels_es):
        if (labels == MYOCARDIUM).sum() < min_pixels or not (labels == LV_CAVITY).any():
            return None
    endo_ed, epi_ed = ring_radii_mm(labels_ed, spacing_mm)
    endo_es, epi_es = ring_radii_mm(labels_es, spacing_mm)
    wall_ed, wall_es = epi_ed - endo_ed, epi_es - endo_es
    return RingStrain(
        radial=wall_es / wall_ed - 1.0,
        circ=(endo_es + epi_es) / (endo_ed + epi_ed) - 1.0,
        wall_ed_mm=wall_ed,
        myocardium_area_ratio=float((labels_es == MYOCARDIUM).sum())
        / float((labels_ed == MYOCARDIUM).sum()),
    )


def subject_ring_strain(
    labels_ed: np.ndarray, labels_es: np.ndarray, spacing_mm: float
) -> dict[str, float | int]:
    """Mean ring-model strain over the slices of ``(Z, H, W)`` ED and ES label maps where
    both frames hold a ring: ``radial``, ``circ`` (dimensionless), ``wall_ed_mm``,
    ``myocardium_area_ratio`` (ES / ED in-plane area) and ``slices`` (how many). NaN and 0
    slices when none has a ring."""
    rings = [
        r
        for z in range(labels_ed.shape[0])
        if (r := ring_strain(labels_ed[z], labels_es[z], spacing_mm)) is not None
    ]
    keys = ("radial", "circ", "wall_ed_mm", "myocardium_area_ratio")
    if not rings:
        return {**{k: float("nan") for k in keys}, "slices": 0}
    return {
        **{k: float(np.mean([getattr(r, k) for r in rings])) for k in keys},
        "slices": len(rings),
    }
