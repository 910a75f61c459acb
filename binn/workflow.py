"""Where every file of the Snakemake workflow lives, and which files each experiment needs.

The rule files (`*/rules.smk`) only wire commands to the paths this module names, so the
layout of a run is defined (and unit-tested) in one place.

Two modes:

- **synthetic** (default): phantoms of family A split into ``train`` / ``val`` / ``test``,
  family B as ``general``; the VAE prior learns from synthetic ES masks.
- **real** (``real_data`` names an ACDC / UK Biobank folder): a deterministic subject-level
  split (:func:`register.data.split.make_split`, also written as ``split.json``) gives
  ``real_train`` / ``real_val`` / ``real_test``; the prior learns from the ES masks of the
  training subjects only (``simulate.source.kind: real_train``); phantom ``train`` / ``val``
  still train the phantom networks whose domain shift Table 3 measures.

Networks are trained per *domain* (``phantom`` or ``real``: which train/val subjects) and
per training weight. Experiments (the paper's evidence) name the subjects they track, the
domain of the networks, the frames and the runs:

- ``validation``: every setting of every method, ES->ED only, on the validation subjects of
  the primary domain (phantom, or real in real mode); ``binn select`` picks per method the
  setting whose mean |det J - 1| is nearest the target (the paper's fair-comparison rule).
- ``comparison`` (Table 1, Table 2, Fig. 3): the selected setting of each method, whole
  sequences of the test subjects.
- ``alpha_sweep`` (Fig. 2): every alpha of ``binn`` (unrefined) on the test subjects.
- ``test_sweep``: every setting of every method, ES->ED only, on the test subjects: with
  ``validation`` it draws each method's accuracy against |det J - 1| over all its settings
  (the report's regularity curves), so no method is judged at its selected point alone.
- ``generalisation`` (Table 3): selected networks trained on phantoms, on the family-B
  phantoms (synthetic mode) or on the real test subjects (real mode, selected by
  ``phantom_validation`` on the phantom validation subjects).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from binn.errors import BinnInputError
from binn.vocabulary import phantom_seed

NETWORK_METHODS = ("binn", "l2")
CLASSICAL_METHODS = ("demons", "ffd")
METHODS = NETWORK_METHODS + CLASSICAL_METHODS
SELECTED = "selected"
NETWORK_WEIGHT = {"binn": "alpha", "l2": "lam"}
REFINE = "refine"
PHANTOM_SPLITS = ("train", "val", "test", "general")
REAL_SPLITS = ("real_train", "real_val", "real_test")
DOMAIN_SPLITS = {"phantom": ("train", "val"), "real": ("real_train", "real_val")}
VALIDATION_EXPERIMENTS = ("validation", "phantom_validation")
GRID_OPTIONS = ("--size", "--spacing-mm")


@dataclass(frozen=True)
class Experiment:
    """One experiment: subjects tracked (``split``), network ``domain``, frames, runs.

    ``runs``: ``(method, setting slug)`` pairs; ``selection``: the validation experiment
    whose selection files the ``selected`` runs read (None for validation experiments).
    """

    name: str
    split: str
    domain: str
    frames: str
    runs: tuple[tuple[str, str], ...]
    selection: str | None = None


@dataclass(frozen=True)
class Layout:
    """Paths and file lists of one workflow run, derived from a validated config."""

    config: dict[str, Any]
    cases: dict[str, Any] = field(repr=False)
    split: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layout:
        """Build the layout: canonical settings, the real-data split, the simulation cases.

        Fails fast (:class:`BinnInputError`) on bad settings, unusable data folders and a
        simulation subject that is also a validation or test subject.
        """
        from binn.simulate.cases import enumerate_cases

        config = {**config, "register": _canonical_register(config["register"])}
        split = _real_split(config)
        source = _simulation_source(config, split)
        grid = config["grid"]
        specs = enumerate_cases(source, grid["spacing_mm"], grid["size"])
        cases = {spec.name: spec for spec in _spread(specs, source)}
        if not cases:
            raise BinnInputError(source.get("data_dir"), "no usable simulation cases")
        return cls(config=config, cases=cases, split=split)

    # --- roots -------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return self.config["results"]

    @property
    def real(self) -> bool:
        """Real-data mode (``real_data`` configured)."""
        return self.split is not None

    def path(self, *parts: str) -> str:
        """A path under the results folder (strings, as Snakemake wants them)."""
        return os.path.join(self.root, *parts)

    # --- simulate ----------------------------------------------------------------------
    def case_npz(self, case: str) -> str:
        return self.path("simulate", "cases", f"{case}.npz")

    def all_case_npz(self) -> list[str]:
        return [self.case_npz(c) for c in self.cases]

    def case_args(self, case: str) -> str:
        """The `binn simulate` arguments that make ``case`` (shell-quoted), less the grid
        options (``--size``, ``--spacing-mm``), which the rule passes from ``grid``."""
        args, out = iter(self.cases[case].cli_args()), []
        for arg in args:
            if arg in GRID_OPTIONS:
                next(args)
            else:
                out.append(arg)
        return shlex.join(out)

    # --- subjects: phantoms and real data -------------------------------------------------
    def splits(self) -> tuple[str, ...]:
        """Every subject set the run uses."""
        if self.real:
            return ("train", "val", *REAL_SPLITS)
        return PHANTOM_SPLITS

    def subjects(self, split: str) -> list[str]:
        """Subject names of a split: phantom ``train``/``val``/``test``/``general`` or real
        ``real_train``/``real_val``/``real_test``."""
        if split in REAL_SPLITS:
            if self.split is None:
                raise ValueError(f"split {split!r} needs real_data")
            return list(self.split[split.removeprefix("real_")])
        n = self.config["phantom"][f"n_{split}"]
        return [f"{split}{i:03d}" for i in range(n)]

    def phantom_seed(self, split: str, subject: str) -> int:
        index = int(subject.removeprefix(split))
        return phantom_seed(self.config["seed"], split, index)

    def phantom_family(self, split: str) -> str:
        return self.config["phantom"]["general_family"] if split == "general" else "A"

    def subject_npz(self, split: str, subject: str) -> str:
        if split in REAL_SPLITS:
            return self.path("data", "real", f"{subject}.npz")
        return self.path("data", split, f"{subject}.npz")

    def split_npz(self, split: str) -> list[str]:
        return [self.subject_npz(split, s) for s in self.subjects(split)]

    def real_subjects(self) -> list[str]:
        """Every real subject imported (all three real splits)."""
        return [s for split in REAL_SPLITS for s in self.subjects(split)] if self.real else []

    def real_subject_dir(self, subject: str) -> str:
        assert self.split is not None
        return self.split["subjects"][subject]["dir"]

    def split_json(self) -> str:
        return self.path("split.json")

    def split_csv(self) -> str:
        return self.path("split.csv")

    def split_args(self) -> str:
        """``binn split`` options that reproduce :attr:`split` (shell-quoted)."""
        real = self.config["real_data"]
        args = ["--layout", real["layout"], "--data-dir", real["data_dir"]]
        if real.get("subjects"):
            args += ["--subjects", *real["subjects"]]
        if real.get("test_dir"):
            args += ["--test-dir", real["test_dir"]]
        args += ["--val-fraction", str(real["val_fraction"])]
        args += ["--test-fraction", str(real["test_fraction"]), "--seed", str(self.split_seed)]
        return shlex.join(args)

    @property
    def split_seed(self) -> int:
        return int(self.config["real_data"].get("seed", self.config["seed"]))

    # --- settings --------------------------------------------------------------------------
    def settings(self, method: str) -> list[str]:
        """The configured settings of ``method``, canonical, in path form (:func:`setting_slug`)."""
        return [setting_slug(s) for s in self.config["register"][method]]

    def setting(self, method: str, slug: str) -> str:
        """The canonical setting string (``name=value[,name=value]``) behind a path slug."""
        for setting in self.config["register"][method]:
            if setting_slug(setting) == slug:
                return setting
        raise ValueError(f"{method}: no configured setting has the path form {slug!r}")

    def model_setting(self, method: str, slug: str) -> str:
        """The training weight of a network setting, which alone names its model file:
        ``alpha=0.01+refine=50`` -> ``alpha=0.01``."""
        weight = f"{NETWORK_WEIGHT[method]}="
        return next(kv for kv in self.setting(method, slug).split(",") if kv.startswith(weight))

    def model_settings(self, method: str) -> list[str]:
        """The distinct training weights of a network method (one model each), in order."""
        return list(dict.fromkeys(self.model_setting(method, s) for s in self.settings(method)))

    def refine_params(self, method: str, slug: str) -> list[str]:
        """The test-time refinement parameters of a network setting (``refine*=N``)."""
        return [kv for kv in self.setting(method, slug).split(",") if kv.startswith(REFINE)]

    def train_args(self, method: str, model_setting: str) -> str:
        """``binn train-reg`` weight option of a model setting, e.g. ``--alpha 0.001``."""
        name, value = model_setting.split("=")
        if name != NETWORK_WEIGHT[method] or model_setting not in self.model_settings(method):
            raise ValueError(f"{method}: {model_setting!r} is not a configured training weight")
        return f"--{name} {shlex.quote(value)}"

    # --- models ------------------------------------------------------------------------
    def domains(self) -> tuple[str, ...]:
        """Training domains of the networks: phantoms, and real data in real mode."""
        return ("phantom", "real") if self.real else ("phantom",)

    def model(self, domain: str, method: str, model_setting: str) -> str:
        return self.path("models", domain, method, f"{model_setting}.pt")

    def train_inputs(self, wc: Any) -> dict[str, Any]:
        """Inputs of the training job ``wc`` (domain, method, setting wildcards)."""
        train, val = DOMAIN_SPLITS[wc.domain]
        return {
            "train": self.split_npz(train),
            "val": self.split_npz(val),
            "vae": [self.vae()] if wc.method == "binn" else [],
        }

    def train_steps(self, domain: str) -> int:
        """Optimisation steps of a network of ``domain``: ``real_data.train_steps`` for the
        real domain when set, else ``register.steps``."""
        steps = self.config["register"]["steps"]
        if domain == "real":
            return int(self.config["real_data"].get("train_steps", steps))
        return int(steps)

    def vae(self) -> str:
        return self.path("learn", "vae.pt")

    # --- experiments -------------------------------------------------------------------
    def experiments(self) -> dict[str, Experiment]:
        """The experiments of this run by name (see the module docstring)."""
        everything = tuple((m, s) for m in METHODS for s in self.settings(m))
        selected = tuple((m, SELECTED) for m in METHODS)
        alphas = [s for s in self.settings("binn") if not self.refine_params("binn", s)]
        sweep = tuple(("binn", s) for s in alphas)
        networks = tuple((m, SELECTED) for m in NETWORK_METHODS)
        primary = "real" if self.real else "phantom"
        val, test = ("real_val", "real_test") if self.real else ("val", "test")
        frames = self.config["real_data"]["test_frames"] if self.real else "all"
        out = [
            Experiment("validation", val, primary, "es", everything),
            Experiment("comparison", test, primary, frames, selected, "validation"),
            Experiment("alpha_sweep", test, primary, frames, sweep),
            Experiment("test_sweep", test, primary, "es", everything),
        ]
        if self.real:
            phantom_nets = tuple((m, s) for m in NETWORK_METHODS for s in self.settings(m))
            out += [
                Experiment("phantom_validation", "val", "phantom", "es", phantom_nets),
                Experiment(
                    "generalisation", test, "phantom", frames, networks, "phantom_validation"
                ),
            ]
        else:
            out.append(
                Experiment("generalisation", "general", "phantom", "all", networks, "validation")
            )
        return {e.name: e for e in out}

    def experiment(self, name: str) -> Experiment:
        try:
            return self.experiments()[name]
        except KeyError:
            raise ValueError(f"experiment {name!r} is not part of this run") from None

    def experiment_split(self, experiment: str) -> str:
        return self.experiment(experiment).split

    def experiment_runs(self, experiment: str) -> list[tuple[str, str]]:
        """The (method, setting) pairs an experiment evaluates."""
        return list(self.experiment(experiment).runs)

    def validation_experiments(self) -> list[str]:
        """The experiments whose metrics ``binn select`` chooses settings from."""
        return [e for e in VALIDATION_EXPERIMENTS if e in self.experiments()]

    # --- selection, tracking, evaluation ------------------------------------------------
    def selection(self, experiment: str, method: str) -> str:
        """Selection file of ``method`` made from the validation ``experiment``."""
        return self.path("select", experiment, f"{method}.json")

    def selection_metrics(self, experiment: str, method: str) -> list[str]:
        """The validation metrics the selection of ``method`` chooses among."""
        return [
            self.metrics(experiment, m, s)
            for m, s in self.experiment_runs(experiment)
            if m == method
        ]

    def all_selections(self) -> list[str]:
        return [
            self.selection(e, m)
            for e in self.validation_experiments()
            for m in dict.fromkeys(m for m, _ in self.experiment_runs(e))
        ]

    def track_dir(self, experiment: str, method: str, setting: str) -> str:
        """The folder one tracking job writes: a fields file per subject of the experiment."""
        return self.path("track", experiment, method, setting)

    def fields(self, experiment: str, method: str, setting: str, subject: str) -> str:
        return os.path.join(self.track_dir(experiment, method, setting), f"{subject}.npz")

    def experiment_fields(self, experiment: str, method: str, setting: str) -> list[str]:
        """The fields files of every subject of ``experiment`` (inside :meth:`track_dir`)."""
        subjects = self.subjects(self.experiment_split(experiment))
        return [self.fields(experiment, method, setting, s) for s in subjects]

    def track_inputs(self, wc: Any) -> dict[str, Any]:
        """Inputs of the tracking job ``wc`` (experiment, method, setting wildcards).

        One job tracks every subject of the experiment (one process: the model, ITK and
        torch load once). Inputs: the subject files; for a network, the model of the
        setting's training weight, or, for the selected setting, the selection file and
        every candidate model (the selection picks one of them); ``binn`` refinement also
        reads the VAE.
        """
        exp = self.experiment(wc.experiment)
        inputs: dict[str, Any] = {"data": self.split_npz(exp.split)}
        if wc.setting == SELECTED:
            inputs["selection"] = self.selection(exp.selection, wc.method)
        if wc.method in CLASSICAL_METHODS:
            return inputs
        selected = wc.setting == SELECTED
        candidates = self.settings(wc.method) if selected else [wc.setting]
        weights = dict.fromkeys(self.model_setting(wc.method, s) for s in candidates)
        inputs["models"] = [self.model(exp.domain, wc.method, w) for w in weights]
        if wc.method == "binn" and any(self.refine_params(wc.method, s) for s in candidates):
            inputs["vae"] = self.vae()
        return inputs

    def track_args(self, wc: Any) -> str:
        """``binn track`` options of the job ``wc``: model (or its pattern), setting, frames.

        Validation tracks ES->ED only (what the selection needs); test sets whole sequences.
        """
        exp = self.experiment(wc.experiment)
        args: list[str] = []
        if wc.method in NETWORK_METHODS:
            weight = (
                "{setting}" if wc.setting == SELECTED else self.model_setting(wc.method, wc.setting)
            )
            args += ["--model", shlex.quote(self.model(exp.domain, wc.method, weight))]
        if wc.setting == SELECTED:
            args += ["--selection", shlex.quote(self.selection(exp.selection, wc.method))]
        elif wc.method in CLASSICAL_METHODS:
            args += [
                f"--param {shlex.quote(kv)}"
                for kv in self.setting(wc.method, wc.setting).split(",")
            ]
        else:
            args += [
                f"--param {shlex.quote(kv)}" for kv in self.refine_params(wc.method, wc.setting)
            ]
        if "vae" in self.track_inputs(wc):
            args += ["--vae", shlex.quote(self.vae())]
        args += ["--frames", exp.frames]
        return " ".join(args)

    def track_priority(self, wc: Any) -> int:
        """Scheduling priority of a tracking job (the trainings have 2; simulations, phantoms
        and the prior, which the trainings wait for, 3).

        Classical methods need nothing trained: their chain (validation -> selection ->
        whole test sequences -> strain) is long, so it runs beside the trainings instead of
        after them. Network jobs that lead to a selection and the selected setting's runs
        come before the sweeps, so the run's last chain does not wait behind them.
        """
        if wc.method in CLASSICAL_METHODS:
            return 2
        leads_to_report = wc.setting == SELECTED or wc.experiment in VALIDATION_EXPERIMENTS
        return 1 if leads_to_report else 0

    def track_threads(self, wc: Any) -> int:
        """Threads of a tracking job: classical methods register whole sequences' pairs in
        parallel. ES->ED experiments (a pair per slice) and networks run on one thread: their
        few pairs cost less than the job's start (itk-elastix alone imports in 10 s on one
        core), so a second thread would mostly wait while another job could use it."""
        exp = self.experiment(wc.experiment)
        if wc.method in CLASSICAL_METHODS and exp.frames != "es":
            return self.config["track_threads"]
        return 1

    def metrics(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.csv")

    def curves(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.curves.csv")

    def experiment_metrics(self, experiment: str) -> list[str]:
        return [self.metrics(experiment, m, s) for m, s in self.experiment_runs(experiment)]

    def experiment_curves(self, experiment: str) -> list[str]:
        return [self.curves(experiment, m, s) for m, s in self.experiment_runs(experiment)]

    # --- strain -----------------------------------------------------------------------------
    def method_strain_dir(self, method: str) -> str:
        """The folder one strain job writes: a strain folder per test subject, named by the
        subject file (``binn strain --out-dir``)."""
        return self.path("strain", method)

    def strain_subjects(self) -> list[str]:
        """The test subjects of the comparison (phantoms, or real test subjects)."""
        return self.subjects(self.experiment_split("comparison"))

    def strain_inputs(self, wc: Any) -> dict[str, Any]:
        """Subject files, selected tracking folder and VAE of the strain job ``wc`` (method);
        the fields file of each subject in that folder is :meth:`strain_fields`."""
        return {
            "data": self.split_npz(self.experiment_split("comparison")),
            "fields": self.track_dir("comparison", wc.method, SELECTED),
            "vae": self.vae(),
        }

    def strain_fields(self, method: str) -> list[str]:
        """The selected fields of every test subject, in :meth:`strain_subjects` order."""
        return self.experiment_fields("comparison", method, SELECTED)

    def all_strain_dirs(self) -> list[str]:
        return [self.method_strain_dir(m) for m in METHODS]

    # --- report ----------------------------------------------------------------------------
    REPORT_EXPERIMENTS = ("validation", "test_sweep", "comparison", "alpha_sweep", "generalisation")
    REGULARITY_EXPERIMENTS = ("validation", "test_sweep")

    def report_selections(self) -> list[str]:
        """The selections the report shows: those of the primary validation."""
        return [self.selection("validation", m) for m in METHODS]

    def run_config(self) -> str:
        """The effective configuration of the run, as the report names and hashes it."""
        return self.path("config.yaml")

    def config_text(self) -> str:
        """:attr:`config` as YAML (settings canonical; keys sorted), what :meth:`run_config`
        holds: rerunning with the same text reproduces the run."""
        return yaml.safe_dump(self.config, sort_keys=True)

    def report_dir(self) -> str:
        return self.path("report")

    def summary(self) -> str:
        return self.path("summary.md")

    def report_files(self) -> list[str]:
        """The targets of ``rule all``: the summary (and in real mode the split)."""
        return [self.summary(), *([self.split_json(), self.split_csv()] if self.real else [])]


def setting_slug(setting: str) -> str:
    """The form of a setting used in paths and wildcards: ``,`` becomes ``+``.

    Snakemake's remote job steps (SLURM) pass wildcards as comma-separated ``name=value``
    pairs, so a wildcard value must not hold a comma. Slugs are mapped back to the configured
    setting by lookup (:meth:`Layout.setting`), never parsed.
    """
    return setting.replace(",", "+")


def _canonical_register(register: dict[str, Any]) -> dict[str, Any]:
    """``register`` with every setting in canonical form (``alpha=1e-3`` -> ``alpha=0.001``).

    Network settings are checked (:func:`_check_network_setting`); two settings of a method
    with one canonical form are refused.
    """
    from binn.vocabulary import canonical_setting

    out = dict(register)
    for method in METHODS:
        source = f"register.{method}"
        canonical = []
        for text in register[method]:
            setting = canonical_setting(text, source)
            if method in NETWORK_WEIGHT:
                _check_network_setting(method, text, setting)
            if setting in canonical:
                raise BinnInputError(source, f"setting {text!r} is listed twice (as {setting!r})")
            canonical.append(setting)
        out[method] = canonical
    return out


def _check_network_setting(method: str, text: str, setting: str) -> None:
    """A network setting is its weight (``alpha``/``lam``) plus optional ``refine*`` options;
    ``refine`` (iterations) is an integer >= 0."""
    from binn.vocabulary import parse_setting

    weight = NETWORK_WEIGHT[method]
    params = parse_setting(setting)
    extra = [k for k in params if k != weight and not k.startswith(REFINE)]
    iterations = params.get(REFINE, 0.0)
    if weight not in params or extra or iterations < 0 or iterations != int(iterations):
        raise BinnInputError(
            f"register.{method}",
            f"setting {text!r} is not '{weight}=<number>[,refine=<integer >= 0>]'",
        )


def _real_split(config: dict[str, Any]) -> dict[str, Any] | None:
    """The subject-level split of ``real_data`` (None without real data)."""
    real = config.get("real_data")
    if not real:
        return None
    from binn.register.data.split import make_split

    for key in ("data_dir", "test_dir"):
        if real.get(key) and not Path(real[key]).is_dir():
            raise BinnInputError(real[key], f"real_data.{key} does not exist")
    return make_split(
        real["data_dir"],
        real["layout"],
        val_fraction=real["val_fraction"],
        test_fraction=real["test_fraction"],
        seed=int(real.get("seed", config["seed"])),
        subjects=real.get("subjects") or None,
        test_dir=real.get("test_dir") or None,
    )


def _simulation_source(config: dict[str, Any], split: dict[str, Any] | None) -> dict[str, Any]:
    """The case source for :func:`simulate.cases.enumerate_cases` (which takes the grid).

    ``real_train``: the ES masks of the real training subjects. A real source of another
    kind must not hold a validation or test subject (by name or ED image content).
    """
    source = dict(config["simulate"]["source"])
    kind = source["kind"]
    if kind == "real_train":
        if split is None:
            raise BinnInputError("simulate.source", "kind real_train needs real_data")
        source.update(kind=split["layout"], data_dir=split["data_dir"], subjects=split["train"])
        return source
    if kind != "synthetic":
        if not Path(source["data_dir"]).is_dir():
            raise BinnInputError(source["data_dir"], "simulate.source.data_dir does not exist")
        if split is not None:
            _check_simulation_subjects(source, split)
    return source


def _spread(cases: list[Any], source: dict[str, Any]) -> list[Any]:
    """At most ``max_cases`` of a real source's cases, evenly spaced in their order."""
    limit = source.get("max_cases")
    if source["kind"] == "synthetic" or not limit or limit >= len(cases):
        return cases
    return [cases[(i * len(cases)) // limit] for i in range(limit)]


def _check_simulation_subjects(source: dict[str, Any], split: dict[str, Any]) -> None:
    """Refuse a simulation subject that is a real validation or test subject, naming it."""
    from binn.register.data.split import inspect_subject

    held_out = {n: i for n, i in split["subjects"].items() if i["split"] in ("val", "test")}
    by_hash = {i["ed_sha256"]: n for n, i in held_out.items()}
    data_dir = Path(source["data_dir"])
    names = source.get("subjects") or sorted(
        p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    for name in names:
        if name in held_out:
            raise BinnInputError(
                data_dir / name,
                f"simulation subject {name} is a {held_out[name]['split']} subject of real_data;"
                " simulate from the training subjects only (simulate.source.kind: real_train)",
            )
        try:
            digest = inspect_subject(data_dir / name, source["kind"]).ed_sha256
        except BinnInputError:
            continue  # enumerate_cases skips it with its reason
        if digest in by_hash:
            other = by_hash[digest]
            raise BinnInputError(
                data_dir / name,
                f"simulation subject {name} has the ED image of {held_out[other]['split']}"
                f" subject {other} of real_data",
            )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise BinnInputError(
                key_node.start_mark.name,
                f"line {line}: key {key!r} given twice (first on line {seen[key]})",
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def check_config_files(paths: list[str | Path]) -> None:
    """Refuse a config file with a duplicate key (Snakemake's loader keeps the last one).

    Raises :class:`BinnInputError` naming the file, the key and its line.
    """
    for path in paths:
        with open(path) as fh:
            yaml.load(fh, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
