"""Closed endo-/epicardial curves of a ring mask: contours, Fourier smoothing, resampling.

Coordinates are ``(row, col)`` in **mm** (pixel index times pixel spacing), the frame the
mesh and the FE solution live in; pixel centres sit at integer indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import measure

from binn.errors import BinnInputError


@dataclass(frozen=True)
class RingCurves:
    """Endo- and epicardial closed curves, ``(n, 2)`` float64 mm, counter-clockwise, no repeat."""

    endo: np.ndarray
    epi: np.ndarray


def polygon_area(points: np.ndarray) -> float:
    """Signed shoelace area of a closed polygon ``(n, 2)`` (positive when counter-clockwise)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def fourier_resample(points: np.ndarray, n_out: int, n_harmonics: int) -> np.ndarray:
    """Smooth a closed curve by a truncated Fourier series in arc length; sample ``n_out`` points.

    ``points``: ``(n, 2)`` closed curve (no repeated end point). Returns ``(n_out, 2)``,
    counter-clockwise, equally spaced in the parameter of the smoothed curve.
    """
    closed = np.vstack([points, points[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n_fit = max(256, 4 * n_harmonics)
    t = np.linspace(0.0, s[-1], n_fit, endpoint=False)
    even = np.stack([np.interp(t, s, closed[:, k]) for k in range(2)], axis=1)
    coeffs = np.fft.rfft(even, axis=0)
    coeffs[n_harmonics + 1 :] = 0.0
    dense = np.fft.irfft(coeffs, n=n_fit, axis=0)
    # Re-parametrise the smooth curve by arc length, then sample it evenly.
    closed_dense = np.vstack([dense, dense[:1]])
    seg = np.linalg.norm(np.diff(closed_dense, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], n_out, endpoint=False)
    out = np.stack([np.interp(t, s, closed_dense[:, k]) for k in range(2)], axis=1)
    return out if polygon_area(out) > 0 else out[::-1].copy()


def curve_point_count(points: np.ndarray, mesh_size: float, minimum: int = 16) -> int:
    """Even number of points that resamples the closed curve at about ``mesh_size`` (mm)."""
    closed = np.vstack([points, points[:1]])
    perimeter = float(np.linalg.norm(np.diff(closed, axis=0), axis=1).sum())
    n = max(minimum, round(perimeter / mesh_size))
    return n + (n % 2)


def _largest_closed_contour(mask: np.ndarray, source: str, what: str) -> np.ndarray:
    """Longest closed iso-0.5 contour of a lightly smoothed binary mask, ``(n, 2)`` px."""
    smooth = ndimage.gaussian_filter(np.pad(mask.astype(np.float64), 2), sigma=0.7)
    contours = [c - 2.0 for c in measure.find_contours(smooth, 0.5)]
    closed = [c[:-1] for c in contours if len(c) > 8 and np.allclose(c[0], c[-1])]
    if not closed:
        raise BinnInputError(source, f"no closed {what} contour")
    return max(closed, key=len)


def ring_curves(
    cavity: np.ndarray,
    myocardium: np.ndarray,
    spacing: np.ndarray,
    mesh_size: float,
    source: str,
    n_harmonics: int = 10,
    endo_refinement: float = 0.5,
) -> RingCurves:
    """Smoothed endo/epi curves (mm) of a ring given cavity and myocardium masks ``(H, W)``.

    The endocardium is the boundary of the cavity, the epicardium the outer boundary of
    cavity + myocardium. The epicardium is resampled at about ``mesh_size`` mm, the
    endocardium (where the strains and the incompressibility error concentrate) at
    ``endo_refinement * mesh_size``; both with an even number of points (so that a pure-quad
    mesh exists).
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    endo_px = _largest_closed_contour(cavity > 0, source, "endocardial")
    epi_px = _largest_closed_contour((cavity > 0) | (myocardium > 0), source, "epicardial")
    endo_mm, epi_mm = endo_px * spacing, epi_px * spacing
    n_endo = curve_point_count(endo_mm, endo_refinement * mesh_size)
    endo = fourier_resample(endo_mm, n_endo, n_harmonics)
    epi = fourier_resample(epi_mm, curve_point_count(epi_mm, mesh_size), n_harmonics)
    check_nested(endo, epi, source)
    return RingCurves(endo=endo, epi=epi)


def check_nested(endo: np.ndarray, epi: np.ndarray, source: str) -> None:
    """Raise unless the endocardium lies strictly inside the epicardium with a positive gap."""
    from matplotlib.path import Path as MplPath

    if not np.all(MplPath(epi).contains_points(endo)):
        raise BinnInputError(source, "endocardium is not inside the epicardium (not a ring)")
    gap = np.min(np.linalg.norm(endo[:, None, :] - epi[None, :, :], axis=2))
    if gap < 0.5:
        raise BinnInputError(source, f"myocardial wall too thin after smoothing ({gap:.2f} mm)")


def cavity_area_mm2(cavity: np.ndarray, spacing: np.ndarray, source: str) -> float:
    """Area (mm^2) of the smoothed cavity contour: the same measure the FE mesh starts from."""
    px = _largest_closed_contour(cavity > 0, source, "endocardial")
    mm = px * np.asarray(spacing, dtype=np.float64)
    return abs(polygon_area(fourier_resample(mm, curve_point_count(mm, 0.5), 10)))
