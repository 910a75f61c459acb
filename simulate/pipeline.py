"""One simulation case end to end: ES ring -> mesh -> inverse P_ED -> sweep -> raster -> files."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from tqdm import tqdm

from binn.errors import BinnInputError, ConvergenceError
from binn.io import save_npz
from binn.provenance import provenance
from binn.simulate.config import SimulationRequest, SimulationSettings, SyntheticRing
from binn.simulate.contours import RingCurves, ring_curves
from binn.simulate.mesh import (
    QuadMesh,
    build_ring_mesh,
    to_dolfinx,
    write_mesh_files,
    write_xdmf_atomic,
)
from binn.simulate.synthetic import RingCase

log = logging.getLogger(__name__)

AREA_MATCH_RTOL = 0.01
DET_F_TOL = 1e-3
MAX_REFINEMENTS = 2
REFINEMENT_FACTOR = 1.5


@dataclass
class SimulationResult:
    """Everything one case produces. Arrays as in ``docs/interfaces.md``; ``nodal`` is the
    re-centred FE displacement per frame ``(T, n, 2)`` mm on the Q2 nodes (for XDMF)."""

    case: str
    arrays: dict[str, np.ndarray]
    diagnostics: dict[str, Any]
    timings: dict[str, float]
    mesh: QuadMesh
    model: Any = field(repr=False)
    nodal: np.ndarray = field(repr=False)


def recentre(nodes: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Remove the rigid part of a displacement: ``R (X + U) + t - X`` with the Kabsch ``R, t``.

    ``nodes``, ``disp``: ``(n, 2)`` mm. Deformation gradients change by a rotation only, so
    det F and the cavity area are unchanged.
    """
    y = nodes + disp
    cx, cy = nodes.mean(axis=0), y.mean(axis=0)
    h = (y - cy).T @ (nodes - cx)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    rot = (u @ np.diag([1.0, d]) @ vt).T
    return (y - cy) @ rot.T + cx - nodes


def _boundary_indices(curve: np.ndarray, tree: cKDTree, source: str) -> np.ndarray:
    """Q2 node indices of a curve's vertices and edge midpoints, in curve order."""
    mids = 0.5 * (curve + np.roll(curve, -1, axis=0))
    pts = np.empty((2 * len(curve), 2))
    pts[0::2], pts[1::2] = curve, mids
    dist, idx = tree.query(pts)
    if np.max(dist) > 1e-6:
        raise BinnInputError(source, "mesh boundary does not match the smoothed contour")
    return idx


def simulate_case(
    ring: RingCase,
    case: str,
    settings: SimulationSettings | None = None,
    progress: bool = True,
) -> SimulationResult:
    """Simulate one ring; raise BinnInputError (bad input) or ConvergenceError (solver).

    ``settings`` (None: :class:`SimulationSettings`' defaults): ``mesh_size_mm`` is refined
    by 1.5x (at most twice) while the mean |det F - 1| at P_ED exceeds 1e-3; ``mu_kpa`` in
    kPa; ``frames`` T >= 2. ``progress`` shows a bar for the pressure sweep, and only when
    stderr is a terminal (never in log files).
    """
    from binn.simulate.fem import RingMechanics
    from binn.simulate.raster import build_ed_raster

    settings = settings or SimulationSettings()
    mu, frames, mesh_size = settings.mu_kpa, settings.frames, settings.mesh_size_mm
    if frames < 2:
        raise BinnInputError(case, f"need at least 2 frames, got {frames}")
    if not 0.2 <= mesh_size <= 10.0:
        raise BinnInputError(case, f"mesh size {mesh_size} mm outside 0.2-10 mm")
    if mu <= 0:
        raise BinnInputError(case, f"shear modulus must be positive, got {mu} kPa")
    timings: dict[str, float] = {"mesh": 0.0, "setup": 0.0, "inverse": 0.0}
    size = mesh_size
    for attempt in range(MAX_REFINEMENTS + 1):
        t0 = time.perf_counter()
        curves: RingCurves = ring_curves(ring.cavity, ring.myocardium, ring.spacing, size, case)
        qmesh = build_ring_mesh(curves, size, case)
        msh, facets = to_dolfinx(qmesh)
        timings["mesh"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        model = RingMechanics(msh, facets, mu)
        timings["setup"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        target = float(ring.target_area_mm2)
        if target <= model.reference_area:
            raise BinnInputError(
                case,
                f"ED cavity area target {target:.1f} mm^2 is not larger than the ES cavity "
                f"({model.reference_area:.1f} mm^2)",
            )
        path = model.solve_area_path(target, case)
        ed = path[-1]
        if abs(ed.area - target) > AREA_MATCH_RTOL * target:
            raise ConvergenceError(f"{case}: ED area {ed.area:.2f} misses target {target:.2f}")
        model.set_state(ed.w, ed.P)
        det_err = model.mean_abs_det_f_minus_1()
        timings["inverse"] += time.perf_counter() - t0
        if det_err <= DET_F_TOL or attempt == MAX_REFINEMENTS:
            break
        log.info("%s: mean |det F - 1| %.1e at %.2f mm; refining the mesh", case, det_err, size)
        size /= REFINEMENT_FACTOR

    t0 = time.perf_counter()
    pressures = ed.P * (1.0 - np.arange(frames) / (frames - 1))
    states = [ed]
    bar = tqdm(
        pressures[1:-1], desc=f"{case} sweep", disable=None if progress else True, leave=False
    )
    for P in bar:
        previous = (states[-2], states[-1]) if len(states) >= 2 else None
        states.append(model.solve_pressure(float(P), path, case, previous))
    states.append(path[0])
    areas = np.array([s.area for s in states])
    if not np.all(np.diff(areas) < 0):
        raise ConvergenceError(f"{case}: cavity area is not monotone in pressure")
    timings["sweep"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nodes = model.V.tabulate_dof_coordinates()[:, :2]
    nodal = np.stack([recentre(nodes, model.displacement(s.w)) for s in states])
    tree = cKDTree(nodes)
    endo_idx = _boundary_indices(curves.endo, tree, case)
    epi_idx = _boundary_indices(curves.epi, tree, case)
    ed_nodes = nodes + nodal[0]
    raster = build_ed_raster(
        ed_nodes, ed_nodes[endo_idx], ed_nodes[epi_idx], ring.cavity.shape, ring.spacing
    )
    _check_inside(raster.mask, case)
    disp = np.stack([raster.field(nodal[t] - nodal[0]) for t in range(frames)])
    timings["raster"] = time.perf_counter() - t0

    arrays = {
        "status": np.asarray("ok"),
        "case": np.asarray(case),
        "disp": disp,
        "mask": raster.mask,
        "mask_es": ring.myocardium.astype(np.uint8),
        "cavity": raster.cavity,
        "pressure": pressures.astype(np.float64),
        "cavity_area_mm2": areas.astype(np.float64),
        "target_cavity_area_mm2": np.asarray(target, dtype=np.float64),
        "spacing": np.asarray(ring.spacing, dtype=np.float64),
        "crop_origin": np.asarray(ring.crop_origin, dtype=np.int64),
    }
    diagnostics = {
        "p_ed_kpa": float(ed.P),
        "es_cavity_area_mm2": float(path[0].area),
        "ed_area_rel_error": float(abs(ed.area - target) / target),
        "mean_abs_det_f_minus_1": det_err,
        "min_scaled_jacobian": qmesh.min_scaled_jacobian,
        "mesh_size_mm": size,
        "n_cells": len(qmesh.quads),
        "n_dofs": int(model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs),
        "newton_iterations": model.stats.iterations,
        "tangent_factorisations": model.stats.factorisations,
        "newton_step_cuts": model.stats.failures,
        "area_path_steps": len(path) - 1,
        "source": ring.source,
    }
    if det_err > DET_F_TOL:
        log.warning("%s: mean |det F - 1| = %.2e above %.0e", case, det_err, DET_F_TOL)
    log.info(
        "%s: P_ED %.2f kPa, area %.0f -> %.0f mm^2, mean|detF-1| %.1e, %d Newton its",
        case,
        ed.P,
        path[0].area,
        ed.area,
        det_err,
        model.stats.iterations,
    )
    return SimulationResult(case, arrays, diagnostics, timings, qmesh, model, nodal)


def _check_inside(mask: np.ndarray, case: str) -> None:
    if mask.sum() == 0:
        raise ConvergenceError(f"{case}: deformed ED mesh covers no pixel")
    if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
        raise BinnInputError(case, "the ED myocardium reaches the border of the raster window")


def write_result(
    result: SimulationResult, out: Path, xdmf: Path | None, config: dict[str, Any], seed: int | None
) -> None:
    """Write the record ``out`` (.npz), the FE time series XDMF (+ .h5) and the mesh files."""
    out = Path(out)
    xdmf = Path(xdmf) if xdmf is not None else out.with_suffix(".xdmf")
    write_mesh_files(result.mesh, out.with_suffix(".msh"), out.with_name(out.stem + "_mesh.xdmf"))
    write_fe_series(result, xdmf)
    prov = provenance(config, seed, diagnostics=result.diagnostics, timings=result.timings)
    save_npz(out, prov, **result.arrays)


def write_fe_series(result: SimulationResult, xdmf: Path) -> None:
    """FE displacement per frame (mm, Q2 interpolated to Q1) as XDMF + HDF5, time = frame."""
    import dolfinx

    model = result.model
    u2 = dolfinx.fem.Function(model.V)
    v1 = dolfinx.fem.functionspace(model.mesh, ("Lagrange", 1, (2,)))
    u1 = dolfinx.fem.Function(v1, name="displacement_mm")

    def body(f: Any) -> None:
        for t, nodal in enumerate(result.nodal):
            u2.x.array[:] = nodal.ravel()
            u1.interpolate(u2)
            f.write_function(u1, float(t))

    write_xdmf_atomic(Path(xdmf), model.mesh, body)


def load_ring(request: SimulationRequest) -> RingCase:
    """The ES ring of ``request`` on its grid, with its ED cavity area target."""
    ring = request.ring
    if isinstance(ring, SyntheticRing):
        from binn.simulate.synthetic import synthetic_ring

        synthetic = synthetic_ring(ring.seed, request.size, request.spacing_mm)
        if request.ed_area_mm2 is None:
            return synthetic
        return dataclasses.replace(synthetic, target_area_mm2=float(request.ed_area_mm2))
    from binn.simulate.masks import load_nifti_ring

    return load_nifti_ring(
        ring.es_labels,
        ring.ed_labels,
        ring.slice_index,
        ring.layout,
        ring.values(),
        request.size,
        request.ed_area_mm2,
        spacing_mm=request.spacing_mm,
    )


def failure_reason(exc: Exception) -> str:
    """The ``reason`` of a failed record: the exception type and its message.

    Types from other libraries carry their public module (``petsc4py.PETSc.Error``,
    ``scipy.spatial.QhullError``); builtin and binn types only their name.
    """
    kind = type(exc)
    module = ".".join(p for p in kind.__module__.split(".") if not p.startswith("_"))
    name = kind.__qualname__
    if module and module != "builtins" and module.split(".")[0] != "binn":
        name = f"{module}.{name}"
    message = str(exc).strip()
    return f"{name}: {message}" if message else name


def run_simulation(request: SimulationRequest) -> int:
    """Simulate one case and write its record; 0 on success (or on a recorded failure),
    raises otherwise (the exit code of ``binn simulate``).

    With ``request.record_failure`` every per-case failure (bad input, no convergence, gmsh,
    Qhull, PETSc, any other ``Exception``) becomes a ``status="failed"`` record whose
    ``reason`` names the exception type and message. ``MemoryError`` and what is not an
    ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) stop the run: they say nothing
    about the case.
    """
    config = request.provenance_config()
    case = request.case_name()
    try:
        ring = load_ring(request)
        result = simulate_case(ring, case, request.settings)
        write_result(result, request.out, request.xdmf, config, request.seed())
    except MemoryError:
        raise
    except Exception as exc:
        if not request.record_failure:
            raise
        reason = failure_reason(exc)
        expected = isinstance(exc, BinnInputError | ConvergenceError)
        log.error(
            "%s failed: %s (recorded in %s)", case, reason, request.out, exc_info=not expected
        )
        save_npz(
            request.out,
            provenance(config, request.seed()),
            status=np.asarray("failed"),
            case=np.asarray(case),
            reason=np.asarray(reason),
        )
    return 0
