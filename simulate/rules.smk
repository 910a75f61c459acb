# Stage 1: ES masks -> FE simulations -> rasterised displacement fields (one job per case).


rule simulate_case:
    """Simulate one case; a case that fails is recorded (status=failed), not fatal."""
    input:
        L.case_prerequisites(),
    output:
        P.case_npz("{case}"),
    log:
        P.log("simulate", "{case}"),
    benchmark:
        P.benchmark("simulate", "{case}")
    priority: PREREQUISITE  # the prior (and so every network that needs it) waits for all cases
    conda:
        "../environment.yml"
    threads: config["simulate"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        case_args=lambda wc: L.case_args(wc.case),
        xdmf=lambda wc: P.case_xdmf(wc.case),
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
