"""A throw-away single-node SLURM cluster for tests (Debian's slurm-wlm and munge, as root).

Everything lives in one temporary folder: munge socket and key, slurm.conf and gres.conf
(one fake GPU whose `File=` is a character device node), state and logs. Client commands
(`sbatch`, `srun`, `squeue`, ...) are wrapped in a `bin/` folder that sets `SLURM_CONF`, to
be put first on `PATH`: the executor plugin's job step calls `srun` with the `SLURM_*`
variables stripped, so the wrapper is what lets it find the configuration. Every daemon is
stopped by PID on exit, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SLURM_CLIENTS = ("sbatch", "srun", "squeue", "scancel", "sinfo", "scontrol", "sacct")


def slurm_unavailable_reason() -> str | None:
    """Why a local cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to run munged/slurmctld/slurmd"
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(b) is None]
    if missing:
        return (
            f"slurm-wlm/munge not installed (missing {', '.join(missing)}); .ci/run installs them"
        )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalSlurm:
    """Context manager: start munged, slurmctld and slurmd in ``root``; stop them on exit."""

    def __init__(self, root: Path, cpus: int = 2, memory_mb: int = 8000) -> None:
        self.root = root
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.bin = root / "bin"
        self.conf = root / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self.pids: list[int] = []

    # -- set-up ------------------------------------------------------------------------------
    def _write_config(self) -> None:
        r = self.root
        for sub in ("state", "spool", "log", "munge", "bin"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        gpu = r / "fake_gpu0"
        os.mknod(gpu, 0o666 | 0o020000, os.makedev(1, 3))  # a char device node (like /dev/null)
        (r / "gres.conf").write_text(f"NodeName={self.node} Name=gpu File={gpu}\n")
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=binntest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={r / 'munge' / 'munge.socket'}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "SchedulerType=sched/backfill",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "MinJobAge=300",
                    "GresTypes=gpu",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={self.memory_mb} Gres=gpu:1 State=UNKNOWN",
                    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        for client in SLURM_CLIENTS:
            real = shutil.which(client)
            if real is None:
                continue
            wrapper = self.bin / client
            wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {real} "$@"\n')
            wrapper.chmod(0o755)

    def _spawn(self, *cmd: str) -> None:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, "SLURM_CONF": str(self.conf)},
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "log" / f"{Path(cmd[0]).name}.err", "w"),
            start_new_session=True,
        )
        self.pids.append(proc.pid)

    def env(self) -> dict[str, str]:
        """The environment for clients: wrappers first on PATH, SLURM_CONF set."""
        return {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "SLURM_CONF": str(self.conf),
        }

    def _wait_for_idle_node(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            out = subprocess.run(
                [str(self.bin / "sinfo"), "-h", "-o", "%T"],
                env=self.env(),
                capture_output=True,
                text=True,
                check=False,
            )
            state = out.stdout.strip()
            if state == "idle":
                return
            time.sleep(1)
        raise RuntimeError(
            f"SLURM node not idle after {timeout} s (state {state!r}); "
            f"see logs in {self.root / 'log'}"
        )

    def __enter__(self) -> LocalSlurm:
        self._write_config()
        munge = self.root / "munge"
        try:
            self._spawn(
                "munged",
                "--foreground",
                "--force",
                f"--socket={munge / 'munge.socket'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
                "--key-file=/etc/munge/munge.key",
            )
            time.sleep(1)
            self._spawn("slurmctld", "-D", "-i", "-f", str(self.conf))
            time.sleep(2)
            self._spawn("slurmd", "-D", "-N", self.node, "-f", str(self.conf))
            self._wait_for_idle_node()
        except BaseException:
            self.stop()
            raise
        return self

    # -- tear-down ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every daemon this cluster started (by PID, then its process group)."""
        for pid in reversed(self.pids):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    break
                for _ in range(50):
                    try:
                        if os.waitpid(pid, os.WNOHANG) != (0, 0):
                            break
                    except ChildProcessError:
                        break
                    time.sleep(0.1)
                else:
                    continue
                break
        self.pids.clear()

    def __exit__(self, *exc: object) -> None:
        self.stop()
