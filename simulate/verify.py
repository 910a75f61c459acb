"""Analytic verification: the incompressible neo-Hookean thick-walled cylinder in plane strain.

Undeformed radii A < B, deformed inner radius a, outer b with b^2 = B^2 + a^2 - A^2; the
internal pressure is p = mu [ln(aB/(Ab)) + (B^2/b^2 - A^2/a^2)/2]. The annulus goes through
the same mesh and FEM code as real cases: area control to the deformed cavity, then a
pressure-controlled solve at the analytic pressure, whose deformed inner radius is compared
with a.
"""

from __future__ import annotations

import numpy as np

from binn.simulate.config import CYLINDER_MESH_SIZE_MM, SimulationSettings
from binn.simulate.contours import RingCurves


def analytic_pressure(A: float, B: float, a: float, mu: float) -> float:
    """Cavity pressure (kPa) that inflates the annulus A < B (mm) to inner radius a."""
    b = np.sqrt(B * B + a * a - A * A)
    return float(mu * (np.log(a * B / (A * b)) + 0.5 * (B * B / (b * b) - A * A / (a * a))))


def _circle(radius: float, spacing: float, centre: np.ndarray) -> np.ndarray:
    """Even number of points on a circle, spaced about ``spacing`` mm."""
    n = max(16, round(2.0 * np.pi * radius / spacing))
    n += n % 2
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return centre + radius * np.column_stack([np.cos(t), np.sin(t)])


def verify_cylinder(
    mesh_size: float = CYLINDER_MESH_SIZE_MM,
    mu: float = SimulationSettings.mu_kpa,
    inner: float = 10.0,
    outer: float = 20.0,
    stretch: float = 1.6,
) -> dict[str, float]:
    """Solve the cylinder inflated to ``a = stretch * inner``; return errors and sizes.

    Keys: ``inner_radius_rel_error`` (FE inner radius at the analytic pressure vs a),
    ``pressure_rel_error`` (FE pressure at the deformed cavity area of radius a vs the
    analytic pressure), ``mean_abs_det_f_minus_1``, ``mesh_size_mm``, ``n_cells``, ``n_dofs``,
    ``analytic_pressure_kpa``, ``fe_pressure_kpa``.
    """
    from binn.simulate.fem import RingMechanics
    from binn.simulate.mesh import build_ring_mesh, to_dolfinx

    centre = np.array([outer + 5.0, outer + 5.0])
    curves = RingCurves(
        endo=_circle(inner, 0.5 * mesh_size, centre), epi=_circle(outer, mesh_size, centre)
    )
    qmesh = build_ring_mesh(curves, mesh_size, "cylinder")
    msh, facets = to_dolfinx(qmesh)
    model = RingMechanics(msh, facets, mu)
    a = stretch * inner
    p_exact = analytic_pressure(inner, outer, a, mu)
    # The polygonal cavity of the mesh scales like the circle it is inscribed in.
    path = model.solve_area_path(model.reference_area * stretch**2, "cylinder")
    p_fe = path[-1].P
    state = model.solve_pressure(p_exact, path, "cylinder")
    model.set_state(state.w, state.P)
    nodes = model.V.tabulate_dof_coordinates()[:, :2]
    on_endo = np.abs(np.linalg.norm(nodes - centre, axis=1) - inner) < 1e-8 * outer
    deformed = nodes[on_endo] + model.displacement(state.w)[on_endo]
    a_fe = float(np.mean(np.linalg.norm(deformed - deformed.mean(axis=0), axis=1)))
    return {
        "inner_radius_rel_error": abs(a_fe - a) / a,
        "pressure_rel_error": abs(p_fe - p_exact) / p_exact,
        "mean_abs_det_f_minus_1": model.mean_abs_det_f_minus_1(),
        "analytic_pressure_kpa": p_exact,
        "fe_pressure_kpa": float(p_fe),
        "inner_radius_mm": inner,
        "outer_radius_mm": outer,
        "deformed_inner_radius_mm": a,
        "mesh_size_mm": float(mesh_size),
        "n_cells": len(qmesh.quads),
        "n_dofs": int(model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs),
    }
