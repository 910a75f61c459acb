"""``binn bench simulate``: the whole per-case path on fixed synthetic cases, on one core.

Thread pools (OpenMP, OpenBLAS, MKL) read their size once, when the library loads; by the
time a handler runs, ``binn`` has imported numpy. So the measurement runs in a fresh Python
process whose environment sets every pool to one thread before anything loads, pinned to
one CPU (``sched_setaffinity``) where the platform allows it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from binn.simulate.config import SimulationSettings

BENCH_SEEDS = (0, 1, 2, 3, 4)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_core_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with every thread pool set to one thread."""
    return {**(os.environ if env is None else env), **dict.fromkeys(THREAD_VARIABLES, "1")}


def thread_environment() -> dict[str, Any]:
    """What this process runs on: the thread variables and the number of usable CPUs."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cpus, **{k.lower(): os.environ.get(k) for k in THREAD_VARIABLES}}


def run_single_core(function: str, **kwargs: Any) -> dict[str, Any]:
    """Call ``binn.simulate.bench.<function>(**kwargs)`` in a fresh one-core process; its result.

    ``kwargs`` and the result travel as JSON. A failing child raises ``RuntimeError`` with
    the end of its stderr.
    """
    code = (
        "import json, os, sys\n"
        "if hasattr(os, 'sched_setaffinity'):\n"
        "    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "import binn.simulate.bench as b\n"
        f"print(json.dumps(getattr(b, {function!r})(**json.loads(sys.argv[1]))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        env=single_core_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_simulate(
    n_cases: int = len(BENCH_SEEDS),
    frames: int = SimulationSettings.frames,
    mesh_size: float = SimulationSettings.mesh_size_mm,
) -> dict[str, Any]:
    """:func:`measure_simulate` in a fresh process on one core (one thread per pool)."""
    return run_single_core("measure_simulate", n_cases=n_cases, frames=frames, mesh_size=mesh_size)


def measure_simulate(
    n_cases: int = len(BENCH_SEEDS),
    frames: int = SimulationSettings.frames,
    mesh_size: float = SimulationSettings.mesh_size_mm,
) -> dict[str, Any]:
    """Median seconds per case and its parts over ``n_cases`` fixed synthetic seeds
    (:data:`BENCH_SEEDS`, at most all of them), ``mesh_size`` mm.

    Each case runs mask -> mesh -> inverse P_ED -> ``frames``-frame sweep -> raster -> files
    (in a temporary folder), in this process as it is (``bench_simulate`` makes it one
    core). The first case also pays for loading the libraries and for any FFCx compilation
    not yet in the cache (reported as ``first_case_seconds``).
    """
    import numpy as np

    from binn.simulate.pipeline import simulate_case, write_result
    from binn.simulate.synthetic import synthetic_ring

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
            settings = SimulationSettings(frames=frames, mesh_size_mm=mesh_size)
            result = simulate_case(ring, f"synth_{seed:04d}", settings, progress=False)
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
        **thread_environment(),
    }
