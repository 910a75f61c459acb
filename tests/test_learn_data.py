"""learn: masks, crops, mechanics-preserving augmentation, records and the by-case split."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy import ndimage

from binn.cli import build_parser
from binn.errors import BinnInputError
from binn.io import save_npz
from binn.learn.augment import orientation_matrices, reorient
from binn.learn.bench import split_held_out
from binn.learn.dataset import (
    build_windows,
    read_record,
    read_records,
    records_spacing_mm,
    split_by_case,
)
from binn.learn.gradients import displacement_gradient
from binn.learn.masks import crop_window, dilate_mask, lv_centre
from tests.learn_fixtures import ring_case, write_failed_record, write_ring_records

REPO = Path(__file__).resolve().parents[1]


def _affine(a: np.ndarray, size: int) -> torch.Tensor:
    """u(x) = A (x - c) on a size x size window, c the window centre; (1, 2, S, S) float64."""
    c = (size - 1) / 2
    r, k = np.meshgrid(np.arange(size) - c, np.arange(size) - c, indexing="ij")
    return torch.tensor(np.einsum("ij,jhw->ihw", a, np.stack([r, k])))[None]


def test_dilation_matches_scipy_square_element() -> None:
    rng = np.random.default_rng(1)
    mask = rng.random((20, 24)) > 0.93
    for px in (0, 1, 3):
        ours = dilate_mask(torch.from_numpy(mask), px).numpy().astype(bool)
        ref = ndimage.binary_dilation(mask, np.ones((3, 3)), iterations=px) if px else mask
        np.testing.assert_array_equal(ours, ref)


def test_crop_is_centred_on_lv_and_pads() -> None:
    _, mask, cavity = ring_case(5, size=48)
    centre = lv_centre(mask, cavity)
    assert centre == pytest.approx(lv_centre(mask), abs=1e-9)  # holes == cavity for a ring
    win = crop_window(torch.from_numpy(mask).float(), centre, 64)  # larger: padded
    assert win.shape == (64, 64) and int(win.sum()) == int(mask.sum())
    rows, cols = np.nonzero(
        win.numpy() + crop_window(torch.from_numpy(cavity).float(), centre, 64).numpy()
    )
    assert abs(rows.mean() - 32) <= 0.5 and abs(cols.mean() - 32) <= 0.5
    x = torch.arange(36.0).reshape(6, 6)
    np.testing.assert_array_equal(crop_window(x, (4.0, 1.0), 4).numpy()[:, :1], 0.0)


@pytest.mark.parametrize("quarter", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_reorientation_of_affine_field_is_conjugation(quarter: int, flip: bool) -> None:
    rng = np.random.default_rng(quarter + 4 * flip)
    a = 0.1 * rng.normal(size=(2, 2))
    size = 17
    m = orientation_matrices(
        torch.tensor([quarter * math.pi / 2], dtype=torch.float64), torch.tensor([flip])
    )
    out, mask = reorient(_affine(a, size), torch.ones(1, size, size, dtype=torch.float64), m)
    mm = m[0].numpy()
    np.testing.assert_allclose(out.numpy(), _affine(mm @ a @ mm.T, size).numpy(), atol=1e-10)
    assert bool((mask == 1).all())


def test_flip_negates_the_flipped_channel() -> None:
    field = torch.randn(1, 2, 9, 9, dtype=torch.float64)
    m = orientation_matrices(
        torch.tensor([0.0], dtype=torch.float64), torch.tensor([True])
    )  # flip along axis 1
    out, _ = reorient(field, torch.ones(1, 9, 9, dtype=torch.float64), m)
    np.testing.assert_allclose(out[0, 0].numpy(), field[0, 0].flip(-1).numpy(), atol=1e-12)
    np.testing.assert_allclose(out[0, 1].numpy(), -field[0, 1].flip(-1).numpy(), atol=1e-12)


def test_any_rotation_keeps_jacobian_determinant() -> None:
    a = np.array([[0.2, -0.1], [0.05, -0.15]])
    m = orientation_matrices(torch.tensor([0.7], dtype=torch.float64), torch.tensor([True]))
    shifts = torch.tensor([[2.0, -1.0]])
    out, _ = reorient(_affine(a, 21), torch.ones(1, 21, 21, dtype=torch.float64), m, shifts)
    g = displacement_gradient(out)[0, :, 8:13, 8:13].numpy()
    det = (1 + g[0]) * (1 + g[3]) - g[1] * g[2]
    np.testing.assert_allclose(det, np.linalg.det(np.eye(2) + a), atol=1e-9)


def test_records_split_by_case_and_failed_skipped(tmp_path: Path) -> None:
    paths = write_ring_records(tmp_path, list(range(6)), size=32, frames=4)
    paths.append(write_failed_record(tmp_path, "synth_9999", "Newton did not converge"))
    usable, failed = read_records(paths)
    assert [r.name for r in usable] == [f"synth_{i:04d}" for i in range(6)]
    assert failed == [("synth_9999", "Newton did not converge")]
    train, val = split_by_case([r.name for r in usable], 0.34, seed=3)
    assert not set(train) & set(val) and len(val) == 2 and len(train) == 4
    assert split_by_case([r.name for r in usable], 0.34, seed=3) == (train, val)
    windows = build_windows([r for r in usable if r.name in val], 32, 3)
    assert windows.fields.shape == (8, 2, 32, 32) and windows.masks.shape == (2, 32, 32)
    assert windows.case_index.tolist() == [0] * 4 + [1] * 4


def test_records_share_one_spacing(tmp_path: Path) -> None:
    paths = write_ring_records(tmp_path, [0, 1], size=16, frames=3)
    records, _ = read_records(paths)
    assert records_spacing_mm(records) == pytest.approx(1.8)
    disp, mask, cavity = ring_case(5, size=16, frames=3)
    odd = _record(
        tmp_path / "synth_0005.npz",
        status="ok",
        case="synth_0005",
        disp=disp,
        mask=mask,
        cavity=cavity,
        spacing=np.array([1.4, 1.4]),
    )
    with pytest.raises(BinnInputError, match=r"synth_0005\.npz.*1\.4 mm differs from 1\.8"):
        read_records([*paths, odd])


def test_train_vae_cli_defaults_are_the_workflow_defaults() -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["vae"]
    args = build_parser().parse_args(["train-vae", "c.npz", "--out", "v.pt"])
    for key, value in config.items():  # config keys are the options' names
        assert getattr(args, key) == value, key


def test_bench_holds_out_cases_before_training(tmp_path: Path) -> None:
    paths = write_ring_records(tmp_path, list(range(8)), size=32, frames=4)
    failed = write_failed_record(tmp_path, "synth_9999", "mesh failed")
    train_paths, held_out, n_failed = split_held_out([*paths, failed], 0.25, seed=1)
    held_names = {r.name for r in held_out}
    assert len(held_out) == 2 and n_failed == 1
    assert failed in train_paths and len(train_paths) == 7
    assert not held_names & {p.stem for p in train_paths}
    assert split_held_out([*paths, failed], 0.25, seed=1)[0] == train_paths


def _record(path: Path, **arrays: np.ndarray | str) -> Path:
    save_npz(path, {}, **arrays)
    return path


def test_bad_records_raise(tmp_path: Path) -> None:
    disp, mask, cavity = ring_case(0, size=32, frames=3)
    nan = disp.copy()
    nan[1, 0, 5, 5] = np.nan
    sp = np.array([1.8, 1.8])
    bad = {
        "nan": ({"disp": nan, "mask": mask, "spacing": sp}, "NaN"),
        "shape": ({"disp": disp[:, :1], "mask": mask, "spacing": sp}, "do not match"),
        "mismatch": ({"disp": disp, "mask": mask[:-1], "spacing": sp}, "do not match"),
        "cavity": ({"disp": disp, "mask": mask, "cavity": cavity[:, :-2], "spacing": sp}, "cavity"),
        "empty": ({"disp": disp, "mask": np.zeros_like(mask), "spacing": sp}, "empty"),
        "nospacing": ({"disp": disp, "mask": mask}, "no pixel 'spacing'"),
        "aniso": ({"disp": disp, "mask": mask, "spacing": np.array([1.8, 1.2])}, "anisotropic"),
        "zero": ({"disp": disp, "mask": mask, "spacing": np.array([0.0, 0.0])}, "positive"),
    }
    for name, (arrays, reason) in bad.items():
        path = _record(tmp_path / f"{name}.npz", status="ok", case=name, **arrays)
        with pytest.raises(BinnInputError, match=f"{name}.npz.*{reason}"):
            read_record(path)
    with pytest.raises(BinnInputError, match="status"):
        read_record(_record(tmp_path / "odd.npz", status="maybe"))
    with pytest.raises(BinnInputError, match="at least 2"):
        split_by_case(["a"], 0.5, 0)
