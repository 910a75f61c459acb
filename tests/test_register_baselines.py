"""Classical baselines: known translation / affine recovered, identical images -> ~zero field."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from binn.errors import BinnInputError
from binn.register.baselines import register_pair, register_pairs

H = 48


def _phantom() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:H, :H]
    tex = ndimage.gaussian_filter(rng.random((H, H)), 2)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    ring = ((yy - 24) ** 2 + (xx - 22) ** 2 < 120) & ((yy - 24) ** 2 + (xx - 22) ** 2 > 30)
    return (0.4 * tex + 0.6 * ring).astype(np.float32)


def _moving_from(fixed: np.ndarray, u: np.ndarray) -> np.ndarray:
    """moving with moving(x + u(x)) = fixed(x) for a constant or affine u (inverse map)."""
    return ndimage.map_coordinates(fixed, np.mgrid[:H, :H] - u, order=3, mode="nearest")


METHODS = [
    ("demons", {}),
    ("ffd", {}),
    ("ffd", {"penalty_spacing": 1}),
    ("ffd", {"properness": 0.1}),
]


@pytest.mark.parametrize(("method", "params"), METHODS)
def test_translation_recovered(method: str, params: dict) -> None:
    fixed = _phantom()
    shift = np.array([1.5, -2.0])
    moving = ndimage.shift(fixed, shift, order=3, mode="nearest")  # moving(x+shift)=fixed(x)
    u = register_pair(fixed, moving, method, **params)
    assert u.shape == (2, H, H) and u.dtype == np.float32
    inner = u[:, 10:-10, 10:-10].reshape(2, -1)
    np.testing.assert_allclose(inner.mean(axis=1), shift, atol=0.25)


@pytest.mark.parametrize(("method", "params"), METHODS[:3])
def test_affine_recovered(method: str, params: dict) -> None:
    fixed = _phantom()
    grid = np.mgrid[:H, :H].astype(np.float64) - 23.5
    a = np.array([[0.06, 0.0], [0.0, -0.05]])  # stretch rows, shrink columns
    u_true = np.einsum("ij,jhw->ihw", a, grid)
    # moving(y) = fixed(phi^-1(y)) with phi(x) = x + A x: phi^-1(y) = (I + A)^-1 y
    inv = np.linalg.inv(np.eye(2) + a)
    coords = np.einsum("ij,jhw->ihw", inv, grid) + 23.5
    moving = ndimage.map_coordinates(fixed, coords, order=3, mode="nearest")
    u = register_pair(fixed, moving, method, **params)
    err = np.abs(u - u_true)[:, 12:-12, 12:-12]
    assert err.mean() < 0.3, err.mean()


@pytest.mark.parametrize(("method", "params"), METHODS)
def test_identical_images_give_near_zero_field(method: str, params: dict) -> None:
    fixed = _phantom()
    u = register_pair(fixed, fixed.copy(), method, **params)
    assert np.abs(u).max() < 0.25


def test_penalty_on_a_2px_grid_is_the_same_penalty() -> None:
    """The bending energy evaluated on every other pixel is a quadrature of the same
    integral: a smooth nonrigid motion, strongly penalised, registers to nearly the same
    field as with the penalty at every pixel (and a heavier penalty moves both alike)."""
    fixed = _phantom()
    grid = np.mgrid[:H, :H].astype(np.float64)
    u_true = 1.5 * np.stack(
        [np.sin(2 * np.pi * grid[1] / H), np.cos(2 * np.pi * grid[0] / H)]
    )  # px, smooth on the 8 px control grid
    moving = ndimage.map_coordinates(fixed, grid - u_true, order=3, mode="nearest")
    fields = {
        (spacing, penalty): register_pair(
            fixed, moving, "ffd", penalty=penalty, penalty_spacing=spacing
        )[:, 8:-8, 8:-8]
        for spacing in (1, 2)
        for penalty in (0.01, 1.0)
    }
    for penalty in (0.01, 1.0):
        diff = np.abs(fields[1, penalty] - fields[2, penalty]).mean()
        assert diff < 0.02, (penalty, diff)
    # the penalty acts in both: a 100x weight changes each field by far more than that
    for spacing in (1, 2):
        assert np.abs(fields[spacing, 1.0] - fields[spacing, 0.01]).mean() > 0.1


def test_ffd_does_not_jump_to_a_folded_field_on_a_known_divergent_pair() -> None:
    """ES -> ED of the apical slice of training phantom 10000 (the default run's train000):
    with elastix's default step length (1 px) and 200 iterations at both resolutions the
    adaptive gradient descent oversteps at the finer resolution and lands on a folded field
    13 px deep; with ``max_step`` 0.25 px (the default) it stays unfolded, as the ground
    truth (under 4 px here) is, after either number of coarse iterations."""
    from binn.register.data.phantom import make_phantom

    subject = make_phantom(10_000, "A", frames=20, slices=3, size=64, spacing_mm=2.0, snr_db=20)
    fixed, moving = subject.images[0, 2], subject.images[subject.es_index, 2]

    def folds_and_reach(u: np.ndarray) -> tuple[int, float]:
        (d00, d01), (d10, d11) = np.gradient(u[0]), np.gradient(u[1])
        det = (1 + d00) * (1 + d11) - d01 * d10
        return int((det <= 0).sum()), float(np.abs(u).max())

    diverging = register_pair(fixed, moving, "ffd", max_step=1.0, coarse_iterations=200)
    folds, reach = folds_and_reach(diverging)
    assert folds > 10 and reach > 8.0  # the divergence this default exists for
    for coarse in (200, 100):
        u = register_pair(fixed, moving, "ffd", coarse_iterations=coarse)
        folds, reach = folds_and_reach(u)
        assert folds == 0 and reach < 4.0, (coarse, folds, reach)
    truth = np.abs(subject.motion[subject.es_index, 2]).max()
    assert truth < 4.0


def test_ffd_iterations_per_resolution() -> None:
    """``coarse_iterations`` at every resolution but the finest, ``iterations`` there."""
    from binn.register.baselines import _ffd_parameters, _params

    p = _params("ffd", {"levels": 3, "iterations": 200, "coarse_iterations": 40})
    pm = _ffd_parameters(p).GetParameterMap(0)
    assert tuple(pm["MaximumNumberOfIterations"]) == ("40", "40", "200")
    assert tuple(pm["NumberOfResolutions"]) == ("3",)
    pm = _ffd_parameters(_params("ffd", {"levels": 1, "iterations": 30})).GetParameterMap(0)
    assert tuple(pm["MaximumNumberOfIterations"]) == ("30",)


def test_bad_input() -> None:
    with pytest.raises(BinnInputError, match="equal 2D"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 9)), "demons")
    with pytest.raises(BinnInputError, match="NaN"):
        register_pair(np.full((8, 8), np.nan), np.zeros((8, 8)), "demons")
    with pytest.raises(BinnInputError, match="unknown parameter"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "demons", grid=3)
    with pytest.raises(BinnInputError, match="penalty_spacing must be a whole number"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "ffd", penalty_spacing=1.5)
    with pytest.raises(BinnInputError, match="penalty_spacing must be a whole number"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "ffd", penalty_spacing=np.nan)
    bad = (("coarse_iterations", 0), ("iterations", 2.5), ("levels", 0), ("iterations", np.nan))
    for name, value in bad:
        with pytest.raises(BinnInputError, match=f"{name} must be a whole number"):
            register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "ffd", **{name: value})
    with pytest.raises(BinnInputError, match="max_step must be positive"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "ffd", max_step=0)
    with pytest.raises(BinnInputError, match="no classical implementation"):
        register_pair(np.zeros((8, 8)), np.zeros((8, 8)), "optical-flow")


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (fixed, moving) pairs: the phantom against shifted copies of itself."""
    fixed = _phantom()
    shifts = [(0.5 * i, -0.7 * i) for i in range(1, n + 1)]
    moving = [ndimage.shift(fixed, s, order=3, mode="nearest") for s in shifts]
    return np.stack([fixed] * n), np.stack(moving).astype(np.float32)


@pytest.mark.parametrize(
    ("method", "params"),
    [("demons", {"iterations": 50}), ("ffd", {"iterations": 30, "levels": 1})],
)
def test_register_pairs_in_parallel_equals_serial(method: str, params: dict) -> None:
    fixed, moving = _pairs(3)
    serial = np.stack(
        [register_pair(f, m, method, **params) for f, m in zip(fixed, moving, strict=True)]
    )
    parallel = register_pairs(fixed, moving, method, params, threads=2)
    assert parallel.shape == (3, 2, H, H) and parallel.dtype == np.float32
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(register_pairs(fixed, moving, method, params), serial)
    assert np.abs(serial[2, :, 10:-10, 10:-10]).mean() > 1.0  # the pairs were registered


def test_register_pairs_bad_input() -> None:
    fixed, moving = _pairs(2)
    with pytest.raises(BinnInputError, match=r"\(N, H, W\) stacks"):
        register_pairs(fixed[0], moving[0], "demons")
    with pytest.raises(BinnInputError, match="threads"):
        register_pairs(fixed, moving, "demons", threads=0)
    with pytest.raises(BinnInputError, match="unknown parameter"):  # checked before any worker
        register_pairs(fixed, moving, "ffd", {"sigma": 1.0}, threads=2)
    empty = register_pairs(fixed[:0], moving[:0], "ffd", threads=2)
    assert empty.shape == (0, 2, H, H)
