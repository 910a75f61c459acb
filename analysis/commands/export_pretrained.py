"""``binn export-pretrained``: the selected synthetic-trained networks of a run, with their
VAE, written as the shipped models (:mod:`binn.register.pretrained`) with a model card that
says how they were made and how they scored.

The card's facts come from the run's files only: its effective config (generator, grid,
training), the selection files (the validation numbers of the chosen setting), the test
metrics of the selected networks (mean ± std over subjects and n) and the code version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from binn.analysis.tables import report_tables
from binn.analysis.tables.io import read_csvs
from binn.errors import BinnInputError
from binn.provenance import code_version
from binn.register.pretrained import ExportRequest, export_pretrained
from binn.register.selection import read_selection
from binn.register.track import resolve_method
from binn.vocabulary import network_methods

TEST_COLUMNS = ("dice", "dice_es", "mcd_mm", "abs_det_j_minus_1")


@dataclasses.dataclass(frozen=True)
class PretrainedExport:
    """Per network method (every one is shipped), ``models`` (a checkpoint path that may
    hold ``{setting}``) and ``selections`` (its ``SELECT.json``); ``test_metrics``: the
    metrics CSVs of the selected networks on the run's test subjects; ``run_config``: the
    run's effective config (YAML); ``out_dir``: where the shipped files go."""

    models: dict[str, str]
    selections: dict[str, Path]
    test_metrics: tuple[Path, ...]
    run_config: Path
    out_dir: Path


def _chosen(selection: Path) -> dict[str, Any]:
    """The selected setting and its validation numbers from a ``SELECT.json``."""
    obj = read_selection(selection)
    chosen = next((c for c in obj.get("candidates", []) if c.get("setting") == obj["setting"]), {})
    return {"setting": obj["setting"], "target": obj.get("target"), **chosen}


def _test_numbers(paths: tuple[Path, ...]) -> dict[str, Any]:
    """Mean ± std over subjects (level all) and n per method of the test metrics, with the
    experiment and the subjects they come from."""
    required = ("experiment", "subject", "method", "setting", "level")
    rows = report_tables.with_es_variants(read_csvs(paths, required))
    agg = report_tables.aggregate(rows, TEST_COLUMNS)
    out: dict[str, Any] = {
        "experiment": sorted(map(str, rows["experiment"].unique())),
        "subjects": sorted(map(str, rows["subject"].unique())),
        "pairs": "the ES -> ED pair of every slice (binn track-evaluate metrics), level all",
    }
    for _, row in agg[agg["level"] == "all"].iterrows():
        out[str(row["method"])] = {
            "setting": str(row["setting"]),
            "n_subjects": int(row["n_subjects"]),
            "n_slices": int(row["n_slices"]),
            **{f"{c}_mean": float(row[f"{c}_mean"]) for c in TEST_COLUMNS},
            **{f"{c}_std": float(row[f"{c}_std"]) for c in TEST_COLUMNS},
        }
    return out


def export(request: PretrainedExport) -> dict[str, Any]:
    """Write the shipped models and their card (see the module docstring); return the card."""
    methods = network_methods()
    missing = [m for m in methods if m not in request.models or m not in request.selections]
    if missing:
        raise BinnInputError(None, f"export-pretrained needs a model and a selection of {missing}")
    try:
        config = yaml.safe_load(Path(request.run_config).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BinnInputError(request.run_config, f"not a readable run config ({exc})") from exc
    paths = {
        m: resolve_method(None, None, request.selections[m], request.models[m]).model
        for m in methods
    }
    register = config.get("register", {})
    facts = {
        "trained_on": "FEM-driven synthetic cine (binn synth-cine) only: no real image or label",
        "commit": code_version(written=request.out_dir),
        "grid": config.get("grid"),
        "generator": {"synthetic": config.get("synthetic"), "simulate": config.get("simulate")},
        "training": {
            "steps": config.get("synthetic", {}).get("train_steps", register.get("steps")),
            **{k: register.get(k) for k in ("width", "lr", "batch_size", "precision")},
            "seed": config.get("seed"),
            "vae": config.get("vae"),
        },
        "validation": {m: _chosen(request.selections[m]) for m in methods},
        "test": _test_numbers(request.test_metrics),
    }
    return export_pretrained(ExportRequest(paths, request.out_dir, facts))
