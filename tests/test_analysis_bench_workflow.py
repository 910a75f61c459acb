"""binn bench workflow: benchmark files of a run summed per rule and method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binn.analysis.commands.bench_workflow import group_of, workflow_time
from binn.cli import main
from binn.errors import BinnInputError

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root: Path, relative: str, wall: float, cpu: float, rss: float) -> None:
    path = root / "benchmarks" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_groups_sum_per_rule_and_method(tmp_path: Path, capsys) -> None:
    _bench(tmp_path, "track/validation/ffd/grid=8.tsv", 10.0, 19.0, 300.0)
    _bench(tmp_path, "track/test_sweep/ffd/grid=8.tsv", 5.0, 9.0, 500.0)
    _bench(tmp_path, "track/validation/binn/alpha=0.1.tsv", 2.0, 1.5, 900.0)
    _bench(tmp_path, "models/phantom/l2/lam=0.1.tsv", 60.0, 100.0, 1000.0)
    _bench(tmp_path, "simulate/synth_1.tsv", 3.0, 2.5, 200.0)
    out = workflow_time(tmp_path)
    groups = out["groups"]
    assert list(groups) == ["models/l2", "track/ffd", "simulate", "track/binn"]  # by CPU
    assert groups["track/ffd"] == {"jobs": 2, "wall_s": 15.0, "cpu_s": 28.0, "max_rss_mb": 500.0}
    assert (out["jobs"], out["wall_s"], out["cpu_s"]) == (5, 80.0, 132.0)
    assert main(["bench", "workflow", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpu_s"] == 132.0


def test_group_names_and_bad_runs(tmp_path: Path) -> None:
    assert group_of(Path("strain/demons/test000.tsv")) == "strain/demons"
    assert group_of(Path("eval/validation/ffd/x.tsv")) == "eval"
    with pytest.raises(BinnInputError, match="no benchmark files"):
        workflow_time(tmp_path)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bad.tsv").write_text("s\tcpu_time\n")
    with pytest.raises(BinnInputError, match=r"bad\.tsv"):
        workflow_time(tmp_path)
