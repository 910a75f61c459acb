# Stage 4: tracking and metrics per experiment x method x setting, hyperparameter
# selection, strain per test subject, tables, figures and summary.


rule track_evaluate:
    """Every subject of one experiment tracked with one setting of one method, and scored
    (one process: the model, torch and ITK load once)."""
    input:
        unpack(L.track_models),
        data=L.track_data,
    output:
        fields=directory(P.track_dir("{experiment}", "{method}", "{setting}")),
        metrics=P.metrics("{experiment}", "{method}", "{setting}"),
        curves=P.curves("{experiment}", "{method}", "{setting}"),
    log:
        P.log("track", "{experiment}", "{method}", "{setting}"),
    benchmark:
        P.benchmark("track", "{experiment}", "{method}", "{setting}")
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
        P.selection("{experiment}", "{method}"),
    log:
        P.log("select", "{experiment}", "{method}"),
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
        data=L.strain_data,
        fields=P.track_dir("comparison", "{method}", SELECTED),
        vae=P.vae(),
    output:
        directory(P.strain_dir("{method}")),
    log:
        P.log("strain", "{method}"),
    benchmark:
        P.benchmark("strain", "{method}")
    priority: TOWARDS_REPORT  # the report waits for it
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
        P.run_config(),
    log:
        P.log("run_config"),
    localrule: True
    params:
        text=L.config_text(),
    run:
        from binn.io import write_text

        write_text(output[0], params.text)
        write_text(log[0], f"wrote {output[0]}\n")


rule export_pretrained:
    """The selected synthetic-trained networks and their VAE as the shipped models, with a
    model card (target: pretrained)."""
    input:
        **L.shipped_inputs(),
    output:
        L.shipped_files(),
    log:
        P.log("export_pretrained"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        args=lambda wc: L.shipped_args(),
        out_dir=L.shipped_dir(),
    shell:
        "binn --log-file {log} export-pretrained {params.args} --test-metrics {input.metrics}"
        " --run-config {input.config} --out-dir {params.out_dir}"


rule pretrained:
    """Train (on the synthetic cine only), select and export the shipped models."""
    input:
        L.shipped_files(),


rule report:
    input:
        config=P.run_config(),
        metrics=L.report_metrics(),
        curves=L.report_curves(),
        failed=P.failed_cases(),
        selections=L.report_selections(),
        strain=L.all_strain_dirs(),
        split=L.report_split(),
    output:
        summary=report(
            P.summary(),
            caption="report/summary.rst",
            category="Summary",
        ),
        tables=report(
            directory(P.report_dir()),
            patterns=["{name}.png"],
            caption="report/figures.rst",
            category="Figures and tables",
        ),
    log:
        P.log("report"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=lambda wc, input: f"--split {input.split}" if input.split else "",
        regularity=" ".join(REGULARITY_EXPERIMENTS),
    shell:
        "binn --log-file {log} report --metrics {input.metrics} --curves {input.curves}"
        " --failed {input.failed} --selections {input.selections}"
        " --strain-dirs {input.strain} {params.split} --regularity {params.regularity}"
        " --out-dir {output.tables} --summary {output.summary} --config {input.config}"
