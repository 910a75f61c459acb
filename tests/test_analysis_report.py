"""``binn report`` on metrics/curves tables with known values (no pipeline)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.evaluate import CURVE_COLUMNS, METRIC_COLUMNS
from analysis.report import build_report
from analysis.tables import PAPER_REFERENCE_STRAIN_PCT, REFERENCE_LABEL, aggregate
from binn.errors import BinnInputError

LEVELS = ["basal", "basal", "mid", "mid", "apical", "apical", None]
DICE = {"ffd": 0.6, "demons": 0.65, "l2": 0.7, "binn": 0.75}
SETTING = {"ffd": "grid=8,penalty=0.1", "demons": "sigma=1.5", "l2": "lam=0.01",
           "binn": "alpha=0.001"}  # fmt: skip
ALPHAS = (0.0001, 0.001, 0.005)
FRAMES = 10


def _metric_rows(experiment: str, method: str, setting: str, dice: float, gt: bool) -> list:
    rows = []
    for i in range(3):
        for z, level in enumerate(LEVELS):
            row = dict.fromkeys(METRIC_COLUMNS, np.nan)
            row.update(experiment=experiment, subject=f"s{i}", z=z, level=level, method=method,
                       setting=setting, ms_per_pair=3.0)  # fmt: skip
            if level is None:
                row["note"] = "no myocardium at ED: not evaluable"
            else:
                row.update(
                    dice=dice + 0.1 * i, dice_before=0.5 + 0.1 * i, mcd_mm=2.0 - dice,
                    mcd_before_mm=3.0, hd_mm=4.0, hd_before_mm=5.0, abs_det_j_minus_1=0.1,
                    fold_fraction=0.0, peak_radial_strain=0.3 if level == "mid" else 0.2,
                    peak_circ_strain=-0.15,
                )  # fmt: skip
                if gt:
                    row.update(epe_mm=1.0 + i, peak_radial_strain_gt=0.25,
                               peak_circ_strain_gt=-0.18, radial_strain_error=0.05,
                               circ_strain_error=0.03)  # fmt: skip
            rows.append(row)
    return rows


def _curve_rows(experiment: str, method: str, setting: str, amp: float) -> list:
    rows = []
    for i in range(2):
        for z, level in enumerate(LEVELS[:-1]):
            for t in range(FRAMES):
                s = math.sin(math.pi * t / (FRAMES - 1))
                rows.append({
                    "experiment": experiment, "subject": f"s{i}", "z": z, "level": level,
                    "method": method, "setting": setting, "frame": t, "phase": t / FRAMES,
                    "dice": 1.0 - 0.2 * s, "area_change": -amp * 0.2 * s,
                    "radial_strain": amp * s, "circ_strain": -0.6 * amp * s,
                    "mean_det_j": 1.0 - amp * 0.2 * s, "abs_det_j_minus_1": amp * 0.2 * s,
                    "fold_fraction": 0.0, "radial_strain_gt": np.nan, "circ_strain_gt": np.nan,
                })  # fmt: skip
    return rows


@pytest.fixture()
def inputs(tmp_path):
    metrics, curves = [], []
    for m in DICE:
        metrics += _metric_rows("comparison", m, SETTING[m], DICE[m], gt=True)
        curves += _curve_rows("comparison", m, SETTING[m], 0.3 if m == "l2" else 0.2)
    for a in ALPHAS:
        metrics += _metric_rows("alpha_sweep", "binn", f"alpha={a:g}", 0.7, gt=True)
        curves += _curve_rows("alpha_sweep", "binn", f"alpha={a:g}", 0.1 + 20 * a)
    for m in ("l2", "binn"):
        metrics += _metric_rows("generalisation", m, SETTING[m], DICE[m] - 0.1, gt=False)
    pd.DataFrame(metrics, columns=list(METRIC_COLUMNS)).to_csv(tmp_path / "m.csv", index=False)
    pd.DataFrame(curves, columns=list(CURVE_COLUMNS)).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"case": ["synth_0003"], "reason": ["Newton did not converge"]}).to_csv(
        tmp_path / "failed.csv", index=False
    )
    sel = {"method": "binn", "setting": "alpha=0.001", "params": {"alpha": 0.001}, "target": 0.1,
           "candidates": [{"setting": "alpha=0.001", "mean_abs_det_j_minus_1": 0.11, "dice": 0.8},
                          {"setting": "alpha=0.005", "mean_abs_det_j_minus_1": 0.05,
                           "dice": 0.7}]}  # fmt: skip
    (tmp_path / "sel.json").write_text(json.dumps(sel))
    return tmp_path


EXPECTED = {
    "table1_comparison.csv", "table1_comparison.md", "table2_strain.csv", "table2_strain.md",
    "table3_generalisation.csv", "table3_generalisation.md", "table_alpha_sweep.csv",
    "table_alpha_sweep.md", "selections.csv", "selections.md", "failed_cases.csv",
    "failed_cases.md", "fig2_alpha_sweep.png", "fig3_detj_cycle.png",
}  # fmt: skip


def test_report_writes_fixed_files_with_computed_numbers(inputs):
    out = inputs / "report"
    written = build_report([inputs / "m.csv"], [inputs / "c.csv"], [inputs / "failed.csv"],
                           [inputs / "sel.json"], out, inputs / "summary.md")  # fmt: skip
    assert {p.name for p in written} == EXPECTED | {"summary.md"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)

    t1 = pd.read_csv(out / "table1_comparison.csv")
    binn_mid = t1[(t1.method == "binn") & (t1.level == "mid")].iloc[0]
    assert binn_mid.dice_mean == pytest.approx(0.85)  # 0.75 + mean(0, .1, .2)
    assert binn_mid.dice_std == pytest.approx(0.1)
    assert binn_mid.n_subjects == 3
    assert binn_mid.epe_mm_mean == pytest.approx(2.0)
    none = t1[t1.method == "none"]
    assert set(none.level) == {"apical", "mid", "basal", "all"}
    assert none.dice_mean.to_numpy() == pytest.approx(0.6)
    assert none.abs_det_j_minus_1_mean.isna().all()  # not computed for no registration
    assert list(t1.level.drop_duplicates()) == ["apical", "mid", "basal", "all"]
    md = (out / "table1_comparison.md").read_text()
    assert "0.850 (0.100)" in md and "no registration" in md and "BINN (binn) [alpha=0.001]" in md

    t2 = pd.read_csv(out / "table2_strain.csv")
    ref = t2[t2.method == REFERENCE_LABEL].set_index("level")
    for level, (rr, cc) in PAPER_REFERENCE_STRAIN_PCT.items():
        assert ref.loc[level, "peak_radial_strain_mean_pct"] == pytest.approx(rr)
        assert ref.loc[level, "peak_circ_strain_mean_pct"] == pytest.approx(cc)
    l2_mid = t2[(t2.method == "l2") & (t2.level == "mid")].iloc[0]
    assert l2_mid.peak_radial_strain_mean_pct == pytest.approx(30.0)
    gt_all = t2[(t2.method == "ground truth") & (t2.level == "all")].iloc[0]
    assert gt_all.peak_circ_strain_mean_pct == pytest.approx(-18.0)
    assert "quoted" in (out / "table2_strain.md").read_text()

    t3 = pd.read_csv(out / "table3_generalisation.csv")
    assert set(t3.method) == {"none", "l2", "binn"}
    assert t3[(t3.method == "l2") & (t3.level == "all")].dice_mean.iloc[0] == pytest.approx(0.7)

    sweep = pd.read_csv(out / "table_alpha_sweep.csv")
    assert len(sweep) == len(ALPHAS) and set(sweep.level) == {"all"}

    sel = pd.read_csv(out / "selections.csv")
    assert sel[sel.selected].setting.tolist() == ["alpha=0.001"]
    assert "Newton did not converge" in (out / "failed_cases.md").read_text()
    summary = (inputs / "summary.md").read_text()
    assert "report/fig2_alpha_sweep.png" in summary and "0.850 (0.100)" in summary
    assert "Failed simulation cases: 1" in summary and "(subject s0)" in summary


def test_report_with_missing_experiments_and_values(inputs):
    m = pd.read_csv(inputs / "m.csv")
    only = m[(m.experiment == "generalisation")]
    only.to_csv(inputs / "g.csv", index=False)
    out = inputs / "r2"
    written = build_report([inputs / "g.csv"], [], [], [], out)
    assert {p.name for p in written} == EXPECTED | {"summary.md"}
    assert "No rows of experiment 'comparison'" in (out / "table1_comparison.md").read_text()
    md = (out / "table3_generalisation.md").read_text()
    assert "EPE" not in md  # no ground truth: column absent, not zeros
    assert "—" in md  # |det J - 1| of no registration is missing
    with pytest.raises(BinnInputError):
        build_report([inputs / "missing.csv"], [], [], [], out)


def test_aggregate_is_mean_over_subjects_of_slice_means():
    rows = pd.DataFrame({
        "method": "l2", "setting": "lam=1", "subject": ["a", "a", "b"],
        "level": ["mid", "mid", "mid"], "dice": [0.2, 0.4, 0.9],
    })  # fmt: skip
    agg = aggregate(rows, ["dice"]).set_index("level")
    assert agg.loc["mid", "dice_mean"] == pytest.approx(0.6)  # mean(0.3, 0.9), not 0.5
    assert agg.loc["mid", "dice_std"] == pytest.approx(np.std([0.3, 0.9], ddof=1))
    assert agg.loc["all", "n_subjects"] == 2


def test_figures_accept_settings_without_alpha(tmp_path):
    from analysis.figures import alpha_sweep_figure, pick_detj_subject

    rows = pd.DataFrame(_curve_rows("alpha_sweep", "binn", "default", 0.2)
                        + _curve_rows("alpha_sweep", "binn", "alpha=0.1", 0.1))  # fmt: skip
    assert alpha_sweep_figure(rows, tmp_path / "f.png").stat().st_size > 0
    assert pick_detj_subject(rows) is None  # no l2 curves
    both = pd.concat([rows, pd.DataFrame(_curve_rows("comparison", "l2", "lam=1", 0.1))])
    assert pick_detj_subject(both) == "s0"


def test_markdown_and_csv_keep_missing_values_missing(tmp_path):
    from analysis.tables_io import read_csvs, to_markdown, write_table

    table = pd.DataFrame({"|det J - 1|": [0.1, np.nan], "method": ["a|b", None]})
    md = to_markdown(table)
    assert md.splitlines()[0] == "| \\|det J - 1\\| | method |"
    assert md.splitlines()[3] == "| — | — |"
    write_table(tmp_path, "t", table, "# title")
    back = read_csvs([tmp_path / "t.csv"], ["method"])
    assert back.isna().to_numpy().tolist() == [[False, False], [True, True]]
    assert (tmp_path / "t.md").read_text().startswith("# title\n\n| ")
