"""In-plane resampling onto binn's physical grid (square pixels of a given spacing, mm).

One function for every stage that takes real images or label maps: the cine loaders
(``register.data``), the NIfTI rings of the simulations (``simulate.masks``). The last two
axes ``(H, W)`` are resampled; all leading axes (slices, frames) are kept as they are.

Geometry: pixel ``i`` of an axis of spacing ``s`` sits at ``i * s`` mm (pixel centres at
integer indices, as everywhere in binn). The resampled axis keeps the field of view
``n * s`` (its length becomes ``round(n * s / target)``) and its centre: output pixel ``j``
sits at ``origin + j * target`` mm with ``origin = ((n - 1) * s - (m - 1) * target) / 2``.
Images are interpolated linearly, label maps with SimpleITK's label-linear interpolator
(each label's indicator interpolated linearly, the largest wins), which never creates a
label value that is not in the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from binn.errors import BinnInputError

DEFAULT_SPACING_MM = 2.0
"""In-plane spacing (mm) of the embedded default grid (``config/config.yaml`` ``grid``)."""
DEFAULT_SIZE_PX = 64
"""Crop / image size (px) of the embedded default grid: 128 mm, every ACDC dev LV fits."""
SPACING_RTOL = 1e-3
"""Spacings within this relative tolerance of the target are left as they are (no resampling)."""


@dataclass(frozen=True)
class InPlaneGrid:
    """Where a resampled grid sits in its source grid.

    ``shape (2,)`` px (H, W) of the output; ``origin_mm (2,)``: position (row, col) of the
    output's first pixel centre in the source's mm frame (source pixel ``i`` at ``i * s``);
    ``spacing_mm (2,)``: output spacing (row, col); ``source_spacing_mm (2,)``.
    """

    shape: tuple[int, int]
    origin_mm: np.ndarray
    spacing_mm: np.ndarray
    source_spacing_mm: np.ndarray

    @property
    def identity(self) -> bool:
        """True when the output grid is the source grid (nothing is interpolated)."""
        return bool(
            np.allclose(self.spacing_mm, self.source_spacing_mm, rtol=0.0, atol=0.0)
            and np.all(self.origin_mm == 0.0)
        )


def same_spacing(a: float | np.ndarray, b: float | np.ndarray) -> bool:
    """True when two in-plane spacings (mm; scalars or ``(2,)``) agree within
    :data:`binn.resample.SPACING_RTOL`."""
    a = np.broadcast_to(np.asarray(a, dtype=np.float64), (2,))
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), (2,))
    return bool(np.all(np.abs(a - b) <= SPACING_RTOL * np.maximum(np.abs(a), np.abs(b))))


def describe_spacing(spacing: float | np.ndarray) -> str:
    """An in-plane spacing as text: ``2 mm`` (square pixels) or ``1.37 x 1.5 mm``."""
    v = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (2,))
    if np.isclose(v[0], v[1], rtol=SPACING_RTOL, atol=0.0):
        return f"{v[0]:.4g} mm"
    return f"{v[0]:.4g} x {v[1]:.4g} mm"


def target_grid(
    shape: tuple[int, int], spacing_yx: np.ndarray, target_mm: float, source: object = None
) -> InPlaneGrid:
    """The grid of square ``target_mm`` pixels covering a ``shape`` grid of ``spacing_yx`` mm.

    Axes already within :data:`SPACING_RTOL` of the target are kept exactly (same size,
    same spacing). Raises :class:`BinnInputError` naming ``source`` for a non-positive
    target or a grid that would shrink below 2 px.
    """
    spacing = np.asarray(spacing_yx, dtype=np.float64).reshape(2)
    if not np.isfinite(target_mm) or target_mm <= 0.0:
        raise BinnInputError(source, f"target in-plane spacing {target_mm} mm is not positive")
    out_shape, origin, out_spacing = [], [], []
    for n, s in zip(shape, spacing, strict=True):
        if abs(s - target_mm) <= SPACING_RTOL * target_mm:
            out_shape.append(int(n))
            origin.append(0.0)
            out_spacing.append(float(s))
            continue
        m = round(n * s / target_mm)
        if m < 2:
            raise BinnInputError(
                source, f"{n} px of {s:.4g} mm give fewer than 2 px at {target_mm} mm"
            )
        out_shape.append(m)
        origin.append(((n - 1) * s - (m - 1) * target_mm) / 2.0)
        out_spacing.append(float(target_mm))
    return InPlaneGrid(
        shape=(out_shape[0], out_shape[1]),
        origin_mm=np.array(origin),
        spacing_mm=np.array(out_spacing),
        source_spacing_mm=spacing,
    )


def resample_inplane(
    data: np.ndarray,
    spacing_yx: np.ndarray,
    target_mm: float,
    *,
    labels: bool = False,
    source: object = None,
) -> tuple[np.ndarray, InPlaneGrid]:
    """Resample the last two axes of ``data`` ``(..., H, W)`` to square ``target_mm`` pixels.

    ``spacing_yx``: ``(2,)`` mm (row, col) of ``data``. ``labels``: integer label map
    (label-linear interpolation, no new values, dtype kept) instead of an image (linear,
    returned as float64; a convex combination of the input, so [0, 1] stays [0, 1]).
    Returns the resampled array ``(..., H', W')`` and its :class:`InPlaneGrid`. When the
    spacing already equals the target, ``data`` is returned unchanged (a copy).
    """
    import SimpleITK as sitk

    data = np.asarray(data)
    if data.ndim < 2:
        raise BinnInputError(source, f"need an (..., H, W) array, got shape {data.shape}")
    h, w = data.shape[-2:]
    grid = target_grid((h, w), spacing_yx, target_mm, source)
    if grid.identity:
        return data.copy(), grid
    lead = data.shape[:-2]
    stack = data.reshape(-1, h, w)
    if labels:
        if not np.issubdtype(data.dtype, np.integer):
            raise BinnInputError(source, f"label map has non-integer dtype {data.dtype}")
        values = stack.astype(np.uint8) if data.max(initial=0) < 256 else stack.astype(np.int32)
        interpolator = sitk.sitkLabelLinear
    else:
        values = stack.astype(np.float64)
        interpolator = sitk.sitkLinear
    image = sitk.GetImageFromArray(values)  # array [k, y, x] -> image (x, y, k)
    sy, sx = grid.source_spacing_mm
    image.SetSpacing((float(sx), float(sy), 1.0))
    image.SetOrigin((0.0, 0.0, 0.0))
    flt = sitk.ResampleImageFilter()
    flt.SetOutputSpacing((float(grid.spacing_mm[1]), float(grid.spacing_mm[0]), 1.0))
    flt.SetOutputOrigin((float(grid.origin_mm[1]), float(grid.origin_mm[0]), 0.0))
    flt.SetOutputDirection(image.GetDirection())
    flt.SetSize((grid.shape[1], grid.shape[0], stack.shape[0]))
    flt.SetInterpolator(interpolator)
    flt.SetDefaultPixelValue(0)
    flt.SetOutputPixelType(image.GetPixelID())
    out = sitk.GetArrayFromImage(flt.Execute(image))
    out = out.reshape(*lead, *grid.shape)
    return (out.astype(data.dtype) if labels else out), grid


def resampled_affine(affine: np.ndarray, grid: InPlaneGrid) -> np.ndarray:
    """The NIfTI voxel-to-world ``(4, 4)`` matrix of the resampled grid.

    ``affine`` maps source voxel indices ``(x = col, y = row, z)`` to world mm; the result
    maps output indices, via ``source index = origin / s + (target / s) * output index``.
    """
    scale = grid.spacing_mm / grid.source_spacing_mm
    shift = grid.origin_mm / grid.source_spacing_mm
    m = np.eye(4)
    m[0, 0], m[1, 1] = scale[1], scale[0]
    m[0, 3], m[1, 3] = shift[1], shift[0]
    return np.asarray(affine, dtype=np.float64) @ m


def resample_displacement(
    disp: np.ndarray, spacing_yx: np.ndarray, target_mm: float, source: object = None
) -> tuple[np.ndarray, InPlaneGrid]:
    """A displacement field ``(..., 2, H, W)`` px (channel 0 rows, 1 columns) on
    ``spacing_yx`` mm pixels, resampled to square ``target_mm`` pixels and re-expressed in
    them: each component is interpolated linearly (:func:`resample_inplane`) and scaled by
    its axis's ``source spacing / target_mm``, so the motion in mm is unchanged. Returns the
    field ``(..., 2, H', W')`` float64 and its :class:`InPlaneGrid`."""
    disp = np.asarray(disp, dtype=np.float64)
    if disp.ndim < 3 or disp.shape[-3] != 2:
        raise BinnInputError(source, f"need a (..., 2, H, W) displacement, got {disp.shape}")
    out, grid = resample_inplane(disp, spacing_yx, target_mm, source=source)
    scale = grid.source_spacing_mm / grid.spacing_mm
    out[..., 0, :, :] *= scale[0]
    out[..., 1, :, :] *= scale[1]
    return out, grid
