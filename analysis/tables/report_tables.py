"""The report's tables, computed from ``binn evaluate`` metrics (Tables 1-3 of the paper's kind).

Aggregation (every table): within one subject the slices of a level are averaged, then
the mean and the sample standard deviation over subjects are reported ("mean (std) over
subjects"); level ``all`` pools every evaluable slice. Missing values (NaN) are left out of
means; a cell with no value at all stays missing (``—`` in Markdown, empty in CSV).

"No registration" is the ES myocardium compared with the ED myocardium as it is (the
``*_before`` columns). The tagged-MRI reference strains are the only constants: they are
quoted from the paper's Table 2 ("Reference [11]", kept with the other published values in
:mod:`binn.analysis.measures.reference`) and labelled as such.

Dice is given both ways (:func:`with_es_variants`): ``dice`` over every slice pair, where a
pair whose ES slice holds no myocardium (the base moved out of the slice) counts as 0, and
``dice_es`` without such pairs, as the paper's tables count; ``n_empty_es`` says how many
pairs of a row have no ES myocardium. Every caption says which Dice a table shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from binn.analysis.measures.evaluate import ES_EMPTY_NOTE
from binn.analysis.measures.reference import (
    PAPER_REFERENCE_LABEL,
    PAPER_REFERENCE_STRAIN_PCT,
)
from binn.analysis.tables.labels import mean_std, method_label
from binn.vocabulary import NO_REGISTRATION, table_order

LEVEL_ORDER = ("apical", "mid", "basal", "all")
GROUND_TRUTH = "ground truth"
REFERENCE_LABEL = PAPER_REFERENCE_LABEL
ACCURACY_COLUMNS = ("mcd_mm", "dice", "dice_es", "hd_mm", "abs_det_j_minus_1", "fold_fraction",
                    "epe_mm")  # fmt: skip
DICE_LABEL, DICE_ES_LABEL, EMPTY_ES_LABEL = "Dice", "Dice excl. empty ES", "Empty ES"


def es_empty(metrics: pd.DataFrame) -> pd.Series:
    """Rows (slice pairs with ED myocardium) whose ES slice holds no myocardium: the
    ``es_myocardium`` column where it is known (0), else ``binn evaluate``'s note."""
    empty = pd.Series(False, index=metrics.index)
    known = pd.Series(False, index=metrics.index)
    if "es_myocardium" in metrics.columns:
        flag = pd.to_numeric(metrics["es_myocardium"], errors="coerce")
        known = flag.notna()
        empty = known & (flag == 0)
    if "note" in metrics.columns:
        noted = metrics["note"].fillna("").astype(str).str.contains(ES_EMPTY_NOTE, regex=False)
        empty = empty | (~known & noted)
    return empty & metrics["level"].notna()


def with_es_variants(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` plus ``es_empty`` (bool), ``dice_es`` (``dice`` with the empty-ES pairs
    left out, NaN there) and, where ``dice_before`` exists, ``dice_before_es`` likewise."""
    empty = es_empty(metrics)
    out = metrics.assign(es_empty=empty)
    if "dice" in out.columns:
        out["dice_es"] = out["dice"].where(~empty)
    if "dice_before" in out.columns:
        out["dice_before_es"] = out["dice_before"].where(~empty)
    return out


def empty_es_counts(metrics: pd.DataFrame) -> pd.Series:
    """Pairs without ES myocardium per ``(method, setting, level)`` (level ``all`` pools)."""
    rows = with_es_variants(metrics)
    rows = rows[rows["level"].notna()].copy()
    rows["setting"] = rows["setting"].fillna("").astype(str)
    rows = pd.concat([rows, rows.assign(level="all")], ignore_index=True)
    return rows.groupby(["method", "setting", "level"], sort=False)["es_empty"].sum()


def dice_caption(metrics: pd.DataFrame) -> str:
    """The sentence every table with Dice carries: which pairs its Dice counts, and how many
    pairs (over every method and level-``all`` row) have no ES myocardium."""
    rows = metrics[metrics["level"].notna()]
    per_pair = rows.drop_duplicates(subset=["subject", "z"]) if len(rows) else rows
    n_empty = int(es_empty(per_pair).sum()) if len(per_pair) else 0
    return (
        f"Dice counts every slice pair; the {n_empty} of {len(per_pair)} pairs whose ES slice "
        "holds no myocardium (the base moved out of the slice) enter it as 0"
    )


def _method_rank(method: str) -> tuple[int, str]:
    """Sort key of a method in the tables: :func:`binn.vocabulary.table_order`, then others
    by name."""
    order = table_order()
    return (order.index(method), "") if method in order else (len(order), method)


def no_registration_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """One 'no registration' row per subject x slice from the ``*_before`` columns."""
    before = metrics.drop_duplicates(subset=["subject", "z"]).copy()
    before = before.assign(
        method=NO_REGISTRATION,
        setting="",
        dice=before["dice_before"],
        mcd_mm=before["mcd_before_mm"],
        hd_mm=before["hd_before_mm"],
    )
    for col in ("abs_det_j_minus_1", "fold_fraction", "epe_mm"):
        before[col] = np.nan
    return before


def _with_counts(agg: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """``agg`` with ``n_empty_es`` per (method, setting, level) of ``metrics``."""
    counts = empty_es_counts(metrics).rename("n_empty_es").reset_index()
    out = agg.merge(counts, on=["method", "setting", "level"], how="left", sort=False)
    out["n_empty_es"] = out["n_empty_es"].fillna(0).astype(int)
    return out


def aggregate(metrics: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mean and std over subjects of the per-subject level means.

    ``metrics``: rows per subject x slice with ``method``, ``setting``, ``level``,
    ``subject`` and ``columns``. Returns one row per (method, setting, level) with
    ``n_subjects``, ``n_slices`` (evaluable slices pooled) and ``{col}_mean``/``{col}_std``
    for every column (levels ordered apical, mid, basal, all; methods in the paper's order).
    """
    rows = metrics[metrics["level"].notna()].copy()
    rows["setting"] = rows["setting"].fillna("").astype(str)
    rows = pd.concat([rows, rows.assign(level="all")], ignore_index=True)
    keys = ["method", "setting", "level"]
    per_subject = rows.groupby([*keys, "subject"], sort=False)[list(columns)].mean()
    grouped = per_subject.groupby(level=keys, sort=False)
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std"))
    out["n_subjects"] = grouped.size()
    out["n_slices"] = rows.groupby(keys, sort=False).size()
    out = out.reset_index()
    out["_level"] = out["level"].map(LEVEL_ORDER.index)
    out["_method"] = out["method"].map(_method_rank)
    out = out.sort_values(["_level", "_method", "setting"]).drop(columns=["_level", "_method"])
    ordered = [c for col in columns for c in (f"{col}_mean", f"{col}_std")]
    return out[[*keys, "n_subjects", "n_slices", *ordered]].reset_index(drop=True)


def _display(agg: pd.DataFrame, spec: Sequence[tuple[str, str, float, int]]) -> pd.DataFrame:
    """Markdown view: Level, Method, then ``label`` = mean ± std of ``col`` x ``scale``,
    then the numbers of subjects and slices behind each row."""
    out = pd.DataFrame({
        "Level": agg["level"],
        "Method": [method_label(m, s) for m, s in zip(agg["method"], agg["setting"], strict=True)],
    })  # fmt: skip
    for label, col, scale, digits in spec:
        out[label] = [
            mean_std(m * scale, s * scale, digits)
            for m, s in zip(agg[f"{col}_mean"], agg[f"{col}_std"], strict=True)
        ]
    out["Subjects"] = agg["n_subjects"].astype("Int64")
    out["Slices"] = agg["n_slices"].astype("Int64")
    if "n_empty_es" in agg.columns:
        out[EMPTY_ES_LABEL] = agg["n_empty_es"].astype("Int64")
    return out.dropna(axis=1, how="all")


def comparison_table(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1 style: MCD, Dice (both ways), |det J - 1| (+ HD, folds, EPE) per level and
    method, with the pairs without ES myocardium counted (``n_empty_es``).

    Returns ``(csv_table, markdown_view)``; includes the 'no registration' rows.
    """
    rows = with_es_variants(pd.concat([no_registration_rows(metrics), metrics], ignore_index=True))
    agg = _with_counts(aggregate(rows, ACCURACY_COLUMNS), rows)
    view = _display(
        agg,
        [
            ("MCD (mm)", "mcd_mm", 1.0, 3),
            (DICE_LABEL, "dice", 1.0, 3),
            (DICE_ES_LABEL, "dice_es", 1.0, 3),
            ("|det J - 1|", "abs_det_j_minus_1", 1.0, 3),
            ("HD (mm)", "hd_mm", 1.0, 2),
            ("folds (%)", "fold_fraction", 100.0, 2),
            ("EPE (mm)", "epe_mm", 1.0, 3),
        ],
    )
    return agg, view


def strain_table(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2 style: peak radial (RR) and circumferential (CC) strain in % per level.

    Rows: every method, the phantoms' ground truth (when ``motion`` existed) and the
    paper's quoted tagged-MRI reference. Strain values are percent (x100).
    """
    cols = ("peak_radial_strain", "peak_circ_strain", "radial_strain_error", "circ_strain_error")
    agg = aggregate(metrics, cols)
    gt_rows = metrics.drop_duplicates(subset=["subject", "z"]).assign(
        method=GROUND_TRUTH,
        setting="",
        peak_radial_strain=lambda d: d["peak_radial_strain_gt"],
        peak_circ_strain=lambda d: d["peak_circ_strain_gt"],
        radial_strain_error=np.nan,
        circ_strain_error=np.nan,
    )
    gt = aggregate(gt_rows, cols)
    gt = gt[gt["peak_radial_strain_mean"].notna() | gt["peak_circ_strain_mean"].notna()]
    ref = pd.DataFrame([
        {"method": PAPER_REFERENCE_LABEL, "setting": "", "level": level, "n_subjects": np.nan,
         "n_slices": np.nan, "peak_radial_strain_mean": rr / 100.0,
         "peak_circ_strain_mean": cc / 100.0}
        for level, (rr, cc) in PAPER_REFERENCE_STRAIN_PCT.items()
    ])  # fmt: skip
    table = pd.concat([agg, gt, ref], ignore_index=True)
    table["_level"] = table["level"].map(LEVEL_ORDER.index)
    table = table.sort_values("_level", kind="stable").drop(columns="_level")
    table = table.reset_index(drop=True)
    for col in cols:
        for stat in ("mean", "std"):
            table[f"{col}_{stat}_pct"] = 100.0 * table[f"{col}_{stat}"]
    csv = table[["method", "setting", "level", "n_subjects", "n_slices"]].join(
        table[[f"{c}_{s}_pct" for c in cols for s in ("mean", "std")]]
    )
    view = _display(
        table,
        [
            ("RR (%)", "peak_radial_strain", 100.0, 1),
            ("CC (%)", "peak_circ_strain", 100.0, 1),
            ("RR error (%)", "radial_strain_error", 100.0, 1),
            ("CC error (%)", "circ_strain_error", 100.0, 1),
        ],
    )
    return csv, view


def generalisation_table(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 style: MCD and Dice both ways (+ |det J - 1|) per level on the unseen data
    set, with the pairs without ES myocardium counted, per training domain of the networks
    (``trained_on``, e.g. phantom / synthetic; one unnamed domain where the column is
    absent) beside no registration."""
    spec = [
        ("MCD (mm)", "mcd_mm", 1.0, 3),
        (DICE_LABEL, "dice", 1.0, 3),
        (DICE_ES_LABEL, "dice_es", 1.0, 3),
        ("|det J - 1|", "abs_det_j_minus_1", 1.0, 3),
    ]
    if "trained_on" not in metrics.columns:
        metrics = metrics.assign(trained_on="")
    blocks = [("", no_registration_rows(metrics))]
    blocks += [(str(d), rows) for d, rows in metrics.groupby("trained_on", sort=False)]
    aggs, views = [], []
    for domain, rows in blocks:
        rows = with_es_variants(rows)
        agg = _with_counts(aggregate(rows, [c for _, c, _, _ in spec]), rows)
        view = _display(agg, spec)
        if metrics["trained_on"].astype(bool).any():
            agg.insert(0, "trained_on", domain)
            view.insert(1, "Trained on", domain or "—")
        aggs.append(agg)
        views.append(view)
    agg, view = pd.concat(aggs, ignore_index=True), pd.concat(views, ignore_index=True)
    order = agg["level"].map(LEVEL_ORDER.index).sort_values(kind="stable").index
    return agg.loc[order].reset_index(drop=True), view.loc[order].reset_index(drop=True)


def alpha_sweep_table(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 2 companion: per alpha, accuracy (Dice both ways), volume preservation and peak
    strain (level all), with the pairs without ES myocardium counted."""
    cols = ("dice", "dice_es", "mcd_mm", "abs_det_j_minus_1", "fold_fraction",
            "peak_radial_strain", "peak_circ_strain", "epe_mm")  # fmt: skip
    rows = with_es_variants(metrics)
    agg = _with_counts(aggregate(rows, cols), rows)
    agg = agg[agg["level"] == "all"].reset_index(drop=True)
    view = _display(
        agg,
        [
            (DICE_LABEL, "dice", 1.0, 3),
            (DICE_ES_LABEL, "dice_es", 1.0, 3),
            ("MCD (mm)", "mcd_mm", 1.0, 3),
            ("|det J - 1|", "abs_det_j_minus_1", 1.0, 3),
            ("folds (%)", "fold_fraction", 100.0, 2),
            ("RR (%)", "peak_radial_strain", 100.0, 1),
            ("CC (%)", "peak_circ_strain", 100.0, 1),
            ("EPE (mm)", "epe_mm", 1.0, 3),
        ],
    )
    return agg, view.drop(columns="Level")


def selections_table(selections: Sequence[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per candidate setting of every selection; ``selected`` marks the choice.

    Returns ``(csv_table, markdown_view)``. Means and stds are over the validation slices the
    selection rule averages (``binn select``); files written before the std and subject
    counts were recorded show them missing.
    """
    keys = ("mean_abs_det_j_minus_1", "abs_det_j_minus_1_std", "dice", "dice_std",
            "n_subjects", "n_slices")  # fmt: skip
    rows = []
    for sel in selections:
        cands = sel.get("candidates") or [{"setting": sel["setting"]}]
        for cand in cands:
            rows.append({
                "method": sel["method"], "setting": cand["setting"],
                "selected": cand["setting"] == sel["setting"], "target": sel.get("target"),
                **{k: _num(cand.get(k)) for k in keys},
            })  # fmt: skip
    csv = pd.DataFrame(rows, columns=["method", "setting", "selected", "target", *keys])
    view = pd.DataFrame({
        "Method": [method_label(m, s) for m, s in zip(csv["method"], csv["setting"], strict=True)],
        "selected": ["yes" if s else "" for s in csv["selected"]],
        "target": csv["target"],
        "mean |det J - 1|": [mean_std(m, s) for m, s in
                             zip(csv["mean_abs_det_j_minus_1"], csv["abs_det_j_minus_1_std"],
                                 strict=True)],
        "Dice": [mean_std(m, s) for m, s in zip(csv["dice"], csv["dice_std"], strict=True)],
        "Subjects": csv["n_subjects"].astype("Int64"),
        "Slices": csv["n_slices"].astype("Int64"),
    })  # fmt: skip
    return csv, view


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value is not True else np.nan
