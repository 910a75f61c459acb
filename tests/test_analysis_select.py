"""``binn select``: the setting whose mean |det J - 1| is nearest the target."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from binn.analysis.tables.select import select_files
from binn.errors import BinnInputError
from binn.register.selection import load_selection


def _metrics(path, method, setting, detj, dice):
    pd.DataFrame({
        "experiment": "validation", "subject": [f"s{i}" for i in range(len(detj))],
        "method": method, "setting": setting, "abs_det_j_minus_1": detj, "dice": dice,
    }).to_csv(path, index=False)  # fmt: skip


def test_select_nearest_target(tmp_path):
    _metrics(tmp_path / "a.csv", "ffd", "grid=8,penalty=0.01", [0.30, 0.34, np.nan], [0.8, 0.8, 0])
    _metrics(tmp_path / "b.csv", "ffd", "grid=8,penalty=0.1", [0.12, 0.16, np.nan], [0.7, 0.7, 0])
    _metrics(tmp_path / "c.csv", "ffd", "grid=16,penalty=1", [0.01, 0.03, 0.02], [0.6, 0.6, 0.6])
    files = [tmp_path / f"{n}.csv" for n in "abc"]
    choice = select_files(files, 0.1, tmp_path / "sel.json")
    assert choice["setting"] == "grid=8,penalty=0.1"  # mean 0.14 (NaN row left out)
    assert choice["params"] == {"grid": 8.0, "penalty": 0.1}
    cands = {c["setting"]: c for c in choice["candidates"]}
    assert cands["grid=8,penalty=0.1"]["mean_abs_det_j_minus_1"] == pytest.approx(0.14)
    assert cands["grid=8,penalty=0.1"]["n_slices"] == 2
    assert cands["grid=8,penalty=0.1"]["n_subjects"] == 2
    assert cands["grid=8,penalty=0.1"]["abs_det_j_minus_1_std"] == pytest.approx(
        np.std([0.12, 0.16], ddof=1)
    )
    assert cands["grid=16,penalty=1"]["mean_abs_det_j_minus_1"] == pytest.approx(0.02)
    saved = json.loads((tmp_path / "sel.json").read_text())
    assert saved["target"] == 0.1 and len(saved["candidates"]) == 3
    assert load_selection(tmp_path / "sel.json") == ("ffd", "grid=8,penalty=0.1", choice["params"])
    # another target picks another setting
    assert select_files(files, 0.0, tmp_path / "s0.json")["setting"] == "grid=16,penalty=1"
    assert select_files(files, 0.5, tmp_path / "s5.json")["setting"] == "grid=8,penalty=0.01"


def test_select_needs_one_method_and_finite_values(tmp_path):
    _metrics(tmp_path / "a.csv", "l2", "lam=0.1", [0.1], [0.8])
    _metrics(tmp_path / "b.csv", "binn", "alpha=0.001", [np.nan], [np.nan])
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    with pytest.raises(BinnInputError, match="--method"):
        select_files(files, 0.1, tmp_path / "s.json")
    assert select_files(files, 0.1, tmp_path / "s.json", method="l2")["setting"] == "lam=0.1"
    with pytest.raises(BinnInputError, match="finite"):
        select_files(files, 0.1, tmp_path / "s.json", method="binn")
    with pytest.raises(BinnInputError, match="missing columns"):
        pd.DataFrame({"method": ["l2"]}).to_csv(tmp_path / "bad.csv", index=False)
        select_files([tmp_path / "bad.csv"], 0.1, tmp_path / "s.json")
