# Stage 2: the VAE prior learnt from every simulated case.


rule train_vae:
    input:
        L.case_inputs,
    output:
        model=P.vae(),
        failed=report(
            P.failed_cases(),
            caption="../analysis/report/failed_cases.rst",
            category="Simulation",
        ),
        loss=report(
            P.vae_figure("loss"),
            caption="../analysis/report/vae_loss.rst",
            category="VAE prior",
        ),
        recon=report(
            P.vae_figure("recon"),
            caption="../analysis/report/vae_recon.rst",
            category="VAE prior",
        ),
    log:
        P.log("learn", "train_vae"),
    benchmark:
        P.benchmark("learn", "train_vae")
    priority: PREREQUISITE  # every network that needs the prior waits for it
    conda:
        "../environment.yml"
    threads: config["train_threads"]
    resources:
        mem_mb=5000,  # measured 2.9 GB peak at paper scale (200 records, 96 px, 50 frames)
        runtime=120,
        gpu=config["train_gpus"],
    params:
        size=config["grid"]["size"],
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
        " --failed-table {output.failed} --size {params.size}"
        " --latent {params.latent} --beta {params.beta} --lr {params.lr}"
        " --lr-schedule {params.lr_schedule} --epochs {params.epochs} --batch-size {params.batch_size}"
        " --mask-dilation {params.dilation} --val-fraction {params.val_fraction}"
        " --seed {params.seed} --device {params.device}"
