"""The real workflow at toy scale (config/test.yaml): end to end, resumed after a kill, on SLURM.

Real gmsh, dolfinx and training, a few minutes on 2 cores. One uninterrupted local run is
shared by the tests as the reference.
"""

from __future__ import annotations

import csv
import math
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from binn.io import load_npz
from tests.slurm_cluster import LocalSlurm, slurm_unavailable_reason
from tests.workflow_helpers import REPO, run_snakemake, snakemake_cmd, snakemake_env

pytestmark = pytest.mark.slow

CONFIG = "test.yaml"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _float(value: str) -> float:
    return float(value) if value not in ("", "nan", "NaN") else math.nan


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One complete local run of the tiny workflow; returns its working directory."""
    workdir = tmp_path_factory.mktemp("reference")
    result = run_snakemake(workdir, CONFIG, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_end_to_end_outputs_are_sane(reference_run: Path) -> None:
    results = reference_run / "results"
    summary = (results / "summary.md").read_text()
    assert "binn" in summary and "l2" in summary
    # the summary names the run's effective configuration, which reproduces its settings
    from binn.provenance import config_hash

    effective = yaml.safe_load((results / "config.yaml").read_text())
    assert effective["register"]["binn"][0] == "alpha=0.001"  # canonical
    assert f"config hash `{config_hash(effective)}`" in summary
    for case in sorted((results / "simulate" / "cases").glob("*.npz")):
        record = load_npz(case)
        assert str(record["status"]) == "ok", record.get("reason")
        disp = record["disp"]
        assert disp.ndim == 4 and disp.shape[1] == 2 and np.all(np.isfinite(disp))
        assert np.all(disp[0] == 0)
        assert np.all(np.diff(record["pressure"]) < 0)  # ED (P_ED) first, ES (0) last
    assert (results / "learn" / "vae.pt").is_file()
    rows = _read_csv(results / "eval" / "comparison" / "binn" / "selected.csv")
    assert rows
    for row in rows:
        if row["level"]:
            assert 0.0 <= _float(row["dice"]) <= 1.0
            assert 0.0 <= _float(row["dice_before"]) <= 1.0
            assert _float(row["mcd_mm"]) >= 0.0
            assert _float(row["abs_det_j_minus_1"]) >= 0.0
    for method in ("binn", "l2", "demons", "ffd"):
        assert (results / "select" / "validation" / f"{method}.json").is_file()
        # strain outputs of every test subject under the selected setting
        assert any((results / "strain" / method / "test000").iterdir())
    assert (results / "models" / "phantom" / "binn" / "alpha=0.001.pt").is_file()  # canonical
    # per-rule benchmarks exist so users can see where the time goes
    assert list((results / "benchmarks" / "simulate").glob("*.tsv"))


def test_snakemake_report_builds(reference_run: Path) -> None:
    result = run_snakemake(reference_run, CONFIG, "--report", "report.html", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    html = reference_run / "report.html"
    assert html.is_file() and html.stat().st_size > 10_000


def test_resume_after_kill_gives_the_same_outputs(reference_run: Path, tmp_path: Path) -> None:
    """Kill Snakemake once it has finished a case; the rerun completes without redoing it."""
    cases = tmp_path / "results" / "simulate" / "cases"
    log = tmp_path / "snakemake.log"
    with open(log, "w") as log_fh:
        proc = subprocess.Popen(
            snakemake_cmd(tmp_path, CONFIG, "--cores", "1"),
            env=snakemake_env(),
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        # one job at a time: when Snakemake reports a case finished, no other case file exists
        while "(Rule: simulate_case)" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, "snakemake ended before any case was finished"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = {p.name: p.stat().st_mtime_ns for p in cases.glob("*.npz")}
    assert finished
    assert not (tmp_path / "results" / "summary.md").exists()

    # a hard kill leaves Snakemake's lock behind: unlock, as the README tells users to
    assert run_snakemake(tmp_path, CONFIG, "--unlock").returncode == 0
    result = run_snakemake(tmp_path, CONFIG, "--cores", "2", "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-5000:]
    for name, mtime in finished.items():
        assert (cases / name).stat().st_mtime_ns == mtime, f"{name} was simulated again"
    _assert_same_outputs(reference_run, tmp_path)


def _assert_same_outputs(reference: Path, other: Path) -> None:
    """Simulations and phantoms identical; comparison metrics equal to float tolerance."""
    for sub in ("simulate/cases", "data/test"):
        ref_files = sorted((reference / "results" / sub).glob("*.npz"))
        assert ref_files
        for ref in ref_files:
            a, b = load_npz(ref), load_npz(other / "results" / sub / ref.name)
            for key in ("disp", "images", "motion"):
                if key in a:
                    np.testing.assert_array_equal(a[key], b[key], err_msg=f"{sub}/{ref.name}")
    for method in ("demons", "ffd", "binn", "l2"):
        rel = Path("results/eval/comparison") / method / "selected.csv"
        ref_rows, rows = _read_csv(reference / rel), _read_csv(other / rel)
        assert [(r["subject"], r["z"]) for r in ref_rows] == [(r["subject"], r["z"]) for r in rows]
        for r1, r2 in zip(ref_rows, rows, strict=True):
            for key in ("dice", "mcd_mm", "abs_det_j_minus_1"):
                x, y = _float(r1[key]), _float(r2[key])
                assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-3), (
                    f"{method} {key}: {x} vs {y}"
                )


@pytest.mark.slurm
@pytest.mark.skipif(slurm_unavailable_reason() is not None, reason=str(slurm_unavailable_reason()))
def test_slurm_run_matches_local_run(reference_run: Path, tmp_path: Path) -> None:
    """The same workflow through the SLURM executor and the project's profile."""
    cluster_dir = Path("/tmp") / f"binn-slurm-{os.getpid()}"
    with LocalSlurm(cluster_dir) as cluster:
        env = {
            **snakemake_env(),
            **{k: v for k, v in cluster.env().items() if k in ("PATH", "SLURM_CONF")},
        }
        env["PATH"] = f"{cluster.bin}{os.pathsep}{snakemake_env()['PATH']}"
        cmd = snakemake_cmd(
            tmp_path,
            CONFIG,
            "--profile",
            str(REPO / "profiles" / "slurm"),
            "--slurm-no-account",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--config",
            "train_gpus=1",
            "--jobs",
            "2",
            "--default-resources",
            "mem_mb=1000",
            "runtime=30",
            "--set-resources",
            "train_vae:mem_mb=2000",
            "train_registration:mem_mb=2000",
        )
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=2400)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    output = result.stdout + result.stderr
    # every job went through sbatch but the target rule `all` and `run_config` (local by
    # design: it writes the configuration the main process holds)
    local_rules = set(re.findall(r"^localrule (\w+):", output, flags=re.MULTILINE))
    assert local_rules == {"all", "run_config"}, local_rules
    assert output.count("has been submitted with SLURM jobid") >= 20
    _assert_same_outputs(reference_run, tmp_path)
