"""``binn bench strain-cohort``: peak strain of every method on a labelled cine folder, per
pathology group, beside the published normal values and the labels' own ring-model strain.

Each subject goes through exactly what ``binn strain --dir`` does (:func:`prepare`: loaded,
resampled to the grid, cropped on the LV, every frame tracked to ED; :func:`analyse_strain`:
AHA segments, pixel-mean Green-Lagrange strain), so the numbers are the ones a person reads on
the strain page. Reported per subject and run, and as mean ± std and n per group and run:

- the global peak radial and circumferential strain (percent) and their values at the
  labelled ES frame, the peak's offset from ES (frames), the largest segmental radial peak;
- per level (basal, mid, apical): the peak of the level's pixel-weighted mean curve;
- whether the global peaks lie in :data:`binn.analysis.measures.reference.NORMAL_BANDS`;
- the ring-model strain of the expert ED and ES labels
  (:mod:`binn.analysis.measures.ring_reference`): how much motion the labels hold, with no
  tracker, as the scale against which a tracker's under-tracking shows.

A subject that fails (unreadable files, no RV for the AHA anchor) is listed under
``failed`` with its reason and the others go on.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from binn.analysis.config import (
    CohortStrainBenchConfig,
    StrainRequest,
    StrainTracking,
    SubjectFolder,
)
from binn.analysis.measures.aha import SEGMENT_LEVEL
from binn.analysis.measures.reference import NORMAL_BANDS, PUBLISHED_NORMALS
from binn.analysis.measures.ring_reference import subject_ring_strain
from binn.errors import BinnInputError
from binn.vocabulary import read_acdc_info

log = logging.getLogger(__name__)

LEVELS = ("basal", "mid", "apical")
NO_GROUP = "all"
VALUES = (
    "peak_radial_pct",
    "peak_circ_pct",
    "radial_at_es_pct",
    "circ_at_es_pct",
    "peak_radial_minus_es_frames",
    "peak_circ_minus_es_frames",
    "max_segment_radial_pct",
    *(f"{level}_peak_{kind}_pct" for level in LEVELS for kind in ("radial", "circ")),
)
RING_VALUES = ("ring_radial_pct", "ring_circ_pct", "myocardium_area_ratio_es_ed")


def subject_group(folder: Path, layout: str) -> str:
    """The pathology group of a subject folder (ACDC's ``Info.cfg`` ``Group``), else ``all``."""
    if layout == "acdc":
        return read_acdc_info(folder / "Info.cfg").group or NO_GROUP
    return NO_GROUP


def runs(cfg: CohortStrainBenchConfig) -> list[tuple[str, StrainTracking]]:
    """``(run name, tracking)`` of every method the bench compares: ``demons``, ``ffd``,
    ``binn``, ``binn+refine50``, ``binn+adapt200``, ..."""
    out = [
        (m, StrainTracking(m, {}, None, cfg.size, spacing_mm=cfg.spacing_mm)) for m in cfg.methods
    ]
    for method, model in cfg.models.items():
        out.append((method, StrainTracking(method, {}, model, None, spacing_mm=cfg.spacing_mm)))
        if cfg.refine > 0:
            params = {"refine": float(cfg.refine)}
            tracking = StrainTracking(method, params, model, None, spacing_mm=cfg.spacing_mm)
            out.append((f"{method}+refine{cfg.refine}", tracking))
        if cfg.adapt > 0:
            params = {"adapt": float(cfg.adapt)}
            tracking = StrainTracking(method, params, model, None, spacing_mm=cfg.spacing_mm)
            out.append((f"{method}+adapt{cfg.adapt}", tracking))
    return out


def level_peaks(radial: np.ndarray, circ: np.ndarray, n_pixels: np.ndarray) -> dict[str, float]:
    """Peaks (percent) of each level's pixel-weighted mean curve, from the segment rows
    (1-16) of ``radial``/``circ`` ``(17, T')`` curves and ``n_pixels (17,)``."""
    out: dict[str, float] = {}
    for level in LEVELS:
        rows = [r for r, lv in SEGMENT_LEVEL.items() if lv == level and n_pixels[r] > 0]
        weights = n_pixels[rows].astype(np.float64)
        for kind, curves, pick in (("radial", radial, np.nanmax), ("circ", circ, np.nanmin)):
            key = f"{level}_peak_{kind}_pct"
            if not rows or weights.sum() == 0:
                out[key] = math.nan
                continue
            mean = np.nansum(curves[rows] * weights[:, None], axis=0) / weights.sum()
            out[key] = float(pick(mean)) * 100.0
    return out


def analyse_subject(folder: Path, cfg: CohortStrainBenchConfig, name: str, tracking) -> dict:
    """One subject tracked by one run: its values (percent, frames) and ring-model strain."""
    from binn.analysis.commands.strain import prepare
    from binn.analysis.measures.aha import assign_aha
    from binn.analysis.measures.strain import analyse_strain

    request = StrainRequest(
        SubjectFolder(folder, cfg.layout), Path(folder.name), tracking, device=cfg.device
    )
    start = time.perf_counter()
    prep = prepare(request)
    aha = assign_aha(prep.labels_ed, prep.spacing[1:], None, source=folder)
    a = analyse_strain(
        prep.name, prep.method, prep.setting, prep.labels_ed, prep.spacing,
        prep.images.shape[0], prep.fields, prep.frames, aha, es_index=prep.es_index,
    )  # fmt: skip
    glob = a.peak_rows()[0]
    segments = a.peak_rows()[1:]
    row: dict[str, Any] = {
        "subject": prep.name,
        "run": name,
        "setting": prep.setting,
        "peak_radial_pct": 100.0 * glob["peak_radial_strain"],
        "peak_circ_pct": 100.0 * glob["peak_circ_strain"],
        "radial_at_es_pct": 100.0 * glob["radial_strain_es"],
        "circ_at_es_pct": 100.0 * glob["circ_strain_es"],
        "peak_radial_minus_es_frames": glob["peak_radial_minus_es_frames"],
        "peak_circ_minus_es_frames": glob["peak_circ_minus_es_frames"],
        "max_segment_radial_pct": 100.0
        * max((s["peak_radial_strain"] for s in segments if s["n_pixels"]), default=math.nan),
        **level_peaks(a.tracked.radial, a.tracked.circ, a.tracked.n_pixels),
        "seconds": time.perf_counter() - start,
    }
    c_lo, c_hi = NORMAL_BANDS.global_circ_pct
    r_lo, r_hi = NORMAL_BANDS.global_radial_pct
    row["circ_in_band"] = bool(c_lo <= row["peak_circ_pct"] <= c_hi)
    row["radial_in_band"] = bool(r_lo <= row["peak_radial_pct"] <= r_hi)
    if prep.labels_es is not None:
        ring = subject_ring_strain(prep.labels_ed, prep.labels_es, float(prep.spacing[1]))
        row["ring_radial_pct"] = 100.0 * ring["radial"]
        row["ring_circ_pct"] = 100.0 * ring["circ"]
        row["myocardium_area_ratio_es_ed"] = ring["myocardium_area_ratio"]
    return row


def _stats(values: list[float | int | None]) -> dict[str, float | int | None]:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return {"mean": float(np.mean(finite)), "std": std, "n": len(finite)}


def summarise(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """Per group and run: mean ± std and n of every value, and how many subjects have their
    global peaks inside the normal bands."""
    out: dict[str, dict[str, Any]] = {}
    for group in sorted({r["group"] for r in rows}):
        out[group] = {}
        for run in dict.fromkeys(r["run"] for r in rows if r["group"] == group):
            chosen = [r for r in rows if r["group"] == group and r["run"] == run]
            entry: dict[str, Any] = {k: _stats([r.get(k) for r in chosen]) for k in VALUES}
            entry["settings"] = sorted({r["setting"] for r in chosen})
            entry["circ_in_band"] = f"{sum(r['circ_in_band'] for r in chosen)} of {len(chosen)}"
            entry["radial_in_band"] = f"{sum(r['radial_in_band'] for r in chosen)} of {len(chosen)}"
            out[group][run] = entry
        labelled = {r["subject"]: r for r in rows if r["group"] == group and "ring_circ_pct" in r}
        out[group]["labels (ring model)"] = {
            k: _stats([r[k] for r in labelled.values()]) for k in RING_VALUES
        }
    return out


def bench_strain_cohort(cfg: CohortStrainBenchConfig) -> dict[str, Any]:
    """Run the bench (see the module docstring); returns the JSON-ready result."""
    data_dir = Path(cfg.data_dir)
    if not data_dir.is_dir():
        raise BinnInputError(data_dir, "not a folder of subject folders")
    folders = sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    chosen: list[tuple[Path, str]] = []
    failed: list[dict[str, str]] = []
    per_group: dict[str, int] = {}
    for folder in folders:
        try:
            group = subject_group(folder, cfg.layout)
        except BinnInputError as exc:
            failed.append({"subject": folder.name, "run": "", "reason": str(exc)})
            continue
        if cfg.groups is not None and group not in cfg.groups:
            continue
        if cfg.limit is not None and per_group.get(group, 0) >= cfg.limit:
            continue
        per_group[group] = per_group.get(group, 0) + 1
        chosen.append((folder, group))
    if not chosen:
        raise BinnInputError(data_dir, f"no subject folder of the groups {cfg.groups}")
    rows: list[dict] = []
    for folder, group in chosen:
        for name, tracking in runs(cfg):
            log.info("%s (%s): %s", folder.name, group, name)
            try:
                rows.append({"group": group, **analyse_subject(folder, cfg, name, tracking)})
            except BinnInputError as exc:
                log.warning("%s: %s failed: %s", folder.name, name, exc)
                failed.append({"subject": folder.name, "run": name, "reason": str(exc)})
    return {
        "data_dir": str(data_dir),
        "grid": {"spacing_mm": cfg.spacing_mm, "size_px": cfg.size},
        "strain_definition": "pixel-mean Green-Lagrange strain over the ED myocardium "
        "(as binn strain); peaks over the whole cycle; percent",
        "normal_bands": NORMAL_BANDS.text(),
        "published_normals": [p.text() for p in PUBLISHED_NORMALS],
        "summary": summarise(rows),
        "subjects": rows,
        "failed": failed,
    }
