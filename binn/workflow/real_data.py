"""Real mode: the subject-level split of ``real_data``, read from the split job's output.

The split job (``binn split``, a Snakemake checkpoint) writes ``split.json``
(:func:`binn.register.data.split.make_split`): every subject's set, folder and ED image
hash. The DAG reads that file once the job has run, never recomputes it: before, every
parse of the Snakefile (on SLURM, every job) hashed the image of every subject.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError

SPLIT_KEYS = ("layout", "data_dir", "train", "val", "test", "subjects")
"""The keys of ``split.json`` the workflow reads."""


def check_real_dirs(real: dict[str, Any]) -> None:
    """Refuse a ``real_data`` block whose ``data_dir`` or ``test_dir`` does not exist."""
    for key in ("data_dir", "test_dir"):
        if real.get(key) and not Path(real[key]).is_dir():
            raise BinnInputError(real[key], f"real_data.{key} does not exist")


def split_seed(config: dict[str, Any]) -> int:
    """The seed of the split: ``real_data.seed``, else the run's ``seed``."""
    return int(config["real_data"].get("seed", config["seed"]))


def split_args(config: dict[str, Any]) -> str:
    """The ``binn split`` options of the config's ``real_data`` (shell-quoted)."""
    real = config["real_data"]
    args = ["--layout", real["layout"], "--data-dir", real["data_dir"]]
    if real.get("subjects"):
        args += ["--subjects", *real["subjects"]]
    if real.get("test_dir"):
        args += ["--test-dir", real["test_dir"]]
    args += ["--val-fraction", str(real["val_fraction"])]
    args += ["--test-fraction", str(real["test_fraction"]), "--seed", str(split_seed(config))]
    return shlex.join(args)


def read_split(path: str | Path) -> dict[str, Any]:
    """``split.json`` as written by ``binn split``; a missing key raises
    :class:`BinnInputError` naming the file."""
    with open(path) as fh:
        split = json.load(fh)
    missing = [key for key in SPLIT_KEYS if key not in split]
    if missing:
        raise BinnInputError(path, f"not a split file (no {', '.join(missing)})")
    return split


def subject_dir(split: dict[str, Any], subject: str) -> str:
    """The folder of a real subject of ``split``."""
    return split["subjects"][subject]["dir"]


def check_simulation_subjects(source: dict[str, Any], split: dict[str, Any]) -> None:
    """Refuse a simulation subject that is a real validation or test subject, by name or
    by ED image content (``split.json``'s hashes), naming it."""
    from binn.register.data.split import inspect_subject

    held_out = {n: i for n, i in split["subjects"].items() if i["split"] in ("val", "test")}
    by_hash = {i["ed_sha256"]: n for n, i in held_out.items()}
    data_dir = Path(source["data_dir"])
    names = source.get("subjects") or sorted(
        p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    for name in names:
        if name in held_out:
            raise BinnInputError(
                data_dir / name,
                f"simulation subject {name} is a {held_out[name]['split']} subject of real_data;"
                " simulate from the training subjects only (simulate.source.kind: real_train)",
            )
        try:
            digest = inspect_subject(data_dir / name, source["kind"]).ed_sha256
        except BinnInputError:
            continue  # enumerate_cases skips it with its reason
        if digest in by_hash:
            other = by_hash[digest]
            raise BinnInputError(
                data_dir / name,
                f"simulation subject {name} has the ED image of {held_out[other]['split']}"
                f" subject {other} of real_data",
            )
