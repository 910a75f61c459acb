"""The physical grid: in-plane resampling (binn.resample, register.data.resample), the loaders'
``spacing_mm``, and the slice order (z = 0 basal) decided from the ED cavity-area trend."""

from __future__ import annotations

import argparse

import nibabel as nib
import numpy as np
import pytest

from binn.errors import BinnInputError
from binn.nifti import save_volume
from binn.register.data.cli import add_data_commands
from binn.register.data.loaders import load_acdc, load_pair
from binn.register.data.orientation import base_first, cavity_area_slope
from binn.register.data.phantom import make_phantom
from binn.register.data.resample import resample_subject
from binn.resample import resample_inplane, resampled_affine, target_grid

SPACING = np.array([8.0, 1.5, 1.5])  # z, y, x mm


@pytest.fixture(scope="module")
def stack():
    """A 4-slice phantom (base first) stored as an ACDC patient by the tests."""
    return make_phantom(5, family="A", frames=5, slices=4, size=40, spacing_mm=1.5)


def raw(images: np.ndarray) -> np.ndarray:
    return np.round(images * 900 + 30).astype(np.int16)


def write_acdc(folder, s, spacing=SPACING, flip=False, es_spacing=None):
    """ED frame 1 / ES frame 1 + es_index in ACDC layout; ``flip`` stores the stack apex first."""
    folder.mkdir(parents=True)
    images, ed_lab, es_lab = raw(s.images), s.labels_ed, s.labels_es
    if flip:
        images, ed_lab, es_lab = images[:, ::-1], ed_lab[::-1], es_lab[::-1]
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    img = nib.Nifti1Image(np.transpose(images, (3, 2, 1, 0)), affine)
    img.header.set_zooms((*spacing[::-1], 1.0))
    nib.save(img, str(folder / f"{folder.name}_4d.nii.gz"))
    es = 1 + s.es_index
    for frame, labels in ((1, ed_lab), (es, es_lab)):
        sp = es_spacing if (frame == es and es_spacing is not None) else spacing
        save_volume(folder / f"{folder.name}_frame{frame:02d}.nii.gz", images[frame - 1], spacing)
        save_volume(folder / f"{folder.name}_frame{frame:02d}_gt.nii.gz", labels, sp)
    (folder / "Info.cfg").write_text(f"ED: 1\nES: {es}\n")
    return folder


def test_grid_keeps_field_of_view_and_centre():
    g = target_grid((95, 100), np.array([1.5625, 1.5625]), 2.0)
    assert g.shape == (74, 78)
    centre_in = (np.array([95, 100]) - 1) / 2 * 1.5625
    centre_out = g.origin_mm + (np.array(g.shape) - 1) / 2 * 2.0
    assert np.allclose(centre_in, centre_out)
    assert target_grid((10, 10), np.array([2.0, 2.0]), 2.0).identity
    with pytest.raises(BinnInputError, match="not positive"):
        target_grid((10, 10), np.array([1.0, 1.0]), 0.0)


def test_linear_image_resampled_exactly_inside_and_constant_kept():
    y, x = np.mgrid[0:30, 0:40] * 1.25
    ramp = np.stack([0.3 * y + 0.1 * x, np.full_like(y, 0.7)])
    out, g = resample_inplane(ramp, np.array([1.25, 1.25]), 2.0)
    assert out.shape == (2, *g.shape) == (2, 19, 25)
    yy, xx = np.mgrid[0 : g.shape[0], 0 : g.shape[1]] * 2.0
    expected = 0.3 * (yy + g.origin_mm[0]) + 0.1 * (xx + g.origin_mm[1])
    inner = (slice(1, -1), slice(1, -1))
    assert np.allclose(out[0][inner], expected[inner], atol=1e-9)
    assert np.allclose(out[1], 0.7)


def test_labels_get_no_new_values_and_keep_their_area():
    s = make_phantom(1, family="A", frames=4, slices=2, size=64, spacing_mm=1.0)
    out, _ = resample_inplane(s.labels_ed, np.array([1.0, 1.0]), 1.6, labels=True)
    assert out.dtype == np.uint8
    assert set(np.unique(out)) <= set(np.unique(s.labels_ed))
    for value in (2, 3):
        area_in = (s.labels_ed == value).sum() * 1.0
        area_out = (out == value).sum() * 1.6**2
        assert area_out == pytest.approx(area_in, rel=0.06)
    with pytest.raises(BinnInputError, match="non-integer"):
        resample_inplane(s.labels_ed.astype(float), np.array([1.0, 1.0]), 2.0, labels=True)


def test_affine_of_resampled_grid_maps_to_the_same_world_points():
    affine = np.array([[-1.5, 0, 0, 30.0], [0, -1.4, 0, 10.0], [0, 0, 8.0, -5.0], [0, 0, 0, 1]])
    g = target_grid((20, 30), np.array([1.4, 1.5]), 2.0)
    new = resampled_affine(affine, g)
    j = np.array([3.0, 5.0, 2.0, 1.0])  # output (x = col, y = row, z)
    src = np.array([(g.origin_mm[1] + 3 * 2.0) / 1.5, (g.origin_mm[0] + 5 * 2.0) / 1.4, 2, 1])
    assert np.allclose(new @ j, affine @ src)


def test_loader_resamples_to_the_grid(tmp_path, stack):
    folder = write_acdc(tmp_path / "patient001", stack)
    native = load_acdc(folder)
    s = load_acdc(folder, spacing_mm=2.0)
    assert np.allclose(s.spacing, [8.0, 2.0, 2.0])
    assert s.shape == (30, 30) and s.images.shape[:2] == native.images.shape[:2]
    assert s.meta["source_spacing_mm"] == [1.5, 1.5]
    assert set(np.unique(s.labels_ed)) <= set(np.unique(native.labels_ed))
    myo_mm2 = [(x.labels_ed == 2).sum() * x.spacing[1] * x.spacing[2] for x in (native, s)]
    assert myo_mm2[1] == pytest.approx(myo_mm2[0], rel=0.08)
    # The ED image resampled alone equals the cine's frame 0 resampled (one grid for all).
    pair = load_pair(
        folder / "patient001_frame01.nii.gz",
        folder / "patient001_frame01_gt.nii.gz",
        folder / f"patient001_frame{1 + stack.es_index:02d}.nii.gz",
        folder / f"patient001_frame{1 + stack.es_index:02d}_gt.nii.gz",
        spacing_mm=2.0,
    )
    assert np.array_equal(pair.labels_ed, s.labels_ed)
    assert np.corrcoef(pair.images[0].ravel(), s.images[0].ravel())[0, 1] > 0.999
    assert resample_subject(s, 2.0) is s
    with pytest.raises(BinnInputError, match="ground-truth motion"):
        resample_subject(stack, 2.0)


def test_mixed_inplane_spacings_are_an_error_naming_the_file_and_nothing_is_written(
    tmp_path, stack
):
    folder = write_acdc(tmp_path / "patient002", stack, es_spacing=np.array([8.0, 1.2, 1.2]))
    es_gt = f"patient002_frame{1 + stack.es_index:02d}_gt.nii.gz"
    with pytest.raises(BinnInputError, match=rf"{es_gt}.*spacing"):
        load_acdc(folder, spacing_mm=2.0)
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers())
    out = tmp_path / "p2.npz"
    args = parser.parse_args(
        ["import-cine", "--dir", str(folder), "--layout", "acdc", "--out", str(out)]
    )
    with pytest.raises(BinnInputError):
        args.func(args)
    assert not out.exists() and not list(tmp_path.glob("*.npz*"))


def test_stack_stored_apex_first_is_flipped_to_base_first(tmp_path, stack):
    assert base_first(stack.labels_ed) is True
    assert base_first(stack.labels_ed[::-1]) is False
    assert base_first(stack.labels_ed[:2]) is None  # too few slices for a trend
    assert cavity_area_slope(stack.labels_ed)[0] < 0
    as_stored = load_acdc(write_acdc(tmp_path / "patient003", stack))
    flipped = load_acdc(write_acdc(tmp_path / "patient004", stack, flip=True))
    assert as_stored.meta["slice_order"] == "base_first"
    assert flipped.meta["slice_order"] == "apex_first_flipped"
    assert np.array_equal(flipped.labels_ed, as_stored.labels_ed)
    assert np.array_equal(flipped.labels_es, as_stored.labels_es)
    assert np.array_equal(flipped.images, as_stored.images)
    # The affine follows the flip: voxel z = 0 of the flipped stack is the stored last slice.
    affine = np.asarray(flipped.meta["affine"])
    assert np.allclose(affine @ [0, 0, 0, 1], np.diag([1.5, 1.5, 8.0, 1.0]) @ [0, 0, 3, 1])


def test_resample_displacement_keeps_the_motion_in_mm() -> None:
    """A uniform 3 mm shift and a linear field stay 3 mm / the same mm field on a grid of
    half the pixel count: the values are re-expressed in the new pixels."""
    from binn.resample import resample_displacement

    rows, cols = np.meshgrid(np.arange(40.0), np.arange(36.0), indexing="ij")
    disp = np.stack([np.full_like(rows, 3.0 / 1.0), 0.01 * cols])[None]  # px of 1.0 mm
    out, grid = resample_displacement(disp, np.array([1.0, 1.0]), 2.0)
    assert out.shape == (1, 2, 20, 18)
    np.testing.assert_allclose(out[0, 0], 1.5)  # 3 mm = 1.5 px of 2 mm
    col_mm = grid.origin_mm[1] + 2.0 * np.arange(18)
    np.testing.assert_allclose(out[0, 1, 5], 0.01 * col_mm / 2.0, atol=1e-9)
    with pytest.raises(BinnInputError, match=r"\(\.\.\., 2, H, W\)"):
        resample_displacement(np.zeros((3, 4, 4)), np.array([1.0, 1.0]), 2.0)


def test_crop_records_the_stored_shape_not_the_resampled_one(tmp_path, stack) -> None:
    from binn.register.data.crop import crop_subject

    s = load_acdc(write_acdc(tmp_path / "patient009", stack), spacing_mm=2.0)
    cropped, origin = crop_subject(s, 24)
    assert cropped.meta["source_shape"] == [40, 40] and cropped.meta["grid_shape"] == [30, 30]
    geometry = cropped.meta["geometry"]
    assert geometry["original_shape_zyx"] == [4, 40, 40] and geometry["shape_zyx"] == [4, 24, 24]
    # the stored affine moved with the crop: grid pixel (0, 0) is the window's first pixel
    np.testing.assert_allclose(
        np.asarray(cropped.meta["affine"]) @ [0, 0, 0, 1],
        np.asarray(s.meta["affine"]) @ [origin[1], origin[0], 0, 1],
    )
