"""Reading NIfTI files at the edge of the pipeline, into the `[z, y, x]` array convention.

nibabel returns arrays indexed ``(x, y, z[, t])``; binn works with ``[z, y, x]`` (and
``[t, z, y, x]`` for cine). This module is the only place where that reordering happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from binn.errors import BinnInputError

MIN_SPACING_MM = 0.05
MAX_SPACING_MM = 50.0


@dataclass(frozen=True)
class Volume:
    """An image or label volume in binn's convention.

    ``data``: ``(Z, H, W)`` or ``(T, Z, H, W)``; ``spacing``: ``(3,)`` mm as ``(z, y, x)``;
    ``affine``: the file's 4x4 voxel-to-world matrix (for checking that grids match).
    """

    data: np.ndarray
    spacing: np.ndarray
    affine: np.ndarray
    path: Path


def load_volume(path: str | Path, *, dims: tuple[int, ...] = (3,)) -> Volume:
    """Load a 3D NIfTI file as ``[z, y, x]`` (4D as ``[t, z, y, x]`` with ``dims=(4,)``).

    Raises :class:`BinnInputError` naming the file when it cannot be read, has a rank not in
    ``dims``, or has an absurd voxel spacing (outside 0.05-50 mm).
    """
    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "file does not exist")
    try:
        img = nib.load(str(path))
        raw = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise BinnInputError(path, f"not a readable NIfTI file ({exc})") from exc
    if raw.ndim not in dims:
        raise BinnInputError(path, f"has {raw.ndim} dimensions {raw.shape}, expected {dims}")
    zooms = np.asarray(img.header.get_zooms()[:3], dtype=np.float64)
    if raw.ndim == 2 or zooms.size < 3:
        raise BinnInputError(path, "is 2D; a short-axis stack (x, y, z) is needed")
    if not np.all((zooms >= MIN_SPACING_MM) & (zooms <= MAX_SPACING_MM)):
        raise BinnInputError(path, f"absurd voxel spacing {tuple(zooms)} mm")
    data = np.transpose(raw, (2, 1, 0)) if raw.ndim == 3 else np.transpose(raw, (3, 2, 1, 0))
    return Volume(
        data=np.ascontiguousarray(data),
        spacing=zooms[::-1].copy(),
        affine=np.asarray(img.affine),
        path=path,
    )


def load_label_map(path: str | Path) -> Volume:
    """Load a 3D integer label map; raise if the file holds non-integer or negative values."""
    vol = load_volume(path, dims=(3,))
    data = vol.data
    if np.issubdtype(data.dtype, np.floating):
        if not np.all(np.isfinite(data)) or not np.all(data == np.round(data)):
            raise BinnInputError(path, "is not a label map (non-integer values)")
    if data.size and data.min() < 0:
        raise BinnInputError(path, "is not a label map (negative values)")
    if np.unique(data).size > 64:
        raise BinnInputError(path, f"is not a label map ({np.unique(data).size} distinct values)")
    return Volume(data.astype(np.uint8), vol.spacing, vol.affine, vol.path)


def save_volume(path: str | Path, data: np.ndarray, spacing: np.ndarray) -> None:
    """Write a ``[z, y, x]`` array as NIfTI with diagonal affine ``diag(sx, sy, sz)`` (atomic)."""
    from binn.io import atomic_path

    spacing = np.asarray(spacing, dtype=np.float64)
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    img = nib.Nifti1Image(np.transpose(np.asarray(data), (2, 1, 0)), affine)
    img.header.set_zooms(tuple(spacing[::-1]))
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(img, str(tmp))
