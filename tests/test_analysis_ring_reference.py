"""The label ring model: known rings give known wall thickening and mid-wall shortening."""

from __future__ import annotations

import numpy as np
import pytest

from binn.analysis.measures.ring_reference import ring_radii_mm, ring_strain, subject_ring_strain
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

SIZE = 400
SPACING = 0.25  # mm: fine pixels, so the areas of drawn discs are close to pi r^2


def ring(r_endo_mm: float, r_epi_mm: float) -> np.ndarray:
    """A label map: cavity inside ``r_endo``, myocardium out to ``r_epi`` (mm)."""
    rows, cols = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    radius = np.hypot(rows, cols) * SPACING
    return np.where(
        radius <= r_endo_mm, LV_CAVITY, np.where(radius <= r_epi_mm, MYOCARDIUM, 0)
    ).astype(np.uint8)


def test_radii_of_a_drawn_ring():
    endo, epi = ring_radii_mm(ring(20.0, 30.0), SPACING)
    assert endo == pytest.approx(20.0, abs=0.05) and epi == pytest.approx(30.0, abs=0.05)


def test_known_thickening_and_shortening():
    # ED: wall 10 mm, mid-wall radius 25 mm; ES: wall 15 mm, mid-wall radius 20 mm
    strain = ring_strain(ring(20.0, 30.0), ring(12.5, 27.5), SPACING)
    assert strain is not None
    assert strain.radial == pytest.approx(0.5, abs=0.01)
    assert strain.circ == pytest.approx(-0.2, abs=0.005)
    assert strain.wall_ed_mm == pytest.approx(10.0, abs=0.05)


def test_no_motion_is_zero_strain_and_a_missing_ring_is_none():
    ed = ring(20.0, 30.0)
    still = ring_strain(ed, ed, SPACING)
    assert still is not None and still.radial == 0.0 and still.circ == 0.0
    assert still.myocardium_area_ratio == 1.0
    assert ring_strain(ed, np.zeros_like(ed), SPACING) is None


def test_subject_mean_skips_slices_without_a_ring():
    ed = np.stack([ring(20.0, 30.0), ring(20.0, 30.0)])
    es = np.stack([ring(12.5, 27.5), np.zeros((SIZE, SIZE), np.uint8)])
    mean = subject_ring_strain(ed, es, SPACING)
    assert mean["slices"] == 1 and mean["radial"] == pytest.approx(0.5, abs=0.01)
    none = subject_ring_strain(ed, np.zeros_like(es), SPACING)
    assert none["slices"] == 0 and np.isnan(none["circ"])
