"""learn.reference: an outside field on the prior's grid keeps its motion in mm, and is placed
among held-out cases by their R_VAE."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.learn.dataset import CaseRecord
from binn.learn.reference import load_reference, place_reference
from tests.learn_fixtures import ring_case
from tests.test_learn_score import _null_vae


def _save(folder: Path, disp: np.ndarray, mask: np.ndarray) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "disp.npy", disp)
    np.save(folder / "mask.npy", mask)
    return folder / "disp.npy", folder / "mask.npy"


def test_resampled_reference_keeps_its_strain_and_its_motion_in_mm(tmp_path: Path) -> None:
    """A uniform strain u = G (x - c) on a 1 mm grid keeps G (px/px is mm/mm) on the 2 mm
    grid, its displacements halve in px (the same mm) and the wall keeps its area in mm^2."""
    size, grad = 96, np.array([[0.08, -0.03], [0.05, -0.06]])
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    x = np.stack([rows - 47.5, cols - 47.5])
    disp = np.stack([np.zeros_like(x), np.einsum("ij,jhw->ihw", grad, x)])  # (2 frames, 2, H, W)
    r = np.hypot(*x)
    mask = ((r >= 15) & (r <= 25)).astype(np.uint8)
    rec = load_reference(*_save(tmp_path, disp, mask), spacing_mm=1.0, grid_mm=2.0)
    assert rec.disp.shape == (2, 2, 48, 48) and rec.mask.shape == (48, 48)
    assert rec.spacing_mm == 2.0
    inner = rec.disp[1][:, 2:-2, 2:-2]
    d_rows = np.gradient(rec.disp[1], axis=1)[:, 2:-2, 2:-2]
    d_cols = np.gradient(rec.disp[1], axis=2)[:, 2:-2, 2:-2]
    np.testing.assert_allclose(d_rows, grad[:, :1, None] * np.ones_like(inner), atol=1e-5)
    np.testing.assert_allclose(d_cols, grad[:, 1:, None] * np.ones_like(inner), atol=1e-5)
    assert np.abs(rec.disp[1]).max() * 2.0 == pytest.approx(np.abs(disp[1]).max() * 1.0, rel=0.05)
    assert rec.mask.sum() * 4.0 == pytest.approx(mask.sum() * 1.0, rel=0.1)


def test_bad_reference_files_are_named(tmp_path: Path) -> None:
    disp, mask, _ = ring_case(1, size=32, frames=4)
    d, m = _save(tmp_path / "a", disp, mask[:-1])
    with pytest.raises(BinnInputError, match=r"disp\.npy"):
        load_reference(d, m, 1.0, 2.0)
    d, m = _save(tmp_path / "b", disp, np.zeros_like(mask))
    with pytest.raises(BinnInputError, match="mask is empty"):
        load_reference(d, m, 1.0, 2.0)
    (tmp_path / "c.npy").write_text("not an array")
    with pytest.raises(BinnInputError, match=r"c\.npy"):
        load_reference(tmp_path / "c.npy", m, 1.0, 2.0)


def _record(seed: int, scale: float = 1.0) -> CaseRecord:
    disp, mask, cavity = ring_case(seed, size=32, frames=6)
    return CaseRecord(f"r{seed}", disp * scale, mask.astype(bool), cavity, Path("x"), 2.0)


def test_place_reference_against_the_held_out_scores() -> None:
    """With R_VAE = masked gradient energy (a VAE that reconstructs 0), a case moving 4x as far
    scores ~16x and falls outside the held-out 95th percentile; a held-out case itself lands
    at its own rank."""
    torch.manual_seed(0)
    vae = _null_vae(32)
    held_out = [_record(seed) for seed in range(6)]
    same = place_reference(vae, held_out[2], held_out)
    scores = np.array(
        [s for rec in held_out for s in place_reference(vae, rec, held_out[:1]).reference_scores]
    )
    assert same.n_held_out_frames == scores.size
    expected = [100.0 * np.mean(scores < s) for s in same.reference_scores]
    np.testing.assert_allclose(same.percentiles, expected)
    assert same.held_out_p95 == pytest.approx(np.percentile(scores, 95))
    big = place_reference(vae, _record(2, scale=4.0), held_out)
    np.testing.assert_allclose(
        big.reference_scores, 16.0 * np.array(same.reference_scores), rtol=1e-4
    )
    assert not big.inside_95th and big.reference_median > big.held_out_p95
    assert big.gradient_energy_ratio == pytest.approx(16.0 * same.gradient_energy_ratio, rel=1e-4)
    with pytest.raises(BinnInputError, match="held-out"):
        place_reference(vae, held_out[0], [])


def test_bench_vae_places_a_reference_on_the_records_grid(tmp_path: Path) -> None:
    """``binn bench vae --reference-*``: the reference goes to the training records' grid
    (1.8 mm here); no motion scores 0 under the bias-free prior, below every held-out frame."""
    from binn.learn.bench import Reference, bench_vae
    from binn.learn.config import VAE_BENCH_TRAINING, VaeBench
    from tests.learn_fixtures import write_ring_records

    write_ring_records(tmp_path / "cases", list(range(8)), size=32, frames=6)
    disp, mask, _ = ring_case(20, size=32, frames=6)
    ref = Reference(*_save(tmp_path / "ref", np.zeros_like(disp), mask), spacing_mm=0.9)
    training = replace(VAE_BENCH_TRAINING, image_size=32, epochs=1)
    out = bench_vae(training, VaeBench(frames=6), cases_dir=tmp_path / "cases", reference=ref)
    placed = out["reference"]
    assert placed["grid_mm"] == pytest.approx(1.8) and placed["source_spacing_mm"] == 0.9
    assert placed["reference_scores"] == [0.0] * len(placed["reference_scores"])
    assert placed["percentiles"] == [0.0] * len(placed["reference_scores"])
    assert placed["inside_95th"] and placed["held_out_p50"] > 0
    assert len(out["mask_swaps"]) == out["n_held_out_cases"]  # one swap per held-out case
    hard = {"compressible", "strain_reversed", "mask_swapped"}
    for key in ("", "control_"):
        assert set(out[f"{key}energy_adjusted_auc_per_corruption"]) == hard
    assert set(out["energy_adjusted_auc_95ci_per_corruption"]) == hard
    json.dumps(out)  # --json prints it whole
