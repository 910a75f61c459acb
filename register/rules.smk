# Stage 3: cine data (phantoms with ground truth; real subjects split by subject in real
# mode) and registration networks per training domain and weight. Tracking (any method) and
# its evaluation are one job per experiment x method x setting: analysis/rules.smk.


rule phantom:
    output:
        P.subject_npz("{split}", "{subject}"),
    log:
        P.log("data", "{split}", "{subject}"),
    benchmark:
        P.benchmark("data", "{split}", "{subject}")
    wildcard_constraints:
        split="|".join(PHANTOM_SPLITS),
    priority: PREREQUISITE  # the trainings wait for every phantom of their splits
    conda:
        "../environment.yml"
    resources:
        mem_mb=3500,  # measured 2.45 GB peak at paper scale (96 px, 50 frames, 9 slices)
        runtime=10,
    params:
        seed=lambda wc: L.subject_seed(wc.split, wc.subject),
        family=lambda wc: L.phantom_family(wc.split),
        frames=config["phantom"]["frames"],
        slices=config["phantom"]["slices"],
        size=config["grid"]["size"],
        spacing=config["grid"]["spacing_mm"],
        snr=config["phantom"]["snr_db"],
    shell:
        "binn --log-file {log} phantom --seed {params.seed} --family {params.family}"
        " --frames {params.frames} --slices {params.slices} --size {params.size}"
        " --spacing-mm {params.spacing} --snr {params.snr} --out {output}"


rule synth_cine:
    """A synthetic training subject moved by the run's simulated (FEM) motion."""
    input:
        L.case_inputs,
    output:
        P.subject_npz("{split}", "{subject}"),
    log:
        P.log("data", "{split}", "{subject}"),
    benchmark:
        P.benchmark("data", "{split}", "{subject}")
    wildcard_constraints:
        split="|".join(SYNTHETIC_SPLITS),
    priority: PREREQUISITE  # the trainings wait for every subject of their splits
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=lambda wc: L.subject_seed(wc.split, wc.subject),
        frames=config["synthetic"]["frames"],
        slices=config["synthetic"]["slices"],
        spacing=config["grid"]["spacing_mm"],
    shell:
        "binn --log-file {log} synth-cine --cases {input} --seed {params.seed}"
        " --frames {params.frames} --slices {params.slices} --spacing-mm {params.spacing}"
        " --out {output}"


if L.real:

    # A checkpoint: the jobs that need the real subjects read them from its output once it
    # has run (binn.workflow.layout), so no parse of the Snakefile recomputes the split.
    checkpoint split_subjects:
        """The subject-level train/val/test split of the real data (real mode)."""
        output:
            split=P.split_json(),
            table=report(
                P.split_csv(),
                caption="../analysis/report/split.rst",
                category="Real data",
            ),
        log:
            P.log("split"),
        conda:
            "../environment.yml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            args=lambda wc: L.split_args(),
        shell:
            "binn --log-file {log} split {params.args} --out {output.split} --table {output.table}"

    rule import_real_subject:
        """A real cine subject (ACDC / UK Biobank layout) on the run's grid, cropped around
        the LV."""
        input:
            split=P.split_json(),
        output:
            P.real_subject_npz("{subject}"),
        log:
            P.log("data", "real", "{subject}"),
        benchmark:
            P.benchmark("data", "real", "{subject}")
        conda:
            "../environment.yml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            subject_dir=lambda wc, input: L.real_subject_dir(input.split, wc.subject),
            layout=config["real_data"]["layout"],
            size=config["grid"]["size"],
            spacing=config["grid"]["spacing_mm"],
        shell:
            "binn --log-file {log} import-cine --dir {params.subject_dir} --layout {params.layout}"
            " --spacing-mm {params.spacing} --size {params.size} --out {output}"


rule train_registration:
    """One network per training domain (phantom, synthetic or real subjects), method and
    weight."""
    input:
        train=L.training_data,
        val=L.validation_data,
        vae=L.training_prior,
    output:
        model=P.model("{domain}", "{method}", "{setting}"),
        curves=report(
            P.model_curves("{domain}", "{method}", "{setting}"),
            caption="../analysis/report/registration_curves.rst",
            category="Registration training",
            subcategory="{domain} {method}",
            labels={
                "domain": "{domain}",
                "method": "{method}",
                "setting": "{setting}",
            },
        ),
    log:
        P.log("models", "{domain}", "{method}", "{setting}"),
    benchmark:
        P.benchmark("models", "{domain}", "{method}", "{setting}")
    wildcard_constraints:
        method=method_wildcard(NETWORK),
    priority: TRAINING  # the longest jobs, and everything after the selection waits for them
    conda:
        "../environment.yml"
    threads: config["train_threads"]
    resources:
        mem_mb=8000,  # measured 5.8 GB peak on CPU at paper scale (100 + 50 subjects, width 1)
        runtime=240,
        gpu=config["train_gpus"],
    params:
        weights=L.train_args,
        vae=lambda wc, input: f"--vae {input.vae}" if input.vae else "",
        width=config["register"]["width"],
        steps=lambda wc: L.train_steps(wc.domain),
        lr=config["register"]["lr"],
        batch_size=config["register"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
        precision=config["register"]["precision"],
    shell:
        "binn --log-file {log} train-reg --train {input.train} --val {input.val}"
        " --method {wildcards.method} {params.weights} {params.vae} --width {params.width}"
        " --steps {params.steps} --lr {params.lr} --batch-size {params.batch_size}"
        " --seed {params.seed}"
        " --device {params.device} --precision {params.precision} --out {output.model}"
