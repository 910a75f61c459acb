"""The workflow bound to one validated config: what the rules (``*/rules.smk``) call.

:class:`Layout` joins the run's paths (:mod:`~binn.workflow.paths`), subject sets
(:mod:`~binn.workflow.subjects`), settings (:mod:`~binn.workflow.settings`), experiments
(:mod:`~binn.workflow.experiments`), simulation cases (:mod:`~binn.workflow.cases`) and
scheduling policy (:mod:`~binn.workflow.scheduling`) into the input functions and
parameters of the rules. Methods that take ``wc`` are Snakemake input or parameter
functions (``wc``: the job's wildcards).

Real mode (``real_data`` configured) reads the real subjects from ``split.json``, the
output of the split job, a Snakemake checkpoint: ``await_split`` (in the Snakefile,
``checkpoints.split_subjects.get``) raises Snakemake's ``IncompleteCheckpointException``
until that job has run, and Snakemake evaluates the function again afterwards. The cine
of real subjects is therefore a named input of its own (``data``, ``train``, ``val``): a
job that waits for the split still has its other named inputs, and its command line can be
printed in a dry run.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from binn.register.pretrained import CARD, CARD_TEXT, VAE_FILE
from binn.simulate.cases import CaseSpec
from binn.vocabulary import get_method, method_names, network_methods
from binn.workflow import cases as case_source
from binn.workflow import scheduling
from binn.workflow.config import canonical_config, config_text
from binn.workflow.experiments import (
    REPORT_EXPERIMENTS,
    SELECTED,
    Experiment,
    design,
)
from binn.workflow.paths import Paths
from binn.workflow.real_data import check_real_dirs, read_split, split_args, subject_dir
from binn.workflow.settings import RunSettings
from binn.workflow.subjects import (
    DOMAIN_SPLITS,
    is_real,
    is_synthetic,
    phantom_family,
    phantom_subject_seed,
    phantom_subjects,
    split_of_real_set,
    synthetic_subjects,
)


def _split_on_disk() -> None:
    """The default ``await_split``: ``split.json`` is read as it is on disk."""


@dataclass(frozen=True)
class Layout:
    """The files, jobs and parameters of one workflow run.

    ``config``: the validated config, settings canonical; ``await_split``: called before
    ``split.json`` is read (see the module docstring).
    """

    config: dict[str, Any]
    paths: Paths
    settings: RunSettings
    experiments: dict[str, Experiment]
    await_split: Callable[[], object] = field(default=_split_on_disk, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_config(
        cls, config: dict[str, Any], await_split: Callable[[], object] = _split_on_disk
    ) -> Layout:
        """The layout of a config validated against ``config/schema.yaml``.

        Fails fast (:class:`BinnInputError`) on bad settings, a data folder that does not
        exist and, where they do not depend on the real-data split, on simulation cases
        that cannot be made.
        """
        config = canonical_config(config)
        real = config.get("real_data")
        if real:
            check_real_dirs(real)
        case_source.check_source(config)
        settings = RunSettings.from_register(config["register"], method_names())
        test_frames = real["test_frames"] if real else "all"
        layout = cls(
            config=config,
            paths=Paths(config["results"]),
            settings=settings,
            experiments=design(settings, real=bool(real), test_frames=test_frames),
            await_split=await_split,
        )
        if not case_source.needs_split(config):
            layout.cases()
        return layout

    @property
    def real(self) -> bool:
        """Real-data mode (``real_data`` configured)."""
        return bool(self.config.get("real_data"))

    # --- simulation cases -----------------------------------------------------------------
    def cases(self) -> dict[str, CaseSpec]:
        """The simulation cases by name (enumerated once; after the split where they
        depend on it)."""
        if "cases" not in self._memo:
            split = self.split() if case_source.needs_split(self.config) else None
            self._memo["cases"] = case_source.simulation_cases(self.config, split)
        return self._memo["cases"]

    def case_inputs(self, wc: Any) -> list[str]:
        """Input function of the prior's training: every simulated case."""
        return [self.paths.case_npz(c) for c in self.cases()]

    def case_prerequisites(self) -> list[str]:
        """Inputs of a simulation job: ``split.json`` where the cases depend on it (a job
        on a cluster node reads its case from it), else none."""
        return [self.paths.split_json()] if case_source.needs_split(self.config) else []

    def case_args(self, case: str) -> str:
        """The ``binn simulate`` arguments of ``case`` less the grid options."""
        return case_source.case_args(self.cases()[case])

    # --- subjects -------------------------------------------------------------------------
    def split(self) -> dict[str, Any]:
        """The real-data split (``split.json``), once the split job has run."""
        if not self.real:
            raise ValueError("the real-data split needs real_data")
        self.await_split()
        return read_split(self.paths.split_json())

    def subjects(self, split: str) -> list[str]:
        """Subject names of a set: phantom ``train``/``val``/``test``/``general``, synthetic
        ``synth_train``/``synth_val`` or real ``real_train``/``real_val``/``real_test``."""
        if is_real(split):
            return list(self.split()[split_of_real_set(split)])
        if is_synthetic(split):
            return synthetic_subjects(self.config["synthetic"], split)
        return phantom_subjects(self.config["phantom"], split)

    def split_npz(self, split: str) -> list[str]:
        """The cine files of every subject of a set."""
        return [self.paths.subject_npz(split, s) for s in self.subjects(split)]

    def subject_seed(self, split: str, subject: str) -> int:
        """The seed of a generated (phantom or synthetic) subject."""
        return phantom_subject_seed(self.config["seed"], split, subject)

    def phantom_family(self, split: str) -> str:
        return phantom_family(self.config["phantom"], split)

    def split_args(self) -> str:
        """``binn split`` options of the config's ``real_data`` (shell-quoted)."""
        return split_args(self.config)

    @staticmethod
    def real_subject_dir(split_json: str, subject: str) -> str:
        """The folder of a real subject, read from the split file ``split_json``."""
        return subject_dir(read_split(split_json), subject)

    # --- networks -------------------------------------------------------------------------
    def training_data(self, wc: Any) -> list[str]:
        """Input function of the training job ``wc`` (domain, method, setting): the cine
        of the domain's training subjects."""
        return self.split_npz(DOMAIN_SPLITS[wc.domain][0])

    def validation_data(self, wc: Any) -> list[str]:
        """Input function of the training job ``wc``: the domain's validation cine."""
        return self.split_npz(DOMAIN_SPLITS[wc.domain][1])

    def training_prior(self, wc: Any) -> list[str]:
        """Input function of the training job ``wc``: the VAE, if its method needs it."""
        return [self.paths.vae()] if get_method(wc.method).needs_vae else []

    def train_args(self, wc: Any) -> str:
        """``binn train-reg`` weight option of the training job ``wc``, e.g. ``--alpha 0.001``."""
        return self.settings.train_args(wc.method, wc.setting)

    def train_steps(self, domain: str) -> int:
        """Optimisation steps of a network of ``domain``: ``real_data.train_steps`` for the
        real domain and ``synthetic.train_steps`` for the synthetic one when set, else
        ``register.steps``."""
        steps = self.config["register"]["steps"]
        if domain == "synthetic":
            return int(self.config["synthetic"].get("train_steps", steps))
        if domain == "real":
            return int(self.config["real_data"].get("train_steps", steps))
        return int(steps)

    # --- experiments ----------------------------------------------------------------------
    def experiment(self, name: str) -> Experiment:
        try:
            return self.experiments[name]
        except KeyError:
            raise ValueError(f"experiment {name!r} is not part of this run") from None

    def selection_metrics(self, experiment: str, method: str) -> list[str]:
        """The validation metrics the selection of ``method`` chooses among."""
        runs = self.experiment(experiment).runs
        return [self.paths.metrics(experiment, m, s) for m, s in runs if m == method]

    def experiment_fields(self, experiment: str, method: str, setting: str) -> list[str]:
        """The fields files of every subject of ``experiment`` (inside its track folder)."""
        subjects = self.subjects(self.experiment(experiment).split)
        return [self.paths.fields(experiment, method, setting, s) for s in subjects]

    def experiment_metrics(self, experiment: str) -> list[str]:
        runs = self.experiment(experiment).runs
        return [self.paths.metrics(experiment, m, s) for m, s in runs]

    def experiment_curves(self, experiment: str) -> list[str]:
        runs = self.experiment(experiment).runs
        return [self.paths.curves(experiment, m, s) for m, s in runs]

    # --- tracking -------------------------------------------------------------------------
    def _candidate_weights(self, wc: Any) -> list[str]:
        """The training weights whose models a network tracking job ``wc`` reads: its
        setting's, or for the selected setting every candidate's."""
        if wc.setting == SELECTED:
            return self._candidate_weights_of(wc.method)
        return [self.settings.model_setting(wc.method, wc.setting)]

    def _candidate_weights_of(self, method: str) -> list[str]:
        """The training weights of every setting of the network ``method``."""
        slugs = self.settings.slugs(method)
        return list(dict.fromkeys(self.settings.model_setting(method, s) for s in slugs))

    def _tracks_with_vae(self, wc: Any) -> bool:
        """Whether tracking job ``wc`` refines under the prior: a method that needs it, with
        a refined setting (or a selection among settings that hold one)."""
        if not get_method(wc.method).needs_vae:
            return False
        slugs = self.settings.slugs(wc.method) if wc.setting == SELECTED else [wc.setting]
        return any(self.settings.refine_params(wc.method, s) for s in slugs)

    def track_data(self, wc: Any) -> list[str]:
        """Input function of the tracking job ``wc`` (experiment, method, setting): the cine
        of every subject of the experiment (one job tracks them all: the model, ITK and
        torch load once)."""
        return self.split_npz(self.experiment(wc.experiment).split)

    def track_models(self, wc: Any) -> dict[str, Any]:
        """Input function of the tracking job ``wc``: what it reads besides the cine.

        The selected setting reads its selection file; a network reads the model of its
        setting's training weight, or, for the selected setting, every candidate model (the
        selection picks one of them); refinement under the prior also reads the VAE.
        """
        exp = self.experiment(wc.experiment)
        inputs: dict[str, Any] = {}
        if wc.setting == SELECTED:
            inputs["selection"] = self.paths.selection(exp.selection, wc.method)
        if not get_method(wc.method).is_network:
            return inputs
        weights = self._candidate_weights(wc)
        inputs["models"] = [self.paths.model(exp.domain, wc.method, w) for w in weights]
        if self._tracks_with_vae(wc):
            inputs["vae"] = self.paths.vae()
        return inputs

    def track_args(self, wc: Any) -> str:
        """``binn track-evaluate`` options of the job ``wc``: model (or its pattern),
        setting, frames. Validation tracks ES->ED only (what the selection needs); test
        sets whole sequences."""
        exp = self.experiment(wc.experiment)
        method = get_method(wc.method)
        args: list[str] = []
        if method.is_network:
            weight = (
                "{setting}"
                if wc.setting == SELECTED
                else self.settings.model_setting(wc.method, wc.setting)
            )
            args += ["--model", shlex.quote(self.paths.model(exp.domain, wc.method, weight))]
        if wc.setting == SELECTED:
            args += ["--selection", shlex.quote(self.paths.selection(exp.selection, wc.method))]
        else:
            params = (
                self.settings.refine_params(wc.method, wc.setting)
                if method.is_network
                else self.settings.params(wc.method, wc.setting)
            )
            args += [f"--param {shlex.quote(kv)}" for kv in params]
        if method.is_network and self._tracks_with_vae(wc):
            args += ["--vae", shlex.quote(self.paths.vae())]
        args += ["--frames", exp.frames]
        return " ".join(args)

    def track_priority(self, wc: Any) -> int:
        """Scheduling priority of the tracking job ``wc`` (:mod:`binn.workflow.scheduling`)."""
        return scheduling.track_priority(wc.experiment, wc.method, wc.setting)

    def track_threads(self, wc: Any) -> int:
        """Threads of the tracking job ``wc`` (:mod:`binn.workflow.scheduling`)."""
        frames = self.experiment(wc.experiment).frames
        return scheduling.track_threads(wc.method, frames, self.config["track_threads"])

    # --- strain ---------------------------------------------------------------------------
    def strain_subjects(self) -> list[str]:
        """The test subjects of the comparison (phantoms, or real test subjects)."""
        return self.subjects(self.experiment("comparison").split)

    def strain_data(self, wc: Any) -> list[str]:
        """Input function of the strain job ``wc`` (method): the cine of every test subject
        of the comparison; the job also reads the selected tracking folder, which holds a
        fields file per subject (:meth:`strain_fields`), and the VAE."""
        return self.split_npz(self.experiment("comparison").split)

    def strain_fields(self, method: str) -> list[str]:
        """The selected fields of every test subject, in :meth:`strain_subjects` order."""
        return self.experiment_fields("comparison", method, SELECTED)

    # --- shipped models ---------------------------------------------------------------------
    def shipped_dir(self) -> str:
        """Where ``pretrained`` writes the shipped models: ``shipped_dir`` of the config
        (``pretrained`` in ``config/pretrained.yaml``: the checkout's own folder), else
        ``<results>/shipped``."""
        return self.config.get("shipped_dir") or self.paths.path("shipped")

    def shipped_files(self) -> list[str]:
        """The files ``binn export-pretrained`` writes."""
        names = [f"{m}.safetensors" for m in network_methods()] + [VAE_FILE, CARD, CARD_TEXT]
        return [os.path.join(self.shipped_dir(), n) for n in names]

    def shipped_inputs(self) -> dict[str, Any]:
        """What the export reads: the synthetic networks' selections, every candidate model
        (the selection picks one), their test metrics and the run's config."""
        methods = network_methods()
        exp = self.experiment("synthetic_generalisation")
        candidates = {
            m: [self.paths.model(exp.domain, m, w) for w in self._candidate_weights_of(m)]
            for m in methods
        }
        return {
            "selections": [self.paths.selection(exp.selection, m) for m in methods],
            "models": [p for m in methods for p in candidates[m]],
            "metrics": self.experiment_metrics(exp.name),
            "config": self.paths.run_config(),
        }

    def shipped_args(self) -> str:
        """``binn export-pretrained`` options (less the test metrics, config and output)."""
        exp = self.experiment("synthetic_generalisation")
        args = []
        for m in network_methods():
            args += ["--model", f"{m}={self.paths.model(exp.domain, m, '{setting}')}"]
            args += ["--selection", f"{m}={self.paths.selection(exp.selection, m)}"]
        return " ".join(shlex.quote(a) for a in args)

    # --- report ---------------------------------------------------------------------------
    def report_metrics(self) -> list[str]:
        return [f for e in REPORT_EXPERIMENTS for f in self.experiment_metrics(e)]

    def report_curves(self) -> list[str]:
        return [f for e in REPORT_EXPERIMENTS for f in self.experiment_curves(e)]

    def report_selections(self) -> list[str]:
        """The selections the report shows: those of the primary validation."""
        return [self.paths.selection("validation", m) for m in method_names()]

    def all_strain_dirs(self) -> list[str]:
        return [self.paths.strain_dir(m) for m in method_names()]

    def report_split(self) -> list[str]:
        """The split file the report names (real mode), else nothing."""
        return [self.paths.split_json()] if self.real else []

    def config_text(self) -> str:
        """The run's effective configuration as YAML (settings canonical, keys sorted)."""
        return config_text(self.config)

    def report_files(self) -> list[str]:
        """The targets of ``rule all``: the summary (and in real mode the split)."""
        split = [self.paths.split_json(), self.paths.split_csv()] if self.real else []
        return [self.paths.summary(), *split]
