"""``binn bench simulate``: the whole per-case path on fixed synthetic cases, on one core."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_SEEDS = (0, 1, 2, 3, 4)


def bench_simulate(n_cases: int = 3, frames: int = 50, mesh_size: float = 1.5) -> dict[str, Any]:
    """Median seconds per case and its parts over ``n_cases`` fixed synthetic seeds.

    Each case runs mask -> mesh -> inverse P_ED -> ``frames``-frame sweep -> raster -> files
    (in a temporary folder). The first case also pays for loading the libraries and for any
    FFCx compilation not yet in the cache (reported as ``first_case_seconds``).
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from simulate.pipeline import simulate_case, write_result
    from simulate.synthetic import synthetic_ring

    seeds = BENCH_SEEDS[: max(1, n_cases)]
    totals: list[float] = []
    parts: list[dict[str, float]] = []
    sizes: list[int] = []
    cpu: list[float] = []
    factorisations: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            ring = synthetic_ring(seed)
            result = simulate_case(
                ring, f"synth_{seed:04d}", frames=frames, mesh_size=mesh_size, progress=False
            )
            t1 = time.perf_counter()
            write_result(result, Path(tmp) / f"synth_{seed:04d}.npz", None, {"bench": True}, seed)
            timings = dict(result.timings, write=time.perf_counter() - t1)
            totals.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            factorisations.append(result.diagnostics["tangent_factorisations"])
            parts.append(timings)
            sizes.append(result.diagnostics["n_dofs"])
    return {
        "seconds_per_case": float(np.median(totals)),
        "parts_median_seconds": {k: float(np.median([p[k] for p in parts])) for k in parts[0]},
        "cpu_seconds_per_case": float(np.median(cpu)),
        "case_seconds": [round(t, 3) for t in totals],
        "tangent_factorisations": factorisations,
        "first_case_seconds": round(totals[0], 3),
        "n_cases": len(seeds),
        "frames": frames,
        "mesh_size_mm": mesh_size,
        "n_dofs": sizes,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
