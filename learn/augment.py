"""Augmentation that keeps displacement fields mechanically valid.

A rigid re-orientation ``M`` (rotation, possibly with a reflection) of a deformation maps
``phi`` to ``M phi M^T``: the field is resampled on the rotated grid *and* its vectors are
rotated, ``u'(x) = M u(M^T x)`` (about the window centre). A flip along axis ``k`` therefore
negates channel ``k``. Determinants of the deformation gradient (incompressibility, folds)
are preserved.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def orientation_matrices(angles: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 2)`` matrices ``R(angle) @ diag(1, -1 if flip else 1)`` in (row, col) axes.

    ``angles``: ``(B,)`` radians; ``flips``: ``(B,)`` bool (flip along axis 1, columns).
    """
    c, s = torch.cos(angles), torch.sin(angles)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    sign = torch.ones(angles.shape[0], 2, dtype=angles.dtype, device=angles.device)
    sign[:, 1] = torch.where(flips, -1.0, 1.0).to(angles.dtype)
    return rot * sign[:, None, :]


def reorient(
    field: torch.Tensor,
    mask: torch.Tensor,
    mats: torch.Tensor,
    shifts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``u'(x) = M u(M^T (x - c - t) + c)`` to fields; resample masks the same way.

    ``field``: ``(B, 2, S, S)`` px; ``mask``: ``(B, S, S)`` 0/1 float; ``mats``: ``(B, 2, 2)``
    orthogonal, about the window centre ``c = ((S-1)/2, (S-1)/2)``; ``shifts`` ``t``:
    ``(B, 2)`` px (row, col) translations after the rotation (default none). Bilinear for
    fields (exact for quarter turns, flips and integer shifts, which land on pixel centres),
    masks thresholded at 0.5; zero outside the window.
    """
    b, _, h, w = field.shape
    if h != w:
        raise ValueError(f"reorientation needs square windows, got {h}x{w}")
    mats = mats.to(field)
    lin = torch.linspace(-1.0, 1.0, h, device=field.device, dtype=field.dtype)
    rows, cols = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack([rows, cols], dim=-1).reshape(1, h * w, 2)  # (row, col), normalised
    if shifts is not None:
        base = base - (shifts.to(field) * (2.0 / (h - 1)))[:, None, :]
    src = (base @ mats).reshape(b, h, w, 2)  # x_src = M^T x, as row vectors x^T M
    grid = src.flip(-1)  # grid_sample wants (x=col, y=row)
    sampled = F.grid_sample(field, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    rotated = torch.einsum("bij,bjhw->bihw", mats, sampled)
    m = F.grid_sample(mask.unsqueeze(1), grid, mode="bilinear", align_corners=True)
    return rotated, (m.squeeze(1) > 0.5).to(mask.dtype)


def random_orientations(
    n: int, generator: torch.Generator, quarter_turns_only: bool = False
) -> torch.Tensor:
    """``(n, 2, 2)`` random orientations: uniform angle (or quarter turns) and a fair flip."""
    if quarter_turns_only:
        angles = torch.randint(0, 4, (n,), generator=generator).double() * (math.pi / 2)
    else:
        angles = torch.rand(n, generator=generator, dtype=torch.float64) * (2 * math.pi)
    flips = torch.rand(n, generator=generator) < 0.5
    return orientation_matrices(angles, flips).float()


def random_shifts(n: int, max_px: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, 2)`` integer translations, uniform in ``[-max_px, max_px]`` px per axis."""
    return torch.randint(-max_px, max_px + 1, (n, 2), generator=generator).float()
