"""Rasterise FE displacements to the ED pixel grid in the registration convention.

For frame t the field is ``u_t(x) = phi_t(phi_ED^-1(x)) - x`` at ED pixel centres x, i.e. the
nodal difference ``U_t - U_ED`` carried to the nodes' ED positions ``X + U_ED``. Inside the ED
myocardium it is interpolated linearly on a Delaunay triangulation of the Q2 nodes at ED;
every other pixel is filled by a discrete harmonic (Laplace) extension, which is smooth and
exactly zero when the field is zero. Output in **pixels**, channel k along array axis k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from matplotlib.path import Path as MplPath
from scipy.spatial import Delaunay


@dataclass
class EDRaster:
    """The ED grid of one case and the linear operator nodal values -> pixel values.

    ``mask``/``cavity``: ``(H, W)`` uint8 (pixel centres inside the deformed mesh / cavity).
    """

    mask: np.ndarray
    cavity: np.ndarray
    spacing: np.ndarray
    _interp: sp.csr_matrix
    _known: np.ndarray
    _unknown: np.ndarray
    _coupling: sp.csr_matrix
    _laplace: spla.SuperLU | None

    def field(self, nodal_mm: np.ndarray) -> np.ndarray:
        """Nodal displacements ``(n, 2)`` mm -> ``(2, H, W)`` float32 px on the ED grid."""
        h, w = self.mask.shape
        out = np.zeros((2, h * w))
        for k in range(2):
            vals = nodal_mm[:, k] / self.spacing[k]
            out[k, self._known] = self._interp @ vals
            if self._laplace is not None and self._unknown.size:
                out[k, self._unknown] = self._laplace.solve(self._coupling @ out[k, self._known])
        return out.reshape(2, h, w).astype(np.float32)


def build_ed_raster(
    ed_nodes: np.ndarray,
    endo_polygon: np.ndarray,
    epi_polygon: np.ndarray,
    shape: tuple[int, int],
    spacing: np.ndarray,
) -> EDRaster:
    """Prepare rasterisation on a ``shape`` grid of ``spacing`` (mm) pixels.

    ``ed_nodes``: ``(n, 2)`` mm, Q2 node positions at ED; ``endo_polygon``/``epi_polygon``:
    ordered deformed boundary points ``(m, 2)`` mm (pixel centre (r, c) sits at
    ``(r, c) * spacing``).
    """
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    pix = np.column_stack([rows.ravel(), cols.ravel()]) * spacing
    in_endo = MplPath(endo_polygon).contains_points(pix)
    in_epi = MplPath(epi_polygon).contains_points(pix)
    myo = in_epi & ~in_endo
    tri = Delaunay(ed_nodes)
    centroids = ed_nodes[tri.simplices].mean(axis=1)
    keep = MplPath(epi_polygon).contains_points(centroids) & ~MplPath(endo_polygon).contains_points(
        centroids
    )
    simplex = tri.find_simplex(pix)
    valid = myo & (simplex >= 0)
    valid[valid] = keep[simplex[valid]]
    known = np.flatnonzero(valid)
    s = simplex[known]
    trans = tri.transform[s]
    bary2 = np.einsum("nij,nj->ni", trans[:, :2, :], pix[known] - trans[:, 2, :])
    bary = np.column_stack([bary2, 1.0 - bary2.sum(axis=1)])
    interp = sp.csr_matrix(
        (bary.ravel(), (np.repeat(np.arange(known.size), 3), tri.simplices[s].ravel())),
        shape=(known.size, len(ed_nodes)),
    )
    unknown = np.flatnonzero(~valid)
    laplace, coupling = _laplace_operator(h, w, known, unknown)
    return EDRaster(
        mask=myo.reshape(h, w).astype(np.uint8),
        cavity=in_endo.reshape(h, w).astype(np.uint8),
        spacing=np.asarray(spacing, dtype=np.float64),
        _interp=interp,
        _known=known,
        _unknown=unknown,
        _coupling=coupling,
        _laplace=laplace,
    )


def _laplace_operator(
    h: int, w: int, known: np.ndarray, unknown: np.ndarray
) -> tuple[spla.SuperLU | None, sp.csr_matrix]:
    """Factorised 5-point graph Laplacian on the unknown pixels and its coupling to known ones."""
    n = h * w
    idx = np.arange(n).reshape(h, w)
    pairs = [(idx[:, :-1].ravel(), idx[:, 1:].ravel()), (idx[:-1, :].ravel(), idx[1:, :].ravel())]
    i = np.concatenate([p[0] for p in pairs] + [p[1] for p in pairs])
    j = np.concatenate([p[1] for p in pairs] + [p[0] for p in pairs])
    adj = sp.csr_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    lap = sp.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
    if unknown.size == 0 or known.size == 0:
        return None, sp.csr_matrix((unknown.size, known.size))
    a_uu = lap[unknown][:, unknown].tocsc()
    coupling = -lap[unknown][:, known]
    return spla.splu(a_uu), coupling.tocsr()
