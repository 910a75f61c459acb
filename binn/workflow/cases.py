"""The simulation cases of a run: what ``simulate.source`` names, on the run's grid.

Synthetic rings are enumerated when the Snakefile is parsed. A real source depends on
the real-data split when there is one: ``real_train`` simulates the ES masks of the
training subjects, and any other real folder must hold no validation or test subject;
those cases are enumerated once the split job has run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError
from binn.simulate.cases import CaseSpec, enumerate_cases
from binn.workflow.real_data import check_simulation_subjects

SYNTHETIC = "synthetic"
REAL_TRAIN = "real_train"
GRID_OPTIONS = ("--size", "--spacing-mm")
"""The ``binn simulate`` options the rule passes from the config's ``grid``."""


def needs_split(config: dict[str, Any]) -> bool:
    """Whether the cases of ``config`` depend on the real-data split."""
    kind = config["simulate"]["source"]["kind"]
    return kind == REAL_TRAIN or (kind != SYNTHETIC and bool(config.get("real_data")))


def check_source(config: dict[str, Any]) -> None:
    """Refuse, before any split, a source that cannot give cases: ``real_train`` without
    ``real_data``, a real source whose ``data_dir`` does not exist."""
    source = config["simulate"]["source"]
    if source["kind"] == REAL_TRAIN and not config.get("real_data"):
        raise BinnInputError("simulate.source", f"kind {REAL_TRAIN} needs real_data")
    if source["kind"] not in (SYNTHETIC, REAL_TRAIN) and not Path(source["data_dir"]).is_dir():
        raise BinnInputError(source["data_dir"], "simulate.source.data_dir does not exist")


def simulation_cases(config: dict[str, Any], split: dict[str, Any] | None) -> dict[str, CaseSpec]:
    """The cases of the run by name; ``split``: ``split.json`` when :func:`needs_split`.

    Raises :class:`BinnInputError` when there is none, or when a real source holds a
    validation or test subject of the split.
    """
    source = dict(config["simulate"]["source"])
    if source["kind"] == REAL_TRAIN:
        assert split is not None
        source.update(kind=split["layout"], data_dir=split["data_dir"], subjects=split["train"])
    elif source["kind"] != SYNTHETIC and split is not None:
        check_simulation_subjects(source, split)
    grid = config["grid"]
    specs = _spread(enumerate_cases(source, grid["spacing_mm"], grid["size"]), source)
    if not specs:
        raise BinnInputError(source.get("data_dir"), "no usable simulation cases")
    return {spec.name: spec for spec in specs}


def case_args(spec: CaseSpec) -> str:
    """The ``binn simulate`` arguments that make a case (shell-quoted), less the grid
    options (:data:`GRID_OPTIONS`), which the rule passes from ``grid``."""
    args, out = iter(spec.cli_args()), []
    for arg in args:
        if arg in GRID_OPTIONS:
            next(args)
        else:
            out.append(arg)
    return shlex.join(out)


def _spread(cases: list[CaseSpec], source: dict[str, Any]) -> list[CaseSpec]:
    """At most ``max_cases`` of a real source's cases, evenly spaced in their order."""
    limit = source.get("max_cases")
    if source["kind"] == SYNTHETIC or not limit or limit >= len(cases):
        return cases
    return [cases[(i * len(cases)) // limit] for i in range(limit)]
