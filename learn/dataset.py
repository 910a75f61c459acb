"""Simulation records -> training windows: all frames, dilated ED mask, LV crop, split by case."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from binn.errors import BinnInputError
from binn.io import load_npz
from binn.learn.masks import crop_window, dilate_mask, lv_centre

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseRecord:
    """One usable simulation record: ``disp (T, 2, H, W)`` float32 px, masks ``(H, W)`` bool.

    ``spacing_mm``: the (isotropic) in-plane pixel spacing, mm.
    """

    name: str
    disp: np.ndarray
    mask: np.ndarray
    cavity: np.ndarray | None
    path: Path
    spacing_mm: float


@dataclass(frozen=True)
class WindowSet:
    """Cropped training windows of several cases.

    ``fields``: ``(N, 2, S, S)`` float32 px (all frames of all cases); ``case_index``: ``(N,)``
    int64 into ``masks`` ``(C, S, S)`` float32 (dilated ED myocardium, 0/1) and ``cases``.
    """

    fields: torch.Tensor
    case_index: torch.Tensor
    masks: torch.Tensor
    cases: tuple[str, ...]


def read_record(path: str | Path) -> CaseRecord | tuple[str, str]:
    """Read one simulation record; a ``failed`` record gives ``(case, reason)``.

    Raises :class:`BinnInputError` for unreadable files, NaN/Inf, wrong shapes, masks that
    do not match the field grid, an empty myocardium mask, or a missing, non-positive or
    anisotropic pixel ``spacing`` (``(2,)`` mm, row and column).
    """
    path = Path(path)
    head = load_npz(path, required={"status": 0})
    status = str(head["status"])
    case = str(head["case"]) if "case" in head else path.stem
    if status == "failed":
        return case, str(head.get("reason", "no reason recorded"))
    if status != "ok":
        raise BinnInputError(path, f"status must be 'ok' or 'failed', got {status!r}")
    rec = load_npz(path, required={"disp": 4, "mask": 2})
    disp, mask = rec["disp"], rec["mask"]
    if disp.shape[1] != 2 or disp.shape[2:] != mask.shape or disp.shape[0] < 1:
        raise BinnInputError(
            path, f"disp {disp.shape} and mask {mask.shape} do not match (T, 2, H, W) / (H, W)"
        )
    cavity = rec.get("cavity")
    if cavity is not None and cavity.shape != mask.shape:
        raise BinnInputError(path, f"cavity {cavity.shape} does not match mask {mask.shape}")
    if not np.any(mask):
        raise BinnInputError(path, "ED myocardium mask is empty")
    return CaseRecord(
        name=case,
        disp=disp.astype(np.float32),
        mask=mask.astype(bool),
        cavity=None if cavity is None else cavity.astype(bool),
        path=path,
        spacing_mm=_spacing_mm(path, rec.get("spacing")),
    )


def _spacing_mm(path: Path, spacing: np.ndarray | None) -> float:
    """The isotropic in-plane spacing (mm) of a record's ``spacing (2,)`` array."""
    if spacing is None:
        raise BinnInputError(path, "no pixel 'spacing' (2,) mm in the record")
    spacing = np.asarray(spacing, dtype=np.float64).ravel()
    if spacing.shape != (2,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise BinnInputError(path, f"spacing must be 2 positive values in mm, got {spacing}")
    if not np.isclose(spacing[0], spacing[1], rtol=1e-4, atol=0):
        raise BinnInputError(path, f"anisotropic pixel spacing {spacing.tolist()} mm")
    return float(spacing[0])


def records_spacing_mm(records: Sequence[CaseRecord]) -> float:
    """The one pixel spacing (mm) of ``records``; mixed spacings raise, naming a file.

    A prior is learnt on one physical grid: its checkpoint records this value
    (``spacing_mm``) so that images on another grid can be refused downstream.
    """
    if not records:
        raise BinnInputError(None, "no records: no pixel spacing")
    ref = records[0]
    for rec in records[1:]:
        if not np.isclose(rec.spacing_mm, ref.spacing_mm, rtol=1e-4, atol=0):
            raise BinnInputError(
                rec.path,
                f"pixel spacing {rec.spacing_mm} mm differs from {ref.spacing_mm} mm of"
                f" {ref.path}: train one prior per grid (resample the cases)",
            )
    return ref.spacing_mm


def read_records(paths: Sequence[str | Path]) -> tuple[list[CaseRecord], list[tuple[str, str]]]:
    """Read many records: usable ones, and ``(case, reason)`` of the failed ones (skipped).

    The usable records must share one pixel spacing (:func:`records_spacing_mm`).
    """
    usable: list[CaseRecord] = []
    failed: list[tuple[str, str]] = []
    for path in paths:
        rec = read_record(path)
        if isinstance(rec, CaseRecord):
            usable.append(rec)
        else:
            log.warning("skipping failed case %s: %s", *rec)
            failed.append(rec)
    names = [r.name for r in usable]
    if len(set(names)) != len(names):
        raise BinnInputError(None, "duplicate case names among the records")
    if usable:
        records_spacing_mm(usable)
    return usable, failed


def split_by_case(
    names: Sequence[str], val_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split case names into (train, val), at least one in each, reproducibly from ``seed``."""
    if len(names) < 2:
        raise BinnInputError(
            None, f"need at least 2 usable cases for a train/val split, got {len(names)}"
        )
    if not 0.0 < val_fraction < 1.0:
        raise BinnInputError(None, f"val fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(sorted(names))
    n_val = min(len(names) - 1, max(1, round(val_fraction * len(names))))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def case_window(rec: CaseRecord, size: int, dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop one case: ``(T, 2, S, S)`` float32 px fields and ``(S, S)`` float32 dilated mask."""
    centre = lv_centre(rec.mask, rec.cavity)
    fields = crop_window(torch.from_numpy(rec.disp), centre, size)
    mask = dilate_mask(torch.from_numpy(rec.mask), dilation)
    return fields.contiguous(), crop_window(mask, centre, size).contiguous()


def build_windows(
    records: Sequence[CaseRecord], size: int, dilation: int, frames_per_case: int | None = None
) -> WindowSet:
    """All (or ``frames_per_case`` evenly spaced) frames of ``records`` as a :class:`WindowSet`."""
    fields, index, masks = [], [], []
    for i, rec in enumerate(records):
        f, m = case_window(rec, size, dilation)
        if frames_per_case is not None and frames_per_case < f.shape[0]:
            keep = np.unique(np.linspace(0, f.shape[0] - 1, frames_per_case).round().astype(int))
            f = f[keep]
        fields.append(f)
        index.append(torch.full((f.shape[0],), i, dtype=torch.int64))
        masks.append(m)
    if not fields:
        raise BinnInputError(None, "no cases to build windows from")
    return WindowSet(
        fields=torch.cat(fields),
        case_index=torch.cat(index),
        masks=torch.stack(masks),
        cases=tuple(r.name for r in records),
    )
