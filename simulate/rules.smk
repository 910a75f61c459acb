# Stage 1: ES masks -> FE simulations -> rasterised displacement fields (one job per case).


rule simulate_case:
    """Simulate one case; a case that fails is recorded (status=failed), not fatal."""
    output:
        L.case_npz("{case}"),
    log:
        L.path("logs", "simulate", "{case}.log"),
    benchmark:
        L.path("benchmarks", "simulate", "{case}.tsv")
    priority: 3  # the prior (and so every binn network) waits for all cases
    conda:
        "../environment.yml"
    threads: config["simulate"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        case_args=lambda wc: L.case_args(wc.case),
        xdmf=lambda wc: L.path("simulate", "xdmf", f"{wc.case}.xdmf"),
        mu=config["simulate"]["mu_kpa"],
        frames=config["simulate"]["frames"],
        mesh_size=config["simulate"]["mesh_size_mm"],
        size=config["grid"]["size"],
        spacing=config["grid"]["spacing_mm"],
    shell:
        "binn --log-file {log} simulate {params.case_args} --mu {params.mu}"
        " --frames {params.frames} --mesh-size {params.mesh_size}"
        " --size {params.size} --spacing-mm {params.spacing}"
        " --xdmf {params.xdmf} --record-failure --out {output}"
