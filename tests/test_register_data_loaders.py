"""Tests of the real-data path on synthetic NIfTI files in ACDC and UK Biobank layouts."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from binn.errors import BinnInputError
from binn.nifti import save_volume
from binn.register.data.cli import add_data_commands
from binn.register.data.crop import crop_subject, lv_centre
from binn.register.data.loaders import (
    detect_convention,
    load_acdc,
    load_pair,
    load_subject_folder,
    load_ukbb,
    to_acdc_labels,
)
from binn.register.data.phantom import make_phantom
from binn.register.data.subject import load_subject

SPACING = np.array([8.0, 1.5, 1.5])  # z, y, x mm
ACDC_TO_UKBB = np.array([0, 3, 2, 1], dtype=np.uint8)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(2, family="A", frames=6, slices=2, size=40)


def raw(images: np.ndarray) -> np.ndarray:
    """Scanner-like int16 intensities (the loaders must normalise them back)."""
    return np.round(images * 900 + 30).astype(np.int16)


def save_4d(path: Path, data: np.ndarray, spacing: np.ndarray = SPACING) -> None:
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    img = nib.Nifti1Image(np.transpose(data, (3, 2, 1, 0)), affine)
    img.header.set_zooms((*spacing[::-1], 1.0))
    nib.save(img, str(path))


def write_acdc(folder: Path, s, ed: int, with_cine: bool = True) -> Path:
    """ACDC layout whose cine starts ``ed - 1`` frames before ED (1-based ED = ``ed``)."""
    folder.mkdir(parents=True)
    cine = np.roll(raw(s.images), ed - 1, axis=0)
    es = (ed - 1 + s.es_index) % s.frames + 1
    name = folder.name
    if with_cine:
        save_4d(folder / f"{name}_4d.nii.gz", cine)
    for frame, labels in ((ed, s.labels_ed), (es, s.labels_es)):
        save_volume(folder / f"{name}_frame{frame:02d}.nii.gz", cine[frame - 1], SPACING)
        save_volume(folder / f"{name}_frame{frame:02d}_gt.nii.gz", labels, SPACING)
    (folder / "Info.cfg").write_text(f"ED: {ed}\nES: {es}\nGroup: NOR\nNbFrame: {s.frames}\n")
    return folder


def write_ukbb(folder: Path, s, ed: int = 0) -> Path:
    folder.mkdir(parents=True)
    cine = np.roll(raw(s.images), ed, axis=0)
    save_4d(folder / "sa.nii.gz", cine)
    save_volume(folder / "sa_ED.nii.gz", cine[ed], SPACING)
    save_volume(folder / "sa_ES.nii.gz", cine[(ed + s.es_index) % s.frames], SPACING)
    save_volume(folder / "label_sa_ED.nii.gz", ACDC_TO_UKBB[s.labels_ed], SPACING)
    save_volume(folder / "label_sa_ES.nii.gz", ACDC_TO_UKBB[s.labels_es], SPACING)
    return folder


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("ed", [1, 3])
def test_acdc_rolls_ed_first_and_keeps_labels(tmp_path, phantom, ed):
    s = load_acdc(write_acdc(tmp_path / "patient001", phantom, ed))
    assert s.name == "patient001" and s.images.shape == phantom.images.shape
    assert s.es_index == phantom.es_index
    assert np.allclose(s.spacing, SPACING)
    assert np.array_equal(s.labels_ed, phantom.labels_ed)
    assert np.array_equal(s.labels_es, phantom.labels_es)
    assert s.images.dtype == np.float32 and s.images.min() == 0.0 and s.images.max() == 1.0
    assert correlation(s.images, phantom.images) > 0.99
    assert correlation(s.images[1:], phantom.images[:-1]) < 0.95  # a wrong roll is detectable


def test_acdc_with_only_ed_and_es_frames_is_a_two_frame_sequence(tmp_path, phantom):
    s = load_acdc(write_acdc(tmp_path / "patient002", phantom, 2, with_cine=False))
    assert s.frames == 2 and s.es_index == 1
    assert correlation(s.images[0], phantom.images[0]) > 0.99
    assert correlation(s.images[1], phantom.images[phantom.es_index]) > 0.99


@pytest.mark.parametrize("ed", [0, 2])
def test_ukbb_labels_mapped_to_acdc_and_frames_matched(tmp_path, phantom, ed):
    s = load_ukbb(write_ukbb(tmp_path / "1234567", phantom, ed))
    assert s.es_index == phantom.es_index
    assert np.array_equal(s.labels_ed, phantom.labels_ed)
    assert np.array_equal(s.labels_es, phantom.labels_es)
    assert correlation(s.images, phantom.images) > 0.99
    assert s.meta["label_convention"] == "ukbb"


def test_subject_folder_loads_by_layout_and_reads_labels_by_convention(tmp_path, phantom):
    """The folder layout says where the files are, the label convention what their values
    mean (the layout's own unless given); a wrong convention swaps the cavities."""
    folder = write_ukbb(tmp_path / "7654321", phantom)
    own = load_subject_folder(folder, "ukbb")
    assert own.meta["label_convention"] == "ukbb"
    assert np.array_equal(own.labels_ed, load_ukbb(folder).labels_ed)
    assert np.array_equal(own.labels_ed, phantom.labels_ed)
    detected = load_subject_folder(folder, "ukbb", "auto")
    assert detected.meta["label_convention"] == "ukbb"
    assert np.array_equal(detected.labels_ed, phantom.labels_ed)
    wrong = load_subject_folder(folder, "ukbb", "acdc")
    assert np.array_equal(wrong.labels_ed == 1, phantom.labels_ed == 3)  # LV read as RV
    acdc = load_subject_folder(write_acdc(tmp_path / "patient005", phantom, 1), "acdc")
    assert np.array_equal(acdc.labels_ed, phantom.labels_ed)
    with pytest.raises(BinnInputError, match="unknown layout"):
        load_subject_folder(folder, "nifti")


def test_label_conventions_map_to_the_stored_values(phantom):
    ukbb = ACDC_TO_UKBB[phantom.labels_ed]
    assert np.array_equal(to_acdc_labels(ukbb, "ukbb", "x"), phantom.labels_ed)
    assert np.array_equal(to_acdc_labels(phantom.labels_ed, "acdc", "x"), phantom.labels_ed)
    assert to_acdc_labels(ukbb, "ukbb", "x").dtype == np.uint8
    assert detect_convention(ukbb) == "ukbb" and detect_convention(phantom.labels_ed) == "acdc"
    with pytest.raises(BinnInputError, match=r"label values \[5\]"):
        to_acdc_labels(np.full((1, 2, 2), 5, np.uint8), "acdc", "x")


def test_pair_detects_label_convention(tmp_path, phantom):
    folder = write_ukbb(tmp_path / "u", phantom)
    s = load_pair(
        folder / "sa_ED.nii.gz",
        folder / "label_sa_ED.nii.gz",
        folder / "sa_ES.nii.gz",
        folder / "label_sa_ES.nii.gz",
    )
    assert s.meta["label_convention"] == "ukbb" and s.frames == 2
    assert np.array_equal(s.labels_ed, phantom.labels_ed)
    cropped = load_pair(
        folder / "sa_ED.nii.gz",
        folder / "label_sa_ED.nii.gz",
        folder / "sa_ES.nii.gz",
        folder / "label_sa_ES.nii.gz",
        size=48,
    )
    assert cropped.images.shape == (2, 2, 48, 48) and cropped.meta["crop_size"] == 48
    assert detect_convention(phantom.labels_ed) == "acdc"
    with pytest.raises(BinnInputError, match="label convention"):
        detect_convention(np.zeros((1, 5, 5), np.uint8), "x.nii.gz")


def test_slices_without_myocardium_are_kept(tmp_path, phantom):
    labels = phantom.labels_ed.copy()
    labels[1] = 0
    s_in = dataclasses.replace(phantom, labels_ed=labels, labels=None)
    folder = tmp_path / "p"
    folder.mkdir()
    for key, frame, lab in (("ed", 0, labels), ("es", s_in.es_index, s_in.labels_es)):
        save_volume(folder / f"{key}.nii.gz", raw(s_in.images[frame]), SPACING)
        save_volume(folder / f"{key}_gt.nii.gz", lab, SPACING)
    s = load_pair(
        folder / "ed.nii.gz",
        folder / "ed_gt.nii.gz",
        folder / "es.nii.gz",
        folder / "es_gt.nii.gz",
        label_convention="acdc",
    )
    assert s.slices == 2 and s.meta["slices_without_myocardium"] == [1]
    assert not np.any(s.labels_ed[1])


def pair_files(tmp_path: Path, phantom) -> dict[str, Path]:
    paths = {k: tmp_path / f"{k}.nii.gz" for k in ("ed", "ed_gt", "es", "es_gt")}
    save_volume(paths["ed"], raw(phantom.images[0]), SPACING)
    save_volume(paths["es"], raw(phantom.images[phantom.es_index]), SPACING)
    save_volume(paths["ed_gt"], phantom.labels_ed, SPACING)
    save_volume(paths["es_gt"], phantom.labels_es, SPACING)
    return paths


def load(paths: dict[str, Path]):
    return load_pair(
        paths["ed"], paths["ed_gt"], paths["es"], paths["es_gt"], label_convention="acdc"
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("es_shape", r"es_gt.nii.gz: grid"),
        ("es_spacing", r"es.nii.gz: spacing"),
        ("es_affine", r"es.nii.gz: affine differs"),
        ("ed_2d", r"ed.nii.gz: has 2 dimensions"),
        ("es_nan", r"es.nii.gz: image contains NaN"),
        ("label_values", r"ed_gt.nii.gz: label values \[7\]"),
        ("no_myo", r"ed_gt.nii.gz: no myocardium"),
    ],
)
def test_bad_input_names_the_file(tmp_path, phantom, broken, message):
    paths = pair_files(tmp_path, phantom)
    es_img = raw(phantom.images[phantom.es_index])
    if broken == "es_shape":
        save_volume(paths["es_gt"], phantom.labels_es[:, :, :-1], SPACING)
    elif broken == "es_spacing":
        save_volume(paths["es"], es_img, SPACING * [1, 1.2, 1.2])
    elif broken == "es_affine":
        affine = np.diag([SPACING[2], SPACING[1], SPACING[0], 1.0])
        affine[0, 3] = 12.0  # same spacing, shifted by 12 mm
        nib.save(nib.Nifti1Image(np.transpose(es_img, (2, 1, 0)), affine), str(paths["es"]))
    elif broken == "ed_2d":
        nib.save(nib.Nifti1Image(raw(phantom.images[0, 0]).T, np.eye(4)), str(paths["ed"]))
    elif broken == "es_nan":
        bad = es_img.astype(np.float32)
        bad[0, 3, 3] = np.nan
        save_volume(paths["es"], bad, SPACING)
    elif broken == "label_values":
        labels = phantom.labels_ed.copy()
        labels[0, 0, 0] = 7
        save_volume(paths["ed_gt"], labels, SPACING)
    elif broken == "no_myo":
        save_volume(
            paths["ed_gt"],
            np.where(phantom.labels_ed == 2, 0, phantom.labels_ed).astype(np.uint8),
            SPACING,
        )
    with pytest.raises(BinnInputError, match=message):
        load(paths)


def test_acdc_bad_info_and_missing_files(tmp_path, phantom):
    folder = write_acdc(tmp_path / "patient003", phantom, 1)
    (folder / "Info.cfg").write_text("Group: NOR\n")
    with pytest.raises(BinnInputError, match=r"Info.cfg: no valid 1-based 'ED"):
        load_acdc(folder)
    (folder / "Info.cfg").write_text("ED: 1\nES: 99\n")
    with pytest.raises(BinnInputError, match=r"frame99.nii.gz"):
        load_acdc(folder)
    with pytest.raises(BinnInputError, match="does not exist"):
        load_ukbb(tmp_path / "nothing")


def test_crop_centres_the_lv_and_keeps_everything():
    wide = make_phantom(3, frames=4, slices=2, size=64, spacing_mm=2.5)
    cropped, origin = crop_subject(wide, 40)
    assert cropped.images.shape == (4, 2, 40, 40) and cropped.motion.shape == (4, 2, 2, 40, 40)
    assert np.allclose(lv_centre(cropped.labels_ed), 20.0, atol=0.5)  # size / 2
    assert np.isin(cropped.labels_ed, (2, 3)).sum() == np.isin(wide.labels_ed, (2, 3)).sum()
    oy, ox = origin
    assert np.array_equal(cropped.motion, wide.motion[..., oy : oy + 40, ox : ox + 40])
    assert np.array_equal(cropped.labels, wide.labels[..., oy : oy + 40, ox : ox + 40])
    assert cropped.meta["crop_origin"] == origin.tolist()


def test_crop_pads_a_small_image(phantom):
    cropped, origin = crop_subject(phantom, 96, renormalise=False)
    assert np.all(origin < 0)
    oy, ox = -origin
    inner = (..., slice(oy, oy + 40), slice(ox, ox + 40))
    assert np.array_equal(cropped.labels_ed[inner], phantom.labels_ed)
    assert np.array_equal(cropped.images[inner], phantom.images)
    assert cropped.images.sum() == pytest.approx(phantom.images.sum(), rel=1e-6)
    with pytest.raises(BinnInputError, match="no LV"):
        crop_subject(
            dataclasses.replace(phantom, labels_ed=np.zeros_like(phantom.labels_ed), labels=None),
            32,
        )


def test_cli_import_cine_writes_a_cropped_subject(tmp_path, phantom):
    folder = write_acdc(tmp_path / "patient004", phantom, 2)
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers())
    out = tmp_path / "p4.npz"
    args = parser.parse_args(
        ["import-cine", "--dir", str(folder), "--layout", "acdc", "--out", str(out), "--size", "32"]
    )
    assert args.func(args) == 0
    s = load_subject(out)
    assert s.images.shape == (6, 2, 32, 32) and s.es_index == phantom.es_index
    assert s.meta["crop_size"] == 32 and s.meta["label_convention"] == "acdc"


def test_import_cine_takes_a_plain_cine_like_strain(tmp_path, phantom):
    """``import-cine --cine --ed-labels [--es-labels] --ed-frame --es-frame``: the same
    subject the ACDC folder gives; ES labels optional (then empty: nothing scored at ES)."""
    from binn.cli import main

    folder = write_acdc(tmp_path / "patient010", phantom, 3)
    es = (2 + phantom.es_index) % phantom.frames + 1
    cine = ["--cine", str(folder / "patient010_4d.nii.gz"), "--ed-labels",
            str(folder / "patient010_frame03_gt.nii.gz"), "--ed-frame", "3"]  # fmt: skip
    es_labels = ["--es-labels", str(folder / f"patient010_frame{es:02d}_gt.nii.gz")]
    out = tmp_path / "c.npz"
    assert main(["import-cine", *cine, *es_labels, "--es-frame", str(es), "--size", "32",
                 "--spacing-mm", "1.5", "--out", str(out)]) == 0  # fmt: skip
    assert main(["import-cine", "--dir", str(folder), "--layout", "acdc", "--size", "32",
                 "--spacing-mm", "1.5", "--out", str(tmp_path / "d.npz")]) == 0  # fmt: skip
    c, d = load_subject(out), load_subject(tmp_path / "d.npz")
    np.testing.assert_array_equal(c.labels_ed, d.labels_ed)
    np.testing.assert_array_equal(c.labels_es, d.labels_es)
    np.testing.assert_allclose(c.images, d.images, atol=1e-6)
    assert c.es_index == d.es_index and c.meta["ed_frame_1based"] == 3
    assert c.meta["geometry"]["ed_frame_0based"] == 2
    no_es = tmp_path / "n.npz"
    assert main(["import-cine", *cine, "--es-frame", str(es), "--size", "32",
                 "--out", str(no_es)]) == 0  # fmt: skip
    assert not load_subject(no_es).labels_es.any() and load_subject(no_es).meta["es_labels"] is None
    # bad input: no ES frame, ES labels without ES frame, --dir without --layout, both inputs
    for argv in (cine, [*cine, *es_labels], ["--dir", str(folder)],
                 [*cine, "--es-frame", "2", "--dir", str(folder)]):  # fmt: skip
        assert main(["import-cine", *argv, "--out", str(tmp_path / "bad.npz")]) == 2
    assert main(["import-cine", *cine, "--es-frame", "3", "--out", str(tmp_path / "bad.npz")]) == 2
    assert not (tmp_path / "bad.npz").exists()
    assert main(["import-cine", *cine, "--es-frame", str(es), "--out", str(out)]) == 2  # exists
