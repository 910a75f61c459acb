# Stage 2: the VAE prior learnt from every simulated case.


rule train_vae:
    input:
        L.all_case_npz(),
    output:
        model=L.path("learn", "vae.pt"),
        failed=report(
            L.path("learn", "failed_cases.csv"),
            caption="../analysis/report/failed_cases.rst",
            category="Simulation",
        ),
        loss=report(
            L.path("learn", "vae.loss.png"),
            caption="../analysis/report/vae_loss.rst",
            category="VAE prior",
        ),
        recon=report(
            L.path("learn", "vae.recon.png"),
            caption="../analysis/report/vae_recon.rst",
            category="VAE prior",
        ),
    log:
        L.path("logs", "learn", "train_vae.log"),
    benchmark:
        L.path("benchmarks", "learn", "train_vae.tsv")
    priority: 3  # every binn network waits for the prior
    conda:
        "../environment.yml"
    threads: config["train_threads"]
    resources:
        mem_mb=5000,  # measured 2.9 GB peak at paper scale (200 records, 96 px, 50 frames)
        runtime=120,
        gpu=config["train_gpus"],
    params:
        image_size=config["grid"]["size"],
        latent=config["vae"]["latent"],
        beta=config["vae"]["beta"],
        lr=config["vae"]["lr"],
        lr_schedule=config["vae"]["lr_schedule"],
        epochs=config["vae"]["epochs"],
        batch_size=config["vae"]["batch_size"],
        dilation=config["vae"]["mask_dilation"],
        val_fraction=config["vae"]["val_fraction"],
        seed=config["seed"],
        device=config["device"],
    shell:
        "binn --log-file {log} train-vae {input} --out {output.model}"
        " --failed-table {output.failed} --image-size {params.image_size}"
        " --latent {params.latent} --beta {params.beta} --lr {params.lr}"
        " --lr-schedule {params.lr_schedule} --epochs {params.epochs} --batch-size {params.batch_size}"
        " --mask-dilation {params.dilation} --val-fraction {params.val_fraction}"
        " --seed {params.seed} --device {params.device}"
