"""learn.corrupt and learn.evaluate: hard corruptions match the gradient energy; the control.

No trained VAE here: the corruptions' properties are checked analytically, and the
control scorer's AUCs (which do not depend on the VAE) are checked through ``separation``
with an untrained model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from binn.learn import corrupt
from binn.learn.dataset import read_records
from binn.learn.evaluate import (
    case_bootstrap_intervals,
    energy_adjusted_auc,
    energy_adjusted_intervals,
    first_scored_frame,
    noise_response,
    roc_auc,
    separation,
)
from binn.learn.gradients import displacement_gradient
from binn.learn.masks import dilate_mask
from binn.learn.model import MotionVAE2D
from tests.learn_fixtures import ring_case, write_ring_records


def _energy(field: np.ndarray, band: np.ndarray) -> float:
    return float(np.sum(displacement_gradient(field.astype(np.float64))[:, band] ** 2))


def _band(mask: np.ndarray, px: int = 3) -> np.ndarray:
    return dilate_mask(torch.from_numpy(mask), px).numpy() > 0


def test_det_j_of_affine_field() -> None:
    a = np.array([[0.1, -0.05], [0.2, -0.3]])
    rows, cols = np.meshgrid(np.arange(12), np.arange(10), indexing="ij")
    field = np.einsum("ij,jhw->ihw", a, np.stack([rows, cols]).astype(np.float64))
    mask = np.zeros((12, 10), bool)
    mask[3:8, 2:6] = True
    expected = abs(np.linalg.det(np.eye(2) + a) - 1.0)
    assert corrupt.mean_abs_det_j_minus_1(field, mask) == pytest.approx(expected, rel=1e-9)


def test_compressible_matches_energy_and_is_far_from_incompressible() -> None:
    disp, mask, _ = ring_case(3, size=48, frames=6)
    field, m = disp[-1], mask.astype(bool)
    band = _band(m)
    bad = corrupt.compressible(field, band, np.random.default_rng(0))
    assert bad.shape == field.shape and bad.dtype == field.dtype
    assert _energy(bad, band) == pytest.approx(_energy(field, band), rel=1e-4)
    wall = corrupt.mean_abs_det_j_minus_1(field, m)
    assert corrupt.mean_abs_det_j_minus_1(bad, m) > 5 * wall
    # curl-free: the Jacobian is symmetric up to discretisation
    g = displacement_gradient(bad.astype(np.float64))
    assert np.abs(g[1] - g[2])[band].max() < 0.2 * np.abs(g[[0, 3]])[:, band].max()


def test_strain_reversed_keeps_energy_and_flips_dilatation() -> None:
    disp, mask, cavity = ring_case(4, size=48, frames=6)
    field, band = disp[-1], _band(mask.astype(bool))
    rev = corrupt.strain_reversed(field)
    np.testing.assert_array_equal(rev, -field)
    assert _energy(rev, band) == pytest.approx(_energy(field, band), rel=1e-6)
    g, gr = displacement_gradient(field), displacement_gradient(rev)
    cav = cavity.astype(bool)
    # the cavity shrinks from ED in the simulation and grows in the reversed field
    assert np.mean((g[0] + g[3])[cav]) < 0 < np.mean((gr[0] + gr[3])[cav])


def test_mask_swapped_carries_the_original_energy_onto_the_other_band() -> None:
    disp, mask, _ = ring_case(5, size=48, frames=6)
    _, other_mask, _ = ring_case(6, size=48, frames=6)
    field, band, other_band = disp[-1], _band(mask.astype(bool)), _band(other_mask.astype(bool))
    swapped = corrupt.mask_swapped(field, band, other_band)
    assert swapped.shape == field.shape and swapped.dtype == field.dtype
    assert _energy(swapped, other_band) == pytest.approx(_energy(field, band), rel=1e-4)
    scale = swapped[np.abs(field) > 0] / field[np.abs(field) > 0]
    np.testing.assert_allclose(scale, scale[0], rtol=1e-5)  # the same field, only scaled
    # on its own band the swap is the identity
    np.testing.assert_allclose(corrupt.mask_swapped(field, band, band), field, rtol=1e-6)


def test_compressible_noise_is_small_and_compressible() -> None:
    rng = np.random.default_rng(2)
    mask = np.zeros((48, 48), bool)
    mask[10:38, 10:38] = True
    dets = []
    for _ in range(5):
        n = corrupt.compressible_noise((48, 48), rng)
        assert n.dtype == np.float32 and np.abs(n).max() == pytest.approx(0.45, rel=1e-6)
        dets.append(corrupt.mean_abs_det_j_minus_1(n, mask))
    assert 0.07 < np.mean(dets) < 0.15


def _three_rings_and_an_untrained_vae(folder: Path) -> tuple[list, MotionVAE2D]:
    records, _ = read_records(write_ring_records(folder, [0, 1, 2], size=32, frames=6))
    torch.manual_seed(0)
    return records, MotionVAE2D(image_size=32, latent_dim=4, nf=4).eval()


def test_separation_reports_every_corruption_with_control(tmp_path: Path) -> None:
    records, vae = _three_rings_and_an_untrained_vae(tmp_path)
    sep = separation(vae, records, seed=0)
    assert set(sep.auc_per_corruption) == set(corrupt.CORRUPTIONS)
    assert set(sep.control_auc_per_corruption) == set(corrupt.CORRUPTIONS)
    assert set(sep.within_case_auc_per_corruption) == set(corrupt.CORRUPTIONS)
    assert set(sep.control_within_case_auc_per_corruption) == set(corrupt.CORRUPTIONS)
    assert sep.control_within_case_auc_per_corruption["folded"] == 1.0
    assert set(sep.auc_interval_per_corruption) == set(corrupt.CORRUPTIONS)
    for low, high in [
        *sep.auc_interval_per_corruption.values(),
        *sep.within_case_auc_interval_per_corruption.values(),
    ]:
        assert 0.0 <= low <= high <= 1.0
    assert set(sep.energy_adjusted_auc_per_corruption) == set(corrupt.HARD_CORRUPTIONS)
    assert set(sep.energy_adjusted_auc_interval_per_corruption) == set(corrupt.HARD_CORRUPTIONS)
    for name, (low, high) in sep.energy_adjusted_auc_interval_per_corruption.items():
        assert low <= sep.energy_adjusted_auc_per_corruption[name] <= high, name
        # the control's covariate is its own score: adjusted, it is blind to energy-matched fields
        assert abs(sep.control_energy_adjusted_auc_per_corruption[name] - 0.5) < 0.05, name
    n = sep.plausible.size
    assert n == 3 * 3 and all(v.size == n for v in sep.corrupted.values())
    # energy-matched corruptions: the control cannot tell them from the simulation
    for name in ("compressible", "strain_reversed", "shuffled_gradients", "mask_swapped"):
        np.testing.assert_allclose(
            sep.control_corrupted[name], sep.control_plausible, rtol=1e-3, err_msg=name
        )
    assert sep.control_auc_per_corruption["folded"] == 1.0
    assert sep.abs_det_j_minus_1["compressible"] > 3 * sep.abs_det_j_minus_1["simulated"]
    one = separation(vae, records[:1], seed=0)
    assert "mask_swapped" not in one.auc_per_corruption
    small = noise_response(vae, records, seed=0, per_case=2)
    assert small["zero"] == 0.0 and small["noise"] > 0 and small["noise_n"] == 6
    assert 0.07 < small["noise_abs_det_j_minus_1"] < 0.15


def test_mask_swaps_list_each_pair_consistently(tmp_path: Path) -> None:
    records, vae = _three_rings_and_an_untrained_vae(tmp_path)
    sep = separation(vae, records, seed=0)
    names = [r.name for r in records]
    assert [(s["case"], s["mask_of"]) for s in sep.mask_swaps] == list(
        zip(names, names[1:] + names[:1], strict=True)
    )
    # per-pair numbers are the pooled ones split by case: their means agree
    within = np.mean([s["within_case_auc"] for s in sep.mask_swaps])
    assert within == pytest.approx(sep.within_case_auc_per_corruption["mask_swapped"])
    det = np.mean([s["abs_det_j_minus_1"] for s in sep.mask_swaps])
    assert det == pytest.approx(sep.abs_det_j_minus_1["mask_swapped"])
    for swap, rec, other in zip(sep.mask_swaps, records, records[1:] + records[:1], strict=True):
        frames = rec.disp[first_scored_frame(rec, 0.5) :]
        on_own = np.mean([corrupt.mean_abs_det_j_minus_1(f, rec.mask) for f in frames])
        band, other_band = _band(rec.mask > 0), _band(other.mask > 0)
        swapped = [corrupt.mask_swapped(f, band, other_band) for f in frames]
        on_other = np.mean([corrupt.mean_abs_det_j_minus_1(f, other.mask) for f in swapped])
        scales = [
            np.linalg.norm(s) / np.linalg.norm(f) for s, f in zip(swapped, frames, strict=True)
        ]
        assert swap["scale"] == pytest.approx(np.median(scales), rel=1e-5)
        assert swap["original_abs_det_j_minus_1"] == pytest.approx(on_own)
        assert swap["abs_det_j_minus_1"] == pytest.approx(on_other)


def test_case_bootstrap_intervals() -> None:
    ok, bad = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.15, 0.35, 0.5, 0.6])
    point = roc_auc(ok, bad)  # 0.75
    # identical cases: every resample gives the one case's AUC, pooled and within
    pooled, within = case_bootstrap_intervals({"simulated": [ok] * 5, "bad": [bad] * 5})
    assert pooled["bad"] == pytest.approx((point, point))
    assert within["bad"] == pytest.approx((point, point))
    # cases at different score levels: each case separates perfectly, pooled it does not
    levels = [0.0, 1.0, 2.0, 3.0]
    scores = {
        "simulated": [lv + np.array([0.0, 0.1]) for lv in levels],
        "bad": [lv + np.array([0.5, 0.6]) for lv in levels],
    }
    pooled, within = case_bootstrap_intervals(scores, seed=1)
    assert within["bad"] == (1.0, 1.0)
    low, high = pooled["bad"]
    point = roc_auc(np.concatenate(scores["simulated"]), np.concatenate(scores["bad"]))
    # all four cases drawn is the worst resample; drawing fewer distinct cases separates better
    assert low == pytest.approx(point) and point < high < 1.0
    assert case_bootstrap_intervals(scores, seed=1) == (pooled, within)  # seeded


def test_within_case_auc_removes_the_case_score_level() -> None:
    """Case 0 moves little, case 1 a lot: each case's corruption scores above its own
    plausible frames (within-case AUC 1) although pooled, case 1's plausible frames outscore
    case 0's corrupted ones."""
    from binn.learn.evaluate import _within_case_auc

    scores = {
        "simulated": [np.array([0.0, 1.0]), np.array([10.0, 11.0])],
        "bad": [np.array([2.0, 3.0]), np.array([12.0, 13.0])],
    }
    assert _within_case_auc(scores) == {"bad": 1.0}
    pooled = roc_auc(np.concatenate(scores["simulated"]), np.concatenate(scores["bad"]))
    assert pooled == pytest.approx(0.75)


def test_energy_adjusted_auc_known_values() -> None:
    # the positive (energy 1) is compared with the two negatives of energy 1 only
    ok, ok_energy = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 10.0])
    assert energy_adjusted_auc(ok, ok_energy, np.array([2.5]), np.array([1.0])) == 1.0
    assert roc_auc(ok, np.array([2.5])) == pytest.approx(2 / 3)
    # a tie counts 1/2; a negative 1.5x away is in reach, one 1.6x away is not
    near = energy_adjusted_auc(ok, np.array([1.0, 1.5, 1.6]), np.array([2.0]), np.array([1.0]))
    assert near == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no negative"):
        energy_adjusted_auc(ok, ok_energy, np.array([2.5]), np.array([100.0]))
    with pytest.raises(ValueError, match="positive"):
        energy_adjusted_auc(ok, np.array([0.0, 1.0, 1.0]), np.array([2.5]), np.array([1.0]))


def test_energy_adjusted_auc_removes_the_spread_of_sizes() -> None:
    """Energies over two orders of magnitude; the negatives score their energy, the
    positives twice theirs: pooled, a small positive loses to a large negative, adjusted
    for the energy every positive wins. The energy itself scores about 0.5 adjusted."""
    energy = 1.1 ** np.arange(50)  # 1 .. 107
    pooled = roc_auc(energy, 2 * energy)
    assert pooled < 0.9
    assert energy_adjusted_auc(energy, energy, 2 * energy, energy) == 1.0
    control = energy_adjusted_auc(energy, energy, energy, energy)
    assert control == pytest.approx(0.5, abs=0.05)


def test_energy_adjusted_intervals() -> None:
    ok, bad = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.5, 3.0])
    energy = np.array([1.0, 1.2, 1.4])
    point = energy_adjusted_auc(ok, energy, bad, energy)
    assert 0.0 < point < 1.0
    # identical cases: every resample repeats one case, and so its adjusted AUC
    scores = {"simulated": [ok] * 4, "bad": [bad] * 4}
    energies = {"simulated": [energy] * 4, "bad": [energy] * 4}
    interval = energy_adjusted_intervals(scores, energies, ["bad"])
    assert interval["bad"] == pytest.approx((point, point))
    # two cases, one at `point` and one separating perfectly: the interval spans both
    scores = {"simulated": [ok, ok], "bad": [bad, ok + 10]}
    energies = {"simulated": [energy, 10 * energy], "bad": [energy, 10 * energy]}
    low, high = energy_adjusted_intervals(scores, energies, ["bad"], seed=1)["bad"]
    assert low == pytest.approx(point) and high == 1.0
