"""Motion of the synthetic training cine: a simulated FEM case over a whole cycle, plus a
documented model for everything outside the left ventricle.

The left ventricle (myocardium and the cavity it encloses) moves exactly as ``binn
simulate`` computed it: the case's field ``disp (K, 2, H, W)`` px on its ED grid, frame 0 =
ED (end-diastolic pressure), frame K-1 = ES (no pressure), is played over a cycle by the
phantom's activation curve (:func:`binn.register.data.phantom.activation_curve`: 0 at ED,
1 at ES, rapid filling, diastasis, atrial kick), interpolated linearly between the
simulated frames. A rotation by any angle and a mirror image are applied to the whole case
first: the material is isotropic and the load a pressure, so a rotated or mirrored solution
is a solution of the same problem.

Outside the LV (:func:`outside_motion`), a model, not a simulation:
- the LV field decays with the distance ``d`` (mm) from the LV as ``exp(-(d / L)^2)``,
  ``L`` drawn in :data:`LV_DECAY_MM` (the pericardium and the tissue around it follow the
  heart near it and not far away);
- the right ventricle contracts towards its centroid by a fraction in
  :data:`RV_CONTRACTION` at ES, following the same activation;
- the rest moves by a smooth random field (three plane waves of wavelength 40-100 mm,
  amplitude up to :data:`BACKGROUND_MM` at ES), following the activation: the chest wall and
  the other organs move a little during a breath-held cine.

The three blend smoothly (weights from distances), so the field has no seam. Every field is
in the registration convention (``I_t(x + u_t(x)) = I_ED(x)``, px, on the ED grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.io import load_npz
from binn.register.data.phantom import activation_curve

LV_DECAY_MM = (8.0, 20.0)
"""Range of the decay length of the LV's motion outside it (mm)."""
RV_CONTRACTION = (0.05, 0.20)
"""Range of the RV's contraction towards its centroid at ES (fraction of the distance)."""
BACKGROUND_MM = 2.0
"""Largest amplitude of the smooth background motion at ES (mm)."""
INVERSE_ITERATIONS = 30
"""Fixed-point iterations of :func:`source_positions` (converges for |grad u| < 1)."""


class FailedSimulation(BinnInputError):
    """The case's simulation failed (its file records ``status`` ``failed``)."""


@dataclass(frozen=True)
class FemCase:
    """One simulated case: ``disp (K, 2, H, W)`` float32 px (frame 0 ED, K-1 ES, on the ED
    grid), ``myocardium (H, W)`` bool (the ED myocardium), ``spacing`` mm, ``name``."""

    name: str
    disp: np.ndarray
    myocardium: np.ndarray
    spacing: float


def load_fem_case(path: str | Path) -> FemCase:
    """Read a ``binn simulate`` output; refuse a failed case (:class:`FailedSimulation`) or a
    non-square spacing."""
    data = load_npz(path, required={"disp": 4, "mask": 2, "spacing": 1})
    status = str(data.get("status", "ok"))
    if status != "ok":
        raise FailedSimulation(path, f"the simulation of this case failed (status {status!r})")
    spacing = np.asarray(data["spacing"], dtype=np.float64)
    if spacing.shape != (2,) or not np.isclose(spacing[0], spacing[1]):
        raise BinnInputError(path, f"spacing {spacing.tolist()} mm is not square in-plane")
    disp = np.asarray(data["disp"], dtype=np.float32)
    if disp.shape[0] < 2 or disp.shape[1] != 2 or disp.shape[2:] != data["mask"].shape:
        raise BinnInputError(
            path, f"disp {disp.shape} and mask {data['mask'].shape} are not (K>=2, 2, H, W)/(H, W)"
        )
    myocardium = data["mask"] > 0
    if not myocardium.any():
        raise BinnInputError(path, "the ED myocardium mask is empty")
    name = str(data.get("case", Path(path).stem))
    return FemCase(name=name, disp=disp, myocardium=myocardium, spacing=float(spacing[0]))


def orthogonal(angle_rad: float, mirror: bool) -> np.ndarray:
    """The 2x2 map (array axes: rows, columns) of a rotation by ``angle_rad`` after an optional
    mirror of the columns."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    rotation = np.array([[c, -s], [s, c]])
    return rotation @ np.diag([1.0, -1.0 if mirror else 1.0])


def rotate_case(
    case: FemCase, matrix: np.ndarray, shift_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``case`` under the orthogonal map ``matrix`` about the myocardium's centroid, which
    lands at the image centre plus ``shift_px`` ``(2,)``.

    Returns ``disp (K, 2, H, W)`` float32 px and ``myocardium (H, W)`` bool, such that
    a sequence of images ``J_t(p) = I_t(q(p))``, ``q = c + A^T (p - c')``, satisfies
    ``J_t(p + A u(q)) = J_ED(p)`` (the registration convention is kept).
    """
    h, w = case.myocardium.shape
    centre_in = np.array(ndimage.center_of_mass(case.myocardium))
    centre_out = np.array([(h - 1) / 2.0, (w - 1) / 2.0]) + shift_px
    inverse = matrix.T
    offset = centre_in - inverse @ centre_out
    myocardium = (
        ndimage.affine_transform(
            case.myocardium.astype(np.float32), inverse, offset, order=1, mode="constant"
        )
        >= 0.5
    )
    moved = np.empty_like(case.disp)
    for k in range(case.disp.shape[0]):
        channels = [
            ndimage.affine_transform(case.disp[k, c], inverse, offset, order=1, mode="nearest")
            for c in range(2)
        ]
        moved[k] = np.einsum("ij,jhw->ihw", matrix, np.stack(channels))
    return moved.astype(np.float32), myocardium


def cycle_fields(disp: np.ndarray, frames: int, es_index: int) -> np.ndarray:
    """The simulated ED -> ES sweep ``disp (K, 2, H, W)`` played over a cycle of ``frames``
    with ES at ``es_index``: ``(T, 2, H, W)`` float32 px, frame 0 exactly zero."""
    activation = activation_curve(frames, es_index)
    position = activation * (disp.shape[0] - 1)
    lower = np.clip(np.floor(position).astype(int), 0, disp.shape[0] - 1)
    upper = np.clip(lower + 1, 0, disp.shape[0] - 1)
    weight = (position - lower)[:, None, None, None]
    fields = (1.0 - weight) * disp[lower] + weight * disp[upper]
    fields[0] = 0.0
    return fields.astype(np.float32)


def smooth_background(rng: np.random.Generator, shape: tuple[int, int], spacing: float):
    """A smooth random field ``(2, H, W)`` px: three plane waves of wavelength 40-100 mm,
    the largest amplitude at most :data:`BACKGROUND_MM`."""
    yy, xx = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    field = np.zeros((2, *shape))
    for _ in range(3):
        wavelength = rng.uniform(40.0, 100.0) / spacing
        direction = rng.uniform(-np.pi, np.pi)
        phase = (yy * np.sin(direction) + xx * np.cos(direction)) * 2.0 * np.pi / wavelength
        field += rng.normal(0.0, 1.0, (2, 1, 1)) * np.sin(phase + rng.uniform(-np.pi, np.pi))
    peak = np.abs(field).max()
    amplitude = rng.uniform(0.0, BACKGROUND_MM) / spacing
    return field * (amplitude / max(peak, 1e-9))


def outside_motion(
    rng: np.random.Generator,
    lv_fields: np.ndarray,
    lv: np.ndarray,
    rv: np.ndarray,
    spacing: float,
    frames: int,
    es_index: int,
) -> np.ndarray:
    """The whole image's motion ``(T, 2, H, W)`` float32 px from the LV's ``lv_fields``
    (myocardium and cavity ``lv (H, W)`` bool; ``rv (H, W)`` bool the RV cavity and wall),
    blended with the RV's contraction and a smooth background (module docstring)."""
    activation = activation_curve(frames, es_index)[:, None, None, None]
    lv_distance = ndimage.distance_transform_edt(~lv) * spacing
    lv_weight = np.exp(-((lv_distance / rng.uniform(*LV_DECAY_MM)) ** 2))
    background = smooth_background(rng, lv.shape, spacing)[None] * activation
    other = background
    if rv.any():
        rv_distance = ndimage.distance_transform_edt(~rv) * spacing
        rv_weight = np.exp(-((rv_distance / 5.0) ** 2))
        yy, xx = np.meshgrid(np.arange(lv.shape[0]), np.arange(lv.shape[1]), indexing="ij")
        centre = np.array(ndimage.center_of_mass(rv))
        towards = -np.stack([yy - centre[0], xx - centre[1]])[None] * rng.uniform(*RV_CONTRACTION)
        other = rv_weight * towards * activation + (1.0 - rv_weight) * background
    fields = lv_weight * lv_fields + (1.0 - lv_weight) * other
    fields[0] = 0.0
    return fields.astype(np.float32)


def source_positions(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For a field ``(2, H, W)`` px on the ED grid, the ED positions ``x`` with ``x + u(x) =
    y`` for each point ``y`` of ``points (2, ...)`` px (fixed-point iteration ``x <- y -
    u(x)``, bilinear ``u``): where frame ``t``'s pixel ``y`` was at ED."""
    flat = points.reshape(2, -1)
    x = flat.copy()
    for _ in range(INVERSE_ITERATIONS):
        u = np.stack(
            [ndimage.map_coordinates(field[c], x, order=1, mode="nearest") for c in range(2)]
        )
        x = flat - u
    return x.reshape(points.shape)
