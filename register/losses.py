"""Loss pieces of registration training: image similarity, L2 smoothness, the BINN prior.

All take fields ``(B, 2, H, W)`` in pixels (registration convention) and return scalars
(means over the batch) so that they compose as ``mse + alpha * vae`` or ``mse + lam * l2``.
"""

from __future__ import annotations

import torch
from torch import nn

from binn.learn.gradients import displacement_gradient


def mse(warped: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared intensity difference of ``(B, C, H, W)`` images (intensities in [0, 1])."""
    return torch.mean((warped - target) ** 2)


def l2_gradient_penalty(field: torch.Tensor) -> torch.Tensor:
    """Mean over pixels and batch of ``||grad u||^2`` (sum of the 4 squared Jacobian entries).

    ``field`` is ``(B, 2, H, W)`` px; the gradient is dimensionless (px/px), via the shared
    operator :func:`learn.gradients.displacement_gradient`.
    """
    grad = displacement_gradient(field)
    return torch.mean(torch.sum(grad**2, dim=1))


def pairwise_mse(warped: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pair MSE ``(B,)`` of ``(B, C, H, W)`` images; its mean is :func:`mse`."""
    return torch.mean((warped - target) ** 2, dim=(1, 2, 3))


def pairwise_l2_gradient_penalty(field: torch.Tensor) -> torch.Tensor:
    """Per-pair ``||grad u||^2`` ``(B,)`` of ``(B, 2, H, W)`` px; its mean is
    :func:`l2_gradient_penalty`."""
    grad = displacement_gradient(field)
    return torch.mean(torch.sum(grad**2, dim=1), dim=(1, 2))


def local_ncc(a: torch.Tensor, b: torch.Tensor, window: int = 9, eps: float = 1e-5) -> torch.Tensor:
    """Per-pair mean local normalised cross-correlation ``(B,)`` in [-1, 1] of ``(B, 1, H, W)``.

    Statistics over ``window`` x ``window`` boxes (zero-padded, as VoxelMorph's NCC); the
    squared form ``cov^2 / (var_a var_b + eps)`` is used, so 1 = a perfect local match.
    """
    kernel = torch.ones(1, 1, window, window, dtype=a.dtype, device=a.device) / window**2
    pad = window // 2

    def box(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(x, kernel, padding=pad)

    ma, mb = box(a), box(b)
    cov = box(a * b) - ma * mb
    var_a = box(a * a) - ma**2
    var_b = box(b * b) - mb**2
    return torch.mean(cov**2 / (var_a * var_b + eps), dim=(1, 2, 3))


def mask_coverage(mask: torch.Tensor) -> float:
    """Fraction of pixels inside ``mask`` (B, H, W): logged so that an empty mask is visible."""
    return float((mask > 0).float().mean())


def vae_penalty(vae: nn.Module, field: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Batch mean of R_VAE of ``field`` (B, 2, H, W) px over the ED myocardium ``mask`` (B, H, W).

    Scored by :func:`learn.score.r_vae` (dilated mask, latent mean); the VAE must be frozen
    (see :func:`freeze`): gradients flow to the field only.
    """
    from binn.learn.score import r_vae

    if mask.shape[0] != field.shape[0] or mask.shape[-2:] != field.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match field {tuple(field.shape)}")
    return torch.mean(r_vae(vae, field, mask))


def freeze(module: nn.Module) -> nn.Module:
    """Put ``module`` in eval mode with ``requires_grad=False`` on every parameter."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
