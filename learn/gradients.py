"""The one spatial-gradient operator of binn: displacement fields -> Jacobian of u.

``register/`` (R_VAE and the L2 penalty), ``analysis/`` (det J) and the VAE all use this
function, so simulated and predicted fields are differentiated in exactly the same way.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import torch

from binn.errors import BinnInputError


def _diff(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Derivative along ``dim`` in grid units: central inside, first-order one-sided at the ends."""
    n = x.shape[dim]
    first = x.narrow(dim, 1, 1) - x.narrow(dim, 0, 1)
    last = x.narrow(dim, n - 1, 1) - x.narrow(dim, n - 2, 1)
    inner = 0.5 * (x.narrow(dim, 2, n - 2) - x.narrow(dim, 0, n - 2))
    return torch.cat([first, inner, last], dim=dim)


@overload
def displacement_gradient(field: torch.Tensor) -> torch.Tensor: ...
@overload
def displacement_gradient(field: np.ndarray) -> np.ndarray: ...
def displacement_gradient(field: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Row-major Jacobian of a displacement field in array axes.

    ``field``: ``(..., 2, H, W)`` (typically ``(B, 2, H, W)``), pixels; channel ``k`` is the
    displacement along array axis ``k`` (0 = rows, 1 = columns).
    Returns ``(..., 4, H, W)``, dimensionless (px/px): ``[du0/d0, du0/d1, du1/d0, du1/d1]``,
    so the deformation gradient is ``F = I + grad.reshape(..., 2, 2, H, W)`` per pixel.
    Central differences inside, first-order one-sided differences on the border rows and
    columns (exact for affine fields everywhere). Differentiable (plain tensor slicing),
    keeps the device and dtype of ``field``; a numpy array in gives a numpy array out.
    """
    if isinstance(field, np.ndarray):
        return displacement_gradient(torch.from_numpy(np.ascontiguousarray(field))).numpy()
    if not isinstance(field, torch.Tensor):
        raise BinnInputError(None, f"displacement field must be a tensor, got {type(field)}")
    if field.ndim < 3 or field.shape[-3] != 2:
        raise BinnInputError(
            None, f"displacement field must have shape (..., 2, H, W), got {tuple(field.shape)}"
        )
    if field.shape[-2] < 2 or field.shape[-1] < 2:
        raise BinnInputError(None, f"field too small to differentiate: {tuple(field.shape)}")
    if not field.is_floating_point():
        field = field.float()
    d_rows = _diff(field, field.ndim - 2)  # (..., 2, H, W): du_k/d0
    d_cols = _diff(field, field.ndim - 1)  # (..., 2, H, W): du_k/d1
    grad = torch.stack([d_rows, d_cols], dim=-3)  # (..., 2 (k), 2 (axis), H, W)
    return grad.flatten(-4, -3)
