"""binn: one DAG from ES masks and cine images to the reproduction report.

Run `snakemake --cores all` (default: embedded synthetic data, CPU) or pass
`--configfile config/paper.yaml` (paper scale, GPU) / `config/real_acdc.yaml` (your data).
"""

from snakemake.utils import min_version, validate

from binn.vocabulary import NETWORK, method_wildcard
from binn.workflow import Layout, check_config_files
from binn.workflow.experiments import EXPERIMENT_NAMES, REGULARITY_EXPERIMENTS, SELECTED
from binn.workflow.scheduling import PREREQUISITE, TOWARDS_REPORT, TRAINING
from binn.workflow.subjects import DOMAINS, PHANTOM_SPLITS

min_version("9.0")


configfile: "config/config.yaml"


check_config_files(workflow.configfiles)
validate(config, "config/schema.yaml")

# Real mode reads its subjects from the split job's output once it has run (a checkpoint).
L = Layout.from_config(config, await_split=lambda: checkpoints.split_subjects.get())
P = L.paths


wildcard_constraints:
    case=r"[A-Za-z0-9_]+",
    subject=r"[A-Za-z0-9_]+",
    split="|".join(PHANTOM_SPLITS),
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
