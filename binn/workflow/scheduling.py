"""Scheduling policy of the workflow: job priorities and threads.

Snakemake runs the ready job of highest priority first. The order below keeps the cores
busy on a small machine and shortens the run's last chain:

- :data:`PREREQUISITE` (3): simulations, phantoms and the prior, which every training
  waits for;
- :data:`TRAINING` (2): the trainings, the longest jobs, which everything after the
  selection waits for; classical tracking (nothing to train) shares this level, so its long
  chain (validation -> selection -> whole test sequences -> strain) runs beside them;
- :data:`TOWARDS_REPORT` (1): network tracking that leads to a selection or is a selected
  run, and strain, which the report waits for;
- :data:`SWEEP` (0): the remaining network sweeps.
"""

from __future__ import annotations

from binn.vocabulary import get_method
from binn.workflow.experiments import SELECTED, VALIDATION_EXPERIMENTS

PREREQUISITE = 3
TRAINING = 2
TOWARDS_REPORT = 1
SWEEP = 0


def track_priority(experiment: str, method: str, setting: str) -> int:
    """Priority of the tracking job of ``method`` with ``setting`` in ``experiment``."""
    if not get_method(method).is_network:
        return TRAINING
    if setting == SELECTED or experiment in VALIDATION_EXPERIMENTS:
        return TOWARDS_REPORT
    return SWEEP


def track_threads(method: str, frames: str, threads: int) -> int:
    """Threads of a tracking job; ``threads``: the config's ``track_threads``.

    Classical methods register the pairs of whole sequences in parallel. ES->ED experiments
    (a pair per slice) and networks run on one thread: their few pairs cost less than the
    job's start (itk-elastix alone imports in 10 s on one core), so a second thread would
    mostly wait while another job could use it.
    """
    if not get_method(method).is_network and frames != "es":
        return threads
    return 1
