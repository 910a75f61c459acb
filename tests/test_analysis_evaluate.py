"""``binn evaluate`` on a synthetic ring subject with an analytic, area-preserving motion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from binn.analysis.commands.evaluate import evaluate_files
from binn.analysis.measures.evaluate import CURVE_COLUMNS, METRIC_COLUMNS
from binn.errors import BinnInputError
from binn.io import save_npz
from binn.register.data.subject import CineSubject, save_subject

N, T, ES = 48, 5, 4
C = np.array([23.4, 24.2])
R_IN, R_OUT, K = 9.0, 16.0, 45.0  # ED radii (px); r -> sqrt(r^2 - K t/(T-1)) at frame t
SPACING = np.array([8.0, 1.5, 1.5])


def _labels(k: float) -> np.ndarray:
    """ACDC labels (H, W) of the ring after r -> sqrt(r^2 - k)."""
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    r2 = (rows - C[0]) ** 2 + (cols - C[1]) ** 2
    lab = np.zeros((N, N), np.uint8)
    lab[r2 <= R_OUT**2 - k] = 2
    lab[r2 <= R_IN**2 - k] = 3
    return lab


def _motion_frame(k: float) -> np.ndarray:
    """Exact field (2, H, W) px on the ED grid: x -> c + (x - c) sqrt(r^2 - k) / r."""
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    d = np.stack([rows - C[0], cols - C[1]])
    r = np.hypot(d[0], d[1])
    return ((np.sqrt(np.maximum(r**2 - k, 0.25)) - r) / r * d).astype(np.float32)


def _subject(name: str, with_motion: bool = True) -> CineSubject:
    ks = [K * t / (T - 1) for t in range(T)]
    labels = np.stack([np.stack([_labels(k), _labels(k), np.zeros((N, N), np.uint8)]) for k in ks])
    motion = np.stack([np.stack([_motion_frame(k)] * 3) for k in ks])
    motion[0] = 0.0
    return CineSubject(
        name=name,
        images=(labels / 3.0).astype(np.float32),
        labels_ed=labels[0],
        labels_es=labels[ES],
        es_index=ES,
        spacing=SPACING,
        motion=motion if with_motion else None,
        labels=labels if with_motion else None,
    )


def _tracking(path: Path, subject: CineSubject, fields: np.ndarray, frames, method, setting):
    save_npz(
        path, {"test": True}, fields=fields.astype(np.float32), frames=np.asarray(frames),
        method=method, setting=setting, subject=subject.name, seconds=1.0, ms_per_pair=12.5,
    )  # fmt: skip


@pytest.fixture()
def files(tmp_path):
    subj = _subject("s001")
    save_subject(tmp_path / "s001.npz", subj, {"test": True})
    real = _subject("r001", with_motion=False)
    save_subject(tmp_path / "r001.npz", real, {"test": True})
    _tracking(tmp_path / "exact.npz", subj, subj.motion, range(T), "oracle", "exact")
    _tracking(tmp_path / "zero.npz", subj, np.zeros_like(subj.motion), range(T), "none", "zero")
    _tracking(tmp_path / "es.npz", real, subj.motion[[0, ES]], [0, ES], "oracle", "exact")
    return tmp_path


def test_evaluate_exact_and_zero_fields(files):
    data = [files / "s001.npz", files / "r001.npz"]
    table = evaluate_files(
        data, [files / "exact.npz", files / "zero.npz", files / "es.npz"], "comparison",
        files / "m.csv", files / "c.csv",
    )  # fmt: skip
    back = pd.read_csv(files / "m.csv")
    assert list(back.columns) == list(METRIC_COLUMNS)
    assert len(back) == 9  # 3 tracking outputs x 3 slices, non-evaluable slice kept
    assert list(pd.read_csv(files / "c.csv").columns) == list(CURVE_COLUMNS)
    pd.testing.assert_frame_equal(back, table.astype(back.dtypes.to_dict()), check_dtype=False)

    exact = back[(back.method == "oracle") & (back.subject == "s001")].set_index("z")
    zero = back[back.method == "none"].set_index("z")
    for z in (0, 1):
        assert exact.loc[z, "level"] == ("basal" if z == 0 else "apical")
        assert exact.loc[z, "dice"] > 0.97 > exact.loc[z, "dice_before"]
        assert exact.loc[z, "mcd_mm"] < 0.5 * 1.5 < exact.loc[z, "mcd_before_mm"]
        assert exact.loc[z, "epe_mm"] == pytest.approx(0.0, abs=1e-6)
        assert exact.loc[z, "radial_strain_error"] == pytest.approx(0.0, abs=1e-9)
        assert exact.loc[z, "peak_radial_strain"] == pytest.approx(
            exact.loc[z, "peak_radial_strain_gt"]
        )
        assert exact.loc[z, "peak_radial_strain"] > 0.1 > -0.1 > exact.loc[z, "peak_circ_strain"]
        assert exact.loc[z, "abs_det_j_minus_1"] < 0.02
        assert exact.loc[z, "fold_fraction"] == 0.0
        assert exact.loc[z, "ms_per_pair"] == 12.5
        # the identity leaves the ES myocardium where it is
        assert zero.loc[z, "dice"] == pytest.approx(zero.loc[z, "dice_before"])
        assert zero.loc[z, "mcd_mm"] == pytest.approx(zero.loc[z, "mcd_before_mm"])
        assert zero.loc[z, "peak_radial_strain"] == 0.0
        assert zero.loc[z, "abs_det_j_minus_1"] == 0.0
        assert zero.loc[z, "epe_mm"] > 0.5
        assert zero.loc[z, "circ_strain_error"] > 0.05
    # the slice without myocardium is reported, as missing, with a note
    empty = back[back.z == 2]
    assert len(empty) == 3 and empty["dice"].isna().all() and empty["level"].isna().all()
    assert empty["note"].str.contains("no myocardium").all()
    # no ground truth: error columns missing, not zero
    real = back[back.subject == "r001"]
    assert real[["epe_mm", "radial_strain_error", "peak_radial_strain_gt"]].isna().all().all()
    assert (real.loc[real.z < 2, "dice"] > 0.97).all()


def test_curves_per_frame(files):
    evaluate_files([files / "s001.npz"], [files / "exact.npz"], "alpha_sweep",
                   files / "m.csv", files / "c.csv")  # fmt: skip
    curves = pd.read_csv(files / "c.csv")
    assert len(curves) == 2 * T  # the slice without myocardium has no curve
    z0 = curves[curves.z == 0].sort_values("frame")
    assert list(z0.frame) == list(range(T))
    assert (z0.dice > 0.94).all()  # every frame has labels in the phantom
    assert z0.radial_strain.iloc[0] == 0.0 and z0.area_change.iloc[0] == 0.0
    assert np.all(np.diff(z0.radial_strain) > 0)  # thickening grows towards ES
    np.testing.assert_allclose(z0.radial_strain, z0.radial_strain_gt, atol=1e-9)
    np.testing.assert_allclose(z0.mean_det_j - 1.0, z0.area_change, atol=1e-12)
    assert np.abs(z0.area_change).max() < 0.02  # incompressible motion
    assert (curves.z != 2).all()


def test_es_only_tracking_without_frame_labels(files):
    evaluate_files([files / "r001.npz"], [files / "es.npz"], "validation",
                   files / "m.csv", files / "c.csv")  # fmt: skip
    curves = pd.read_csv(files / "c.csv")
    assert sorted(curves[curves.z == 0].frame) == [0, ES]
    assert curves.loc[curves.z == 0, "dice"].notna().all()  # ED and ES labels exist


def test_bad_pairing_and_shapes(files, tmp_path):
    with pytest.raises(BinnInputError, match="no subject"):
        evaluate_files([files / "s001.npz"], [files / "es.npz"], "x", tmp_path / "m.csv")
    subj = _subject("s001")
    _tracking(tmp_path / "bad.npz", subj, subj.motion[:, :2], range(T), "oracle", "exact")
    with pytest.raises(BinnInputError, match="do not fit"):
        evaluate_files([files / "s001.npz"], [tmp_path / "bad.npz"], "x", tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_missing_es_frame_is_noted(files, tmp_path):
    subj = _subject("s001")
    _tracking(tmp_path / "noes.npz", subj, subj.motion[:2], [0, 1], "oracle", "exact")
    table = evaluate_files([files / "s001.npz"], [tmp_path / "noes.npz"], "x", tmp_path / "m.csv")
    row = table[table.z == 0].iloc[0]
    assert math.isnan(row["dice"]) and "ES frame" in row["note"]
    assert row["dice_before"] > 0.0


def test_cli_evaluate_select_report(files, tmp_path):
    from binn.cli import main

    subj = _subject("s001")
    _tracking(tmp_path / "a.npz", subj, subj.motion, range(T), "binn", "alpha=0.001")
    _tracking(tmp_path / "b.npz", subj, 0 * subj.motion, range(T), "binn", "alpha=0.1")
    data = ["--data", str(files / "s001.npz")]
    for name in ("a", "b"):
        args = ["evaluate", *data, "--fields", str(tmp_path / f"{name}.npz"), "--experiment",
                "alpha_sweep", "--out", str(tmp_path / f"{name}.csv"),
                "--curves", str(tmp_path / f"{name}.curves.csv")]  # fmt: skip
        assert main(args) == 0
    metrics = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert main(["select", "--metrics", *metrics, "--target", "0.1",
                 "--out", str(tmp_path / "sel.json")]) == 0  # fmt: skip
    # the exact field (|det J - 1| > 0) is nearer 0.1 than the zero field (exactly 0)
    assert '"setting": "alpha=0.001"' in (tmp_path / "sel.json").read_text()
    curves = [str(tmp_path / "a.curves.csv"), str(tmp_path / "b.curves.csv")]
    assert main(["report", "--metrics", *metrics, "--curves", *curves, "--selections",
                 str(tmp_path / "sel.json"), "--out-dir", str(tmp_path / "rep")]) == 0  # fmt: skip
    sweep = pd.read_csv(tmp_path / "rep" / "table_alpha_sweep.csv")
    assert sweep.set_index("setting").loc["alpha=0.001", "epe_mm_mean"] == pytest.approx(0.0)
    assert (tmp_path / "rep" / "summary.md").is_file()
    # bad input: exit code 2, nothing written
    assert main(["evaluate", "--data", str(tmp_path / "none.npz"), "--fields",
                 str(tmp_path / "a.npz"), "--experiment", "x",
                 "--out", str(tmp_path / "bad.csv")]) == 2  # fmt: skip
    assert not (tmp_path / "bad.csv").exists()
