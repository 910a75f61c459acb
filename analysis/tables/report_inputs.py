"""The report's side inputs: the data split (``split.json``), the run's configuration, and
the strain folders of ``binn strain``; each read, checked and turned into tables.

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

A strain folder (``binn strain --out DIR``) holds ``strain.json`` and ``index.html``;
``--strain-dirs`` takes such folders or folders of them (one per subject).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from binn.analysis.tables.labels import mean_std, method_label
from binn.analysis.tables.report_tables import (
    GROUND_TRUTH,
    LEVEL_ORDER,
    PAPER_REFERENCE_STRAIN_PCT,
    REFERENCE_LABEL,
)
from binn.errors import BinnInputError
from binn.provenance import config_hash

UNGROUPED = "—"
SPLIT_KEYS = ("train", "val", "test")
STRAIN_JSON, STRAIN_HTML = "strain.json", "index.html"
# strain.json segment keys (binn.analysis.rendering.strain_pages); null (no pixels) reads as NaN
SEGMENT_PEAKS = ("peak_radial_strain", "peak_circ_strain", "peak_radial_strain_gt",
                 "peak_circ_strain_gt")  # fmt: skip


def _read_json(path: str | Path) -> Any:
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
    obj = _read_json(path)
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


# --- strain folders --------------------------------------------------------------------------
@dataclass(frozen=True)
class StrainRun:
    """One ``binn strain`` output folder: who, with what, the page and the segment peaks.

    ``segments``: one row per AHA segment with ``segment`` (name), ``level``
    (basal/mid/apical) and the peaks of ``SEGMENT_PEAKS`` (dimensionless, NaN where the
    segment has no pixels or there is no ground truth).
    """

    folder: Path
    subject: str
    method: str
    setting: str
    html: Path
    segments: pd.DataFrame
    code_version: str | None


def find_strain_folders(dirs: Sequence[str | Path]) -> list[Path]:
    """Each DIR holding ``strain.json``, or else its immediate subfolders that hold one."""
    found: list[Path] = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise BinnInputError(d, "strain folder does not exist")
        if (d / STRAIN_JSON).is_file():
            found.append(d)
            continue
        subs = sorted(p for p in d.iterdir() if (p / STRAIN_JSON).is_file())
        if not subs:
            raise BinnInputError(d, f"holds no {STRAIN_JSON} (nor do its subfolders)")
        found += subs
    return found


def _segment_rows(obj: dict, path: Path) -> pd.DataFrame:
    segs = obj.get("segments")
    if not isinstance(segs, list) or not segs:
        raise BinnInputError(path, "'segments' must be a non-empty list")
    rows = []
    for seg in segs:
        if not isinstance(seg, dict) or not {"segment", "level"} <= set(seg):
            raise BinnInputError(path, "each segment needs 'segment' and 'level'")
        rows.append({
            "segment": str(seg["segment"]), "level": str(seg["level"]),
            **{k: _finite(seg.get(k)) for k in SEGMENT_PEAKS},
        })  # fmt: skip
    return pd.DataFrame(rows)


def _finite(value: object) -> float:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else np.nan


def read_strain_run(folder: str | Path) -> StrainRun:
    """Read ``folder/strain.json``; the folder must also hold ``index.html``."""
    folder = Path(folder)
    path = folder / STRAIN_JSON
    obj = _read_json(path)
    if not isinstance(obj, dict):
        raise BinnInputError(path, "strain JSON must be an object")
    missing = [k for k in ("subject", "method") if k not in obj]
    if missing:
        raise BinnInputError(path, f"missing keys {missing}")
    html = folder / STRAIN_HTML
    if not html.is_file():
        raise BinnInputError(folder, f"no {STRAIN_HTML} beside {STRAIN_JSON}")
    prov = obj.get("provenance") if isinstance(obj.get("provenance"), dict) else {}
    return StrainRun(
        folder=folder, subject=str(obj["subject"]), method=str(obj["method"]),
        setting=str(obj.get("setting", "")), html=html, segments=_segment_rows(obj, path),
        code_version=prov.get("code_version"),
    )  # fmt: skip


def strain_links(runs: Sequence[StrainRun], relative_to: Path) -> pd.DataFrame:
    """One row per folder: subject, method, Markdown link to its page (relative path)."""
    return pd.DataFrame(
        [{"subject": r.subject, "method": method_label(r.method, r.setting),
          "segments": len(r.segments),
          "page": f"[{r.folder.name}/{STRAIN_HTML}]({os.path.relpath(r.html, relative_to)})"}
         for r in sorted(runs, key=lambda r: (r.subject, r.method, r.setting))],
        columns=["subject", "method", "segments", "page"],
    )  # fmt: skip


def strain_level_table(runs: Sequence[StrainRun]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean peak segmental strain per level and method, beside the paper's reference.

    Per subject the peaks of a level's segments are averaged (segments without pixels left
    out), then mean ± std over subjects (``n_subjects``, ``n_segments`` with a value); level
    ``all`` pools every segment. Where the folders hold ground truth (phantoms) its peaks are
    a ``ground truth`` row. Returns ``(csv_table, markdown_view)``; values in %, the
    reference row is quoted, not computed.
    """
    rows = []
    for r in runs:
        seg = r.segments.assign(subject=r.subject)
        tracked = seg.assign(method=r.method, setting=r.setting)
        truth = seg.assign(method=GROUND_TRUTH, setting="",
                           peak_radial_strain=seg["peak_radial_strain_gt"],
                           peak_circ_strain=seg["peak_circ_strain_gt"])  # fmt: skip
        for part in (tracked, truth.drop_duplicates()):
            rows += [part, part.assign(level="all")]
    if not rows:
        return pd.DataFrame(), pd.DataFrame()
    seg = pd.concat(rows, ignore_index=True)
    seg = seg[seg["level"].isin(LEVEL_ORDER)]
    seg = seg.dropna(subset=["peak_radial_strain", "peak_circ_strain"], how="all")
    seg = seg.drop_duplicates(subset=["method", "setting", "level", "subject", "segment"])
    cols = ["peak_radial_strain", "peak_circ_strain"]
    keys = ["method", "setting", "level"]
    per_subject = seg.groupby([*keys, "subject"])[cols].mean()
    grouped = per_subject.groupby(level=keys)
    table = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std"))
    table["n_subjects"] = grouped.size()
    table["n_segments"] = seg.groupby(keys).size()
    table = table.reset_index()
    ref = pd.DataFrame([
        {"method": REFERENCE_LABEL, "setting": "", "level": level,
         "peak_radial_strain_mean": rr / 100.0, "peak_circ_strain_mean": cc / 100.0}
        for level, (rr, cc) in PAPER_REFERENCE_STRAIN_PCT.items()
    ])  # fmt: skip
    table = pd.concat([table, ref], ignore_index=True)
    table["_level"] = table["level"].map(LEVEL_ORDER.index)
    table["_ref"] = table["method"].isin([GROUND_TRUTH, REFERENCE_LABEL]).astype(int)
    table = table.sort_values(["_level", "_ref", "method"], kind="stable")
    table = table.drop(columns=["_level", "_ref"]).reset_index(drop=True)
    for col in cols:
        for stat in ("mean", "std"):
            table[f"{col}_{stat}_pct"] = 100.0 * table[f"{col}_{stat}"]
    csv = table[["method", "setting", "level", "n_subjects", "n_segments",
                 *[f"{c}_{s}_pct" for c in cols for s in ("mean", "std")]]]  # fmt: skip
    view = pd.DataFrame({
        "Level": table["level"],
        "Method": [m if m in (REFERENCE_LABEL, GROUND_TRUTH) else method_label(m, s)
                   for m, s in zip(table["method"], table["setting"], strict=True)],
        "peak RR (%)": [mean_std(m, s, 1) for m, s in
                        zip(table["peak_radial_strain_mean_pct"],
                            table["peak_radial_strain_std_pct"], strict=True)],
        "peak CC (%)": [mean_std(m, s, 1) for m, s in
                        zip(table["peak_circ_strain_mean_pct"], table["peak_circ_strain_std_pct"],
                            strict=True)],
        "Subjects": table["n_subjects"].astype("Int64"),
        "Segments": table["n_segments"].astype("Int64"),
    })  # fmt: skip
    return csv, view
