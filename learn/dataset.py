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
from learn.masks import crop_window, dilate_mask, lv_centre

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseRecord:
    """One usable simulation record: ``disp (T, 2, H, W)`` float32 px, masks ``(H, W)`` bool."""

    name: str
    disp: np.ndarray
    mask: np.ndarray
    cavity: np.ndarray | None
    path: Path


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
    do not match the field grid or an empty myocardium mask.
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
    )


def read_records(paths: Sequence[str | Path]) -> tuple[list[CaseRecord], list[tuple[str, str]]]:
    """Read many records: usable ones, and ``(case, reason)`` of the failed ones (skipped)."""
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
