"""The Snakemake workflow's Python side: where every file lives and which files each job needs.

The rule files (``*/rules.smk``) only wire commands to what this package names, so the
layout of a run is defined (and unit-tested) in one place. Modules, one job each:

- :mod:`~binn.workflow.config`: config files read strictly, settings made canonical;
- :mod:`~binn.workflow.paths`: where each file of a run lives;
- :mod:`~binn.workflow.subjects`: the subject sets and training domains;
- :mod:`~binn.workflow.real_data`: real mode's split, read from the split job's output;
- :mod:`~binn.workflow.cases`: the simulation cases;
- :mod:`~binn.workflow.settings`: the configured settings of each method;
- :mod:`~binn.workflow.experiments`: the experiments (the paper's evidence);
- :mod:`~binn.workflow.scheduling`: job priorities and threads;
- :mod:`~binn.workflow.layout`: :class:`Layout`, all of it bound to one config, which the
  rules call.

Two modes:

- **synthetic** (default): phantoms of family A split into ``train`` / ``val`` / ``test``,
  family B as ``general``; the VAE prior learns from synthetic ES masks.
- **real** (``real_data`` names an ACDC / UK Biobank folder): a deterministic subject-level
  split (``binn split``, written as ``split.json`` by a checkpoint job) gives ``real_train``
  / ``real_val`` / ``real_test``; the prior learns from the ES masks of the training
  subjects only (``simulate.source.kind: real_train``); phantom ``train`` / ``val`` still
  train the phantom networks whose domain shift Table 3 measures.
"""

from binn.workflow.config import check_config_files, validate_config
from binn.workflow.layout import Layout

__all__ = ["Layout", "check_config_files", "validate_config"]
