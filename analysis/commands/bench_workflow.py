"""``binn bench workflow``: where a finished workflow run spent its time.

Every rule writes a Snakemake benchmark file under ``RESULTS/benchmarks/<rule folder>/...``
(one ``.tsv`` per job: wall seconds ``s``, ``cpu_time`` seconds, ``max_rss`` MB). This
groups them by rule folder and, for tracking, training and strain, by method (the folder
after the experiment or domain), and prints counts, wall and CPU seconds and the peak
memory per group, largest CPU first. The total CPU over the cores used bounds the run's
wall time from below; the gap is waiting (dependencies, one long job at the end).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError

METHOD_LEVEL = {"track": 2, "models": 2, "strain": 1}
"""Rule folders whose groups also split by method: the path part (from the rule folder on)
that names the method (``track/<experiment>/<method>``, ``models/<domain>/<method>``,
``strain/<method>``)."""


def read_benchmark(path: Path) -> dict[str, float]:
    """The last row of one Snakemake benchmark ``.tsv``: ``s``, ``cpu_time``, ``max_rss``."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise BinnInputError(path, "benchmark file has no rows")
    row = rows[-1]
    try:
        return {key: float(row[key]) for key in ("s", "cpu_time", "max_rss")}
    except (KeyError, ValueError) as exc:
        raise BinnInputError(path, f"not a Snakemake benchmark row ({exc})") from exc


def group_of(relative: Path) -> str:
    """The group of a benchmark path relative to ``benchmarks/``: its rule folder, and for
    :data:`METHOD_LEVEL` folders also the method (``track/demons``)."""
    parts = relative.parts
    level = METHOD_LEVEL.get(parts[0])
    if level is not None and len(parts) > level + 1:
        return f"{parts[0]}/{parts[level]}"
    return parts[0]


def workflow_time(results: Path) -> dict[str, Any]:
    """Sum the benchmark files of ``results``: per group ``jobs``, ``wall_s``, ``cpu_s``,
    ``max_rss_mb``, largest CPU first, and the totals."""
    root = Path(results) / "benchmarks"
    files = sorted(root.rglob("*.tsv"))
    if not files:
        raise BinnInputError(root, "no benchmark files (is this a finished workflow run?)")
    groups: dict[str, dict[str, float]] = defaultdict(
        lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0}
    )
    for path in files:
        row = read_benchmark(path)
        group = groups[group_of(path.relative_to(root))]
        group["jobs"] += 1
        group["wall_s"] += row["s"]
        group["cpu_s"] += row["cpu_time"]
        group["max_rss_mb"] = max(group["max_rss_mb"], row["max_rss"])
    ordered = dict(sorted(groups.items(), key=lambda kv: -kv[1]["cpu_s"]))
    rounded = {
        name: {k: (int(v) if k == "jobs" else round(v, 1)) for k, v in g.items()}
        for name, g in ordered.items()
    }
    return {
        "results": str(results),
        "groups": rounded,
        "jobs": sum(g["jobs"] for g in groups.values()),
        "wall_s": round(sum(g["wall_s"] for g in groups.values()), 1),
        "cpu_s": round(sum(g["cpu_s"] for g in groups.values()), 1),
    }
