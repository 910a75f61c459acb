"""Accuracy at equal regularity (binn.analysis.tables.regularity) on metrics with known
curves, and how settings are read as curve families (binn.analysis.tables.labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from binn.analysis.tables.labels import same_setting, setting_info
from binn.analysis.tables.regularity import (
    compare_at_equal_regularity,
    describe_pair,
    regularity_table,
)
from binn.errors import BinnInputError

OFFSETS = (-0.05, 0.05)  # per-subject Dice offsets: std over the two subjects = 0.0707


def _rows(method: str, setting: str, x: float, dice: float, slices: int = 2) -> list[dict]:
    """Two subjects x ``slices`` slices (+ one slice without myocardium per subject)."""
    rows = []
    for i, off in enumerate(OFFSETS):
        for z in range(slices):
            rows.append({
                "experiment": "validation", "subject": f"s{i}", "z": z, "level": "mid",
                "method": method, "setting": setting, "dice": dice + off,
                "mcd_mm": 2.0 - dice, "abs_det_j_minus_1": x + (0.01 if z else -0.01),
                "dice_before": 0.5 + off, "mcd_before_mm": 3.0,
            })  # fmt: skip
        rows.append({"experiment": "validation", "subject": f"s{i}", "z": slices,
                     "level": None, "method": method, "setting": setting})  # fmt: skip
    return rows


def _line(method: str, weight: str, xs, intercept: float, slope: float, extra: str = ""):
    return [
        r
        for k, x in enumerate(xs)
        for r in _rows(method, f"{weight}={k + 1}{extra}", x, intercept + slope * x)
    ]


@pytest.fixture()
def metrics() -> pd.DataFrame:
    rows = (
        _line("binn", "alpha", (0.1, 0.3), 0.75, 0.5)  # Dice = 0.75 + 0.5 x on [0.1, 0.3]
        + _line("l2", "lam", (0.2, 0.4), 0.5, 1.0)  # Dice = 0.5 + x on [0.2, 0.4]
        + _line("demons", "sigma", (0.5, 0.6), 0.9, 0.0)  # no overlap with binn
        + _line("binn", "alpha", (0.15, 0.35), 0.80, 0.5, ",refine=50")  # its own curve
    )
    return pd.DataFrame(rows)


def test_setting_info_reads_refinement_as_its_own_family():
    info = setting_info("binn", "alpha=0.01,refine=50")
    assert (info.family, info.base, info.refine) == ("binn+refine50", "alpha=0.01", 50)
    assert info.label == "BINN (binn+refine50) [alpha=0.01]"
    slug = setting_info("binn", "alpha=0.01+refine=50")
    assert (slug.family, slug.params) == ("binn+refine50", {"alpha": 0.01})
    assert setting_info("binn", "alpha=1e+3").params == {"alpha": 1000.0}  # '+' of a number
    plain = setting_info("ffd", "default")
    assert (plain.family, plain.params, plain.base) == ("ffd", {}, "default")
    assert setting_info("l2", "lam=0.1,refine=0").family == "l2"
    with pytest.raises(BinnInputError, match="refine"):
        setting_info("binn", "alpha=0.01,refine=2.5")
    assert same_setting(setting_info("binn", "alpha=1e-3"), setting_info("binn", "alpha=0.001"))
    assert not same_setting(
        setting_info("binn", "alpha=0.001"), setting_info("binn", "alpha=0.001,refine=50")
    )


def test_regularity_table_means_over_subjects_and_counts(metrics):
    table = regularity_table(metrics, [setting_info("l2", "lam=1")])
    assert table["family"].iloc[0] == "none"  # no registration first, no |det J - 1|
    assert np.isnan(table["abs_det_j_minus_1_mean"].iloc[0])
    assert table["dice_mean"].iloc[0] == pytest.approx(0.5)
    fams = list(dict.fromkeys(table["family"][1:]))
    assert fams == ["binn", "binn+refine50", "l2", "demons"]  # by their most regular setting
    row = table[(table.family == "l2") & (table.setting == "lam=1")].iloc[0]
    assert row.selected and table["selected"].sum() == 1
    assert row.abs_det_j_minus_1_mean == pytest.approx(0.2)
    assert row.dice_mean == pytest.approx(0.7)
    assert row.dice_std == pytest.approx(np.std([0.65, 0.75], ddof=1))
    assert (row.n_subjects, row.n_slices) == (2, 4)  # slices without myocardium not counted
    refined = table[table.family == "binn+refine50"]
    assert list(refined["base"]) == ["alpha=1", "alpha=2"]


def test_equal_regularity_interpolates_inside_the_overlap_only(metrics):
    pairs = compare_at_equal_regularity(metrics, target=0.22).set_index(["family_a", "family_b"])
    bl = pairs.loc[("binn", "l2")]
    assert bl.status == "compared" and bl.x_rule == "target"
    assert (bl.overlap_lo, bl.overlap_hi) == pytest.approx((0.2, 0.3))
    assert bl.dice_a_mean == pytest.approx(0.75 + 0.5 * 0.22)
    assert bl.dice_b_mean == pytest.approx(0.5 + 0.22)
    assert bl.dice_a_std == pytest.approx(np.std(OFFSETS, ddof=1))
    assert bl.dice_diff_mean == pytest.approx(0.25 - 0.5 * 0.22)
    assert bl.dice_diff_std == pytest.approx(0.0, abs=1e-12)  # paired: offsets cancel
    assert bl.dice_diff_n == 2
    assert bl.mcd_mm_diff_mean == pytest.approx(-bl.dice_diff_mean)
    assert bl.dice_over_overlap == "binn better"
    assert bl.mcd_mm_over_overlap == "binn better"  # lower MCD
    # the two curves cover no common |det J - 1|: never extrapolated
    bd = pairs.loc[("binn", "demons")]
    assert bd.status == "no overlap" and np.isnan(bd.x_star) and np.isnan(bd.dice_a_mean)
    # a target outside the overlap is not used: the overlap's midpoint is
    mid = compare_at_equal_regularity(metrics, target=0.35).set_index(["family_a", "family_b"])
    assert mid.loc[("binn", "l2"), "x_rule"] == "overlap midpoint"
    assert mid.loc[("binn", "l2"), "x_star"] == pytest.approx(0.25)


def test_interpolation_is_exact_at_a_measured_setting_and_detects_crossing():
    rows = (
        _line("binn", "alpha", (0.1, 0.2, 0.3), 0.6, 1.0)
        + _line("l2", "lam", (0.1, 0.3), 0.95, -1.0)  # crosses binn at x = 0.175
    )
    pairs = compare_at_equal_regularity(pd.DataFrame(rows), target=0.2)
    row = pairs.iloc[0]
    assert row.dice_a_mean == pytest.approx(0.8)  # the alpha=2 point itself
    assert row.dice_b_mean == pytest.approx(0.75)
    assert row.dice_over_overlap == "crosses"


def test_sentences_say_which_metric_favours_which():
    a = {"dice": (0.9, 0.01, 4), "mcd_mm": (1.0, 0.1, 4), "abs_det_j_minus_1": (0.1, 0.0, 4)}
    b = {"dice": (0.8, 0.02, 4), "mcd_mm": (0.8, 0.1, 4), "abs_det_j_minus_1": (0.2, 0.0, 4)}
    text = describe_pair("binn", a, "l2", b, ["dice", "mcd_mm"])
    assert "more accurate" not in text
    assert "Dice favours binn (0.900 ± 0.010, n=4 vs 0.800 ± 0.020, n=4)" in text
    assert "MCD favours l2" in text and "|det J - 1| is lower for binn" in text
    better = {**a, "mcd_mm": (0.5, 0.1, 4)}
    assert describe_pair("binn", better, "l2", b, ["dice", "mcd_mm"]).startswith(
        "binn is more accurate than l2"
    )
    # better on every metric but less regular: not "more accurate"
    looser = {**better, "abs_det_j_minus_1": (0.3, 0.0, 4)}
    assert "more accurate" not in describe_pair("binn", looser, "l2", b, ["dice", "mcd_mm"])
