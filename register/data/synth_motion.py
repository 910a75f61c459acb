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

The three blend smoothly (weights from distances), so the field has no seam.

The whole LV also moves rigidly (:func:`lv_rigid_motion`), a model: real hearts translate
in-plane between ED and ES (the labels' LV centroid moves by about 4 mm on ACDC) and twist
(apex and base rotate by up to about 10 degrees in opposite senses), which a pressure-loaded
ring does not do. A translation of standard deviation :data:`LV_TRANSLATION_MM` per axis and
a rotation in :data:`LV_TWIST_DEG` about the LV's centroid grow with the activation.

Through-plane thickening (:func:`through_plane_thickening`), also a model: a short-axis
slice sees the wall thicken more than plane strain allows (the base descends in systole and
the thicker wall of the next level moves into the slice; real cine shows the myocardium's
in-plane area grow from ED to ES), while an incompressible plane-strain solution keeps its
area. The slice's ED wall is made thinner than the simulated one by an area factor drawn in
:data:`AREA_GROWTH`, keeping the endocardium (and so the ED cavity the inverse solve
matched), and grows back with the activation, so that ES is exactly the simulated ES.

Every field is in the registration convention (``I_t(x + u_t(x)) = I_ED(x)``, px, on the
ED grid).
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
AREA_GROWTH = (1.0, 1.5)
"""Range of the myocardium's in-plane area at ES over ED added by through-plane motion
(none to 50 %: normal systolic wall thickening is 30-60 % of the ED thickness)."""
THICKENING_DECAY_MM = 8.0
"""Decay length (mm) of the thickening's displacement outside the epicardium (more than the
largest epicardial shift, so the map stays one-to-one)."""
WALL_ANGLES = 72
"""Angular bins of :func:`wall_radii`."""
LV_TRANSLATION_MM = 3.0
"""Standard deviation (mm, per axis) of the LV's rigid in-plane translation at ES."""
LV_TWIST_DEG = (-10.0, 10.0)
"""Range of the LV's rigid in-plane rotation at ES (degrees)."""
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


def lv_rigid_motion(
    lv_fields: np.ndarray,
    centre: np.ndarray,
    translation_px: np.ndarray,
    twist_rad: float,
    frames: int,
    es_index: int,
) -> np.ndarray:
    """``lv_fields (T, 2, H, W)`` px followed by a rotation by ``a_t * twist_rad`` about
    ``centre (2,)`` px and a translation ``a_t * translation_px (2,)`` px, ``a_t`` the
    activation (0 at ED, 1 at ES): the field ``u + (R - I)(x + u - c) + tau`` of the composed
    map, ``(T, 2, H, W)`` float32 px, frame 0 still zero."""
    activation = activation_curve(frames, es_index)
    shape = lv_fields.shape[-2:]
    grid = np.stack(np.mgrid[: shape[0], : shape[1]]).astype(np.float64)
    moved = np.empty_like(lv_fields)
    for t in range(frames):
        angle = activation[t] * twist_rad
        rotation = orthogonal(angle, mirror=False) - np.eye(2)
        arm = grid + lv_fields[t] - centre[:, None, None]
        turned = np.einsum("ij,jhw->ihw", rotation, arm)
        moved[t] = lv_fields[t] + turned + activation[t] * translation_px[:, None, None]
    moved[0] = 0.0
    return moved.astype(np.float32)


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


def wall_radii(myocardium: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Endocardial and epicardial radius (px) about ``centre (2,)`` px in
    :data:`WALL_ANGLES` equal angular bins from -pi (``arctan2`` of rows, columns): the
    nearest and farthest myocardium pixel edge of each bin; bins the wall does not reach are
    interpolated around the circle, and both radii are smoothed over 5 bins.
    Returns ``(endo, epi)``, each ``(WALL_ANGLES,)`` float64 px, ``0 <= endo < epi``."""
    rows, cols = np.nonzero(myocardium)
    radius = np.hypot(rows - centre[0], cols - centre[1])
    angle = np.arctan2(rows - centre[0], cols - centre[1])
    bins = ((angle + np.pi) / (2.0 * np.pi) * WALL_ANGLES).astype(int) % WALL_ANGLES
    endo = np.full(WALL_ANGLES, np.inf)
    epi = np.full(WALL_ANGLES, -np.inf)
    np.minimum.at(endo, bins, radius - 0.5)
    np.maximum.at(epi, bins, radius + 0.5)
    reached = np.isfinite(endo)
    index = np.arange(WALL_ANGLES)
    endo = np.interp(index, index[reached], endo[reached], period=WALL_ANGLES)
    epi = np.interp(index, index[reached], epi[reached], period=WALL_ANGLES)
    endo = ndimage.uniform_filter1d(np.maximum(endo, 0.0), 5, mode="wrap")
    epi = ndimage.uniform_filter1d(epi, 5, mode="wrap")
    return endo, np.maximum(epi, endo + 1.0)


def _at_angle(values: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``values (WALL_ANGLES,)`` per bin, linearly interpolated at ``angle`` (radians)."""
    position = (angle + np.pi) / (2.0 * np.pi) * WALL_ANGLES - 0.5
    return np.interp(position, np.arange(WALL_ANGLES), values, period=WALL_ANGLES)


def through_plane_thickening(
    disp: np.ndarray, myocardium: np.ndarray, growth: float, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """The simulated sweep ``disp (K, 2, H, W)`` px (frame 0 ED, K-1 ES, on the ED grid of
    ``myocardium (H, W)`` bool) with the wall thinned at ED by the area factor ``growth``
    (>= 1) and growing back linearly over the K frames (module docstring).

    In polar coordinates about the LV's centroid, a point at radius ``r`` of the new ED wall
    (endocardial radius ``a``, new epicardial radius ``b'`` with ``b'^2 - a^2 = (b^2 -
    a^2) / growth``) is at ``sqrt(a^2 + s_k (r^2 - a^2))`` of the simulated ED wall in frame
    ``k``, ``s_k = 1 + (growth - 1) k / (K - 1)``; the cavity stays, and outside the wall the
    epicardium's shift decays over :data:`THICKENING_DECAY_MM`. Frame ``k``'s field is that
    map followed by the simulated one. Returns the new ``disp (K, 2, H, W)`` float32 px on the
    new ED grid and the new ED ``myocardium (H, W)`` bool. ``growth == 1`` returns the inputs.
    """
    if growth < 1.0:
        raise ValueError(f"area growth must be >= 1, got {growth}")
    if growth == 1.0:
        return disp, myocardium
    lv = ndimage.binary_fill_holes(myocardium)
    centre = np.array(ndimage.center_of_mass(lv))
    endo, epi = wall_radii(myocardium, centre)
    grid = np.stack(np.mgrid[: myocardium.shape[0], : myocardium.shape[1]]).astype(np.float64)
    offset = grid - centre[:, None, None]
    radius = np.hypot(*offset)
    angle = np.arctan2(*offset)
    a = _at_angle(endo, angle)
    b_new = np.sqrt(a**2 + (_at_angle(epi, angle) ** 2 - a**2) / growth)
    decay = THICKENING_DECAY_MM / spacing
    steps = disp.shape[0]
    within = np.clip(radius, a, b_new)  # the cavity's points stay, the outside's follow b'
    fade = np.exp(-((np.maximum(radius - b_new, 0.0) / decay) ** 2))
    moved = np.empty_like(disp)
    points = grid
    for k in range(steps):
        s = 1.0 + (growth - 1.0) * k / max(steps - 1, 1)
        shift = (np.sqrt(a**2 + s * (within**2 - a**2)) - within) * fade
        scale = np.where(radius > 0.0, shift / np.maximum(radius, 1e-9), 0.0)
        points = grid + scale * offset
        simulated = np.stack(
            [ndimage.map_coordinates(disp[k, c], points, order=1, mode="nearest") for c in range(2)]
        )
        moved[k] = points - grid + simulated
    thinned = (  # the simulated ED wall pulled back by the last (ES) frame's map
        ndimage.map_coordinates(myocardium.astype(np.float32), points, order=1, mode="constant")
        >= 0.5
    )
    return moved.astype(np.float32), thinned
