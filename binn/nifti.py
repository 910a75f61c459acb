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
    ``affine``: the file's 4x4 voxel-to-world matrix (for checking that grids match);
    ``frame_time_ms``: the time between frames of a 4D file (header ``pixdim[4]`` in its
    time unit), None for 3D files or a header without it.
    """

    data: np.ndarray
    spacing: np.ndarray
    affine: np.ndarray
    path: Path
    frame_time_ms: float | None = None


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
        frame_time_ms=_frame_time_ms(img.header) if raw.ndim == 4 else None,
    )


_TIME_TO_MS = {"sec": 1000.0, "msec": 1.0, "usec": 1e-3}


def _frame_time_ms(header: nib.Nifti1Header) -> float | None:
    """The frame interval of a 4D header in ms (``pixdim[4]`` in its ``xyzt_units`` time
    unit; seconds, milliseconds or microseconds), None when absent, zero or of another unit.

    A header that names no time unit (``unknown``) is read as milliseconds when the value
    is a plausible cardiac frame interval (5-200), as scanners write it, else None."""
    try:
        value = float(header.get_zooms()[3])
        unit = header.get_xyzt_units()[1]
    except (IndexError, AttributeError, ValueError):
        return None
    if not np.isfinite(value) or value <= 0.0:
        return None
    if unit in _TIME_TO_MS:
        return value * _TIME_TO_MS[unit]
    if unit == "unknown" and 5.0 <= value <= 200.0:
        return value
    return None


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
    with atomic_path(path, suffix=_nifti_suffix(path)) as tmp:
        nib.save(img, str(tmp))


def _nifti_suffix(path: str | Path) -> str:
    """The temporary file's suffix, which tells nibabel whether to compress."""
    return ".nii.gz" if str(path).endswith(".gz") else ".nii"


DISPLACEMENT_INTENT = 1006
"""NIfTI intent ``NIFTI_INTENT_DISPVECT``: ITK (ITK-SNAP, 3D Slicer) reads such vectors as
world RAS+ mm and turns them into its LPS frame itself."""


def save_displacement(
    path: str | Path,
    disp: np.ndarray,
    affine: np.ndarray,
    frame_time_ms: float | None = None,
    description: str = "",
) -> None:
    """Write a displacement ``(X, Y, Z, T, 3)`` mm (world RAS+ components) as a 5D NIfTI.

    ``affine``: the voxel -> world matrix of the image it belongs to (its original file's),
    so viewers show it in place; the header says ``displacement vector`` (intent 1006), mm,
    and the frame interval (``frame_time_ms``, ms; 1 with unit unknown when None).
    ``description`` goes into the header's 80-character ``descrip``. Written atomically.
    """
    from binn.io import atomic_path

    name = Path(path).name
    if not name.endswith((".nii", ".nii.gz")):
        raise BinnInputError(path, "a NIfTI file name ends with .nii.gz or .nii")
    disp = np.asarray(disp, dtype=np.float32)
    if disp.ndim != 5 or disp.shape[-1] != 3:
        raise BinnInputError(path, f"displacement must be (X, Y, Z, T, 3), got {disp.shape}")
    img = nib.Nifti1Image(disp, np.asarray(affine, dtype=np.float64))
    header = img.header
    header.set_intent(DISPLACEMENT_INTENT)
    zooms = list(header.get_zooms())
    zooms[3] = float(frame_time_ms) if frame_time_ms else 1.0
    header.set_zooms(tuple(zooms))
    header.set_xyzt_units("mm", "msec" if frame_time_ms else "unknown")
    header["descrip"] = description[:79].encode("ascii", "replace")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    with atomic_path(path, suffix=_nifti_suffix(path)) as tmp:
        nib.save(img, str(tmp))
