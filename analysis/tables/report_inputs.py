"""The report's side inputs: the data split (``split.json``) and the run's configuration;
each read, checked and turned into tables.

``split.json`` is read in either of two forms. The one ``binn split``
(:mod:`binn.register.data.split`) writes::

    {"seed": int, "train": [subject, ...], "val": [...], "test": [...],
     "subjects": {subject: {"split", "group", ...}, ...},
     "excluded": {subject: reason, ...}, ...}

and the general one (free split names, e.g. an extra ``test_external``)::

    {"splits": {"train": [subject, ...], "val": [...], "test": [...]},
     "groups": {subject: group, ...},          # pathology group; {} when there is none
     "excluded": [{"subject": ..., "reason": ...}, ...],
     "seed": int, "provenance": {...}}         # both optional

A subject may be in one split only, and an excluded subject in none.

The strain folders of ``binn strain`` are read by :mod:`binn.analysis.tables.strain_runs`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from binn.errors import BinnInputError
from binn.provenance import config_hash

UNGROUPED = "—"
SPLIT_KEYS = ("train", "val", "test")


def read_json(path: str | Path) -> Any:
    """The JSON content of ``path``; :class:`BinnInputError` naming it when unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BinnInputError(path, f"not a readable JSON file ({exc})") from exc


# --- split -------------------------------------------------------------------------------
def _normalise_split(obj: dict, path: str | Path) -> dict[str, Any]:
    """Either schema of the module docstring -> ``{"splits", "groups", "excluded", "seed"}``."""
    if "splits" in obj:
        splits, groups, excluded = obj["splits"], obj.get("groups", {}), obj.get("excluded", [])
    else:
        splits = {k: obj[k] for k in SPLIT_KEYS if k in obj}
        if not splits:
            raise BinnInputError(path, f"split names none of {list(SPLIT_KEYS)} nor 'splits'")
        subjects = obj.get("subjects", {})
        if not isinstance(subjects, dict):
            raise BinnInputError(path, "'subjects' must be an object {subject: record}")
        groups = {n: r.get("group", UNGROUPED) for n, r in subjects.items() if isinstance(r, dict)}
        excluded = obj.get("excluded", {})
        if isinstance(excluded, dict):
            excluded = [{"subject": n, "reason": r} for n, r in excluded.items()]
    if not isinstance(splits, dict):
        raise BinnInputError(path, "'splits' must be an object {name: [subject, ...]}")
    if not isinstance(groups, dict):
        raise BinnInputError(path, "'groups' must be an object {subject: group}")
    return {"splits": splits, "groups": groups, "excluded": excluded, "seed": obj.get("seed"),
            "provenance": obj.get("provenance")}  # fmt: skip


def read_split(path: str | Path) -> dict[str, Any]:
    """Read and check ``split.json`` (either schema of the module docstring).

    Returns ``{"splits": {name: [subject]}, "groups": {subject: group}, "excluded":
    [{"subject", "reason"}], "seed", "provenance"}``. A subject in two splits, or both
    excluded and in a split, is refused naming it.
    """
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise BinnInputError(path, "split must be a JSON object")
    split = _normalise_split(obj, path)
    seen: dict[str, str] = {}
    for name, subjects in split["splits"].items():
        if not isinstance(subjects, list) or not all(isinstance(s, str) for s in subjects):
            raise BinnInputError(path, f"split '{name}' must be a list of subject names")
        for s in subjects:
            if s in seen:
                raise BinnInputError(path, f"subject '{s}' is in splits '{seen[s]}' and '{name}'")
            seen[s] = name
    excluded = split["excluded"]
    if not isinstance(excluded, list) or not all(
        isinstance(e, dict) and {"subject", "reason"} <= set(e) for e in excluded
    ):
        raise BinnInputError(path, "'excluded' must list {subject, reason} (or map them)")
    clash = sorted({str(e["subject"]) for e in excluded} & set(seen))
    if clash:
        raise BinnInputError(path, f"excluded subjects are also in a split: {clash}")
    seed = split["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise BinnInputError(path, f"'seed' must be an integer, got {seed!r}")
    split["groups"] = {str(k): str(v) for k, v in split["groups"].items()}
    return split


def split_tables(split: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(counts, excluded)``: subjects per group (rows, then ``all``) x split (+ ``total``),
    and one row per excluded subject (``subject, group, reason``)."""
    groups = split["groups"]
    names = list(split["splits"])
    members = [(g, name) for name in names for g in
               (groups.get(s, UNGROUPED) for s in split["splits"][name])]  # fmt: skip
    order = sorted({g for g, _ in members} - {UNGROUPED}) + (
        [UNGROUPED] if any(g == UNGROUPED for g, _ in members) else []
    )
    rows = []
    for g in [*order, "all"]:
        row: dict[str, object] = {"group": g}
        for name in names:
            row[name] = sum(1 for gg, n in members if n == name and (g == "all" or gg == g))
        row["total"] = sum(int(row[n]) for n in names)
        rows.append(row)
    counts = pd.DataFrame(rows, columns=["group", *names, "total"])
    excluded = pd.DataFrame(
        [{"subject": str(e["subject"]), "group": groups.get(str(e["subject"]), UNGROUPED),
          "reason": str(e["reason"])} for e in split["excluded"]],
        columns=["subject", "group", "reason"],
    )  # fmt: skip
    return counts, excluded


# --- configuration -------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigInfo:
    """A configuration file the run came from: its path and :func:`config_hash` of it."""

    path: Path
    hash: str


def read_configs(paths: Sequence[str | Path]) -> list[ConfigInfo]:
    """Read each YAML/JSON configuration file and hash its content (canonical JSON)."""
    import yaml

    out = []
    for path in paths:
        try:
            obj = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise BinnInputError(path, f"not a readable YAML/JSON configuration ({exc})") from exc
        out.append(ConfigInfo(Path(path), config_hash(obj)))
    return out
