"""Known-answer tests of binn.analysis.measures.metrics and .levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from binn.analysis.measures.levels import slice_levels
from binn.analysis.measures.metrics import (
    area_change,
    centroid,
    contour_distances,
    dice,
    end_point_error_mm,
    fold_fraction,
    jacobian_determinant,
    lagrangian_strain,
    mean_abs_det_j_minus_1,
    mean_det_j,
    radial_circumferential_strain,
)
from binn.errors import BinnInputError

N = 96
C = np.array([47.3, 48.6])  # off the pixel grid on purpose


def _radius() -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    return np.hypot(rows - C[0], cols - C[1])


def _ring(r_in: float, r_out: float) -> np.ndarray:
    r = _radius()
    return (r > r_in) & (r <= r_out)


def _radial_field(f) -> np.ndarray:
    """Field (2, N, N) px with radial displacement f(r) (pixels) about C."""
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    d = np.stack([rows - C[0], cols - C[1]])
    r = np.hypot(d[0], d[1])
    return (f(r) / r) * d


def _affine_field(a: np.ndarray) -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    d = np.stack([rows - C[0], cols - C[1]])
    return np.einsum("kl,lyx->kyx", a, d)


# --- overlap and contour distances ------------------------------------------------------


def test_dice_known_values():
    a = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), bool)
    a[0:10, 0:10] = True
    b[5:15, 0:10] = True
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0
    assert dice(a, np.zeros_like(a)) == 0.0
    assert math.isnan(dice(np.zeros_like(a), np.zeros_like(a)))
    with pytest.raises(BinnInputError):
        dice(a, b[:10])


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.5, 1.5)])
def test_contour_distances_concentric_rings(spacing):
    # Every boundary of ring B lies 3 px outside the matching boundary of ring A.
    a, b = _ring(12.0, 22.0), _ring(15.0, 25.0)
    mcd, hd = contour_distances(a, b, spacing)
    s = spacing[0]
    assert mcd == pytest.approx(3.0 * s, abs=0.15 * s)
    assert 3.0 * s - 0.3 * s <= hd <= 3.0 * s + 0.8 * s
    assert contour_distances(b, a, spacing) == pytest.approx((mcd, hd))
    assert contour_distances(a, a, spacing) == pytest.approx((0.0, 0.0), abs=1e-9)


def test_contour_distances_shifted_disc():
    radius, shift = 20.0, 4.0
    r = _radius()
    a = r <= radius
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    b = np.hypot(rows - C[0], cols - C[1] - shift) <= radius
    theta = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
    dist = np.abs(np.sqrt(radius**2 - 2 * radius * shift * np.cos(theta) + shift**2) - radius)
    mcd, hd = contour_distances(a, b, (1.0, 1.0))
    assert mcd == pytest.approx(dist.mean(), abs=0.1)
    assert hd == pytest.approx(shift, abs=0.5)


def test_contour_distances_empty_is_nan_and_one_pixel_works():
    a = _ring(12.0, 22.0)
    empty = np.zeros_like(a)
    assert all(math.isnan(v) for v in contour_distances(a, empty, (1.0, 1.0)))
    assert all(math.isnan(v) for v in contour_distances(empty, empty, (1.0, 1.0)))
    dot = np.zeros_like(a)
    dot[10, 10] = True
    mcd, hd = contour_distances(dot, dot, (1.0, 1.0))
    assert (mcd, hd) == pytest.approx((0.0, 0.0), abs=1e-9)


# --- Jacobian determinant, folds, area ---------------------------------------------------


def test_jacobian_determinant_affine_is_exact():
    a = np.array([[0.1, 0.2], [-0.05, 0.3]])
    disp = _affine_field(a).astype(np.float32)
    det = jacobian_determinant(disp)
    assert det.shape == (N, N)
    assert np.allclose(det, np.linalg.det(np.eye(2) + a), atol=1e-5)
    batch = np.stack([disp, np.zeros_like(disp)])
    det_b = jacobian_determinant(batch)
    assert det_b.shape == (2, N, N)
    assert np.allclose(det_b[1], 1.0)


def test_area_preservation_metrics_for_dilation():
    e = 0.05
    disp = _affine_field(e * np.eye(2))
    mask = _ring(12.0, 22.0)
    assert mean_abs_det_j_minus_1(disp, mask) == pytest.approx((1 + e) ** 2 - 1)
    assert area_change(-disp / (1 + e), mask) == pytest.approx((1 / (1 + e)) ** 2 - 1)
    assert mean_det_j(disp, mask) == pytest.approx((1 + e) ** 2)
    assert fold_fraction(disp, mask) == 0.0
    assert math.isnan(mean_abs_det_j_minus_1(disp, np.zeros_like(mask)))
    series = np.stack([np.zeros_like(disp), disp])
    assert mean_abs_det_j_minus_1(series, mask) == pytest.approx([0.0, (1 + e) ** 2 - 1])


def test_fold_fraction_counts_folded_columns():
    # u0 = -2 * row on the left 30 columns: det J = 1 - 2 = -1 there, 1 elsewhere.
    rows = np.arange(N)[:, None] * np.ones((1, N))
    disp = np.zeros((2, N, N))
    disp[0, :, :30] = -2.0 * rows[:, :30]
    mask = np.ones((N, N), bool)
    assert fold_fraction(disp, mask) == pytest.approx(30 / N)
    assert math.isnan(fold_fraction(disp, np.zeros_like(mask)))


# --- strain -------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 2.0)])
def test_strain_uniform_dilation(spacing):
    e = 0.1
    disp = _affine_field(e * np.eye(2))
    err, ecc = radial_circumferential_strain(disp, _ring(12, 22), C, spacing)
    assert err == pytest.approx(e + e**2 / 2)
    assert ecc == pytest.approx(e + e**2 / 2)


def test_rotation_gives_zero_green_strain():
    phi = np.deg2rad(25.0)
    rot = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    disp = _affine_field(rot - np.eye(2))
    assert np.abs(lagrangian_strain(disp)).max() < 1e-12
    err, ecc = radial_circumferential_strain(disp, _ring(12, 22), C)
    assert abs(err) < 1e-12 and abs(ecc) < 1e-12
    assert mean_abs_det_j_minus_1(disp, _ring(12, 22)) < 1e-12


def test_constant_radial_displacement_is_circumferential_stretch():
    # u_r = a: F_rr = 1 (no radial strain), F_tt = 1 + a / r.
    a = 2.0
    mask = _ring(15, 25)
    disp = _radial_field(lambda r: a + 0 * r)
    err, ecc = radial_circumferential_strain(disp, mask, C)
    r = _radius()[mask]
    assert err == pytest.approx(0.0, abs=2e-3)
    assert ecc == pytest.approx(np.mean(((1 + a / r) ** 2 - 1) / 2), abs=2e-3)
    assert ecc > 0.1


def test_incompressible_radial_thickening():
    # r -> sqrt(r^2 - k): area-preserving inward motion, wall thickens (ES-like).
    k = 150.0
    mask = _ring(18, 30)
    disp = _radial_field(lambda r: np.sqrt(np.maximum(r**2 - k, 1.0)) - r)
    r = _radius()[mask]
    rp = np.sqrt(r**2 - k)
    err, ecc = radial_circumferential_strain(disp, mask, C)
    assert err == pytest.approx(np.mean(((r / rp) ** 2 - 1) / 2), abs=3e-3)
    assert ecc == pytest.approx(np.mean(((rp / r) ** 2 - 1) / 2), abs=3e-3)
    assert err > 0.1 and ecc < -0.1
    assert mean_abs_det_j_minus_1(disp, mask) < 5e-3
    # a series of frames gives one value per frame
    err_t, ecc_t = radial_circumferential_strain(np.stack([0 * disp, disp]), mask, C)
    assert err_t.shape == (2,) and err_t[0] == 0.0 and err_t[1] == pytest.approx(err)
    assert ecc_t[1] == pytest.approx(ecc)


def test_strain_nan_without_mask_or_centre():
    disp = _affine_field(0.1 * np.eye(2))
    err, ecc = radial_circumferential_strain(disp, np.zeros((N, N), bool), C)
    assert math.isnan(err) and math.isnan(ecc)
    err, ecc = radial_circumferential_strain(disp, _ring(12, 22), centroid(np.zeros((N, N))))
    assert math.isnan(err) and math.isnan(ecc)


def test_centroid_of_ring():
    assert centroid(_ring(12, 22)) == pytest.approx(C, abs=0.05)


# --- errors against ground truth ----------------------------------------------------------


def test_end_point_error_mm():
    gt = _affine_field(0.1 * np.eye(2))
    pred = gt + np.array([1.0, 1.0])[:, None, None]
    mask = _ring(12, 22)
    assert end_point_error_mm(pred, gt, mask, (2.0, 3.0)) == pytest.approx(math.sqrt(13.0))
    assert end_point_error_mm(gt, gt, mask, (2.0, 3.0)) == 0.0
    assert math.isnan(end_point_error_mm(pred, gt, np.zeros_like(mask), (1.0, 1.0)))
    with pytest.raises(BinnInputError):
        end_point_error_mm(pred[:, :10], gt, mask, (1.0, 1.0))


# --- slice levels ------------------------------------------------------------------------


def _stack(has_myo: list[bool]) -> np.ndarray:
    myo = np.zeros((len(has_myo), 8, 8), np.uint8)
    for z, h in enumerate(has_myo):
        myo[z, 2:5, 2:5] = int(h)
    return myo


def test_slice_levels_thirds_base_to_apex():
    levels = slice_levels(_stack([False, True, True, True, True, True, True, False]))
    assert levels == [None, "basal", "basal", "mid", "mid", "apical", "apical", None]


def test_slice_levels_gaps_and_small_stacks():
    assert slice_levels(_stack([True])) == ["mid"]
    assert slice_levels(_stack([True, True])) == ["basal", "apical"]
    assert slice_levels(_stack([True, False, True, True])) == ["basal", None, "mid", "apical"]
    assert slice_levels(_stack([False, False])) == [None, None]
    with pytest.raises(BinnInputError):
        slice_levels(np.zeros((4, 4)))
