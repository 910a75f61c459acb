"""A training job of the workflow killed mid-run comes back with the uninterrupted run's model.

Snakemake deletes a killed job's declared outputs before rerunning it; the trainers' resume
files (undeclared, beside the model) must be enough to finish the run and write the same
checkpoint. Toy scale (config/test.yaml, longer training so that a kill lands mid-run),
only up to the training targets.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.workflow_helpers import REPO, run_snakemake, snakemake_cmd, snakemake_env

pytestmark = pytest.mark.slow

# Training long enough to be killed after its first resume point: train-reg writes its
# resume file at every validation (every 100 steps), train-vae after every epoch. The
# registration case runs on 32 px phantoms with a narrow network to keep steps cheap.
LONGER = {
    "train_registration": {"grid": {"size": 32}, "register": {"steps": 130, "width": 0.0625}},
    "train_vae": {"vae": {"epochs": 30}},
}


def _config(tmp_path: Path, rule: str) -> Path:
    """config/test.yaml with the training of ``rule`` made longer."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    for section, values in LONGER[rule].items():
        cfg[section].update(values)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _rule_output(workdir: Path, config: Path, rule: str, pattern: str) -> str:
    """The output of ``rule`` matching ``pattern``, from a dry run (the workflow names it)."""
    result = run_snakemake(workdir, config, "-n", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout)
    for block in blocks:
        if re.match(rf"(?:local)?rule {rule}:", block.strip()):
            outputs = re.search(r"^\s*output: (.+)$", block, flags=re.MULTILINE)
            assert outputs, block
            matches = [p for p in outputs.group(1).split(", ") if re.search(pattern, p)]
            if matches:
                return matches[0]
    raise AssertionError(f"no {rule} output matching {pattern!r} in the dry run")


def _kill_when(workdir: Path, config: Path, target: str, side_file: str) -> None:
    """Run Snakemake towards ``target``; SIGKILL it and its jobs once ``side_file`` exists.

    Every run of a test uses ``--cores 2``: Snakemake sets a job's thread variables from
    its cores, and float sums differ between thread counts.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "killed.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            snakemake_cmd(workdir, config, "--cores", "2", target),
            env=snakemake_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while not (workdir / side_file).is_file():
            assert proc.poll() is None, f"snakemake ended first:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no resume file within 10 minutes"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.mark.parametrize(
    ("rule", "pattern", "side_suffix"),
    [
        ("train_registration", r"/l2/.*\.pt$", ".resume.pt"),
        ("train_vae", r"vae\.pt$", ".state.pt"),
    ],
)
def test_killed_training_job_reruns_to_the_uninterrupted_model(
    tmp_path: Path, rule: str, pattern: str, side_suffix: str
) -> None:
    config = _config(tmp_path, rule)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    target = _rule_output(reference, config, rule, pattern)
    result = run_snakemake(reference, config, "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-5000:]

    side_file = str(Path(target).with_suffix(side_suffix))
    _kill_when(killed, config, target, side_file)
    assert not (killed / target).exists()  # mid-run: the model is written only at the end
    # killed mid-run: Snakemake will delete whatever the job left of its outputs
    assert run_snakemake(killed, config, "--unlock").returncode == 0
    result = run_snakemake(killed, config, "--cores", "2", "--rerun-incomplete", target)
    assert result.returncode == 0, result.stderr[-5000:]
    assert "resuming" in (killed / _log_of(result.stdout + result.stderr, rule)).read_text()

    a, b = _weights(reference / target), _weights(killed / target)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)


def _log_of(output: str, rule: str) -> str:
    """The log file of the (single) ``rule`` job in Snakemake's output."""
    block = output[output.index(f"rule {rule}:") :]
    return re.search(r"^\s*log: (\S+)", block, flags=re.MULTILINE).group(1)
