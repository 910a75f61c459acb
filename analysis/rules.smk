# Stage 4: tracking and metrics per experiment x method x setting, hyperparameter
# selection, strain per test subject, tables, figures and summary.


rule track_evaluate:
    """Every subject of one experiment tracked with one setting of one method, and scored
    (one process: the model, torch and ITK load once)."""
    input:
        unpack(L.track_inputs),
    output:
        fields=directory(L.track_dir("{experiment}", "{method}", "{setting}")),
        metrics=L.metrics("{experiment}", "{method}", "{setting}"),
        curves=L.curves("{experiment}", "{method}", "{setting}"),
    log:
        L.path("logs", "track", "{experiment}", "{method}", "{setting}.log"),
    benchmark:
        L.path("benchmarks", "track", "{experiment}", "{method}", "{setting}.tsv")
    priority: L.track_priority
    conda:
        "../environment.yml"
    threads: L.track_threads
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        args=L.track_args,
        device=config["device"],
    shell:
        "binn --log-file {log} track-evaluate --data {input.data} --method {wildcards.method}"
        " {params.args} --threads {threads} --device {params.device}"
        " --experiment {wildcards.experiment} --out-dir {output.fields}"
        " --metrics {output.metrics} --curves {output.curves}"


rule select_setting:
    """The paper's fair-comparison rule: the setting nearest the target mean |det J - 1|."""
    input:
        lambda wc: L.selection_metrics(wc.experiment, wc.method),
    output:
        L.selection("{experiment}", "{method}"),
    log:
        L.path("logs", "select", "{experiment}", "{method}.log"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        target=config["register"]["target_abs_det_j_minus_1"],
    shell:
        "binn --log-file {log} select --metrics {input} --target {params.target} --out {output}"


rule strain:
    """Strain of every test subject under the selected setting of one method (Table 2)."""
    input:
        unpack(L.strain_inputs),
    output:
        directory(L.method_strain_dir("{method}")),
    log:
        L.path("logs", "strain", "{method}.log"),
    benchmark:
        L.path("benchmarks", "strain", "{method}.tsv")
    priority: 1  # the report waits for it
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        fields=lambda wc: L.strain_fields(wc.method),
    shell:
        "binn --log-file {log} strain --data {input.data} --fields {params.fields}"
        " --vae {input.vae} --out-dir {output}"


rule run_config:
    """The run's effective configuration: config files, --config overrides, schema defaults."""
    output:
        L.run_config(),
    log:
        L.path("logs", "run_config.log"),
    localrule: True
    params:
        text=L.config_text(),
    run:
        from binn.io import write_text

        write_text(output[0], params.text)
        write_text(log[0], f"wrote {output[0]}\n")


rule report:
    input:
        config=L.run_config(),
        metrics=[f for e in L.REPORT_EXPERIMENTS for f in L.experiment_metrics(e)],
        curves=[f for e in L.REPORT_EXPERIMENTS for f in L.experiment_curves(e)],
        failed=L.path("learn", "failed_cases.csv"),
        selections=L.report_selections(),
        strain=L.all_strain_dirs(),
        split=[L.split_json()] if L.real else [],
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
    params:
        split=lambda wc, input: f"--split {input.split}" if input.split else "",
        regularity=" ".join(L.REGULARITY_EXPERIMENTS),
    shell:
        "binn --log-file {log} report --metrics {input.metrics} --curves {input.curves}"
        " --failed {input.failed} --selections {input.selections}"
        " --strain-dirs {input.strain} {params.split} --regularity {params.regularity}"
        " --out-dir {output.tables} --summary {output.summary} --config {input.config}"
