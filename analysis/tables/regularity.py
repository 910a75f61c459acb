"""Accuracy at equal regularity: each method's Dice and MCD against mean |det J - 1|.

A method is never judged at one selected point alone: over all of its settings evaluated in
one experiment (``validation``, a test sweep), each setting is one point

    x = mean |det J - 1| over the ED myocardium,   y = Dice (or MCD, mm),

both the mean over subjects of the per-subject mean over evaluable slices (the aggregation
of every report table, :func:`binn.analysis.tables.report_tables.aggregate`, level
``all``), with the standard deviation over subjects and the numbers of subjects and slices.

Curves are **families**: a method, and for network refinement (setting ``refine=N``,
N > 0) the method with its iteration count, e.g. ``binn+refine50`` across its alphas, so a
refined method is its own curve (:func:`binn.analysis.tables.labels.setting_info`).

Equal-regularity rule (:func:`compare_at_equal_regularity`), per experiment and pair of
families A, B, each curve being the piecewise-linear interpolant through its points
ordered by x:

1. The overlap is ``[max(min x_A, min x_B), min(max x_A, max x_B)]``. When it is empty the
   pair is **not compared** (no extrapolation, ever): status ``no overlap``.
2. The common x* is the selection target (mean |det J - 1| the settings were chosen at)
   when it lies inside the overlap, otherwise the overlap's midpoint.
3. Each family's value at x* is the linear interpolation between its two settings
   bracketing x*, with weights w from the mean curve. The same weights are applied to each
   subject's values at those two settings, so the interpolated value has a mean and a std
   over subjects (n = subjects evaluated at both settings); the difference A - B is paired
   over the subjects both families share.
4. Over the whole overlap the sign of the difference of the mean curves is checked at
   every breakpoint of either curve: ``A higher`` / ``B higher`` / ``crosses``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from binn.analysis.tables.labels import (
    SettingInfo,
    family_label,
    mean_std,
    same_setting,
    setting_info,
)
from binn.vocabulary import NO_REGISTRATION, PROPOSED_METHOD

X = "abs_det_j_minus_1"
CURVE_METRICS = ("dice", "mcd_mm")
HIGHER_IS_BETTER = {"dice": True, "mcd_mm": False, "hd_mm": False, "epe_mm": False, X: False}
METRIC_NAMES = {"dice": "Dice", "mcd_mm": "MCD", "hd_mm": "HD", "epe_mm": "EPE",
                X: "|det J - 1|"}  # fmt: skip


# --- per-setting table ------------------------------------------------------------------
def per_subject(
    metrics: pd.DataFrame, columns: Sequence[str] = (*CURVE_METRICS, X)
) -> pd.DataFrame:
    """Per-subject means over evaluable slices (level ``all``), one row per method x setting
    x subject, with ``n_slices`` (evaluable slices of that subject) and ``family``/``base``.
    """
    rows = metrics[metrics["level"].notna()].copy()
    rows["setting"] = rows["setting"].fillna("").astype(str)
    cols = [c for c in columns if c in rows.columns]
    grouped = rows.groupby(["method", "setting", "subject"], sort=False)
    out = grouped[cols].mean()
    out["n_slices"] = grouped.size()
    out = out.reset_index()
    infos = [setting_info(m, s) for m, s in zip(out["method"], out["setting"], strict=True)]
    out["family"] = [i.family for i in infos]
    out["base"] = [i.base for i in infos]
    out["refine"] = [i.refine for i in infos]
    return out


def regularity_table(metrics: pd.DataFrame, selected: Iterable[SettingInfo] = ()) -> pd.DataFrame:
    """One row per family x setting of one experiment's metrics (``binn evaluate`` rows).

    Columns: ``family, method, setting, refine, base, selected, n_subjects, n_slices``,
    ``{dice,mcd_mm,abs_det_j_minus_1}_{mean,std}`` (over subjects of per-subject means).
    A ``none`` row (no registration, from ``dice_before``/``mcd_before_mm``) comes first when
    those columns exist; its |det J - 1| is missing (the identity is not a tracking).
    Families are ordered by their lowest mean |det J - 1|, settings within one by it too.
    """
    selected = list(selected)
    subj = per_subject(metrics)
    if subj.empty:
        return pd.DataFrame()
    keys = ["family", "method", "setting", "refine", "base"]
    grouped = subj.groupby(keys, sort=False)
    cols = [c for c in (*CURVE_METRICS, X) if c in subj.columns]
    table = (
        grouped[cols].mean().add_suffix("_mean").join(grouped[cols].std(ddof=1).add_suffix("_std"))
    )
    table["n_subjects"] = grouped["subject"].nunique()
    table["n_slices"] = grouped["n_slices"].sum()
    table = table.reset_index()
    table["selected"] = [
        any(same_setting(setting_info(m, s), sel) for sel in selected)
        for m, s in zip(table["method"], table["setting"], strict=True)
    ]
    first = table.groupby("family")[f"{X}_mean"].transform("min")
    table = table.assign(_first=first).sort_values(["_first", "family", f"{X}_mean"])
    table = table.drop(columns="_first").reset_index(drop=True)
    if {"dice_before", "mcd_before_mm"} <= set(metrics.columns):
        none = _no_registration(metrics)
        table = pd.concat([none, table], ignore_index=True)
    ordered = [f"{c}_{s}" for c in cols for s in ("mean", "std")]
    return table[[*keys, "selected", "n_subjects", "n_slices", *ordered]]


def _no_registration(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = metrics[metrics["level"].notna()].drop_duplicates(subset=["subject", "z"])
    per = rows.groupby("subject")[["dice_before", "mcd_before_mm"]].mean()
    return pd.DataFrame([{
        "family": NO_REGISTRATION, "method": NO_REGISTRATION, "setting": "", "refine": 0,
        "base": "", "selected": False, "n_subjects": len(per), "n_slices": len(rows),
        "dice_mean": per["dice_before"].mean(), "dice_std": per["dice_before"].std(ddof=1),
        "mcd_mm_mean": per["mcd_before_mm"].mean(),
        "mcd_mm_std": per["mcd_before_mm"].std(ddof=1),
        f"{X}_mean": np.nan, f"{X}_std": np.nan,
    }])  # fmt: skip


def regularity_view(table: pd.DataFrame) -> pd.DataFrame:
    """Markdown view of :func:`regularity_table`: mean ± std, n subjects and slices."""
    if table.empty:
        return table
    view = pd.DataFrame({
        "Method": [family_label(f) for f in table["family"]],
        "Setting": [b or "—" for b in table["base"]],
        "selected": ["yes" if s else "" for s in table["selected"]],
    })  # fmt: skip
    for label, col in (("|det J - 1|", X), ("Dice", "dice"), ("MCD (mm)", "mcd_mm")):
        view[label] = [
            mean_std(m, s, 3)
            for m, s in zip(table[f"{col}_mean"], table[f"{col}_std"], strict=True)
        ]
    view["Subjects"] = table["n_subjects"].astype("Int64")
    view["Slices"] = table["n_slices"].astype("Int64")
    return view


# --- equal-regularity comparison ------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One family in one experiment: settings ordered by mean x, and per-subject values.

    ``x``: (K,) mean |det J - 1| per setting (increasing; settings at equal x are merged by
    averaging); ``values[metric]``: DataFrame subjects x K of per-subject means.
    """

    family: str
    x: np.ndarray
    settings: list[str]
    values: dict[str, pd.DataFrame]

    def bracket(self, x: float) -> tuple[int, int, float]:
        """Indices ``(k0, k1)`` of the settings around ``x`` and the weight of ``k1``."""
        if len(self.x) == 1 or x <= self.x[0]:
            return 0, 0, 0.0
        k1 = int(np.searchsorted(self.x, x, side="left"))
        k1 = min(k1, len(self.x) - 1)
        k0 = k1 - 1 if self.x[k1] > x else k1
        if k0 == k1:
            return k0, k1, 0.0
        return k0, k1, float((x - self.x[k0]) / (self.x[k1] - self.x[k0]))

    def at(self, metric: str, x: float) -> pd.Series:
        """Per-subject values interpolated at ``x`` (subjects with both settings only)."""
        k0, k1, w = self.bracket(x)
        vals = self.values[metric]
        return ((1.0 - w) * vals.iloc[:, k0] + w * vals.iloc[:, k1]).dropna()

    def mean_at(self, metric: str, x: float) -> float:
        k0, k1, w = self.bracket(x)
        means = self.values[metric].mean(axis=0).to_numpy()
        return float((1.0 - w) * means[k0] + w * means[k1])


def curves(metrics: pd.DataFrame, metrics_names: Sequence[str] = CURVE_METRICS) -> list[Curve]:
    """The families of one experiment's metrics as :class:`Curve` (settings with a finite
    mean |det J - 1| only)."""
    subj = per_subject(metrics, (*metrics_names, X))
    out = []
    for family, group in subj.groupby("family", sort=True):
        x_mean = group.groupby("setting", sort=False)[X].mean().dropna()
        if x_mean.empty:
            continue
        # merge settings at the same mean x (e.g. refine=0 and no refine)
        order = x_mean.sort_values(kind="stable")
        xs = np.unique(order.to_numpy())
        names, columns = [], {m: [] for m in metrics_names}
        for xv in xs:
            same = list(order.index[order.to_numpy() == xv])
            names.append(" / ".join(same))
            rows = group[group["setting"].isin(same)]
            for m in metrics_names:
                columns[m].append(rows.groupby("subject")[m].mean())
        values = {m: pd.concat(cols, axis=1, keys=range(len(cols))) for m, cols in columns.items()}
        out.append(Curve(str(family), xs.astype(np.float64), names, values))
    return out


def _stats(values: pd.Series) -> tuple[float, float, int]:
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    std = float(values.std(ddof=1)) if n > 1 else np.nan
    return mean, std, n


def _sign_over(a: Curve, b: Curve, metric: str, lo: float, hi: float) -> str:
    """Which family is better (by ``metric``'s direction) at every breakpoint of the overlap."""
    if hi <= lo:
        return ""
    xs = np.unique(np.concatenate([[lo, hi], a.x, b.x]))
    xs = xs[(xs >= lo) & (xs <= hi)]
    diff = np.array([a.mean_at(metric, x) - b.mean_at(metric, x) for x in xs])
    if not HIGHER_IS_BETTER.get(metric, True):
        diff = -diff
    if np.all(diff > 0):
        return f"{a.family} better"
    if np.all(diff < 0):
        return f"{b.family} better"
    if np.all(diff == 0):
        return "equal"
    return "crosses"


def compare_at_equal_regularity(
    metrics: pd.DataFrame,
    target: float | None = None,
    metric_names: Sequence[str] = CURVE_METRICS,
) -> pd.DataFrame:
    """Every pair of families of one experiment compared at a common mean |det J - 1|.

    The rule is the module's (overlap, x* = ``target`` inside it or the midpoint, linear
    interpolation, no extrapolation). One row per pair: ``family_a, family_b, status``
    (``compared`` / ``no overlap``), ``overlap_lo, overlap_hi, x_star, x_rule``, and for each
    metric ``{m}_a_mean/_std/_n``, ``{m}_b_mean/_std/_n``, ``{m}_diff_mean/_std/_n`` (A - B,
    paired over shared subjects) and ``{m}_over_overlap`` (sign of the mean-curve
    difference across the overlap).
    """
    fams = curves(metrics, metric_names)
    rows = []
    for i, a in enumerate(fams):
        for b in fams[i + 1 :]:
            lo, hi = max(a.x[0], b.x[0]), min(a.x[-1], b.x[-1])
            row: dict[str, object] = {
                "family_a": a.family, "family_b": b.family, "overlap_lo": lo, "overlap_hi": hi,
                "range_a": f"{a.x[0]:.3f}-{a.x[-1]:.3f}", "range_b": f"{b.x[0]:.3f}-{b.x[-1]:.3f}",
            }  # fmt: skip
            if lo > hi:
                row.update(status="no overlap", x_star=np.nan, x_rule="")
                rows.append(row)
                continue
            inside = target is not None and lo <= target <= hi
            x_star = float(target) if inside else 0.5 * (lo + hi)
            row.update(status="compared", x_star=x_star,
                       x_rule="target" if inside else "overlap midpoint")  # fmt: skip
            for m in metric_names:
                va, vb = a.at(m, x_star), b.at(m, x_star)
                for tag, vals in (("a", va), ("b", vb)):
                    stats = _stats(vals)
                    row[f"{m}_{tag}_mean"], row[f"{m}_{tag}_std"], row[f"{m}_{tag}_n"] = stats
                shared = va.index.intersection(vb.index)
                row[f"{m}_diff_mean"], row[f"{m}_diff_std"], row[f"{m}_diff_n"] = _stats(
                    va[shared] - vb[shared]
                )
                row[f"{m}_over_overlap"] = _sign_over(a, b, m, lo, hi)
            rows.append(row)
    return pd.DataFrame(rows)


def pairs_view(pairs: pd.DataFrame, metric_names: Sequence[str] = CURVE_METRICS) -> pd.DataFrame:
    """Markdown view of :func:`compare_at_equal_regularity` (mean ± std (n) per cell)."""
    if pairs.empty:
        return pairs
    view = pd.DataFrame({
        "A": [family_label(f) for f in pairs["family_a"]],
        "B": [family_label(f) for f in pairs["family_b"]],
        "|det J - 1| range A": pairs["range_a"], "|det J - 1| range B": pairs["range_b"],
        "common |det J - 1|": [
            f"{x:.3f} ({r})" if s == "compared" else "not compared: no overlap"
            for x, r, s in zip(pairs["x_star"], pairs["x_rule"], pairs["status"], strict=True)
        ],
    })  # fmt: skip
    for m in metric_names:
        name = METRIC_NAMES.get(m, m)
        for tag, label in (("a", f"{name} A"), ("b", f"{name} B"), ("diff", f"{name} A - B")):
            view[label] = [
                _cell(r.get(f"{m}_{tag}_mean"), r.get(f"{m}_{tag}_std"), r.get(f"{m}_{tag}_n"))
                for r in pairs.to_dict("records")
            ]
        view[f"{name} over the overlap"] = pairs.get(f"{m}_over_overlap", "")
    return view


def _cell(mean: object, std: object, n: object) -> str | float:
    if not isinstance(mean, float | int) or not math.isfinite(mean):
        return np.nan
    text = mean_std(float(mean), float(std) if isinstance(std, float | int) else np.nan)
    return f"{text} (n={int(n)})"


# --- sentences -------------------------------------------------------------------------
def describe_pair(
    name_a: str,
    stats_a: dict[str, tuple[float, float, int]],
    name_b: str,
    stats_b: dict[str, tuple[float, float, int]],
    accuracy: Sequence[str],
    digits: int = 3,
) -> str:
    """One sentence saying only what the numbers show, metric by metric.

    ``stats_*``: ``{metric: (mean, std, n)}``. Metrics whose means agree to ``digits``
    decimals are called equal. "more accurate" is said only when one side is better on
    every metric in ``accuracy`` and its mean |det J - 1| (when both have one) is lower or
    equal; otherwise the sentence says which metric favours which side.
    """

    def fmt(stat: tuple[float, float, int]) -> str:
        mean, std, n = stat
        return f"{mean_std(mean, std, digits)}, n={int(n)}"

    favours: dict[str, str | None] = {}
    parts = []
    for m in (*accuracy, X):
        if m not in stats_a or m not in stats_b:
            continue
        ma, mb = stats_a[m][0], stats_b[m][0]
        if not (math.isfinite(ma) and math.isfinite(mb)):
            continue
        name = METRIC_NAMES.get(m, m)
        if round(ma, digits) == round(mb, digits):
            favours[m] = None
            parts.append(f"{name} is equal to {digits} decimals ({fmt(stats_a[m])})")
            continue
        a_better = (ma > mb) == HIGHER_IS_BETTER.get(m, True)
        favours[m] = name_a if a_better else name_b
        verb = "is lower for" if m == X else "favours"
        parts.append(
            f"{name} {verb} {favours[m]} ({fmt(stats_a[m])} vs {fmt(stats_b[m])})"
            if a_better
            else f"{name} {verb} {favours[m]} ({fmt(stats_b[m])} vs {fmt(stats_a[m])})"
        )
    if not parts:
        return f"{name_a} and {name_b}: no metric has values for both."
    acc = [favours.get(m, "missing") for m in accuracy if m in favours]
    for side in (name_a, name_b):
        if acc and all(f == side for f in acc) and favours.get(X, side) in (side, None):
            return f"{side} is more accurate than {(name_b if side == name_a else name_a)}: " + (
                "; ".join(parts) + "."
            )
    return f"{name_a} vs {name_b}: " + "; ".join(parts) + "."


def pair_sentences(pairs: pd.DataFrame, experiment: str, involving: str | None = None) -> list[str]:
    """Sentences for the compared pairs of families of method ``involving`` (default
    :data:`binn.vocabulary.PROPOSED_METHOD`: ``binn`` and ``binn+refineN``)."""
    involving = involving or PROPOSED_METHOD
    out = []
    for r in pairs.to_dict("records"):
        fa, fb = r["family_a"], r["family_b"]
        if not (fa.split("+")[0] == involving or fb.split("+")[0] == involving):
            continue
        if r["status"] != "compared":
            out.append(
                f"{experiment}: {fa} ({r['range_a']}) and {fb} ({r['range_b']}) cover no common "
                "mean |det J - 1|: not compared (no extrapolation)."
            )
            continue
        stats_a = {m: (r[f"{m}_a_mean"], r[f"{m}_a_std"], r[f"{m}_a_n"]) for m in CURVE_METRICS}
        stats_b = {m: (r[f"{m}_b_mean"], r[f"{m}_b_std"], r[f"{m}_b_n"]) for m in CURVE_METRICS}
        text = describe_pair(fa, stats_a, fb, stats_b, CURVE_METRICS)
        over = "; ".join(
            f"{METRIC_NAMES[m]}: {r[f'{m}_over_overlap']}"
            for m in CURVE_METRICS
            if isinstance(r.get(f"{m}_over_overlap"), str) and r[f"{m}_over_overlap"]
        )
        if over:
            over = f"over the whole overlap {r['overlap_lo']:.3f}-{r['overlap_hi']:.3f}, {over}"
        out.append(
            f"{experiment}, interpolated at mean |det J - 1| = {r['x_star']:.3f} "
            f"({r['x_rule']}): {text}" + (f" ({over}.)" if over else "")
        )
    return out
