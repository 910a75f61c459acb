"""The workflow's DAG: dry runs of the shipped configs fan out as designed, bad data dirs fail."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config, validate

from binn.cli import build_parser
from binn.errors import BinnInputError
from binn.io import write_json
from binn.register.data.split import make_split
from binn.vocabulary import (
    METHODS,
    PROPOSED_METHOD,
    canonical_setting,
    method_names,
    network_methods,
    network_model_setting,
)
from binn.workflow import Layout, check_config_files
from binn.workflow.real_data import split_seed
from tests.workflow_helpers import (
    REPO,
    TOY_METHOD,
    run_snakemake,
    run_snakemake_with_method,
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


def _unparsable_commands(stdout: str) -> dict[str, str]:
    """``{command: argparse's complaint}`` for the ``binn`` command lines of a dry run
    (``--printshellcmds``) that the ``binn`` parser refuses."""
    parser = build_parser()
    refused: dict[str, str] = {}
    for line in re.findall(r"^Shell command: binn (.*)$", stdout, flags=re.MULTILINE):
        argv = shlex.split(line)
        complaint = io.StringIO()
        try:
            with contextlib.redirect_stderr(complaint):
                parser.parse_args(argv)
        except SystemExit:
            refused[" ".join(argv[:3])] = complaint.getvalue().strip().splitlines()[-1]
    return refused


def _n_models(register: dict, method: str) -> int:
    """Distinct training weights of a network method: one model each."""
    return len({network_model_setting(canonical_setting(s)) for s in register[method]})


def _expected_counts(config: dict) -> dict[str, int]:
    """Jobs the design calls for, computed from the config (not from the workflow)."""
    ph, reg = config["phantom"], config["register"]
    methods, networks = method_names(), network_methods()
    n_settings = {m: len(reg[m]) for m in methods}
    n_unrefined = sum("refine" not in s for s in reg[PROPOSED_METHOD])
    # one tracking job per experiment x method x setting, over all the experiment's subjects
    tracks = (
        sum(n_settings.values())  # validation: every setting of every method
        + len(methods)  # comparison: the selected setting of each method
        + n_unrefined  # alpha sweep: the unrefined alphas
        + sum(n_settings.values())  # test sweep: every setting, ES->ED
        + len(networks)  # generalisation: the phantom-trained networks
        + sum(n_settings[m] for m in networks)  # synthetic validation: every network setting
        + len(networks)  # synthetic generalisation: the synthetic-trained networks
    )
    syn = config["synthetic"]
    return {
        "simulate_case": config["simulate"]["source"]["n_cases"],
        "train_vae": 1,
        "phantom": ph["n_train"] + ph["n_val"] + ph["n_test"] + ph["n_general"],
        "synth_cine": syn["n_train"] + syn["n_val"],
        "train_registration": 2 * sum(_n_models(reg, m) for m in networks),
        "track_evaluate": tracks,
        "select_setting": len(methods) + len(networks),
        "strain": len(methods),  # every test subject, per selected method
        "run_config": 1,
        "report": 1,
        "all": 1,
    }


def _real_expected_counts(config: dict, split: dict, n_cases: int) -> dict[str, int]:
    """Real mode once the split exists: real train/val/test from ``split``, phantom
    train/val for Table 3."""
    ph, reg = config["phantom"], config["register"]
    methods, networks = method_names(), network_methods()
    n_settings = {m: len(reg[m]) for m in methods}
    nets = sum(n_settings[m] for m in networks)
    n_unrefined = sum("refine" not in s for s in reg[PROPOSED_METHOD])
    tracks = (
        sum(n_settings.values())  # validation on the real validation subjects
        + len(methods)  # comparison on the real test subjects
        + n_unrefined  # alpha sweep: the unrefined alphas
        + sum(n_settings.values())  # test sweep: every setting, ES->ED
        + nets  # phantom validation of the phantom-trained networks
        + len(networks)  # generalisation: phantom-trained networks on the real test subjects
        + nets  # synthetic validation (on the real validation subjects)
        + len(networks)  # synthetic generalisation: on the real test subjects
    )
    syn = config["synthetic"]
    return {
        "import_real_subject": len(split["train"]) + len(split["val"]) + len(split["test"]),
        "simulate_case": n_cases,
        "train_vae": 1,
        "phantom": ph["n_train"] + ph["n_val"],
        "synth_cine": syn["n_train"] + syn["n_val"],
        "train_registration": 3 * sum(_n_models(reg, m) for m in networks),
        "track_evaluate": tracks,
        "select_setting": len(methods) + 2 * len(networks),
        "strain": len(methods),
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


def test_the_pretrained_target_trains_selects_and_exports_the_synthetic_networks(
    tmp_path: Path,
) -> None:
    """``snakemake pretrained``: synthetic cine, synthetic-trained networks, their
    validation and test tracking and selection, then one export whose command parses."""
    result = run_snakemake(tmp_path, "test.yaml", "--dry-run", "--cores", "2", "-p", "pretrained")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = _job_counts(result.stdout)
    config = _load_validated("test.yaml")
    reg, networks = config["register"], network_methods()
    assert counts["export_pretrained"] == 1 and counts["pretrained"] == 1
    assert counts["synth_cine"] == config["synthetic"]["n_train"] + config["synthetic"]["n_val"]
    assert counts["train_registration"] == sum(_n_models(reg, m) for m in networks)
    assert counts["select_setting"] == len(networks)
    assert "export-pretrained" in result.stdout and not _unparsable_commands(result.stdout)
    assert "results/shipped/binn.safetensors" in result.stdout
    assert "strain" not in counts and "report" not in counts


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
    assert len(layout.cases()) == config["simulate"]["source"]["n_cases"]
    assert layout.subjects("val") == ["val000"]
    assert layout.experiment("generalisation").split == "general"
    # phantom seeds never collide across splits
    seeds = {
        layout.subject_seed(s, n)
        for s in ("train", "val", "test", "general")
        for n in layout.subjects(s)
    }
    assert len(seeds) == sum(len(layout.subjects(s)) for s in ("train", "val", "test", "general"))
    assert layout.phantom_family("general") == "B" and layout.phantom_family("test") == "A"
    assert layout.paths.log("track", "validation", "binn", "alpha=0.001") == (
        "results/logs/track/validation/binn/alpha=0.001.log"
    )
    assert layout.paths.benchmark("simulate", "synth_1000") == (
        "results/benchmarks/simulate/synth_1000.tsv"
    )


def _test_config() -> dict:
    config = load_configfile(str(REPO / "config" / "test.yaml"))
    validate(config, str(REPO / "config" / "schema.yaml"))
    return config


def _real_config(data_dir: Path, results: Path | None = None, **real: object) -> dict:
    config = _test_config()
    config["simulate"]["source"] = {"kind": "real_train"}
    config["real_data"] = {"layout": "acdc", "data_dir": str(data_dir), **real}
    if results is not None:
        config["results"] = str(results)
    validate(config, str(REPO / "config" / "schema.yaml"))
    return config


def _write_split(config: dict) -> dict:
    """What the split job writes, where the workflow reads it (``results/split.json``)."""
    real = config["real_data"]
    split = make_split(
        real["data_dir"],
        real["layout"],
        val_fraction=real["val_fraction"],
        test_fraction=real["test_fraction"],
        seed=split_seed(config),
    )
    write_json(Path(config["results"]) / "split.json", split)
    return split


def test_real_data_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BinnInputError, match="absent"):
        Layout.from_config(_real_config(tmp_path / "absent"))


def test_real_mode_reads_the_subjects_from_the_split_file(tmp_path: Path) -> None:
    names = write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3})
    config = _real_config(tmp_path / "acdc", tmp_path / "results")
    waited: list[bool] = []
    layout = Layout.from_config(config, await_split=lambda: waited.append(True))
    assert not waited  # parsing the workflow neither computes nor reads the split
    split = _write_split(config)
    real = [layout.subjects(s) for s in ("real_train", "real_val", "real_test")]
    assert real == [split["train"], split["val"], split["test"]] and all(real)
    assert sorted(n for part in real for n in part) == names and waited
    # the prior simulates the ES masks of the training subjects only
    simulated = {name.rsplit("_z", 1)[0] for name in layout.cases()}
    assert simulated == set(layout.subjects("real_train"))
    assert layout.case_prerequisites() == [layout.paths.split_json()]
    test = layout.experiment("comparison")
    assert test.split == "real_test" and test.domain == "real"
    shift = layout.experiment("generalisation")
    assert (shift.split, shift.domain, shift.selection) == (
        "real_test",
        "phantom",
        "phantom_validation",
    )
    assert layout.paths.subject_npz("real_test", names[0]) == layout.paths.path(
        "data", "real", "patient000.npz"
    )
    assert layout.strain_subjects() == layout.subjects("real_test")
    assert layout.real_subject_dir(layout.paths.split_json(), names[0]) == str(
        (tmp_path / "acdc" / names[0]).resolve()
    )
    # the file, not a recomputation, is what the layout reads
    edited = {**split, "test": split["test"][:1]}
    write_json(layout.paths.split_json(), edited)
    assert layout.subjects("real_test") == split["test"][:1]
    # real networks may train longer than the phantom ones (real_data.train_steps)
    steps = layout.config["register"]["steps"]
    assert layout.train_steps("real") == layout.train_steps("phantom") == steps
    config["real_data"]["train_steps"] = 3 * steps
    longer = Layout.from_config(config)
    assert (longer.train_steps("real"), longer.train_steps("phantom")) == (3 * steps, steps)


def test_a_simulation_subject_held_out_is_refused_by_name(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3})
    config = _real_config(tmp_path / "acdc", tmp_path / "results")
    split = _write_split(config)
    held_out = split["test"][0]
    config["simulate"]["source"] = {
        "kind": "acdc",
        "data_dir": str(tmp_path / "acdc"),
        "subjects": [split["train"][0], held_out],
    }
    layout = Layout.from_config(config)  # the check needs the split: it runs on the cases
    with pytest.raises(BinnInputError, match=f"{held_out} is a test subject"):
        layout.cases()
    # the same image under another name, in another folder, is refused too
    seed = int(held_out.removeprefix("patient"))
    write_acdc_subject(tmp_path / "other", "case900", "NOR", seed=seed)
    config["simulate"]["source"] = {"kind": "acdc", "data_dir": str(tmp_path / "other")}
    with pytest.raises(
        BinnInputError, match=f"case900 has the ED image of test subject {held_out}"
    ):
        Layout.from_config(config).cases()


def test_real_mode_dry_run_fans_out_as_designed(tmp_path: Path) -> None:
    """The split is a checkpoint: before it has run the DAG stops at it; once it has, the
    DAG holds every job of the design, read from split.json."""
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "DCM": 3, "RV": 3})
    configfile = tmp_path / "real.yaml"
    configfile.write_text(
        (REPO / "config" / "test.yaml").read_text()
        + f"real_data: {{layout: acdc, data_dir: {tmp_path / 'acdc'}}}\n"
    )
    real_train = ("--config", "simulate={source: {kind: real_train}}")
    before = run_snakemake(tmp_path, configfile, "--dry-run", "--cores", "2", *real_train)
    assert before.returncode == 0, before.stderr[-3000:]
    counts = _job_counts(before.stdout)
    assert counts["split_subjects"] == 1
    assert "import_real_subject" not in counts and "simulate_case" not in counts

    done = run_snakemake(tmp_path, configfile, "--cores", "1", "results/split.json", *real_train)
    assert done.returncode == 0, done.stderr[-3000:]
    after = run_snakemake(tmp_path, configfile, "--dry-run", "--cores", "2", "-p", *real_train)
    assert after.returncode == 0, after.stderr[-3000:]
    assert "import-cine" in after.stdout and not _unparsable_commands(after.stdout)
    config = load_configfile(str(configfile))
    config["simulate"]["source"] = {"kind": "real_train"}
    validate(config, str(REPO / "config" / "schema.yaml"))
    config["results"] = str(tmp_path / "results")
    layout = Layout.from_config(config)
    split = json.loads((tmp_path / "results" / "split.json").read_text())
    assert _job_counts(after.stdout) == _real_expected_counts(config, split, len(layout.cases()))


def test_track_jobs_get_the_model_or_selection_they_need() -> None:
    layout = Layout.from_config(_test_config())
    paths = layout.paths

    def job(experiment: str, method: str, setting: str) -> SimpleNamespace:
        return SimpleNamespace(experiment=experiment, method=method, setting=setting)

    val_net = job("validation", "binn", "alpha=0.001")
    assert layout.track_data(val_net) == layout.split_npz("val")
    assert layout.track_models(val_net)["models"] == [paths.model("phantom", "binn", "alpha=0.001")]
    assert layout.track_args(val_net).endswith("--frames es")
    selected = job("comparison", "l2", "selected")
    inputs = layout.track_models(selected)
    assert inputs["selection"] == paths.selection("validation", "l2")
    assert inputs["models"] == [
        paths.model("phantom", "l2", s) for s in layout.settings.model_settings("l2")
    ]
    pattern = paths.model("phantom", "l2", "{setting}")
    selection = paths.selection("validation", "l2")
    assert f"--model '{pattern}' --selection {selection}" in layout.track_args(selected)
    assert layout.track_args(selected).endswith("--frames all")
    # multi-parameter settings travel as comma-free slugs (SLURM job specs split on commas)
    assert layout.settings.slugs("ffd") == ["grid=8+penalty=0.01"]
    ffd = job("validation", "ffd", "grid=8+penalty=0.01")
    assert layout.track_models(ffd) == {}
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
    training = SimpleNamespace(domain="phantom", method="binn", setting="alpha=0.001")
    assert layout.train_args(training) == "--alpha 0.001"
    assert layout.training_prior(training) == [paths.vae()]  # binn needs the prior
    assert layout.training_prior(SimpleNamespace(**{**vars(training), "method": "l2"})) == []
    assert layout.training_data(training) == layout.split_npz("train")
    assert layout.validation_data(training) == layout.split_npz("val")
    with pytest.raises(ValueError, match="not a configured training weight"):
        layout.train_args(SimpleNamespace(**{**vars(training), "setting": "alpha=0.5"}))


def test_each_tracking_job_writes_the_fields_its_readers_expect() -> None:
    """The one folder a tracking job writes holds a fields file per subject of the
    experiment; strain reads its subject's file there."""
    layout = Layout.from_config(_test_config())
    for name, experiment in layout.experiments.items():
        subjects = layout.subjects(experiment.split)
        for method, setting in experiment.runs:
            job = SimpleNamespace(experiment=name, method=method, setting=setting)
            folder = layout.paths.track_dir(name, method, setting)
            fields = layout.experiment_fields(name, method, setting)
            assert [Path(f).parent for f in fields] == [Path(folder)] * len(subjects)
            assert [Path(f).stem for f in fields] == subjects
            assert layout.track_data(job) == layout.split_npz(experiment.split)
    for method in METHODS:
        folder = layout.paths.track_dir("comparison", method, "selected")
        fields = layout.strain_fields(method)
        assert [Path(f).parent for f in fields] == [Path(folder)] * len(fields)
        assert [Path(f).stem for f in fields] == layout.strain_subjects()
        data = layout.strain_data(SimpleNamespace(method=method))
        assert [Path(d).stem for d in data] == layout.strain_subjects()


def test_the_alpha_sweep_is_the_proposed_methods_unrefined_weights() -> None:
    layout = Layout.from_config(_test_config())
    sweep = layout.experiment("alpha_sweep").runs
    assert sweep == tuple((PROPOSED_METHOD, s) for s in layout.settings.unrefined("binn"))
    assert sweep and all("refine" not in s for _, s in sweep)


def test_settings_are_canonical() -> None:
    """``alpha=1e-3`` names the model ``alpha=0.001``, as the checkpoint records it."""
    config = _test_config()
    assert "alpha=1e-3" in config["register"]["binn"]
    layout = Layout.from_config(config)
    assert layout.settings.slugs("binn")[0] == "alpha=0.001"
    job = SimpleNamespace(experiment="alpha_sweep", method="binn", setting="alpha=0.001")
    model = layout.paths.model("phantom", "binn", "alpha=0.001")
    assert layout.track_models(job)["models"] == [model]
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
    for method in network_methods():
        patterns = [p for p in read - direct if f"/{method}/" in p]
        assert len(patterns) == 2  # the phantom- and the synthetic-trained models
        for pattern in patterns:
            for text in config["register"][method]:
                weight = network_model_setting(canonical_setting(text))
                assert pattern.format(setting=weight) in written, (text, pattern)
    assert any(path.endswith("binn/alpha=0.001.pt") for path in written)
    assert "1e-3" not in result.stdout
    # every command line of the rules is one the binn command line accepts
    assert not _unparsable_commands(result.stdout)


def test_refined_settings_share_the_model_of_their_weight() -> None:
    config = _test_config()
    config["register"]["binn"] = ["alpha=0.01", "alpha=0.01,refine=50"]
    layout = Layout.from_config(config)
    assert layout.settings.model_settings("binn") == ["alpha=0.01"]
    job = SimpleNamespace(experiment="validation", method="binn", setting="alpha=0.01+refine=50")
    inputs = layout.track_models(job)
    assert inputs["models"] == [layout.paths.model("phantom", "binn", "alpha=0.01")]
    assert inputs["vae"] == layout.paths.vae()  # refinement under R_VAE reads the prior
    args = layout.track_args(job)
    assert "--param refine=50" in args and "alpha=0.01.pt" in args
    assert ("binn", "alpha=0.01+refine=50") in layout.experiment("validation").runs
    # l2 refines under its own ||grad u||^2: no prior
    config["register"]["l2"] = ["lam=0.01,refine=50"]
    l2 = SimpleNamespace(experiment="validation", method="l2", setting="lam=0.01+refine=50")
    assert "vae" not in Layout.from_config(config).track_models(l2)


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


def test_register_lists_only_registered_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _test_config()
    config["register"]["bogus"] = ["sigma=1"]
    with pytest.raises(BinnInputError, match=r"register\.bogus: unknown method 'bogus'"):
        Layout.from_config(config)
    # a registered method needs settings in the config
    monkeypatch.setitem(METHODS, TOY_METHOD.name, TOY_METHOD)
    with pytest.raises(BinnInputError, match=r"register\.toy: no settings listed"):
        Layout.from_config(_test_config())


def test_a_method_declared_only_in_the_vocabulary_runs_through_the_dag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering a method in binn.vocabulary.METHODS is all the workflow needs: the
    schema accepts its settings, and the DAG tracks, selects and reports it."""
    configfile = tmp_path / "toy.yaml"
    configfile.write_text(
        (REPO / "config" / "test.yaml")
        .read_text()
        .replace("register:\n", "register:\n  toy: ['sigma=2', 'sigma=3']\n")
    )
    result = run_snakemake_with_method(
        TOY_METHOD, tmp_path, configfile, "--dry-run", "--cores", "2", "--printshellcmds"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    monkeypatch.setitem(METHODS, TOY_METHOD.name, TOY_METHOD)
    config = load_configfile(str(configfile))
    validate(config, str(REPO / "config" / "schema.yaml"))
    assert _job_counts(result.stdout) == _expected_counts(config)
    assert "--method toy --param sigma=2" in result.stdout
    assert "select/validation/toy.json" in result.stdout and "strain/toy" in result.stdout
