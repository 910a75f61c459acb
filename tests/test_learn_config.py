"""The learn stage's settings: :class:`TrainConfig` holds the defaults of ``binn train-vae``
and of config/schema.yaml's ``vae`` block; ``binn bench vae`` changes only what it says."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path

import pytest
import yaml

from binn.learn import cli
from binn.learn.config import VAE_BENCH_TRAINING, TrainConfig, VaeBench

SCHEMA = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"
# TrainConfig field -> its schema default (path of keys); None: no schema key (not a
# workflow setting: model width, input scale, augmentation, frame subsampling)
SCHEMA_KEYS: dict[str, tuple[str, ...] | None] = {
    "image_size": ("grid", "size"),
    "latent_dim": ("vae", "latent"),
    "nf": None,
    "beta": ("vae", "beta"),
    "max_norm": None,
    "lr": ("vae", "lr"),
    "batch_size": ("vae", "batch_size"),
    "epochs": ("vae", "epochs"),
    "mask_dilation": ("vae", "mask_dilation"),
    "val_fraction": ("vae", "val_fraction"),
    "frames_per_case": None,
    "max_shift_px": None,
    "augment": None,
    "lr_schedule": ("vae", "lr_schedule"),
    "seed": ("seed",),
}
# TrainConfig field -> train-vae's option; None: no option (a library-only setting)
CLI_DESTS: dict[str, str | None] = {
    **{name: name for name in SCHEMA_KEYS},
    "image_size": "size",
    "latent_dim": "latent",
    "max_shift_px": None,
}


def _schema_default(keys: tuple[str, ...]):
    node = yaml.safe_load(SCHEMA.read_text())
    for key in keys:
        node = node["properties"][key]
    return node["default"]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    cli.add_commands(commands)
    cli.add_bench(commands.add_parser("bench").add_subparsers())
    return parser.parse_args(list(argv))


def test_every_training_field_has_one_default() -> None:
    defaults = asdict(TrainConfig())
    assert set(defaults) == set(SCHEMA_KEYS) == set(CLI_DESTS)
    args = _parse("train-vae", "case.npz", "--out", "vae.pt")
    for name, value in defaults.items():
        if SCHEMA_KEYS[name] is not None:
            assert _schema_default(SCHEMA_KEYS[name]) == pytest.approx(value), name
        if CLI_DESTS[name] is not None:
            assert getattr(args, CLI_DESTS[name]) == value, name
    assert cli.train_config(args) == TrainConfig()


def test_train_vae_options_reach_the_config() -> None:
    args = _parse("train-vae", "case.npz", "--out", "vae.pt", "--size", "96", "--latent", "8",
                  "--nf", "16", "--beta", "0.001", "--max-norm", "0.1", "--lr", "0.0001",
                  "--batch-size", "4", "--epochs", "2", "--mask-dilation", "1",
                  "--val-fraction", "0.5", "--frames-per-case", "3", "--augment", "none",
                  "--lr-schedule", "constant", "--seed", "9")  # fmt: skip
    expected = TrainConfig(96, 8, 16, 0.001, 0.1, 0.0001, 4, 2, 1, 0.5, 3, 3, "none", "constant", 9)
    assert cli.train_config(args) == expected


def test_bench_vae_changes_only_its_own_training_settings() -> None:
    changed = {k for k, v in asdict(VAE_BENCH_TRAINING).items() if v != getattr(TrainConfig, k)}
    assert changed == {"epochs", "batch_size", "val_fraction"}
    args = _parse("bench", "vae")
    assert cli.bench_training(args) == VAE_BENCH_TRAINING
    bench = VaeBench()
    for field in fields(VaeBench):
        if field.name != "held_out_fraction":  # not an option
            assert getattr(args, field.name) == getattr(bench, field.name), field.name
