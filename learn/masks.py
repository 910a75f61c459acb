"""Masks and crop windows: dilated ED myocardium, LV centre, fixed-size windows around it."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from binn.errors import BinnInputError


def dilate_mask(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Dilate ``(..., H, W)`` binary masks by ``px`` pixels with a 3x3 square element.

    The authors' ``cv2.dilate(mask, ones((3, 3)), iterations=3)`` for ``px=3``, done as
    ``px`` 3x3 max-pools (zero border) so it runs on any device. Returns float 0/1.
    """
    lead, (h, w) = mask.shape[:-2], mask.shape[-2:]
    out = (mask != 0).to(torch.float32).reshape(-1, 1, h, w)
    for _ in range(px):
        out = F.max_pool2d(out, kernel_size=3, stride=1, padding=1)
    return out.reshape(*lead, h, w)


def lv_centre(mask: np.ndarray, cavity: np.ndarray | None = None) -> tuple[float, float]:
    """Centroid ``(row, col)`` in px of the LV: myocardium plus cavity.

    Without ``cavity`` the cavity is taken as the holes of the myocardium mask, so the
    centre is the same whether or not a record stores its cavity.
    """
    myo = np.asarray(mask).astype(bool)
    if not myo.any():
        raise BinnInputError(None, "empty myocardium mask: no LV centre")
    cav = ndimage.binary_fill_holes(myo) if cavity is None else np.asarray(cavity).astype(bool)
    rows, cols = np.nonzero(myo | cav)
    return float(rows.mean()), float(cols.mean())


def crop_window(x: torch.Tensor, centre: tuple[float, float], size: int) -> torch.Tensor:
    """Cut the ``(..., size, size)`` window centred at ``centre`` from ``(..., H, W)`` ``x``.

    Zero padding where the window leaves the image. Plain slicing and padding, so the crop
    is differentiable and stays on ``x``'s device. The window's top-left corner is
    ``round(centre) - size // 2``.
    """
    h, w = x.shape[-2:]
    top = round(centre[0]) - size // 2
    left = round(centre[1]) - size // 2
    pad = (max(0, -left), max(0, left + size - w), max(0, -top), max(0, top + size - h))
    if any(pad):
        lead = x.shape[:-2]
        x = F.pad(x.reshape(-1, 1, h, w), pad).reshape(
            *lead, h + pad[2] + pad[3], w + pad[0] + pad[1]
        )
        top += pad[2]
        left += pad[0]
    return x[..., top : top + size, left : left + size]
