"""Pure-quad gmsh mesh of a myocardial ring, its quality check, files, and the dolfinx mesh.

Physical tags: 1 myocardium (surface), 2 endocardium, 3 epicardium (curves). Coordinates in mm,
``(row, col)`` frame of :mod:`simulate.contours`. Each boundary segment between two curve
points becomes exactly one mesh edge, so the boundary vertices are the curve points in order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from binn.errors import BinnInputError
from binn.io import atomic_path
from binn.simulate.contours import RingCurves

log = logging.getLogger(__name__)

TAG_MYO, TAG_ENDO, TAG_EPI = 1, 2, 3
GMSH_QUAD = 3


@dataclass(frozen=True)
class QuadMesh:
    """A quad mesh: ``nodes (n, 2)`` mm, ``quads (m, 4)`` node indices (counter-clockwise),
    ``min_scaled_jacobian`` (gmsh minSJ over all cells), ``msh_bytes`` (the .msh file)."""

    nodes: np.ndarray
    quads: np.ndarray
    min_scaled_jacobian: float
    msh_bytes: bytes


@contextlib.contextmanager
def _gmsh_session() -> Iterator[object]:
    import gmsh

    gmsh.initialize(["-noenv"], readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("ring")
        yield gmsh
    finally:
        gmsh.finalize()


def _add_loop(gmsh: object, points: np.ndarray, mesh_size: float) -> tuple[int, list[int]]:
    geo = gmsh.model.geo  # type: ignore[attr-defined]
    pts = [geo.addPoint(float(x), float(y), 0.0, mesh_size) for x, y in points]
    lines = [geo.addLine(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
    return geo.addCurveLoop(lines), lines


# (Mesh.Algorithm, Mesh.SubdivisionAlgorithm): blossom recombination first; if it leaves
# triangles, another front; last, the all-quad subdivision (splits every cell into quads).
_ATTEMPTS = ((6, 0), (8, 0), (5, 0), (6, 1))


def build_ring_mesh(curves: RingCurves, mesh_size: float, source: str) -> QuadMesh:
    """Mesh the region between ``curves.endo`` and ``curves.epi`` with quads only.

    Raises :class:`BinnInputError` naming ``source`` when gmsh cannot produce a pure-quad
    mesh or produces an inverted element (min scaled Jacobian <= 0).
    """
    types: list[int] = []
    for algorithm, subdivision in _ATTEMPTS:
        with _gmsh_session() as gmsh:
            epi_loop, epi_lines = _add_loop(gmsh, curves.epi, mesh_size)
            endo_h = float(np.mean(np.linalg.norm(np.diff(curves.endo, axis=0), axis=1)))
            endo_loop, endo_lines = _add_loop(gmsh, curves.endo, endo_h)
            geo = gmsh.model.geo
            surface = geo.addPlaneSurface([epi_loop, endo_loop])
            for line in epi_lines + endo_lines:
                geo.mesh.setTransfiniteCurve(line, 2)
            geo.mesh.setRecombine(2, surface)
            geo.synchronize()
            gmsh.model.addPhysicalGroup(2, [surface], TAG_MYO, name="myocardium")
            gmsh.model.addPhysicalGroup(1, endo_lines, TAG_ENDO, name="endocardium")
            gmsh.model.addPhysicalGroup(1, epi_lines, TAG_EPI, name="epicardium")
            gmsh.option.setNumber("Mesh.Algorithm", algorithm)
            gmsh.option.setNumber("Mesh.RecombinationAlgorithm", 1)
            gmsh.option.setNumber("Mesh.RecombineAll", 1)
            gmsh.option.setNumber("Mesh.SubdivisionAlgorithm", subdivision)
            gmsh.option.setNumber("Mesh.Smoothing", 5)
            try:
                gmsh.model.mesh.generate(2)
            except Exception as exc:  # gmsh raises bare Exception with its last error
                raise BinnInputError(source, f"gmsh could not mesh the ring ({exc})") from exc
            types, elem_tags, elem_nodes = gmsh.model.mesh.getElements(2)
            if list(types) != [GMSH_QUAD]:
                log.debug("%s: gmsh algorithm %d left triangles; retrying", source, algorithm)
                continue
            quality = gmsh.model.mesh.getElementQualities(elem_tags[0], "minSJ")
            min_sj = float(np.min(quality))
            if min_sj <= 0.0:
                raise BinnInputError(
                    source, f"gmsh produced an inverted mesh (min scaled J {min_sj})"
                )
            node_tags, coords, _ = gmsh.model.mesh.getNodes()
            index = np.zeros(int(node_tags.max()) + 1, dtype=np.int64)
            index[node_tags.astype(np.int64)] = np.arange(node_tags.size)
            nodes = coords.reshape(-1, 3)[:, :2].copy()
            quads = index[elem_nodes[0].astype(np.int64)].reshape(-1, 4)
            msh_bytes = _gmsh_write_bytes(gmsh)
            break
    else:
        raise BinnInputError(source, f"gmsh did not produce a pure-quad mesh (types {list(types)})")
    quads = _orient_counter_clockwise(nodes, quads)
    log.debug("mesh: %d nodes, %d quads, min scaled Jacobian %.3f", len(nodes), len(quads), min_sj)
    return QuadMesh(nodes=nodes, quads=quads, min_scaled_jacobian=min_sj, msh_bytes=msh_bytes)


def _gmsh_write_bytes(gmsh: object) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ring.msh")
        gmsh.write(path)  # type: ignore[attr-defined]
        return Path(path).read_bytes()


def _orient_counter_clockwise(nodes: np.ndarray, quads: np.ndarray) -> np.ndarray:
    p = nodes[quads]
    signed = 0.5 * np.sum(
        p[:, :, 0] * np.roll(p[:, :, 1], -1, axis=1) - np.roll(p[:, :, 0], -1, axis=1) * p[:, :, 1],
        axis=1,
    )
    out = quads.copy()
    out[signed < 0] = out[signed < 0, ::-1]
    return out


def write_mesh_files(mesh: QuadMesh, msh_path: Path, xdmf_path: Path) -> None:
    """Write the gmsh ``.msh`` and, via meshio, the mesh with its physical tags as XDMF (+ .h5).

    Both are written atomically; the XDMF (quads and the tagged endo/epi edges, tags in the
    cell data ``gmsh:physical``) is for ParaView.
    """
    import meshio

    with atomic_path(msh_path) as tmp:
        tmp.write_bytes(mesh.msh_bytes)
    ring = meshio.read(msh_path, file_format="gmsh")
    publish_xdmf(xdmf_path, lambda tmp: meshio.xdmf.write(tmp, ring))


def write_xdmf_atomic(xdmf_path: Path, dmesh: object, body: Callable[[object], None]) -> None:
    """Write the dolfinx mesh ``dmesh`` and what ``body(xdmf_file)`` adds as XDMF (+ ``.h5``)."""
    from dolfinx.io import XDMFFile

    def write(tmp: Path) -> None:
        with XDMFFile(dmesh.comm, str(tmp), "w") as f:
            f.write_mesh(dmesh)
            body(f)

    publish_xdmf(xdmf_path, write)


def publish_xdmf(xdmf_path: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_xdmf)`` in a temporary folder beside ``xdmf_path``, then move the
    ``.xdmf`` and its ``.h5`` into place (the pair appears only when complete)."""
    xdmf_path = Path(xdmf_path)
    xdmf_path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{xdmf_path.stem}.", dir=xdmf_path.parent))
    try:
        tmp = tmpdir / xdmf_path.name
        write(tmp)
        os.replace(tmp.with_suffix(".h5"), xdmf_path.with_suffix(".h5"))
        os.replace(tmp, xdmf_path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def to_dolfinx(mesh: QuadMesh) -> tuple[object, object]:
    """Rebuild the gmsh model from :class:`QuadMesh` and convert it with ``dolfinx.io.gmsh``.

    Returns ``(dolfinx mesh, facet MeshTags)`` with facet tags 2 (endo) and 3 (epi).
    """
    import binn.simulate.dolfinx_env  # noqa: F401  (before dolfinx: bootstraps the PyPI wheel)

    # isort: split
    from dolfinx.io import gmsh as dgmsh
    from mpi4py import MPI

    with _gmsh_session() as gmsh, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ring.msh")
        Path(path).write_bytes(mesh.msh_bytes)
        gmsh.open(path)
        data = dgmsh.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=2)
    return data.mesh, data.facet_tags
