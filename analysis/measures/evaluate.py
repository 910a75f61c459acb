"""The metric rows of one tracked subject: per slice, and per slice x frame (curves).

For every tracking output (``fields (T', Z, 2, H, W)`` px on the ED grid, ``frames (T',)``)
and its subject (ED/ES labels, spacing, optional ground-truth ``motion`` and per-frame
``labels``) :func:`evaluate_subject` makes one row per slice (``binn evaluate`` writes them,
:mod:`binn.analysis.commands.evaluate`):

- ES -> ED accuracy: the ES myocardium (label 2) is warped to ED with the ES field (nearest
  neighbour, :func:`binn.register.transform.warp`) and compared with the ED myocardium (Dice,
  mean contour distance, Hausdorff); ``*_before`` compares the unwarped ES myocardium.
  ``es_myocardium`` says whether the ES slice holds myocardium (1) or not (0: the base
  moved out of the slice); without it Dice is 0 and MCD/HD are NaN, and the report gives
  Dice both with and without such pairs (:mod:`binn.analysis.tables.report_tables`).
- volume preservation of the ES field over the ED myocardium: mean ``|det J - 1|`` and the
  fraction of folded pixels (``det J <= 0``).
- peak Lagrangian strain over the frames present (radial: max, circumferential: min), with
  directions from the ED LV cavity centroid (label 3).
- against ground truth (phantoms with ``motion``): end-point error and strain errors, mean
  over the tracked frames after ED; NaN otherwise.

A slice without ED myocardium is kept with NaN metrics and a ``note`` (it has no curve
rows); every missing value is NaN (an empty cell in the CSV), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from binn.analysis.measures.levels import slice_levels
from binn.analysis.measures.metrics import (
    area_change,
    centroid,
    contour_distances,
    dice,
    end_point_error_mm,
    fold_fraction,
    mean_abs_det_j_minus_1,
    mean_det_j,
    radial_circumferential_strain,
)
from binn.errors import BinnInputError
from binn.io import load_npz
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

if TYPE_CHECKING:
    from binn.register.data.subject import CineSubject

METRIC_COLUMNS = (
    "experiment", "subject", "z", "level", "method", "setting",
    "dice_before", "mcd_before_mm", "hd_before_mm", "dice", "mcd_mm", "hd_mm",
    "abs_det_j_minus_1", "fold_fraction",
    "peak_radial_strain", "peak_circ_strain",
    "epe_mm", "peak_radial_strain_gt", "peak_circ_strain_gt",
    "radial_strain_error", "circ_strain_error",
    "ms_per_pair", "es_myocardium", "note",
)  # fmt: skip
ES_EMPTY_NOTE = "no myocardium at ES"
CURVE_COLUMNS = (
    "experiment", "subject", "z", "level", "method", "setting", "frame", "phase",
    "dice", "area_change", "radial_strain", "circ_strain", "mean_det_j",
    "abs_det_j_minus_1", "fold_fraction", "radial_strain_gt", "circ_strain_gt",
)  # fmt: skip


@dataclass(frozen=True)
class Tracking:
    """One tracking output: ``fields (T', Z, 2, H, W)`` px, ``frames (T',)`` int."""

    subject: str
    method: str
    setting: str
    fields: np.ndarray
    frames: np.ndarray
    ms_per_pair: float
    path: Path


def load_tracking(path: str | Path) -> Tracking:
    """Read a tracking output ``F.npz`` (``docs/interfaces.md``); the subject name comes from
    its ``subject`` entry, or the file name when it has none."""
    path = Path(path)
    data = load_npz(path, required={"fields": 5, "frames": 1})
    if (
        data["fields"].shape[2] != 2
        or len(data["frames"]) != data["fields"].shape[0]
        or len(data["frames"]) == 0
    ):
        raise BinnInputError(
            path, f"fields {data['fields'].shape} / frames {data['frames'].shape} do not match"
        )
    for key in ("method", "setting"):
        if key not in data:
            raise BinnInputError(path, f"missing entry '{key}'")
    return Tracking(
        subject=str(data["subject"]) if "subject" in data else path.stem,
        method=str(data["method"]),
        setting=str(data["setting"]),
        fields=data["fields"].astype(np.float32),
        frames=data["frames"].astype(int),
        ms_per_pair=float(data["ms_per_pair"]) if "ms_per_pair" in data else float("nan"),
        path=path,
    )


def _warp_labels(labels: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Warp masks ``(N, H, W)`` with fields ``(N, 2, H, W)`` px (nearest) -> ``(N, H, W)`` bool."""
    import torch

    from binn.register.transform import warp

    image = torch.from_numpy(labels.astype(np.float32)[:, None])
    out = warp(image, torch.from_numpy(np.ascontiguousarray(disp, dtype=np.float32)), "nearest")
    return out[:, 0].numpy() > 0.5


def _nan_mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values[np.isfinite(values)])) if np.isfinite(values).any() else np.nan


def _nan_extreme(values: np.ndarray, fn) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(fn(values[np.isfinite(values)])) if np.isfinite(values).any() else np.nan


def evaluate_subject(
    subject: CineSubject, track: Tracking, experiment: str
) -> tuple[list[dict], list[dict]]:
    """Metric rows (one per slice) and curve rows (one per slice x tracked frame).

    ``subject``: ``images (T, Z, H, W)``, ``labels_ed``/``labels_es`` ``(Z, H, W)`` (ACDC
    values), ``es_index``, ``spacing (3,)`` mm (z, y, x), optional ``motion (T, Z, 2, H, W)``
    px and ``labels (T, Z, H, W)`` (``None`` when absent). Curve ``dice`` needs labels of
    that frame (``labels``, or ED/ES labels); other frames get NaN.
    """
    labels_ed = np.asarray(subject.labels_ed)
    n_frames = int(np.asarray(subject.images).shape[0])
    z_n, h, w = labels_ed.shape
    if track.fields.shape[1:] != (z_n, 2, h, w):
        raise BinnInputError(
            track.path,
            f"fields {track.fields.shape} do not fit subject '{track.subject}' "
            f"(Z, H, W) = {labels_ed.shape}",
        )
    if track.frames.min() < 0 or track.frames.max() >= n_frames:
        raise BinnInputError(track.path, f"frames {track.frames} outside 0..{n_frames - 1}")
    spacing = np.asarray(subject.spacing, dtype=np.float64)[1:]
    myo_ed = labels_ed == MYOCARDIUM
    myo_es = np.asarray(subject.labels_es) == MYOCARDIUM
    levels = slice_levels(myo_ed)
    es_index = int(subject.es_index)
    es_pos = np.flatnonzero(track.frames == es_index)
    after_ed = track.frames != 0
    motion = subject.motion
    frame_labels = subject.labels
    common = {
        "experiment": experiment, "subject": track.subject, "method": track.method,
        "setting": track.setting,
    }  # fmt: skip

    rows: list[dict] = []
    curves: list[dict] = []
    for z in range(z_n):
        row = {**common, "z": z, "level": levels[z], "ms_per_pair": track.ms_per_pair}
        notes = []
        if not myo_ed[z].any():
            row["note"] = "no myocardium at ED: not evaluable"
            rows.append(row)
            continue
        fields_z = track.fields[:, z]
        # ES -> ED accuracy and volume preservation
        row["dice_before"] = dice(myo_es[z], myo_ed[z])
        row["mcd_before_mm"], row["hd_before_mm"] = contour_distances(myo_es[z], myo_ed[z], spacing)
        row["es_myocardium"] = float(myo_es[z].any())
        if not myo_es[z].any():
            notes.append(ES_EMPTY_NOTE)
        if len(es_pos):
            u_es = fields_z[es_pos[0]]
            warped = _warp_labels(myo_es[z][None], u_es[None])[0]
            row["dice"] = dice(warped, myo_ed[z])
            row["mcd_mm"], row["hd_mm"] = contour_distances(warped, myo_ed[z], spacing)
            row["abs_det_j_minus_1"] = mean_abs_det_j_minus_1(u_es, myo_ed[z])
            row["fold_fraction"] = fold_fraction(u_es, myo_ed[z])
        else:
            notes.append(f"ES frame {es_index} not tracked")
        # strain over the tracked frames
        centre = centroid(labels_ed[z] == LV_CAVITY)
        if np.isnan(centre).any():
            centre = centroid(myo_ed[z])
            notes.append("no LV cavity at ED: strain directions from the myocardium centroid")
        err_t, ecc_t = radial_circumferential_strain(fields_z, myo_ed[z], centre, spacing)
        row["peak_radial_strain"] = _nan_extreme(err_t, np.max)
        row["peak_circ_strain"] = _nan_extreme(ecc_t, np.min)
        err_gt = ecc_gt = np.full(len(track.frames), np.nan)
        if motion is not None:
            gt_z = np.asarray(motion)[track.frames, z]
            err_gt, ecc_gt = radial_circumferential_strain(gt_z, myo_ed[z], centre, spacing)
            row["peak_radial_strain_gt"] = _nan_extreme(err_gt, np.max)
            row["peak_circ_strain_gt"] = _nan_extreme(ecc_gt, np.min)
            if after_ed.any():
                epe = end_point_error_mm(fields_z[after_ed], gt_z[after_ed], myo_ed[z], spacing)
                row["epe_mm"] = _nan_mean(epe)
                row["radial_strain_error"] = _nan_mean(np.abs(err_t - err_gt)[after_ed])
                row["circ_strain_error"] = _nan_mean(np.abs(ecc_t - ecc_gt)[after_ed])
        if notes:
            row["note"] = "; ".join(notes)
        rows.append(row)
        # curves per tracked frame
        dice_t = np.full(len(track.frames), np.nan)
        for i, t in enumerate(track.frames):
            if frame_labels is not None:
                lab = np.asarray(frame_labels)[t, z] == MYOCARDIUM
            elif t == es_index:
                lab = myo_es[z]
            elif t == 0:
                lab = myo_ed[z]
            else:
                continue
            dice_t[i] = dice(_warp_labels(lab[None], fields_z[i][None])[0], myo_ed[z])
        area_t = area_change(fields_z, myo_ed[z])
        det_t = mean_det_j(fields_z, myo_ed[z])
        abs_t = mean_abs_det_j_minus_1(fields_z, myo_ed[z])
        fold_t = fold_fraction(fields_z, myo_ed[z])
        for i, t in enumerate(track.frames):
            curves.append({
                **common, "z": z, "level": levels[z], "frame": int(t), "phase": t / n_frames,
                "dice": dice_t[i], "area_change": area_t[i], "radial_strain": err_t[i],
                "circ_strain": ecc_t[i], "mean_det_j": det_t[i], "abs_det_j_minus_1": abs_t[i],
                "fold_fraction": fold_t[i], "radial_strain_gt": err_gt[i],
                "circ_strain_gt": ecc_gt[i],
            })  # fmt: skip
    return rows, curves
