"""binn: one DAG from ES masks and cine images to the reproduction report.

Run `snakemake --cores all` (default: embedded synthetic data, CPU) or pass
`--configfile config/paper.yaml` (paper scale, GPU) / `config/real_acdc.yaml` (your data).
"""

import os

from snakemake.utils import min_version

from binn.vocabulary import NETWORK, method_wildcard
from binn.workflow import Layout, check_config_files, validate_config
from binn.workflow.experiments import EXPERIMENT_NAMES, REGULARITY_EXPERIMENTS, SELECTED
from binn.workflow.scheduling import PREREQUISITE, TOWARDS_REPORT, TRAINING
from binn.workflow.subjects import (
    DOMAINS,
    GENERATED_SPLITS,
    PHANTOM_SPLITS,
    SYNTHETIC_SPLITS,
)

min_version("9.0")


# the schema beside this Snakefile (a run may use --directory elsewhere)
SCHEMA = os.path.join(workflow.basedir, "config", "schema.yaml")
DEFAULT_CONFIG = "config/config.yaml"
# Checked before Snakemake reads it, so a YAML syntax error names the file and line. Snakemake
# reads --configfile files before this Snakefile: `binn check-config FILE` names their errors.
check_config_files([f for f in [DEFAULT_CONFIG] if os.path.exists(f)], SCHEMA)


configfile: DEFAULT_CONFIG


# Repeated and unknown keys named by file and line; then the merge, --config included.
check_config_files(workflow.configfiles, SCHEMA)
validate_config(
    config,
    SCHEMA,
    f"the config merged from {', '.join(map(str, workflow.configfiles))} and --config",
)

# Real mode reads its subjects from the split job's output once it has run (a checkpoint).
L = Layout.from_config(config, await_split=lambda: checkpoints.split_subjects.get())
P = L.paths


wildcard_constraints:
    case=r"[A-Za-z0-9_]+",
    subject=r"[A-Za-z0-9_]+",
    split="|".join(GENERATED_SPLITS),
    domain="|".join(DOMAINS),
    method=method_wildcard(),
    setting=r"[A-Za-z0-9_.=+\-]+",
    experiment="|".join(EXPERIMENT_NAMES),


include: "simulate/rules.smk"
include: "learn/rules.smk"
include: "register/rules.smk"
include: "analysis/rules.smk"


rule all:
    default_target: True
    input:
        L.report_files(),
