"""The register stage's defaults live once (binn.register.config): every field of each
dataclass is the default of the command-line option of the same name and of the workflow
setting (config/schema.yaml) that means the same; the vocabulary's methods reach the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
import yaml

from binn import vocabulary
from binn.errors import BinnInputError
from binn.register import cli as register_cli
from binn.register.baselines import DEFAULTS as BASELINE_DEFAULTS
from binn.register.config import (
    PHANTOM_FAMILIES,
    AnatomyBenchConfig,
    PhantomConfig,
    SplitConfig,
    TrackOptions,
    TrainConfig,
)
from binn.register.data.phantom import FAMILIES, make_phantom
from binn.register.data.split import make_split
from binn.register.train import registration_loss

SCHEMA = yaml.safe_load((Path(__file__).parents[1] / "config" / "schema.yaml").read_text())

# dataclass field -> the schema setting that means the same (fields without one are absent)
SCHEMA_KEYS = {
    TrainConfig: {
        "width": "register.width",
        "steps": "register.steps",
        "lr": "register.lr",
        "batch_size": "register.batch_size",
        "precision": "register.precision",
        "seed": "seed",
        "device": "device",
    },
    PhantomConfig: {
        "frames": "phantom.frames",
        "slices": "phantom.slices",
        "snr_db": "phantom.snr_db",
        "size": "grid.size",
        "spacing_mm": "grid.spacing_mm",
    },
    TrackOptions: {
        "frames": "real_data.test_frames",
        "device": "device",
        "threads": "track_threads",
    },
    SplitConfig: {
        "val_fraction": "real_data.val_fraction",
        "test_fraction": "real_data.test_fraction",
        "seed": "seed",
    },
    AnatomyBenchConfig: {"size": "grid.size", "spacing_mm": "grid.spacing_mm"},
}
# the command whose options each dataclass holds the defaults of (bench: ``binn bench X``)
COMMANDS = {
    TrainConfig: "train-reg",
    PhantomConfig: "phantom",
    TrackOptions: "track",
    SplitConfig: "split",
    AnatomyBenchConfig: "bench anatomy",
}
REQUIRED_OPTIONS = {TrainConfig: {"method"}}  # a field the command requires has no default


def schema_default(dotted: str) -> object:
    node = SCHEMA
    for key in dotted.split("."):
        node = node["properties"][key]
    return node["default"]


def command_defaults(command: str) -> dict[str, object]:
    """``{dest: default}`` of every option of ``binn COMMAND`` as the register CLI builds it."""
    parser = argparse.ArgumentParser()
    if command.startswith("bench "):
        register_cli.add_bench(parser.add_subparsers())
        command = command.removeprefix("bench ")
    else:
        register_cli.add_commands(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices[command]
    return {a.dest: a.default for a in sub._actions if a.dest != "help"}


@pytest.mark.parametrize("config", list(SCHEMA_KEYS), ids=lambda c: c.__name__)
def test_every_schema_setting_defaults_to_the_dataclass(config) -> None:
    defaults = config()
    differ = {
        f"{field} (schema {key})": (getattr(defaults, field), schema_default(key))
        for field, key in SCHEMA_KEYS[config].items()
        if getattr(defaults, field) != schema_default(key)
    }
    assert not differ, f"{config.__name__} (dataclass, schema): {differ}"


@pytest.mark.parametrize("config", list(COMMANDS), ids=lambda c: c.__name__)
def test_every_field_is_the_default_of_its_option(config) -> None:
    options = command_defaults(COMMANDS[config])
    required = REQUIRED_OPTIONS.get(config, set())
    for field in dataclasses.fields(config):
        assert field.name in options, f"{COMMANDS[config]} has no option for {field.name}"
        if field.name in required:
            assert options[field.name] is None
        else:
            assert options[field.name] == getattr(config(), field.name), field.name


def test_library_functions_default_to_the_dataclasses() -> None:
    phantom = inspect.signature(make_phantom).parameters
    for name in ("family", "frames", "slices", "size", "spacing_mm"):
        assert phantom[name].default == getattr(PhantomConfig(), name), name
    assert phantom["snr_db"].default is None  # the family's own SNR, documented
    split = inspect.signature(make_split).parameters
    for name in ("val_fraction", "test_fraction", "seed"):
        assert split[name].default == getattr(SplitConfig(), name), name
    assert tuple(FAMILIES) == PHANTOM_FAMILIES


def test_every_classical_method_is_implemented() -> None:
    assert set(BASELINE_DEFAULTS) == set(vocabulary.classical_methods())


def test_train_config_setting_names_the_method_weight() -> None:
    assert TrainConfig(method="binn", alpha=1e-3).setting() == "alpha=0.001"
    assert TrainConfig(method="l2", lam=0.1).setting() == "lam=0.1"
    with pytest.raises(BinnInputError):
        TrainConfig(method="demons").setting()


def test_a_method_declared_in_the_vocabulary_reaches_the_cli_and_training(monkeypatch) -> None:
    """One declaration (binn.vocabulary.METHODS) and train-reg, track and the training loss
    accept a new network method; a classical one reaches track's choices."""
    toy = vocabulary.Method("toy", vocabulary.NETWORK, "Toy", weight="lam")
    flow = vocabulary.Method("flow", vocabulary.CLASSICAL, "optical flow")
    monkeypatch.setitem(vocabulary.METHODS, "toy", toy)
    monkeypatch.setitem(vocabulary.METHODS, "flow", flow)
    parser = argparse.ArgumentParser()
    register_cli.add_commands(parser.add_subparsers())
    args = parser.parse_args(
        ["train-reg", "--train", "a", "--val", "b", "--method", "toy", "--out", "m.pt"]
    )
    assert args.method == "toy"
    for method in ("toy", "flow"):
        argv = ["track", "--data", "s.npz", "--method", method, "--out", "f.npz"]
        assert parser.parse_args(argv).method == method
    with pytest.raises(SystemExit):
        parser.parse_args(["train-reg", "--train", "a", "--val", "b", "--method", "flow"])

    class Shift(torch.nn.Module):
        def forward(self, source, target):
            return torch.full((source.shape[0], 2, *source.shape[-2:]), 0.5)

    images = torch.rand(2, 1, 8, 8)
    loss, parts = registration_loss(
        Shift(), images, images, torch.ones(2, 8, 8), TrainConfig(method="toy", lam=2.0), None
    )
    assert parts["reg"] == 0.0 and float(loss) == pytest.approx(parts["mse"])
    assert TrainConfig(method="toy", lam=2.0).setting() == "lam=2"
