"""The report's figures (PNG, matplotlib Agg), computed from ``binn evaluate`` curves.

- :func:`alpha_sweep_figure` (Fig. 2 style): Dice, myocardial area change, radial and
  circumferential strain over the cardiac cycle, one line per training weight (alpha) of
  the proposed method ``binn`` (:data:`binn.vocabulary.PROPOSED_METHOD`); mean over
  subjects and evaluable slices, the band +- one standard deviation.
- :func:`detj_cycle_figure` (Fig. 3 style): mean det J and mean |det J - 1| over the
  myocardium across the cycle for the first two network methods (``binn`` vs ``l2``) on
  one subject (line: mean over its slices; band: range over its slices).

When there is nothing to plot the figure says so instead of being left out, so the report
always has the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from binn.analysis.tables.labels import family_label, method_label
from binn.analysis.tables.regularity import X
from binn.errors import BinnInputError
from binn.io import atomic_path
from binn.vocabulary import (
    NO_REGISTRATION,
    PROPOSED_METHOD,
    get_method,
    network_methods,
    parse_setting,
)

DPI = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _empty_figure(path: str | Path, title: str, reason: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True)
    return _save(fig, path)


def _weight_of(setting: str, weight: str) -> float:
    """The training ``weight`` (e.g. ``alpha``) of a ``name=value`` setting string; NaN when
    it names none (or is not one)."""
    try:
        return parse_setting(str(setting)).get(weight, np.nan)
    except BinnInputError:
        return np.nan


def _detj_methods() -> tuple[str, str]:
    """The two methods of the Fig. 3 style figure: the first two network methods."""
    first, second = network_methods()[:2]
    return first, second


def alpha_sweep_figure(curves: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 2 style panels over the cycle for each training weight of the proposed method;
    ``curves``: ``binn evaluate`` rows."""
    method = PROPOSED_METHOD
    weight = get_method(method).weight or ""
    title = f"Effect of the VAE weight {weight} ({method})"
    rows = curves[curves["level"].notna()] if len(curves) else curves
    if rows.empty:
        return _empty_figure(path, title, "no alpha-sweep curves in the inputs")
    panels = [
        ("dice", "Dice (frame t warped to ED)", 1.0),
        ("area_change", "myocardial area change (%)", 100.0),
        ("radial_strain", "radial strain (%)", 100.0),
        ("circ_strain", "circumferential strain (%)", 100.0),
    ]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    cmap = plt.get_cmap("viridis")
    settings = sorted(rows["setting"].unique(), key=lambda s: (_weight_of(s, weight), str(s)))
    for i, setting in enumerate(settings):
        sub = rows[rows["setting"] == setting]
        value = _weight_of(setting, weight)
        label = f"{weight} = {value:g}" if np.isfinite(value) else str(setting)
        colour = cmap(i / max(len(settings) - 1, 1))
        for ax, (col, _, scale) in zip(axes, panels, strict=True):
            stats = sub.groupby("phase")[col].agg(["mean", "std"]).dropna(subset=["mean"])
            if stats.empty:
                continue
            x = 100.0 * stats.index.to_numpy()
            m, s = scale * stats["mean"].to_numpy(), scale * stats["std"].fillna(0).to_numpy()
            ax.plot(x, m, color=colour, label=label, marker=".")
            ax.fill_between(x, m - s, m + s, color=colour, alpha=0.15, linewidth=0)
    for ax, (_, ylabel, _) in zip(axes, panels, strict=True):
        ax.set_xlabel("cardiac cycle (% of frames, 0 = ED)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax, letter in zip(axes, "abcd", strict=True):
        ax.set_title(f"({letter})", loc="left")
    axes[0].legend(fontsize=8)
    n_subj = rows["subject"].nunique()
    fig.suptitle(f"{title}: mean ± std over {n_subj} subjects and their slices")
    fig.tight_layout()
    return _save(fig, path)


def pick_detj_subject(curves: pd.DataFrame, methods: tuple[str, str] | None = None) -> str | None:
    """The first subject (by name) whose curves hold both ``methods`` (default: the first
    two network methods, ``binn`` and ``l2``); None if there is none."""
    methods = methods or _detj_methods()
    if curves.empty:
        return None
    have = curves.groupby("subject")["method"].agg(set)
    both = sorted(s for s, m in have.items() if set(methods) <= m)
    return both[0] if both else None


def detj_cycle_figure(
    curves: pd.DataFrame, path: str | Path, methods: tuple[str, str] | None = None
) -> tuple[Path, str | None]:
    """Fig. 3 style det J across the cycle on one subject for ``methods`` (default: the first
    two network methods); returns ``(path, subject)``."""
    methods = methods or _detj_methods()
    title = "Jacobian determinant across the cardiac cycle"
    subject = pick_detj_subject(curves, methods)
    if subject is None:
        reason = f"no subject with curves of both {methods[0]} and {methods[1]}"
        return _empty_figure(path, title, reason), None
    rows = curves[(curves["subject"] == subject) & curves["level"].notna()]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = {methods[0]: "tab:red", methods[1]: "tab:blue"}
    for method in methods:
        sub = rows[rows["method"] == method]
        for ax, col in zip(axes, ("mean_det_j", "abs_det_j_minus_1"), strict=True):
            stats = sub.groupby("frame")[col].agg(["mean", "min", "max"]).dropna()
            x = stats.index.to_numpy()
            label = method_label(method, sub["setting"].iloc[0] if len(sub) else None)
            ax.plot(x, stats["mean"], color=colours[method], marker=".", label=label)
            ax.fill_between(x, stats["min"], stats["max"], color=colours[method], alpha=0.15,
                            linewidth=0)  # fmt: skip
    axes[0].axhline(1.0, color="k", linewidth=0.8, linestyle="--")
    axes[0].set_ylabel("mean det J over the myocardium")
    axes[1].set_ylabel("mean |det J - 1| over the myocardium")
    for ax in axes:
        ax.set_xlabel("frame (0 = ED)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}, subject {subject} (line: mean over slices, band: slice range)")
    fig.tight_layout()
    return _save(fig, path), subject


def regularity_figure(
    tables: dict[str, pd.DataFrame], path: str | Path, target: float | None = None
) -> Path:
    """Dice and MCD against mean |det J - 1|, one panel column per experiment.

    ``tables``: experiment -> :func:`binn.analysis.tables.regularity.regularity_table`
    (ordered panels, e.g. validation then test). One line per family (a refined method is
    its own family), its settings joined in order of mean |det J - 1|; bars: std over
    subjects (both axes); the selected setting is ringed; 'no registration' is a dashed
    horizontal line; the selection target a dotted vertical one.
    """
    title = "Accuracy against volume preservation over every setting"
    shown = {e: t for e, t in tables.items() if len(t) and t[f"{X}_mean"].notna().any()}
    if not shown:
        return _empty_figure(path, title, "no experiment with settings to compare")
    plt = _pyplot()
    cols = len(shown)
    fig, axes = plt.subplots(2, cols, figsize=(5.5 * cols, 8), squeeze=False)
    families = sorted({f for t in shown.values() for f in t["family"] if f != NO_REGISTRATION})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    panels = (("dice", "Dice"), ("mcd_mm", "MCD (mm)"))
    for c, (experiment, table) in enumerate(shown.items()):
        n_subj = int(table["n_subjects"].max())
        for r, (metric, ylabel) in enumerate(panels):
            ax = axes[r, c]
            none = table[table["family"] == NO_REGISTRATION]
            if len(none) and np.isfinite(none[f"{metric}_mean"].iloc[0]):
                ax.axhline(none[f"{metric}_mean"].iloc[0], color="0.4", linestyle="--",
                           linewidth=1, label="no registration")  # fmt: skip
            for family in families:
                sub = table[table["family"] == family].dropna(subset=[f"{X}_mean"])
                if sub.empty:
                    continue
                sub = sub.sort_values(f"{X}_mean")
                x, y = sub[f"{X}_mean"].to_numpy(), sub[f"{metric}_mean"].to_numpy()
                ax.errorbar(x, y, xerr=sub[f"{X}_std"].fillna(0).to_numpy(),
                            yerr=sub[f"{metric}_std"].fillna(0).to_numpy(), color=colours[family],
                            marker="o", ms=4, capsize=2, linewidth=1.2,
                            label=family_label(family))  # fmt: skip
                sel = sub[sub["selected"].astype(bool)]
                ax.plot(sel[f"{X}_mean"], sel[f"{metric}_mean"], "o", ms=12, mfc="none",
                        mec=colours[family], mew=2)  # fmt: skip
            if target is not None:
                ax.axvline(target, color="k", linestyle=":", linewidth=0.8)
            ax.set_xlabel("mean |det J - 1| over the ED myocardium")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.set_title(f"{experiment}: {ylabel} ({n_subj} subjects)")
        axes[0, c].legend(fontsize=7)
    fig.suptitle(
        f"{title}: mean ± std over subjects; ringed = selected on validation"
        + (f"; dotted = target {target:g}" if target is not None else "")
    )
    fig.tight_layout()
    return _save(fig, path)
