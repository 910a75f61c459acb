"""FEM of the simulate stage: analytic cylinder, cavity-area functional, zero load, rigid motion."""

from __future__ import annotations

import numpy as np
import pytest

from binn.errors import ConvergenceError
from binn.simulate.contours import RingCurves, fourier_resample, polygon_area
from binn.simulate.pipeline import recentre
from binn.simulate.verify import analytic_pressure, verify_cylinder


def _annulus_model(mesh_size: float = 2.0, max_iterations: int = 25):
    from binn.simulate.fem import RingMechanics
    from binn.simulate.mesh import build_ring_mesh, to_dolfinx

    def circle(r: float, h: float) -> np.ndarray:
        n = round(2 * np.pi * r / h)
        n += n % 2
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return 30.0 + r * np.column_stack([np.cos(t), 1.2 * np.sin(t)])

    curves = RingCurves(endo=circle(8.0, mesh_size / 2), epi=circle(16.0, mesh_size))
    qmesh = build_ring_mesh(curves, mesh_size, "annulus")
    msh, facets = to_dolfinx(qmesh)
    return RingMechanics(msh, facets, 36.75, max_iterations=max_iterations), curves, qmesh


@pytest.fixture(scope="module")
def annulus():
    return _annulus_model()


def test_cylinder_matches_analytic_solution_and_converges_under_refinement() -> None:
    coarse = verify_cylinder(mesh_size=3.0)
    fine = verify_cylinder(mesh_size=1.5)
    assert fine["inner_radius_rel_error"] <= 0.005
    assert fine["inner_radius_rel_error"] < coarse["inner_radius_rel_error"]
    assert fine["pressure_rel_error"] < coarse["pressure_rel_error"]
    assert fine["n_dofs"] > coarse["n_dofs"]
    assert fine["mean_abs_det_f_minus_1"] < 1e-3


def test_analytic_pressure_saturates_at_mu_log_ratio() -> None:
    # p -> mu ln(B/A) as a -> infinity; zero at a = A.
    assert analytic_pressure(10.0, 20.0, 10.0, 36.75) == pytest.approx(0.0, abs=1e-12)
    assert analytic_pressure(10.0, 20.0, 1e4, 36.75) == pytest.approx(36.75 * np.log(2), rel=1e-3)


def test_quad_mesh_is_pure_quads_with_positive_jacobians(annulus) -> None:
    _, curves, qmesh = annulus
    assert qmesh.quads.shape[1] == 4
    assert qmesh.min_scaled_jacobian > 0.1
    # Counter-clockwise cells whose areas add up to the ring area.
    p = qmesh.nodes[qmesh.quads]
    areas = 0.5 * np.sum(
        p[:, :, 0] * np.roll(p[:, :, 1], -1, 1) - np.roll(p[:, :, 0], -1, 1) * p[:, :, 1], 1
    )
    assert np.all(areas > 0)
    ring = polygon_area(curves.epi) - polygon_area(curves.endo)
    assert areas.sum() == pytest.approx(ring, rel=1e-9)


def test_cavity_area_functional_equals_deformed_polygon_area(annulus) -> None:
    model, curves, _ = annulus
    assert model.reference_area == pytest.approx(polygon_area(curves.endo), rel=1e-10)
    # An affine displacement keeps edges straight: the deformed cavity is the mapped polygon.
    grad = np.array([[0.3, -0.2], [0.1, 0.25]])
    nodes = model.V.tabulate_dof_coordinates()[:, :2]
    u = (nodes - 30.0) @ grad.T + np.array([1.0, -2.0])
    w = np.zeros_like(model.w.x.array)
    w[model.v_to_w] = u.ravel()
    model.set_state(w, 0.0)
    mapped = (curves.endo - 30.0) @ (np.eye(2) + grad).T + 30.0 + np.array([1.0, -2.0])
    assert model.cavity_area() == pytest.approx(polygon_area(mapped), rel=1e-10)
    assert model.cavity_area() == pytest.approx(
        np.linalg.det(np.eye(2) + grad) * polygon_area(curves.endo), rel=1e-10
    )


def test_zero_pressure_gives_zero_displacement(annulus) -> None:
    model, _, _ = annulus
    rng = np.random.default_rng(0)
    w = np.zeros_like(model.w.x.array)
    perturb = 0.01 * rng.standard_normal(w.shape)
    perturb[model._bc_dofs] = 0.0
    model.set_state(perturb, 0.0)
    model.newton()
    assert np.max(np.abs(model.displacement(model.w.x.array))) < 1e-10


def test_area_control_hits_target_and_area_grows_with_pressure(annulus) -> None:
    model, _, _ = annulus
    target = 2.5 * model.reference_area
    path = model.solve_area_path(target, "annulus")
    assert path[-1].area == pytest.approx(target, rel=1e-8)
    pressures = np.array([s.P for s in path])
    areas = np.array([s.area for s in path])
    assert np.all(np.diff(pressures) > 0) and np.all(np.diff(areas) > 0)
    model.set_state(path[-1].w, path[-1].P)
    assert model.mean_abs_det_f_minus_1() < 1e-3
    # Pressure control at an intermediate pressure lands between its path neighbours.
    mid = 0.5 * (pressures[2] + pressures[3])
    state = model.solve_pressure(mid, path, "annulus")
    assert areas[2] < state.area < areas[3]


def test_non_convergence_raises_convergence_error_naming_the_case() -> None:
    model, _, _ = _annulus_model(mesh_size=3.0, max_iterations=1)
    with pytest.raises(ConvergenceError, match="case_x"):
        model.solve_area_path(3.0 * model.reference_area, "case_x")


def test_recentre_removes_rigid_motion_only() -> None:
    rng = np.random.default_rng(1)
    nodes = rng.uniform(0, 50, size=(200, 2))
    theta = 0.3
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rigid = nodes @ rot.T + np.array([3.0, -4.0]) - nodes
    assert np.max(np.abs(recentre(nodes, rigid))) < 1e-10
    # A pure stretch about the centroid of an isotropic node cloud is not a rigid motion: kept.
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    stretch = (grid - grid.mean(0)) @ np.diag([0.1, -0.05])
    assert np.allclose(recentre(grid, stretch), stretch, atol=1e-10)
    # ... and the same stretch followed by a rotation and a shift comes back to the stretch.
    moved = (grid + stretch - grid.mean(0)) @ rot.T + grid.mean(0) + np.array([2.0, 1.0])
    assert np.allclose(recentre(grid, moved - grid), stretch, atol=1e-10)


def test_fourier_resample_smooths_and_orients_counter_clockwise() -> None:
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    noisy = np.column_stack([np.cos(t), np.sin(t)])[::-1] * (1 + 0.05 * np.cos(40 * t))[:, None]
    out = fourier_resample(10 * noisy, 64, 8)
    assert polygon_area(out) > 0
    assert np.allclose(np.linalg.norm(out, axis=1), 10.0, atol=0.05)


def test_raster_interpolates_affine_fields_exactly_and_zero_to_zero() -> None:
    from binn.simulate.raster import build_ed_raster

    spacing = np.array([1.5, 2.0])
    t = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    endo = np.column_stack([30 + 8 * np.cos(t), 40 + 8 * np.sin(t)])
    epi = np.column_stack([30 + 16 * np.cos(t), 40 + 16 * np.sin(t)])
    r, a = np.meshgrid(np.linspace(8, 16, 9), t)
    nodes = np.column_stack([30 + (r * np.cos(a)).ravel(), 40 + (r * np.sin(a)).ravel()])
    raster = build_ed_raster(nodes, endo, epi, (48, 48), spacing)
    assert raster.mask.sum() > 100 and raster.cavity.sum() > 50
    grad = np.array([[0.05, -0.02], [0.03, 0.01]])
    field = raster.field(nodes @ grad.T + np.array([0.3, -0.6]))
    rows, cols = np.mgrid[0:48, 0:48]
    pix = np.stack([rows * spacing[0], cols * spacing[1]], -1)
    expected = (pix @ grad.T + np.array([0.3, -0.6])) / spacing
    inside = raster.mask.astype(bool)
    np.testing.assert_allclose(np.moveaxis(field, 0, -1)[inside], expected[inside], atol=1e-5)
    zero = raster.field(np.zeros_like(nodes))
    assert zero.dtype == np.float32 and np.all(zero == 0.0)
    # Outside the myocardium the fill is bounded by the field's values (maximum principle).
    assert field[0].max() <= expected[..., 0][inside].max() + 1e-5


def test_bench_measures_in_a_one_core_process_whatever_the_parent_set(monkeypatch) -> None:
    """Thread pools size themselves at import: the bench's process must start with 1 set."""
    from binn.simulate.bench import run_single_core

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    env = run_single_core("thread_environment")
    assert env["omp_num_threads"] == env["openblas_num_threads"] == env["mkl_num_threads"] == "1"
    assert env["cpus"] == 1
    with pytest.raises(RuntimeError, match="benchmark process failed"):
        run_single_core("no_such_function")
