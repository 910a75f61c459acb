"""The configuration schema: shipped configs validate, bad keys and types are named."""

from __future__ import annotations

import argparse
import copy

import pytest
import yaml
from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from binn.register.cli import add_commands
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import METHODS, method_names
from binn.workflow import Layout
from tests.workflow_helpers import REPO, TOY_METHOD

SCHEMA = str(REPO / "config" / "schema.yaml")


def _load(name: str) -> dict:
    return load_configfile(str(REPO / "config" / name))


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = _load(name)
    validate(config, SCHEMA)
    assert config["simulate"]["source"]["kind"] == "synthetic"


@pytest.mark.parametrize(
    "names",
    [("config.yaml", "real_acdc.yaml"), ("config.yaml", "paper.yaml", "real_acdc_paper.yaml")],
)
def test_real_data_config_merges_over_default_and_validates(names: tuple[str, ...]) -> None:
    """Snakemake merges --configfile over config/config.yaml; the merge must stay valid."""
    config = _load(names[0])
    for name in names[1:]:
        update_config(config, _load(name))
    validate(config, SCHEMA)
    assert config["simulate"]["source"]["kind"] == "real_train"  # the prior sees train only
    assert config["real_data"]["layout"] == "acdc"
    assert config["real_data"]["val_fraction"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    "path", [("simulate", "source", "size"), ("simulate", "source", "spacing_mm"),
             ("vae", "image_size"), ("phantom", "size")],
)  # fmt: skip
def test_grid_is_the_only_size_and_spacing(path: tuple[str, ...]) -> None:
    """Sizes and spacings come from ``grid`` alone; the old per-stage keys are refused."""
    config = copy.deepcopy(_load("config.yaml"))
    assert set(config["grid"]) == {"spacing_mm", "size"}
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = 64
    with pytest.raises(WorkflowError, match=f"'{path[-1]}' was unexpected"):
        validate(config, SCHEMA)


def test_defaults_are_filled_in() -> None:
    config = {"simulate": {"source": {"kind": "synthetic", "n_cases": 3}}}
    validate(config, SCHEMA)
    assert config["simulate"]["mu_kpa"] == pytest.approx(36.75)
    assert config["simulate"]["frames"] == 50
    assert config["vae"]["latent"] == 32
    assert config["register"]["target_abs_det_j_minus_1"] == pytest.approx(0.1)
    assert config["grid"] == {"spacing_mm": pytest.approx(2.0), "size": 64}


def test_registration_steps_default_is_the_command_lines() -> None:
    """A config that omits ``register.steps`` trains as long as ``binn train-reg`` does."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    cli = parser.parse_args(["train-reg", "--train", "a", "--val", "b", "--method", "l2",
                             "--out", "m.pt"])  # fmt: skip
    config = {"simulate": {"source": {"kind": "synthetic", "n_cases": 3}}}
    validate(config, SCHEMA)
    assert config["register"]["steps"] == cli.steps == _load("config.yaml")["register"]["steps"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("vae", "bogus"), 1, "'bogus' was unexpected"),
        (("vae", "epochs"), "many", "'many' is not of type 'integer'"),
        (("simulate", "mu_kpa"), -1.0, "mu_kpa"),
        (("device",), "tpu", "tpu"),
    ],
)
def test_bad_key_or_type_is_named(path: tuple[str, ...], value: object, message: str) -> None:
    config = copy.deepcopy(_load("config.yaml"))
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


def test_real_source_needs_a_data_dir() -> None:
    config = {"simulate": {"source": {"kind": "acdc"}}}
    with pytest.raises(WorkflowError, match="data_dir"):
        validate(config, SCHEMA)


def _schema() -> dict:
    return yaml.safe_load((REPO / "config" / "schema.yaml").read_text())


def test_the_schema_declares_the_vocabularys_methods() -> None:
    """The settings lists the schema gives defaults for are exactly the registered methods."""
    register = _schema()["properties"]["register"]["properties"]
    lists = [name for name, spec in register.items() if spec.get("type") == "array"]
    assert lists == list(method_names())
    assert all(register[m]["default"] for m in method_names())


def test_a_method_registered_only_in_the_vocabulary_passes_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _load("test.yaml")
    config["register"]["toy"] = ["sigma=1e0"]
    validate(config, SCHEMA)  # any settings list: which names are methods is the vocabulary's
    monkeypatch.setitem(METHODS, TOY_METHOD.name, TOY_METHOD)
    layout = Layout.from_config(config)
    assert layout.settings.slugs("toy") == ["sigma=1"]  # canonical, like every method's
    assert ("toy", "selected") in layout.experiment("comparison").runs


@pytest.mark.parametrize(("value", "message"), [(3, "3 is not of type 'array'"),
                                                ([], "should be non-empty")])  # fmt: skip
def test_a_register_key_that_is_not_an_option_must_be_settings(value, message) -> None:
    config = _load("config.yaml")
    config["register"]["stpes"] = value
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


def test_the_grid_defaults_are_binns() -> None:
    """The schema's grid is the library's default grid (binn.resample), and the embedded
    config runs on it."""
    grid = _schema()["properties"]["grid"]["properties"]
    defaults = {"size": DEFAULT_SIZE_PX, "spacing_mm": DEFAULT_SPACING_MM}
    assert {k: grid[k]["default"] for k in grid} == defaults
    assert _load("config.yaml")["grid"] == defaults
