"""Helpers for the workflow tests: run Snakemake on the repository's Snakefile in a tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def snakemake_env() -> dict[str, str]:
    """The environment for a Snakemake subprocess: this interpreter's `binn` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def snakemake_cmd(workdir: Path, configfile: str | Path, *args: str) -> list[str]:
    """The command line of a Snakemake run of this repository's workflow in ``workdir``."""
    return [
        str(VENV_BIN / "snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / configfile) if isinstance(configfile, str) else str(configfile),
        *args,
    ]


def run_snakemake(
    workdir: Path, configfile: str | Path, *args: str, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake to completion; return the finished process (output captured)."""
    return subprocess.run(
        snakemake_cmd(workdir, configfile, *args),
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
