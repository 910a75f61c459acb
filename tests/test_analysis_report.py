"""``binn report`` on metrics/curves tables with known values (no pipeline)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from binn.analysis.measures.evaluate import CURVE_COLUMNS, METRIC_COLUMNS
from binn.analysis.rendering.report import build_report
from binn.analysis.tables.report_tables import (
    PAPER_REFERENCE_STRAIN_PCT,
    REFERENCE_LABEL,
    aggregate,
)
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
    "failed_cases.md", "fig2_alpha_sweep.png", "fig3_detj_cycle.png", "fig_regularity.png",
    "regularity_pairs.csv", "regularity_pairs.md", "split.csv", "split.md",
    "strain_pages.csv", "strain_pages.md", "strain_segments.csv", "strain_segments.md",
    "strain_groups.csv", "strain_groups.md", "strain_index.html",
}  # fmt: skip


def test_report_writes_fixed_files_with_computed_numbers(inputs):
    out = inputs / "report"
    written = build_report([inputs / "m.csv"], [inputs / "c.csv"], [inputs / "failed.csv"],
                           [inputs / "sel.json"], out, inputs / "summary.md")  # fmt: skip
    sweep_files = {"regularity_alpha_sweep.csv", "regularity_alpha_sweep.md"}
    assert {p.name for p in written} == EXPECTED | sweep_files | {"summary.md"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)

    t1 = pd.read_csv(out / "table1_comparison.csv")
    binn_mid = t1[(t1.method == "binn") & (t1.level == "mid")].iloc[0]
    assert binn_mid.dice_mean == pytest.approx(0.85)  # 0.75 + mean(0, .1, .2)
    assert binn_mid.dice_std == pytest.approx(0.1)
    assert binn_mid.n_subjects == 3
    assert binn_mid.n_slices == 6  # 3 subjects x 2 mid slices
    assert binn_mid.epe_mm_mean == pytest.approx(2.0)
    none = t1[t1.method == "none"]
    assert set(none.level) == {"apical", "mid", "basal", "all"}
    assert none.dice_mean.to_numpy() == pytest.approx(0.6)
    assert none.abs_det_j_minus_1_mean.isna().all()  # not computed for no registration
    assert list(t1.level.drop_duplicates()) == ["apical", "mid", "basal", "all"]
    md = (out / "table1_comparison.md").read_text()
    assert "0.850 ± 0.100" in md and "no registration" in md and "BINN (binn) [alpha=0.001]" in md
    assert "| Subjects | Slices |" in md

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
    assert sel.mean_abs_det_j_minus_1.tolist() == pytest.approx([0.11, 0.05])
    assert "Newton did not converge" in (out / "failed_cases.md").read_text()
    summary = (inputs / "summary.md").read_text()
    assert "report/fig2_alpha_sweep.png" in summary and "0.850 ± 0.100" in summary
    assert "report/fig_regularity.png" in summary and "git commit" in summary
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
    with pytest.raises(BinnInputError, match="validation"):
        build_report([inputs / "g.csv"], [], [], [], out, regularity_panels=["validation"])


def test_regularity_panels_default_to_experiments_with_several_settings():
    from binn.analysis.rendering.report import regularity_experiments

    rows = pd.DataFrame({
        "experiment": ["comparison", "test_sweep", "test_sweep", "validation", "validation"],
        "method": ["binn", "l2", "l2", "binn", "binn"],
        "setting": ["alpha=0.01", "lam=0.1", "lam=1", "alpha=0.01", "alpha=0.1"],
    })  # fmt: skip
    assert regularity_experiments(rows) == ["validation", "test_sweep"]


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
    from binn.analysis.rendering.figures import alpha_sweep_figure, pick_detj_subject

    rows = pd.DataFrame(_curve_rows("alpha_sweep", "binn", "default", 0.2)
                        + _curve_rows("alpha_sweep", "binn", "alpha=0.1", 0.1))  # fmt: skip
    assert alpha_sweep_figure(rows, tmp_path / "f.png").stat().st_size > 0
    assert pick_detj_subject(rows) is None  # no l2 curves
    both = pd.concat([rows, pd.DataFrame(_curve_rows("comparison", "l2", "lam=1", 0.1))])
    assert pick_detj_subject(both) == "s0"


def test_markdown_and_csv_keep_missing_values_missing(tmp_path):
    from binn.analysis.tables.io import read_csvs, to_markdown, write_table

    table = pd.DataFrame({"|det J - 1|": [0.1, np.nan], "method": ["a|b", None]})
    md = to_markdown(table)
    assert md.splitlines()[0] == "| \\|det J - 1\\| | method |"
    assert md.splitlines()[3] == "| — | — |"
    write_table(tmp_path, "t", table, "# title")
    back = read_csvs([tmp_path / "t.csv"], ["method"])
    assert back.isna().to_numpy().tolist() == [[False, False], [True, True]]
    assert (tmp_path / "t.md").read_text().startswith("# title\n\n| ")


VAL_SETTINGS = {  # method -> [(setting, mean |det J - 1|, Dice)]
    "binn": [("alpha=0.001", 0.30, 0.80), ("alpha=0.01", 0.10, 0.70)],
    "l2": [("lam=0.01", 0.25, 0.70), ("lam=0.1", 0.05, 0.60)],
    "demons": [("sigma=1", 0.20, 0.72), ("sigma=2", 0.12, 0.68)],
    "ffd": [("grid=8,penalty=0.1", 0.60, 0.85)],
}
REFINED = [("alpha=0.001,refine=50", 0.28, 0.86), ("alpha=0.01,refine=50", 0.09, 0.80)]


def _sweep_rows(experiment: str) -> list:
    rows = []
    runs = [(m, s, x, d) for m, v in VAL_SETTINGS.items() for s, x, d in v]
    runs += [("binn", s, x, d) for s, x, d in REFINED]
    for method, setting, x, d in runs:
        for row in _metric_rows(experiment, method, setting, d, gt=False):
            if row["level"] is not None:
                row["abs_det_j_minus_1"] = x
            rows.append(row)
    return rows


def _strain_folder(path, subject: str, method: str, radial: float) -> None:
    path.mkdir(parents=True)
    segs = [{"segment_id": k, "segment": f"seg {k}", "level": lvl, "n_pixels": 10,
             "peak_radial_strain": radial + 0.01 * k, "peak_circ_strain": -0.1,
             "peak_radial_strain_gt": 0.2, "peak_circ_strain_gt": -0.15}
            for k, lvl in ((1, "basal"), (2, "basal"), (7, "mid"), (13, "apical"))]  # fmt: skip
    segs.append({"segment_id": 14, "segment": "seg 14", "level": "apical", "n_pixels": 0,
                 "peak_radial_strain": None, "peak_circ_strain": None})  # fmt: skip
    obj = {"subject": subject, "method": method, "setting": "alpha=0.01", "segments": segs,
           "global": {"segment": "global", "level": "all"}}  # fmt: skip
    (path / "strain.json").write_text(json.dumps(obj))
    (path / "index.html").write_text("<html></html>")


def test_report_regularity_split_strain_and_provenance(inputs, tmp_path):
    rows = _sweep_rows("validation") + _sweep_rows("test_sweep")
    pd.DataFrame(rows, columns=list(METRIC_COLUMNS)).to_csv(tmp_path / "v.csv", index=False)
    sel = {"method": "binn", "setting": "alpha=0.01,refine=50", "target": 0.1,
           "candidates": [{"setting": s, "mean_abs_det_j_minus_1": x, "dice": d}
                          for s, x, d in REFINED]}  # fmt: skip
    (tmp_path / "sel_refined.json").write_text(json.dumps(sel))
    split = {"seed": 3, "train": ["p1", "p2", "p3"], "val": ["p4"], "test": ["p5", "p6"],
             "subjects": {f"p{i}": {"group": "DCM" if i % 2 else "NOR"} for i in range(1, 7)},
             "excluded": {"p7": "ED image identical to p1"}}  # fmt: skip
    (tmp_path / "split.json").write_text(json.dumps(split))
    strain = tmp_path / "strain"
    _strain_folder(strain / "s0", "s0", "binn", 0.3)
    _strain_folder(strain / "s1", "s1", "binn", 0.4)
    (tmp_path / "config.yaml").write_text("results: results\nregister:\n  binn: [alpha=0.01]\n")
    out = tmp_path / "report"
    written = build_report(
        [inputs / "m.csv", tmp_path / "v.csv"], [inputs / "c.csv"], [],
        [inputs / "sel.json", tmp_path / "sel_refined.json"], out, tmp_path / "summary.md",
        split=tmp_path / "split.json", strain_dirs=[strain], configs=[tmp_path / "config.yaml"],
    )  # fmt: skip
    names = {p.name for p in written}
    assert {"regularity_validation.csv", "regularity_test_sweep.md", "split_excluded.csv"} <= names

    reg = pd.read_csv(out / "regularity_validation.csv", keep_default_na=False, na_values=[""])
    refined = reg[reg.family == "binn+refine50"].set_index("base")
    assert refined.loc["alpha=0.01", "selected"] and refined["selected"].sum() == 1
    assert refined.loc["alpha=0.01", "abs_det_j_minus_1_mean"] == pytest.approx(0.09)
    assert refined.loc["alpha=0.01", "dice_mean"] == pytest.approx(0.90)  # 0.8 + mean(0,.1,.2)
    assert refined.loc["alpha=0.01", "n_slices"] == 18  # 3 subjects x 6 slices
    assert "BINN (binn+refine50)" in (out / "regularity_validation.md").read_text()

    pairs = pd.read_csv(out / "regularity_pairs.csv")
    bl = pairs[(pairs.experiment == "validation") & (pairs.family_a == "binn")
               & (pairs.family_b == "l2")].iloc[0]  # fmt: skip
    assert bl.status == "compared" and bl.x_star == pytest.approx(0.1)  # the target
    assert bl.dice_a_mean == pytest.approx(0.80)  # binn at alpha=0.01 itself
    assert bl.dice_b_mean == pytest.approx(0.60 + 0.10 * (0.1 - 0.05) / 0.20 + 0.1)
    ffd = pairs[(pairs.family_a == "ffd") | (pairs.family_b == "ffd")]
    assert set(ffd.status) == {"no overlap"}  # one point at 0.6, outside every other range

    split_md = (out / "split.md").read_text()
    assert "(seed 3)" in split_md and "ED image identical to p1" in split_md
    counts = pd.read_csv(out / "split.csv").set_index("group")
    assert counts.loc["DCM", "train"] == 2 and counts.loc["all", "total"] == 6

    seg = pd.read_csv(out / "strain_segments.csv")
    basal = seg[(seg.method == "binn") & (seg.level == "basal")].iloc[0]
    # per subject mean of segments 1, 2 (r + .01, r + .02), then over subjects (0.3, 0.4)
    assert basal.peak_radial_strain_mean_pct == pytest.approx(100 * (0.35 + 0.015))
    assert basal.n_subjects == 2 and basal.n_segments == 4
    apical = seg[(seg.method == "binn") & (seg.level == "apical")].iloc[0]
    assert apical.n_segments == 2  # the segment without pixels is left out
    assert (seg.method == REFERENCE_LABEL).sum() == 3
    gt = seg[(seg.method == "ground truth") & (seg.level == "all")].iloc[0]
    assert gt.peak_circ_strain_mean_pct == pytest.approx(-15.0)

    summary = (tmp_path / "summary.md").read_text()
    assert "config hash" in summary and "config.yaml" in summary and "git commit" in summary
    # one link to the index page (relative to summary.md), which links every page
    assert "2 strain pages: [index](report/strain_index.html)" in summary
    assert "strain/s0/index.html" not in summary
    index = (out / "strain_index.html").read_text()
    assert 'href="../strain/s0/index.html"' in index and (out / "../strain/s0/index.html").is_file()
    assert "validation, interpolated at mean |det J - 1| = 0.100 (target)" in summary
    assert "cover no common mean |det J - 1|: not compared" in summary
    # Table 1 of the fixture: binn has the higher Dice and lower MCD, equal HD and EPE:
    # not called "more accurate", each metric said
    at_selected = [ln for ln in summary.splitlines() if ln.startswith("- At the selected")]
    assert len(at_selected) == 3  # binn vs ffd, demons, l2
    assert not any("more accurate" in ln for ln in at_selected)
    assert all("Dice favours binn" in ln and "HD is equal" in ln for ln in at_selected)
    # at equal regularity the refined curve is better on Dice and MCD: that may be said
    assert "binn+refine50 is more accurate than binn: Dice favours binn+refine50" in summary
    assert "MCD: binn+refine50 better" in summary
    assert (out / "fig_regularity.png").stat().st_size > 10_000


# --- binn publish: the results page and the README block, from the report's summary.md ----

README_TEXT = """# binn

Intro.

<!-- results:start -->
an old table
<!-- results:end -->

## More
"""


@pytest.fixture()
def run(inputs):
    """A results folder as the workflow leaves it: summary.md from the report, config.yaml."""
    results = inputs / "results"
    results.mkdir()
    (results / "config.yaml").write_text("seed: 0\ngrid: {spacing_mm: 2.0, size: 64}\n")
    build_report([inputs / "m.csv"], [inputs / "c.csv"], [inputs / "failed.csv"],
                 [inputs / "sel.json"], results / "report", results / "summary.md",
                 configs=[results / "config.yaml"])  # fmt: skip
    return results


def test_publish_writes_the_page_and_one_compact_readme_table(run, tmp_path):
    from binn.analysis.rendering.results_page import END, START, markdown_table, publish
    from binn.analysis.tables.labels import method_label
    from binn.vocabulary import table_order

    page, readme = tmp_path / "docs" / "results.md", tmp_path / "README.md"
    readme.write_text(README_TEXT)
    assert publish(run, page, readme) == [page, readme]
    summary = (run / "summary.md").read_text()
    commit = summary.split("git commit `", 1)[1].split("`", 1)[0]
    text = page.read_text()
    for title in ("## Table 1 style", "## Table 2 style", "## Table 3 style"):
        assert title in text
    assert f"commit `{commit}`" in text and "grid 64 px × 2 mm" in text
    assert "config hash `" in text and "size: 64}" in text  # the configuration itself

    after = readme.read_text()
    before, block = after.split(START + "\n")
    block, rest = block.split(END)
    assert before + START + "\n" == README_TEXT.split("an old table")[0]  # untouched around
    assert rest == README_TEXT.split(END)[1]
    assert "an old table" not in block and f"commit `{commit}`" in block
    assert "(docs/results.md)" in block and "grid 64 px × 2 mm" in block
    table = markdown_table(block, "README")
    assert list(table.columns) == ["Method", "Dice", "Dice excl. empty ES", "Empty ES",
                                   "MCD (mm)", "|det J - 1|", "n (subjects)"]  # fmt: skip
    assert "pair whose ES slice holds no myocardium" in block
    expected = [method_label(m, SETTING.get(m)) for m in table_order()]
    assert list(table["Method"]) == expected  # the selected setting of every method, in order
    binn = table.iloc[-1]
    # level all: per subject 0.75 + 0.1 i over its six slices; mean and std over 3 subjects
    assert (binn["Dice"], binn["MCD (mm)"], binn["n (subjects)"]) == (
        "0.850 ± 0.100", "1.250 ± 0.000", "3"
    )  # fmt: skip
    assert publish(run, page, readme) and readme.read_text() == after  # same run, same text


def test_publish_refuses_a_readme_without_markers_or_a_summary_without_table1(run, inputs):
    from binn.analysis.rendering.results_page import publish

    readme = inputs / "README.md"
    readme.write_text("# binn\n\nno markers here\n")
    page = inputs / "results.md"
    with pytest.raises(BinnInputError, match=r"README\.md: needs one"):
        publish(run, page, readme)
    assert not page.exists() and readme.read_text() == "# binn\n\nno markers here\n"

    metrics = pd.read_csv(inputs / "m.csv")
    metrics[metrics.experiment != "comparison"].to_csv(inputs / "m.csv", index=False)
    build_report([inputs / "m.csv"], [], [], [], run / "report", run / "summary.md")
    with pytest.raises(BinnInputError, match=r"summary\.md: section 'Table 1 style.*no Markdown"):
        publish(run, page)
    assert not page.exists()


def test_table3_shows_each_training_domain_apart(tmp_path):
    """Networks trained on phantoms and on the synthetic cine, on the same unseen subjects
    with the same setting, stay two rows each (never averaged together)."""

    metrics = []
    for experiment, offset in (("generalisation", -0.1), ("synthetic_generalisation", 0.05)):
        for m in ("l2", "binn"):
            metrics += _metric_rows(experiment, m, SETTING[m], DICE[m] + offset, gt=False)
    pd.DataFrame(metrics, columns=list(METRIC_COLUMNS)).to_csv(tmp_path / "m.csv", index=False)
    build_report([tmp_path / "m.csv"], [], [], [], tmp_path / "r")
    t3 = pd.read_csv(tmp_path / "r" / "table3_generalisation.csv")
    binn_all = t3[(t3.method == "binn") & (t3.level == "all")].set_index("trained_on")
    assert binn_all.loc["phantom", "dice_mean"] == pytest.approx(0.75 - 0.1 + 0.1)
    assert binn_all.loc["synthetic", "dice_mean"] == pytest.approx(0.75 + 0.05 + 0.1)
    assert t3[t3.method == "none"].trained_on.isna().all()  # no registration: once, no domain
    assert len(t3[t3.method == "none"]) == 4  # one row per level
    md = (tmp_path / "r" / "table3_generalisation.md").read_text()
    assert "| Trained on |" in md and "synthetic" in md
    assert "the training phantoms and the FEM-driven synthetic cine" in md
