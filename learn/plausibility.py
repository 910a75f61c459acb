"""``binn plausibility``: R_VAE per frame of a stored field, scored on the VAE's grid."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from binn.errors import BinnInputError
from binn.io import load_npz
from binn.learn.score import load_vae, r_vae
from binn.resample import describe_spacing, resample_displacement, resample_inplane, same_spacing

log = logging.getLogger(__name__)
SCORE_BATCH = 16  # frames per R_VAE batch (speed only)


def plausibility_on_grid(
    fields: Path, model: Path, spacing_mm: float | None = None, device: str = "cpu"
) -> dict:
    """R_VAE per frame of ``fields`` (``disp (T, 2, H, W)`` px, ``mask (H, W)``) on the
    VAE's grid: fields on another pixel spacing (``spacing_mm``, else the file's
    ``spacing``/``spacing_mm``) are resampled to the VAE's (:func:`binn.resample.
    resample_displacement`, the mask label-linearly) before scoring. Returns ``{"scores":
    [T], "spacing_mm": the scoring grid's (None: unknown), "resampled_from_mm": the
    fields' spacing when they were resampled, else None}``."""
    data = load_npz(fields, required={"disp": 4, "mask": 2})
    disp, mask = data["disp"], np.asarray(data["mask"]) != 0
    if disp.shape[1] != 2 or disp.shape[2:] != mask.shape:
        raise BinnInputError(fields, f"disp {disp.shape} does not match mask {mask.shape}")
    if not mask.any():
        raise BinnInputError(fields, "mask is empty")
    vae = load_vae(model, device)
    vae_mm = getattr(vae, "spacing_mm", None)
    own = spacing_mm
    if own is None:
        recorded = data.get("spacing", data.get("spacing_mm"))
        own = None if recorded is None else np.asarray(recorded, dtype=np.float64).ravel()[-2:]
    resampled_from = None
    if own is None:
        log.warning("%s records no pixel spacing: taken to be on the VAE's grid", fields)
    elif vae_mm is None:
        log.warning("%s records no spacing_mm: the fields' grid cannot be checked", model)
    elif not same_spacing(vae_mm, own):
        log.info(
            "%s: %s pixels resampled to the VAE's %s",
            fields,
            describe_spacing(own),
            describe_spacing(vae_mm),
        )
        disp = resample_displacement(disp, np.broadcast_to(own, (2,)), vae_mm, fields)[0]
        lab = mask.astype(np.uint8)
        mask = resample_inplane(lab, np.broadcast_to(own, (2,)), vae_mm, labels=True)[0] != 0
        resampled_from = np.broadcast_to(own, (2,)).tolist()
    dev = next(vae.parameters()).device
    m = torch.from_numpy(mask).to(dev)
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, disp.shape[0], SCORE_BATCH):
            chunk = torch.from_numpy(np.asarray(disp[start : start + SCORE_BATCH], np.float32)).to(
                dev
            )
            scores += r_vae(vae, chunk, m.expand(chunk.shape[0], *m.shape)).cpu().tolist()
    return {"scores": scores, "spacing_mm": vae_mm, "resampled_from_mm": resampled_from}
