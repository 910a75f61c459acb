"""An outside simulated field (e.g. the authors' own sample) on the prior's grid, and where
its R_VAE falls among held-out simulations.

The reference is a displacement ``(T, 2, H, W)`` px and its myocardium mask ``(H, W)``
stored as ``.npy`` files on a grid of ``spacing_mm``. It is resampled in-plane to the
prior's grid (SimpleITK, :func:`binn.resample.resample_inplane`: the field linearly and its
pixel values rescaled by ``spacing_mm / grid_mm``, the mask label-linearly), so R_VAE scores
the same anatomy in mm that the prior learnt from. Its frames from the same part of the
cycle as :func:`learn.evaluate.separation` uses are scored beside those of held-out cases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from binn.errors import BinnInputError
from binn.learn.dataset import CaseRecord
from binn.learn.evaluate import first_scored_frame, score_gradients
from binn.learn.gradients import displacement_gradient
from binn.learn.model import MotionVAE2D
from binn.resample import resample_inplane


def load_reference(
    disp_path: Path, mask_path: Path, spacing_mm: float, grid_mm: float
) -> CaseRecord:
    """The field of ``disp_path`` (``(T, 2, H, W)`` px at ``spacing_mm``) and the mask of
    ``mask_path`` (``(H, W)``, nonzero = myocardium) resampled to ``grid_mm`` pixels.

    Raises :class:`BinnInputError` naming the file for unreadable arrays, wrong shapes,
    NaN/Inf, an empty mask or a mask that does not match the field.
    """
    disp = _load(disp_path, 4)
    mask = _load(mask_path, 2)
    if disp.shape[1] != 2 or disp.shape[2:] != mask.shape:
        raise BinnInputError(
            disp_path, f"field {disp.shape} is not (T, 2, H, W) on the mask's {mask.shape} grid"
        )
    if not np.all(np.isfinite(disp)):
        raise BinnInputError(disp_path, "field contains NaN or Inf")
    if not np.any(mask):
        raise BinnInputError(mask_path, "mask is empty")
    spacing = np.array([spacing_mm, spacing_mm])
    field, _ = resample_inplane(disp, spacing, grid_mm, source=disp_path)
    myo, _ = resample_inplane((mask != 0).astype(np.uint8), spacing, grid_mm, labels=True)
    if not np.any(myo):
        raise BinnInputError(mask_path, f"mask vanishes on the {grid_mm} mm grid")
    scale = spacing_mm / grid_mm  # a displacement of 1 source px is `scale` grid px
    return CaseRecord(
        name=Path(disp_path).stem,
        disp=(field * scale).astype(np.float32),
        mask=myo.astype(bool),
        cavity=None,
        path=Path(disp_path),
        spacing_mm=float(grid_mm),
    )


def _load(path: Path, ndim: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BinnInputError(path, f"not a readable .npy array ({exc})") from exc
    if array.ndim != ndim:
        raise BinnInputError(path, f"expected {ndim} dimensions, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class ReferencePlacement:
    """R_VAE of the reference's frames among the held-out simulated frames.

    ``percentiles``: of each scored reference frame within the held-out scores (0-100);
    ``held_out_p50`` / ``held_out_p95``: of the held-out scores; ``inside_95th``: the
    reference's median score is at most the held-out 95th percentile.
    """

    reference_scores: list[float]
    percentiles: list[float]
    reference_median: float
    held_out_p50: float
    held_out_p95: float
    inside_95th: bool
    n_held_out_frames: int
    max_abs_disp_px: float
    gradient_energy_ratio: float

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def place_reference(
    vae: MotionVAE2D,
    reference: CaseRecord,
    held_out: Sequence[CaseRecord],
    min_frame_fraction: float = 0.5,
) -> ReferencePlacement:
    """Score the reference's frames from ``min_frame_fraction`` of its cycle on, and the same
    frames of every held-out case, with R_VAE; place the former among the latter.

    ``gradient_energy_ratio``: the reference's median control score ``||grad u * M||^2``
    over the held-out median (how much more the reference moves, at the same mm scale).
    """

    def frames(rec: CaseRecord) -> np.ndarray:
        return rec.disp[first_scored_frame(rec, min_frame_fraction) :]

    def scored(rec: CaseRecord) -> tuple[np.ndarray, np.ndarray]:
        return score_gradients(vae, displacement_gradient(frames(rec)), rec.mask)

    if not held_out:
        raise BinnInputError(None, "placing a reference needs at least one held-out case")
    ours, control = scored(reference)
    pairs = [scored(rec) for rec in held_out]
    others = np.concatenate([s for s, _ in pairs])
    other_control = np.concatenate([c for _, c in pairs])
    p95 = float(np.percentile(others, 95))
    median = float(np.median(ours))
    return ReferencePlacement(
        reference_scores=[float(s) for s in ours],
        percentiles=[float(100.0 * np.mean(others < s)) for s in ours],
        reference_median=median,
        held_out_p50=float(np.median(others)),
        held_out_p95=p95,
        inside_95th=median <= p95,
        n_held_out_frames=int(others.size),
        max_abs_disp_px=float(np.abs(frames(reference)).max()),
        gradient_energy_ratio=float(np.median(control) / max(np.median(other_control), 1e-30)),
    )
