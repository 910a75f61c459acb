"""Helpers for the workflow tests: run Snakemake on the repository's Snakefile in a tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from binn.vocabulary import CLASSICAL, Method

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


TOY_METHOD = Method("toy", CLASSICAL, "Toy (toy)")
"""A method declared in one place only (registered by the tests that use it): the workflow,
the command line and the tables must accept it as they accept the shipped methods."""


def run_snakemake_with_method(
    method: Method, workdir: Path, configfile: str | Path, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """:func:`run_snakemake` in a Python process that first registers ``method`` in
    :data:`binn.vocabulary.METHODS` (the Snakefile reads the vocabulary in that process)."""
    code = (
        "import sys\n"
        "from binn.vocabulary import METHODS, Method\n"
        f"METHODS[{method.name!r}] = {method!r}\n"
        "from snakemake.cli import main\n"
        "sys.argv = sys.argv[1:]\n"
        "sys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *snakemake_cmd(workdir, configfile, *args)],
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_acdc_subject(
    root: Path, name: str, group: str, seed: int, *, es_labels: bool = True, size: int = 32
) -> Path:
    """A tiny ACDC-layout subject (2 slices, ED frame 1, ES frame 2, no cine).

    Labels are concentric LV rings (cavity 3 inside myocardium 2; the ED cavity larger than
    the ES one), so the subject is usable for simulation; the ED image is random noise
    drawn from ``seed`` (equal seeds give identical images, as ACDC's duplicated subjects).
    """
    import numpy as np

    from binn.nifti import save_volume

    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(rows, cols)
    spacing = (10.0, 1.5, 1.5)
    for frame, cavity in ((1, 5.0), (2, 3.5)):
        ring = np.where(radius <= cavity, 3, np.where(radius <= 9.0, 2, 0)).astype(np.uint8)
        save_volume(
            folder / f"{name}_frame{frame:02d}.nii.gz", rng.random((2, size, size)), spacing
        )
        if frame == 1 or es_labels:
            save_volume(
                folder / f"{name}_frame{frame:02d}_gt.nii.gz", np.stack([ring] * 2), spacing
            )
    (folder / "Info.cfg").write_text(f"ED: 1\nES: 2\nGroup: {group}\nNbFrame: 2\n")
    return folder


def write_acdc_dataset(root: Path, groups: dict[str, int], start: int = 0) -> list[str]:
    """``count`` subjects per group named ``patient{start+i:03d}`` (seed = i); their names."""
    names = []
    for group, count in groups.items():
        for _ in range(count):
            name = f"patient{start + len(names):03d}"
            write_acdc_subject(root, name, group, seed=start + len(names))
            names.append(name)
    return names
