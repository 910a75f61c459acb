"""``binn select``: the paper's fair-comparison rule for hyperparameters.

For one method, among the settings evaluated on validation data, pick the one whose mean
``|det J - 1|`` over the myocardium (mean over all evaluable subject x slice rows) is
nearest the common target (:class:`binn.analysis.config.SelectionRule`). Ties go to the
setting listed first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from binn.analysis.tables.io import read_csvs
from binn.errors import BinnInputError
from binn.io import write_json
from binn.provenance import provenance

log = logging.getLogger(__name__)

REQUIRED = ("method", "setting", "abs_det_j_minus_1", "dice")


def _std(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else None


def select_setting(table: pd.DataFrame, target: float, method: str | None = None) -> dict[str, Any]:
    """Choose the setting of ``method`` nearest ``target`` mean |det J - 1| in ``table``.

    ``table``: metrics rows (``binn evaluate`` columns). Returns ``{"method", "setting",
    "params", "target", "candidates": [{"setting", "mean_abs_det_j_minus_1",
    "abs_det_j_minus_1_std", "dice", "dice_std", "n_slices", "n_subjects"}, ...]}`` (means
    and sample stds over the evaluable slices; a std is None for one slice); raises
    :class:`BinnInputError` when the method is ambiguous or no setting has a finite mean.
    """
    from binn.vocabulary import parse_setting

    methods = list(dict.fromkeys(table["method"].astype(str)))
    if method is None:
        if len(methods) != 1:
            raise BinnInputError(None, f"metrics hold methods {methods}: pass --method")
        method = methods[0]
    rows = table[table["method"].astype(str) == method]
    if rows.empty:
        raise BinnInputError(None, f"no metrics rows for method '{method}' (have {methods})")
    candidates = []
    for setting, group in rows.groupby(rows["setting"].astype(str), sort=False):
        valid = group["abs_det_j_minus_1"].notna()
        subjects = group.loc[valid, "subject"].nunique() if "subject" in group else None
        candidates.append({
            "setting": setting,
            "mean_abs_det_j_minus_1": float(group.loc[valid, "abs_det_j_minus_1"].mean()),
            "abs_det_j_minus_1_std": _std(group.loc[valid, "abs_det_j_minus_1"]),
            "dice": float(group["dice"].mean()),
            "dice_std": _std(group["dice"]),
            "n_slices": int(valid.sum()),
            "n_subjects": None if subjects is None else int(subjects),
        })  # fmt: skip
    finite = [c for c in candidates if math.isfinite(c["mean_abs_det_j_minus_1"])]
    if not finite:
        raise BinnInputError(None, f"method '{method}': no setting has a finite mean |det J - 1|")
    best = min(finite, key=lambda c: abs(c["mean_abs_det_j_minus_1"] - target))
    return {
        "method": method,
        "setting": best["setting"],
        "params": parse_setting(best["setting"], f"setting of {method}"),
        "target": target,
        "candidates": candidates,
    }


def select_files(
    metrics: Sequence[str | Path], target: float, out: str | Path, method: str | None = None
) -> dict[str, Any]:
    """Read validation metrics CSVs, select (:func:`select_setting`), write ``SELECT.json``."""
    if not math.isfinite(target) or target < 0:
        raise BinnInputError(None, f"--target must be a non-negative number, got {target}")
    table = read_csvs(metrics, REQUIRED)
    choice = select_setting(table, target, method)
    choice["provenance"] = provenance(
        {"metrics": [str(m) for m in metrics], "target": target, "method": method}
    )
    write_json(out, choice)
    log.info(
        "%s: selected %s (mean |det J - 1| targets %g)", choice["method"], choice["setting"], target
    )
    return choice
