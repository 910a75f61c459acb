"""Kinematic motion model of the cine phantom (deliberately not the FEM of ``simulate/``).

The map ``x -> phi_t(x) = x + u_t(x)`` takes a material point at its ED position ``x`` to
its position in frame ``t`` (so ``I_t(x + u_t(x)) = I_ED(x)``, the registration
convention). In polar coordinates ``(r, theta)`` about the LV centre of the slice, with the
activation ``a(t)`` (0 at ED, 1 at ES):

- LV cavity ``r < R_en(theta)``: uniform radial scaling to the ES endocardium,
  ``R_en'^2 = R_en^2 - a E(theta) R_en^2`` (``E`` = local ejected area fraction);
- wall and beyond: ``r'^2 - R_en'^2 = k(a) (r^2 - R_en^2)`` (radial thickening with
  circumferential shortening; ``k = 1`` conserves the wall area, ``k > 1`` models
  through-plane shortening), blended smoothly to no motion over ``taper`` px outside the
  epicardium;
- twist: rotation ``a * twist(level) * g(r)`` (base and apex rotate in opposite
  directions, the endocardium a little more than the epicardium, none far outside);
- regional heterogeneity: ``E(theta)`` reduced in a hypokinetic sector (von Mises bump);
- the RV contracts towards its centre (away from the septum), and a small smooth random
  field (a few Fourier modes, px) is added everywhere.
All lengths are pixels of the ED grid, angles radians.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from binn.register.data import phantom_anatomy as pa

log = logging.getLogger(__name__)

NEWTON_TOL_PX = 1e-3
NEWTON_MAX_ITER = 80
NEWTON_MAX_STEP_PX = 2.0
FD_STEP_PX = 1e-3


@dataclasses.dataclass(frozen=True)
class Kinematics:
    """Motion parameters: per frame ``(T,)``, per slice ``(Z,)``, modes ``(M, ...)``."""

    activation: np.ndarray  # (T,) in [0, 1], 0 at ED, 1 at ES
    wobble: np.ndarray  # (T,) second temporal component of the random field, 0 at ED
    ejection: np.ndarray  # (Z,) ES cavity area loss fraction (1 - ES/ED area ratio)
    kappa: float  # wall area ratio ES/ED (>= 1)
    twist: np.ndarray  # (Z,) peak rotation, rad
    transmural: float  # extra endocardial rotation fraction
    hypo_angle: float
    hypo_depth: np.ndarray  # (Z,) fraction of the ejection lost at the sector centre
    hypo_concentration: float
    taper: float  # px beyond the epicardium over which the motion fades out
    rv_contraction: float
    modes_k: np.ndarray  # (M, 2) wave vectors (ky, kx), rad/px
    modes_phase: np.ndarray  # (M,)
    modes_amp: np.ndarray  # (M, 2) amplitudes for activation (uy, ux), px
    modes_amp2: np.ndarray  # (M, 2) amplitudes for wobble, px


def _cos_taper(q: np.ndarray) -> np.ndarray:
    """1 at q <= 0, cos^2 fade to 0 at q >= 1 (C1)."""
    return np.cos(0.5 * np.pi * np.clip(q, 0.0, 1.0)) ** 2


def _smoothstep(q: np.ndarray) -> np.ndarray:
    """0 at q <= 0, 1 at q >= 1 (C1)."""
    q = np.clip(q, 0.0, 1.0)
    return q * q * (3.0 - 2.0 * q)


def forward(
    kin: Kinematics, anat: pa.Anatomy, t: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Displacement ``u_t`` (px) of ED points ``(y, x)`` of slice ``z`` in frame ``t``.

    ``t``, ``z`` (int) and ``y``, ``x`` (float) are arrays of one shape; returns ``(uy, ux)``
    (the point moves to ``(y + uy, x + ux)``), exactly 0 where the activation is 0.
    """
    a = kin.activation[t]
    dy = y - anat.centre_y[z]
    dx = x - anat.centre_x[z]
    r, theta = np.hypot(dy, dx), np.arctan2(dy, dx)
    r_en = pa.endo_radius(anat, z, theta)
    r_ep = pa.epi_radius(anat, z, theta, r_en)
    bump = np.exp(kin.hypo_concentration * (np.cos(theta - kin.hypo_angle) - 1.0))
    ejection = kin.ejection[z] * (1.0 - kin.hypo_depth[z] * bump)
    gain = kin.kappa - 1.0

    def stretch_minus_one(q: np.ndarray) -> np.ndarray:
        """sqrt(1 + a q) - 1, exact 0 at a = 0."""
        return a * q / (1.0 + np.sqrt(1.0 + a * q))

    r_safe = np.maximum(r, 1e-9)
    cavity = r < r_en
    outside = r > r_ep
    # r_t^2 = r^2 - a E r_en^2 + a (kappa - 1)(r^2 - r_en^2) in the wall; s = r_t / r.
    q_wall = np.maximum((gain * (r**2 - r_en**2) - ejection * r_en**2) / r_safe**2, -1.0)
    q_epi = (gain * (r_ep**2 - r_en**2) - ejection * r_en**2) / r_ep**2
    fade = _cos_taper((r - r_ep) / kin.taper)
    s1 = np.where(cavity, stretch_minus_one(-ejection), stretch_minus_one(q_wall))
    s1 = np.where(outside, r_ep * stretch_minus_one(q_epi) * fade / r_safe, s1)

    depth = np.clip((r_ep - r) / (r_ep - r_en), 0.0, 1.0)
    spin = np.where(outside, fade, 1.0 + kin.transmural * depth)
    turn = a * kin.twist[z] * spin
    # (s R(turn) - I) d with s cos(turn) - 1 = s1 cos(turn) - 2 sin^2(turn / 2)
    c1 = s1 * np.cos(turn) - 2.0 * np.sin(0.5 * turn) ** 2
    sn = (1.0 + s1) * np.sin(turn)
    uy = c1 * dy + sn * dx
    ux = c1 * dx - sn * dy

    rho = pa.rv_radius(anat, z, y, x)
    rv_w = (
        a
        * kin.rv_contraction
        * _cos_taper((rho - 1.05) / 0.5)
        * _smoothstep((r - r_ep) / kin.taper)
    )
    uy -= rv_w * (y - anat.rv_y[z])
    ux -= rv_w * (x - anat.rv_x[z])

    w2 = kin.wobble[t]
    for k, phase, amp, amp2 in zip(
        kin.modes_k, kin.modes_phase, kin.modes_amp, kin.modes_amp2, strict=True
    ):
        wave = np.cos(k[0] * y + k[1] * x + phase)
        uy += (a * amp[0] + w2 * amp2[0]) * wave
        ux += (a * amp[1] + w2 * amp2[1]) * wave
    return uy, ux


def frame_grid(
    frames: int, slices: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index grids ``(t, z, y, x)``, each ``(T, Z, H, W)``, of every pixel of every frame (px)."""
    return tuple(  # type: ignore[return-value]
        np.meshgrid(
            np.arange(frames),
            np.arange(slices),
            np.arange(size, dtype=np.float64),
            np.arange(size, dtype=np.float64),
            indexing="ij",
        )
    )


def displacement(
    kin: Kinematics, anat: pa.Anatomy, frames: int, slices: int, size: int
) -> np.ndarray:
    """Ground-truth motion ``(T, Z, 2, H, W)`` float32 px on the ED pixel grid (frame 0 = 0)."""
    t, z, y, x = frame_grid(frames, slices, size)
    uy, ux = forward(kin, anat, t, z, y, x)
    return np.stack([uy, ux], axis=2).astype(np.float32)


def invert(
    kin: Kinematics, anat: pa.Anatomy, t: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ED positions of the points ``(y, x)`` of frame ``t``: solve ``phi_t(p) = (y, x)`` for p.

    Newton iterations with a finite-difference Jacobian on the points not yet converged,
    steps capped at ``NEWTON_MAX_STEP_PX`` and halved for a point whose residual grew (the
    map is only piecewise smooth: kinks at the endo- and epicardium). Raises
    ``RuntimeError`` if a point misses ``NEWTON_TOL_PX`` (the model is built invertible).
    """
    t, z, y, x = (np.ravel(v) for v in np.broadcast_arrays(t, z, y, x))
    uy, ux = forward(kin, anat, t, z, y, x)
    py, px = y - uy, x - ux
    active = np.arange(y.size)
    damping = np.ones(y.size)
    previous = np.full(y.size, np.inf)
    h = FD_STEP_PX
    for _ in range(NEWTON_MAX_ITER):
        uy, ux = forward(kin, anat, t[active], z[active], py[active], px[active])
        ry = py[active] + uy - y[active]
        rx = px[active] + ux - x[active]
        residual = np.maximum(np.abs(ry), np.abs(rx))
        # halve the step where the residual grew (Newton oscillating across a kink)
        damping[active[residual >= previous[active]]] *= 0.5
        previous[active] = residual
        keep = residual >= NEWTON_TOL_PX
        active, ry, rx, uy, ux = active[keep], ry[keep], rx[keep], uy[keep], ux[keep]
        if active.size == 0:
            return py, px
        ta, za, ya, xa = t[active], z[active], py[active], px[active]
        n = active.size
        qy, qx = np.concatenate([ya + h, ya]), np.concatenate([xa, xa + h])
        gy, gx = forward(kin, anat, np.tile(ta, 2), np.tile(za, 2), qy, qx)
        j00, j10 = 1.0 + (gy[:n] - uy) / h, (gx[:n] - ux) / h
        j01, j11 = (gy[n:] - uy) / h, 1.0 + (gx[n:] - ux) / h
        det = j00 * j11 - j01 * j10
        sy = (j11 * ry - j01 * rx) / det
        sx = (-j10 * ry + j00 * rx) / det
        step = np.hypot(sy, sx)
        scale = damping[active] * np.minimum(1.0, NEWTON_MAX_STEP_PX / np.maximum(step, 1e-12))
        py[active] -= scale * sy
        px[active] -= scale * sx
    raise RuntimeError(f"phantom motion not invertible at {active.size} points (Newton)")
