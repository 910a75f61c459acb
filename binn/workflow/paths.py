"""Where every file of a workflow run lives, under the run's ``results`` folder.

Paths are strings (what Snakemake wants) and may hold ``{wildcards}``; every rule's
outputs, logs and benchmarks are named here, so the layout of a run is defined (and
unit-tested) in one place. A setting appears in paths as its slug
(:func:`binn.vocabulary.setting_slug`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from binn.workflow.subjects import is_real


@dataclass(frozen=True)
class Paths:
    """The files of one run; ``root`` is the config's ``results`` folder."""

    root: str

    def path(self, *parts: str) -> str:
        """A path under the results folder."""
        return os.path.join(self.root, *parts)

    def log(self, *parts: str) -> str:
        """The log of a job: ``logs/<parts>.log``."""
        return self.path("logs", *parts[:-1], f"{parts[-1]}.log")

    def benchmark(self, *parts: str) -> str:
        """The benchmark (time, memory) of a job: ``benchmarks/<parts>.tsv``."""
        return self.path("benchmarks", *parts[:-1], f"{parts[-1]}.tsv")

    # --- simulate and learn ----------------------------------------------------------------
    def case_npz(self, case: str) -> str:
        """A simulated case (displacement fields on the grid)."""
        return self.path("simulate", "cases", f"{case}.npz")

    def case_xdmf(self, case: str) -> str:
        """The FE solution of a case, for ParaView."""
        return self.path("simulate", "xdmf", f"{case}.xdmf")

    def vae(self) -> str:
        """The learnt prior."""
        return self.path("learn", "vae.pt")

    def failed_cases(self) -> str:
        """The table of the simulation cases that failed (the prior's training skips them)."""
        return self.path("learn", "failed_cases.csv")

    def vae_figure(self, name: str) -> str:
        """A figure of the prior's training: ``loss`` or ``recon``."""
        return self.path("learn", f"vae.{name}.png")

    # --- subjects -------------------------------------------------------------------------
    def subject_npz(self, split: str, subject: str) -> str:
        """The cine of a subject: a phantom of ``split``, or an imported real subject."""
        if is_real(split):
            return self.real_subject_npz(subject)
        return self.path("data", split, f"{subject}.npz")

    def real_subject_npz(self, subject: str) -> str:
        """A real subject imported onto the run's grid (one file whatever its set)."""
        return self.path("data", "real", f"{subject}.npz")

    def split_json(self) -> str:
        """The real-data split (``binn split``)."""
        return self.path("split.json")

    def split_csv(self) -> str:
        """The real-data split as a table, excluded subjects with their reason."""
        return self.path("split.csv")

    # --- models ---------------------------------------------------------------------------
    def model(self, domain: str, method: str, model_setting: str) -> str:
        """A network of ``method`` trained on ``domain`` with one training weight."""
        return self.path("models", domain, method, f"{model_setting}.pt")

    def model_curves(self, domain: str, method: str, model_setting: str) -> str:
        """The training curves of :meth:`model`."""
        return self.path("models", domain, method, f"{model_setting}.curves.png")

    # --- tracking, evaluation, selection --------------------------------------------------
    def track_dir(self, experiment: str, method: str, setting: str) -> str:
        """The folder one tracking job writes: a fields file per subject of the experiment."""
        return self.path("track", experiment, method, setting)

    def fields(self, experiment: str, method: str, setting: str, subject: str) -> str:
        """The tracked fields of one subject, inside :meth:`track_dir`."""
        return os.path.join(self.track_dir(experiment, method, setting), f"{subject}.npz")

    def metrics(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.csv")

    def curves(self, experiment: str, method: str, setting: str) -> str:
        return self.path("eval", experiment, method, f"{setting}.curves.csv")

    def selection(self, experiment: str, method: str) -> str:
        """The setting of ``method`` selected on the validation ``experiment``."""
        return self.path("select", experiment, f"{method}.json")

    # --- strain and report ----------------------------------------------------------------
    def strain_dir(self, method: str) -> str:
        """The folder one strain job writes: a strain folder per test subject, named by the
        subject file (``binn strain --out-dir``)."""
        return self.path("strain", method)

    def run_config(self) -> str:
        """The effective configuration of the run, as the report names and hashes it."""
        return self.path("config.yaml")

    def report_dir(self) -> str:
        return self.path("report")

    def summary(self) -> str:
        return self.path("summary.md")
