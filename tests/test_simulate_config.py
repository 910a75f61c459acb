"""The simulate stage's settings: one set of defaults (config/schema.yaml, ``binn simulate``,
``binn bench simulate``, ``binn verify cylinder``), and one typed request per case, whether
it comes from the command line or from :meth:`CaseSpec.request`. No FEM here."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.simulate import cli
from binn.simulate.bench import BENCH_SEEDS
from binn.simulate.cases import CaseSpec, enumerate_cases
from binn.simulate.config import (
    CYLINDER_MESH_SIZE_MM,
    LabelMapRing,
    SimulationRequest,
    SimulationSettings,
    SyntheticRing,
)
from binn.vocabulary import ACDC, UKBB

ES, ED = Path("d/1000001/label_sa_ES.nii.gz"), Path("d/1000001/label_sa_ED.nii.gz")
ES, ED = Path("d/1000001/label_sa_ES.nii.gz"), Path("d/1000001/label_sa_ED.nii.gz")
SCHEMA = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"
# SimulationSettings field -> its key in the schema's ``simulate`` block
SCHEMA_KEYS = {"mu_kpa": "mu_kpa", "frames": "frames", "mesh_size_mm": "mesh_size_mm"}
# SimulationSettings field -> the option of ``binn simulate`` (and bench / verify) setting it
CLI_DESTS = {"mu_kpa": "mu", "frames": "frames", "mesh_size_mm": "mesh_size"}


def _schema_default(*keys: str):
    node = yaml.safe_load(SCHEMA.read_text())
    for key in keys:
        node = node["properties"][key]
    return node["default"]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    cli.add_commands(commands)
    cli.add_bench(commands.add_parser("bench").add_subparsers())
    cli.add_verify(commands.add_parser("verify").add_subparsers())
    return parser.parse_args(list(argv))


def test_every_setting_has_one_default_in_schema_and_command_lines() -> None:
    names = {f.name for f in fields(SimulationSettings)}
    assert names == set(SCHEMA_KEYS) == set(CLI_DESTS)
    defaults = SimulationSettings()
    simulate = _parse("simulate", "--synthetic", "1", "--out", "x.npz")
    bench = _parse("bench", "simulate")
    verify = _parse("verify", "cylinder")
    for name, key in SCHEMA_KEYS.items():
        value = getattr(defaults, name)
        assert _schema_default("simulate", key) == pytest.approx(value), name
        assert getattr(simulate, CLI_DESTS[name]) == value, name
    assert (bench.frames, bench.mesh_size) == (defaults.frames, defaults.mesh_size_mm)
    assert bench.cases == len(BENCH_SEEDS)
    assert (verify.mu, verify.mesh_size) == (defaults.mu_kpa, CYLINDER_MESH_SIZE_MM)
    # the grid of a request: the schema's ``grid``, binn simulate's --size / --spacing-mm
    request = cli.simulation_request(simulate)
    assert request.settings == defaults
    assert (request.size, request.spacing_mm) == (DEFAULT_SIZE_PX, DEFAULT_SPACING_MM)
    assert _schema_default("grid", "size") == DEFAULT_SIZE_PX
    assert _schema_default("grid", "spacing_mm") == pytest.approx(DEFAULT_SPACING_MM)


@pytest.mark.parametrize(
    "spec",
    [
        enumerate_cases({"kind": "synthetic", "n_cases": 1, "seed": 7}, 2.0, 64)[0],
        CaseSpec("1000001_z03", LabelMapRing(ES, 3, ED, "ukbb", (5, 7))),
    ],
    ids=["synthetic", "label-map"],
)
def test_case_request_is_what_its_command_line_asks_for(spec: CaseSpec) -> None:
    """In-process callers get the run the workflow's ``binn simulate`` line gets."""
    settings = SimulationSettings(mu_kpa=20.0, frames=7, mesh_size_mm=2.5)
    argv = ["simulate", *spec.cli_args(), "--out", "o.npz", "--record-failure"]
    argv += ["--mu", "20", "--frames", "7", "--mesh-size", "2.5"]
    from_cli = cli.simulation_request(_parse(*argv))
    assert spec.request(Path("o.npz"), settings, record_failure=True) == from_cli
    assert from_cli.case_name() == spec.name


def test_ring_names_and_label_values_follow_the_layout() -> None:
    acdc = LabelMapRing(Path("p/patient004/patient004_frame09_gt.nii.gz"), 5)
    ukbb = LabelMapRing(Path("u/1000001/label_sa_ES.nii.gz"), 0, layout="ukbb")
    assert (acdc.default_case_name(), ukbb.default_case_name()) == (
        "patient004_z05",
        "1000001_z00",
    )
    assert acdc.values() == (ACDC.myocardium, ACDC.lv_cavity) == (2, 3)
    assert ukbb.values() == (UKBB.myocardium, UKBB.lv_cavity) == (2, 1)
    assert SyntheticRing(12).default_case_name() == "synth_0012"
    request = SimulationRequest(SyntheticRing(12), Path("x.npz"), case="mine")
    assert (request.case_name(), request.seed()) == ("mine", 12)
    config = SimulationRequest(ukbb, Path("x.npz"), ed_area_mm2=500.0).provenance_config()
    assert config["layout"] == "ukbb" and config["ed_area_mm2"] == 500.0
    assert "label_values" not in config and "synthetic" not in config


@pytest.mark.parametrize("text", ["2", "2,x", "3,3", "0,2"])
def test_bad_label_values_are_refused_at_the_command_line(text: str) -> None:
    args = _parse("simulate", "--es-labels", "es.nii.gz", "--slice", "0", "--out", "x.npz",
                  "--label-values", text)  # fmt: skip
    with pytest.raises(BinnInputError, match="--label-values"):
        cli.simulation_request(args)


def test_label_map_needs_a_slice() -> None:
    args = _parse("simulate", "--es-labels", "es.nii.gz", "--out", "x.npz")
    with pytest.raises(BinnInputError, match="--slice"):
        cli.simulation_request(args)
