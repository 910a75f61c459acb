# Stage 4: metrics per experiment, hyperparameter selection, tables, figures and summary.


rule evaluate:
    input:
        data=lambda wc: L.split_npz(L.experiment_split(wc.experiment)),
        fields=lambda wc: [
            L.fields(L.experiment_split(wc.experiment), wc.method, wc.setting, s)
            for s in L.subjects(L.experiment_split(wc.experiment))
        ],
    output:
        metrics=L.metrics("{experiment}", "{method}", "{setting}"),
        curves=L.curves("{experiment}", "{method}", "{setting}"),
    log:
        L.path("logs", "eval", "{experiment}", "{method}", "{setting}.log"),
    benchmark:
        L.path("benchmarks", "eval", "{experiment}", "{method}", "{setting}.tsv")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "binn --log-file {log} evaluate --data {input.data} --fields {input.fields}"
        " --experiment {wildcards.experiment} --out {output.metrics} --curves {output.curves}"


rule select_setting:
    """The paper's fair-comparison rule: the setting nearest the target mean |det J - 1|."""
    input:
        lambda wc: [
            L.metrics("validation", wc.method, s) for s in L.settings(wc.method)
        ],
    output:
        L.selection("{method}"),
    log:
        L.path("logs", "select", "{method}.log"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        target=config["register"]["target_abs_det_j_minus_1"],
    shell:
        "binn --log-file {log} select --metrics {input} --target {params.target} --out {output}"


rule report:
    input:
        metrics=[f for e in L.REPORT_EXPERIMENTS for f in L.experiment_metrics(e)],
        curves=[f for e in L.REPORT_EXPERIMENTS for f in L.experiment_curves(e)],
        failed=L.path("learn", "failed_cases.csv"),
        selections=[L.selection(m) for m in METHODS],
    output:
        summary=report(
            L.summary(),
            caption="report/summary.rst",
            category="Summary",
        ),
        tables=report(
            directory(L.report_dir()),
            patterns=["{name}.png"],
            caption="report/figures.rst",
            category="Figures and tables",
        ),
    log:
        L.path("logs", "report.log"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "binn --log-file {log} report --metrics {input.metrics} --curves {input.curves}"
        " --failed {input.failed} --selections {input.selections}"
        " --out-dir {output.tables} --summary {output.summary}"
