"""One ED/ES pair: register the ES stack to its ED stack slice by slice and score it.

(``binn evaluate-pair`` reads the pair from NIfTI files: :mod:`binn.analysis.commands.pair`.)

Per slice: Dice, mean contour distance and Hausdorff distance (mm) between the ES myocardium
warped to ED and the ED myocardium, mean |det J - 1| over the ED myocardium; per level
(basal / mid / apical, :func:`binn.analysis.measures.levels.slice_levels` of the ED
myocardium) the means;
``dice_before`` (ES vs ED myocardium without registration) per level. Slices without
myocardium in ED or ES are listed with ``"evaluable": false`` and a reason, never dropped.
A network's refinement (``--param refine=N``) that stopped on a slice is reported there as
``refine_error``, and the other slices go on.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from binn.analysis.measures.levels import LEVELS, slice_levels
from binn.analysis.measures.metrics import contour_distances, dice, mean_abs_det_j_minus_1
from binn.register.track import Registrar
from binn.register.transform import warp
from binn.vocabulary import MYOCARDIUM

METRICS = ("dice", "mcd_mm", "hd_mm", "abs_det_j_minus_1")


def warp_labels(labels: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Warp label maps ``(N, H, W)`` by fields ``(N, 2, H, W)`` px (nearest neighbour)."""
    lab = torch.from_numpy(labels.astype(np.float32))[:, None]
    out = warp(lab, torch.from_numpy(np.ascontiguousarray(fields, np.float32)), mode="nearest")
    return out[:, 0].round().numpy().astype(labels.dtype)


def score_pair_stack(
    fields: np.ndarray,
    labels_ed: np.ndarray,
    labels_es: np.ndarray,
    spacing_yx: np.ndarray,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Per-slice records, per-level means and per-level ``dice_before`` of ES->ED fields.

    ``fields (Z, 2, H, W)`` px (registration convention, target ED), labels ``(Z, H, W)``
    ACDC values, ``spacing_yx (2,)`` mm. Non-finite means (no evaluable slice) become None.
    """
    myo_ed, myo_es = labels_ed == MYOCARDIUM, labels_es == MYOCARDIUM
    levels = slice_levels(myo_ed)
    warped = warp_labels(labels_es, fields) == MYOCARDIUM
    slices: list[dict[str, Any]] = []
    for z in range(labels_ed.shape[0]):
        rec: dict[str, Any] = {"z": z, "level": levels[z]}
        reason = None
        if not myo_ed[z].any():
            reason = "no myocardium in the ED labels"
        elif not myo_es[z].any():
            reason = "no myocardium in the ES labels"
        rec["evaluable"] = reason is None
        if reason is not None:
            rec.update({k: None for k in (*METRICS, "dice_before")}, reason=reason)
        else:
            mcd, hd = contour_distances(warped[z], myo_ed[z], spacing_yx)
            rec.update(
                dice=dice(warped[z], myo_ed[z]),
                mcd_mm=mcd,
                hd_mm=hd,
                abs_det_j_minus_1=float(mean_abs_det_j_minus_1(fields[z], myo_ed[z])),
                dice_before=dice(myo_es[z], myo_ed[z]),
            )
        slices.append(rec)
    level_means: dict[str, Any] = {}
    before: dict[str, Any] = {}
    for level in LEVELS:
        rows = [r for r in slices if r["level"] == level and r["evaluable"]]
        level_means[level] = {k: _mean([r[k] for r in rows]) for k in METRICS}
        level_means[level]["slices"] = len(rows)
        before[level] = _mean([r["dice_before"] for r in rows])
    return slices, level_means, before


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def evaluate_pair(
    fixed: np.ndarray,
    fixed_labels: np.ndarray,
    moving: np.ndarray,
    moving_labels: np.ndarray,
    spacing_yx: np.ndarray,
    registrar: Registrar,
    name: str = "pair",
) -> dict[str, Any]:
    """Register ``moving`` (Z, H, W) to ``fixed`` slice by slice and score it (see module).

    Images are cropped/normalised ``(Z, H, W)`` float in [0, 1]; labels ACDC values. The ED
    myocardium is what adaptation (on this pair alone) and refinement of ``binn`` fields
    score with R_VAE; ``name`` names the pair in error messages.
    """
    z = len(fixed)
    names = [f"{name} slice {k}" for k in range(z)]
    start = time.perf_counter()
    pair = np.stack([fixed, moving]).astype(np.float32)  # the two frames as a cine
    registrar.adapt_to(pair, np.asarray(fixed_labels) == MYOCARDIUM, name)
    fields = registrar(
        np.asarray(fixed, np.float32),
        np.asarray(moving, np.float32),
        np.asarray(fixed_labels) == MYOCARDIUM,
        names,
    )
    seconds = time.perf_counter() - start
    slices, levels, before = score_pair_stack(fields, fixed_labels, moving_labels, spacing_yx)
    for message in registrar.failures:
        for k, label in enumerate(names):
            if message.startswith(f"{label}:"):
                slices[k]["refine_error"] = message
    return {
        "method": registrar.method,
        "setting": registrar.setting,
        "seconds": seconds,
        "ms_per_pair": 1000.0 * seconds / max(len(fixed), 1),
        "slices": slices,
        "levels": levels,
        "dice_before": before,
        "evaluable_slices": sum(r["evaluable"] for r in slices),
    }
