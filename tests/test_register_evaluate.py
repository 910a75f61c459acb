"""evaluate-pair scoring: known answers, unevaluable slices kept, registration improves Dice,
refinement options on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from binn.analysis.measures.pair import evaluate_pair, score_pair_stack, warp_labels
from binn.register.track import Registrar

H = 48


def ring_labels(cy: float, cx: float, r_in: float, r_out: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :H]
    r = np.hypot(yy - cy, xx - cx)
    return np.where(r < r_in, 3, np.where(r < r_out, 2, 0)).astype(np.uint8)


def test_warp_labels_moves_by_whole_pixels() -> None:
    lab = ring_labels(24, 24, 5, 9)[None]
    u = np.zeros((1, 2, H, H), np.float32)
    u[:, 1] = 2.0  # out(x) = lab(x + 2 columns)
    np.testing.assert_array_equal(warp_labels(lab, u)[0, :, :-2], lab[0, :, 2:])


def test_scores_known_answers_and_keeps_unevaluable_slices() -> None:
    ed = np.stack(
        [ring_labels(24, 24, 5, 9), ring_labels(24, 24, 4, 8), np.zeros((H, H), np.uint8)]
    )
    es = ed.copy()
    es[1] = ring_labels(24, 27, 4, 8)  # slice 1 at ES is shifted 3 px along columns
    fields = np.zeros((3, 2, H, H), np.float32)
    fields[1, 1] = 3.0  # the exact ES->ED field of slice 1: ES(x + 3 e_col) = ED(x)
    slices, levels, before = score_pair_stack(fields, ed, es, np.array([1.5, 1.5]))
    assert [s["evaluable"] for s in slices] == [True, True, False]
    assert slices[2]["reason"] == "no myocardium in the ED labels" and slices[2]["dice"] is None
    assert slices[0]["dice"] == 1.0 and slices[0]["mcd_mm"] == 0.0
    assert slices[1]["dice"] == pytest.approx(1.0, abs=0.02)
    assert slices[1]["dice_before"] < 0.8
    assert slices[1]["abs_det_j_minus_1"] == pytest.approx(0.0, abs=1e-6)
    assert [s["level"] for s in slices] == ["basal", "apical", None]
    assert levels["mid"]["slices"] == 0 and levels["mid"]["dice"] is None
    assert before["basal"] == 1.0
    json.dumps({"s": slices, "l": levels, "b": before}, allow_nan=False)


def test_evaluate_pair_demons_improves_dice() -> None:
    ed_lab = np.stack([ring_labels(24, 24, 6, 11), ring_labels(24, 23, 5, 10)])
    img = np.where(ed_lab == 3, 0.9, np.where(ed_lab == 2, 0.3, 0.1)).astype(np.float32)
    img = ndimage.gaussian_filter(img, (0, 1, 1))
    shift = (0, 2, -2)  # ES = ED translated by (2, -2) px
    es_img = ndimage.shift(img, shift, order=1, mode="nearest")
    es_lab = ndimage.shift(ed_lab, shift, order=0, mode="nearest")
    res = evaluate_pair(
        img, ed_lab, es_img, es_lab, np.array([1.2, 1.2]), Registrar("demons", {"iterations": 50})
    )
    assert res["method"] == "demons" and res["seconds"] > 0
    for s in res["slices"]:
        assert s["dice"] > s["dice_before"] + 0.1
        assert s["dice"] > 0.9


def _write_pair(folder, shift=(0, 2, -2), es_shape=None, ndim3=True):
    """ED/ES image and label NIfTI files of 3 slices (the last without myocardium)."""
    from binn.nifti import save_volume

    ed_lab = np.stack(
        [ring_labels(24, 24, 6, 11), ring_labels(24, 23, 5, 10), np.zeros((H, H), np.uint8)]
    )
    ed_lab[2, 20:28, 20:28] = 1  # RV cavity only: no myocardium on the last slice
    img = np.where(ed_lab == 3, 0.9, np.where(ed_lab == 2, 0.3, 0.1)) * 500.0
    img = ndimage.gaussian_filter(img, (0, 1, 1))
    es_img = ndimage.shift(img, shift, order=1, mode="nearest")
    es_lab = ndimage.shift(ed_lab, shift, order=0, mode="nearest")
    if es_shape is not None:
        es_img, es_lab = (
            es_img[:, : es_shape[0], : es_shape[1]],
            es_lab[:, : es_shape[0], : es_shape[1]],
        )
    sp = np.array([8.0, 1.4, 1.4])
    paths = [folder / n for n in ("ed.nii.gz", "ed_gt.nii.gz", "es.nii.gz", "es_gt.nii.gz")]
    for p, a in zip(paths, (img, ed_lab, es_img, es_lab), strict=True):
        save_volume(p, a if ndim3 else a[0:1], sp)
    return paths


def _argv(paths, *extra):
    keys = ("--fixed-image", "--fixed-labels", "--moving-image", "--moving-labels")
    return [
        "evaluate-pair",
        *[x for kv in zip(keys, map(str, paths), strict=True) for x in kv],
        *extra,
    ]


def test_evaluate_pair_cli_json(tmp_path, capsys) -> None:
    from binn.cli import main

    paths = _write_pair(tmp_path)
    argv = _argv(paths, "--method", "demons", "--param", "iterations=50", "--size", "32", "--json")
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(res) >= {"method", "seconds", "slices", "levels", "dice_before"}
    assert [s["evaluable"] for s in res["slices"]] == [True, True, False]
    assert res["slices"][2]["level"] is None and "reason" in res["slices"][2]
    assert res["levels"]["basal"]["dice"] > res["dice_before"]["basal"]
    assert set(res["levels"]) == {"basal", "mid", "apical"}
    assert res["spacing_mm"] == [2.0, 2.0]  # the 1.4 mm files resampled to the default grid


def test_evaluate_pair_resamples_to_the_grid(tmp_path, capsys) -> None:
    """Halving the pixel count per mm leaves the anatomy's mm size: the same Dice before."""
    from binn.cli import main

    paths = _write_pair(tmp_path)
    results = []
    for spacing in ("1.4", "2.8"):
        argv = _argv(paths, "--method", "demons", "--param", "iterations=5", "--size", "32")
        assert main([*argv, "--spacing-mm", spacing, "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert [r["spacing_mm"] for r in results] == [pytest.approx([1.4] * 2), [2.8, 2.8]]
    before = [r["dice_before"]["basal"] for r in results]
    assert before[0] == pytest.approx(before[1], abs=0.08)


def test_evaluate_pair_cli_bad_input(tmp_path) -> None:
    from binn.cli import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bad_shape = _write_pair(tmp_path / "a", es_shape=(H, H - 4))
    assert main(_argv(bad_shape, "--method", "demons", "--size", "32")) == 2
    paths = _write_pair(tmp_path / "b")
    model = tmp_path / "m.pt"
    from binn.register.checkpoint import save_checkpoint
    from binn.register.network import RegistrationNet

    save_checkpoint(
        model, RegistrationNet(0.0625, 48), method="l2", setting="lam=0.01", spacing_mm=2.0
    )
    # a 48 px model asked to work on a 32 px crop
    assert main(_argv(paths, "--method", "l2", "--model", str(model), "--size", "32")) == 2


def test_evaluate_pair_refuses_a_network_of_another_grid(tmp_path, capsys) -> None:
    from binn.cli import main
    from binn.register.checkpoint import save_checkpoint
    from binn.register.network import RegistrationNet

    paths = _write_pair(tmp_path)
    model = tmp_path / "m.pt"
    save_checkpoint(
        model, RegistrationNet(0.0625, 32), method="l2", setting="lam=0.01", spacing_mm=1.5
    )
    argv = _argv(paths, "--method", "l2", "--model", str(model), "--device", "cpu")
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "2 mm pixels" in err and "1.5 mm" in err
    assert main([*argv, "--spacing-mm", "1.5", "--json"]) == 0  # on the network's own grid


def test_evaluate_pair_records_the_validated_classical_setting(tmp_path, capsys) -> None:
    from binn.cli import main

    paths = _write_pair(tmp_path)
    assert main(_argv(paths, "--method", "demons", "--size", "32", "--json")) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["setting"] == "sigma=2" and res["params"] == {"sigma": 2.0}
    assert res["grid"] == {"spacing_mm": 2.0, "size_px": 32}
    assert res["source_spacing_mm"] == pytest.approx([1.4, 1.4])


def test_undecidable_label_convention_names_the_files_and_counts(tmp_path, capsys) -> None:
    """Labels 1 and 3 both outside the myocardium (no enclosure): auto cannot decide, and
    says so naming both label files, their label counts and the option that settles it."""
    from binn.cli import main
    from binn.nifti import save_volume

    paths = _write_pair(tmp_path)
    lab = np.zeros((3, H, H), np.uint8)
    lab[:, 10:20, 10:20] = 2
    lab[:, 30:34, 30:34] = 1
    lab[:, 36:40, 36:40] = 3
    for p in (paths[1], paths[3]):
        save_volume(p, lab, np.array([8.0, 1.4, 1.4]))
    capsys.readouterr()
    assert main(_argv(paths, "--method", "demons", "--size", "32")) == 2
    err = capsys.readouterr().err
    assert "ed_gt.nii.gz holds 0:" in err and "es_gt.nii.gz holds" in err
    assert "2: 300 px" in err and "--label-convention" in err


def test_evaluate_pair_cli_refuses_2d_file(tmp_path) -> None:
    import nibabel as nib

    from binn.cli import main

    paths = _write_pair(tmp_path)
    flat = nib.Nifti1Image(np.zeros((H, H), np.float32), np.eye(4))
    nib.save(flat, str(paths[2]))  # the ES image as a single 2D slice
    assert main(_argv(paths, "--method", "demons", "--size", "32")) == 2


def test_evaluate_pair_cli_refines_a_network(tmp_path, capsys) -> None:
    """``--param refine=N`` on an l2 network: the setting names it, and it cannot raise the
    training objective, so on this translated pair Dice improves over the zero field."""
    from binn.cli import main
    from binn.register.checkpoint import save_checkpoint
    from binn.register.network import RegistrationNet

    paths = _write_pair(tmp_path)
    model = tmp_path / "m.pt"
    save_checkpoint(
        model, RegistrationNet(0.0625, 32), method="l2", lam=0.01, setting="lam=0.01",
        spacing_mm=2.0,
    )  # fmt: skip
    base = _argv(paths, "--method", "l2", "--model", str(model), "--json", "--device", "cpu")
    assert main([*base, "--param", "refine=0"]) == 0
    plain = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*base, "--param", "refine=60,refine_lr=0.1"]) == 0
    refined = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert plain["setting"] == "lam=0.01,refine=0"
    assert refined["setting"] == "lam=0.01,refine=60,refine_lr=0.1"
    assert refined["levels"]["basal"]["dice"] > plain["levels"]["basal"]["dice"] + 0.05
    assert main(_argv(paths, "--method", "demons", "--param", "refine=5", "--size", "32")) == 2
