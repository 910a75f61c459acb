"""Test helpers for learn/: exact incompressible ring inflation fields written as records.

Plane-strain incompressible inflation of a circular ring maps reference radius R to
r(R)^2 = R^2 + c. With ED = the inflated state and ES = the reference, the field of frame
t on the ED grid (registration convention: x + u_t(x) is where the ED point x is at t) is
u_t(x) = (sqrt(r^2 - c_t) / r - 1) (x - centre), c_t = c_ED * t / (T - 1), frame 0 = 0.
The cavity is filled by the uniform scaling of the endocardium (continuous at r = a). The
ring is then made elliptic, sheared and rotated by an affine A: u'(x') = A u(A^-1 x'), which
keeps det F (= 1 in the wall) because the deformation is conjugated by A.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from binn.io import save_npz


def ring_case(
    seed: int, size: int = 48, frames: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``disp (T, 2, S, S)`` float32 px, ``mask`` and ``cavity`` ``(S, S)`` uint8 (ED)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.13, 0.2) * size  # ED endocardial radius, px
    b = a + rng.uniform(0.08, 0.14) * size  # ED epicardial radius, px
    c_ed = a**2 * rng.uniform(0.35, 0.65)  # ES cavity area = (1 - that) of ED
    phi = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    ell = np.diag([1.0, rng.uniform(0.8, 1.2)])
    shear = np.array([[1.0, rng.uniform(-0.15, 0.15)], [0.0, 1.0]])
    amat = rot @ ell @ shear
    centre = (size - 1) / 2 + rng.uniform(-2, 2, size=2)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    xp = np.stack([rows - centre[0], cols - centre[1]])  # deformed-frame coords (2, S, S)
    x = np.einsum("ij,jhw->ihw", np.linalg.inv(amat), xp)  # circular frame
    r = np.maximum(np.hypot(x[0], x[1]), 1e-9)
    disp = np.zeros((frames, 2, size, size))
    for t in range(1, frames):
        c_t = c_ed * t / (frames - 1)
        scale = np.where(r >= a, np.sqrt(np.maximum(r**2 - c_t, 0.0)) / r, np.sqrt(a**2 - c_t) / a)
        disp[t] = np.einsum("ij,jhw->ihw", amat, (scale - 1.0) * x)
    mask = ((r >= a) & (r <= b)).astype(np.uint8)
    cavity = (r < a).astype(np.uint8)
    return disp.astype(np.float32), mask, cavity


def write_ring_records(
    folder: Path, seeds: list[int], size: int = 48, frames: int = 8
) -> list[Path]:
    """Write ring cases as simulation records ``synth_{seed:04d}.npz``; returns their paths."""
    paths = []
    for seed in seeds:
        disp, mask, cavity = ring_case(seed, size, frames)
        path = folder / f"synth_{seed:04d}.npz"
        save_npz(
            path,
            {"generator": "ring"},
            status="ok",
            case=f"synth_{seed:04d}",
            disp=disp,
            mask=mask,
            cavity=cavity,
            spacing=np.array([1.8, 1.8]),
        )
        paths.append(path)
    return paths


def write_failed_record(folder: Path, name: str, reason: str) -> Path:
    """A ``status='failed'`` record as the simulate stage writes it."""
    path = folder / f"{name}.npz"
    save_npz(path, {}, status="failed", case=name, reason=reason)
    return path
