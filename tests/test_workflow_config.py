"""The configuration schema: shipped configs validate, bad keys and types are named."""

from __future__ import annotations

import argparse
import copy

import pytest
import yaml
from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from binn.errors import BinnInputError
from binn.register.cli import add_commands
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import METHODS, method_names
from binn.workflow import Layout, check_config_files, validate_config
from tests.workflow_helpers import REPO, TOY_METHOD, run_snakemake

SCHEMA = str(REPO / "config" / "schema.yaml")


def _load_path(name: str) -> str:
    return str(REPO / "config" / name)


def _load(name: str) -> dict:
    return load_configfile(_load_path(name))


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


# Config errors name the file, the line and the key, without the schema (issue 23).


def _write(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("vae:\n  epochs: [3\nphantom: {}\n", "line 3, column 8: YAML syntax error: expected ','"),
        ("vae:\n\tepochs: 3\n", "line 2, column 1: YAML syntax error: found character '\\t'"),
        ('results: "out\n', "while scanning a quoted scalar that starts on line 1, column 10"),
    ],
)
def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path, text: str, where: str) -> None:
    path = _write(tmp_path / "mine.yaml", text)
    with pytest.raises(BinnInputError) as err:
        check_config_files([path], SCHEMA)
    assert str(err.value).startswith(f"{path}: ") and where in str(err.value)


def test_a_file_that_holds_no_mapping_is_named(tmp_path) -> None:
    for text, kind in (("", "nothing"), ("- 1\n- 2\n", "a list")):
        path = _write(tmp_path / "mine.yaml", text)
        with pytest.raises(BinnInputError, match=f"must hold a mapping of keys, it holds {kind}"):
            check_config_files([path], SCHEMA)
    with pytest.raises(BinnInputError, match="cannot read the config file"):
        check_config_files([tmp_path / "absent.yaml"])


def test_an_unknown_key_names_file_line_and_key_not_the_schema(tmp_path) -> None:
    path = _write(
        tmp_path / "mine.yaml",
        "seed: 1\nvae:\n  epochs: 3\n  epoch: 4\nsimulate:\n  source:\n    kind: synthetic\n"
        "    labels: {myocardium: 2, cavity: 3}\nplot: true\n",
    )
    with pytest.raises(BinnInputError) as err:
        check_config_files([_load_path("config.yaml"), path], SCHEMA)
    message = str(err.value)
    assert message.startswith(
        f"{path}: line 4: unknown key 'vae.epoch' (did you mean 'vae.epochs'?)"
    )
    assert "the keys under 'vae' are batch_size, beta, epochs, latent, lr," in message
    assert "line 8: unknown key 'simulate.source.labels.cavity'" in message
    assert "the keys under 'simulate.source.labels' are lv_cavity, myocardium" in message
    assert "line 9: unknown key 'plot'; the keys at the top level are " in message
    for schema_text in ("additionalProperties", "description", "exclusiveMinimum", "default"):
        assert schema_text not in message


def test_a_methods_settings_list_is_no_unknown_key(tmp_path) -> None:
    """``register`` takes any key whose value is a settings list (additionalProperties has a
    schema): which names are methods is the vocabulary's check, not this one."""
    path = _write(tmp_path / "mine.yaml", "register:\n  toy: [sigma=1]\n  steps: 3\n")
    check_config_files([path], SCHEMA)


def test_the_merged_config_is_checked_with_short_messages() -> None:
    """Keys and values given with --config reach the merge only: named by key path, with
    the source given, and neither the schema nor the config printed."""
    source = "the config merged from a.yaml and --config"
    config = _load("config.yaml")
    config["vae"]["bogus"] = 1
    with pytest.raises(BinnInputError) as err:
        validate_config(config, SCHEMA, source)
    assert str(err.value) == (
        f"{source}: unknown key 'vae.bogus'; the keys under 'vae' are batch_size, beta, "
        "epochs, latent, lr, lr_schedule, mask_dilation, val_fraction"
    )
    for path, value, message in [
        (("vae", "epochs"), "many", "vae.epochs: 'many' is not of type 'integer'"),
        (("simulate", "mu_kpa"), -1.0, "simulate.mu_kpa: -1.0 is less than or equal to"),
        (("device",), "tpu", "device: 'tpu' is not one of ['auto', 'cpu', 'cuda']"),
        (("register", "stpes"), 3, "register.stpes: 3 is not of type 'array'"),
    ]:
        config = copy.deepcopy(_load("config.yaml"))
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(BinnInputError) as err:
            validate_config(config, SCHEMA, source)
        assert str(err.value).startswith(f"{source}: {message}")
        assert "Failed validating" not in str(err.value) and "On instance" not in str(err.value)
    config = {"simulate": {"source": {"kind": "acdc"}}}
    with pytest.raises(
        BinnInputError, match=r"simulate\.source: 'data_dir' is a required property"
    ):
        validate_config(config, SCHEMA, source)
    config = {"simulate": {"source": {"kind": "synthetic", "n_cases": 3}}}
    validate_config(config, SCHEMA, source)
    assert config["vae"]["latent"] == 32  # defaults filled in, as validate does


def _said(result) -> str:
    """What a Snakemake run printed (its errors go to stdout or stderr by version)."""
    return result.stdout + result.stderr


def test_the_workflow_names_config_errors_by_file_and_line(tmp_path) -> None:
    """Snakemake itself: an unknown key in a --configfile, a syntax error in the default
    config/config.yaml, and an unknown key given with --config."""
    mine = _write(tmp_path / "mine.yaml", "vae:\n  epochs: 3\n  epoch: 4\n")
    result = run_snakemake(tmp_path, mine, "--dry-run", "--cores", "1", timeout=300)
    assert result.returncode != 0
    assert f"{mine}: line 3: unknown key 'vae.epoch' (did you mean 'vae.epochs'?)" in _said(result)
    assert "additionalProperties" not in _said(result)
    result = run_snakemake(tmp_path, "test.yaml", "--dry-run", "--config", "vae={bogus: 1}")
    assert result.returncode != 0
    assert "and --config: unknown key 'vae.bogus'" in _said(result)
    assert "Failed validating" not in _said(result)
    (tmp_path / "config").mkdir()
    _write(tmp_path / "config" / "config.yaml", "vae:\n  epochs: [3\n")  # Snakemake's default
    result = run_snakemake(tmp_path, "test.yaml", "--dry-run", "--cores", "1", timeout=300)
    assert result.returncode != 0
    assert "config/config.yaml: line 3, column 1: YAML syntax error" in _said(result)
