"""Incompressible neo-Hookean plane-strain ring under cavity pressure (dolfinx 0.11, Q2/Q1).

Units: mm, kPa, mm^2. Energy per unit thickness
``Pi(u, p) = int mu/2 (tr C + 1 - 3) - p (J - 1) dX - P A_cav(u)`` with the deformed cavity area
``A_cav(u) = -1/2 int_endo (X + u) . cof(F) N dS`` (N: outward normal of the myocardium, i.e.
pointing into the cavity). In 2D the cavity pressure is conservative, so the residual is the
first variation and UFL gives the consistent (symmetric) tangent.

Rigid motion is removed by a statically determinate point support (one vertex fixed, a second
constrained in one direction): the pressure load is self-equilibrated, so the reactions vanish
and the deformation is not constrained. Solutions are re-centred afterwards (Kabsch).

Two Newton solvers share one factorised tangent per iteration (PETSc KSP, MUMPS LDL^T):
pressure control (P given) and cavity-area control (P is an unknown; bordered Newton with two
right-hand sides per factorisation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import binn.simulate.dolfinx_env  # noqa: F401  (before dolfinx: bootstraps the PyPI wheel)

# isort: split
import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc

from binn.errors import ConvergenceError
from binn.simulate.mesh import TAG_ENDO

log = logging.getLogger(__name__)


class NewtonFailure(RuntimeError):
    """One Newton solve did not converge (the caller cuts the step)."""


@dataclass
class State:
    """A converged equilibrium: mixed dof vector ``w`` (copy), pressure ``P`` kPa, area mm^2."""

    w: np.ndarray
    P: float
    area: float


@dataclass
class NewtonStats:
    """Counters over all solves of one model."""

    iterations: int = 0
    factorisations: int = 0
    solves: int = 0
    failures: int = 0
    history: list[int] = field(default_factory=list)


class RingMechanics:
    """The FE model of one ring mesh: spaces, forms, point supports and the Newton solvers."""

    def __init__(
        self,
        mesh: dolfinx.mesh.Mesh,
        facet_tags: dolfinx.mesh.MeshTags,
        mu: float,
        max_iterations: int = 25,
        tolerance: float = 1e-10,
    ) -> None:
        self.mesh = mesh
        self.mu = float(mu)
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.stats = NewtonStats()
        cell = mesh.basix_cell()
        q2 = basix.ufl.element("Lagrange", cell, 2, shape=(2,))
        q1 = basix.ufl.element("Lagrange", cell, 1)
        self.W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element([q2, q1]))
        self.V, self.v_to_w = self.W.sub(0).collapse()
        self.v_to_w = np.asarray(self.v_to_w)
        self.w = dolfinx.fem.Function(self.W)
        self.P = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
        u, p = ufl.split(self.w)
        dim = 2
        F = ufl.Identity(dim) + ufl.grad(u)
        J = ufl.det(F)
        energy = 0.5 * self.mu * (ufl.tr(F.T * F) + 1.0 - 3.0) - p * (J - 1.0)
        dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 4})
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=facet_tags)
        X = ufl.SpatialCoordinate(mesh)
        N = ufl.FacetNormal(mesh)
        cof = ufl.as_matrix([[F[1, 1], -F[1, 0]], [-F[0, 1], F[0, 0]]])
        area = -0.5 * ufl.dot(X + u, cof * N) * ds(TAG_ENDO)
        test = ufl.TestFunction(self.W)
        g = ufl.derivative(area, self.w, test)
        residual = ufl.derivative(energy * dx, self.w, test) - self.P * g
        tangent = ufl.derivative(residual, self.w, ufl.TrialFunction(self.W))
        self._area = dolfinx.fem.form(area)
        self._g = dolfinx.fem.form(g)
        self._R = dolfinx.fem.form(residual)
        self._K = dolfinx.fem.form(tangent)
        self._det_err = dolfinx.fem.form(abs(J - 1.0) * dx)
        self._myo_area = dolfinx.fem.form(dolfinx.fem.Constant(mesh, 1.0) * dx)
        self.bcs = self._point_supports()
        self._bc_dofs = np.concatenate([bc.dof_indices()[0] for bc in self.bcs])
        self.A = dolfinx.fem.petsc.create_matrix(self._K)
        self.b = dolfinx.fem.petsc.create_vector(self.W)
        self.ksp = PETSc.KSP().create(mesh.comm)
        self.ksp.setType("preonly")
        pc = self.ksp.getPC()
        pc.setType("cholesky")  # symmetric indefinite LDL^T (MUMPS sym=2): the tangent is symmetric
        pc.setFactorSolverType("mumps")
        self.ksp.setOperators(self.A)
        self._x = self.A.createVecRight()
        self._factorised = False
        self.reference_area = self.cavity_area()

    # ---------------------------------------------------------------- set-up
    def _point_supports(self) -> list[dolfinx.fem.DirichletBC]:
        """Vertex a fixed in both directions, vertex b (farthest along axis 0) in direction 1."""
        self.mesh.topology.create_connectivity(0, 2)
        n_vertices = self.mesh.topology.index_map(0).size_local
        vertex_x = dolfinx.mesh.compute_midpoints(
            self.mesh, 0, np.arange(n_vertices, dtype=np.int32)
        )
        a = int(np.argmin(vertex_x[:, 0]))
        b = int(np.argmax(vertex_x[:, 0]))
        bcs = []
        for vertex, comps in ((a, (0, 1)), (b, (1,))):
            for comp in comps:
                sub = self.W.sub(0).sub(comp)
                dofs = dolfinx.fem.locate_dofs_topological(
                    sub, 0, np.array([vertex], dtype=np.int32)
                )
                bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), dofs, sub))
        return bcs

    # ---------------------------------------------------------------- functionals
    def cavity_area(self) -> float:
        """Deformed cavity area of the current state, mm^2."""
        return float(dolfinx.fem.assemble_scalar(self._area))

    def mean_abs_det_f_minus_1(self) -> float:
        """Mean of |det F - 1| over the myocardium for the current state."""
        return float(dolfinx.fem.assemble_scalar(self._det_err)) / float(
            dolfinx.fem.assemble_scalar(self._myo_area)
        )

    def state(self) -> State:
        """Copy of the current state."""
        return State(self.w.x.array.copy(), float(self.P.value), self.cavity_area())

    def set_state(self, w: np.ndarray, P: float) -> None:
        """Load a dof vector and pressure as the current state."""
        self.w.x.array[:] = w
        self.w.x.scatter_forward()
        self.P.value = P

    def displacement(self, w: np.ndarray) -> np.ndarray:
        """Displacement dofs of a mixed vector, ``(n_nodes, 2)`` mm, on the collapsed Q2 space."""
        return w[self.v_to_w].reshape(-1, 2)

    # ---------------------------------------------------------------- linear algebra
    def _assemble(self, tangent: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Residual and area gradient (BC dofs zeroed); with ``tangent`` also a new tangent."""
        if tangent:
            self.A.zeroEntries()
            dolfinx.fem.petsc.assemble_matrix(self.A, self._K, bcs=self.bcs)
            self.A.assemble()
            self.ksp.setOperators(self.A)
            self._factorised = True
            self.stats.factorisations += 1
        out = []
        for form in (self._R, self._g):
            with self.b.localForm() as loc:
                loc.set(0.0)
            dolfinx.fem.petsc.assemble_vector(self.b, form)
            self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            arr = self.b.array.copy()
            arr[self._bc_dofs] = 0.0
            out.append(arr)
        return out[0], out[1]

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        self.b.array[:] = rhs
        self.ksp.solve(self.b, self._x)
        if self.ksp.getConvergedReason() < 0:
            raise NewtonFailure(f"LU solve failed (reason {self.ksp.getConvergedReason()})")
        return self._x.array.copy()

    # ---------------------------------------------------------------- Newton
    def newton(self, target_area: float | None = None, reuse_tangent: bool = False) -> int:
        """Newton from the current state; pressure control (``target_area`` None) or area control.

        With ``reuse_tangent`` the factorised tangent of the previous solve is kept (modified
        Newton: one residual assembly and a back-substitution per iteration) as long as the
        steps contract by at least 4x; otherwise the tangent is rebuilt. Converged when the
        step, or the error estimated to remain after it (``step * r / (1 - r)``, ``r`` the
        step ratio), is below ``tolerance`` times the body size. Returns the iteration count;
        raises :class:`NewtonFailure` when it does not converge (the state is then garbage:
        the caller restores a converged one).
        """
        scale = 1.0 + float(np.max(np.abs(self.mesh.geometry.x)))
        tol = self.tolerance * scale
        self.stats.solves += 1
        previous_step = np.inf
        fresh = not (reuse_tangent and self._factorised)
        for it in range(1, self.max_iterations + 1):
            R, g = self._assemble(tangent=fresh)
            try:
                dx1 = self._solve(-R)
                if target_area is None:
                    dw, dP = dx1, 0.0
                else:
                    dx2 = self._solve(g)
                    area = self.cavity_area()
                    denom = float(g @ dx2)
                    if not np.isfinite(denom) or denom == 0.0:
                        raise NewtonFailure("singular bordered system")
                    dP = (target_area - area - float(g @ dx1)) / denom
                    dw = dx1 + dP * dx2
            except PETSc.Error as exc:
                raise NewtonFailure(f"PETSc error {exc}") from exc
            if not np.all(np.isfinite(dw)):
                raise NewtonFailure("non-finite Newton increment")
            self.w.x.array[:] += dw
            self.w.x.scatter_forward()
            self.P.value = float(self.P.value) + dP
            step = float(np.max(np.abs(dw[self.v_to_w])))
            self.stats.iterations += 1
            if step > 0.5 * scale:
                raise NewtonFailure(f"Newton increment {step:.3g} mm exceeds the body size")
            ratio = step / previous_step if it > 1 else 1.0
            if step <= tol or (ratio < 0.5 and step * ratio / (1.0 - ratio) <= tol):
                self.stats.history.append(it)
                return it
            # A stale tangent that contracts slowly is refreshed.
            fresh = fresh or (it > 1 and ratio > 0.25)
            previous_step = step
        raise NewtonFailure(f"no convergence in {self.max_iterations} iterations")

    def solve_area_path(
        self, target_area: float, case: str, max_log_step: float = 0.15, min_log_step: float = 1e-4
    ) -> list[State]:
        """Cavity-area continuation from the unloaded state to ``target_area`` (mm^2).

        Steps uniformly in log area (at most ``max_log_step``), with a secant predictor and step
        halving on Newton failure. Returns the converged states, first the unloaded one.
        Raises :class:`ConvergenceError` naming ``case`` when the step falls below
        ``min_log_step``.
        """
        self.set_state(np.zeros_like(self.w.x.array), 0.0)
        path = [self.state()]
        log_a0, log_target = np.log(path[0].area), np.log(target_area)
        total = log_target - log_a0
        n_steps = max(1, int(np.ceil(abs(total) / max_log_step)))
        step = total / n_steps
        current = log_a0
        while abs(log_target - current) > 1e-12:
            step = min(step, log_target - current) if total > 0 else max(step, log_target - current)
            nxt = current + step
            self._predict(path, float(np.exp(nxt)))
            try:
                self.newton(target_area=float(np.exp(nxt)))
            except NewtonFailure as exc:
                self.stats.failures += 1
                step *= 0.5
                log.debug("%s: area step failed (%s); cutting to %.2e", case, exc, step)
                if abs(step) < min_log_step:
                    raise ConvergenceError(
                        f"{case}: area continuation stalled at {np.exp(current):.1f} mm^2 "
                        f"(target {target_area:.1f}): {exc}"
                    ) from exc
                self.set_state(path[-1].w, path[-1].P)
                continue
            path.append(self.state())
            current = nxt
        return path

    def _predict(self, path: list[State], area: float) -> None:
        """Secant predictor in area from the last two converged states."""
        if len(path) < 2:
            self.set_state(path[-1].w, path[-1].P)
            return
        s0, s1 = path[-2], path[-1]
        t = (area - s1.area) / (s1.area - s0.area)
        self.set_state(s1.w + t * (s1.w - s0.w), s1.P + t * (s1.P - s0.P))

    def solve_pressure(
        self,
        P: float,
        path: list[State],
        case: str,
        previous: tuple[State, State] | None = None,
        min_step: float = 1e-4,
    ) -> State:
        """Equilibrium at pressure ``P`` (kPa), warm-started.

        The start is the secant extrapolation (in P) of ``previous`` (two converged states,
        e.g. the last two frames) when given, else the linear interpolation of the two stored
        area-path states that bracket ``P``. On failure: pressure continuation from the lower
        bracket with step halving; :class:`ConvergenceError` naming ``case`` when it stalls.
        """
        pressures = np.array([s.P for s in path])
        k = int(np.clip(np.searchsorted(pressures, P) - 1, 0, len(path) - 2))
        lo, hi = path[k], path[k + 1]
        if previous is not None and previous[1].P != previous[0].P:
            s0, s1 = previous
            t = (P - s1.P) / (s1.P - s0.P)
            self.set_state(s1.w + t * (s1.w - s0.w), P)
        else:
            t = 0.0 if hi.P == lo.P else float(np.clip((P - lo.P) / (hi.P - lo.P), 0.0, 1.0))
            self.set_state(lo.w + t * (hi.w - lo.w), P)
        try:
            self.newton(reuse_tangent=previous is not None)
            return self.state()
        except NewtonFailure:
            self.stats.failures += 1
        current, step = lo, (P - lo.P)
        while abs(P - current.P) > 1e-14 * max(1.0, abs(P)):
            step = min(step, P - current.P)
            self.set_state(current.w, current.P + step)
            try:
                self.newton()
            except NewtonFailure as exc:
                self.stats.failures += 1
                step *= 0.5
                if abs(step) < min_step * max(abs(P), 1e-3):
                    raise ConvergenceError(
                        f"{case}: no equilibrium at P = {P:.4g} kPa: {exc}"
                    ) from exc
                continue
            current = self.state()
        return current
