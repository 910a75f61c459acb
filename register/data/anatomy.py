"""LV anatomy in mm side by side: synthetic rings, phantoms, real ACDC (``binn bench anatomy``).

One measure for every source, per short-axis slice with a closed ring (an LV cavity whose
4-neighbours are all myocardium or cavity): the **cavity radius** ``r_cav = sqrt(A_cav /
pi)`` and the **epicardial radius** ``r_epi = sqrt((A_cav + A_myo) / pi)`` (equivalent
circles of the areas, mm), and the **wall thickness** ``r_epi - r_cav`` (that of the
annulus of the same areas). Areas are pixel counts times the pixel area, so the measure
does not depend on the grid beyond its partial-volume error.

Sources: (i) the synthetic ES rings of :mod:`simulate.synthetic` and their ED targets (ED
cavity area = the generator's target; ED wall area = the ES wall area, incompressible;
so the ED ring is the equal-area annulus the FEM must reach), or simulation records
(``mask``/``cavity`` ED, ``mask_es`` ES) when given; (ii) phantoms
(:func:`register.data.phantom.make_phantom`, ED and ES labels); (iii) an ACDC folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from binn.register.config import PHANTOM_FAMILIES, AnatomyBenchConfig
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

log = logging.getLogger(__name__)

METRICS = ("cavity_radius_mm", "epi_radius_mm", "wall_mm")
_CROSS = ndimage.generate_binary_structure(2, 1)


def closed_ring(cavity: np.ndarray, myocardium: np.ndarray) -> bool:
    """True when ``cavity`` ``(H, W)`` is non-empty and every 4-neighbour of it is myocardium."""
    cavity, myocardium = cavity.astype(bool), myocardium.astype(bool)
    if not cavity.any() or not myocardium.any():
        return False
    rim = ndimage.binary_dilation(cavity, structure=_CROSS) & ~cavity
    return bool(np.all(myocardium[rim]))


def ring_measures(
    cavity: np.ndarray, myocardium: np.ndarray, spacing_yx: np.ndarray
) -> dict[str, float] | None:
    """Cavity radius, epicardial radius and wall thickness (mm) of one slice; None if no ring."""
    if not closed_ring(cavity, myocardium):
        return None
    pixel_mm2 = float(np.prod(np.asarray(spacing_yx, dtype=np.float64)))
    return annulus(
        float(cavity.astype(bool).sum()) * pixel_mm2,
        float(myocardium.astype(bool).sum()) * pixel_mm2,
    )


def annulus(cavity_mm2: float, wall_mm2: float) -> dict[str, float]:
    """Equivalent-circle radii (mm) of a cavity area and a wall area (mm^2) around it."""
    r_cav = float(np.sqrt(cavity_mm2 / np.pi))
    r_epi = float(np.sqrt((cavity_mm2 + wall_mm2) / np.pi))
    return {"cavity_radius_mm": r_cav, "epi_radius_mm": r_epi, "wall_mm": r_epi - r_cav}


def stack_measures(labels: np.ndarray, spacing_yx: np.ndarray) -> list[dict[str, float]]:
    """:func:`ring_measures` of every slice of ``(Z, H, W)`` ACDC labels that holds a ring."""
    out = []
    for z in range(labels.shape[0]):
        m = ring_measures(labels[z] == LV_CAVITY, labels[z] == MYOCARDIUM, spacing_yx)
        if m is not None:
            out.append({**m, "z": z})
    return out


def summarise(rows: Iterable[dict[str, float]]) -> dict[str, Any]:
    """``{metric: {"mean", "std", "min", "max"}, "n": slices}`` (population std, mm)."""
    rows = list(rows)
    out: dict[str, Any] = {"n": len(rows)}
    for key in METRICS:
        v = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = (
            {
                "mean": float(v.mean()),
                "std": float(v.std()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
            if v.size
            else None
        )
    return out


def synthetic_rows(n: int, seed: int, size: int, spacing_mm: float) -> dict[str, list]:
    """ES (mask) and ED (generator target) measures of the first ``n`` fitting synthetic rings."""
    from binn.errors import BinnInputError
    from binn.simulate.synthetic import synthetic_ring

    rows: dict[str, list] = {"ED": [], "ES": []}
    s = seed
    while len(rows["ES"]) < n and s < seed + 10 * n + 100:
        try:
            ring = synthetic_ring(s, size, spacing_mm)
        except BinnInputError:
            s += 1
            continue
        s += 1
        es = ring_measures(ring.cavity, ring.myocardium, ring.spacing)
        if es is None:
            continue
        pixel = float(np.prod(ring.spacing))
        rows["ES"].append(es)
        rows["ED"].append(annulus(ring.target_area_mm2, float(ring.myocardium.sum()) * pixel))
    return rows


def simulated_rows(paths: Iterable[Path]) -> dict[str, list]:
    """ED (``mask`` + ``cavity``) and ES (``mask_es``, cavity = its holes) of simulation records."""
    from binn.io import load_npz

    rows: dict[str, list] = {"ED": [], "ES": []}
    for path in paths:
        data = load_npz(path, required={})
        if str(data.get("status", "ok")) != "ok":
            continue
        spacing = np.asarray(data["spacing"], dtype=np.float64)
        mask_es = data["mask_es"].astype(bool)
        cav_es = ndimage.binary_fill_holes(mask_es) & ~mask_es
        for key, cav, myo in (("ED", data["cavity"], data["mask"]), ("ES", cav_es, mask_es)):
            m = ring_measures(cav, myo, spacing)
            if m is not None:
                rows[key].append(m)
    return rows


def phantom_rows(
    n: int, family: str, size: int, spacing_mm: float, slices: int, frames: int
) -> dict[str, list]:
    """ED and ES measures of every slice of ``n`` phantoms (seeds 0..n-1) of ``family``."""
    from binn.register.data.phantom import make_phantom

    rows: dict[str, list] = {"ED": [], "ES": []}
    for seed in range(n):
        s = make_phantom(
            seed, family=family, frames=frames, slices=slices, size=size, spacing_mm=spacing_mm
        )
        rows["ED"] += stack_measures(s.labels_ed, s.spacing[1:])
        rows["ES"] += stack_measures(s.labels_es, s.spacing[1:])
    return rows


def acdc_rows(folder: Path, spacing_mm: float | None = None) -> dict[str, Any]:
    """ED and ES measures of every ACDC patient folder under ``folder`` (skips are logged)."""
    from binn.errors import BinnInputError
    from binn.register.data.loaders import load_acdc

    rows: dict[str, Any] = {"ED": [], "ES": [], "subjects": 0, "skipped": []}
    for patient in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        try:
            s = load_acdc(patient, spacing_mm=spacing_mm)
        except BinnInputError as exc:
            log.warning("skipping %s: %s", patient, exc)
            rows["skipped"].append({"subject": patient.name, "reason": str(exc)})
            continue
        rows["subjects"] += 1
        rows["ED"] += stack_measures(s.labels_ed, s.spacing[1:])
        rows["ES"] += stack_measures(s.labels_es, s.spacing[1:])
    return rows


def bench_anatomy(config: AnatomyBenchConfig) -> dict[str, Any]:
    """The side-by-side table: ``{source: {"ED": summary, "ES": summary}}`` plus settings."""
    result: dict[str, Any] = {
        "grid": {"spacing_mm": config.spacing_mm, "size": config.size},
        "measure": "equivalent-circle radii of the cavity and cavity+myocardium areas; "
        "wall = r_epi - r_cav; slices with a closed ring",
    }
    sources: dict[str, dict] = {
        "synthetic": synthetic_rows(
            config.n_synthetic, config.synthetic_seed, config.size, config.spacing_mm
        )
    }
    if config.cases:
        sources["simulated"] = simulated_rows(config.cases)
    for family in PHANTOM_FAMILIES:
        sources[f"phantom_{family}"] = phantom_rows(
            config.n_phantoms,
            family,
            config.size,
            config.spacing_mm,
            config.phantom_slices,
            config.phantom_frames,
        )
    if config.acdc is not None:
        sources["acdc"] = acdc_rows(config.acdc)
    for name, rows in sources.items():
        entry = {phase: summarise(rows[phase]) for phase in ("ED", "ES")}
        if name == "acdc":
            entry |= {"subjects": rows["subjects"], "skipped": rows["skipped"]}
        result[name] = entry
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The measures as a Markdown table: mean ± std (n slices), one row per source and phase."""
    lines = [
        "| source | phase | n | cavity radius (mm) | epicardial radius (mm) | wall (mm) |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result.items():
        if not isinstance(entry, dict) or "ED" not in entry:
            continue
        for phase in ("ED", "ES"):
            s = entry[phase]
            cells = [
                "—" if s[k] is None else f"{s[k]['mean']:.1f} ± {s[k]['std']:.1f}" for k in METRICS
            ]
            lines.append(f"| {name} | {phase} | {s['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
