"""The workflow's DAG: dry runs of the shipped configs fan out as designed, bad data dirs fail."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config, validate

from binn.errors import BinnInputError
from binn.vocabulary import canonical_setting, network_model_setting
from binn.workflow import METHODS, Layout, check_config_files
from tests.workflow_helpers import (
    REPO,
    run_snakemake,
    write_acdc_dataset,
    write_acdc_subject,
)


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
    n_models = {m: len({s.split(",")[0] for s in reg[m]}) for m in ("binn", "l2")}
    n_unrefined = sum("refine" not in s for s in reg["binn"])
    # one tracking job per experiment x method x setting, over all the experiment's subjects
    tracks = (
        sum(n_settings.values())  # validation: every setting of every method
        + len(METHODS)  # comparison: the selected setting of each method
        + n_unrefined  # alpha sweep: the unrefined alphas
        + sum(n_settings.values())  # test sweep: every setting, ES->ED
        + 2  # generalisation: the two networks
    )
    return {
        "simulate_case": config["simulate"]["source"]["n_cases"],
        "train_vae": 1,
        "phantom": ph["n_train"] + ph["n_val"] + ph["n_test"] + ph["n_general"],
        "train_registration": n_models["binn"] + n_models["l2"],
        "track_evaluate": tracks,
        "select_setting": len(METHODS),
        "strain": len(METHODS),  # every test subject, per selected method
        "run_config": 1,
        "report": 1,
        "all": 1,
    }


def _real_expected_counts(config: dict, split: dict, n_cases: int) -> dict[str, int]:
    """Real mode: real train/val/test from ``split``, phantom train/val for Table 3."""
    ph, reg = config["phantom"], config["register"]
    n_settings = {m: len(reg[m]) for m in METHODS}
    nets = n_settings["binn"] + n_settings["l2"]
    n_models = {m: len({s.split(",")[0] for s in reg[m]}) for m in ("binn", "l2")}
    n_unrefined = sum("refine" not in s for s in reg["binn"])
    n_val, n_test = len(split["val"]), len(split["test"])
    tracks = (
        sum(n_settings.values())  # validation on the real validation subjects
        + len(METHODS)  # comparison on the real test subjects
        + n_unrefined  # alpha sweep: the unrefined alphas
        + sum(n_settings.values())  # test sweep: every setting, ES->ED
        + nets  # phantom validation of the phantom-trained networks
        + 2  # generalisation: phantom-trained networks on the real test subjects
    )
    return {
        "split_subjects": 1,
        "import_real_subject": len(split["train"]) + n_val + n_test,
        "simulate_case": n_cases,
        "train_vae": 1,
        "phantom": ph["n_train"] + ph["n_val"],
        "train_registration": 2 * (n_models["binn"] + n_models["l2"]),
        "track_evaluate": tracks,
        "select_setting": len(METHODS) + 2,
        "strain": len(METHODS),
        "run_config": 1,
        "report": 1,
        "all": 1,
    }


def _load_validated(name: str) -> dict:
    config = load_configfile(str(REPO / "config" / "config.yaml"))
    update_config(config, load_configfile(str(REPO / "config" / name)))
    validate(config, str(REPO / "config" / "schema.yaml"))
    return config


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "test.yaml"])
def test_dry_run_fans_out_as_designed(name: str, tmp_path: Path) -> None:
    result = run_snakemake(tmp_path, name, "--dry-run", "--cores", "2", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _job_counts(result.stdout) == _expected_counts(_load_validated(name))


def test_missing_data_dir_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_acdc"
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(f"simulate:\n  source: {{kind: acdc, data_dir: {missing}}}\n")
    result = run_snakemake(tmp_path, configfile, "--dry-run", "--cores", "1", timeout=300)
    assert result.returncode != 0
    assert str(missing) in result.stdout + result.stderr
    assert "does not exist" in result.stdout + result.stderr


def test_layout_paths_and_splits() -> None:
    config = _test_config()
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


def _test_config() -> dict:
    config = load_configfile(str(REPO / "config" / "test.yaml"))
    validate(config, str(REPO / "config" / "schema.yaml"))
    return config


def _real_config(data_dir: Path, **real: object) -> dict:
    config = _test_config()
    config["simulate"]["source"] = {"kind": "real_train"}
    config["real_data"] = {"layout": "acdc", "data_dir": str(data_dir), **real}
    validate(config, str(REPO / "config" / "schema.yaml"))
    return config


def test_real_data_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BinnInputError, match="absent"):
        Layout.from_config(_real_config(tmp_path / "absent"))


def test_real_mode_splits_by_subject(tmp_path: Path) -> None:
    names = write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3})
    layout = Layout.from_config(_real_config(tmp_path / "acdc"))
    real = [layout.subjects(s) for s in ("real_train", "real_val", "real_test")]
    assert sorted(n for part in real for n in part) == names and all(real)
    # the prior simulates the ES masks of the training subjects only
    simulated = {name.rsplit("_z", 1)[0] for name in layout.cases}
    assert simulated == set(layout.subjects("real_train"))
    test = layout.experiment("comparison")
    assert test.split == "real_test" and test.domain == "real"
    shift = layout.experiment("generalisation")
    assert (shift.split, shift.domain, shift.selection) == (
        "real_test",
        "phantom",
        "phantom_validation",
    )
    assert layout.subject_npz("real_test", names[0]) == layout.path(
        "data", "real", "patient000.npz"
    )
    assert layout.strain_subjects() == layout.subjects("real_test")
    # real networks may train longer than the phantom ones (real_data.train_steps)
    steps = layout.config["register"]["steps"]
    assert layout.train_steps("real") == layout.train_steps("phantom") == steps
    config = _real_config(tmp_path / "acdc")
    config["real_data"]["train_steps"] = 3 * steps
    longer = Layout.from_config(config)
    assert (longer.train_steps("real"), longer.train_steps("phantom")) == (3 * steps, steps)


def test_a_simulation_subject_held_out_is_refused_by_name(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3})
    config = _real_config(tmp_path / "acdc")
    layout = Layout.from_config(config)
    held_out = layout.subjects("real_test")[0]
    config["simulate"]["source"] = {
        "kind": "acdc",
        "data_dir": str(tmp_path / "acdc"),
        "subjects": [layout.subjects("real_train")[0], held_out],
    }
    with pytest.raises(BinnInputError, match=f"{held_out} is a test subject"):
        Layout.from_config(config)
    # the same image under another name, in another folder, is refused too
    seed = int(held_out.removeprefix("patient"))
    write_acdc_subject(tmp_path / "other", "case900", "NOR", seed=seed)
    config["simulate"]["source"] = {"kind": "acdc", "data_dir": str(tmp_path / "other")}
    with pytest.raises(
        BinnInputError, match=f"case900 has the ED image of test subject {held_out}"
    ):
        Layout.from_config(config)


def test_real_mode_dry_run_fans_out_as_designed(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3, "RV": 3})
    configfile = tmp_path / "real.yaml"
    configfile.write_text(
        (REPO / "config" / "test.yaml").read_text()
        + f"real_data: {{layout: acdc, data_dir: {tmp_path / 'acdc'}}}\n"
    )
    result = run_snakemake(
        tmp_path, configfile, "--dry-run", "--cores", "2", "--config",
        "simulate={source: {kind: real_train}}", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    config = load_configfile(str(configfile))
    config["simulate"]["source"] = {"kind": "real_train"}
    validate(config, str(REPO / "config" / "schema.yaml"))
    layout = Layout.from_config(config)
    expected = _real_expected_counts(config, layout.split, len(layout.cases))
    assert _job_counts(result.stdout) == expected


def test_track_jobs_get_the_model_or_selection_they_need() -> None:
    layout = Layout.from_config(_test_config())

    def job(experiment: str, method: str, setting: str) -> SimpleNamespace:
        return SimpleNamespace(experiment=experiment, method=method, setting=setting)

    val_net = job("validation", "binn", "alpha=0.001")
    assert layout.track_inputs(val_net)["data"] == layout.split_npz("val")
    assert layout.track_inputs(val_net)["models"] == [
        layout.model("phantom", "binn", "alpha=0.001")
    ]
    assert layout.track_args(val_net).endswith("--frames es")
    selected = job("comparison", "l2", "selected")
    inputs = layout.track_inputs(selected)
    assert inputs["selection"] == layout.selection("validation", "l2")
    assert inputs["models"] == [layout.model("phantom", "l2", s) for s in layout.settings("l2")]
    pattern = layout.model("phantom", "l2", "{setting}")
    selection = layout.selection("validation", "l2")
    assert f"--model '{pattern}' --selection {selection}" in layout.track_args(selected)
    assert layout.track_args(selected).endswith("--frames all")
    # multi-parameter settings travel as comma-free slugs (SLURM job specs split on commas)
    assert layout.settings("ffd") == ["grid=8+penalty=0.01"]
    ffd = job("validation", "ffd", "grid=8+penalty=0.01")
    assert "models" not in layout.track_inputs(ffd)
    assert "--param grid=8 --param penalty=0.01" in layout.track_args(ffd)
    # classical whole sequences in parallel; ES->ED pairs (a few per subject) on one thread
    layout.config["track_threads"] = 3
    assert layout.track_threads(job("comparison", "ffd", "selected")) == 3
    assert layout.track_threads(ffd) == 1
    assert layout.track_threads(job("comparison", "binn", "selected")) == 1
    assert layout.track_threads(val_net) == 1
    # priorities: classical chains beside the trainings (2), then what leads to the report
    assert layout.track_priority(ffd) == layout.track_priority(job("test_sweep", "ffd", "x")) == 2
    assert layout.track_priority(val_net) == layout.track_priority(selected) == 1
    assert layout.track_priority(job("test_sweep", "binn", "alpha=0.001")) == 0
    assert layout.track_priority(job("alpha_sweep", "binn", "alpha=0.001")) == 0
    assert layout.train_args("binn", "alpha=0.001") == "--alpha 0.001"


def test_each_tracking_job_writes_the_fields_its_readers_expect() -> None:
    """The one folder a tracking job writes holds a fields file per subject of the
    experiment; strain reads its subject's file there."""
    layout = Layout.from_config(_test_config())
    for name in layout.experiments():
        subjects = layout.subjects(layout.experiment_split(name))
        for method, setting in layout.experiment_runs(name):
            job = SimpleNamespace(experiment=name, method=method, setting=setting)
            folder = layout.track_dir(name, method, setting)
            fields = layout.experiment_fields(name, method, setting)
            assert [Path(f).parent for f in fields] == [Path(folder)] * len(subjects)
            assert [Path(f).stem for f in fields] == subjects
            assert layout.track_inputs(job)["data"] == layout.split_npz(
                layout.experiment_split(name)
            )
    for method in METHODS:
        inputs = layout.strain_inputs(SimpleNamespace(method=method))
        fields = layout.strain_fields(method)
        assert [Path(f).parent for f in fields] == [Path(inputs["fields"])] * len(fields)
        assert [Path(f).stem for f in fields] == layout.strain_subjects()
        assert [Path(d).stem for d in inputs["data"]] == layout.strain_subjects()


def test_settings_are_canonical() -> None:
    """``alpha=1e-3`` names the model ``alpha=0.001``, as the checkpoint records it."""
    config = _test_config()
    assert "alpha=1e-3" in config["register"]["binn"]
    layout = Layout.from_config(config)
    assert layout.settings("binn")[0] == "alpha=0.001"
    job = SimpleNamespace(experiment="alpha_sweep", method="binn", setting="alpha=0.001")
    model = layout.model("phantom", "binn", "alpha=0.001")
    assert layout.track_inputs(job)["models"] == [model]
    config["register"]["binn"] = ["alpha=1e-3", "alpha=0.001"]
    with pytest.raises(BinnInputError, match="listed twice"):
        Layout.from_config(config)


def test_dry_run_model_and_tracking_paths_agree(tmp_path: Path) -> None:
    """In the DAG, the model train-reg writes is the model tracking reads (canonical form)."""
    result = run_snakemake(tmp_path, "test.yaml", "--dry-run", "--cores", "1", "--printshellcmds")
    assert result.returncode == 0, result.stderr[-3000:]
    written = set(re.findall(r"train-reg .*?--out (\S+)", result.stdout))
    read = {p.strip("'") for p in re.findall(r"track-evaluate .*?--model (\S+\.pt)", result.stdout)}
    direct = {p for p in read if "{setting}" not in p}
    assert direct and direct <= written
    # a selected run fills {setting} with the training weight the selection (checkpoint) holds
    config = _test_config()
    for method in ("binn", "l2"):
        (pattern,) = [p for p in read - direct if f"/{method}/" in p]
        for text in config["register"][method]:
            weight = network_model_setting(canonical_setting(text))
            assert pattern.format(setting=weight) in written, (text, pattern)
    assert any(path.endswith("binn/alpha=0.001.pt") for path in written)
    assert "1e-3" not in result.stdout


def test_refined_settings_share_the_model_of_their_weight() -> None:
    config = _test_config()
    config["register"]["binn"] = ["alpha=0.01", "alpha=0.01,refine=50"]
    layout = Layout.from_config(config)
    assert layout.model_settings("binn") == ["alpha=0.01"]
    job = SimpleNamespace(experiment="validation", method="binn", setting="alpha=0.01+refine=50")
    inputs = layout.track_inputs(job)
    assert inputs["models"] == [layout.model("phantom", "binn", "alpha=0.01")]
    assert inputs["vae"] == layout.vae()  # refinement under R_VAE reads the prior
    args = layout.track_args(job)
    assert "--param refine=50" in args and "alpha=0.01.pt" in args
    assert ("binn", "alpha=0.01+refine=50") in layout.experiment_runs("validation")


@pytest.mark.parametrize(
    "bad",
    ["alpha=", "lam=0.1", "alpha=0.1,lam=2", "alpha=x", "refine=50", "alpha=0.1,refine=-1",
     "alpha=0.1,refine=2.5"],
)  # fmt: skip
def test_network_settings_are_a_weight_and_refinement(bad: str) -> None:
    config = _test_config()
    config["register"]["binn"] = [bad]
    with pytest.raises(BinnInputError, match=r"register\.binn"):
        Layout.from_config(config)


def test_duplicate_config_keys_are_refused(tmp_path: Path) -> None:
    configfile = tmp_path / "dup.yaml"
    configfile.write_text("seed: 1\ntrain_gpus: 0\nvae:\n  epochs: 2\ntrain_gpus: 1\n")
    with pytest.raises(BinnInputError, match=r"dup\.yaml: line 5: key 'train_gpus' given twice"):
        check_config_files([configfile])
    check_config_files([REPO / "config" / n for n in ("config.yaml", "paper.yaml", "test.yaml")])
    result = run_snakemake(tmp_path, configfile, "--dry-run", "--cores", "1", timeout=300)
    assert result.returncode != 0
    assert "key 'train_gpus' given twice" in result.stdout + result.stderr
