"""Spatial transformer: backward warp of images by displacement fields in pixels.

Registration convention: ``warped(x) = image(x + u(x))``, with ``u`` of shape ``(B, 2, H, W)``
in pixels, channel k along array axis k. The sampling grid is built from pixel indices with
``align_corners=True``, so a zero field is the identity (exact in float64, to round-off in float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_normalised_grid(disp: torch.Tensor) -> torch.Tensor:
    """Sampling grid for ``grid_sample`` from a field in pixels.

    ``disp`` is ``(B, 2, H, W)`` px (channel 0 rows, channel 1 columns); returns
    ``(B, H, W, 2)`` in [-1, 1] with the last axis ordered (x = column, y = row) as
    ``grid_sample`` wants (``align_corners=True``: -1 and 1 are the centres of the border pixels).
    """
    if disp.ndim != 4 or disp.shape[1] != 2:
        raise ValueError(f"displacement must be (B, 2, H, W), got {tuple(disp.shape)}")
    _, _, h, w = disp.shape
    rows = torch.arange(h, dtype=disp.dtype, device=disp.device).view(1, h, 1)
    cols = torch.arange(w, dtype=disp.dtype, device=disp.device).view(1, 1, w)
    r = rows + disp[:, 0]
    c = cols + disp[:, 1]
    gy = 2.0 * r / max(h - 1, 1) - 1.0
    gx = 2.0 * c / max(w - 1, 1) - 1.0
    return torch.stack((gx, gy), dim=-1)


def warp(image: torch.Tensor, disp: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``image`` (B, C, H, W) by ``disp`` (B, 2, H, W) px.

    ``mode`` is ``"bilinear"`` (images, soft labels) or ``"nearest"`` (label maps). Samples
    outside the image take the border value. Returns ``(B, C, H, W)`` in the image's dtype.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    if image.ndim != 4 or image.shape[0] != disp.shape[0] or image.shape[2:] != disp.shape[2:]:
        raise ValueError(
            f"image {tuple(image.shape)} and displacement {tuple(disp.shape)} do not match"
        )
    grid = to_normalised_grid(disp.to(image.dtype))
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=True)
