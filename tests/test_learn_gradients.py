"""learn.gradients.displacement_gradient: exactness, channel order, autograd, devices, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.learn.gradients import displacement_gradient


def _affine_field(a: np.ndarray, b: np.ndarray, h: int, w: int) -> np.ndarray:
    """u(x) = A x + b on the pixel grid; x = (row, col). Returns (2, H, W) float64."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    x = np.stack([rows, cols]).astype(np.float64)
    return np.einsum("ij,jhw->ihw", a, x) + b[:, None, None]


def test_exact_on_affine_fields_including_border() -> None:
    rng = np.random.default_rng(0)
    fields, mats = [], []
    for _ in range(3):
        a = rng.normal(size=(2, 2))
        fields.append(_affine_field(a, rng.normal(size=2), 7, 9))
        mats.append(a)
    grad = displacement_gradient(torch.tensor(np.stack(fields)))
    assert grad.shape == (3, 4, 7, 9)
    for i, a in enumerate(mats):
        expected = np.broadcast_to(a.reshape(4, 1, 1), (4, 7, 9))
        np.testing.assert_allclose(grad[i].numpy(), expected, atol=1e-12)


def test_channel_order_is_row_major_jacobian() -> None:
    h, w = 6, 8
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    field = np.zeros((1, 2, h, w))
    field[0, 0] = 2.0 * cols  # u0 (rows) varies along columns: du0/d1 = 2
    field[0, 1] = -3.0 * rows  # u1 (cols) varies along rows: du1/d0 = -3
    grad = displacement_gradient(field)
    assert isinstance(grad, np.ndarray)
    np.testing.assert_allclose(grad[0, :, 3, 4], [0.0, 2.0, -3.0, 0.0])
    jac = np.eye(2) + grad[0, :, 3, 4].reshape(2, 2)
    assert np.isclose(np.linalg.det(jac), 1.0 + 6.0)


def test_central_inside_one_sided_at_border() -> None:
    x = np.arange(6, dtype=np.float64) ** 2  # f = i^2
    field = np.zeros((1, 2, 6, 3))
    field[0, 0] = x[:, None]
    grad = displacement_gradient(field)[0, 0, :, 0]
    # central: ((i+1)^2 - (i-1)^2)/2 = 2i; ends: 1 - 0 = 1 and 25 - 16 = 9
    np.testing.assert_allclose(grad, [1.0, 2.0, 4.0, 6.0, 8.0, 9.0])


def test_leading_dims_and_differentiable() -> None:
    field = torch.randn(2, 3, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    out = displacement_gradient(field)
    assert out.shape == (2, 3, 4, 5, 5)
    assert torch.autograd.gradcheck(lambda f: displacement_gradient(f), (field[0, :1],))
    out.square().sum().backward()
    assert field.grad is not None and torch.isfinite(field.grad).all()


def test_keeps_dtype_and_device() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        field = torch.randn(1, 2, 4, 4, dtype=torch.float32, device=dev)
        out = displacement_gradient(field)
        assert out.device == field.device and out.dtype == torch.float32


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (8, 8), (1, 2, 1, 8)])
def test_bad_shapes_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(BinnInputError):
        displacement_gradient(torch.zeros(shape))
