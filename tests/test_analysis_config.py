"""The analysis stage's defaults are held once (binn.analysis.config): every field agrees
with the default run's configuration (config/schema.yaml's defaults under
config/config.yaml, which the workflow passes) or with the stage dataclass it is read from,
and every command line's default is the dataclass's."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from binn.analysis import bench_cli, strain_cli
from binn.analysis.cli import add_commands
from binn.analysis.commands import bench_register
from binn.analysis.config import (
    BenchConfig,
    PairRequest,
    SelectionRule,
    StrainBenchConfig,
    StrainRequest,
    StrainTracking,
)
from binn.register.config import PhantomConfig, TrackOptions, TrainConfig
from binn.vocabulary import canonical_setting, method_names

ROOT = Path(__file__).resolve().parents[1]

# BenchConfig field -> the key of the default run's configuration it must equal
BENCH_KEYS = {
    "target": ("register", "target_abs_det_j_minus_1"),
    "size": ("grid", "size"),
    "spacing_mm": ("grid", "spacing_mm"),
    "frames": ("phantom", "frames"),
    "slices": ("phantom", "slices"),
    "snr_db": ("phantom", "snr_db"),
    "steps": ("register", "steps"),
    "lr": ("register", "lr"),
    "width": ("register", "width"),
    "batch_size": ("register", "batch_size"),
    "vae_cases": ("simulate", "source", "n_cases"),
    "seed": ("seed",),
    "device": ("device",),
}
# BenchConfig fields the workflow has no key for: what they equal instead, and why
BENCH_OWN = {
    "val_every": TrainConfig.val_every,  # binn train-reg's own; the workflow does not set it
    "threads": 2,  # speed only: the fields do not depend on it
    "vae": None,  # none given: a VAE is trained here
    "vae_epochs": None,  # binn train-vae's default
    "work_dir": None,  # a temporary folder
}


def _schema_defaults(node: dict[str, Any]) -> dict[str, Any]:
    """The defaults a JSON schema object fills in, nested objects included."""
    out = dict(node.get("default") or {})
    for key, sub in node.get("properties", {}).items():
        if "properties" in sub:
            out[key] = _merge(_schema_defaults(sub), out.get(key, {}))
        elif "default" in sub:
            out.setdefault(key, sub["default"])
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


@pytest.fixture(scope="module")
def default_run() -> dict[str, Any]:
    """The default run's configuration: the schema's defaults under config/config.yaml."""
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return _merge(_schema_defaults(schema), config)


def _key(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        config = config[part]
    return config


def _parse(add, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser.add_subparsers())
    return parser.parse_args(argv)


def test_every_bench_register_default_is_the_default_runs(default_run) -> None:
    cfg = BenchConfig()
    fields = {f.name for f in dataclasses.fields(BenchConfig)}
    assert fields == {*BENCH_KEYS, *BENCH_OWN, "settings", "subjects"}  # each field once
    for name, path in BENCH_KEYS.items():
        assert getattr(cfg, name) == _key(default_run, path), name
    for name, value in BENCH_OWN.items():
        assert getattr(cfg, name) == value, name
    assert set(cfg.settings) == set(method_names())
    for method, settings in cfg.settings.items():
        workflow = default_run["register"][method]
        assert [canonical_setting(s) for s in settings] == [canonical_setting(s) for s in workflow]
    phantom = default_run["phantom"]
    assert cfg.subjects == {s: phantom[f"n_{s}"] for s in ("train", "val", "test")}
    sim = default_run["simulate"]
    assert bench_register.VAE_SEED == sim["source"]["seed"]
    assert (bench_register.SIM_FRAMES, bench_register.SIM_MESH_MM, bench_register.SIM_MU_KPA) == (
        sim["frames"], sim["mesh_size_mm"], sim["mu_kpa"]
    )  # fmt: skip


def test_bench_register_reads_the_stage_dataclasses() -> None:
    """Values shared with register's dataclasses are read from them, not retyped."""
    cfg = BenchConfig()
    for name in ("steps", "lr", "width", "batch_size", "val_every", "seed", "device"):
        assert getattr(cfg, name) == getattr(TrainConfig, name), name
    for name in ("size", "spacing_mm", "frames", "slices", "snr_db"):
        assert getattr(cfg, name) == getattr(PhantomConfig, name), name
    assert cfg.target == SelectionRule.target


def test_selection_target_is_the_workflows(default_run) -> None:
    assert SelectionRule.target == default_run["register"]["target_abs_det_j_minus_1"]
    args = _parse(add_commands, ["select", "--metrics", "m.csv", "--out", "s.json"])
    assert args.target == SelectionRule.target


def test_bench_command_lines_default_to_the_dataclasses() -> None:
    assert bench_cli.register_config(_parse(bench_cli.add_bench, ["register"])) == BenchConfig()
    assert bench_cli.strain_config(_parse(bench_cli.add_bench, ["strain"])) == StrainBenchConfig()
    args = _parse(bench_cli.add_bench, ["strain", "--methods", "ffd", "--model", "binn=m.pt"])
    cfg = bench_cli.strain_config(args)
    assert cfg.methods == ("ffd",) and cfg.models == {"binn": Path("m.pt")}


def test_strain_and_evaluate_pair_command_lines_default_to_the_dataclasses() -> None:
    args = _parse(add_commands, ["strain", "--data", "s.npz", "--fields", "f.npz", "--out", "o"])
    assert args.batch_size == StrainTracking.batch_size == TrackOptions.batch_size
    assert args.device == StrainRequest.device == TrackOptions.device
    assert args.size is None and args.ed_frame == 1  # 1-based: the first frame
    files = [f"--{k.replace('_', '-')}" for k in ("fixed_image", "fixed_labels")]
    files += ["--moving-image", "--moving-labels"]
    argv = ["evaluate-pair", *[x for f in files for x in (f, "x.nii.gz")], "--method", "demons"]
    args = _parse(add_commands, argv)
    pair = PairRequest(*(Path("x.nii.gz"),) * 4, method="demons")
    assert args.spacing_mm == pair.spacing_mm
    assert args.label_convention == pair.label_convention
    assert (args.batch_size, args.device, args.threads, args.vae) == (
        pair.options.batch_size, pair.options.device, pair.options.threads, pair.options.vae
    )  # fmt: skip
    assert set(strain_cli.LABEL_CONVENTION_CHOICES) == {"auto", "acdc", "ukbb"}
