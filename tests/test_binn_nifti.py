"""The NIfTI edge: (x, y, z[, t]) files become [z, y, x] arrays with (z, y, x) spacing."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from binn.errors import BinnInputError
from binn.nifti import load_label_map, load_volume, save_volume


def _write(path: Path, data: np.ndarray, zooms: tuple[float, ...]) -> Path:
    spatial = [*zooms[:3], *[1.0] * (3 - len(zooms[:3]))]
    img = nib.Nifti1Image(data, np.diag([*spatial, 1.0]))
    img.header.set_zooms(zooms)
    nib.save(img, str(path))
    return path


def test_axes_and_spacing_are_reordered(tmp_path: Path) -> None:
    xyz = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2)  # x=4, y=3, z=2
    vol = load_volume(_write(tmp_path / "a.nii.gz", xyz, (1.5, 1.25, 8.0)))
    assert vol.data.shape == (2, 3, 4)
    assert vol.data[1, 2, 3] == xyz[3, 2, 1]
    np.testing.assert_allclose(vol.spacing, [8.0, 1.25, 1.5])


def test_4d_cine_is_t_z_y_x(tmp_path: Path) -> None:
    xyzt = np.random.default_rng(0).normal(size=(5, 4, 3, 6)).astype(np.float32)
    vol = load_volume(_write(tmp_path / "c.nii.gz", xyzt, (1.0, 1.0, 10.0, 1.0)), dims=(4,))
    assert vol.data.shape == (6, 3, 4, 5)
    assert vol.data[5, 2, 3, 4] == xyzt[4, 3, 2, 5]


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    zyx = np.random.default_rng(1).integers(0, 4, size=(3, 7, 9)).astype(np.uint8)
    save_volume(tmp_path / "l.nii.gz", zyx, np.array([10.0, 1.8, 1.6]))
    vol = load_label_map(tmp_path / "l.nii.gz")
    np.testing.assert_array_equal(vol.data, zyx)
    np.testing.assert_allclose(vol.spacing, [10.0, 1.8, 1.6])


@pytest.mark.parametrize(
    ("data", "zooms", "loader", "message"),
    [
        (np.zeros((4, 4), np.uint8), (1.0, 1.0), load_label_map, "dimensions"),
        (np.zeros((4, 4, 2), np.uint8), (1.0, 1000.0, 1.0), load_label_map, "absurd voxel spacing"),
        (np.full((4, 4, 2), 0.5, np.float32), (1.0, 1.0, 1.0), load_label_map, "not a label map"),
        (np.zeros((4, 4, 2, 3), np.uint8), (1.0, 1.0, 1.0, 1.0), load_label_map, "dimensions"),
    ],
)
def test_bad_files_are_named(
    tmp_path: Path, data: np.ndarray, zooms: tuple, loader, message: str
) -> None:
    path = _write(tmp_path / "bad.nii.gz", data, zooms)
    with pytest.raises(BinnInputError, match=message) as err:
        loader(path)
    assert str(path) in str(err.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.nii.gz").write_bytes(b"garbage")
    with pytest.raises(BinnInputError, match="not a readable NIfTI"):
        load_volume(tmp_path / "x.nii.gz")


def test_frame_time_is_read_from_the_header_in_ms(tmp_path: Path) -> None:
    data = np.zeros((4, 3, 2, 5), np.float32)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_zooms((1.5, 1.5, 8.0, 0.035))
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(tmp_path / "s.nii.gz"))
    assert load_volume(tmp_path / "s.nii.gz", dims=(4,)).frame_time_ms == pytest.approx(35.0)
    img.header.set_zooms((1.5, 1.5, 8.0, 1.0))
    img.header.set_xyzt_units("mm", "unknown")  # 1 with no unit: not a frame interval
    nib.save(img, str(tmp_path / "u.nii.gz"))
    assert load_volume(tmp_path / "u.nii.gz", dims=(4,)).frame_time_ms is None
    assert (
        load_volume(_write(tmp_path / "3d.nii.gz", data[..., 0], (1.5, 1.5, 8.0))).frame_time_ms
        is None
    )


def test_save_displacement_writes_a_vector_nifti_in_place(tmp_path: Path) -> None:
    from binn.nifti import save_displacement

    affine = np.array([[0, -1.4, 0, 10], [1.4, 0, 0, -5], [0, 0, 9, 2], [0, 0, 0, 1.0]])
    disp = np.random.default_rng(0).standard_normal((5, 4, 3, 2, 3)).astype(np.float32)
    save_displacement(tmp_path / "d.nii.gz", disp, affine, 40.0, "u(ED->t)")
    img = nib.load(tmp_path / "d.nii.gz")
    np.testing.assert_array_equal(np.asarray(img.dataobj), disp)
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)
    assert int(img.header["intent_code"]) == 1006 and img.header.get_zooms()[3] == 40.0
    with pytest.raises(BinnInputError, match=r"\(X, Y, Z, T, 3\)"):
        save_displacement(tmp_path / "e.nii.gz", disp[..., :2], affine)
    with pytest.raises(BinnInputError, match="ends with"):
        save_displacement(tmp_path / "e.npz", disp, affine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.nii.gz"]
