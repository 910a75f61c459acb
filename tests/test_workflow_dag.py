"""The workflow's DAG: dry runs of the shipped configs fan out as designed, bad data dirs fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from snakemake.common.configfile import load_configfile
from snakemake.utils import validate

from binn.errors import BinnInputError
from binn.workflow import METHODS, Layout
from tests.workflow_helpers import REPO, run_snakemake


def _job_counts(stdout: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table (rule name, count) from a dry run's output."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"\s*([a-z_]+)\s+(\d+)\s*", line)
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def _expected_counts(config: dict) -> dict[str, int]:
    """Jobs the design calls for, computed from the config (not from the workflow)."""
    ph, reg = config["phantom"], config["register"]
    n_settings = {m: len(reg[m]) for m in METHODS}
    tracks = (
        ph["n_val"] * sum(n_settings.values())  # validation: every setting of every method
        + ph["n_test"] * len(METHODS)  # comparison: the selected setting of each method
        + ph["n_test"] * n_settings["binn"]  # alpha sweep
        + ph["n_general"] * 2  # generalisation: the two networks
    )
    return {
        "simulate_case": config["simulate"]["source"]["n_cases"],
        "train_vae": 1,
        "phantom": ph["n_train"] + ph["n_val"] + ph["n_test"] + ph["n_general"],
        "train_registration": n_settings["binn"] + n_settings["l2"],
        "track": tracks,
        "select_setting": len(METHODS),
        "evaluate": sum(n_settings.values()) + len(METHODS) + n_settings["binn"] + 2,
        "report": 1,
        "all": 1,
    }


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "test.yaml"])
def test_dry_run_fans_out_as_designed(name: str, tmp_path: Path) -> None:
    result = run_snakemake(tmp_path, name, "--dry-run", "--cores", "2", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    config = load_configfile(str(REPO / "config" / name))
    validate(config, str(REPO / "config" / "schema.yaml"))
    assert _job_counts(result.stdout) == _expected_counts(config)


def test_missing_data_dir_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_acdc"
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(f"simulate:\n  source: {{kind: acdc, data_dir: {missing}}}\n")
    result = run_snakemake(tmp_path, configfile, "--dry-run", "--cores", "1", timeout=300)
    assert result.returncode != 0
    assert str(missing) in result.stdout + result.stderr
    assert "does not exist" in result.stdout + result.stderr


def test_layout_paths_and_splits(tmp_path: Path) -> None:
    config = load_configfile(str(REPO / "config" / "test.yaml"))
    validate(config, str(REPO / "config" / "schema.yaml"))
    layout = Layout.from_config(config)
    assert len(layout.cases) == config["simulate"]["source"]["n_cases"]
    assert layout.subjects("val") == ["val000"]
    assert layout.experiment_split("generalisation") == "general"
    # phantom seeds never collide across splits
    seeds = {
        layout.phantom_seed(s, n)
        for s in ("train", "val", "test", "general")
        for n in layout.subjects(s)
    }
    assert len(seeds) == sum(len(layout.subjects(s)) for s in ("train", "val", "test", "general"))
    assert layout.phantom_family("general") == "B" and layout.phantom_family("test") == "A"


def test_real_data_subjects_must_exist(tmp_path: Path) -> None:
    config = load_configfile(str(REPO / "config" / "test.yaml"))
    config["real_data"] = {"layout": "acdc", "data_dir": str(tmp_path / "absent")}
    validate(config, str(REPO / "config" / "schema.yaml"))
    with pytest.raises(BinnInputError, match="absent"):
        Layout.from_config(config)
    (tmp_path / "acdc" / "patient001").mkdir(parents=True)
    config["real_data"] = {"layout": "acdc", "data_dir": str(tmp_path / "acdc")}
    layout = Layout.from_config(config)
    assert layout.subjects("real") == ["patient001"]
    assert layout.experiment_split("generalisation") == "real"


def test_track_jobs_get_the_model_or_selection_they_need() -> None:
    from types import SimpleNamespace

    config = load_configfile(str(REPO / "config" / "test.yaml"))
    validate(config, str(REPO / "config" / "schema.yaml"))
    layout = Layout.from_config(config)

    def job(split: str, method: str, setting: str) -> SimpleNamespace:
        return SimpleNamespace(split=split, method=method, setting=setting, subject="val000")

    val_net = job("val", "binn", "alpha=0.001")
    assert layout.track_inputs(val_net)["models"] == [layout.model("binn", "alpha=0.001")]
    assert layout.track_args(val_net).endswith("--frames es")
    selected = job("test", "l2", "selected")
    inputs = layout.track_inputs(selected)
    assert inputs["selection"] == layout.selection("l2")
    assert inputs["models"] == [layout.model("l2", s) for s in layout.settings("l2")]
    pattern = layout.model("l2", "{setting}")
    assert f"--model '{pattern}' --selection {layout.selection('l2')}" in layout.track_args(
        selected
    )
    # multi-parameter settings travel as comma-free slugs (SLURM job specs split on commas)
    assert layout.settings("ffd") == ["grid=8+penalty=0.01"]
    ffd = job("val", "ffd", "grid=8+penalty=0.01")
    assert "models" not in layout.track_inputs(ffd)
    assert "--param grid=8 --param penalty=0.01" in layout.track_args(ffd)
    assert layout.train_args("binn", "alpha=0.001") == "--alpha 0.001"


@pytest.mark.parametrize("bad", ["alpha=", "lam=0.1", "alpha=0.1,lam=2", "alpha=x"])
def test_network_settings_are_one_weight(bad: str) -> None:
    config = load_configfile(str(REPO / "config" / "test.yaml"))
    config["register"]["binn"] = [bad]
    validate(config, str(REPO / "config" / "schema.yaml"))
    with pytest.raises(BinnInputError, match=r"register\.binn"):
        Layout.from_config(config)
