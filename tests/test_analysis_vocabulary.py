"""A method declared once, in binn.vocabulary.METHODS, is accepted by the analysis stage's
command lines and shown by its tables (name and row order read when they are made)."""

from __future__ import annotations

import pandas as pd
import pytest

from binn import vocabulary
from binn.analysis.tables.labels import method_label
from binn.analysis.tables.regularity import regularity_table
from binn.analysis.tables.report_tables import comparison_table
from binn.cli import build_parser


@pytest.fixture
def toy(monkeypatch) -> str:
    method = vocabulary.Method("toy", vocabulary.CLASSICAL, "Toy flow")
    monkeypatch.setitem(vocabulary.METHODS, method.name, method)
    return method.name


def _metrics(methods: dict[str, str]) -> pd.DataFrame:
    rows = []
    for method, setting in methods.items():
        for subject in ("s0", "s1"):
            rows.append({
                "experiment": "comparison", "subject": subject, "z": 0, "level": "mid",
                "method": method, "setting": setting, "dice_before": 0.5,
                "mcd_before_mm": 3.0, "hd_before_mm": 5.0, "dice": 0.8, "mcd_mm": 1.0,
                "hd_mm": 2.0, "abs_det_j_minus_1": 0.1, "fold_fraction": 0.0, "epe_mm": 1.0,
            })  # fmt: skip
    return pd.DataFrame(rows)


def test_tables_name_and_order_a_new_method(toy) -> None:
    assert method_label(toy, "sigma=2") == "Toy flow [sigma=2]"
    _, view = comparison_table(_metrics({"binn": "alpha=0.01", toy: "sigma=2", "ffd": "grid=8"}))
    shown = list(view[view["Level"] == "all"]["Method"])
    # vocabulary.table_order(): no registration, then the methods last-registered first
    assert shown == [
        "no registration",
        "Toy flow [sigma=2]",
        "FFD [grid=8]",
        "BINN (binn) [alpha=0.01]",
    ]
    table = regularity_table(_metrics({toy: "sigma=1"}).assign(experiment="validation"))
    assert toy in set(table["family"])


@pytest.mark.parametrize(
    "argv",
    [
        ["strain", "--cine", "c.nii.gz", "--ed-labels", "l.nii.gz", "--out", "o"],
        ["evaluate-pair", "--fixed-image", "a", "--fixed-labels", "b", "--moving-image", "c",
         "--moving-labels", "d"],
        ["select", "--metrics", "m.csv", "--out", "s.json"],
    ],
)  # fmt: skip
def test_command_lines_accept_a_new_method(toy, argv) -> None:
    args = build_parser().parse_args([*argv, "--method", toy])
    assert args.method == toy


def test_bench_register_offers_a_new_method(toy) -> None:
    args = build_parser().parse_args(["bench", "register", "--methods", toy, "--toy", "sigma=1"])
    assert args.methods == [toy] and args.toy == ["sigma=1"]
