# Stage 3: cine data (phantoms with ground truth, optional real data), registration
# networks and classical baselines, tracking of whole sequences.


rule phantom:
    output:
        L.subject_npz("{split}", "{subject}"),
    log:
        L.path("logs", "data", "{split}", "{subject}.log"),
    benchmark:
        L.path("benchmarks", "data", "{split}", "{subject}.tsv")
    wildcard_constraints:
        split="train|val|test|general",
    conda:
        "../environment.yml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        seed=lambda wc: L.phantom_seed(wc.split, wc.subject),
        family=lambda wc: L.phantom_family(wc.split),
        frames=config["phantom"]["frames"],
        slices=config["phantom"]["slices"],
        size=config["phantom"]["size"],
        snr=config["phantom"]["snr_db"],
    shell:
        "binn --log-file {log} phantom --seed {params.seed} --family {params.family}"
        " --frames {params.frames} --slices {params.slices} --size {params.size}"
        " --snr {params.snr} --out {output}"


rule import_real_subject:
    """A real cine subject (ACDC / UK Biobank layout), cropped around the LV."""
    output:
        L.subject_npz("real", "{subject}"),
    log:
        L.path("logs", "data", "real", "{subject}.log"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        subject_dir=lambda wc: L.real_subject_dir(wc.subject),
        layout=config.get("real_data", {}).get("layout", "acdc"),
        size=config["phantom"]["size"],
    shell:
        "binn --log-file {log} import-cine --dir {params.subject_dir} --layout {params.layout}"
        " --crop {params.size} --out {output}"


rule train_registration:
    input:
        train=L.split_npz("train"),
        val=L.split_npz("val"),
        vae=lambda wc: L.path("learn", "vae.pt") if wc.method == "binn" else [],
    output:
        model=L.model("{method}", "{setting}"),
        curves=report(
            L.path("models", "{method}", "{setting}.curves.png"),
            caption="../analysis/report/registration_curves.rst",
            category="Registration training",
            subcategory="{method}",
            labels={"method": "{method}", "setting": "{setting}"},
        ),
    log:
        L.path("logs", "models", "{method}", "{setting}.log"),
    benchmark:
        L.path("benchmarks", "models", "{method}", "{setting}.tsv")
    wildcard_constraints:
        method="binn|l2",
    conda:
        "../environment.yml"
    threads: config["train_threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=config["train_gpus"],
    params:
        weights=lambda wc: L.train_args(wc.method, wc.setting),
        vae=lambda wc, input: f"--vae {input.vae}" if input.vae else "",
        width=config["register"]["width"],
        steps=config["register"]["steps"],
        lr=config["register"]["lr"],
        batch_size=config["register"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
    shell:
        "binn --log-file {log} train-reg --train {input.train} --val {input.val}"
        " --method {wildcards.method} {params.weights} {params.vae} --width {params.width}"
        " --steps {params.steps} --lr {params.lr} --batch-size {params.batch_size}"
        " --seed {params.seed}"
        " --device {params.device} --out {output.model}"


rule track:
    input:
        unpack(L.track_inputs),
    output:
        L.fields("{split}", "{method}", "{setting}", "{subject}"),
    log:
        L.path("logs", "track", "{split}", "{method}", "{setting}", "{subject}.log"),
    benchmark:
        L.path(
            "benchmarks", "track", "{split}", "{method}", "{setting}", "{subject}.tsv"
        )
    conda:
        "../environment.yml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        args=L.track_args,
        device=config["device"],
    shell:
        "binn --log-file {log} track --data {input.data} --method {wildcards.method}"
        " {params.args} --device {params.device} --out {output}"
