"""Where every file of the Snakemake workflow lives, and which files each experiment needs.

The rule files (`*/rules.smk`) only wire commands to the paths this module names, so the
layout of a run is defined (and unit-tested) in one place.

Experiments (they match the paper's evidence):
- ``validation``: every hyperparameter setting of every method, ES->ED only, on the
  validation phantoms; ``binn select`` picks per method the setting whose mean |det J - 1|
  is nearest the target (the paper's fair-comparison rule).
- ``comparison`` (Table 1, Table 2, Fig. 3): the selected setting of each method, whole
  sequences of the test phantoms.
- ``alpha_sweep`` (Fig. 2): every alpha of ``binn`` on the test phantoms.
- ``generalisation`` (Table 3): the selected networks on the other phantom family, or on
  the real cine data named by ``real_data``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError

NETWORK_METHODS = ("binn", "l2")
CLASSICAL_METHODS = ("demons", "ffd")
METHODS = NETWORK_METHODS + CLASSICAL_METHODS
SELECTED = "selected"
NETWORK_WEIGHT = {"binn": "alpha", "l2": "lam"}
SPLIT_SEED_OFFSET = {"train": 10_000, "val": 20_000, "test": 30_000, "general": 40_000}


@dataclass(frozen=True)
class Layout:
    """Paths and file lists of one workflow run, derived from a validated config."""

    config: dict[str, Any]
    cases: dict[str, Any] = field(repr=False)
    real_subjects: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layout:
        """Build the layout; enumerates the simulation cases and real subjects (fails fast)."""
        from simulate.cases import enumerate_cases

        source = config["simulate"]["source"]
        if source["kind"] != "synthetic" and not Path(source["data_dir"]).is_dir():
            raise BinnInputError(source["data_dir"], "simulate.source.data_dir does not exist")
        _check_network_settings(config)
        cases = {spec.name: spec for spec in enumerate_cases(source)}
        if not cases:
            raise BinnInputError(source.get("data_dir"), "no usable simulation cases")
        return cls(config=config, cases=cases, real_subjects=_real_subjects(config))

    # --- roots -------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return self.config["results"]

    def path(self, *parts: str) -> str:
        """A path under the results folder (strings, as Snakemake wants them)."""
        return os.path.join(self.root, *parts)

    # --- simulate ----------------------------------------------------------------------
    def case_npz(self, case: str) -> str:
        return self.path("simulate", "cases", f"{case}.npz")

    def all_case_npz(self) -> list[str]:
        return [self.case_npz(c) for c in self.cases]

    def case_args(self, case: str) -> str:
        """The `binn simulate` arguments that make ``case`` (shell-quoted)."""
        import shlex

        return shlex.join(self.cases[case].cli_args())

    # --- phantoms and real subjects ------------------------------------------------------
    def subjects(self, split: str) -> list[str]:
        """Subject names of a split (``train``/``val``/``test``/``general`` phantoms, ``real``)."""
        if split == "real":
            return list(self.real_subjects)
        n = self.config["phantom"][f"n_{split}"]
        return [f"{split}{i:03d}" for i in range(n)]

    def phantom_seed(self, split: str, subject: str) -> int:
        index = int(subject.removeprefix(split))
        return self.config["seed"] * 100_000 + SPLIT_SEED_OFFSET[split] + index

    def phantom_family(self, split: str) -> str:
        return self.config["phantom"]["general_family"] if split == "general" else "A"

    def subject_npz(self, split: str, subject: str) -> str:
        return self.path("data", split, f"{subject}.npz")

    def split_npz(self, split: str) -> list[str]:
        return [self.subject_npz(split, s) for s in self.subjects(split)]

    def real_subject_dir(self, subject: str) -> str:
        return os.path.join(self.config["real_data"]["data_dir"], subject)

    # --- models, tracking, evaluation -------------------------------------------------------
    def settings(self, method: str) -> list[str]:
        """The configured settings of ``method`` in their path form (see :func:`setting_slug`)."""
        return [setting_slug(s) for s in self.config["register"][method]]

    def setting(self, method: str, slug: str) -> str:
        """The configured setting string (``name=value[,name=value]``) behind a path slug."""
        for setting in self.config["register"][method]:
            if setting_slug(setting) == slug:
                return setting
        raise ValueError(f"{method}: no configured setting has the path form {slug!r}")

    def train_args(self, method: str, slug: str) -> str:
        """``binn train-reg`` weight option of a network setting, e.g. ``--alpha 0.001``."""
        name, value = self.setting(method, slug).split("=")
        return f"--{name} {shlex.quote(value)}"

    def model(self, method: str, setting: str) -> str:
        return self.path("models", method, f"{setting}.pt")

    def selection(self, method: str) -> str:
        return self.path("select", f"{method}.json")

    def fields(self, split: str, method: str, setting: str, subject: str) -> str:
        return self.path("track", split, method, setting, f"{subject}.npz")

    def track_inputs(self, wc: Any) -> dict[str, Any]:
        """Inputs of the tracking job ``wc`` (split, method, setting, subject wildcards).

        The subject file, plus the model of a network setting, or, for the selected setting,
        the selection file and every candidate model (the selection picks one of them).
        """
        inputs: dict[str, Any] = {"data": self.subject_npz(wc.split, wc.subject)}
        if wc.setting == SELECTED:
            inputs["selection"] = self.selection(wc.method)
            if wc.method in NETWORK_METHODS:
                inputs["models"] = [self.model(wc.method, s) for s in self.settings(wc.method)]
        elif wc.method in NETWORK_METHODS:
            inputs["models"] = [self.model(wc.method, wc.setting)]
        return inputs

    def track_args(self, wc: Any) -> str:
        """``binn track`` options of the job ``wc``: model (or its pattern), setting, frames.

        Validation tracks ES->ED only (what the selection needs); test sets whole sequences.
        """
        args: list[str] = []
        if wc.method in NETWORK_METHODS:
            pattern = "{setting}" if wc.setting == SELECTED else wc.setting
            args += ["--model", shlex.quote(self.model(wc.method, pattern))]
        if wc.setting == SELECTED:
            args += ["--selection", shlex.quote(self.selection(wc.method))]
        elif wc.method in CLASSICAL_METHODS:
            setting = self.setting(wc.method, wc.setting)
            args += [f"--param {shlex.quote(kv)}" for kv in setting.split(",")]
        args += ["--frames", "es" if wc.split == "val" else "all"]
        return " ".join(args)

    def experiment_split(self, experiment: str) -> str:
        return {
            "validation": "val",
            "comparison": "test",
            "alpha_sweep": "test",
            "generalisation": "real" if self.real_subjects else "general",
        }[experiment]

    def experiment_runs(self, experiment: str) -> list[tuple[str, str]]:
        """The (method, setting) pairs an experiment evaluates."""
        if experiment == "validation":
            return [(m, s) for m in METHODS for s in self.settings(m)]
        if experiment == "comparison":
            return [(m, SELECTED) for m in METHODS]
        if experiment == "alpha_sweep":
            return [("binn", s) for s in self.settings("binn")]
        if experiment == "generalisation":
            return [(m, SELECTED) for m in NETWORK_METHODS]
        raise ValueError(f"unknown experiment {experiment!r}")

    def metrics(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.csv")

    def curves(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.curves.csv")

    def experiment_metrics(self, experiment: str) -> list[str]:
        return [self.metrics(experiment, m, s) for m, s in self.experiment_runs(experiment)]

    def experiment_curves(self, experiment: str) -> list[str]:
        return [self.curves(experiment, m, s) for m, s in self.experiment_runs(experiment)]

    # --- report ----------------------------------------------------------------------------
    REPORT_EXPERIMENTS = ("comparison", "alpha_sweep", "generalisation")

    def report_dir(self) -> str:
        return self.path("report")

    def summary(self) -> str:
        return self.path("summary.md")

    def report_files(self) -> list[str]:
        return [self.summary()]


def setting_slug(setting: str) -> str:
    """The form of a setting used in paths and wildcards: ``,`` becomes ``+``.

    Snakemake's remote job steps (SLURM) pass wildcards as comma-separated ``name=value``
    pairs, so a wildcard value must not hold a comma. Slugs are mapped back to the configured
    setting by lookup (:meth:`Layout.setting`), never parsed.
    """
    return setting.replace(",", "+")


def _check_network_settings(config: dict[str, Any]) -> None:
    """Each network setting is one weight: ``alpha=<number>`` (binn), ``lam=<number>`` (l2)."""
    for method, weight in NETWORK_WEIGHT.items():
        for setting in config["register"][method]:
            name, _, value = setting.partition("=")
            try:
                float(value)
            except ValueError:
                name = ""
            if name != weight:
                raise BinnInputError(
                    f"register.{method}", f"setting {setting!r} is not '{weight}=<number>'"
                )


def _real_subjects(config: dict[str, Any]) -> tuple[str, ...]:
    """Subject folder names of the optional real data set (all sub-folders unless listed)."""
    real = config.get("real_data")
    if not real:
        return ()
    data_dir = Path(real["data_dir"])
    if not data_dir.is_dir():
        raise BinnInputError(data_dir, "real_data.data_dir does not exist")
    names = real.get("subjects") or sorted(p.name for p in data_dir.iterdir() if p.is_dir())
    missing = [n for n in names if not (data_dir / n).is_dir()]
    if missing:
        raise BinnInputError(data_dir, f"real_data.subjects not found: {missing}")
    if not names:
        raise BinnInputError(data_dir, "real_data.data_dir holds no subject folders")
    return tuple(names)
