"""Segmental strain (binn.analysis.measures.strain), its outputs and ``binn strain``: known
answers, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from binn.analysis.measures.aha import AHA_NAMES, assign_aha
from binn.analysis.measures.strain import analyse_strain, peak
from binn.cli import main
from binn.io import save_npz

N, T = 80, 6
C = np.array([40.3, 39.6])
R_EN, R_EP = 12.0, 20.0
SPACING = np.array([8.0, 1.3, 1.3])


def _labels() -> np.ndarray:
    """Three identical slices (basal, mid, apical): cavity, ring, RV crescent on the left."""
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    r = np.hypot(rows - C[0], cols - C[1])
    ang = np.degrees(np.arctan2(-(rows - C[0]), cols - C[1])) % 360.0
    lab = np.zeros((N, N), np.uint8)
    lab[r < R_EN] = 3
    lab[(r >= R_EN) & (r < R_EP)] = 2
    lab[(r >= R_EP) & (r < R_EP + 10) & (ang >= 120) & (ang <= 240)] = 1
    return np.stack([lab] * 3)


def _grid() -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    return np.stack([rows, cols]).astype(np.float64)


def _analyse(fields: np.ndarray, motion: np.ndarray | None = None):
    labels = _labels()
    aha = assign_aha(labels, SPACING[1:])
    frames = np.arange(len(fields))
    return analyse_strain("toy", "m", "", labels, SPACING, len(fields), fields, frames, aha,
                          motion=motion)  # fmt: skip


def _rigid(angles_deg: np.ndarray, pivot=(33.0, 47.0), shift=(1.5, -2.0)) -> np.ndarray:
    """Rigid motion fields (T, Z, 2, N, N) px: rotation about ``pivot`` plus a shift."""
    x = _grid() - np.asarray(pivot)[:, None, None]
    out = []
    for a in np.radians(angles_deg):
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        u = np.einsum("kl,lyx->kyx", rot - np.eye(2), x) + np.asarray(shift)[:, None, None] * (
            a != 0
        )
        out.append(np.stack([u] * 3))
    return np.asarray(out)


def _expansion(scales: np.ndarray, centre=(36.0, 44.0)) -> np.ndarray:
    """Uniform expansion fields (T, Z, 2, N, N): ``u = s_t (x - centre)``."""
    x = _grid() - np.asarray(centre)[:, None, None]
    return np.asarray([np.stack([s * x] * 3) for s in scales])


def test_pure_rotation_gives_zero_segmental_strain():
    a = _analyse(_rigid(np.array([0.0, 5.0, 12.0, 20.0, 8.0, 0.0])))
    present = a.tracked.n_pixels > 0
    assert present.all()  # global + all 16 segments
    assert np.abs(a.tracked.radial).max() < 1e-12
    assert np.abs(a.tracked.circ).max() < 1e-12


def test_uniform_expansion_gives_the_same_strain_in_every_segment():
    scales = np.array([0.0, 0.05, 0.1, 0.08, -0.04, 0.0])
    a = _analyse(_expansion(scales))
    expected = scales + 0.5 * scales**2  # Green-Lagrange of F = (1 + s) I
    for curves in (a.tracked.radial, a.tracked.circ):
        np.testing.assert_allclose(curves, np.broadcast_to(expected, curves.shape), atol=1e-12)
    rows = a.peak_rows()
    assert [r["segment"] for r in rows[:2]] == ["global", "basal anterior"]
    for r in rows:
        assert r["peak_radial_strain"] == pytest.approx(expected[2])
        assert r["time_to_peak_radial_frame"] == 2
        assert r["time_to_peak_radial_phase"] == pytest.approx(2 / T)
        assert r["peak_circ_strain"] == pytest.approx(expected[4])
        assert r["time_to_peak_circ_frame"] == 4


def test_peak_errors_against_ground_truth():
    truth = _expansion(np.array([0.0, -0.05, -0.1, -0.05, 0.0, 0.0]))
    same = _analyse(truth, motion=truth).peak_rows()
    assert all(r["peak_circ_strain_error"] == pytest.approx(0.0, abs=1e-12) for r in same)
    half = _analyse(0.5 * truth, motion=truth).peak_rows()
    # circ peak -0.1 + 0.005 vs -0.05 + 0.00125
    assert half[5]["peak_circ_strain_error"] == pytest.approx(0.095 - 0.04875)


def test_peak_handles_missing_rows():
    values, frames = peak(np.array([[np.nan, np.nan], [1.0, 3.0]]), np.array([0, 7]), "max")
    assert np.isnan(values[0]) and frames[0] == -1
    assert values[1] == 3.0 and frames[1] == 7


def test_hypokinetic_sector_is_the_weakest_segment():
    from binn.analysis.commands.bench_strain import covered_segments, weakest_segment

    # contraction u = -s(theta) (x - c) about the LV centre, 60 % weaker around 300 deg
    x = _grid() - C[:, None, None]
    theta = np.degrees(np.arctan2(-x[0], x[1]))
    s = 0.1 * (1.0 - 0.6 * np.exp(3.0 * (np.cos(np.radians(theta - 300.0)) - 1.0)))
    fields = np.asarray([np.stack([-a * s * x] * 3) for a in (0.0, 0.5, 1.0, 0.5, 0.0, 0.0)])
    a = _analyse(fields)
    centre, half = covered_segments(a, 300.0, 3.0)
    assert centre == {5, 11, 15}  # inferolateral (basal, mid), apical inferior
    assert weakest_segment(a) in centre
    assert centre <= half


# --- the command ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    from binn.register.data.phantom import make_phantom
    from binn.register.data.subject import save_subject

    tmp = tmp_path_factory.mktemp("strain")
    subject = make_phantom(3, frames=T, slices=3, size=64)
    save_subject(tmp / "s.npz", subject, {})
    fields = tmp / "f.npz"
    save_npz(fields, {}, fields=subject.motion, frames=np.arange(T), method=np.asarray("truth"),
             setting=np.asarray(""), subject=np.asarray(subject.name))  # fmt: skip
    return subject, tmp / "s.npz", fields


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory) -> Path:
    """An (untrained beyond one epoch) VAE checkpoint with a 32 px window."""
    from binn.io import load_npz
    from binn.learn.train import TrainConfig, train_vae
    from tests.learn_fixtures import write_ring_records

    tmp = tmp_path_factory.mktemp("vae")
    cases = write_ring_records(tmp / "cases", [1, 2, 3], size=32, frames=4)
    for case in cases:  # on the phantoms' 2.0 mm grid: a VAE of another spacing is refused
        rec = load_npz(case)
        rec["spacing"] = np.array([2.0, 2.0])
        save_npz(case, rec.pop("provenance"), **rec)
    tiny = TrainConfig(image_size=32, nf=4, latent_dim=4, batch_size=4, epochs=1, val_fraction=0.5)
    train_vae(cases, tmp / "vae.pt", tiny, "cpu")
    return tmp / "vae.pt"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_strain_command_writes_every_output(phantom_files, tmp_path):
    _, data, fields = phantom_files
    out = tmp_path / "out"
    assert main(["strain", "--data", str(data), "--fields", str(fields), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    pngs = {"strain_global", "strain_segments", "bullseye_peak_radial", "bullseye_peak_circ",
            "aha_segments"}  # fmt: skip
    assert {"strain.csv", "strain.json", "index.html", *(f"{p}.png" for p in pngs)} <= names
    assert {f"contours_z{z}.gif" for z in range(3)} <= names
    table = pd.read_csv(out / "strain.csv")
    assert len(table) == 17 * T
    assert set(table["segment"]) == {"global", *AHA_NAMES.values()}
    obj = json.loads((out / "strain.json").read_text())
    assert obj["ground_truth"] is True
    assert obj["r_vae"]["available"] is False and "no --vae" in obj["r_vae"]["note"]
    # the fields are the ground truth: peak errors vanish; JSON peaks agree with the CSV
    seg = obj["segments"][6]  # mid anterior
    assert seg["segment"] == "mid anterior" and seg["peak_circ_strain_error"] == 0.0
    rows = table[table["segment"] == "mid anterior"]
    assert rows["circ_strain"].min() == pytest.approx(seg["peak_circ_strain"])
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64") == 5 and page.count("data:image/gif;base64") == 3
    assert "R_VAE not computed" in page
    assert _leftovers(tmp_path) == []


def test_out_dir_writes_each_subject_as_out_would(phantom_files, tmp_path):
    """Several --data/--fields pairs in one process: DIR/<data name>/ holds what --out writes
    for that pair alone."""
    import shutil

    _, data, fields = phantom_files
    other = tmp_path / "t.npz"
    shutil.copy(data, other)
    argv = ["strain", "--data", str(data), str(other), "--fields", str(fields), str(fields)]
    assert main([*argv, "--out-dir", str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["s", "t"]
    alone = tmp_path / "alone"
    assert main(["strain", "--data", str(data), "--fields", str(fields), "--out", str(alone)]) == 0
    for name in ("s", "t"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "all" / name / "strain.csv"), pd.read_csv(alone / "strain.csv")
        )
    # --out is one subject; --out-dir needs a fields file per subject
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert main([*argv[:-1], "--out-dir", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_existing_output_folder_is_refused_unless_force(phantom_files, tmp_path):
    """An existing folder is refused; --force replaces a strain folder, never a folder
    holding files binn did not write; a temporary folder a hard kill left is removed."""
    _, data, fields = phantom_files
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["strain", "--data", str(data), "--fields", str(fields), "--out", str(out)]
    assert main(args) == 2
    assert main([*args, "--force"]) == 2  # keep.txt is not binn's: nothing is deleted
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    (tmp_path / ".out.k1ll3d_x.tmp").mkdir()  # what a SIGKILL mid-write leaves
    (tmp_path / ".out.k1ll3d_x.tmp" / "strain.csv").write_text("half")
    assert main([*args, "--force"]) == 0 and (out / "strain.json").is_file()
    assert _leftovers(tmp_path) == []
    first = (out / "strain.csv").read_text()
    assert main([*args, "--force"]) == 0  # binn's own folder is replaced
    assert (out / "strain.csv").read_text() == first
    assert main(args) == 2


def test_no_rv_label_is_an_error_or_the_given_angle(phantom_files, tmp_path):
    from binn.register.data.subject import save_subject

    subject, _, fields = phantom_files
    lab_ed = np.where(subject.labels_ed == 1, 0, subject.labels_ed).astype(np.uint8)
    lab_es = np.where(subject.labels_es == 1, 0, subject.labels_es).astype(np.uint8)
    no_rv = dataclasses.replace(subject, labels_ed=lab_ed, labels_es=lab_es, labels=None)
    save_subject(tmp_path / "norv.npz", no_rv, {})
    args = ["strain", "--data", str(tmp_path / "norv.npz"), "--fields", str(fields)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    assert not (tmp_path / "a").exists() and _leftovers(tmp_path) == []
    assert main([*args, "--out", str(tmp_path / "b"), "--anterior-angle", "120"]) == 0
    obj = json.loads((tmp_path / "b" / "strain.json").read_text())
    assert obj["aha"]["anchor_source"] == ["manual"] * 3
    assert any("by hand" in n for n in obj["notes"])


def test_slices_without_myocardium_are_listed(phantom_files, tiny_vae, tmp_path):
    from binn.register.data.subject import save_subject

    subject, _, fields = phantom_files
    lab = subject.labels_ed.copy()
    lab[1] = 0
    cut = dataclasses.replace(subject, labels_ed=lab, labels=None)
    save_subject(tmp_path / "cut.npz", cut, {})
    out = tmp_path / "out"
    assert main(["strain", "--data", str(tmp_path / "cut.npz"), "--fields", str(fields),
                 "--vae", str(tiny_vae), "--out", str(out)]) == 0  # fmt: skip
    obj = json.loads((out / "strain.json").read_text())
    assert obj["slices_without_myocardium"] == [1]
    scores = obj["r_vae"]["per_frame_per_slice"]
    assert obj["r_vae"]["available"] and all(row[1] is None and row[0] >= 0 for row in scores)
    assert obj["aha"]["levels"][1] is None
    assert any("[1]" in n for n in obj["notes"])
    assert not (out / "contours_z1.gif").exists() and (out / "contours_z2.gif").exists()


def test_fields_that_do_not_fit_the_subject_are_refused(phantom_files, tmp_path):
    subject, data, _ = phantom_files
    bad = tmp_path / "bad.npz"
    save_npz(bad, {}, fields=subject.motion[:, :2], frames=np.arange(T),
             method=np.asarray("truth"), setting=np.asarray(""))  # fmt: skip
    assert main(["strain", "--data", str(data), "--fields", str(bad),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    late = tmp_path / "late.npz"
    save_npz(late, {}, fields=subject.motion, frames=np.arange(T) + 1,
             method=np.asarray("truth"), setting=np.asarray(""))  # fmt: skip
    assert main(["strain", "--data", str(data), "--fields", str(late),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_a_failure_while_writing_leaves_nothing(phantom_files, tmp_path, monkeypatch):
    import binn.analysis.rendering.strain_pages as so

    _, data, fields = phantom_files

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(so, "contour_gif", broken)
    with pytest.raises(RuntimeError):
        main(["strain", "--data", str(data), "--fields", str(fields),
              "--out", str(tmp_path / "out")])  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def _write_cine(subject, folder: Path, labels_shape_cut: int = 0) -> tuple[Path, Path]:
    import nibabel as nib

    sp = subject.spacing
    affine = np.diag([sp[2], sp[1], sp[0], 1.0])
    cine = nib.Nifti1Image(np.transpose(subject.images, (3, 2, 1, 0)), affine)
    lab = subject.labels_ed[:, : subject.labels_ed.shape[1] - labels_shape_cut]
    labels = nib.Nifti1Image(np.transpose(lab, (2, 1, 0)), affine)
    nib.save(cine, folder / "cine.nii.gz")
    nib.save(labels, folder / "ed.nii.gz")
    return folder / "cine.nii.gz", folder / "ed.nii.gz"


def test_cine_mode_tracks_and_checks_the_grid(phantom_files, tmp_path):
    subject, _, _ = phantom_files
    cine, labels = _write_cine(subject, tmp_path)
    out = tmp_path / "out"
    # frames are 1-based on the command line (Info.cfg's convention), 0-based inside
    args = ["strain", "--cine", str(cine), "--ed-labels", str(labels), "--method", "demons",
            "--param", "iterations=20", "--size", "64",
            "--es-frame", str(subject.es_index + 1)]  # fmt: skip
    assert main([*args, "--out", str(out)]) == 0
    obj = json.loads((out / "strain.json").read_text())
    # unnamed parameters are the validated setting (demons sigma=2), recorded
    assert obj["method"] == "demons" and obj["setting"] == "iterations=20,sigma=2"
    assert obj["es_index"] == subject.es_index and obj["ground_truth"] is False
    assert (obj["inputs"]["ed_frame"], obj["inputs"]["es_frame"]) == (1, subject.es_index + 1)
    assert obj["inputs"]["crop_px"] == 64
    assert obj["inputs"]["grid"] == {"spacing_mm": 2.0, "size_px": 64}
    assert obj["inputs"]["mode"] == "cine" and obj["aha"]["anchor_source"] == ["rv"] * 3
    # radial thickening and circumferential shortening at systole, as the phantom moves
    assert obj["global"]["peak_radial_strain"] > 0 > obj["global"]["peak_circ_strain"]
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    cine, labels = _write_cine(subject, bad_dir, labels_shape_cut=3)
    assert main([*args[:1], "--cine", str(cine), "--ed-labels", str(labels), "--method",
                 "demons", "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert main([*args, "--ed-frame", str(T + 1), "--out", str(tmp_path / "o")]) == 2
    assert main([*args, "--ed-frame", "0", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_without_a_method_the_shipped_binn_tracks_and_its_own_vae_scores(
    phantom_files, tmp_path, monkeypatch
):
    """``binn strain`` with no --method: the shipped binn network with the shipped default
    test-time setting (here 2 adaptation steps instead of 200, for time), named in the
    outputs, and R_VAE scored by the VAE it records beside it."""
    from binn.register import track
    from binn.register.pretrained import shipped_folder
    from binn.vocabulary import parse_setting

    monkeypatch.setattr(track, "SHIPPED_TEST_TIME", {"adapt": 2})
    subject, _, _ = phantom_files
    cine, labels = _write_cine(subject, tmp_path)
    args = ["strain", "--cine", str(cine), "--ed-labels", str(labels),
            "--es-frame", str(subject.es_index + 1), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 0
    obj = json.loads((tmp_path / "out" / "strain.json").read_text())
    assert obj["method"] == "binn"
    assert parse_setting(obj["setting"])["adapt"] == 2
    assert obj["inputs"]["model"] == str(shipped_folder() / "binn.safetensors")
    assert str(shipped_folder() / "vae.safetensors") in obj["inputs"]["vae"]
    assert obj["global"]["peak_radial_strain"] > 0 > obj["global"]["peak_circ_strain"]


def test_r_vae_per_frame_is_the_vae_score_of_each_field(phantom_files, tiny_vae):
    import torch

    from binn.analysis.rendering.strain_pages import curves_table
    from binn.learn.score import load_vae, r_vae

    subject = phantom_files[0]
    vae = load_vae(tiny_vae)
    aha = assign_aha(subject.labels_ed, subject.spacing[1:])
    a = analyse_strain(subject.name, "truth", "", subject.labels_ed, subject.spacing, T,
                       subject.motion, np.arange(T), aha, vae=vae)  # fmt: skip
    assert a.r_vae.shape == (T, 3) and np.isfinite(a.r_vae).all()
    z = 1
    myo = torch.from_numpy(subject.labels_ed[z] == 2)
    with torch.no_grad():
        direct = r_vae(vae, torch.from_numpy(subject.motion[:, z]), myo.expand(T, *myo.shape))
    np.testing.assert_allclose(a.r_vae[:, z], direct.numpy(), rtol=1e-5)
    table = curves_table(a)
    glob = table[table["segment"] == "global"].sort_values("frame")
    np.testing.assert_allclose(glob["r_vae"], a.r_vae.mean(axis=1), rtol=1e-6)


def test_contour_gif_draws_the_contours_where_the_field_moves_them(tmp_path):
    """A frame per tracked frame; a uniform field (2, -1) px moves the drawn ED contours by
    that many image pixels (zoomed), the zero field leaves them on the mask's boundary."""
    from PIL import Image, ImageSequence

    from binn.analysis.rendering.strain_pages import GIF_ZOOM, contour_gif

    h = w = 32
    yy, xx = np.mgrid[:h, :w]
    r2 = (yy - 16) ** 2 + (xx - 15) ** 2
    myo = (r2 < 64) & (r2 > 25)
    images = np.full((4, h, w), 0.3, np.float32)
    fields = np.zeros((3, 2, h, w), np.float32)
    fields[2, 0], fields[2, 1] = 2.0, -1.0
    path = tmp_path / "c.gif"
    contour_gif(images, fields, np.array([0, 1, 3]), myo, path, "z0 mid")
    with Image.open(path) as gif:
        pictures = [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(gif)]
    assert len(pictures) == 3

    def contour_centre(rgb: np.ndarray) -> np.ndarray:
        lime = (rgb[..., 1] > 200) & (rgb[..., 0] < 80) & (rgb[..., 2] < 80)
        assert lime.sum() > 50
        return np.argwhere(lime).mean(axis=0)  # (row, col) screen px

    still, moved = contour_centre(pictures[0]), contour_centre(pictures[2])
    np.testing.assert_allclose(moved - still, [2.0 * GIF_ZOOM, -1.0 * GIF_ZOOM], atol=0.5)
    # the zero field draws the ring around the mask's centre (16.5, 15.5) image px
    strip = pictures[0].shape[0] - h * GIF_ZOOM
    np.testing.assert_allclose((still - [strip, 0]) / GIF_ZOOM, [16.5, 15.5], atol=0.3)


def test_dir_mode_tracks_on_the_grid_and_data_mode_checks_it(phantom_files, tmp_path):
    """--dir resamples a 1.5 mm ACDC folder to the 2.0 mm, 64 px grid (the README's grid,
    not the file's spacing with a 96 px crop); --data files on another grid than
    --spacing-mm are refused naming both spacings."""
    from binn.register.data.phantom import make_phantom
    from tests.test_register_data_resample import write_acdc

    _, data, fields = phantom_files
    folder = write_acdc(tmp_path / "patient001", make_phantom(5, frames=5, slices=4, size=40,
                                                              spacing_mm=1.5))  # fmt: skip
    out = tmp_path / "d"
    assert main(["strain", "--dir", str(folder), "--layout", "acdc", "--method", "demons",
                 "--param", "iterations=5", "--out", str(out)]) == 0  # fmt: skip
    inputs = json.loads((out / "strain.json").read_text())["inputs"]
    assert inputs["grid"] == {"spacing_mm": 2.0, "size_px": 64}
    assert inputs["source_spacing_mm"] == [1.5, 1.5] and inputs["slice_order"] == "base_first"
    assert inputs["setting"] == "iterations=5,sigma=2"
    args = ["strain", "--data", str(data), "--fields", str(fields), "--out", str(tmp_path / "x")]
    assert main([*args, "--spacing-mm", "1.5"]) == 2 and not (tmp_path / "x").exists()
    assert main([*args, "--spacing-mm", "2"]) == 0
