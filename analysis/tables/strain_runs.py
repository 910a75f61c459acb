"""The strain folders of ``binn strain`` as the report reads them, and their tables.

A strain folder (``binn strain --out DIR``) holds ``strain.json`` and ``index.html``;
``--strain-dirs`` takes such folders or folders of them (one per subject). The report shows
them as one compact table per pathology group and method (:func:`strain_group_table`,
global peaks beside the published normal values), a table per slice level
(:func:`strain_level_table`), and one index page linking every subject's page
(:func:`strain_index_html`), not one summary row per subject.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from binn.analysis.measures.reference import (
    NORMAL_BANDS,
    PAPER_REFERENCE_STRAIN_PCT,
    PUBLISHED_NORMALS,
)
from binn.analysis.tables.labels import mean_std, method_label
from binn.analysis.tables.report_inputs import UNGROUPED, read_json
from binn.analysis.tables.report_tables import GROUND_TRUTH, LEVEL_ORDER, REFERENCE_LABEL
from binn.errors import BinnInputError

NO_GROUP = "none"  # binn split's group of a subject without one
PUBLISHED_GROUP = "normal (published)"
STRAIN_JSON, STRAIN_HTML = "strain.json", "index.html"
# strain.json segment keys (binn.analysis.rendering.strain_pages); null (no pixels) reads as NaN
SEGMENT_PEAKS = ("peak_radial_strain", "peak_circ_strain", "peak_radial_strain_gt",
                 "peak_circ_strain_gt")  # fmt: skip


@dataclass(frozen=True)
class StrainRun:
    """One ``binn strain`` output folder: who, with what, the page and the segment peaks.

    ``segments``: one row per AHA segment with ``segment`` (name), ``level``
    (basal/mid/apical) and the peaks of ``SEGMENT_PEAKS`` (dimensionless, NaN where the
    segment has no pixels or there is no ground truth); ``global_peaks``: the same peaks of
    the global row; ``flags``: the values outside the normal range the page flagged
    (``None`` for a folder written before pages flagged them).
    """

    folder: Path
    subject: str
    method: str
    setting: str
    html: Path
    segments: pd.DataFrame
    code_version: str | None
    global_peaks: dict[str, float] = dataclasses.field(default_factory=dict)
    flags: list[str] | None = None


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
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise BinnInputError(path, "strain JSON must be an object")
    missing = [k for k in ("subject", "method") if k not in obj]
    if missing:
        raise BinnInputError(path, f"missing keys {missing}")
    html = folder / STRAIN_HTML
    if not html.is_file():
        raise BinnInputError(folder, f"no {STRAIN_HTML} beside {STRAIN_JSON}")
    prov = obj.get("provenance") if isinstance(obj.get("provenance"), dict) else {}
    glob = obj.get("global") if isinstance(obj.get("global"), dict) else {}
    ref = obj.get("reference") if isinstance(obj.get("reference"), dict) else None
    flags = None
    if ref is not None and isinstance(ref.get("flags"), list):
        flags = [str(f.get("text", f)) if isinstance(f, dict) else str(f) for f in ref["flags"]]
    return StrainRun(
        folder=folder, subject=str(obj["subject"]), method=str(obj["method"]),
        setting=str(obj.get("setting", "")), html=html, segments=_segment_rows(obj, path),
        code_version=prov.get("code_version"),
        global_peaks={k: _finite(glob.get(k)) for k in SEGMENT_PEAKS}, flags=flags,
    )  # fmt: skip


def _pct(value: float) -> float:
    return 100.0 * value if math.isfinite(value) else np.nan


def _flag_text(run: StrainRun) -> str:
    if run.flags is None:
        return "—"
    return "; ".join(run.flags) if run.flags else "none"


def strain_links(
    runs: Sequence[StrainRun], relative_to: Path, groups: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per folder: subject, group (``groups``: subject -> pathology group), method,
    global peak radial and circumferential strain (%), the values the page flagged outside
    the normal range, and a Markdown link to its page (relative to ``relative_to``)."""
    groups = groups or {}
    return pd.DataFrame(
        [{"subject": r.subject, "group": groups.get(r.subject, UNGROUPED),
          "method": method_label(r.method, r.setting), "segments": len(r.segments),
          "peak RR (%)": _pct(r.global_peaks.get("peak_radial_strain", np.nan)),
          "peak CC (%)": _pct(r.global_peaks.get("peak_circ_strain", np.nan)),
          "outside normal range": _flag_text(r),
          "page": f"[{r.folder.name}/{STRAIN_HTML}]({os.path.relpath(r.html, relative_to)})"}
         for r in sorted(runs, key=lambda r: (r.subject, r.method, r.setting))],
        columns=["subject", "group", "method", "segments", "peak RR (%)", "peak CC (%)",
                 "outside normal range", "page"],
    )  # fmt: skip


def _known_group(group: str | None) -> bool:
    return group not in (None, "", UNGROUPED, NO_GROUP)


def strain_group_table(
    runs: Sequence[StrainRun], groups: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global peak strain per pathology group and method, beside the published values.

    ``groups``: subject -> group (``split.json``); subjects without a known group are
    pooled in ``all`` only, and with no group known at all there is only ``all``. Per row:
    mean ± std over subjects of the global peak radial (RR) and circumferential (CC) strain
    (%), the number of subjects, and how many of them the pages found inside the normal
    range (:data:`binn.analysis.measures.reference.NORMAL_BANDS`). Ground truth (phantoms)
    is its own method; the published normal values follow, quoted, with group ``normal
    (published)``. Returns ``(csv_table, markdown_view)``.
    """
    groups = groups or {}
    records = []
    for r in runs:
        g = groups.get(r.subject)
        base = {"subject": r.subject, "within": None if r.flags is None else not r.flags}
        peaks = r.global_peaks
        entries = [(r.method, r.setting, peaks.get("peak_radial_strain", np.nan),
                    peaks.get("peak_circ_strain", np.nan))]  # fmt: skip
        gt = (peaks.get("peak_radial_strain_gt", np.nan), peaks.get("peak_circ_strain_gt", np.nan))
        if any(math.isfinite(v) for v in gt):
            entries.append((GROUND_TRUTH, "", *gt))
        for method, setting, rr, cc in entries:
            row = {**base, "method": method, "setting": setting, "rr": _pct(rr), "cc": _pct(cc)}
            records.append({**row, "group": "all"})
            if _known_group(g):
                records.append({**row, "group": str(g)})
    columns = ["group", "method", "setting", "n_subjects", "n_within_normal",
               "peak_radial_strain_mean_pct", "peak_radial_strain_std_pct",
               "peak_circ_strain_mean_pct", "peak_circ_strain_std_pct"]  # fmt: skip
    if not records:
        return pd.DataFrame(columns=columns), pd.DataFrame()
    seg = pd.DataFrame(records).drop_duplicates(subset=["group", "method", "setting", "subject"])
    rows = []
    for (group, method, setting), part in seg.groupby(["group", "method", "setting"], sort=False):
        known = part["within"].dropna()
        rows.append({
            "group": group, "method": method, "setting": setting,
            "n_subjects": part["subject"].nunique(),
            "n_within_normal": int(known.sum()) if len(known) else np.nan,
            "peak_radial_strain_mean_pct": part["rr"].mean(),
            "peak_radial_strain_std_pct": part["rr"].std(ddof=1),
            "peak_circ_strain_mean_pct": part["cc"].mean(),
            "peak_circ_strain_std_pct": part["cc"].std(ddof=1),
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    order = [*sorted(set(table["group"]) - {"all"}), "all"]
    table["_g"] = table["group"].map(order.index)
    table["_m"] = table["method"].eq(GROUND_TRUTH).astype(int)
    table = table.sort_values(["_g", "_m", "method", "setting"], kind="stable")
    table = table.drop(columns=["_g", "_m"]).reset_index(drop=True)
    published = pd.DataFrame([
        {"group": PUBLISHED_GROUP, "method": f"{p.label} (quoted)", "setting": "",
         "n_subjects": p.n if p.n else np.nan, "n_within_normal": np.nan,
         "peak_radial_strain_mean_pct": p.radial_pct[0] if p.radial_pct else np.nan,
         "peak_radial_strain_std_pct": p.radial_pct[1] if p.radial_pct else np.nan,
         "peak_circ_strain_mean_pct": p.circ_pct[0] if p.circ_pct else np.nan,
         "peak_circ_strain_std_pct": p.circ_pct[1] if p.circ_pct else np.nan,
         "peak_circ_strain_range_pct": (
             f"{p.circ_range_pct[0]:g} to {p.circ_range_pct[1]:g}" if p.circ_range_pct else ""
         )}
        for p in PUBLISHED_NORMALS
    ], columns=[*columns, "peak_circ_strain_range_pct"])  # fmt: skip
    csv = pd.concat([table, published], ignore_index=True)
    for col in ("n_subjects", "n_within_normal"):
        csv[col] = csv[col].astype("Int64")
    within = [
        "—" if pd.isna(w) else f"{int(w)} of {int(n)}"
        for w, n in zip(csv["n_within_normal"], csv["n_subjects"], strict=True)
    ]
    view = pd.DataFrame({
        "Group": csv["group"],
        "Method": [m if m == GROUND_TRUTH or m.endswith("(quoted)") else method_label(m, s)
                   for m, s in zip(csv["method"], csv["setting"], strict=True)],
        "global peak RR (%)": [mean_std(m, s, 1) for m, s in zip(
            csv["peak_radial_strain_mean_pct"], csv["peak_radial_strain_std_pct"], strict=True)],
        "global peak CC (%)": [
            f"{r} (range)" if isinstance(r, str) and r else mean_std(m, s, 1)
            for m, s, r in zip(csv["peak_circ_strain_mean_pct"], csv["peak_circ_strain_std_pct"],
                               csv["peak_circ_strain_range_pct"], strict=True)],
        "Subjects": csv["n_subjects"].astype("Int64"),
        "in normal range": within,
    })  # fmt: skip
    return csv, view


def strain_index_html(
    runs: Sequence[StrainRun], relative_to: Path, groups: Mapping[str, str] | None = None
) -> str:
    """An HTML page listing every strain page (:func:`strain_links`' rows, links relative to
    ``relative_to``), grouped by pathology group."""
    links = strain_links(runs, relative_to, groups)
    rows = []
    for rec in links.sort_values(["group", "subject", "method"], kind="stable").to_dict("records"):
        target = rec["page"].split("](", 1)[1][:-1]
        cells = [rec["subject"], rec["group"], rec["method"],
                 "—" if pd.isna(rec["peak RR (%)"]) else f"{rec['peak RR (%)']:.1f}",
                 "—" if pd.isna(rec["peak CC (%)"]) else f"{rec['peak CC (%)']:.1f}",
                 rec["outside normal range"]]  # fmt: skip
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + f'<td><a href="{html.escape(target)}">page</a></td></tr>'
        )  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in ("subject", "group", "method", "global peak RR (%)",
                                               "global peak CC (%)", "outside normal range",
                                               "strain page"))  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Strain pages</title>'
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #bbb;padding:2px 6px}</style></head><body>"
        f"<h1>Strain pages ({len(links)})</h1><p>One page per subject and method "
        f"(binn strain). Normal range: {html.escape(NORMAL_BANDS.text())}.</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table></body></html>\n"
    )


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
