"""Motion-tracking metrics: overlap, contour distances, Jacobian determinant, strain, errors.

Conventions (``docs/DESIGN.md``): arrays are ``[row, col]``; a displacement field is
``(..., 2, H, W)`` in **pixels**, channel ``k`` along array axis ``k``; ``spacing`` is the
in-plane pixel spacing ``(2,)`` in mm (row, col). In the registration convention the field
``u_t`` lives on the ED grid and ``x -> x + u_t(x)`` maps ED to frame ``t``, so
``F = I + grad u_t`` is the deformation gradient from ED (reference) to frame ``t`` and
``E = (F^T F - I) / 2`` is the Lagrangian (Green) strain with ED as reference.

Every spatial derivative goes through :func:`binn.learn.gradients.displacement_gradient`, the one
gradient operator of binn. A metric over an empty mask is NaN (missing), never 0.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from skimage import measure

from binn.errors import BinnInputError
from binn.learn.gradients import displacement_gradient

CONTOUR_STEP_PX = 0.1


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap ``2 |a & b| / (|a| + |b|)`` of two masks of equal shape.

    NaN when both masks are empty; 0 when exactly one is.
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise BinnInputError(None, f"dice: mask shapes differ: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return float("nan")
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def _contour_points_mm(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Points ``(N, 2)`` in mm sampled every ``CONTOUR_STEP_PX`` along all contours of ``mask``.

    Contours are the 0.5 iso-lines of the (zero-padded) binary mask, so a ring has an inner
    and an outer contour and a mask touching the border is closed along the border.
    """
    padded = np.pad(mask.astype(np.float64), 1)
    points = []
    for contour in measure.find_contours(padded, 0.5):
        contour = contour - 1.0
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(contour, axis=0).T))])
        n = max(int(np.ceil(arc[-1] / CONTOUR_STEP_PX)), 1) + 1
        s = np.linspace(0.0, arc[-1], n)
        points.append(
            np.stack([np.interp(s, arc, contour[:, 0]), np.interp(s, arc, contour[:, 1])], 1)
        )
    return np.concatenate(points) * spacing


def contour_distances(
    a: np.ndarray, b: np.ndarray, spacing: tuple[float, float] | np.ndarray
) -> tuple[float, float]:
    """Symmetric mean contour distance and Hausdorff distance between two masks, in mm.

    ``a``, ``b``: ``(H, W)`` masks; ``spacing``: ``(2,)`` mm (row, col). The contours (all
    boundaries, so both the endo- and epicardial border of a ring) are sampled densely; for
    each point the distance to the nearest point of the other mask's contours is taken.
    MCD is the mean of the two directed mean distances, HD the largest directed distance.
    Returns ``(nan, nan)`` when either mask is empty.
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 2:
        raise BinnInputError(
            None, f"contour_distances: need two (H, W) masks, got {a.shape}, {b.shape}"
        )
    if not a.any() or not b.any():
        return float("nan"), float("nan")
    sp = np.asarray(spacing, dtype=np.float64)
    pa, pb = _contour_points_mm(a, sp), _contour_points_mm(b, sp)
    d_ab = cKDTree(pb).query(pa)[0]
    d_ba = cKDTree(pa).query(pb)[0]
    mcd = 0.5 * (float(d_ab.mean()) + float(d_ba.mean()))
    hd = max(float(d_ab.max()), float(d_ba.max()))
    return mcd, hd


def _check_field(disp: np.ndarray) -> np.ndarray:
    disp = np.asarray(disp)
    if disp.ndim < 3 or disp.shape[-3] != 2:
        raise BinnInputError(None, f"displacement must be (..., 2, H, W), got {disp.shape}")
    return disp.astype(np.float64, copy=False)


def deformation_gradient(
    disp: np.ndarray, spacing: tuple[float, float] | np.ndarray = (1.0, 1.0)
) -> np.ndarray:
    """Deformation gradient ``F = I + grad u`` per pixel in physical units.

    ``disp``: ``(..., 2, H, W)`` px; ``spacing``: ``(2,)`` mm. Returns ``(..., 2, 2, H, W)``
    float64 (dimensionless), ``F[..., k, l, :, :] = delta_kl + (s_k / s_l) du_k/dx_l`` with
    the pixel gradient from :func:`binn.learn.gradients.displacement_gradient` (for isotropic
    spacing this is the pixel gradient itself).
    """
    disp = _check_field(disp)
    grad = displacement_gradient(disp)
    grad = grad.reshape(*grad.shape[:-3], 2, 2, *grad.shape[-2:])
    s = np.asarray(spacing, dtype=np.float64)
    scale = (s[:, None] / s[None, :])[:, :, None, None]
    return np.eye(2)[:, :, None, None] + grad * scale


def jacobian_determinant(disp: np.ndarray) -> np.ndarray:
    """Jacobian determinant ``det(I + grad u)`` per pixel.

    ``disp``: ``(..., 2, H, W)`` px. Returns ``(..., H, W)`` float64 (the local area ratio
    of frame t to ED; <= 0 is a fold). Independent of the pixel spacing.
    """
    f = deformation_gradient(disp)
    return f[..., 0, 0, :, :] * f[..., 1, 1, :, :] - f[..., 0, 1, :, :] * f[..., 1, 0, :, :]


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Mean of ``values (..., H, W)`` over ``mask (H, W)`` -> ``(...)``; NaN for an empty mask."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != values.shape[-2:]:
        raise BinnInputError(
            None, f"mask {mask.shape} does not match field grid {values.shape[-2:]}"
        )
    if not mask.any():
        out = np.full(values.shape[:-2], np.nan)
    else:
        out = values[..., mask].mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def mean_abs_det_j_minus_1(disp: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Mean ``|det J - 1|`` over ``mask`` (the ED myocardium, the grid of ``disp``).

    ``disp``: ``(..., 2, H, W)`` px, ``mask``: ``(H, W)``. Returns ``(...)`` (a float for one
    field); NaN when the mask is empty. 0 means perfect area preservation.
    """
    return _masked_mean(np.abs(jacobian_determinant(disp) - 1.0), mask)


def fold_fraction(disp: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Fraction of ``mask`` pixels with ``det J <= 0`` (folds), in [0, 1]; NaN if mask empty."""
    return _masked_mean((jacobian_determinant(disp) <= 0.0).astype(np.float64), mask)


def mean_det_j(disp: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Mean ``det J`` over ``mask``: the area of the deformed myocardium over its ED area."""
    return _masked_mean(jacobian_determinant(disp), mask)


def area_change(disp: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Relative myocardial area change from ED to the field's frame, as a signed fraction.

    The deformed area of the ED myocardium ``mask`` is ``sum_mask det J`` (pixels), so the
    change is ``mean_mask(det J) - 1`` (0: area preserved; -0.1: 10 % smaller than at ED).
    ``disp``: ``(..., 2, H, W)`` px, ``mask``: ``(H, W)``; returns ``(...)``, NaN if empty.
    """
    return _masked_mean(jacobian_determinant(disp) - 1.0, mask)


def centroid(mask: np.ndarray) -> np.ndarray:
    """Centroid ``(2,)`` (row, col) in pixels of a ``(H, W)`` mask; NaN when empty."""
    idx = np.argwhere(np.asarray(mask, dtype=bool))
    if idx.size == 0:
        return np.full(2, np.nan)
    return idx.mean(axis=0)


def lagrangian_strain(
    disp: np.ndarray, spacing: tuple[float, float] | np.ndarray = (1.0, 1.0)
) -> np.ndarray:
    """Green-Lagrange strain ``E = (F^T F - I) / 2`` per pixel, ED reference.

    ``disp``: ``(..., 2, H, W)`` px; returns ``(..., 2, 2, H, W)`` float64 (dimensionless),
    components in array axes (row, col), physical units through ``spacing`` (mm).
    """
    f = deformation_gradient(disp, spacing)
    ftf = np.einsum("...kiyx,...kjyx->...ijyx", f, f)
    return 0.5 * (ftf - np.eye(2)[:, :, None, None])


def radial_circumferential_strain(
    disp: np.ndarray,
    mask: np.ndarray,
    centre: tuple[float, float] | np.ndarray,
    spacing: tuple[float, float] | np.ndarray = (1.0, 1.0),
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Mean radial and circumferential Lagrangian strain over ``mask``.

    ``disp``: ``(..., 2, H, W)`` px on the ED grid; ``mask``: ``(H, W)`` ED myocardium;
    ``centre``: ``(2,)`` px (row, col), the ED LV cavity centroid; ``spacing``: ``(2,)`` mm.
    At each pixel the radial direction ``r`` points from ``centre`` to the pixel (in mm) and
    the circumferential one is ``r`` turned by 90 degrees; ``E_rr = r^T E r``,
    ``E_cc = c^T E c``. Returns ``(err, ecc)``, each ``(...)`` (floats for one field),
    dimensionless (x100 for %); NaN when the mask is empty or the centre is NaN. A pixel at
    the centre itself has no radial direction and is left out.
    """
    mask = np.asarray(mask, dtype=bool)
    err, ecc, has_direction = radial_circumferential_strain_maps(disp, centre, spacing)
    valid = mask & has_direction
    return _masked_mean(err, valid), _masked_mean(ecc, valid)


def radial_circumferential_strain_maps(
    disp: np.ndarray,
    centre: tuple[float, float] | np.ndarray,
    spacing: tuple[float, float] | np.ndarray = (1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel radial and circumferential Lagrangian strain (the maps behind
    :func:`radial_circumferential_strain`).

    ``disp``: ``(..., 2, H, W)`` px on the ED grid; ``centre``: ``(2,)`` px (row, col);
    ``spacing``: ``(2,)`` mm. Returns ``(err, ecc, has_direction)``: ``err``, ``ecc``
    ``(..., H, W)`` float64 (dimensionless), ``E_rr = r^T E r`` and ``E_cc = c^T E c`` with
    ``r`` the unit vector (in mm) from ``centre`` to the pixel and ``c`` it turned by 90
    degrees; ``has_direction`` ``(H, W)`` bool, False at the centre pixel itself and
    everywhere when the centre is NaN (values there are meaningless).
    """
    centre = np.asarray(centre, dtype=np.float64)
    e = lagrangian_strain(disp, spacing)
    sp = np.asarray(spacing, dtype=np.float64)
    h, w = e.shape[-2:]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    r = np.stack([(rows - centre[0]) * sp[0], (cols - centre[1]) * sp[1]])  # (2, H, W) mm
    norm = np.hypot(r[0], r[1])
    has_direction = norm > 0
    if np.isnan(centre).any():
        has_direction = np.zeros((h, w), dtype=bool)
    r = r / np.where(norm > 0, norm, 1.0)
    c = np.stack([-r[1], r[0]])
    err = np.einsum("iyx,...ijyx,jyx->...yx", r, e, r)
    ecc = np.einsum("iyx,...ijyx,jyx->...yx", c, e, c)
    return err, ecc, has_direction


def end_point_error_mm(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float] | np.ndarray,
) -> float | np.ndarray:
    """Mean end-point error in mm over ``mask``.

    ``pred``, ``gt``: ``(..., 2, H, W)`` px, same shape; ``mask``: ``(H, W)``; ``spacing``:
    ``(2,)`` mm. Per pixel ``|| (pred - gt) * spacing ||``; returns ``(...)``, NaN if empty.
    """
    pred, gt = _check_field(pred), _check_field(gt)
    if pred.shape != gt.shape:
        raise BinnInputError(None, f"end_point_error_mm: shapes differ: {pred.shape} vs {gt.shape}")
    s = np.asarray(spacing, dtype=np.float64)[:, None, None]
    err = np.sqrt((((pred - gt) * s) ** 2).sum(axis=-3))
    return _masked_mean(err, mask)
