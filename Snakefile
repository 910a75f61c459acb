"""binn: one DAG from ES masks and cine images to the reproduction report.

Run `snakemake --cores all` (default: embedded synthetic data, CPU) or pass
`--configfile config/paper.yaml` (paper scale, GPU) / `config/real_acdc.yaml` (your data).
"""

from snakemake.utils import min_version, validate

from binn.workflow import Layout, check_config_files

min_version("9.0")


configfile: "config/config.yaml"


check_config_files(workflow.configfiles)
validate(config, "config/schema.yaml")

L = Layout.from_config(config)


wildcard_constraints:
    case=r"[A-Za-z0-9_]+",
    subject=r"[A-Za-z0-9_]+",
    split=r"train|val|test|general",
    domain=r"phantom|real",
    method=r"binn|l2|demons|ffd",
    setting=r"[A-Za-z0-9_.=+\-]+",
    experiment=r"validation|phantom_validation|comparison|alpha_sweep|test_sweep|generalisation",


include: "simulate/rules.smk"
include: "learn/rules.smk"
include: "register/rules.smk"
include: "analysis/rules.smk"


rule all:
    default_target: True
    input:
        L.report_files(),
