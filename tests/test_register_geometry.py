"""Geometry that round-trips: a real-shaped cine in its original geometry (oblique affine,
1.37 mm pixels, stored apex first, a size that is no multiple of the grid) is loaded onto
the 2.0 mm, 64 px grid, tracked, and its displacement written back in mm on the original
image's voxels, in place; the slice order is decided from what the labels hold."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from binn.cli import main
from binn.register.data.crop import crop_subject
from binn.register.data.geometry import Geometry, displacement_in_original, subject_geometry
from binn.register.data.loaders import load_cine
from binn.register.data.orientation import UNDECIDABLE, slice_order

NX, NY, NZ = 120, 110, 5  # x (columns), y (rows), slices of the original file
SX, SY, SZ = 1.37, 1.37, 9.0
SHIFT_MM = np.array([2.1, -2.6])  # frame 2: the ED content moved (rows, cols) mm
ANGLE = np.radians(5.0)  # frame 3: the ED content rotated about the LV centre
CENTRE = np.array([NY * SY * 0.48, NX * SX * 0.53])  # LV centre, slice mm (row, col)
FRAME_MS = 35.0


def _oblique_affine(sx: float, sy: float, sz: float) -> np.ndarray:
    """A voxel -> world affine with an oblique rotation, an x flip and an offset."""
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(0.7) * k + (1 - np.cos(0.7)) * k @ k
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([-1.0, 1.0, 1.0]) @ np.diag([sx, sy, sz])
    affine[:3, 3] = [-80.5, 112.0, 40.25]
    return affine


AFFINE = _oblique_affine(SX, SY, SZ)


def _anatomy(ymm: np.ndarray, xmm: np.ndarray, k: int, tex: np.ndarray):
    """Image and labels of slice ``k`` (0 basal) at slice-frame positions (mm)."""
    r_in = 17.0 - 1.6 * k
    r_out = r_in + 9.0
    r = np.hypot(ymm - CENTRE[0], xmm - CENTRE[1])
    ang = np.arctan2(ymm - CENTRE[0], xmm - CENTRE[1])
    rv = (r >= r_out) & (r < r_out + 12) & (np.cos(ang - np.pi) > 0.3)
    img = np.where(r < r_in, 0.85, np.where(r < r_out, 0.35, np.where(rv, 0.8, 0.15)))
    texture = ndimage.map_coordinates(tex, [(ymm + 10) * 4, (xmm + 10) * 4], order=1)
    lab = np.where(r < r_in, 3, np.where(r < r_out, 2, np.where(rv, 1, 0)))
    return img + 0.08 * texture, lab.astype(np.uint8)


def _true_world(frame: int) -> np.ndarray:
    """The true displacement (X, Y, 3) world mm of frame 2 (translation) or 3 (rotation)."""
    yy, xx = np.meshgrid(np.arange(NY) * SY, np.arange(NX) * SX, indexing="ij")
    if frame == 1:
        u_row, u_col = np.full_like(yy, SHIFT_MM[0]), np.full_like(yy, SHIFT_MM[1])
    else:
        dy, dx = yy - CENTRE[0], xx - CENTRE[1]
        u_row = (np.cos(ANGLE) - 1) * dy - np.sin(ANGLE) * dx
        u_col = np.sin(ANGLE) * dy + (np.cos(ANGLE) - 1) * dx
    index = np.stack([u_col / SX, u_row / SY, np.zeros_like(u_col)])  # voxel steps (x, y, z)
    return np.einsum("ab,byx->xya", AFFINE[:3, :3], index)


@pytest.fixture(scope="module")
def cine_case(tmp_path_factory) -> Path:
    """cine.nii.gz (x, y, z, t = 3: ED, translated, rotated), stored apex first, with its ED
    labels ``ed_gt.nii.gz``, a myocardium-only map ``myo.nii.gz`` and one whose rings are
    open (``open.nii.gz``: no cavity to measure)."""
    folder = tmp_path_factory.mktemp("cine")
    rng = np.random.default_rng(0)
    tex = ndimage.gaussian_filter(rng.standard_normal((int((NY * SY + 20) * 4),
                                                       int((NX * SX + 20) * 4))), 6)  # fmt: skip
    tex /= tex.std()
    yy, xx = np.meshgrid(np.arange(NY) * SY, np.arange(NX) * SX, indexing="ij")
    cine = np.zeros((NX, NY, NZ, 3), np.float32)
    labels = np.zeros((NX, NY, NZ), np.uint8)
    for t in range(3):
        if t == 0:
            py, px = yy, xx
        elif t == 1:  # I_t(x) = I_ED(x - d): u = d
            py, px = yy - SHIFT_MM[0], xx - SHIFT_MM[1]
        else:  # I_t(x) = I_ED(R^-1 (x - c) + c): u = (R - 1)(x - c)
            dy, dx = yy - CENTRE[0], xx - CENTRE[1]
            py = CENTRE[0] + np.cos(ANGLE) * dy + np.sin(ANGLE) * dx
            px = CENTRE[1] - np.sin(ANGLE) * dy + np.cos(ANGLE) * dx
        for k in range(NZ):
            img, lab = _anatomy(py, px, k, tex)
            cine[:, :, NZ - 1 - k, t] = 300.0 * img.T  # stored apex first
            if t == 0:
                labels[:, :, NZ - 1 - k] = lab.T
    image = nib.Nifti1Image(cine, AFFINE)
    image.header.set_xyzt_units("mm", "msec")
    image.header.set_zooms((SX, SY, SZ, FRAME_MS))
    nib.save(image, folder / "cine.nii.gz")
    nib.save(nib.Nifti1Image(labels, AFFINE), folder / "ed_gt.nii.gz")
    myo = np.where(labels == 2, 2, 0).astype(np.uint8)
    nib.save(nib.Nifti1Image(myo, AFFINE), folder / "myo.nii.gz")
    opened = myo.copy()
    opened[:, : int(CENTRE[0] / SY)] = 0  # half rings: nothing enclosed
    nib.save(nib.Nifti1Image(opened, AFFINE), folder / "open.nii.gz")
    return folder


def test_loading_records_the_geometry_and_flips_an_apex_first_stack(cine_case):
    s = load_cine(cine_case / "cine.nii.gz", cine_case / "ed_gt.nii.gz", 0, 1, spacing_mm=2.0)
    assert s.meta["slice_order"] == "apex_first_flipped"
    assert s.meta["slice_order_evidence"]["cue"] == "lv_cavity_label"
    assert np.allclose(s.spacing, [SZ, 2.0, 2.0]) and s.meta["frame_time_ms"] == FRAME_MS
    cropped, origin = crop_subject(s, 64)
    geo = subject_geometry(cropped)
    assert geo.original_shape == (NZ, NY, NX) and geo.flipped and geo.shape == (NZ, 64, 64)
    np.testing.assert_allclose(geo.original_affine, AFFINE)
    assert cropped.meta["source_shape"] == [NY, NX]  # the file's, not the resampled size
    assert cropped.meta["grid_shape"] == list(s.shape) and cropped.meta["crop_origin"] == list(
        origin
    )
    record = json.loads(json.dumps(geo.record()))  # as the subject file stores it
    assert Geometry.from_record(record).record() == geo.record()
    # grid voxel (col, row, slice) and original voxel meet at the same world point
    grid_index = np.array([10.0, 20.0, 1.0, 1.0])
    orig = np.linalg.solve(AFFINE, geo.affine @ grid_index)
    assert orig[2] == pytest.approx(NZ - 1 - 1)  # slice 1 of the grid is the file's slice 3
    centre_mm = np.array([orig[1] * SY, orig[0] * SX])
    expected = (origin + np.array([20, 10])) * 2.0 + np.asarray(geo.resample_origin_mm)
    np.testing.assert_allclose(centre_mm, expected, atol=1e-9)


def test_a_known_field_comes_back_exactly_in_world_mm(cine_case):
    """The export's geometry alone: an affine field on the grid (the true motion, sampled at
    the grid's pixel centres) comes back at the original voxels as the true world vectors."""
    s = load_cine(cine_case / "cine.nii.gz", cine_case / "ed_gt.nii.gz", 0, 1, spacing_mm=2.0)
    cropped, _ = crop_subject(s, 64)
    geo = subject_geometry(cropped)
    fields = np.zeros((3, NZ, 2, 64, 64), np.float32)
    cols, rows = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="xy")
    for k in range(NZ):
        pts = np.linalg.solve(AFFINE, geo.affine @ np.stack([cols.ravel(), rows.ravel(),
                                                             np.full(cols.size, k),
                                                             np.ones(cols.size)]))  # fmt: skip
        yy, xx = pts[1].reshape(64, 64) * SY, pts[0].reshape(64, 64) * SX
        for t in (1, 2):
            if t == 1:
                u_row, u_col = np.full_like(yy, SHIFT_MM[0]), np.full_like(yy, SHIFT_MM[1])
            else:
                dy, dx = yy - CENTRE[0], xx - CENTRE[1]
                u_row = (np.cos(ANGLE) - 1) * dy - np.sin(ANGLE) * dx
                u_col = np.sin(ANGLE) * dy + (np.cos(ANGLE) - 1) * dx
            fields[t, k] = np.stack([u_row, u_col]) / 2.0  # mm -> grid px
    disp, inside = displacement_in_original(fields, geo)
    assert disp.shape == (NX, NY, NZ, 3, 3) and inside.any() and not inside.all()
    for t in (1, 2):
        truth = np.broadcast_to(_true_world(t)[:, :, None], disp[:, :, :, t].shape)
        np.testing.assert_allclose(disp[:, :, :, t][inside], truth[inside], atol=1e-4)
    assert not disp[~inside].any()  # zero outside the tracked window


def test_tracked_motion_comes_back_in_place_within_0_3_mm(cine_case, tmp_path):
    """import-cine (1.37 mm oblique file, apex first) -> track --nifti with demons at its
    validated setting: the NIfTI has the original's grid and affine, and the translation
    (3.3 mm) and rotation (5 deg) of the myocardium come back within 0.3 mm."""
    import SimpleITK as sitk

    subject, disp_path = tmp_path / "s.npz", tmp_path / "disp.nii.gz"
    assert main(["import-cine", "--cine", str(cine_case / "cine.nii.gz"), "--ed-labels",
                 str(cine_case / "ed_gt.nii.gz"), "--ed-frame", "1", "--es-frame", "2",
                 "--out", str(subject)]) == 0  # fmt: skip
    assert main(["track", "--data", str(subject), "--method", "demons", "--out",
                 str(tmp_path / "f.npz"), "--nifti", str(disp_path)]) == 0  # fmt: skip
    img = nib.load(disp_path)
    assert img.shape == (NX, NY, NZ, 3, 3) and int(img.header["intent_code"]) == 1006
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-4)
    assert img.header.get_xyzt_units() == ("mm", "msec")
    assert img.header.get_zooms()[3] == pytest.approx(FRAME_MS)
    disp = np.asarray(img.dataobj)
    myo = np.asarray(nib.load(cine_case / "ed_gt.nii.gz").dataobj) == 2
    for t in (1, 2):
        truth = np.broadcast_to(_true_world(t)[:, :, None], disp[:, :, :, t].shape)
        error = np.linalg.norm(disp[:, :, :, t] - truth, axis=-1)[myo]
        assert error.mean() < 0.3, (t, error.mean())
    assert np.linalg.norm(_true_world(1), axis=-1).mean() > 3.0  # 10x the tolerance
    # ITK (ITK-SNAP, 3D Slicer) puts it where it puts the original image, vectors in LPS
    itk_disp, itk_cine = (
        sitk.ReadImage(str(disp_path)),
        sitk.ReadImage(str(cine_case / "ed_gt.nii.gz")),
    )
    assert itk_disp.GetNumberOfComponentsPerPixel() == 3
    np.testing.assert_allclose(itk_disp.GetOrigin()[:3], itk_cine.GetOrigin(), atol=1e-3)
    lps = sitk.GetArrayFromImage(itk_disp)[1, 2, 40, 50]  # (t, z, y, x) -> (3,)
    np.testing.assert_allclose(lps, disp[50, 40, 2, 1] * [-1, -1, 1], atol=1e-5)
    # the fields file carries the geometry: export-displacement writes the same file
    again = tmp_path / "again.nii.gz"
    assert main(["export-displacement", str(tmp_path / "f.npz"), "--out", str(again)]) == 0
    np.testing.assert_array_equal(np.asarray(nib.load(again).dataobj), disp)
    assert main(["export-displacement", str(tmp_path / "f.npz"), "--out", str(again)]) == 2


def test_slice_order_from_what_the_labels_hold(cine_case):
    """A myocardium-only map decides by the region the rings enclose; open rings give no
    cavity: "undecidable", recorded, and the stack is kept as stored."""
    myo = load_cine(cine_case / "cine.nii.gz", cine_case / "myo.nii.gz", 0, 1,
                    label_convention="acdc")  # fmt: skip
    assert myo.meta["slice_order"] == "apex_first_flipped"
    assert myo.meta["slice_order_evidence"]["cue"] == "enclosed_by_myocardium"
    opened = load_cine(cine_case / "cine.nii.gz", cine_case / "open.nii.gz", 0, 1)
    assert opened.meta["slice_order"] == UNDECIDABLE
    assert "no closed myocardial ring" in opened.meta["slice_order_evidence"]["reason"]
    assert not subject_geometry(opened).flipped
    stored = np.transpose(np.asarray(nib.load(cine_case / "open.nii.gz").dataobj), (2, 1, 0))
    np.testing.assert_array_equal(opened.labels_ed, stored)  # not flipped
    # identical slices: no trend, also undecidable (not "apex first" from 0 < 0)
    flat = np.stack([myo.labels_ed[2]] * 4)
    assert slice_order(flat).base_first is None
    assert slice_order(np.where(flat == 3, 0, flat)).base_first is None


def test_strain_on_a_real_shaped_cine_runs_on_the_grid(cine_case, tmp_path):
    """strain --cine resamples the 1.37 mm file to the 2.0 mm, 64 px grid (not a 96 px crop
    at native spacing), records the grid, the setting and the geometry; a myocardium-only
    map with open rings is tracked and its undecidable slice order said."""
    out = tmp_path / "s"
    assert main(["strain", "--cine", str(cine_case / "cine.nii.gz"), "--ed-labels",
                 str(cine_case / "open.nii.gz"), "--method", "demons", "--param",
                 "iterations=5", "--anterior-angle", "100", "--out", str(out)]) == 0  # fmt: skip
    obj = json.loads((out / "strain.json").read_text())
    inputs = obj["inputs"]
    assert inputs["grid"] == {"spacing_mm": 2.0, "size_px": 64} and inputs["crop_px"] == 64
    assert inputs["source_spacing_mm"] == pytest.approx([SY, SX])
    assert inputs["setting"] == "iterations=5,sigma=2" and inputs["frame_time_ms"] == FRAME_MS
    assert inputs["slice_order"] == UNDECIDABLE
    assert inputs["geometry"]["original_shape_zyx"] == [NZ, NY, NX]
    assert any("undecidable" in n for n in obj["notes"])
