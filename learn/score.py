"""R_VAE: the learnt biomechanics prior as a regulariser and as a plausibility score.

``R_VAE(u, m)`` is the authors' VAE loss of the field's gradients (sum of squared
reconstruction errors over the dilated myocardium band + beta * KL), evaluated
deterministically with the latent mean. Gradients enter in the model's units: px/px
divided by the fixed ``unit_px`` = 48 px (the authors' half-window at 96 px), so R_VAE and
the regularisation weight alpha mean the same at any window size, and what they mean in
the paper at 96 px.
Low = plausible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from binn.device import resolve_device
from binn.errors import BinnInputError
from binn.io import load_npz
from binn.learn.checkpoint import model_from_checkpoint
from binn.learn.gradients import displacement_gradient
from binn.learn.masks import crop_window, dilate_mask, lv_centre
from binn.learn.model import GRADIENT_UNIT_PX, RECONSTRUCTION, MotionVAE2D, vae_loss
from binn.weights import read_checkpoint_dict


def load_vae(
    path: str | Path, device: str | torch.device = "cpu", *, image_size: int | None = None
) -> MotionVAE2D:
    """Load a trained VAE frozen (no parameter gradients) in eval mode on ``device``.

    ``image_size`` (optional) must match the checkpoint's window size. Files that are not
    binn VAE checkpoints, other architectures, mismatched weights and checkpoints in other
    gradient units (before ``gradient_unit_px``, gradients were scaled by half the window)
    or with the reconstruction loss over the whole window (before ``reconstruction``)
    raise :class:`BinnInputError` naming ``path``. The model's ``spacing_mm`` is the
    training cases' pixel spacing (mm) from the checkpoint, ``None`` where it has none.
    """
    data = read_checkpoint_dict(path)
    if "arch" in data and data.get("gradient_unit_px") != GRADIENT_UNIT_PX:
        raise BinnInputError(
            path,
            f"gradient unit {data.get('gradient_unit_px')!r} px, expected {GRADIENT_UNIT_PX}"
            " (a checkpoint from before window-size-independent units: retrain it)",
        )
    if "arch" in data and data.get("reconstruction") != RECONSTRUCTION:
        raise BinnInputError(
            path,
            f"reconstruction loss over {data.get('reconstruction', 'the whole window')!r},"
            f" expected {RECONSTRUCTION!r} (a checkpoint from before the band-only loss:"
            " retrain it)",
        )
    model = model_from_checkpoint(path, data, image_size=image_size)
    spacing = data.get("spacing_mm")
    model.spacing_mm = None if spacing is None else float(spacing)
    dev = resolve_device(device) if isinstance(device, str) else device
    model = model.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _check_pair(field: torch.Tensor, mask: torch.Tensor, channels: int) -> torch.Tensor:
    if field.ndim != 4 or field.shape[1] != channels:
        raise BinnInputError(None, f"expected (B, {channels}, H, W), got {tuple(field.shape)}")
    if mask.ndim == 2:
        mask = mask.expand(field.shape[0], *mask.shape)
    if mask.shape != (field.shape[0], *field.shape[2:]):
        raise BinnInputError(
            None, f"mask {tuple(mask.shape)} does not match field {tuple(field.shape)}"
        )
    if not bool(torch.isfinite(field).all()):
        raise BinnInputError(None, "field contains NaN or Inf")
    return mask


def gradient_score(vae: MotionVAE2D, grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """R_VAE of gradient maps: ``grad (B, 4, H, W)`` px/px, ``mask (B, H, W)`` ED myocardium.

    The mask is dilated by ``vae.mask_dilation``; windows other than ``vae.image_size`` are
    cropped (zero-padded) around each sample's LV centre. Returns ``(B,)``.
    """
    mask = _check_pair(grad, mask, 4)
    grad = grad.to(next(vae.parameters()).dtype)
    dil = dilate_mask(mask, vae.mask_dilation).to(grad)
    size = vae.image_size
    if grad.shape[-2:] != (size, size):
        centres = [lv_centre(m.detach().cpu().numpy() != 0) for m in mask]
        grad = torch.stack([crop_window(g, c, size) for g, c in zip(grad, centres, strict=True)])
        dil = torch.stack([crop_window(m, c, size) for m, c in zip(dil, centres, strict=True)])
    grad = grad / vae.unit_px
    recon, mu, logvar = vae(grad, dil, sample=False)
    return vae_loss(recon, grad * dil.unsqueeze(1), mu, logvar, vae.beta)


def gradient_energy(grad: torch.Tensor, mask: torch.Tensor, dilation: int) -> torch.Tensor:
    """The control scorer ``||grad u * M||^2``: ``(B,)`` sums of squared gradients, px/px.

    ``grad (B, 4, H, W)`` px/px, ``mask (B, H, W)`` ED myocardium, dilated by ``dilation``
    px (R_VAE's band). What R_VAE must beat to show it knows more than the field's size.
    """
    mask = _check_pair(grad, mask, 4)
    dil = dilate_mask(mask, dilation).to(grad)
    return (grad * dil.unsqueeze(1)).square().flatten(1).sum(dim=1)


def r_vae(vae: MotionVAE2D, field: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """R_VAE of displacement fields ``(B, 2, H, W)`` px with ED myocardium ``mask (B, H, W)``.

    Differentiable w.r.t. ``field`` (the VAE stays frozen); returns ``(B,)``, low = plausible.
    NaN/Inf, wrong shapes or a mask that does not match raise :class:`BinnInputError`.
    """
    _check_pair(field, mask, 2)
    return gradient_score(vae, displacement_gradient(field), mask)


def plausibility_scores(
    fields_path: str | Path, model_path: str | Path, device: str = "cpu", batch_size: int = 16
) -> list[float]:
    """Scores of every frame of a ``.npz`` with ``disp (T, 2, H, W)`` px and ``mask (H, W)``."""
    data = load_npz(fields_path, required={"disp": 4, "mask": 2})
    disp, mask = data["disp"], data["mask"]
    if disp.shape[1] != 2 or disp.shape[2:] != mask.shape:
        raise BinnInputError(fields_path, f"disp {disp.shape} does not match mask {mask.shape}")
    if not np.any(mask):
        raise BinnInputError(fields_path, "mask is empty")
    vae = load_vae(model_path, device)
    dev = next(vae.parameters()).device
    m = torch.from_numpy(mask != 0).to(dev)
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, disp.shape[0], batch_size):
            chunk = torch.from_numpy(disp[start : start + batch_size].astype(np.float32)).to(dev)
            scores += r_vae(vae, chunk, m.expand(chunk.shape[0], *m.shape)).cpu().tolist()
    return scores
